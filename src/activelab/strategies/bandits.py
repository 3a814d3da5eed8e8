"""Bandits over strategies: ALBL (EXP4.P, Hsu & Lin 2015) and TAILOR (Thompson sampling, Zhang et al. 2023).

Both wrap a list of *base strategies* (the arms or experts). Every round each base strategy
proposes its own batch of ``k`` items from the same views; the bandit decides, item by item,
whose proposal to follow, and learns from what happened to its earlier picks. The learned
state lives in the strategy object (``state_dict`` / ``load_state_dict``), which the loop
checkpoints, so a resumed run continues exactly. A strategy object belongs to one run: build a
fresh one per run (``strategies.make`` does).

All randomness comes from the ``rng`` given to ``select``: it is split into one child stream per
base strategy plus one for the bandit.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..errors import ActiveLabError
from ..models.base import Views
from ..pool import Pool
from .base import Strategy, candidate_rows
from .registry import make

__all__ = [
    "ALBLStrategy",
    "TailorStrategy",
    "beta_update",
    "exp4p_distribution",
    "exp4p_update",
    "importance_weighted_accuracy",
    "thompson_choose",
]

DEFAULT_ARMS = ("random", "margin", "entropy", "coreset")


def _build_arms(arms: Sequence[str | Strategy]) -> list[Strategy]:
    if isinstance(arms, str) or len(arms) < 1:
        raise ValueError(f"arms must be a non-empty sequence of strategy names or objects, got {arms!r}.")
    built = [make(a) if isinstance(a, str) else a for a in arms]
    for a in built:
        if not callable(getattr(a, "select", None)) or not hasattr(a, "needs"):
            raise TypeError(f"arm {a!r} is not a strategy (it needs `select` and `needs`).")
        if hasattr(a, "state_dict"):
            raise TypeError(f"arm {getattr(a, 'name', a)!r} is itself stateful; nesting bandits is not supported.")
    names = [getattr(a, "name", type(a).__name__) for a in built]
    if len(set(names)) != len(names):
        raise ValueError(f"arms must have distinct names, got {names}.")
    return built


class _OverStrategies:
    """Shared plumbing: the union of the arms' views and one proposal per arm."""

    name: str
    arms: list[Strategy]

    def _init_arms(self, arms: Sequence[str | Strategy], extra_needs: tuple[str, ...], extra_labelled: bool) -> None:
        self.arms = _build_arms(arms)
        self.arm_names = [getattr(a, "name", type(a).__name__) for a in self.arms]
        needs: dict[str, None] = {}
        for a in self.arms:
            needs.update(dict.fromkeys(a.needs))
        needs.update(dict.fromkeys(extra_needs))
        self.needs: tuple[str, ...] = tuple(needs)
        self.needs_labelled: bool = extra_labelled or any(getattr(a, "needs_labelled", False) for a in self.arms)
        self.n_draws: int = max([int(getattr(a, "n_draws", 0) or 0) for a in self.arms] + [0])

    def _proposals(self, views: Views, pool: Pool, k: int, rngs: Sequence[np.random.Generator]) -> list[np.ndarray]:
        """Each arm's batch of ``k`` absolute indices (in the arm's own order)."""
        out = []
        for arm, r in zip(self.arms, rngs, strict=False):
            chosen = np.asarray(arm.select(views, pool, k, r), dtype=np.int64)
            if chosen.shape != (k,) or len(np.unique(chosen)) != k or not pool.unlabelled_mask[chosen].all():
                raise ActiveLabError(
                    f"arm {getattr(arm, 'name', arm)!r} returned {chosen.shape} indices; expected {k} unique unlabelled items."
                )
            out.append(chosen)
        return out


def _all_answered(idx: np.ndarray, pool: Pool) -> bool:
    """True if every index is in the pool and labelled or skipped."""
    return bool(idx.max() < pool.n_items and (pool.labelled_mask[idx] | pool.skipped[idx]).all())


def _never_answered(idx: np.ndarray, pool: Pool) -> bool:
    """True if every index is in the pool and still unlabelled (the round was not acted on)."""
    return bool(idx.max() < pool.n_items and pool.unlabelled_mask[idx].all())


# ---------------------------------------------------------------------------------- EXP4.P
def exp4p_distribution(log_weights: np.ndarray, advice: np.ndarray, p_min: float) -> np.ndarray:
    """EXP4.P's query distribution ``q = (1 - K·p_min) · Σ_i w_i ξ_i / Σ_i w_i + p_min``.

    Args:
        log_weights: ``(N,)`` log expert weights.
        advice: ``(N, K)`` advice; each row is a distribution over the ``K`` arms (items).
        p_min: Minimum probability of every item, ``0 <= p_min <= 1/K``.

    Returns:
        ``(K,)`` float64 probabilities summing to 1.

    Cost: O(N·K) time, O(K) extra memory.

    Example:
        >>> exp4p_distribution(np.zeros(2), np.array([[1.0, 0, 0, 0], [0, 1.0, 0, 0]]), 0.1).round(2)
        array([0.4, 0.4, 0.1, 0.1])
    """
    n_items = advice.shape[1]
    if not 0.0 <= p_min <= 1.0 / n_items + 1e-15:
        raise ValueError(f"p_min must be in [0, 1/K] = [0, {1.0 / n_items:.3g}], got {p_min}.")
    w = np.exp(log_weights - log_weights.max())
    mix = (w / w.sum()) @ advice
    q: np.ndarray = (1.0 - n_items * p_min) * mix + p_min
    return q


def exp4p_update(
    log_weights: np.ndarray,
    picked_advice: np.ndarray,
    picked_q: np.ndarray,
    v_hat: np.ndarray,
    reward: float,
    learning_rate: float,
    bonus: float,
) -> np.ndarray:
    """One EXP4.P weight update from a round of ``k`` picks sharing one reward.

    ``ŷ_i = (1/k) Σ_s ξ_i(j_s) · r / q(j_s)`` (the importance-weighted reward estimate of expert
    ``i``, averaged over the picks) and ``log w_i += η · (ŷ_i + v̂_i · bonus)``, where
    ``v̂_i = Σ_j ξ_i(j) / q(j)`` and, in EXP4.P, ``η = p_min / 2`` and
    ``bonus = sqrt(ln(N/δ) / (K·T))``. With ``k = 1`` this is exactly EXP4.P (Beygelzimer et al. 2011).

    Args:
        log_weights: ``(N,)`` current log weights.
        picked_advice: ``(N, k)`` advice of each expert at the picked items.
        picked_q: ``(k,)`` query probabilities of the picked items.
        v_hat: ``(N,)`` ``Σ_j ξ_i(j) / q(j)`` over all items of the round.
        reward: Reward in ``[0, 1]``.
        learning_rate: η.
        bonus: Confidence-bonus factor.

    Returns:
        ``(N,)`` new log weights.

    Cost: O(N·k).
    """
    if not 0.0 <= reward <= 1.0:
        raise ValueError(f"reward must be in [0, 1], got {reward}.")
    k = picked_q.shape[0]
    y_hat = (picked_advice * (reward / picked_q)).sum(axis=1) / max(k, 1)
    updated: np.ndarray = log_weights + learning_rate * (y_hat + v_hat * bonus)
    return updated


def importance_weighted_accuracy(correct: np.ndarray, weights: np.ndarray, n_candidates: np.ndarray) -> float:
    """IW-ACC: ``(1/m) Σ_τ W_τ · correct_τ / n_τ`` over the ``m`` picks so far.

    ``W_τ = 1 / π_τ(j_τ)`` is the inverse probability with which pick ``τ`` was drawn from
    ``n_τ`` candidates, so each term is an unbiased estimate of the current model's accuracy on
    that pick's candidate set (Hsu & Lin 2015 divide by the constant ``n·T`` instead; this
    normalisation keeps the reward an accuracy estimate whatever the pool size and horizon).

    Example:
        >>> importance_weighted_accuracy(np.array([1, 0]), np.array([4.0, 2.0]), np.array([4, 4]))
        0.5
    """
    if len(correct) == 0:
        return 0.0
    return float(np.mean(np.asarray(weights, dtype=float) * np.asarray(correct, dtype=float) / n_candidates))


class ALBLStrategy(_OverStrategies):
    """Active Learning By Learning (Hsu & Lin, AAAI 2015): EXP4.P over base strategies.

    Batch version. Each round, expert ``i`` (a base strategy) advises the uniform distribution
    over its own batch of ``k`` items; EXP4.P mixes the advice by the expert weights plus a
    floor ``p_min = exploration / K`` on each of the ``K`` candidates, and ``k`` items are drawn
    one after another without replacement from that mixture (renormalised over the items not yet
    drawn; the draw probability gives each pick's importance weight). The reward of a round,
    observed in the next one once the model has been retrained, is the importance-weighted
    accuracy (:func:`importance_weighted_accuracy`) of the new model on every item ALBL has
    queried, clipped to ``[0, 1]``; the weight update is :func:`exp4p_update`.

    Args:
        arms: Base strategies (registry names or strategy objects).
        exploration: ``K · p_min`` in ``(0, 1)``: the probability mass spread uniformly over all candidates.
        delta: EXP4.P's confidence parameter δ.
        horizon: Expected number of rounds ``T`` (only enters the confidence bonus).
        learning_rate: η; ``None`` = EXP4.P's ``p_min / 2``. With thousands of candidates that
            is tiny, so over tens of rounds the weights barely move and ALBL behaves like the
            uniform mixture of its arms, as the theory prescribes; pass e.g. ``1.0`` to adapt faster.

    Needs the union of the arms' views plus ``probs`` on the labelled items (for the reward).
    Cost per round: every arm's ``select`` plus O(N·K + k log k) for the mixture and the draws.
    """

    def __init__(
        self,
        arms: Sequence[str | Strategy] = DEFAULT_ARMS,
        *,
        exploration: float = 0.1,
        delta: float = 0.1,
        horizon: int = 30,
        learning_rate: float | None = None,
        name: str = "albl",
    ) -> None:
        if not 0.0 < exploration < 1.0:
            raise ValueError(f"exploration must be in (0, 1), got {exploration}.")
        if not delta > 0:
            raise ValueError(f"delta must be > 0, got {delta}.")
        if not isinstance(horizon, (int, np.integer)) or horizon < 1:
            raise ValueError(f"horizon must be an int >= 1 (expected number of rounds), got {horizon!r}.")
        if learning_rate is not None and not learning_rate > 0:
            raise ValueError(f"learning_rate must be > 0 or None (EXP4.P's p_min / 2), got {learning_rate}.")
        self.name = name
        self.exploration = float(exploration)
        self.delta = float(delta)
        self.horizon = int(horizon)
        self.learning_rate = learning_rate
        self._init_arms(arms, ("probs",), True)
        self.reset()

    def reset(self) -> None:
        """Forget everything learned (uniform weights, no history)."""
        self.log_weights_ = np.zeros(len(self.arms))
        self.queried_: list[int] = []
        self.importance_: list[float] = []
        self.n_candidates_: list[int] = []
        self.rewards_: list[float] = []
        self._pending: dict[str, Any] | None = None

    @property
    def weights_(self) -> np.ndarray:
        """Normalised expert weights ``(N,)``."""
        w = np.exp(self.log_weights_ - self.log_weights_.max())
        weights: np.ndarray = w / w.sum()
        return weights

    # ---------------------------------------------------------------------------- reward
    def _reward(self, views: Views, pool: Pool) -> float:
        idx = np.asarray(self.queried_, dtype=np.int64)
        labels = pool.labels[idx]
        known = labels >= 0  # skipped items have no label to check against
        probs = views.require("probs")
        pos = np.searchsorted(views.indices, idx)
        ok = pos < len(views.indices)
        ok[ok] = views.indices[pos[ok]] == idx[ok]
        if not ok[known].all():
            raise ActiveLabError(
                f"strategy {self.name!r} needs predictions on the items it queried before; compute the views "
                "with needs_labelled=True (the ActiveLearner does), or call reset() for a new run."
            )
        correct = probs[pos[known]].argmax(axis=1) == labels[known]
        acc = importance_weighted_accuracy(
            correct, np.asarray(self.importance_)[known], np.asarray(self.n_candidates_)[known]
        )
        return min(1.0, max(0.0, acc))

    def _check_run(self, pool: Pool) -> None:
        """Validate the state against ``pool``; forget a pending round that was never labelled."""
        if self._pending is not None:
            pending = np.asarray(self._pending["picked"], dtype=np.int64)
            if _never_answered(pending, pool):  # select() asked again for the same round: redo it
                n = self._pending["n_before"]
                del self.queried_[n:], self.importance_[n:], self.n_candidates_[n:]
                self._pending = None
        if self.queried_ and not _all_answered(np.asarray(self.queried_, dtype=np.int64), pool):
            raise ActiveLabError(
                f"strategy {self.name!r} holds the state of another run (items it queried are not labelled in "
                "this pool); build a fresh strategy per run with strategies.make(...) or call reset()."
            )

    # ---------------------------------------------------------------------------- select
    def select(self, views: Views, pool: Pool, k: int, rng: np.random.Generator) -> np.ndarray:
        """``k`` items drawn from the EXP4.P mixture of the arms' proposals (after last round's update)."""
        rows = candidate_rows(views, k)
        self._check_run(pool)
        if self._pending is not None:
            reward = self._reward(views, pool)
            p = self._pending
            self.log_weights_ = exp4p_update(
                self.log_weights_, np.asarray(p["picked_advice"]), np.asarray(p["picked_q"]), np.asarray(p["v_hat"]),
                reward, p["learning_rate"], p["bonus"],
            )
            self.rewards_.append(reward)
            self._pending = None
        if k == 0:
            return np.empty(0, dtype=np.int64)
        n_cand = len(rows)
        rngs = rng.spawn(len(self.arms) + 1)
        proposals = self._proposals(views, pool, k, rngs[:-1])
        cand_idx = views.indices[rows]
        advice = np.zeros((len(self.arms), n_cand))
        for i, chosen in enumerate(proposals):
            advice[i, np.searchsorted(cand_idx, chosen)] = 1.0 / k
        p_min = self.exploration / n_cand
        q = exp4p_distribution(self.log_weights_, advice, p_min)
        # k sequential draws without replacement, each from q renormalised over the items not yet
        # drawn, done at once with the Gumbel-top-k trick (same distribution, O(K + k log k)).
        keys = np.log(q) + rngs[-1].gumbel(size=n_cand)
        top = np.argpartition(-keys, k - 1)[:k] if k < n_cand else np.arange(n_cand)
        picked_cols = top[np.argsort(-keys[top], kind="stable")]
        mass_left = 1.0 - np.concatenate([[0.0], np.cumsum(q[picked_cols])[:-1]])
        self.importance_.extend((mass_left / q[picked_cols]).tolist())
        self.n_candidates_.extend(range(n_cand, n_cand - k, -1))
        picked: np.ndarray = cand_idx[picked_cols]
        self.queried_.extend(int(i) for i in picked)
        eta = self.learning_rate if self.learning_rate is not None else p_min / 2
        self._pending = {
            "picked": picked.tolist(),
            "n_before": len(self.queried_) - k,
            "picked_q": q[picked_cols].tolist(),
            "picked_advice": advice[:, picked_cols].tolist(),
            "v_hat": (advice / q).sum(axis=1).tolist(),
            "learning_rate": float(eta),
            "bonus": math.sqrt(math.log(len(self.arms) / self.delta) / (n_cand * self.horizon)),
        }
        return picked

    # ----------------------------------------------------------------------- persistence
    def state_dict(self) -> dict[str, Any]:
        """Everything learned so far (JSON-friendly)."""
        return {
            "arms": list(self.arm_names),
            "log_weights": self.log_weights_.tolist(),
            "queried": list(self.queried_),
            "importance": list(self.importance_),
            "n_candidates": list(self.n_candidates_),
            "rewards": list(self.rewards_),
            "pending": self._pending,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output (the arms must match)."""
        if list(state["arms"]) != self.arm_names:
            raise ValueError(f"state is for arms {state['arms']}, this strategy has {self.arm_names}.")
        self.log_weights_ = np.asarray(state["log_weights"], dtype=float)
        self.queried_ = [int(i) for i in state["queried"]]
        self.importance_ = [float(w) for w in state["importance"]]
        self.n_candidates_ = [int(n) for n in state["n_candidates"]]
        self.rewards_ = [float(r) for r in state["rewards"]]
        self._pending = state["pending"]

    def __repr__(self) -> str:
        return f"ALBLStrategy(arms={self.arm_names}, exploration={self.exploration}, learning_rate={self.learning_rate})"


# --------------------------------------------------------------------------------- TAILOR
def thompson_choose(
    alpha: np.ndarray, beta: np.ndarray, class_weights: np.ndarray, available: np.ndarray, rng: np.random.Generator
) -> int:
    """One multi-dimensional Thompson-sampling decision (TAILOR, Zhang et al. 2023).

    Draws ``θ_{i,c} ~ Beta(α_{i,c}, β_{i,c})`` (the chance that arm ``i``'s next pick has class
    ``c``) and returns the available arm maximising ``Σ_c w_c θ_{i,c}``.

    Args:
        alpha, beta: ``(N, C)`` Beta parameters.
        class_weights: ``(C,)`` reward weights ``w``.
        available: ``(N,)`` bool; arms that may be chosen.
        rng: Source of the draws.

    Cost: O(N·C).
    """
    theta = rng.beta(alpha, beta)
    value = theta @ class_weights
    value[~available] = -np.inf
    return int(np.argmax(value))


def beta_update(alpha: np.ndarray, beta: np.ndarray, arm: int, label: int) -> None:
    """Posterior update after arm ``arm``'s pick got ``label``: ``α[arm, label] += 1``, ``β[arm, c≠label] += 1`` (in place)."""
    alpha[arm, label] += 1.0
    beta[arm] += 1.0
    beta[arm, label] -= 1.0


class TailorStrategy(_OverStrategies):
    """TAILOR (Zhang, Shao, Verma & Nowak, NeurIPS 2023): Thompson sampling over base strategies.

    Each arm (base strategy) keeps Beta posteriors, one per class, of the probability that an
    item it proposes has that class (prior Beta(1, 1)). Each of the ``k`` picks of a round draws
    from the posteriors (:func:`thompson_choose`) and takes the chosen arm's next proposal not
    yet picked. The reward is TAILOR's **class-balancing** reward: a pick of class ``c`` is worth
    ``w_c = 1 / max(1, n_c)``, with ``n_c`` the labelled items of class ``c`` before the round, so
    arms that find rare classes are preferred. The posteriors are updated in the next round,
    from the labels the oracle gave (skipped items are ignored).

    Args:
        arms: Base strategies (registry names or strategy objects).

    Needs the union of the arms' views. Cost per round: every arm's ``select`` plus O(k·N·C).
    """

    def __init__(self, arms: Sequence[str | Strategy] = DEFAULT_ARMS, *, name: str = "tailor") -> None:
        self.name = name
        self._init_arms(arms, (), False)
        self.reset()

    def reset(self) -> None:
        """Forget everything learned (prior posteriors)."""
        self.alpha_ = np.ones((len(self.arms), 0))
        self.beta_ = np.ones((len(self.arms), 0))
        self.pulls_ = np.zeros(len(self.arms), dtype=np.int64)
        self.picked_: list[int] = []  # every item picked in earlier (answered) rounds
        self._pending: dict[str, list[int]] | None = None

    def _ensure_classes(self, n_classes: int) -> None:
        have = self.alpha_.shape[1]
        if n_classes > have:
            extra = n_classes - have
            self.alpha_ = np.hstack([self.alpha_, np.ones((len(self.arms), extra))])
            # earlier labelled pulls were all "not this class"
            self.beta_ = np.hstack([self.beta_, 1.0 + np.repeat(self.pulls_[:, None], extra, axis=1).astype(float)])

    def select(self, views: Views, pool: Pool, k: int, rng: np.random.Generator) -> np.ndarray:
        """``k`` items, each from the arm a Thompson draw prefers."""
        candidate_rows(views, k)
        labels_seen = pool.labels[pool.labelled_mask]
        n_classes = max(int(pool.n_classes or 0), int(labels_seen.max()) + 1 if len(labels_seen) else 0, 1)
        self._ensure_classes(n_classes)
        if self._pending is not None:
            idx = np.asarray(self._pending["picked"], dtype=np.int64)
            if _never_answered(idx, pool):  # select() asked again for the same round: redo it
                self._pending = None
        done = np.asarray(self.picked_ + (self._pending["picked"] if self._pending else []), dtype=np.int64)
        if len(done) and not _all_answered(done, pool):
            raise ActiveLabError(
                f"strategy {self.name!r} holds the state of another run (items it picked are not labelled in "
                "this pool); build a fresh strategy per run with strategies.make(...) or call reset()."
            )
        if self._pending is not None:
            for i, arm in zip(idx, self._pending["arms"], strict=True):
                y = int(pool.labels[i])
                if y >= 0:
                    beta_update(self.alpha_, self.beta_, arm, y)
                    self.pulls_[arm] += 1
            self.picked_.extend(int(i) for i in idx)
            self._pending = None
        if k == 0:
            return np.empty(0, dtype=np.int64)
        counts = np.bincount(labels_seen, minlength=n_classes)[:n_classes]
        class_weights = 1.0 / np.maximum(1, counts)
        rngs = rng.spawn(len(self.arms) + 1)
        proposals = self._proposals(views, pool, k, rngs[:-1])
        own = rngs[-1]
        cursor = np.zeros(len(self.arms), dtype=np.int64)
        taken: set[int] = set()
        picked, picked_arms = [], []
        for _ in range(k):
            for i, prop in enumerate(proposals):  # skip items another arm already took
                while cursor[i] < k and int(prop[cursor[i]]) in taken:
                    cursor[i] += 1
            available = cursor < k
            arm = thompson_choose(self.alpha_, self.beta_, class_weights, available, own)
            item = int(proposals[arm][cursor[arm]])
            cursor[arm] += 1
            taken.add(item)
            picked.append(item)
            picked_arms.append(arm)
        self._pending = {"picked": picked, "arms": picked_arms}
        return np.asarray(picked, dtype=np.int64)

    def state_dict(self) -> dict[str, Any]:
        """Posteriors, pull counts and the pending round (JSON-friendly)."""
        return {
            "arms": list(self.arm_names),
            "alpha": self.alpha_.tolist(),
            "beta": self.beta_.tolist(),
            "pulls": self.pulls_.tolist(),
            "picked": list(self.picked_),
            "pending": self._pending,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output (the arms must match)."""
        if list(state["arms"]) != self.arm_names:
            raise ValueError(f"state is for arms {state['arms']}, this strategy has {self.arm_names}.")
        n = len(self.arms)
        self.alpha_ = np.asarray(state["alpha"], dtype=float).reshape(n, -1)
        self.beta_ = np.asarray(state["beta"], dtype=float).reshape(n, -1)
        self.pulls_ = np.asarray(state["pulls"], dtype=np.int64)
        self.picked_ = [int(i) for i in state["picked"]]
        self._pending = state["pending"]

    def __repr__(self) -> str:
        return f"TailorStrategy(arms={self.arm_names})"
