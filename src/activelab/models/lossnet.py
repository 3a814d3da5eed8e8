"""Learning Loss (Yoo & Kweon, CVPR 2019): a classifier with an auxiliary loss-prediction head.

The head reads intermediate features of the classifier ("taps"), maps each through global
average pooling → ``nn.Linear`` → ReLU, concatenates the results and predicts one scalar per
item with a last ``nn.Linear``. It is trained jointly with the classifier on the pairwise margin
ranking loss of the paper (:func:`ranking_loss`): only the *ranking* of predicted losses is
learned, so the strategy ``learning_loss`` asks for the items with the highest predicted loss.

Training reuses :class:`~activelab.models.torch.TorchClassifier` entirely (optimiser, update
policy, minibatches, early stopping, seeding) through its ``_training_loss`` hook.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, cast

import numpy as np
import torch
from torch import nn

from .torch import TorchClassifier, torch_threads

__all__ = ["LossNetModule", "LossPredictionClassifier", "ranking_loss"]

#: Top-level layer types whose outputs are tapped by default.
_ACTIVATIONS: tuple[type[nn.Module], ...] = (
    nn.ReLU, nn.LeakyReLU, nn.GELU, nn.ELU, nn.SiLU, nn.Tanh, nn.Sigmoid, nn.Softplus, nn.Mish,
)


def ranking_loss(predicted: torch.Tensor, target: torch.Tensor, margin: float = 1.0) -> torch.Tensor:
    """Pairwise margin ranking loss of Learning Loss (Yoo & Kweon 2019, eq. 2).

    The batch is split into ``b // 2`` pairs ``(i, i + b // 2)`` (an odd last item is unused).
    For a pair with true losses ``l_i, l_j`` and predictions ``p_i, p_j`` the loss is
    ``max(0, -s · (p_i - p_j) + margin)`` with ``s = +1`` if ``l_i > l_j`` else ``-1``; the result
    is the mean over pairs. No gradient flows into ``target``. Shuffle the batch first if its
    order is not random.

    Args:
        predicted: Predicted losses ``(b,)``.
        target: True per-item losses ``(b,)`` (e.g. cross-entropy with ``reduction="none"``).
        margin: The margin ξ (> 0 in the paper: 1).

    Returns:
        A scalar tensor (0 when ``b < 2``, still attached to the graph of ``predicted``).

    Raises:
        ValueError: If the shapes differ or are not 1-D.

    Cost: O(b) time and memory.

    Example:
        >>> p = torch.tensor([2.0, 0.0, 0.0, 0.5])
        >>> t = torch.tensor([3.0, 1.0, 1.0, 0.0])
        >>> float(ranking_loss(p, t))  # pair (0, 2): max(0, 1 - (2 - 0)) = 0; (1, 3): max(0, 1 + 0.5) = 1.5
        0.75
    """
    if predicted.ndim != 1 or predicted.shape != target.shape:
        raise ValueError(
            f"predicted and target must be 1-D of equal length, got shapes {tuple(predicted.shape)} "
            f"and {tuple(target.shape)}."
        )
    half = predicted.shape[0] // 2
    if half == 0:
        return predicted.sum() * 0.0
    diff_pred = predicted[:half] - predicted[half : 2 * half]
    diff_true = (target[:half] - target[half : 2 * half]).detach()
    sign = torch.where(diff_true > 0, 1.0, -1.0).to(diff_pred.dtype)
    return torch.clamp(margin - sign * diff_pred, min=0.0).mean()


class _LossHead(nn.Module):
    """GAP → Linear → ReLU per tapped feature map, concatenated → Linear → one scalar per item."""

    def __init__(self, channels: Sequence[int], width: int) -> None:
        super().__init__()
        self.branches = nn.ModuleList(nn.Sequential(nn.Linear(c, width), nn.ReLU()) for c in channels)
        self.out = nn.Linear(width * len(channels), 1)

    def forward(self, features: Sequence[torch.Tensor]) -> torch.Tensor:
        parts = []
        for branch, f in zip(self.branches, features, strict=True):
            pooled = f.flatten(2).mean(2) if f.ndim > 2 else f  # global average pooling over space
            parts.append(branch(pooled))
        predicted: torch.Tensor = self.out(torch.cat(parts, dim=1)).squeeze(1)
        return predicted


class LossNetModule(nn.Module):
    """A classifier ``nn.Sequential`` plus a loss-prediction head on some of its layers' outputs.

    ``forward(x)`` returns the classifier's logits only, so every ``TorchClassifier`` feature
    (probabilities, embeddings, MC dropout) works unchanged. The head is registered before the
    backbone, so the backbone's output layer stays the last ``nn.Linear`` of the module.

    Args:
        backbone: The classifier, an ``nn.Sequential`` returning logits.
        taps: Indices of top-level layers of ``backbone`` whose outputs feed the head; ``None``
            taps every top-level activation layer (ReLU, GELU, ...), which for the built-in
            ``mlp`` and ``cnn`` networks are each block's output and the penultimate features.
        input_shape: Shape of one item, used once to size the head.
        width: Units of each tap's ``Linear`` (128 in the paper).
    """

    def __init__(self, backbone: nn.Module, taps: Sequence[int] | None, input_shape: tuple[int, ...], width: int) -> None:
        super().__init__()
        if not isinstance(backbone, nn.Sequential):
            raise TypeError(
                f"Learning Loss taps layers of an nn.Sequential network; the factory returned "
                f"{type(backbone).__name__}. Build the network as nn.Sequential (as activelab.models.mlp/cnn do)."
            )
        n = len(backbone)
        if taps is None:
            chosen = [i for i, layer in enumerate(backbone) if isinstance(layer, _ACTIVATIONS)]
            if not chosen:
                raise ValueError(
                    "the network has no top-level activation layer to tap; pass taps=[layer indices] explicitly."
                )
        else:
            chosen = sorted({int(t) + (n if int(t) < 0 else 0) for t in taps})
            bad = [t for t in chosen if not 0 <= t < n - 1]
            if not chosen or bad:
                raise ValueError(
                    f"taps must be indices of layers before the output layer (0..{n - 2}), got {list(taps)}."
                )
        self.taps = tuple(chosen)
        was_training = backbone.training
        backbone.eval()
        with torch.no_grad():
            probe = next(backbone.parameters())
            _, feats = _run(backbone, self.taps, torch.zeros((2, *input_shape), dtype=probe.dtype, device=probe.device))
        backbone.train(was_training)
        self.loss_head = _LossHead([int(f.shape[1]) for f in feats], width).to(probe.device)
        self.backbone = backbone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(b, n_classes)``."""
        logits: torch.Tensor = self.backbone(x)
        return logits

    def forward_with_loss(self, x: torch.Tensor, *, detach: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(b, n_classes)`` and predicted losses ``(b,)`` from one pass.

        With ``detach`` the head's gradient does not reach the backbone (the paper stops it
        after 60 % of the epochs).
        """
        logits, feats = _run(self.backbone, self.taps, x)
        if detach:
            feats = [f.detach() for f in feats]
        return logits, self.loss_head(feats)


def _run(backbone: nn.Sequential, taps: tuple[int, ...], x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    feats = []
    h = x
    for i, layer in enumerate(backbone):
        h = layer(h)
        if i in taps:
            feats.append(h)
    return h, feats


class _WithLossHead:
    """Factory wrapper: ``(input_shape, n_classes) -> LossNetModule``."""

    def __init__(self, factory: Callable[[tuple[int, ...], int], nn.Module], taps: Sequence[int] | None, width: int) -> None:
        self.factory = factory
        self.taps = None if taps is None else tuple(taps)
        self.width = width

    def __call__(self, input_shape: tuple[int, ...], n_classes: int) -> LossNetModule:
        return LossNetModule(self.factory(input_shape, n_classes), self.taps, input_shape, self.width)


class LossPredictionClassifier(TorchClassifier):
    """:class:`TorchClassifier` with a Learning Loss head; provides ``predict_loss`` (view ``predicted_loss``).

    Training minimises ``cross_entropy + loss_weight · ranking_loss(predicted, true per-item CE)``
    per (mini)batch; the batch is shuffled before pairing (from the fit's seeded torch RNG).
    From epoch ``detach_epoch`` on, the head's features are detached so the ranking loss no
    longer shapes the classifier (Yoo & Kweon: epoch 120 of 200).

    Args:
        module_factory: ``(input_shape, n_classes) -> nn.Sequential`` returning logits.
        n_classes: Number of classes.
        taps: Top-level layer indices tapped by the head (default: every activation layer).
        head_width: Units per tap in the head (128 in the paper).
        margin: Ranking margin ξ (1 in the paper).
        loss_weight: Weight λ of the ranking loss (1 in the paper).
        detach_epoch: First epoch (0-based, within each fit) whose head input is detached;
            ``None`` = ``round(0.6 · epochs of that fit)``.
        **kwargs: Every other :class:`TorchClassifier` option (optimiser, lr, epochs, update, ...).

    Cost: the head adds O(b · Σ tap widths · head_width) per batch to training and prediction;
    ``predict_loss`` is one forward pass in chunks of ``inference_batch_size`` rows.

    Example:
        >>> from activelab.models import mlp
        >>> X = np.random.default_rng(0).normal(size=(40, 3)).astype(np.float32); y = (X[:, 0] > 0).astype(int)
        >>> clf = LossPredictionClassifier(mlp((8,), 0.0), 2, epochs=5).fit(X, y, rng=np.random.default_rng(0))
        >>> clf.predict_loss(X[:4]).shape
        (4,)
    """

    def __init__(
        self,
        module_factory: Callable[[tuple[int, ...], int], nn.Module],
        n_classes: int,
        *,
        taps: Sequence[int] | None = None,
        head_width: int = 128,
        margin: float = 1.0,
        loss_weight: float = 1.0,
        detach_epoch: int | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(head_width, (int, np.integer)) or head_width < 1:
            raise ValueError(f"head_width must be an int >= 1, got {head_width!r}.")
        if not margin > 0:
            raise ValueError(f"margin must be > 0, got {margin!r}.")
        if not loss_weight >= 0:
            raise ValueError(f"loss_weight must be >= 0, got {loss_weight!r}.")
        if detach_epoch is not None and (not isinstance(detach_epoch, (int, np.integer)) or detach_epoch < 0):
            raise ValueError(f"detach_epoch must be an int >= 0 or None (60 % of the epochs), got {detach_epoch!r}.")
        super().__init__(_WithLossHead(module_factory, taps, int(head_width)), n_classes, **kwargs)
        self.backbone_factory = module_factory
        self.taps = taps
        self.head_width = int(head_width)
        self.margin = float(margin)
        self.loss_weight = float(loss_weight)
        self.detach_epoch = detach_epoch
        self._detach_from = 0

    def _train(self, X: torch.Tensor, y: torch.Tensor, epochs: int, lr: float, seed: int) -> None:
        self._detach_from = self.detach_epoch if self.detach_epoch is not None else round(0.6 * epochs)
        super()._train(X, y, epochs, lr, seed)

    def _training_loss(self, module: nn.Module, X: torch.Tensor, y: torch.Tensor, epoch: int) -> torch.Tensor:
        net = cast(LossNetModule, module)  # _WithLossHead builds every network of this classifier
        logits, predicted = net.forward_with_loss(X, detach=epoch >= self._detach_from)
        per_item = nn.functional.cross_entropy(logits, y, reduction="none")
        loss = per_item.mean()
        if self.loss_weight > 0 and len(X) >= 2:
            order = torch.randperm(len(X)).to(X.device)  # forked, seeded global RNG of this fit
            loss = loss + self.loss_weight * ranking_loss(predicted[order], per_item[order], self.margin)
        return loss

    def predict_loss(self, X: np.ndarray) -> np.ndarray:
        """Predicted losses ``(n,)`` (float32) with dropout off; higher = the model expects a larger loss."""
        module = cast(LossNetModule, self._check_fitted())  # _WithLossHead builds every network of this classifier
        out = np.empty(len(X), dtype=np.float32)
        module.eval()
        with torch.no_grad(), torch_threads(self.num_threads):
            start = 0
            for xb in self._batches(X):
                _, pred = module.forward_with_loss(xb)
                out[start : start + len(xb)] = pred.float().cpu().numpy()
                start += len(xb)
        return out

    def predict_views(
        self,
        X: np.ndarray,
        needs: Iterable[str],
        *,
        n_draws: int = 20,
        rng: np.random.Generator | None = None,
        joint: bool = False,
    ) -> dict[str, np.ndarray]:
        """Like :meth:`TorchClassifier.predict_views`, plus ``"predicted_loss"`` (one extra pass)."""
        needs = set(needs)
        want_loss = "predicted_loss" in needs
        rest = needs - {"predicted_loss"}
        out = super().predict_views(X, rest, n_draws=n_draws, rng=rng, joint=joint) if rest else {}
        if want_loss:
            out["predicted_loss"] = self.predict_loss(X)
        return out

    def __repr__(self) -> str:
        return (
            f"LossPredictionClassifier(n_classes={self.n_classes}, head_width={self.head_width}, margin={self.margin}, "
            f"loss_weight={self.loss_weight}, epochs={self.epochs}, update={self.update!r})"
        )
