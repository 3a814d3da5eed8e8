"""Exact greedy k-center and BADGE over shards that each keep their rows' state.

A *shard* here is a worker's slice of the pool's global order (a contiguous range of ids): it
holds its rows' embeddings and minimum distances and never sends them anywhere. The
coordinator (the driver) sends one broadcast per pick (the new centre's row) and reduces one
small answer per shard; it keeps only O(N) ids and a taken mask, never features.

The arithmetic per row is the single-process functions' own
(:func:`activelab.selection.kcenter_greedy`, :func:`activelab.selection.badge`), in the same
order, and the random draws are taken in the same sequence from the same generator, so the
picks equal theirs on the concatenated pool in id order. BADGE's D² draw is two-level like
``badge``'s: shard boundaries fall on multiples of :data:`BADGE_BLOCK` rows, each shard reports
its blocks' float64 sums, and the owner of the drawn block finds the row inside it, so the
running totals are the same numbers as the single-process ones.

The same coordinator drives shards in this process (:class:`LocalGroup`, the tests' reference
for the protocol) or Ray actors (:mod:`.ray_backend`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import numpy as np
import torch

from .._validation import check_k, check_probs
from ..selection.tensors import first_argmax, sq_norms
from .model import load_pool_model
from .pool import open_pool

__all__ = ["BADGE_BLOCK", "LocalGroup", "ShardGroup", "ShardState", "badge_sharded", "kcenter_sharded", "split_rows"]

BADGE_BLOCK = 16384
"""Rows per block of the D² draw; equal to ``selection.badge``'s block, so the running totals match."""

_CHUNK = 4096  # rows/centres per block of the distance-to-labelled matmul, as in selection.kcenter


def split_rows(n: int, n_shards: int, align: int = 1) -> np.ndarray:
    """Boundaries ``b`` (``len = shards + 1``) splitting ``n`` rows into near-equal contiguous ranges.

    Starts are multiples of ``align``; there are fewer shards when ``n`` has fewer units.
    """
    if n_shards < 1:
        raise ValueError(f"n_shards must be >= 1, got {n_shards}.")
    units = max(1, -(-n // align))
    n_shards = min(n_shards, units)
    cuts = [min(n, (units * i // n_shards) * align) for i in range(n_shards)] + [n]
    return np.asarray(cuts, dtype=np.int64)


def _finite_or_raise(arr: np.ndarray, ids: np.ndarray, what: str) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise ValueError(
            f"{what} of item id {int(ids[row])} holds {arr[row, col]} (column {int(col)}); "
            "check the pool's features and the model's outputs (a diverged model gives NaN)."
        )


class ShardState:
    """One shard's rows and selection state: ids ``[lo, hi]`` of the pool, sorted by id.

    Memory: the shard's embeddings (rows · D float32), plus for BADGE ``p - onehot`` (rows · C)
    and three float32 vectors; time per pick: one matrix-vector product over the rows.

    Args:
        pool_path: The pool directory (readable from wherever the shard runs).
        lo, hi: Inclusive id range of the rows this shard owns.
        strategy: ``"kcenter"`` or ``"badge"``.
        model_path: Model file; ``None`` (k-center only) uses the features as embeddings.
        labelled: Sorted int64 ids already labelled: k-center's centres; BADGE drops them.
    """

    def __init__(
        self, pool_path: str, lo: int, hi: int, *, strategy: str, model_path: str | None, labelled: np.ndarray
    ) -> None:
        torch.set_num_threads(max(1, int(os.environ.get("OMP_NUM_THREADS", torch.get_num_threads()))))
        pool = open_pool(pool_path, check_ids=False)
        ids, feats = pool.read_id_range(lo, hi)
        lab = np.isin(ids, labelled)
        model = load_pool_model(model_path) if model_path else None
        self.strategy = strategy
        if strategy == "kcenter":
            emb = model.embeddings(feats) if model is not None else feats
            _finite_or_raise(emb, ids, "the embedding" if model is not None else "the features")
            self.ids = ids
            self.x = torch.from_numpy(np.ascontiguousarray(emb, dtype=np.float32))
            self.x_sq = sq_norms(self.x)
            self.taken = torch.from_numpy(lab.copy())
            self.min_d = torch.empty(0)
            return
        if model is None:
            raise ValueError("BADGE needs a model (probabilities and embeddings); pass one.")
        keep = ~lab
        self.ids, feats = ids[keep], feats[keep]
        p = check_probs(model.probs(feats))
        h = model.embeddings(feats)
        _finite_or_raise(h, self.ids, "the embedding")
        a = p.astype(np.float32, copy=True)
        if len(a):
            a[np.arange(len(a)), p.argmax(axis=1)] -= 1.0
        self.h = torch.from_numpy(h)
        self.a = torch.from_numpy(a)
        self.a_t = np.ascontiguousarray(a.T) if a.shape[1] <= 32 else None  # as badge's few-class sweep
        self.g_sq = (sq_norms(self.a) * sq_norms(self.h)).numpy()
        self.min_d_np = np.full(len(self.ids), np.inf, dtype=np.float32)

    # ---- shared -------------------------------------------------------------------------
    def node_id(self) -> str:
        """Where this shard runs: its Ray node's id, or ``"local"`` outside Ray."""
        try:
            import ray
        except ImportError:
            return "local"
        return str(ray.get_runtime_context().get_node_id()) if ray.is_initialized() else "local"

    def n_rows(self) -> int:
        """Rows this shard owns."""
        return len(self.ids)

    def _local(self, item_id: int) -> int:
        i = int(np.searchsorted(self.ids, item_id))
        if i >= len(self.ids) or self.ids[i] != item_id:
            raise KeyError(f"id {item_id} is not in this shard.")
        return i

    # ---- k-center -----------------------------------------------------------------------
    def kc_labelled_rows(self) -> np.ndarray:
        """Embeddings of this shard's labelled rows, in id order."""
        return np.asarray(self.x.numpy()[self.taken.numpy()], dtype=np.float32)

    def kc_row(self, item_id: int) -> tuple[np.ndarray, np.float32]:
        """An owned row's embedding and squared norm (the broadcast of a pick)."""
        i = self._local(item_id)
        return self.x.numpy()[i].copy(), self.x_sq.numpy()[i]

    def _kc_candidate(self) -> tuple[float, int, np.ndarray, np.float32] | None:
        if len(self.ids) == 0:
            return None
        best = first_argmax(self.min_d)
        return float(self.min_d[best]), int(self.ids[best]), self.x.numpy()[best].copy(), self.x_sq.numpy()[best]

    def kc_start_labelled(self, centres: np.ndarray) -> tuple[float, int, np.ndarray, np.float32] | None:
        """Minimum squared distances to the labelled ``centres`` (chunked matmul, as ``kcenter_greedy``)."""
        x, x_sq = self.x, self.x_sq
        c_all = torch.from_numpy(np.array(centres, dtype=np.float32))  # a copy: Ray's arguments are read-only
        c_sq = (c_all * c_all).sum(1)
        out = torch.full((x.shape[0],), float("inf"), dtype=x.dtype)
        for cs in range(0, c_all.shape[0], _CHUNK):
            c, csq = c_all[cs : cs + _CHUNK], c_sq[cs : cs + _CHUNK]
            for rs in range(0, x.shape[0], _CHUNK):
                prod = x[rs : rs + _CHUNK] @ c.T
                d, sq, o = prod.numpy(), x_sq[rs : rs + _CHUNK].numpy(), out[rs : rs + _CHUNK].numpy()
                d *= 2.0
                np.subtract(sq[:, None], d, out=d)
                d += csq.numpy()[None, :]
                np.minimum(o, d.min(1), out=o)
        self.min_d = torch.where(self.taken, torch.tensor(-1.0, dtype=x.dtype), out.clamp_(min=0.0))
        return self._kc_candidate()

    def kc_start_first(self, vec: np.ndarray, vec_sq: np.float32, item_id: int) -> tuple[float, int, np.ndarray, np.float32] | None:
        """Distances to the first, randomly drawn centre when nothing is labelled."""
        if len(self.ids) == 0:
            return None
        x_sq = self.x_sq
        min_d = (x_sq - 2.0 * torch.mv(self.x, torch.from_numpy(np.array(vec, dtype=np.float32))) + float(vec_sq)).clamp_(min=0.0)
        self._mark_taken(item_id)
        self.min_d = torch.where(self.taken, torch.tensor(-1.0, dtype=min_d.dtype), min_d)
        return self._kc_candidate()

    def _mark_taken(self, item_id: int) -> int | None:
        i = int(np.searchsorted(self.ids, item_id))
        if i < len(self.ids) and self.ids[i] == item_id:
            self.taken[i] = True
            return i
        return None

    def kc_fold(self, vec: np.ndarray, vec_sq: np.float32, item_id: int) -> tuple[float, int, np.ndarray, np.float32] | None:
        """Fold a new centre into the minimum distances; returns this shard's farthest row."""
        if len(self.ids) == 0:
            return None
        d = torch.mv(self.x, torch.from_numpy(np.array(vec, dtype=np.float32))).numpy()  # the one pass over the embeddings
        md = self.min_d.numpy()
        d *= -2.0
        d += self.x_sq.numpy()
        d += vec_sq
        np.minimum(md, d, out=md)
        i = self._mark_taken(item_id)
        if i is not None:
            md[i] = -1.0
        return self._kc_candidate()

    # ---- BADGE --------------------------------------------------------------------------
    def bg_first(self) -> tuple[float, int] | None:
        """This shard's largest gradient norm and its id (the first centre is the global one)."""
        if len(self.ids) == 0:
            return None
        i = int(self.g_sq.argmax())
        return float(self.g_sq[i]), int(self.ids[i])

    def bg_row(self, item_id: int) -> tuple[np.ndarray, np.ndarray, np.float32, int]:
        """An owned row's ``a``, ``h`` and gradient norm (the broadcast of a pick)."""
        i = self._local(item_id)
        return self.a.numpy()[i].copy(), self.h.numpy()[i].copy(), self.g_sq[i], item_id

    def bg_fold(self, a_j: np.ndarray, h_j: np.ndarray, g_j: np.float32, item_id: int) -> np.ndarray:
        """``min_d ← min(min_d, ‖g - g_j‖²)`` (0 at the pick); the float64 sums of its blocks.

        The sums are per :data:`BADGE_BLOCK` rows of ``min_d`` (the D² weights).
        """
        n = len(self.ids)
        if n == 0:
            return np.empty(0, dtype=np.float64)
        hh = torch.mv(self.h, torch.from_numpy(np.array(h_j, dtype=np.float32))).numpy()  # the pass over the embeddings
        if self.a_t is not None:
            o = self.a_t[0] * a_j[0]
            tmp = np.empty_like(o)
            for c in range(1, self.a_t.shape[0]):
                np.multiply(self.a_t[c], a_j[c], out=tmp)
                o += tmp
        else:
            o = torch.mv(self.a, torch.from_numpy(np.array(a_j, dtype=np.float32))).numpy()
        o *= 2.0
        o *= hh
        d = hh
        np.add(self.g_sq, g_j, out=d)
        d -= o
        np.maximum(d, 0.0, out=d)
        np.minimum(self.min_d_np, d, out=self.min_d_np)
        i = int(np.searchsorted(self.ids, item_id))
        if i < n and self.ids[i] == item_id:
            self.min_d_np[i] = 0.0
        starts = np.arange(0, n, BADGE_BLOCK)
        return np.asarray([np.add.reduce(self.min_d_np[s : s + BADGE_BLOCK], dtype=np.float64) for s in starts])

    def bg_locate(self, block: int, u: float) -> tuple[np.ndarray, np.ndarray, np.float32, int]:
        """The row of local ``block`` where the running float64 sum of the weights first exceeds ``u``."""
        s = block * BADGE_BLOCK
        weights = self.min_d_np[s : s + BADGE_BLOCK]
        local = np.cumsum(weights, dtype=np.float64)
        i = int(np.searchsorted(local, u, side="right"))
        if i >= len(weights):  # u above the block's running total, by rounding against its sum
            i = int(np.flatnonzero(weights > 0.0)[-1])
        return self.bg_row(int(self.ids[s + i]))


class ShardGroup(Protocol):
    """Shards driven by a coordinator: a broadcast to all, or a call to one."""

    def all(self, method: str, *args: Any) -> list[Any]:
        """Call ``method`` on every shard, in shard order; their results."""
        ...

    def one(self, shard: int, method: str, *args: Any) -> Any:
        """Call ``method`` on one shard."""
        ...

    def share(self, value: Any) -> Any:
        """``value`` as sent to every shard (Ray: put once in the object store)."""
        ...


class LocalGroup:
    """Shards in this process: the protocol without Ray (tests, and a reference for it)."""

    def __init__(self, shards: Sequence[ShardState]) -> None:
        self.shards = list(shards)

    def all(self, method: str, *args: Any) -> list[Any]:
        """Call ``method`` on every shard, in order."""
        return [getattr(s, method)(*args) for s in self.shards]

    def one(self, shard: int, method: str, *args: Any) -> Any:
        """Call ``method`` on one shard."""
        return getattr(self.shards[shard], method)(*args)

    def share(self, value: Any) -> Any:
        """``value`` itself (no copy in one process)."""
        return value


def _best(cands: list[Any]) -> Any:
    """The candidate with the largest value; ties to the first shard (the smallest id)."""
    best = None
    for c in cands:
        if c is not None and (best is None or c[0] > best[0]):
            best = c
    return best


def _owner(bounds: np.ndarray, row: int) -> int:
    return int(np.searchsorted(bounds, row, side="right")) - 1


def kcenter_sharded(
    group: ShardGroup,
    bounds: np.ndarray,
    ids: np.ndarray,
    labelled: np.ndarray,
    k: int,
    rng: np.random.Generator,
    on_pick: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Greedy k-center over shards; the picks of ``kcenter_greedy`` on the rows in id order.

    Args:
        group: Shards built over ``ids`` split at ``bounds`` (shard ``i`` owns rows
            ``bounds[i]:bounds[i+1]`` of ``ids``).
        ids: Every id of the pool, ascending.
        labelled: Boolean mask over ``ids`` (the centres).
        k: Picks.
        rng: The generator ``kcenter_greedy`` would get.

    Returns:
        ``(k,)`` int64 ids in pick order.

    Cost: one broadcast (a row of D floats) and one reduce (one row per shard) per pick; the
    shards do O(rows · D) each per pick. The driver holds O(N) ids and a mask.
    """
    n = len(ids)
    k = check_k(k, int(n - labelled.sum()))
    if k == 0:
        return np.empty(0, dtype=np.int64)
    taken = labelled.copy()
    picks: list[int] = []
    if labelled.any():
        rows = [r for r in group.all("kc_labelled_rows") if len(r)]
        cands = group.all("kc_start_labelled", group.share(np.concatenate(rows)))
    else:
        first = int(rng.choice(n))
        vec, sq = group.one(_owner(bounds, first), "kc_row", int(ids[first]))
        picks.append(int(ids[first]))
        taken[first] = True
        cands = group.all("kc_start_first", vec, sq, int(ids[first]))
    while len(picks) < k:
        value, best_id, vec, sq = _best(cands)
        if value <= 0.0:  # every remaining row coincides with a centre
            row = int(rng.choice(np.flatnonzero(~taken)))
            best_id = int(ids[row])
            vec, sq = group.one(_owner(bounds, row), "kc_row", best_id)
        picks.append(best_id)
        taken[int(np.searchsorted(ids, best_id))] = True
        if on_pick is not None:
            on_pick(len(picks))
        cands = group.all("kc_fold", vec, sq, best_id)
    return np.asarray(picks, dtype=np.int64)


def badge_sharded(
    group: ShardGroup, bounds: np.ndarray, ids: np.ndarray, k: int, rng: np.random.Generator
) -> np.ndarray:
    """BADGE's k-means++ over shards; the picks of ``badge`` on the candidate rows in id order.

    Args:
        group: Shards over the candidates ``ids`` (ascending) split at ``bounds``, whose starts
            are multiples of :data:`BADGE_BLOCK`.
        k: Picks.
        rng: The generator ``badge`` would get.

    Returns:
        ``(k,)`` int64 ids in pick order.

    Cost per pick: one broadcast (``a_j``, ``h_j``), one reduce of N / 16384 block sums, and
    one call to the shard that owns the drawn block (its block's running sum).
    """
    n = len(ids)
    if np.any(bounds[:-1] % BADGE_BLOCK):
        raise ValueError(f"BADGE shard starts must be multiples of {BADGE_BLOCK} rows, got {bounds.tolist()}.")
    k = check_k(k, n)
    if k == 0:
        return np.empty(0, dtype=np.int64)
    taken = np.zeros(n, dtype=bool)
    firsts = group.all("bg_first")
    first_id = _best(firsts)[1]
    row_data = group.one(_owner(bounds, int(np.searchsorted(ids, first_id))), "bg_row", first_id)
    picks = [first_id]
    taken[int(np.searchsorted(ids, first_id))] = True
    n_blocks = -(-np.diff(bounds) // BADGE_BLOCK)  # blocks of each shard
    block_owner = np.repeat(np.arange(len(n_blocks)), n_blocks)  # the shard of each global block
    block_first = np.concatenate([np.arange(m) for m in n_blocks])  # its index inside that shard
    block_sums = np.concatenate(group.all("bg_fold", *row_data))
    while len(picks) < k:
        totals = np.cumsum(block_sums)
        if totals[-1] <= 0.0:  # every remaining row coincides with a centre
            row = int(rng.choice(np.flatnonzero(~taken)))
            row_data = group.one(_owner(bounds, row), "bg_row", int(ids[row]))
        else:
            u = rng.random() * totals[-1]
            b = min(int(np.searchsorted(totals, u, side="right")), len(block_sums) - 1)
            while block_sums[b] <= 0.0:  # u at the very top of the range: the last block with weight
                b -= 1
            row_data = group.one(int(block_owner[b]), "bg_locate", int(block_first[b]), u - (totals[b - 1] if b else 0.0))
        j = int(row_data[3])
        picks.append(j)
        taken[int(np.searchsorted(ids, j))] = True
        if len(picks) < k:
            block_sums = np.concatenate(group.all("bg_fold", *row_data))
    return np.asarray(picks, dtype=np.int64)
