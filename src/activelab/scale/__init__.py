"""Pools beyond one machine: sharded pools and exact selection over them, locally or on Ray.

- :mod:`.pool`: the shard format (``.npy`` pairs or Parquet, stable int64 ids, a manifest).
- :mod:`.model`: the model file (probabilities, embeddings).
- :mod:`.select`: :func:`select_pool`, the strategies and the local (single-process) reference.
- :mod:`.shards`: exact greedy k-center and BADGE over shards that keep their own state.
- :mod:`.ray_backend`: the same on Ray (Ray Data for top-k, actors for k-center/BADGE); Ray is
  imported only when that backend runs (the ``ray`` extra).
"""

from .model import PoolModel, load_pool_model
from .pool import PoolFormatError, ShardInfo, ShardPool, open_pool, write_manifest, write_pool
from .scoring import SCORES, merge_top_k
from .select import BACKENDS, STRATEGIES, Selection, read_id_file, select_pool

__all__ = [
    "BACKENDS",
    "SCORES",
    "STRATEGIES",
    "PoolFormatError",
    "PoolModel",
    "Selection",
    "ShardInfo",
    "ShardPool",
    "load_pool_model",
    "merge_top_k",
    "open_pool",
    "read_id_file",
    "select_pool",
    "write_manifest",
    "write_pool",
]
