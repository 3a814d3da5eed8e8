"""``select_pool``: choose ``k`` items of a sharded pool, in this process or on Ray.

Strategies: the score-and-top-k ones (``margin``, ``entropy``, ``least_confidence``: the
functions of :mod:`activelab.acquisition`, higher = ask first, ties broken by the smaller id),
greedy ``kcenter`` (on the model's embeddings, or on the pool's features without a model) and
``badge``. The ``local`` backend is the reference: top-k streams shard by shard; k-center and
BADGE call :func:`~activelab.selection.kcenter_greedy` and :func:`~activelab.selection.badge` on
the whole pool in id order. The ``ray`` backend gives the same picks (:mod:`.ray_backend`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._registry import lookup
from .._validation import check_k
from .model import PoolModel, load_pool_model
from .pool import PoolFormatError, ShardPool, open_pool
from .scoring import SCORES, merge_top_k, score_block

__all__ = ["BACKENDS", "STRATEGIES", "Selection", "read_id_file", "select_pool"]

STRATEGIES: dict[str, str] = {
    "margin": "1 - (p1 - p2), top-k",
    "entropy": "predictive entropy, top-k",
    "least_confidence": "1 - max p, top-k",
    "kcenter": "greedy k-center (Core-Set) on embeddings, or on the features without a model",
    "badge": "BADGE: k-means++ on gradient embeddings",
}
BACKENDS = ("local", "ray")


@dataclass(frozen=True)
class Selection:
    """The picked ids (score order for top-k strategies, pick order otherwise) and their scores.

    ``nodes``: the Ray nodes the k-center / BADGE shards ran on (empty otherwise).
    """

    ids: np.ndarray
    scores: np.ndarray | None
    strategy: str
    backend: str
    seconds: float
    nodes: tuple[str, ...] = ()


def read_id_file(path: str | os.PathLike[str]) -> np.ndarray:
    """Ids from a ``.npy`` file or a text/CSV file (the first column; a non-numeric first line is a header).

    Raises:
        FileNotFoundError: If the file does not exist.
        PoolFormatError: Naming the first line that is not an integer id.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"ids file {p} does not exist.")
    if p.suffix == ".npy":
        arr = np.load(p)
        if arr.dtype.kind not in "iu" or arr.ndim != 1:
            raise PoolFormatError(f"{p} holds {arr.dtype} {arr.shape}; an ids file needs a 1-D integer array.")
        return np.asarray(arr, dtype=np.int64)
    out: list[int] = []
    for n, line in enumerate(p.read_text().splitlines(), start=1):
        field = line.split(",")[0].strip()
        if not field:
            continue
        try:
            out.append(int(field))
        except ValueError:
            if n == 1:
                continue  # a header
            raise PoolFormatError(f"{p}, line {n}: {field!r} is not an integer id.") from None
    return np.asarray(out, dtype=np.int64)


def _check_labelled(labelled: object, all_ids: np.ndarray) -> np.ndarray:
    lab = np.unique(np.asarray(labelled if labelled is not None else [], dtype=np.int64))
    missing = lab[~np.isin(lab, all_ids)] if len(lab) else lab
    if len(missing):
        raise PoolFormatError(
            f"labelled id {int(missing[0])} is not in the pool ({len(missing)} labelled ids are not); "
            "pass ids of the pool's items."
        )
    return lab


def _dry_run(pool: ShardPool, model: PoolModel | None, strategy: str) -> None:
    """Run the model on two rows, so that a model/pool mismatch fails before any work."""
    if model is None:
        return
    rows = pool.head(2)
    try:
        if strategy in SCORES or strategy == "badge":
            from .._validation import check_probs

            check_probs(model.probs(rows), f"the probabilities of {model.source}")
        if strategy in ("kcenter", "badge"):
            model.embeddings(rows)
    except (ValueError, RuntimeError) as err:
        raise PoolFormatError(
            f"the model in {model.source} fails on the pool's rows ({pool.dim} features each): {err}"
        ) from err


def select_pool(
    pool: str | os.PathLike[str] | ShardPool,
    strategy: str,
    k: int,
    *,
    model: str | os.PathLike[str] | None = None,
    labelled: np.ndarray | None = None,
    seed: int = 0,
    backend: str = "local",
    workers: int | None = None,
    batch_size: int = 65536,
    ray_address: str | None = None,
) -> Selection:
    """Choose ``k`` items of a sharded pool (see the module docstring).

    Args:
        pool: A pool directory or an opened :class:`ShardPool`.
        strategy: One of :data:`STRATEGIES`.
        k: Items to pick among those not ``labelled``.
        model: Model file (:mod:`.model`); required except for ``kcenter`` on features.
        labelled: Ids already labelled: never picked; ``kcenter``'s initial centres.
        seed: Seeds ``np.random.default_rng(seed)``: k-center's first centre when nothing is
            labelled and BADGE's D² draws (the same generator the single-process functions get).
        backend: ``local`` (this process) or ``ray`` (Ray Data for top-k; Ray actors, one per
            shard of the pool's id order, for k-center and BADGE).
        workers: Ray only: scoring actors, or shards for k-center/BADGE (default: from the
            cluster's CPUs).
        batch_size: Rows per scoring batch (per-block top-k on Ray).
        ray_address: Ray only: a running cluster's address; default the one this process is
            connected to, else a new local Ray.

    Returns:
        The :class:`Selection`; identical ids for both backends.

    Cost (N rows, D features): top-k O(N·model) time, memory one batch per worker plus k per
    batch; k-center O(N·L·D + k·N·D) time and O(N·D) memory in all (split over the shards on
    Ray); BADGE adds O(N·C). The driver holds O(N) ids.

    Raises:
        PoolFormatError, UnknownNameError, PoolExhaustedError, CapabilityError,
        FileNotFoundError: Before any work, naming the bad value.
    """
    start = time.perf_counter()
    lookup("strategy", strategy, STRATEGIES)
    lookup("backend", backend, dict.fromkeys(BACKENDS))
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}.")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers must be a positive int, got {workers!r}.")
    pool = pool if isinstance(pool, ShardPool) else open_pool(pool)
    if model is None and strategy != "kcenter":
        raise ValueError(f"strategy {strategy!r} needs a model (--model FILE); only kcenter runs on the features alone.")
    loaded = load_pool_model(model) if model is not None else None
    all_ids = pool.sorted_ids()
    lab = _check_labelled(labelled, all_ids)
    if check_k(k, len(all_ids) - len(lab)) == 0:
        return Selection(np.empty(0, dtype=np.int64), None if strategy not in SCORES else np.empty(0), strategy, backend,
                         time.perf_counter() - start)
    _dry_run(pool, loaded, strategy)
    rng = np.random.default_rng(seed)
    model_path = str(Path(model).expanduser().resolve()) if model is not None else None
    if backend == "ray":
        from . import ray_backend

        ray_backend.ensure_ray(ray_address)
        if strategy in SCORES:
            ids, scores = ray_backend.top_k_ray(pool, strategy, k, model_path, lab, batch_size=batch_size, workers=workers)
            return Selection(ids, scores, strategy, backend, time.perf_counter() - start)
        picks, nodes = ray_backend.select_sharded_ray(pool, strategy, k, model_path, lab, all_ids, rng, workers=workers)
        return Selection(picks, None, strategy, backend, time.perf_counter() - start, nodes)
    if strategy in SCORES:
        assert loaded is not None
        ids, scores = top_k_local(pool, SCORES[strategy], k, loaded, lab, batch_size=batch_size)
        return Selection(ids, scores, strategy, backend, time.perf_counter() - start)
    picks = _geometric_local(pool, strategy, k, loaded, lab, all_ids, rng)
    return Selection(picks, None, strategy, backend, time.perf_counter() - start)


def top_k_local(
    pool: ShardPool,
    score: Callable[[np.ndarray], np.ndarray],
    k: int,
    model: PoolModel,
    labelled: np.ndarray,
    *,
    batch_size: int = 65536,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` in one process, streamed shard by shard and ``batch_size`` rows at a time.

    Memory: one batch of features and probabilities plus the running ``k`` best (``npy`` shards
    are memory-mapped; a Parquet shard is read whole).
    """
    best_ids, best_s = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    for i in range(len(pool.shards)):
        ids, x = pool.read(i)
        for s in range(0, len(ids), batch_size):
            bi, bs = score_block(ids[s : s + batch_size], x[s : s + batch_size], score, model, labelled, k)
            best_ids, best_s = merge_top_k(np.concatenate([best_ids, bi]), np.concatenate([best_s, bs]), k)
    return best_ids, best_s


def _geometric_local(
    pool: ShardPool, strategy: str, k: int, model: PoolModel | None, labelled: np.ndarray, all_ids: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """k-center / BADGE by the single-process functions on the whole pool in id order (O(N·D) memory).

    Their passes are forced to ``torch.mv``, the shards' kernel (:mod:`.shards`): kernels sum a
    row in different orders, and where two rows tie to the last bit (coinciding rows) another
    kernel could resolve the tie otherwise; with the same kernel the picks are the same.
    """
    from ..neighbors.kernels import forced_kernel
    from ..selection import badge, kcenter_greedy

    ids, x = pool.read_id_range(int(all_ids[0]), int(all_ids[-1]))
    lab = np.isin(ids, labelled)
    if strategy == "kcenter":
        emb = model.embeddings(x) if model is not None else x
        del x
        with forced_kernel("torch.mv"):
            return np.asarray(ids[kcenter_greedy(emb, lab, k, rng)], dtype=np.int64)
    assert model is not None
    ids, x = ids[~lab], x[~lab]
    with forced_kernel("torch.mv"):
        return np.asarray(ids[badge(model.probs(x), model.embeddings(x), k, rng)], dtype=np.int64)
