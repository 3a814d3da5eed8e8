"""The label store: index bookkeeping only; the data stay where they are."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import CheckpointError

__all__ = ["LabelEvent", "Pool"]


@dataclass(frozen=True)
class LabelEvent:
    """One entry of the append-only event log."""

    round_: int
    index: int
    label: int  # -1 for a skip
    source: str
    time: float


class Pool:
    """Which items of a pool of ``n_items`` are labelled, with which label, and when.

    Indices are absolute (0..n_items-1) and never remapped. State is four arrays of
    length ``n_items`` plus an append-only event log; adding a label is O(1) per item and
    no copy of the data is ever made.

    Attributes:
        label_round: ``(n_items,)`` int; -1 = unlabelled, else the round it was labelled in.
        labels: ``(n_items,)`` int; -1 where unknown.
        skipped: ``(n_items,)`` bool; the oracle declined, so the item is never offered again.
        pending: ``(n_items,)`` bool; proposed and not yet answered (see
            :meth:`~activelab.engine.Engine.propose`): not offered again until answered or released.

    Example:
        >>> pool = Pool(5, n_classes=2)
        >>> pool.add_labels([3, 1], [0, 1], round_=0)
        >>> pool.labelled_indices().tolist(), pool.unlabelled_indices().tolist()
        ([1, 3], [0, 2, 4])
    """

    def __init__(self, n_items: int, n_classes: int | None = None) -> None:
        if not isinstance(n_items, (int, np.integer)) or n_items <= 0:
            raise ValueError(f"n_items must be a positive int, got {n_items!r}.")
        self.n_items = int(n_items)
        self.n_classes = None if n_classes is None else int(n_classes)
        self.label_round = np.full(self.n_items, -1, dtype=np.int64)
        self.labels = np.full(self.n_items, -1, dtype=np.int64)
        self.skipped = np.zeros(self.n_items, dtype=bool)
        self.pending = np.zeros(self.n_items, dtype=bool)
        self.events: list[LabelEvent] = []

    # ----------------------------------------------------------------------------- queries
    @property
    def labelled_mask(self) -> np.ndarray:
        """Boolean mask of labelled items."""
        return self.label_round >= 0

    @property
    def unlabelled_mask(self) -> np.ndarray:
        """Boolean mask of items that may still be queried (not labelled, skipped or pending)."""
        return (self.label_round < 0) & ~self.skipped & ~self.pending

    @property
    def n_labelled(self) -> int:
        """Number of labelled items."""
        return int((self.label_round >= 0).sum())

    @property
    def n_unlabelled(self) -> int:
        """Number of items that may still be queried."""
        return int(self.unlabelled_mask.sum())

    @property
    def n_pending(self) -> int:
        """Number of items proposed and not yet answered."""
        return int(self.pending.sum())

    def labelled_indices(self) -> np.ndarray:
        """Absolute indices of labelled items, ascending."""
        return np.flatnonzero(self.label_round >= 0)

    def unlabelled_indices(self) -> np.ndarray:
        """Absolute indices of items that may still be queried, ascending."""
        return np.flatnonzero(self.unlabelled_mask)

    def labelled_in_round(self, round_: int) -> np.ndarray:
        """Absolute indices labelled in ``round_``."""
        return np.flatnonzero(self.label_round == round_)

    # ----------------------------------------------------------------------------- updates
    def _check_indices(self, indices: Any) -> np.ndarray:
        idx = np.asarray(indices)
        if idx.ndim != 1:
            raise ValueError(f"indices must be 1-D, got shape {idx.shape}.")
        if idx.size == 0:
            return idx.astype(np.int64)
        if not np.issubdtype(idx.dtype, np.integer):
            raise TypeError(f"indices must be integers (absolute pool indices), got dtype {idx.dtype}.")
        if idx.min() < 0 or idx.max() >= self.n_items:
            bad = idx[(idx < 0) | (idx >= self.n_items)][0]
            raise IndexError(f"index {bad} is outside the pool [0, {self.n_items}).")
        if len(np.unique(idx)) != len(idx):
            raise ValueError("indices contain duplicates; each item can be labelled once per call.")
        return idx.astype(np.int64)

    def add_labels(self, indices: Any, labels: Any, *, round_: int, source: str = "oracle") -> None:
        """Record labels for unlabelled items (pending ones included; they stop being pending).

        Raises:
            ValueError: On duplicates, already labelled/skipped items, a length mismatch, or
                labels outside ``[0, n_classes)``. Nothing is changed when an error is raised.
        """
        idx = self._check_indices(indices)
        lab = np.asarray(labels)
        if lab.shape != idx.shape:
            raise ValueError(f"got {len(idx)} indices but labels of shape {lab.shape}.")
        if lab.size and not np.issubdtype(lab.dtype, np.integer):
            raise TypeError(f"labels must be integer class ids, got dtype {lab.dtype}.")
        if lab.size and (lab.min() < 0 or (self.n_classes is not None and lab.max() >= self.n_classes)):
            bad = lab[(lab < 0) | (lab >= (self.n_classes or np.iinfo(np.int64).max))][0]
            raise ValueError(
                f"label {bad} is outside the classes [0, {self.n_classes}); "
                "labels must be class ids 0..n_classes-1."
            )
        already = self.label_round[idx] >= 0
        if already.any():
            raise ValueError(f"item {idx[already][0]} is already labelled; a pool item is labelled once.")
        if self.skipped[idx].any():
            raise ValueError(f"item {idx[self.skipped[idx]][0]} was skipped by the oracle and cannot be labelled.")
        if round_ < 0:
            raise ValueError(f"round_ must be >= 0, got {round_}.")
        self.label_round[idx] = round_
        self.labels[idx] = lab
        self.pending[idx] = False
        now = time.time()
        self.events.extend(LabelEvent(round_, int(i), int(y), source, now) for i, y in zip(idx, lab, strict=True))

    def skip(self, indices: Any, *, round_: int, source: str = "oracle") -> None:
        """Mark unlabelled items as skipped (the oracle declined); they are never offered again."""
        idx = self._check_indices(indices)
        if (self.label_round[idx] >= 0).any():
            raise ValueError("cannot skip an item that is already labelled.")
        self.skipped[idx] = True
        self.pending[idx] = False
        now = time.time()
        self.events.extend(LabelEvent(round_, int(i), -1, source, now) for i in idx)

    def mark_pending(self, indices: Any) -> None:
        """Mark items as proposed and awaiting an answer; they are no longer offered.

        Raises:
            ValueError: If an item is not offerable (labelled, skipped or already pending).
        """
        idx = self._check_indices(indices)
        bad = ~self.unlabelled_mask[idx]
        if bad.any():
            raise ValueError(f"item {idx[bad][0]} cannot be proposed: it is labelled, skipped or already pending.")
        self.pending[idx] = True

    def release(self, indices: Any) -> None:
        """Offer pending items again (their answer will not come, e.g. a lease expired).

        Raises:
            ValueError: If an item is not pending.
        """
        idx = self._check_indices(indices)
        bad = ~self.pending[idx]
        if bad.any():
            raise ValueError(f"item {idx[bad][0]} is not pending; only proposed, unanswered items can be released.")
        self.pending[idx] = False

    # ------------------------------------------------------------------------- persistence
    def state_dict(self) -> dict[str, Any]:
        """Plain arrays and lists; :meth:`load_state_dict` restores the exact state."""
        ev = self.events
        return {
            "n_items": self.n_items,
            "n_classes": -1 if self.n_classes is None else self.n_classes,
            "label_round": self.label_round.copy(),
            "labels": self.labels.copy(),
            "skipped": self.skipped.copy(),
            "pending": self.pending.copy(),
            "event_round": np.array([e.round_ for e in ev], dtype=np.int64),
            "event_index": np.array([e.index for e in ev], dtype=np.int64),
            "event_label": np.array([e.label for e in ev], dtype=np.int64),
            "event_source": np.array([e.source for e in ev], dtype=str),
            "event_time": np.array([e.time for e in ev], dtype=np.float64),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore from :meth:`state_dict`; raises :class:`CheckpointError` if inconsistent."""
        try:
            n = int(state["n_items"])
            arrays = {k: np.asarray(state[k]) for k in ("label_round", "labels", "skipped")}
            events = [
                LabelEvent(int(r), int(i), int(y), str(s), float(t))
                for r, i, y, s, t in zip(
                    state["event_round"], state["event_index"], state["event_label"],
                    state["event_source"], state["event_time"], strict=True,
                )
            ]
        except (KeyError, TypeError, ValueError) as err:
            raise CheckpointError(f"pool state is incomplete or corrupt: {err}") from err
        if n != self.n_items or any(a.shape != (n,) for a in arrays.values()):
            raise CheckpointError(
                f"pool state is for {n} items with arrays of shapes "
                f"{[a.shape for a in arrays.values()]}, but this pool has {self.n_items} items."
            )
        pending = np.asarray(state.get("pending", np.zeros(n, dtype=bool)), dtype=bool)
        if pending.shape != (n,):
            raise CheckpointError(f"pool state has a pending mask of shape {pending.shape}, expected ({n},).")
        self.label_round = arrays["label_round"].astype(np.int64)
        self.labels = arrays["labels"].astype(np.int64)
        self.skipped = arrays["skipped"].astype(bool)
        self.pending = pending
        nc = int(state.get("n_classes", -1))
        self.n_classes = None if nc < 0 else nc
        self.events = events

    def copy(self) -> Pool:
        """An independent copy (three small arrays and the log)."""
        other = Pool(self.n_items, self.n_classes)
        other.label_round = self.label_round.copy()
        other.labels = self.labels.copy()
        other.skipped = self.skipped.copy()
        other.pending = self.pending.copy()
        other.events = list(self.events)
        return other

    def __repr__(self) -> str:
        return (
            f"Pool(n_items={self.n_items}, n_labelled={self.n_labelled}, n_skipped={int(self.skipped.sum())}, "
            f"n_pending={self.n_pending})"
        )
