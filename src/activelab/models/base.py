"""The model protocol, optional capabilities, and the streamed inference pass that feeds strategies."""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol, cast, runtime_checkable

import numpy as np

from ..errors import CapabilityError

__all__ = [
    "VIEWS",
    "Model",
    "SupportsEmbeddings",
    "SupportsLossPrediction",
    "SupportsProbaSamples",
    "SupportsState",
    "Views",
    "compute_views",
]

#: Names of the views a strategy may declare.
VIEWS = ("probs", "prob_samples", "embeddings", "predicted_loss", "inputs")


@runtime_checkable
class Model(Protocol):
    """A classifier that the active-learning loop can fit and query.

    ``fit`` trains on the labelled rows given (a second ``fit`` follows the model's update
    policy); ``predict_proba`` returns ``(n, n_classes)`` probabilities for the rows given.
    """

    n_classes: int

    def fit(self, X: np.ndarray, y: np.ndarray, *, rng: np.random.Generator) -> Any:
        """Train on ``X``/``y``; all randomness comes from ``rng``."""
        ...

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Class probabilities ``(n, n_classes)``."""
        ...


@runtime_checkable
class SupportsProbaSamples(Protocol):
    """Posterior samples: MC dropout (only dropout layers active) or ensemble members.

    A model may also accept a keyword ``joint: bool``: :func:`compute_views` passes
    ``joint=True`` when the strategy compares draws across rows (BatchBALD, EPIG), so that
    draw ``d`` is one sampled network for the whole pool. Models without the keyword are
    called without it.
    """

    def predict_proba_samples(self, X: np.ndarray, n_draws: int, *, rng: np.random.Generator) -> np.ndarray:
        """Samples ``(n, n_draws, n_classes)``."""
        ...


@runtime_checkable
class SupportsEmbeddings(Protocol):
    """Penultimate-layer embeddings (the input of the last linear layer)."""

    def embed(self, X: np.ndarray) -> np.ndarray:
        """Embeddings ``(n, d)``."""
        ...


@runtime_checkable
class SupportsLossPrediction(Protocol):
    """A learned estimate of each item's training loss (Learning Loss, Yoo & Kweon 2019)."""

    def predict_loss(self, X: np.ndarray) -> np.ndarray:
        """Predicted losses ``(n,)``; only their ranking is meaningful."""
        ...


@runtime_checkable
class SupportsState(Protocol):
    """Models whose weights must be checkpointed (warm-start / fine-tune update policies)."""

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue training exactly."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict`."""
        ...


_CAPABILITY = {
    "probs": ("predict_proba", "every Model provides it"),
    "prob_samples": (
        "predict_proba_samples",
        "TorchClassifier provides it when its network has dropout layers",
    ),
    "embeddings": ("embed", "TorchClassifier provides it (the input of the last nn.Linear)"),
    "predicted_loss": ("predict_loss", "LossPredictionClassifier provides it (model 'mlp_lossnet')"),
}


@dataclass
class Views:
    """What one streamed inference pass produced for the rows a strategy asked about.

    Attributes:
        indices: ``(n_rows,)`` absolute pool indices of the rows, ascending.
        labelled: ``(n_rows,)`` bool; True for labelled rows (present only when the strategy
            asked for them, e.g. k-center needs the labelled rows as centres).
        probs: ``(n_rows, n_classes)`` or None.
        prob_samples: ``(n_rows, n_draws, n_classes)`` or None.
        embeddings: ``(n_rows, d)`` or None.
        predicted_loss: ``(n_rows,)`` or None.
        inputs: ``(n_rows, n_features)`` the rows' raw input features, flattened (no model
            needed; for strategies that work in input space), or None.
    """

    indices: np.ndarray
    labelled: np.ndarray
    probs: np.ndarray | None = None
    prob_samples: np.ndarray | None = None
    embeddings: np.ndarray | None = None
    predicted_loss: np.ndarray | None = None
    inputs: np.ndarray | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def candidates(self) -> np.ndarray:
        """Row positions (not pool indices) of the unlabelled rows."""
        return np.flatnonzero(~self.labelled)

    @property
    def n_candidates(self) -> int:
        """Number of unlabelled rows."""
        return int((~self.labelled).sum())

    def require(self, name: str) -> np.ndarray:
        """Return a view or raise a clear error if the strategy did not declare it."""
        value: np.ndarray | None = getattr(self, name)
        if value is None:
            raise CapabilityError(f"view {name!r} was not computed; declare it in the strategy's `needs`.")
        return value


def check_capabilities(model: Model, needs: Iterable[str], strategy_name: str = "strategy") -> None:
    """Raise :class:`CapabilityError` if ``model`` cannot produce every view in ``needs``."""
    for view in needs:
        if view == "inputs":  # read from the data, not the model
            continue
        if view not in _CAPABILITY:
            raise ValueError(f"unknown view {view!r}; known views: {', '.join(VIEWS)}.")
        method, hint = _CAPABILITY[view]
        if not callable(getattr(model, method, None)):
            raise CapabilityError(
                f"Strategy {strategy_name!r} needs a model with {method}() (view {view!r}); "
                f"{type(model).__name__} does not provide it ({hint})."
            )
        has = getattr(model, "has_" + view, None)
        if has is not None and not has:
            raise CapabilityError(
                f"Strategy {strategy_name!r} needs view {view!r} but this {type(model).__name__} "
                f"cannot produce it ({hint})."
            )


def compute_views(
    model: Model,
    X: np.ndarray,
    indices: np.ndarray,
    labelled: np.ndarray,
    needs: Iterable[str],
    *,
    n_draws: int = 20,
    rng: np.random.Generator,
    chunk_size: int = 8192,
    joint_draws: bool = False,
) -> Views:
    """One streamed inference pass over ``X[indices]`` producing each needed view once.

    Rows are read ``chunk_size`` at a time (``X`` may be a memmap); outputs are preallocated.
    Every chunk's posterior draws use the same seed (one draw from ``rng``), so a model whose
    draw ``d`` is a fixed sampled network (consistent MC dropout, ensembles) applies the same
    network to every row of the pool. The ``inputs`` view is the rows of ``X``, flattened.
    A model with ``predict_views(X, needs, n_draws, rng)`` computes all views from one
    forward pass per chunk; otherwise its individual methods are called per chunk.
    ``joint_draws=True`` (the strategy compares draws across rows) is passed on as
    ``joint=True`` to the models whose method takes that keyword.
    """
    needs = tuple(dict.fromkeys(needs))
    idx = np.asarray(indices, dtype=np.int64)
    views = Views(indices=idx, labelled=np.asarray(labelled, dtype=bool))
    if not needs:
        return views
    joint = getattr(model, "predict_views", None)
    # joint=True only when asked for and only to a model whose sampling method takes it
    sampler = joint if joint is not None else getattr(model, "predict_proba_samples", None)
    wants_joint = joint_draws and "prob_samples" in needs and sampler is not None
    draw_kw = {"joint": True} if wants_joint and sampler is not None and "joint" in inspect.signature(sampler).parameters else {}
    outputs: dict[str, np.ndarray] = {}
    model_needs = tuple(n for n in needs if n != "inputs")
    # One seed for the posterior draws of every chunk: with consistent MC dropout, draw d is
    # then the same sampled network for the whole pool, not one network per chunk.
    draw_seed = int(rng.integers(0, 2**63 - 1)) if "prob_samples" in needs else 0
    for start in range(0, len(idx), chunk_size):
        rows = idx[start : start + chunk_size]
        xb = X[rows]
        chunk_rng = np.random.default_rng(draw_seed)
        part: dict[str, Any]
        if not model_needs:
            part = {}
        elif joint is not None:
            part = joint(xb, model_needs, n_draws=n_draws, rng=chunk_rng, **draw_kw)
        else:
            part = {}
            if "probs" in needs:
                part["probs"] = model.predict_proba(xb)
            # the optional capabilities: check_capabilities verified that the model has them
            if "prob_samples" in needs:
                sampling = cast(SupportsProbaSamples, model)
                part["prob_samples"] = sampling.predict_proba_samples(xb, n_draws, rng=chunk_rng, **draw_kw)
            if "embeddings" in needs:
                part["embeddings"] = cast(SupportsEmbeddings, model).embed(xb)
            if "predicted_loss" in needs:
                part["predicted_loss"] = cast(SupportsLossPrediction, model).predict_loss(xb)
        if "inputs" in needs:
            part["inputs"] = np.asarray(xb).reshape(len(rows), -1)
        for name in needs:
            arr = np.asarray(part[name])
            if name not in outputs:
                outputs[name] = np.empty((len(idx), *arr.shape[1:]), dtype=arr.dtype)
            outputs[name][start : start + len(rows)] = arr
    for name, arr in outputs.items():
        setattr(views, name, arr)
    return views
