"""The Ray backend of :func:`~activelab.scale.select_pool`.

- **Top-k** (``margin``, ``entropy``, ``least_confidence``): a Ray Data pipeline. Parquet pools
  are read by ``read_parquet``; ``npy`` pools by one read task per shard. A fixed pool of
  scoring actors (``map_batches`` with ``ActorPoolStrategy``; each loads the model once) turns
  every batch into its own top ``k``; the driver merges them (:func:`.merge_top_k`), which is
  exact because the global top ``k`` lies in the union of the per-batch top ``k``.
  The actors ask for half a CPU each and the read tasks a quarter, so a read always finds room
  beside the actors (:data:`_SCORE_CPUS`).
- **k-center and BADGE**: one Ray actor per shard of the pool's id order (spread over the
  nodes), each reading its own rows and keeping its embeddings and minimum distances
  (:class:`.ShardState`); the coordinator in :mod:`.shards` sends one broadcast and reduces one
  answer per pick. The pool directory and model file must be readable at the same path on
  every node (a shared file system).
"""

from __future__ import annotations

import os
import warnings
from typing import Any

import numpy as np

from .pool import ShardPool
from .scoring import SCORES, merge_top_k, score_block
from .shards import BADGE_BLOCK, ShardState, badge_sharded, kcenter_sharded, split_rows

__all__ = ["RayGroup", "ensure_ray", "select_sharded_ray", "top_k_ray"]

# CPUs asked per scoring actor and per read task. Fewer actors than CPUs, each asking half a CPU,
# and reads asking a quarter leave every node room for a read next to its actor: on 2 cores,
# 2 actors × 1 CPU starve the reads and the pipeline hangs; on a node of 1 CPU, an actor of
# 0.5 leaves no room for a read task of 1 CPU.
_SCORE_CPUS = 0.5
_READ_CPUS = 0.25


def ensure_ray(address: str | None = None) -> None:
    """Connect to ``address``, or keep the current connection, or start a local Ray (no dashboard)."""
    import ray

    if ray.is_initialized():
        return
    if address is not None:
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    else:
        ray.init(include_dashboard=False, log_to_driver=False)


def _cluster_cpus() -> float:
    import ray

    return float(ray.cluster_resources().get("CPU", 1.0))  # type: ignore[no-untyped-call]


class _TopKScorer:
    """Ray Data actor: the model loaded once; each batch → its top ``k`` (id, score)."""

    def __init__(self, model_path: str, strategy: str, k: int, labelled: np.ndarray, column: str) -> None:
        from .model import load_pool_model

        self.model = load_pool_model(model_path)
        self.score = SCORES[strategy]
        self.k, self.labelled, self.column = k, labelled, column

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        x = batch[self.column]
        if x.dtype == object:  # list columns may arrive as arrays of arrays
            x = np.stack(list(x))
        ids, scores = score_block(np.asarray(batch["id"]), x, self.score, self.model, self.labelled, self.k)
        return {"id": ids, "score": scores}


def _read_npy_shard(batch: dict[str, np.ndarray], root: str) -> dict[str, np.ndarray]:
    """Read the ``npy`` shards named in ``batch["file"]`` (a read task)."""
    ids, xs = [], []
    for stem in batch["file"]:
        ids.append(np.load(os.path.join(root, f"{stem}.ids.npy")))
        xs.append(np.load(os.path.join(root, f"{stem}.x.npy")).astype(np.float32, copy=False))
    return {"id": np.concatenate(ids), "x": np.concatenate(xs)}


def top_k_ray(
    pool: ShardPool,
    strategy: str,
    k: int,
    model_path: str | None,
    labelled: np.ndarray,
    *,
    batch_size: int = 65536,
    workers: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Exact top-``k`` by a Ray Data ``map_batches`` pipeline (see the module docstring).

    Memory: per actor one batch of features and probabilities; the driver holds the running
    ``k`` best and one batch of per-block results. Time: one model pass over the pool.
    """
    import ray.data
    from ray.data import ActorPoolStrategy

    assert model_path is not None
    with warnings.catch_warnings():  # Ray's DataContext() warns about its own default (Ray 2.60)
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ray\.data\.context")
        ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    n_actors = workers or max(1, int(_cluster_cpus()) - 1)
    if pool.kind == "parquet":
        # The directory, not the list of files: with several paths Ray lists them from threads
        # that race to import fsspec's HTTP filesystem (an ImportError when aiohttp is absent).
        # open_pool checks that the directory holds no Parquet file outside the manifest.
        ds = ray.data.read_parquet(str(pool.root), file_extensions=["parquet"], num_cpus=_READ_CPUS).select_columns(
            ["id", pool.column]
        )
        column = pool.column
    else:
        files = [{"file": s.file} for s in pool.shards]
        ds = ray.data.from_items(files, override_num_blocks=len(files)).map_batches(
            _read_npy_shard, batch_size=1, fn_kwargs={"root": str(pool.root)}, num_cpus=_READ_CPUS  # type: ignore[arg-type]
        )
        column = "x"
    scored = ds.map_batches(
        _TopKScorer,
        fn_constructor_kwargs={"model_path": model_path, "strategy": strategy, "k": k, "labelled": labelled, "column": column},
        compute=ActorPoolStrategy(size=n_actors),
        num_cpus=_SCORE_CPUS,
        batch_size=batch_size,
        batch_format="numpy",
    )
    best_ids, best_s = np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
    for batch in scored.iter_batches(batch_size=None, batch_format="numpy"):
        best_ids, best_s = merge_top_k(
            np.concatenate([best_ids, np.asarray(batch["id"], dtype=np.int64)]),
            np.concatenate([best_s, np.asarray(batch["score"], dtype=np.float64)]),
            k,
        )
    return best_ids, best_s


class RayGroup:
    """Shards as Ray actors: :class:`.ShardState` per actor, calls gathered with ``ray.get``."""

    def __init__(self, actors: list[Any]) -> None:
        self.actors = actors

    def all(self, method: str, *args: Any) -> list[Any]:
        """Call ``method`` on every actor; one ``ray.get`` for all."""
        import ray

        return list(ray.get([getattr(a, method).remote(*args) for a in self.actors]))

    def one(self, shard: int, method: str, *args: Any) -> Any:
        """Call ``method`` on one actor."""
        import ray

        return ray.get(getattr(self.actors[shard], method).remote(*args))

    def share(self, value: Any) -> Any:
        """``value`` put once in the object store (its reference is what the actors get)."""
        import ray

        return ray.put(value)


def select_sharded_ray(
    pool: ShardPool,
    strategy: str,
    k: int,
    model_path: str | None,
    labelled: np.ndarray,
    all_ids: np.ndarray,
    rng: np.random.Generator,
    *,
    workers: int | None = None,
) -> tuple[np.ndarray, tuple[str, ...]]:
    """k-center or BADGE with one actor per shard of the id order; the actors are freed at the end.

    Returns the picked ids and the distinct node ids the shards ran on.

    Memory: each actor its rows' embeddings (and for BADGE ``p - onehot``); the driver O(N) ids.
    """
    import ray

    cpus = _cluster_cpus()
    n_shards = workers or max(1, int(cpus))
    if strategy == "badge":
        ids = all_ids[~np.isin(all_ids, labelled)] if len(labelled) else all_ids
        bounds = split_rows(len(ids), n_shards, BADGE_BLOCK)
    else:
        ids = all_ids
        bounds = split_rows(len(ids), n_shards)
    per_actor = min(1.0, cpus / (len(bounds) - 1))
    remote = ray.remote(ShardState).options(num_cpus=per_actor, scheduling_strategy="SPREAD")
    actors: list[Any] = [
        remote.remote(str(pool.root), int(ids[s]), int(ids[e - 1]), strategy=strategy, model_path=model_path, labelled=labelled)
        for s, e in zip(bounds[:-1], bounds[1:], strict=True)
    ]
    try:
        group = RayGroup(actors)
        sizes = group.all("n_rows")
        if sizes != list(np.diff(bounds)):
            raise RuntimeError(f"shards read {sizes} rows, expected {np.diff(bounds).tolist()} (the pool changed?)")
        nodes = tuple(sorted(set(group.all("node_id"))))
        if strategy == "kcenter":
            return kcenter_sharded(group, bounds, ids, np.isin(ids, labelled), k, rng), nodes
        return badge_sharded(group, bounds, ids, k, rng), nodes
    finally:
        for a in actors:
            ray.kill(a)
