"""Training of plain MLPs without autograd: hand-written backward pass and optimiser step.

The networks of the reference protocols (``mlp``: Flatten → [Linear → ReLU]* → Dropout → Linear)
are so small that a training step is dominated by per-operation overhead: autograd's graph, the
optimiser's per-parameter bookkeeping, and torch's Mersenne-Twister dropout masks (their cost per
element: docs/benchmarks.md, "Notes moved from docstrings"). :class:`ManualMLPTrainer` computes
the same gradients in closed form into one flat buffer, applies the same Adam / AdamW / SGD
update to that buffer with a handful of vectorised operations, and draws dropout masks from a
NumPy PCG64 generator, so a round trains faster than a plain autograd loop (round times on the
digits protocol: ``docs/benchmarks.md``, "Training without autograd").

Results equal the autograd path's up to float rounding when the dropout masks are equal (tested with
dropout 0 and with injected masks); with dropout the masks come from a different random stream, so
individual runs differ as two seeds do, not systematically.

Cost per step, batch ``b``, layer widths ``w_i``: time O(b · Σ w_i w_{i+1}) (three matrix products per
Linear, as autograd), memory O(b · Σ w_i) activations plus 4 × (number of parameters) for the flat
parameter, gradient and two optimiser-state buffers.
"""

from __future__ import annotations

import math
from typing import cast

import numpy as np
import torch
from torch import nn

__all__ = ["ManualMLPTrainer", "plain_mlp_layers"]

_ALLOWED = (nn.Linear, nn.ReLU, nn.Dropout)
# ReLU's backward ``grad * (out > 0)`` in one ATen kernel (the one autograd itself uses).
_relu_backward = torch.ops.aten.threshold_backward


def _has_hooks(module: nn.Module) -> bool:
    names = ("_forward_hooks", "_forward_pre_hooks", "_backward_hooks", "_backward_pre_hooks")
    return any(bool(getattr(m, name, None)) for m in module.modules() for name in names)


def plain_mlp_layers(module: nn.Module, X: torch.Tensor) -> list[nn.Module] | None:
    """The layers of ``module`` if :class:`ManualMLPTrainer` can train it exactly, else ``None``.

    Eligible: an ``nn.Sequential`` of exactly ``nn.Linear``, ``nn.ReLU`` and ``nn.Dropout`` layers
    (an optional leading default ``nn.Flatten``), ending in ``nn.Linear``, every parameter
    trainable, no hooks, float32 CPU input. Anything else (convolutions, BatchNorm, other
    activations, subclasses, frozen layers) returns ``None`` and trains with autograd.
    """
    if type(module) is not nn.Sequential or X.device.type != "cpu" or X.dtype != torch.float32:
        return None
    layers = list(module)
    if layers and type(layers[0]) is nn.Flatten:
        if layers[0].start_dim != 1 or layers[0].end_dim != -1:
            return None
        layers = layers[1:]
    elif X.dim() != 2:
        return None
    if not layers or type(layers[-1]) is not nn.Linear or any(type(m) not in _ALLOWED for m in layers):
        return None
    if any(type(m) is nn.Dropout and not 0.0 <= m.p < 1.0 for m in layers):
        return None  # p = 1 zeroes everything; autograd's nn.Dropout handles it
    if any(not p.requires_grad for p in module.parameters()) or _has_hooks(module):
        return None
    if nn.modules.module._global_forward_hooks or nn.modules.module._global_forward_pre_hooks:
        return None
    return layers


class ManualMLPTrainer:
    """Train the layers found by :func:`plain_mlp_layers` with mean cross-entropy.

    During training the module's parameters are views into one flat buffer (so the module can be
    evaluated between steps, e.g. for early stopping); :meth:`finish` gives them their own storage.

    Args:
        layers: From :func:`plain_mlp_layers`.
        optimizer: ``"adam"``, ``"adamw"`` or ``"sgd"`` (momentum 0.9), with torch's update rules
            (Adam: L2 added to the gradient; AdamW: decoupled decay; SGD: heavy-ball momentum).
        lr, weight_decay: As for the torch optimisers.
        rng: Source of the dropout masks.
    """

    def __init__(
        self, layers: list[nn.Module], *, optimizer: str, lr: float, weight_decay: float, rng: np.random.Generator
    ) -> None:
        if optimizer not in ("adam", "adamw", "sgd"):
            raise ValueError(f"optimizer must be 'adam', 'adamw' or 'sgd', got {optimizer!r}.")
        self.layers = layers
        self.optimizer, self.lr, self.weight_decay, self.rng = optimizer, float(lr), float(weight_decay), rng
        self.params = [p for layer in layers for p in layer.parameters()]
        with torch.no_grad():
            self.flat = torch.cat([p.detach().reshape(-1) for p in self.params])
        self.grad = torch.zeros_like(self.flat)
        offsets = np.cumsum([0] + [p.numel() for p in self.params])
        self._grad_of: dict[int, torch.Tensor] = {}  # id(parameter) -> its slice of self.grad
        for p, start, stop in zip(self.params, offsets[:-1], offsets[1:], strict=True):
            p.data = self.flat[start:stop].view(p.shape)
            self._grad_of[id(p)] = self.grad[start:stop].view(p.shape)
        self.m = torch.zeros_like(self.flat)
        self.v = torch.zeros_like(self.flat) if optimizer != "sgd" else None
        self.t = 0
        self._uniform: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        self._first = next(i for i, layer in enumerate(layers) if type(layer) is nn.Linear)
        self._onehot_of: torch.Tensor | None = None

    def _dropout_mask(self, index: int, shape: tuple[int, int], p: float) -> torch.Tensor:
        """Float mask ``(b, w)``: ``1 / (1 - p)`` where uniform ``u >= p`` (kept), else 0.

        Drawn from ``self.rng`` into buffers reused across steps (valid until the next step).
        """
        bufs = self._uniform.get(index)
        if bufs is None or bufs[0].shape[0] < shape[0] or bufs[0].shape[1] != shape[1]:
            bufs = (np.empty(shape, np.float32), np.empty(shape, bool), np.empty(shape, np.float32))
            self._uniform[index] = bufs
        u, keep, mask = (buf[: shape[0]] for buf in bufs)
        self.rng.random(out=u, dtype=np.float32)
        np.greater_equal(u, np.float32(p), out=keep)
        np.multiply(keep, np.float32(1.0 / (1.0 - p)), out=mask)
        return torch.from_numpy(mask)

    def _residual(self, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Gradient of the mean cross-entropy w.r.t. the logits: (softmax − onehot(y)) / b."""
        if self._onehot_of is not y:  # full-batch training passes the same y every step
            onehot = torch.zeros_like(logits)
            onehot[torch.arange(len(y)), y] = 1.0 / len(y)
            self._onehot, self._onehot_of = onehot, y
            self._inv_b = torch.tensor(1.0 / len(y), dtype=logits.dtype)
        g = torch.softmax(logits, dim=1)
        return g.mul_(self._inv_b).sub_(self._onehot)

    def _gradients(self, X: torch.Tensor, y: torch.Tensor) -> None:
        """Mean cross-entropy gradient of the batch into ``self.grad``."""
        a = X.reshape(len(X), -1)
        inputs: list[torch.Tensor] = []
        saved: list[torch.Tensor | None] = []
        for index, layer in enumerate(self.layers):
            inputs.append(a)
            saved.append(None)
            if type(layer) is nn.Linear:
                w = layer.weight
                a = torch.addmm(layer.bias, a, w.t()) if layer.bias is not None else a @ w.t()
            elif type(layer) is nn.ReLU:
                a = a.clamp_min(0.0)
                saved[index] = a
            elif (p := cast(nn.Dropout, layer).p) > 0:  # the other layers are nn.Dropout: a * keep / (1 - p)
                mask = self._dropout_mask(index, (a.shape[0], a.shape[1]), float(p))
                a = a * mask
                saved[index] = mask
        g = self._residual(a, y)
        for index in range(len(self.layers) - 1, self._first - 1, -1):
            layer = self.layers[index]
            if type(layer) is nn.Linear:
                torch.mm(g.t(), inputs[index], out=self._grad_of[id(layer.weight)])
                if layer.bias is not None:
                    torch.sum(g, dim=0, out=self._grad_of[id(layer.bias)])
                if index > self._first:
                    g = g @ layer.weight
            elif type(layer) is nn.ReLU:
                g = _relu_backward(g, saved[index], 0.0)
            elif (kept := saved[index]) is not None:
                g = g.mul_(kept)

    def _update(self) -> None:
        self.t += 1
        lr, wd, p, g = self.lr, self.weight_decay, self.flat, self.grad
        if self.optimizer == "sgd":
            if wd:
                g.add_(p, alpha=wd)
            self.m.mul_(0.9).add_(g)  # the first step gives m = g, as torch's SGD
            p.add_(self.m, alpha=-lr)
            return
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        if self.optimizer == "adamw":
            p.mul_(1.0 - lr * wd)
        elif wd:
            g.add_(p, alpha=wd)
        assert self.v is not None  # internal invariant: Adam state exists
        self.m.lerp_(g, 1.0 - beta1)
        self.v.mul_(beta2).addcmul_(g, g, value=1.0 - beta2)
        denom = self.v.sqrt().div_(math.sqrt(1.0 - beta2**self.t)).add_(eps)
        p.addcdiv_(self.m, denom, value=-lr / (1.0 - beta1**self.t))

    def step(self, X: torch.Tensor, y: torch.Tensor) -> None:
        """One optimiser step on the batch ``X`` ``(b, ...)``, ``y`` ``(b,)`` int64."""
        with torch.no_grad():
            self._gradients(X, y)
            self._update()

    def finish(self) -> None:
        """Give every parameter its own storage again (detached from the flat buffer)."""
        with torch.no_grad():
            for p in self.params:
                p.data = p.data.clone()
