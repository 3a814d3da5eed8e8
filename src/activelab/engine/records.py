"""Round records, the history of a run, and the callback hooks of every driver."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["COUNT_UNITS", "Callback", "History", "RoundRecord"]

#: What a record's ``count`` counts: labelled items (supervised) or stored pair answers (clustering).
COUNT_UNITS = ("n_labelled", "n_queries")


@dataclass(frozen=True)
class RoundRecord:
    """What happened in one round: one model (or clustering) and the queries it chose.

    Attributes:
        round_: Round number (0 = the model of the initial set).
        count: Size of the label store this round's model was built from, in ``unit``: labelled
            items (plus any hold-out a stopping criterion keeps out of training; they count
            against the budget) or stored pair answers.
        queried: Absolute indices asked at the end of the round, ``(k,)`` items or ``(k, 2)``
            pairs (empty in the last round).
        metrics: Evaluation results, e.g. ``{"accuracy": 0.93}``.
        seconds: Wall time per phase, e.g. ``fit``, ``evaluate``, ``infer``, ``select``, ``label``.
        stop_reason: Why the run ended after this round (``"<criterion>: <reason>"``), or None.
        unit: ``"n_labelled"`` (the default) or ``"n_queries"``; the record's count is read as
            the attribute of that name and written as the column of that name.

    Example:
        >>> r = RoundRecord(0, 20, np.array([3, 7]), {"accuracy": 0.5}, {"fit": 0.1})
        >>> r.n_labelled, r.to_dict()["n_labelled"]
        (20, 20)
    """

    round_: int
    count: int
    queried: np.ndarray
    metrics: Mapping[str, float]
    seconds: Mapping[str, float]
    stop_reason: str | None = None
    unit: str = field(default="n_labelled", kw_only=True)

    def __post_init__(self) -> None:
        if self.unit not in COUNT_UNITS:
            raise ValueError(f"unit must be one of {COUNT_UNITS}, got {self.unit!r}.")

    @property
    def n_labelled(self) -> int:
        """Labelled items of a supervised round (an error on a record of pair answers)."""
        if self.unit != "n_labelled":
            raise AttributeError(f"this record counts {self.unit!r}, not labelled items; read .count or .{self.unit}.")
        return self.count

    @property
    def n_queries(self) -> int:
        """Stored pair answers of a clustering round (an error on a supervised record)."""
        if self.unit != "n_queries":
            raise AttributeError(f"this record counts {self.unit!r}, not pair answers; read .count or .{self.unit}.")
        return self.count

    def to_dict(self, *, queried: bool = True) -> dict[str, Any]:
        """JSON-friendly form (the count under its unit's name).

        ``queried=False`` leaves out the queried items or pairs, for a caller that stores them
        as an array (:meth:`from_dict` then needs them under ``"queried"`` again).
        """
        out: dict[str, Any] = {"round": self.round_, self.unit: self.count}
        if queried:
            out["queried"] = np.asarray(self.queried).astype(np.int64).tolist()
        out.update({
            "metrics": {k: float(v) for k, v in self.metrics.items()},
            "seconds": {k: float(v) for k, v in self.seconds.items()},
            "stop_reason": self.stop_reason,
        })
        return out

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> RoundRecord:
        """Inverse of :meth:`to_dict`."""
        unit = next((u for u in COUNT_UNITS if u in d), None)
        if unit is None:
            raise KeyError(f"a round record needs one of {COUNT_UNITS}; got the keys {sorted(d)}.")
        queried = np.asarray(d["queried"], dtype=np.int64)
        if unit == "n_queries":
            queried = queried.reshape(-1, 2)
        return cls(int(d["round"]), int(d[unit]), queried, dict(d["metrics"]), dict(d["seconds"]),
                   d.get("stop_reason"), unit=unit)


class History(list[RoundRecord]):
    """A list of :class:`RoundRecord`, with column access and tidy rows.

    Example:
        >>> h = History([RoundRecord(0, 10, np.array([1]), {"accuracy": 0.5}, {}),
        ...              RoundRecord(1, 11, np.array([], dtype=int), {"accuracy": 0.7}, {})])
        >>> h.column("n_labelled").tolist(), round(h.auc(), 2)
        ([10, 11], 0.6)
    """

    def column(self, key: str) -> np.ndarray:
        """A metric, or the count (``n_labelled`` / ``n_queries``), across rounds."""
        if key in COUNT_UNITS:
            return np.array([r.count for r in self], dtype=np.int64)
        return np.array([r.metrics.get(key, np.nan) for r in self], dtype=float)

    def to_rows(self) -> list[dict[str, Any]]:
        """One flat dict per round: ``round, <unit>, <metrics>, seconds_<phase>``."""
        rows = []
        for r in self:
            row: dict[str, Any] = {"round": r.round_, r.unit: r.count}
            row.update(r.metrics)
            row.update({f"seconds_{k}": v for k, v in r.seconds.items()})
            rows.append(row)
        return rows

    @property
    def stop_reason(self) -> str | None:
        """Why the run ended (the last round's ``stop_reason``), or None if it has not."""
        return self[-1].stop_reason if self else None

    def auc(self, key: str = "accuracy") -> float:
        """Normalised area under the learning curve: the mean of ``key`` over the rounds."""
        return float(np.mean(self.column(key)))


class Callback:
    """Hooks called by a driver (:class:`~activelab.loop.ActiveLearner`,
    :class:`~activelab.clustering.ActiveClusterer`); all are no-ops, override what you need.

    Each hook receives the driver. ``on_round_end`` may return ``False`` to stop the run early.
    """

    def on_run_start(self, learner: Any) -> None:
        """Before the first round of ``run()``."""

    def on_round_start(self, learner: Any, round_: int) -> None:
        """Before fitting in ``round_``."""

    def on_round_end(self, learner: Any, record: RoundRecord) -> bool | None:
        """After a round's answers are stored (and checkpointed)."""
        return None

    def on_run_end(self, learner: Any) -> None:
        """After the last round."""
