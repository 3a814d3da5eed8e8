"""The trainer process of a served labelling project (``python -m activelab.label.worker DIR``).

The server starts it and restarts it if it dies; it ends by itself when the server does (kill -9
included). It polls the store and calls :func:`~activelab.label.trainer.refresh` when
``retrain_answers`` new answers arrived, when ``retrain_seconds`` passed since the first answer
its model has not seen, or when the queue runs short while items are left to propose. It trains on
one thread at a lower priority, so requests keep their core.
"""

from __future__ import annotations

import logging
import os
import sys
import time
import traceback
from pathlib import Path

from ..experiments.grid import die_with_parent
from .project import Project
from .trainer import refresh

__all__ = ["main", "run_worker"]

log = logging.getLogger(__name__)


def _yield_to_the_server() -> None:
    """Train on one thread at a lower priority, so requests keep their core while the model refits."""
    import torch

    torch.set_num_threads(1)
    try:
        os.nice(10)
    except OSError:
        pass  # not permitted here: the trainer then shares the cores evenly


def run_worker(directory: str | os.PathLike[str], *, poll_seconds: float = 0.25, max_refreshes: int | None = None) -> None:
    """Serve one project's training until the parent process ends (or ``max_refreshes``, for tests).

    Errors inside a refresh are logged with their traceback to ``DIR/worker.log`` and retried at
    the next trigger; the process itself keeps going.
    """
    path = Path(directory)
    logging.basicConfig(
        filename=str(path / "worker.log"), level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
    )
    project = Project.open(path)
    cfg, store = project.config, project.store
    seen = int(store.last_seq())
    latest = store.latest_model()
    if latest is not None:
        seen = int(latest.get("info", {}).get("last_seq", seen))
    first_unseen: float | None = None
    last_refresh = time.monotonic()
    refreshes = 0
    while max_refreshes is None or refreshes < max_refreshes:
        try:
            last = int(store.last_seq())
            new = store.answers_since(seen)
            if new and first_unseen is None:
                first_unseen = time.monotonic()
            free = store.free_queue_size()
            n_offer = store.n_items * (store.n_items - 1) // 2 if cfg.task == "pairs" else store.n_items
            offerable = n_offer - store.answer_count() - len(store.leased_items())
            short = free < max(1, cfg.batch // 2) and offerable > free and time.monotonic() - last_refresh > 5.0
            due = (
                new >= cfg.retrain_answers
                or (new and first_unseen is not None and time.monotonic() - first_unseen >= cfg.retrain_seconds)
                or short
            )
            if due:
                refresh(project)
                seen, first_unseen, last_refresh = last, None, time.monotonic()
                refreshes += 1
        except Exception:  # noqa: BLE001  (the trainer must outlive one bad refresh; it is logged in full)
            log.error("refresh failed:\n%s", traceback.format_exc())
            time.sleep(2.0)
        time.sleep(poll_seconds)


def main(argv: list[str] | None = None) -> None:
    """``python -m activelab.label.worker DIR``: the process the server starts."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        raise SystemExit("usage: python -m activelab.label.worker PROJECT_DIR")
    die_with_parent(os.getppid())
    _yield_to_the_server()
    run_worker(args[0])


if __name__ == "__main__":
    main()
