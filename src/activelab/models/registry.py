"""Named model recipes used by the CLI and experiments."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._registry import lookup
from .base import Model
from .networks import cnn, mlp
from .sklearn import SklearnClassifier
from .torch import TorchClassifier

__all__ = ["MODELS", "list_models", "make_model"]


def _mlp_parts(kw: dict[str, Any]) -> tuple[Any, dict[str, Any]]:
    """The registry MLP's network factory (``init`` from ``kw``, default "he") and its
    classifier keywords, the defaults overridden by the rest of ``kw``.
    """
    init = kw.pop("init", "he")
    # One training thread: a 128-unit MLP gains nothing from more, and OpenMP threads that
    # spin on a busy 2-core machine slow each step down (by how much: docs/benchmarks.md,
    # "Notes moved from docstrings").
    params: dict[str, Any] = {"lr": 1e-2, "epochs": 100, "batch_size": None, "num_threads": 1}
    params.update(kw)
    return mlp((128,), dropout=0.25, init=init), params


def _mlp(n_classes: int, **kw: Any) -> TorchClassifier:
    factory, params = _mlp_parts(kw)
    return TorchClassifier(factory, n_classes, **params)


def _mlp_torch_init(n_classes: int, **kw: Any) -> TorchClassifier:
    return _mlp(n_classes, init="torch", **kw)


def _mlp_lossnet(n_classes: int, **kw: Any) -> TorchClassifier:
    from .lossnet import LossPredictionClassifier

    factory, params = _mlp_parts(kw)
    return LossPredictionClassifier(factory, n_classes, **params)


def _ensemble(n_classes: int, **kw: Any) -> Any:
    from .ensemble import DeepEnsemble

    n_members = kw.pop("n_members", 5)
    return DeepEnsemble(_mlp(n_classes, **kw), n_members, cap_draws=True)


def _cnn(n_classes: int, **kw: Any) -> TorchClassifier:
    params: dict[str, Any] = {"lr": 1e-3, "epochs": 30, "batch_size": 64}
    params.update(kw)
    return TorchClassifier(cnn(), n_classes, **params)


def _cnn_small(n_classes: int, **kw: Any) -> TorchClassifier:
    params: dict[str, Any] = {"lr": 1e-3, "epochs": 20, "batch_size": 64, "num_threads": 1}
    params.update(kw)
    return TorchClassifier(cnn(channels=(16, 32), hidden=64), n_classes, **params)


def _logreg(n_classes: int, **kw: Any) -> SklearnClassifier:
    from sklearn.linear_model import LogisticRegression

    unused = {k for k, v in kw.items() if v is not None and k not in {"device", "update"}}
    if unused:
        raise ValueError(f"model 'logreg' does not take {sorted(unused)}; it is refitted exactly each round.")
    return SklearnClassifier(LogisticRegression(max_iter=1000), n_classes)


#: name -> (builder(n_classes, **overrides), description)
MODELS: dict[str, tuple[Callable[..., Any], str]] = {
    "mlp": (
        _mlp,
        "MLP (in)-128-(C), dropout 0.25 before the output, He init; Adam lr 1e-2, 100 full-batch epochs",
    ),
    "mlp_torch_init": (
        _mlp_torch_init,
        "the 'mlp' network with PyTorch's default Linear init, U(±1/√fan_in) weights and biases",
    ),
    "mlp_lossnet": (
        _mlp_lossnet,
        "the 'mlp' network plus a Learning Loss head (ranking loss, ξ=1, λ=1), for strategy 'learning_loss'",
    ),
    "ensemble": (
        _ensemble,
        "deep ensemble of 5 'mlp' members seeded apart; its members are the posterior draws (bald, batchbald, epig, qbc_*)",
    ),
    "cnn": (_cnn, "2-block conv net (32, 64 channels, BatchNorm) + 128-unit head, dropout 0.25; Adam lr 1e-3, batch 64, 30 epochs"),
    "cnn_small": (
        _cnn_small,
        "the 'cnn' layout with 16, 32 channels and a 64-unit head (about 4x cheaper); Adam lr 1e-3, batch 64, 20 epochs",
    ),
    "logreg": (_logreg, "scikit-learn LogisticRegression (no MC samples or embeddings)"),
}


def make_model(name: str, n_classes: int, **overrides: Any) -> Model:
    """Build a registered model; ``overrides`` (e.g. ``epochs``, ``device``, ``update``) replace defaults.

    ``None`` overrides are ignored, so CLI options can be passed through unchanged.
    """
    builder, _ = lookup("model", name, MODELS)
    model: Model = builder(n_classes, **{k: v for k, v in overrides.items() if v is not None})
    return model


def list_models() -> list[tuple[str, str]]:
    """(name, description) of every registered model."""
    return [(k, v[1]) for k, v in MODELS.items()]
