"""Learning-curve metrics and the per-(dataset, strategy, model) summary of a results table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["KEYS", "chunked_accuracy", "learning_curve_auc", "summarise"]

#: Columns that identify one learning curve's group (one row of the summary).
KEYS = ("dataset", "strategy", "model")
_REQUIRED = (*KEYS, "seed", "round", "accuracy")
#: Columns of the summary table, in order.
SUMMARY_COLUMNS = (
    *KEYS,
    "auc_mean",
    "auc_std",
    "final_accuracy_mean",
    "final_accuracy_std",
    "n_seeds",
    "labels_mean",
    "n_stopped_early",
    "stop_reasons",
    "seconds_per_round",
)


def chunked_accuracy(model: Any, X: np.ndarray, y: np.ndarray, chunk_size: int = 8192) -> dict[str, float]:
    """``{"accuracy": ...}`` of ``model.predict_proba`` on ``(X, y)``, predicted in chunks of rows.

    The evaluation of every ``activelab run`` round. Cost: one prediction pass over ``X``;
    memory O(chunk_size · C).
    """
    correct = 0
    for start in range(0, len(X), chunk_size):
        probs = model.predict_proba(X[start : start + chunk_size])
        correct += int((np.argmax(probs, axis=1) == y[start : start + chunk_size]).sum())
    return {"accuracy": correct / len(X)}


def learning_curve_auc(acc: Sequence[float] | np.ndarray) -> float:
    """Normalised area under one learning curve: the mean accuracy over its rounds.

    Every round counts once (the rounds are equally spaced in labels, except possibly a
    smaller last query), so the result lies in the same range as the accuracies.

    Args:
        acc: Test accuracy of each round, shape ``(n_rounds,)``, in round order.

    Returns:
        The mean of ``acc``.

    Raises:
        ValueError: If ``acc`` is not 1-D, is empty, or holds NaN/inf.

    Example:
        >>> round(learning_curve_auc([0.5, 0.7, 0.9]), 6)
        0.7
    """
    arr = np.asarray(acc, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"acc must be 1-D (one accuracy per round), got shape {arr.shape}.")
    if arr.size == 0:
        raise ValueError("acc is empty; a learning curve needs at least one round.")
    if not np.isfinite(arr).all():
        raise ValueError(
            f"acc holds {int((~np.isfinite(arr)).sum())} NaN/inf values; every round needs an accuracy."
        )
    return float(arr.mean())


def _std(values: np.ndarray) -> float:
    """Sample standard deviation (ddof=1); 0 for a single value."""
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def _stop_criteria(reason: object) -> list[str]:
    """The criteria that ended a run early (``"a: why; b: why"`` -> ``["a", "b"]``); ``[]`` for the budget."""
    if not isinstance(reason, str) or not reason.strip() or reason.startswith("budget"):
        return []
    return [part.split(":", 1)[0].strip() for part in reason.split(";") if part.strip()]


def summarise(rounds: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, strategy, model): AUC and final accuracy, mean and std over seeds.

    Args:
        rounds: The tidy results, one row per (dataset, strategy, model, seed, round), with at
            least the columns ``dataset, strategy, model, seed, round, accuracy``. Columns named
            ``seconds_*`` (wall time of each phase of a round) are summed per round.

    Returns:
        Columns ``dataset, strategy, model, auc_mean, auc_std, final_accuracy_mean,
        final_accuracy_std, n_seeds, labels_mean, n_stopped_early, stop_reasons,
        seconds_per_round``, groups in order of first appearance.
        ``auc`` is :func:`learning_curve_auc` of one seed's curve, ``final_accuracy`` the
        accuracy of its last round; std uses ``ddof=1`` (0 with a single seed).
        ``labels_mean`` is the mean over seeds of the labels reached (the last round's
        ``n_labelled``; NaN without that column). ``n_stopped_early`` counts the seeds that a
        stopping criterion ended before the budget (the last round's ``stop_reason`` names a
        criterion, not the budget) and ``stop_reasons`` names those criteria with their counts,
        e.g. ``"accuracy_plateau: 2"`` (empty when none).
        ``seconds_per_round`` is the mean over all rounds of the summed ``seconds_*`` columns
        (NaN if there are none).

    Raises:
        ValueError: If a required column is missing or the table is empty.

    Example:
        >>> df = pd.DataFrame({"dataset": "d", "strategy": "s", "model": "m",
        ...                    "seed": [0, 0, 1, 1], "round": [0, 1, 0, 1],
        ...                    "accuracy": [0.5, 0.7, 0.6, 0.8]})
        >>> summarise(df)[["auc_mean", "final_accuracy_mean", "n_seeds"]].round(3).to_dict("records")
        [{'auc_mean': 0.65, 'final_accuracy_mean': 0.75, 'n_seeds': 2}]
    """
    if not isinstance(rounds, pd.DataFrame):
        raise TypeError(f"rounds must be a pandas DataFrame, got {type(rounds).__name__}.")
    missing = [c for c in _REQUIRED if c not in rounds.columns]
    if missing:
        raise ValueError(
            f"rounds is missing the columns {missing}; it needs {list(_REQUIRED)} "
            "(the rounds.csv written by run_experiments has them)."
        )
    if rounds.empty:
        raise ValueError("rounds is empty; there is nothing to summarise.")
    seconds_cols = [c for c in rounds.columns if c.startswith("seconds_")]
    rows = []
    for key, group in rounds.groupby(list(KEYS), sort=False):
        aucs, finals, reached = [], [], []
        stopped: dict[str, int] = {}
        n_early = 0
        for _, curve in group.groupby("seed", sort=True):
            curve = curve.sort_values("round")
            acc = curve["accuracy"].to_numpy(dtype=np.float64)
            aucs.append(learning_curve_auc(acc))
            finals.append(float(acc[-1]))
            reached.append(float(curve["n_labelled"].iloc[-1]) if "n_labelled" in curve else np.nan)
            criteria = _stop_criteria(curve["stop_reason"].iloc[-1]) if "stop_reason" in curve else []
            n_early += bool(criteria)
            for c in criteria:
                stopped[c] = stopped.get(c, 0) + 1
        per_round = group[seconds_cols].sum(axis=1).mean() if seconds_cols else np.nan
        rows.append({
            **dict(zip(KEYS, key, strict=True)),
            "auc_mean": float(np.mean(aucs)),
            "auc_std": _std(np.asarray(aucs)),
            "final_accuracy_mean": float(np.mean(finals)),
            "final_accuracy_std": _std(np.asarray(finals)),
            "n_seeds": len(aucs),
            "labels_mean": float(np.mean(reached)),
            "n_stopped_early": n_early,
            "stop_reasons": ", ".join(f"{c}: {n}" for c, n in stopped.items()),
            "seconds_per_round": float(per_round),
        })
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
