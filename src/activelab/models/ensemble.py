"""Committees of independently seeded models: ``DeepEnsemble`` (torch) and ``SklearnCommittee``.

Both provide ``predict_proba_samples``: the members' predictions, one "draw" per member, so
BALD, BatchBALD, EPIG and the query-by-committee scores work on them. Member draws are
consistent across rows (draw ``m`` of every row comes from member ``m``), which BatchBALD and
EPIG require (TorchClassifier's default consistent MC dropout gives the same property).

Asking for ``n_draws`` returns the first ``n_draws`` members (always the same ones, so rows
scored in different chunks see the same members). Asking for more draws than there are
members is an error, unless ``cap_draws=True``, in which case all members are returned (the
view then has ``n_members`` draws instead of ``n_draws``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from ..errors import NotFittedError
from .sklearn import SklearnClassifier

__all__ = ["DeepEnsemble", "SklearnCommittee"]


def _check_members(n_members: object) -> int:
    if not isinstance(n_members, (int, np.integer)) or isinstance(n_members, bool) or n_members < 2:
        raise ValueError(f"n_members must be an int >= 2 (a committee of one never disagrees), got {n_members!r}.")
    return int(n_members)


class _Committee:
    """Shared prediction logic: members' probabilities, their mean, and the draw rules."""

    members: list[Any]
    n_classes: int
    cap_draws: bool
    bootstrap: bool
    fitted_: bool

    @property
    def n_members(self) -> int:
        """Number of members ``M``."""
        return len(self.members)

    @property
    def has_prob_samples(self) -> bool:
        """Always True: the members are the samples."""
        return True

    def _check_fitted(self) -> None:
        if not self.fitted_:
            raise NotFittedError(f"This {type(self).__name__} is not fitted yet; call fit() first.")

    def _n_used(self, n_draws: int) -> int:
        if not isinstance(n_draws, (int, np.integer)) or isinstance(n_draws, bool) or n_draws < 1:
            raise ValueError(f"n_draws must be a positive int, got {n_draws!r}.")
        if n_draws > self.n_members:
            if self.cap_draws:
                return self.n_members
            raise ValueError(
                f"{type(self).__name__} has {self.n_members} members, so it can give at most {self.n_members} draws, "
                f"but {n_draws} were requested; build the strategy with n_draws={self.n_members} "
                f"(e.g. make('bald', n_draws={self.n_members})), or pass cap_draws=True to get all members."
            )
        return int(n_draws)

    def _fit_rows(self, n_rows: int, rngs: Sequence[np.random.Generator]) -> list[np.ndarray | None]:
        """Per member: ``None`` (all rows) or a bootstrap resample drawn from its own generator."""
        if not self.bootstrap:
            return [None] * len(rngs)
        return [np.sort(gen.integers(0, n_rows, size=n_rows)) for gen in rngs]

    def _fit_members(self, X: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> None:
        X = np.asarray(X)
        y = np.asarray(y)
        if len(X) != len(y):
            raise ValueError(f"X has {len(X)} rows but y has {len(y)} labels.")
        # one child stream per member, split in two: bootstrap rows and the member's own fit
        children = [gen.spawn(2) for gen in rng.spawn(self.n_members)]
        rows = self._fit_rows(len(y), [c[0] for c in children])
        for member, r, (_, fit_rng) in zip(self.members, rows, children, strict=True):
            if r is None:
                member.fit(X, y, rng=fit_rng)
            else:
                member.fit(X[r], y[r], rng=fit_rng)
        self.fitted_ = True

    def _member_probs(self, X: np.ndarray, n_used: int) -> np.ndarray:
        """``(n, n_used, C)`` probabilities of the first ``n_used`` members (float32)."""
        out = np.empty((len(X), n_used, int(self.n_classes)), dtype=np.float32)
        for m in range(n_used):
            out[:, m] = self.members[m].predict_proba(X)
        return out

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Mean of the members' probabilities, ``(n, n_classes)``. Cost: M predictions."""
        self._check_fitted()
        out = np.zeros((len(X), int(self.n_classes)), dtype=np.float64)
        for member in self.members:
            out += member.predict_proba(X)
        out /= self.n_members
        return out.astype(np.float32)

    def predict_proba_samples(
        self, X: np.ndarray, n_draws: int, *, rng: np.random.Generator, joint: bool = False
    ) -> np.ndarray:
        """The first ``n_draws`` members' probabilities ``(n, n_draws, n_classes)``.

        ``rng`` and ``joint`` are unused (the members are fixed networks, so the draws are
        always joint); they are accepted for the protocol.

        Raises:
            ValueError: If ``n_draws`` exceeds the number of members and ``cap_draws`` is False.
        """
        self._check_fitted()
        return self._member_probs(X, self._n_used(n_draws))


class DeepEnsemble(_Committee):
    """Deep ensemble (Lakshminarayanan et al., 2017): ``n_members`` copies of one model, seeded apart.

    Args:
        template: An unfitted model to copy, typically a
            :class:`~activelab.models.torch.TorchClassifier` (its network factory, optimiser,
            epochs, update policy... apply to every member). Each member is a deep copy.
        n_members: ``M >= 2``.
        cap_draws: If True, asking for more draws than members returns all members instead
            of raising (useful with strategies whose default ``n_draws`` is 20).
        bootstrap: Train each member on its own bootstrap resample (bagging) instead of the
            whole labelled set; the usual deep ensemble differs only in initialisation and
            shuffling.

    ``fit`` trains every member in one call, each from its own child generator of ``rng``
    (``rng.spawn``): the same ``rng`` gives identical members, a different one different
    members, and members differ from each other. ``embed`` returns the *first* member's
    embeddings (the members' embedding spaces are unrelated, so they cannot be averaged).
    Each member follows its own update policy across rounds.

    Cost: M × the template's fit and prediction time; M × its memory.

    Example:
        >>> from activelab.models import TorchClassifier, mlp
        >>> X = np.random.default_rng(0).normal(size=(30, 4)).astype(np.float32)
        >>> y = (X[:, 0] > 0).astype(np.int64)
        >>> ens = DeepEnsemble(TorchClassifier(mlp((8,), 0.0), 2, epochs=5), n_members=3)
        >>> ens.fit(X, y, rng=np.random.default_rng(0)).predict_proba_samples(X[:4], 3, rng=np.random.default_rng(0)).shape
        (4, 3, 2)
    """

    def __init__(self, template: Any, n_members: int = 5, *, cap_draws: bool = False, bootstrap: bool = False) -> None:
        for method in ("fit", "predict_proba"):
            if not callable(getattr(template, method, None)):
                raise TypeError(f"template must be a model with {method}(); got {type(template).__name__}.")
        if getattr(template, "module_", None) is not None:
            raise ValueError("template is already fitted; pass an unfitted model (its copies are trained by fit).")
        self.template = template
        self.n_classes = int(template.n_classes)
        self.cap_draws = bool(cap_draws)
        self.bootstrap = bool(bootstrap)
        self.members = [copy.deepcopy(template) for _ in range(_check_members(n_members))]
        self.fitted_ = False

    @property
    def has_embeddings(self) -> bool:
        """True when the members provide ``embed``."""
        return callable(getattr(self.members[0], "embed", None))

    def fit(self, X: np.ndarray, y: np.ndarray, *, rng: np.random.Generator) -> DeepEnsemble:
        """Train all members on ``X``/``y`` (or their bootstrap resamples), each with its own child of ``rng``."""
        self._fit_members(X, y, rng)
        return self

    def embed(self, X: np.ndarray) -> np.ndarray:
        """Embeddings ``(n, d)`` of the first member."""
        self._check_fitted()
        return np.asarray(self.members[0].embed(X))

    def predict_views(
        self,
        X: np.ndarray,
        needs: Iterable[str],
        *,
        n_draws: int = 20,
        rng: np.random.Generator | None = None,
        joint: bool = False,
    ) -> dict[str, np.ndarray]:
        """All requested views from one prediction per member (``probs`` is the mean of the samples).

        ``needs`` ⊆ {"probs", "prob_samples", "embeddings"}. Cost: M predictions (+ one embed).
        """
        self._check_fitted()
        needs = set(needs)
        unknown = needs - {"probs", "prob_samples", "embeddings"}
        if unknown:
            raise ValueError(f"unknown views {sorted(unknown)}; DeepEnsemble provides probs, prob_samples, embeddings.")
        out: dict[str, np.ndarray] = {}
        if "prob_samples" in needs:
            n_used = self._n_used(n_draws)
            samples = self._member_probs(X, self.n_members)  # the mean needs every member anyway
            out["prob_samples"] = samples if n_used == self.n_members else np.ascontiguousarray(samples[:, :n_used])
            if "probs" in needs:
                out["probs"] = samples.mean(axis=1, dtype=np.float64).astype(np.float32)
        elif "probs" in needs:
            out["probs"] = self.predict_proba(X)
        if "embeddings" in needs:
            out["embeddings"] = self.embed(X)
        return out

    def state_dict(self) -> dict[str, Any]:
        """Every member's state (members must provide ``state_dict``)."""
        if not all(callable(getattr(m, "state_dict", None)) for m in self.members):
            raise TypeError(f"{type(self.members[0]).__name__} has no state_dict(); this ensemble cannot be checkpointed.")
        return {"fitted": self.fitted_, "members": [m.state_dict() for m in self.members]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict`.

        Raises:
            ValueError: If the state holds a different number of members.
        """
        states = state["members"]
        if len(states) != self.n_members:
            raise ValueError(f"state holds {len(states)} members but this ensemble has {self.n_members}.")
        for member, member_state in zip(self.members, states, strict=True):
            member.load_state_dict(member_state)
        self.fitted_ = bool(state["fitted"])

    def __repr__(self) -> str:
        return f"DeepEnsemble({self.template!r}, n_members={self.n_members}, bootstrap={self.bootstrap})"


class SklearnCommittee(_Committee):
    """Query-by-committee with scikit-learn classifiers: a list of estimators, or one estimator bagged.

    Args:
        estimators: Either a sequence of unfitted estimators with ``predict_proba`` (one member
            each, all trained on the whole labelled set unless ``bootstrap``), or a single
            estimator copied ``n_members`` times and trained on bootstrap resamples.
        n_classes: Number of classes (columns of classes absent from a member's training rows are 0).
        n_members: Committee size when ``estimators`` is a single estimator (default 5).
        bootstrap: Whether members train on bootstrap resamples; default True for a single
            estimator (otherwise identical deterministic members would never disagree) and
            False for a list.
        cap_draws: As for :class:`DeepEnsemble`.

    Each member is a :class:`~activelab.models.sklearn.SklearnClassifier`; an estimator with a
    ``random_state`` parameter is seeded from the member's own child generator, and the
    bootstrap rows come from another child of the ``fit`` ``rng``.

    Cost: M × the estimator's fit and prediction.

    Example:
        >>> from sklearn.linear_model import LogisticRegression
        >>> X = np.random.default_rng(0).normal(size=(40, 3))
        >>> y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
        >>> qbc = SklearnCommittee(LogisticRegression(), 2, n_members=4)
        >>> qbc.fit(X, y, rng=np.random.default_rng(0)).predict_proba_samples(X[:5], 4, rng=np.random.default_rng(0)).shape
        (5, 4, 2)
    """

    def __init__(
        self,
        estimators: Any,
        n_classes: int,
        *,
        n_members: int | None = None,
        bootstrap: bool | None = None,
        cap_draws: bool = False,
    ) -> None:
        if isinstance(estimators, (list, tuple)):
            if n_members is not None and n_members != len(estimators):
                raise ValueError(f"n_members={n_members} but {len(estimators)} estimators were given; drop n_members.")
            ests = list(estimators)
            _check_members(len(ests))
            self.bootstrap = bool(bootstrap) if bootstrap is not None else False
        else:
            ests = [estimators] * _check_members(5 if n_members is None else n_members)
            self.bootstrap = True if bootstrap is None else bool(bootstrap)
        self.members = [SklearnClassifier(est, n_classes) for est in ests]  # each fit clones its estimator
        self.n_classes = int(n_classes)
        self.cap_draws = bool(cap_draws)
        self.fitted_ = False

    def fit(self, X: np.ndarray, y: np.ndarray, *, rng: np.random.Generator) -> SklearnCommittee:
        """Fit every member (a fresh clone of its estimator) from its own child of ``rng``."""
        self._fit_members(X, y, rng)
        return self

    def __repr__(self) -> str:
        names = sorted({type(m.estimator).__name__ for m in self.members})
        return f"SklearnCommittee({'/'.join(names)}, n_members={self.n_members}, bootstrap={self.bootstrap})"
