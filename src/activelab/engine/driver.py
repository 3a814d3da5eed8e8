"""``RoundLoop``: what every round-based driver shares: ``run()``, callbacks, checkpoint and resume."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .checkpoint import CHECKPOINT_FILE
from .records import Callback, History, RoundRecord

__all__ = ["RoundLoop"]


class RoundLoop:
    """Base of the drivers that run rounds until a budget is spent.

    A subclass provides :meth:`step` (one round; it ends by calling :meth:`_end_round`),
    ``history``, :meth:`save_checkpoint` and :meth:`load_checkpoint`. This class runs the
    rounds, calls the :class:`~activelab.engine.records.Callback` hooks with the driver, saves a
    checkpoint after every round when ``checkpoint_dir`` is set, and resumes from it.
    """

    if TYPE_CHECKING:  # a subclass provides it: an attribute, or a read-only property

        @property
        def history(self) -> History:
            """One record per finished round."""
            ...

    callbacks: list[Callback]
    checkpoint_dir: Path | None
    _stopped: bool = False

    def _init_loop(self, callbacks: Any, checkpoint_dir: str | os.PathLike[str] | None) -> None:
        callbacks = list(callbacks)
        for cb in callbacks:
            if not isinstance(cb, Callback) and not callable(getattr(cb, "on_round_end", None)):
                raise TypeError(f"callbacks must be Callback objects (activelab.engine.Callback), got {cb!r}.")
        self.callbacks = callbacks
        if checkpoint_dir is not None:
            path = Path(checkpoint_dir).expanduser()
            if path.exists() and not path.is_dir():
                raise ValueError(f"checkpoint_dir {path} exists and is not a directory; pass a directory.")
            self.checkpoint_dir: Path | None = path
        else:
            self.checkpoint_dir = None
        self._stopped = False

    @property
    def done(self) -> bool:
        """True once the budget is spent and its last model (or clustering) is evaluated."""
        return bool(self.history) and not len(self.history[-1].queried)

    def step(self) -> RoundRecord:
        """Run one round."""
        raise NotImplementedError

    def save_checkpoint(self, directory: str | os.PathLike[str]) -> Path:
        """Write the whole state atomically to ``directory/checkpoint.npz``."""
        raise NotImplementedError

    def load_checkpoint(self, directory: str | os.PathLike[str]) -> None:
        """Restore :meth:`save_checkpoint`."""
        raise NotImplementedError

    def _start_round(self, round_: int) -> None:
        for cb in self.callbacks:
            cb.on_round_start(self, round_)

    def _end_round(self, record: RoundRecord) -> None:
        """After ``record`` is in the history: checkpoint, then the ``on_round_end`` hooks."""
        if self.checkpoint_dir is not None:
            self.save_checkpoint(self.checkpoint_dir)
        for cb in self.callbacks:
            if cb.on_round_end(self, record) is False:
                self._stopped = True

    def run(self) -> History:
        """Run rounds until the budget is spent (or a callback stops the run).

        Resumes from ``checkpoint_dir`` when it holds a checkpoint of this run.
        """
        if self.checkpoint_dir is not None and (self.checkpoint_dir / CHECKPOINT_FILE).exists() and not self.history:
            self.load_checkpoint(self.checkpoint_dir)
        self._stopped = False
        for cb in self.callbacks:
            cb.on_run_start(self)
        while not self.done and not self._stopped:
            self.step()
        for cb in self.callbacks:
            cb.on_run_end(self)
        return self.history
