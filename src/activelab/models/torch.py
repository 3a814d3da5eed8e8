"""``TorchClassifier``: any ``nn.Module`` factory behind the :class:`~activelab.models.base.Model` protocol."""

from __future__ import annotations

import contextlib
import copy
import io
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from ..errors import NotFittedError
from ..rng import derive_seed
from ._fastmlp import ManualMLPTrainer, plain_mlp_layers

__all__ = ["UPDATE_POLICIES", "TorchClassifier", "seeded_torch", "torch_threads"]

UpdatePolicy = Literal["retrain", "warm_start", "finetune"]
#: The update policies and what each does on the second and later ``fit`` calls.
UPDATE_POLICIES = {
    "retrain": "fresh, seeded initialisation every round, then `epochs` of training",
    "warm_start": "continue from the previous round's weights, `epochs` of training with a new optimiser",
    "finetune": "continue from the previous round's weights, `finetune_epochs` at lr × `finetune_lr_scale`",
}
# Adam/AdamW use their fused CPU kernels where torch has them (>= 2.4): faster on small networks
# (figure: docs/benchmarks.md, "Notes moved from docstrings").
_FUSED_CPU = tuple(int(v) for v in torch.__version__.split("+")[0].split(".")[:2]) >= (2, 4)


def _adam_like(cls: type[torch.optim.Adam] | type[torch.optim.AdamW]) -> Callable[..., torch.optim.Optimizer]:
    def build(params: Any, lr: float, weight_decay: float) -> torch.optim.Optimizer:
        params = list(params)
        on_cpu = all(p.device.type == "cpu" for p in params)
        fused = True if (_FUSED_CPU or not on_cpu) else None
        return cls(params, lr=lr, weight_decay=weight_decay, fused=fused)

    return build


_OPTIMISERS: dict[str, Callable[..., torch.optim.Optimizer]] = {
    "adam": _adam_like(torch.optim.Adam),
    "adamw": _adam_like(torch.optim.AdamW),
    "sgd": lambda params, lr, weight_decay: torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=weight_decay),
}


@contextmanager
def seeded_torch(seed: int, device: torch.device) -> Iterator[None]:
    """Run torch's global-RNG consumers (init, dropout) from ``seed`` and restore the global state after."""
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Temporarily use ``n`` intra-op threads (None = leave torch's setting alone)."""
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _mc_split(module: nn.Module) -> tuple[nn.Module | None, nn.Module]:
    """Split an ``nn.Sequential`` at its first top-level dropout layer.

    Layers before it are deterministic in MC-dropout mode, so they run once per batch and only
    the suffix runs once per draw (same results, ``n_draws``× less work for the prefix).
    Other modules are not split: ``(None, module)``.
    """
    if isinstance(module, nn.Sequential):
        for i, layer in enumerate(module):
            if isinstance(layer, nn.modules.dropout._DropoutNd):
                head = module[:i]
                if any(isinstance(m, nn.modules.dropout._DropoutNd) for m in head.modules()):
                    break
                return (head if i > 0 else None), module[i:]
    return None, module


_MC_MODES = ("auto", "consistent", "independent")
_TRAINERS = ("auto", "autograd")


class _ConsistentMasks:
    """Forward hooks that make MC-dropout draw ``d`` one network: a fixed mask per layer and draw.

    While installed, the dropout layers are in eval mode (identity) and a hook multiplies their
    output by ``mask[layer, draw]``, drawn once (Bernoulli(1 - p) / (1 - p)) from a generator
    seeded by ``(seed, layer, draw)`` and shared by every row and chunk. Element-wise dropout
    masks have the shape of one item's features; ``Dropout1d/2d/3d`` masks one value per channel.
    Memory: n_layers × n_draws × (features per item).
    """

    def __init__(self, module: nn.Module, seed: int) -> None:
        self.draw = 0
        self.seed = seed
        self.masks: dict[tuple[int, int], torch.Tensor] = {}
        self.handles = []
        for index, layer in enumerate(m for m in module.modules() if isinstance(m, nn.modules.dropout._DropoutNd)):
            if type(layer) not in (nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.Dropout3d):
                raise TypeError(
                    f"consistent MC dropout supports nn.Dropout and nn.Dropout1d/2d/3d, not "
                    f"{type(layer).__name__}; pass mc_dropout='independent'."
                )
            self.handles.append(layer.register_forward_hook(self._hook(index, layer)))

    def _hook(
        self, index: int, layer: nn.modules.dropout._DropoutNd
    ) -> Callable[[nn.Module, tuple[torch.Tensor, ...], torch.Tensor], torch.Tensor]:
        channelwise = not isinstance(layer, nn.Dropout)

        def hook(_m: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> torch.Tensor:
            key = (index, self.draw)
            mask = self.masks.get(key)
            if mask is None:
                shape = tuple(output.shape[1:])
                if channelwise:
                    shape = shape[:1] + (1,) * (len(shape) - 1)
                gen = torch.Generator().manual_seed(int(np.random.SeedSequence([self.seed, index, self.draw]).generate_state(1)[0]))
                keep = 1.0 - layer.p
                mask = torch.bernoulli(torch.full(shape, keep), generator=gen)
                mask = (mask / keep if keep > 0 else mask).to(output.device, output.dtype)
                self.masks[key] = mask
            return output * mask

        return hook

    def remove(self) -> None:
        for h in self.handles:
            h.remove()


def _last_linear(module: nn.Module) -> nn.Linear:
    last = None
    for m in module.modules():
        if isinstance(m, nn.Linear):
            last = m
    if last is None:
        raise TypeError(
            f"{type(module).__name__} has no nn.Linear layer; TorchClassifier.embed needs the network "
            "to end in an nn.Linear (its input is the embedding)."
        )
    return last


class TorchClassifier:
    """Wraps a network factory into a classifier with an explicit update policy.

    Args:
        module_factory: ``(input_shape, n_classes) -> nn.Module`` returning logits, e.g.
            :func:`activelab.models.mlp`. The last ``nn.Linear`` of the network is the output
            layer; its input is the embedding (``embed``) and BADGE's ``h``.
        n_classes: Number of classes (fixed; never inferred from the labels seen so far).
        optimizer: ``"adam"``, ``"adamw"`` or ``"sgd"`` (momentum 0.9).
        lr: Learning rate.
        epochs: Passes over the labelled set per fit.
        batch_size: Minibatch size; ``None`` = full batch (the labelled set at once).
        weight_decay: L2 penalty passed to the optimiser.
        device: ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
        update: Update policy, see :data:`UPDATE_POLICIES`.
        early_stopping: Patience in epochs, or ``None`` for no early stopping. When set, a
            stratified ``validation_fraction`` of the labelled set is held out, training stops
            after ``early_stopping`` epochs without a lower validation loss, and the best weights
            are restored.
        validation_fraction: Share of labelled items held out for early stopping.
        finetune_epochs: Epochs per fit under ``update="finetune"`` (default ``max(1, epochs // 5)``).
        finetune_lr_scale: Learning-rate factor under ``update="finetune"``.
        inference_batch_size: Rows per forward pass at prediction time; ``None`` (default):
            128 for image inputs ``(n, c, h, w)`` (their activations then stay in cache) and
            4096 otherwise (timings: docs/benchmarks.md, "Inference speed of the image networks").
        channels_last: Store image inputs and conv weights channels-last (NHWC), which CPU
            (oneDNN) and GPU convolution kernels run faster on; ``None`` (default) does so for
            image inputs ``(n, c, h, w)``. Results are equal up to float rounding.
        num_threads: Intra-op CPU threads while training and predicting (restored afterwards); ``None`` keeps
            torch's setting. Small networks train fastest with 1 thread, and several processes
            sharing few cores must not oversubscribe them.
        mc_dropout: ``"consistent"``: MC draw ``d`` uses one dropout mask per layer for every
            row, so each draw is one sampled network and draws are comparable across rows, as
            BatchBALD and EPIG need (Kirsch et al., 2019). ``"independent"``: a fresh mask per
            row and draw (classic MC dropout). ``"auto"`` (default): consistent when the caller
            asks for joint draws (``joint=True``: BatchBALD, EPIG), independent otherwise
            (top-k BALD with either: docs/benchmarks.md, "Digits protocol with 20 seeds, and
            BALD's MC-dropout masks").
            Consistent masks cover ``nn.Dropout`` (element-wise) and ``nn.Dropout1d/2d/3d``
            (channel-wise); other dropout types raise.
        trainer: ``"auto"`` (default): plain MLPs on the CPU (an ``nn.Sequential`` of ``Linear``,
            ``ReLU`` and ``Dropout`` layers, e.g. :func:`~activelab.models.mlp`, with the default
            cross-entropy loss) train with a hand-written backward pass and optimiser step
            (:mod:`activelab.models._fastmlp`): the same gradients and update rules as autograd
            and the torch optimisers up to float rounding, faster for the reference digits
            network (docs/benchmarks.md, "Training without autograd"), with dropout masks drawn
            from NumPy. Every other network, and GPU
            training, uses autograd. ``"autograd"``: always autograd with the torch optimiser and
            ``nn.Dropout``'s masks.

    All randomness (initialisation, dropout, shuffling, MC dropout) comes from the ``rng``
    given to :meth:`fit` / :meth:`predict_proba_samples`; torch's global RNG is forked and
    restored, so nothing leaks into user code.
    """

    def __init__(
        self,
        module_factory: Callable[[tuple[int, ...], int], nn.Module],
        n_classes: int,
        *,
        optimizer: str = "adam",
        lr: float = 1e-3,
        epochs: int = 100,
        batch_size: int | None = None,
        weight_decay: float = 0.0,
        device: str = "cpu",
        update: UpdatePolicy = "retrain",
        early_stopping: int | None = None,
        validation_fraction: float = 0.1,
        finetune_epochs: int | None = None,
        finetune_lr_scale: float = 0.1,
        inference_batch_size: int | None = None,
        num_threads: int | None = None,
        mc_dropout: str = "auto",
        channels_last: bool | None = None,
        trainer: str = "auto",
    ) -> None:
        self.module_factory = module_factory
        self.n_classes = n_classes
        self.optimizer = optimizer
        self.lr = lr
        self.epochs = epochs
        self.batch_size = batch_size
        self.weight_decay = weight_decay
        self.device = device
        self.update = update
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.finetune_epochs = finetune_epochs
        self.finetune_lr_scale = finetune_lr_scale
        self.inference_batch_size = inference_batch_size
        self.num_threads = num_threads
        self.mc_dropout = mc_dropout
        self.channels_last = channels_last
        self.trainer = trainer
        self.module_: nn.Module | None = None
        self.input_shape_: tuple[int, ...] | None = None
        self.n_fits_ = 0

    # ------------------------------------------------------------------------ validation
    def _validate_params(self) -> None:
        if not isinstance(self.n_classes, (int, np.integer)) or self.n_classes < 2:
            raise ValueError(f"n_classes must be an int >= 2, got {self.n_classes!r}.")
        if self.optimizer not in _OPTIMISERS:
            raise ValueError(f"optimizer must be one of {sorted(_OPTIMISERS)}, got {self.optimizer!r}.")
        if self.update not in UPDATE_POLICIES:
            raise ValueError(f"update must be one of {sorted(UPDATE_POLICIES)}, got {self.update!r}.")
        if not (isinstance(self.epochs, (int, np.integer)) and self.epochs >= 1):
            raise ValueError(f"epochs must be an int >= 1, got {self.epochs!r}.")
        if self.batch_size is not None and self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1 or None (full batch), got {self.batch_size}.")
        if not self.lr > 0:
            raise ValueError(f"lr must be > 0, got {self.lr}.")
        if self.early_stopping is not None and self.early_stopping < 1:
            raise ValueError(f"early_stopping must be a patience >= 1 or None, got {self.early_stopping}.")
        if self.num_threads is not None and self.num_threads < 1:
            raise ValueError(f"num_threads must be >= 1 or None, got {self.num_threads}.")
        if self.inference_batch_size is not None and (
            not isinstance(self.inference_batch_size, (int, np.integer)) or self.inference_batch_size < 1
        ):
            raise ValueError(f"inference_batch_size must be an int >= 1 or None (automatic), got {self.inference_batch_size!r}.")
        if self.channels_last is not None and not isinstance(self.channels_last, bool):
            raise ValueError(f"channels_last must be True, False or None (automatic), got {self.channels_last!r}.")
        if self.mc_dropout not in _MC_MODES:
            raise ValueError(f"mc_dropout must be one of {list(_MC_MODES)}, got {self.mc_dropout!r}.")
        if self.trainer not in _TRAINERS:
            raise ValueError(f"trainer must be one of {list(_TRAINERS)}, got {self.trainer!r}.")
        if not 0.0 < self.validation_fraction < 1.0:
            raise ValueError(f"validation_fraction must be in (0, 1), got {self.validation_fraction}.")
        dev = torch.device(self.device)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device {self.device!r} was requested but CUDA is not available; use device='cpu'.")

    @property
    def _device(self) -> torch.device:
        return torch.device(self.device)

    def _nhwc(self, input_shape: tuple[int, ...] | None) -> bool:
        """Whether image rows of ``input_shape`` run channels-last."""
        image = input_shape is not None and len(input_shape) == 3
        return image and (self.channels_last is None or bool(self.channels_last))

    @property
    def _inference_rows(self) -> int:
        if self.inference_batch_size is not None:
            return int(self.inference_batch_size)
        return 128 if self.input_shape_ is not None and len(self.input_shape_) == 3 else 4096

    def _to_tensor(self, X: np.ndarray) -> torch.Tensor:
        arr = np.asarray(X)
        if arr.dtype != np.float32:
            arr = arr.astype(np.float32)
        t = torch.from_numpy(np.ascontiguousarray(arr)).to(self._device)
        if t.dim() == 4 and self._nhwc(tuple(arr.shape[1:])):
            t = t.contiguous(memory_format=torch.channels_last)
        return t

    # ---------------------------------------------------------------------------- fitting
    def fit(self, X: np.ndarray, y: np.ndarray, *, rng: np.random.Generator) -> TorchClassifier:
        """Train on the labelled rows ``X``/``y`` following the update policy.

        Raises:
            ValueError: On bad parameters, mismatched lengths, an empty set, labels outside
                ``[0, n_classes)`` or non-finite features.
        """
        self._validate_params()
        X = np.asarray(X)
        y = np.asarray(y)
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels.")
        if len(X) == 0:
            raise ValueError("cannot fit on an empty labelled set; label at least one item first.")
        if y.min() < 0 or y.max() >= self.n_classes:
            raise ValueError(f"labels must be in [0, {self.n_classes}), got min {y.min()} max {y.max()}.")
        seed = derive_seed(rng)
        device = self._device
        input_shape = tuple(X.shape[1:])
        fresh = self.module_ is None or self.update == "retrain" or input_shape != self.input_shape_
        epochs, lr = self.epochs, self.lr
        if not fresh and self.update == "finetune":
            epochs = self.finetune_epochs or max(1, self.epochs // 5)
            lr = self.lr * self.finetune_lr_scale
        with seeded_torch(seed, device), torch_threads(self.num_threads):
            if fresh:
                self.module_ = self.module_factory(input_shape, int(self.n_classes)).to(device)
                if self._nhwc(input_shape):
                    # torch's stubs for Module.to omit its memory_format keyword
                    self.module_ = self.module_.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
                self.input_shape_ = input_shape
                self._head = _last_linear(self.module_)
            self._train(self._to_tensor(X), torch.from_numpy(y.astype(np.int64)).to(device), epochs, lr, seed)
        self.n_fits_ += 1
        return self

    def _split_validation(self, y: torch.Tensor, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        gen = np.random.default_rng(seed)
        yn = y.cpu().numpy()
        val = []
        for c in np.unique(yn):
            members = np.flatnonzero(yn == c)
            n_val = int(round(len(members) * self.validation_fraction))
            if len(members) >= 2 and n_val >= 1:
                val.append(gen.choice(members, size=min(n_val, len(members) - 1), replace=False))
        val_idx = np.sort(np.concatenate(val)) if val else np.empty(0, dtype=np.int64)
        train_mask = np.ones(len(yn), dtype=bool)
        train_mask[val_idx] = False
        return torch.from_numpy(np.flatnonzero(train_mask)), torch.from_numpy(val_idx)

    def _training_loss(self, module: nn.Module, X: torch.Tensor, y: torch.Tensor, epoch: int) -> torch.Tensor:
        """Loss of one (mini)batch ``X`` ``(b, ...)``, ``y`` ``(b,)``: mean cross-entropy of the logits.

        The hook subclasses override to add auxiliary terms (e.g.
        :class:`~activelab.models.lossnet.LossPredictionClassifier`); ``epoch`` counts from 0 within
        this fit. Runs inside the fit's forked, seeded torch RNG.
        """
        return nn.functional.cross_entropy(module(X), y)

    def _manual_trainer(self, module: nn.Module, X: torch.Tensor, lr: float, seed: int) -> ManualMLPTrainer | None:
        """The autograd-free trainer when ``trainer="auto"`` and the network and loss allow it."""
        if self.trainer != "auto" or type(self)._training_loss is not TorchClassifier._training_loss:
            return None
        layers = plain_mlp_layers(module, X)
        if layers is None:
            return None
        rng = np.random.default_rng(np.random.SeedSequence([seed, 0x6D6C70]))
        return ManualMLPTrainer(layers, optimizer=self.optimizer, lr=lr, weight_decay=self.weight_decay, rng=rng)

    def _train(self, X: torch.Tensor, y: torch.Tensor, epochs: int, lr: float, seed: int) -> None:
        module = self.module_
        assert module is not None  # internal invariant, set by fit
        manual = self._manual_trainer(module, X, lr, seed)
        if manual is None:
            opt = _OPTIMISERS[self.optimizer](module.parameters(), lr=lr, weight_decay=self.weight_decay)

            def step(Xb: torch.Tensor, yb: torch.Tensor, epoch: int) -> None:
                opt.zero_grad(set_to_none=True)
                self._training_loss(module, Xb, yb, epoch).backward()  # type: ignore[no-untyped-call]  # torch: unannotated
                opt.step()

        else:

            def step(Xb: torch.Tensor, yb: torch.Tensor, epoch: int) -> None:
                manual.step(Xb, yb)

        loss_fn = nn.CrossEntropyLoss()
        Xv = yv = None
        if self.early_stopping is not None:
            tr, va = self._split_validation(y, seed)
            if len(va) > 0:
                Xv, yv = X[va.to(X.device)], y[va.to(X.device)]
                X, y = X[tr.to(X.device)], y[tr.to(X.device)]
        n = len(X)
        batch_size = n if self.batch_size is None else self.batch_size
        full_batch = batch_size >= n
        gen = torch.Generator(device="cpu")
        gen.manual_seed(seed)
        best_loss, best_state, since_best = float("inf"), None, 0
        module.train()
        for epoch in range(epochs):
            if full_batch:
                step(X, y, epoch)
            else:
                order = torch.randperm(n, generator=gen).to(X.device)
                for start in range(0, n, batch_size):
                    b = order[start : start + batch_size]
                    step(X[b], y[b], epoch)
            if Xv is not None:
                module.eval()
                with torch.no_grad():
                    val_loss = float(loss_fn(module(Xv), yv))
                module.train()
                if val_loss < best_loss - 1e-6:
                    best_loss, since_best = val_loss, 0
                    best_state = copy.deepcopy(module.state_dict())
                else:
                    since_best += 1
                    if self.early_stopping is not None and since_best >= self.early_stopping:  # set: Xv exists
                        break
        if best_state is not None:
            module.load_state_dict(best_state)
        if manual is not None:
            manual.finish()
        module.eval()

    # -------------------------------------------------------------------------- inference
    def _check_fitted(self) -> nn.Module:
        if self.module_ is None:
            raise NotFittedError("This TorchClassifier is not fitted yet; call fit() first.")
        return self.module_

    def _batches(self, X: np.ndarray) -> Iterable[torch.Tensor]:
        rows = self._inference_rows
        for start in range(0, len(X), rows):
            yield self._to_tensor(X[start : start + rows])

    @property
    def has_prob_samples(self) -> bool:
        """True when the network has dropout layers (needed for MC-dropout samples)."""
        module = self.module_ if self.module_ is not None else None
        if module is None:
            return True  # decided after the first fit
        return any(isinstance(m, nn.modules.dropout._DropoutNd) and m.p > 0 for m in module.modules())

    @contextmanager
    def _mc_dropout(self, module: nn.Module) -> Iterator[None]:
        """Eval mode everywhere except dropout layers (BatchNorm keeps its running statistics)."""
        module.eval()
        drops = [m for m in module.modules() if isinstance(m, nn.modules.dropout._DropoutNd)]
        for m in drops:
            m.train()
        try:
            yield
        finally:
            for m in drops:
                m.eval()

    def _forward(self, module: nn.Module, xb: torch.Tensor, want_h: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        captured: list[torch.Tensor] = []
        handle = None
        if want_h:
            handle = self._head.register_forward_pre_hook(lambda _m, inp: captured.append(inp[0]))
        try:
            logits = module(xb)
        finally:
            if handle is not None:
                handle.remove()
        h = captured[-1].flatten(1) if want_h else None
        return logits, h

    def predict_views(
        self,
        X: np.ndarray,
        needs: Iterable[str],
        *,
        n_draws: int = 20,
        rng: np.random.Generator | None = None,
        joint: bool = False,
    ) -> dict[str, np.ndarray]:
        """All requested views of ``X`` from one deterministic forward pass (+ MC passes).

        ``needs`` ⊆ {"probs", "embeddings", "prob_samples"}; ``joint`` as in
        :meth:`predict_proba_samples`.
        """
        module = self._check_fitted()
        needs = set(needs)
        unknown = needs - {"probs", "embeddings", "prob_samples"}
        if unknown:
            raise ValueError(f"unknown views {sorted(unknown)}; TorchClassifier provides probs, embeddings, prob_samples.")
        out: dict[str, np.ndarray] = {}
        n = len(X)
        if needs & {"probs", "embeddings"}:
            module.eval()
            with torch.no_grad(), torch_threads(self.num_threads):
                start = 0
                for xb in self._batches(X):  # outputs are allocated once and filled per batch
                    logits, h = self._forward(module, xb, "embeddings" in needs)
                    stop = start + len(xb)
                    if "probs" in needs:
                        probs = out.setdefault("probs", np.empty((n, logits.shape[1]), dtype=np.float32))
                        probs[start:stop] = torch.softmax(logits.float(), 1).cpu().numpy()
                    if h is not None:
                        emb = out.setdefault("embeddings", np.empty((n, h.shape[1]), dtype=np.float32))
                        emb[start:stop] = h.float().cpu().numpy()
                    start = stop
            if n == 0:
                out.update({name: np.empty((0,), dtype=np.float32) for name in needs & {"probs", "embeddings"}})
        if "prob_samples" in needs:
            if rng is None:
                raise ValueError("prob_samples needs an rng for the dropout masks.")
            out["prob_samples"] = self.predict_proba_samples(X, n_draws, rng=rng, joint=joint)
        return out

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities ``(n, n_classes)`` with dropout off."""
        return self.predict_views(X, ("probs",))["probs"]

    def embed(self, X: np.ndarray) -> np.ndarray:
        """Penultimate embeddings ``(n, d)``: the input of the last ``nn.Linear``."""
        return self.predict_views(X, ("embeddings",))["embeddings"]

    def predict_proba_samples(
        self, X: np.ndarray, n_draws: int, *, rng: np.random.Generator, joint: bool = False
    ) -> np.ndarray:
        """MC-dropout samples ``(n, n_draws, n_classes)``: only dropout layers are switched on.

        With consistent masks (``mc_dropout="consistent"``, or ``"auto"`` with ``joint=True``)
        draw ``d`` is the same sampled network for every row (and every chunk), so the result
        does not depend on ``inference_batch_size``.
        """
        module = self._check_fitted()
        if n_draws < 1:
            raise ValueError(f"n_draws must be >= 1, got {n_draws}.")
        seed = derive_seed(rng)
        result = np.empty((len(X), n_draws, int(self.n_classes)), dtype=np.float32)
        prefix, suffix = _mc_split(module)
        consistent = self.mc_dropout == "consistent" or (self.mc_dropout == "auto" and bool(joint))
        with contextlib.ExitStack() as stack:
            stack.enter_context(seeded_torch(seed, self._device))
            stack.enter_context(torch_threads(self.num_threads))
            stack.enter_context(torch.no_grad())
            if consistent:
                module.eval()
                masks = _ConsistentMasks(module, seed)
                stack.callback(masks.remove)
            else:
                stack.enter_context(self._mc_dropout(module))
            start = 0
            for xb in self._batches(X):
                hb = prefix(xb) if prefix is not None else xb  # the deterministic part, once
                for d in range(n_draws):
                    if consistent:
                        masks.draw = d
                    result[start : start + len(xb), d] = torch.softmax(suffix(hb).float(), 1).cpu().numpy()
                start += len(xb)
        module.eval()
        return result

    # ------------------------------------------------------------------------ persistence
    def state_dict(self) -> dict[str, Any]:
        """Weights (as bytes) and counters, for checkpoints."""
        if self.module_ is None:
            return {"fitted": False}
        buf = io.BytesIO()
        torch.save(self.module_.state_dict(), buf)
        return {"fitted": True, "weights": buf.getvalue(), "input_shape": list(self.input_shape_ or ()), "n_fits": self.n_fits_}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore weights saved by :meth:`state_dict`."""
        if not state.get("fitted"):
            self.module_ = None
            return
        self.input_shape_ = tuple(state["input_shape"])
        self.module_ = self.module_factory(self.input_shape_, int(self.n_classes)).to(self._device)
        self._head = _last_linear(self.module_)
        weights = torch.load(io.BytesIO(state["weights"]), map_location=self._device, weights_only=True)
        self.module_.load_state_dict(weights)
        self.module_.eval()
        self.n_fits_ = int(state.get("n_fits", 0))

    def __repr__(self) -> str:
        return (
            f"TorchClassifier(n_classes={self.n_classes}, optimizer={self.optimizer!r}, lr={self.lr}, "
            f"epochs={self.epochs}, batch_size={self.batch_size}, update={self.update!r}, device={self.device!r}, "
            f"trainer={self.trainer!r})"
        )
