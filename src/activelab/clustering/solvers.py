"""Correlation clustering on a :class:`~.store.SimilarityStore`: local search and mean field.

Both solvers read the similarities as ``S = prior + delta`` where the prior is low rank
(``a phi_u . phi_v + b``) and ``delta`` is sparse (queried pairs only), so the affinity of item
``u`` to cluster ``k``, ``A[u, k] = sum_{v in k, v != u} S[u, v]``, costs ``O(r)`` per cluster
from cluster sums plus ``O(deg(u))`` from the sparse part. Nothing is ``N x N``.

The objective is max-correlation: ``sum over pairs in the same cluster of S[u, v]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from . import _sweep_jit
from .store import LowRankPrior, SimilarityStore

__all__ = [
    "CCResult", "correlation_objective", "gather_rows", "local_search", "mean_field", "merge_by_answers", "merge_clusters",
    "same_cluster_prob",
]


@dataclass(frozen=True)
class CCResult:
    """Result of :func:`local_search`.

    Attributes:
        labels: Cluster of each item, int64 ``(n_items,)``, consecutive ids from 0.
        objective: Max-correlation objective of ``labels``.
        n_sweeps: Sweeps done in the restart that produced ``labels``.
    """

    labels: np.ndarray
    objective: float
    n_sweeps: int


def _relabel(labels: np.ndarray) -> np.ndarray:
    """Consecutive cluster ids in order of first appearance. O(N log N)."""
    _, first, inv = np.unique(labels, return_index=True, return_inverse=True)
    order = np.argsort(np.argsort(first))
    return order[inv].astype(np.int64)


def gather_rows(delta: sp.csr_matrix, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Nonzeros of the rows ``rows`` of a CSR matrix, without slicing it; O(sum of row degrees).

    Args:
        delta: CSR matrix, e.g. :meth:`~.store.SimilarityStore.delta_csr` or a graph of pairs.
        rows: Row ids to read, int ``(b,)``; may repeat.

    Returns:
        ``(local, cols, vals)``: for every stored entry of those rows, in row order, the
        position of its row in ``rows`` (int64), its column (int64) and its value.

    Example:
        >>> m = sp.csr_matrix(np.array([[0.0, 2.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 3.0]]))
        >>> local, cols, vals = gather_rows(m, np.array([2, 1, 0]))
        >>> local.tolist(), cols.tolist(), vals.tolist()
        ([0, 0, 2], [0, 2, 1], [1.0, 3.0, 2.0])
    """
    starts = delta.indptr[rows]
    lens = delta.indptr[rows + 1] - starts
    total = int(lens.sum())
    if total == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0)
    local = np.repeat(np.arange(len(rows)), lens)
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens)
    idx = np.arange(total) + offsets
    return local, delta.indices[idx].astype(np.int64), delta.data[idx]


def correlation_objective(store: SimilarityStore, labels: np.ndarray, delta: sp.csr_matrix | None = None) -> float:
    """``sum_{u < v, labels[u] == labels[v]} S[u, v]``. O(N r + q) time, O(K r) memory.

    Example:
        >>> from activelab.clustering.store import partition_prior
        >>> store = SimilarityStore(partition_prior(np.array([0, 0, 1])))
        >>> round(correlation_objective(store, np.array([0, 0, 1])), 6)
        0.1
    """
    labels = np.asarray(labels, dtype=np.int64)
    prior = store.prior
    k = int(labels.max()) + 1
    sizes = np.bincount(labels, minlength=k).astype(np.float64)
    total = 0.5 * (prior.b * float((sizes**2).sum()) - float(prior.self_term(np.arange(store.n_items)).sum()))
    if prior.phi.shape[1] and prior.a != 0.0:
        sums = prior.cluster_sums(labels, k)
        total += 0.5 * prior.a * float((sums**2).sum())
    if store.n_queried_pairs:
        qp = store.queried_pairs()
        same = labels[qp[:, 0]] == labels[qp[:, 1]]
        total += float(store.deltas()[same].sum())
    return total


def _affinity(
    store: SimilarityStore,
    delta: sp.csr_matrix,
    block: np.ndarray,
    labels: np.ndarray,
    sums: np.ndarray,
    sizes: np.ndarray,
    self_term: np.ndarray,
) -> np.ndarray:
    """``A[u, k] = sum_{v in k, v != u} S[u, v]`` for ``u`` in ``block``; ``(len(block), K)``."""
    prior = store.prior
    n_k = sizes.shape[0]
    aff: np.ndarray = np.broadcast_to(prior.b * sizes, (len(block), n_k)).copy()
    if prior.phi.shape[1] and prior.a != 0.0:
        aff += prior.a * (prior.phi[block].astype(np.float64) @ sums.T)
    aff[np.arange(len(block)), labels[block]] -= self_term[block]
    local, cols, vals = gather_rows(delta, block)
    if len(local):
        aff += np.bincount(local * n_k + labels[cols], weights=vals, minlength=len(block) * n_k).reshape(
            len(block), n_k
        )
    return aff


def _sweep(
    store: SimilarityStore,
    delta: sp.csr_matrix,
    labels: np.ndarray,
    block_size: int,
    rng: np.random.Generator,
    tol: float,
) -> tuple[np.ndarray, int]:
    """One pass of block moves over a random order; returns (relabelled labels, moves)."""
    prior = store.prior
    n = store.n_items
    labels = _relabel(labels)
    k = int(labels.max()) + 1
    cap = k + min(n, 2 * block_size)  # room for new clusters; grows below when needed
    sizes = np.zeros(cap)
    sizes[:k] = np.bincount(labels, minlength=k)
    sums = np.zeros((cap, prior.phi.shape[1]))
    if prior.phi.shape[1]:
        sums[:k] = prior.cluster_sums(labels, k)
    self_term = prior.self_term(np.arange(n))
    n_used = k
    moves = 0
    order = rng.permutation(n)
    for start in range(0, n, block_size):
        block = order[start:start + block_size]
        if n_used + len(block) > cap:  # each block opens at most len(block) clusters
            cap = max(2 * cap, n_used + len(block))
            sizes = np.concatenate([sizes, np.zeros(cap - len(sizes))])
            sums = np.concatenate([sums, np.zeros((cap - len(sums), sums.shape[1]))])
        aff = _affinity(store, delta, block, labels, sums[:n_used], sizes[:n_used], self_term)
        cur = labels[block]
        stay = aff[np.arange(len(block)), cur]
        # Ties go to the lowest id; a move needs a strict gain over staying.
        best = np.argmax(aff, axis=1)
        best_val = aff[np.arange(len(block)), best]
        new_cluster = (best_val < 0.0) & (sizes[cur] > 1)  # every existing cluster repels u
        target = np.where(new_cluster, -1, best)
        target_val = np.where(new_cluster, 0.0, best_val)
        move = (target_val > stay + tol) & (target != cur)
        if not move.any():
            continue
        items = block[move]
        old = cur[move]
        tgt = target[move]
        n_new = int((tgt == -1).sum())
        tgt[tgt == -1] = np.arange(n_used, n_used + n_new)
        n_used += n_new
        np.subtract.at(sizes, old, 1.0)
        np.add.at(sizes, tgt, 1.0)
        if prior.phi.shape[1]:
            phi = prior.phi[items].astype(np.float64)
            np.subtract.at(sums, old, phi)
            np.add.at(sums, tgt, phi)
        labels[items] = tgt
        moves += len(items)
    return _relabel(labels), moves


#: Pools up to this size take the small-pool sweep (:func:`_sweep_small`); larger ones the block
#: sweep of :func:`_sweep`. Both give bit-identical results; the split keeps the large-N code
#: path as it was (the small one holds a few ``O(q)`` arrays per sweep).
_SMALL_POOL_MAX_ITEMS = 4096


@dataclass(frozen=True)
class _Constants:
    """What one :func:`local_search` call reads in every sweep, computed once. O(N r + q) memory.

    ``groups`` is set when the prior's features are the one-hot encoding of ``groups`` (a
    partition prior): then ``phi[u] . C_k`` is the count of ``groups[u]`` in cluster ``k``, an
    integer that every summation order gets exactly, so affinities may be read from counts and
    computed for many rows at once without changing a bit.
    """

    delta: sp.csr_matrix
    phi: np.ndarray  # float64 (N, r)
    self_term: np.ndarray  # (N,)
    self_sum: float
    pairs: np.ndarray  # queried pairs (q, 2), key order
    deltas: np.ndarray  # their S - prior, (q,)
    groups: np.ndarray | None


def _partition_groups(prior: LowRankPrior) -> np.ndarray | None:
    """The prior's groups, int64 ``(N,)``, if its features are exactly their one-hot encoding; else ``None``. O(N r)."""
    n, r = prior.phi.shape
    g = prior.groups
    if g is not None and r and g.shape == (n,) and g.min() >= 0 and g.max() < r:
        onehot = np.zeros((n, r), dtype=prior.phi.dtype)
        onehot[np.arange(n), g] = 1
        if np.array_equal(onehot, prior.phi):
            return np.asarray(g, dtype=np.int64)
    return None


def _constants(store: SimilarityStore, delta: sp.csr_matrix) -> _Constants:
    prior = store.prior
    n = prior.phi.shape[0]
    self_term = prior.self_term(np.arange(n))
    pairs = store.queried_pairs() if store.n_queried_pairs else np.empty((0, 2), np.int64)
    deltas = store.deltas() if store.n_queried_pairs else np.empty(0)
    groups = _partition_groups(prior)
    return _Constants(delta, prior.phi.astype(np.float64), self_term, float(self_term.sum()), pairs, deltas, groups)


#: Sweep with the compiled kernel of :mod:`._sweep_jit` where it applies (numba installed, a
#: partition or zero prior). Its results are bit-identical to the NumPy sweeps; the tests and
#: ``benchmarks/clustering_solver_speed.py`` switch it off to compare.
_USE_JIT = True


@dataclass(frozen=True)
class _Compiled:
    """What :func:`_sweep_compiled` reads, computed once per :func:`local_search` call."""

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    self_term: np.ndarray
    groups: np.ndarray  # prior group per item (zeros for a zero prior)
    n_groups: int
    use_counts: bool


def _compiled_inputs(store: SimilarityStore, delta: sp.csr_matrix, consts: _Constants | None) -> _Compiled | None:
    """Inputs of the compiled sweep, or ``None`` where it does not apply (no numba; a feature prior).

    The self terms and the prior's groups are taken from ``consts`` when the small-pool path
    has computed them already.
    """
    if not (_USE_JIT and _sweep_jit.AVAILABLE):
        return None
    prior = store.prior
    n, r = prior.phi.shape
    use_phi = bool(r) and prior.a != 0.0
    groups = None
    if use_phi:
        groups = consts.groups if consts is not None else _partition_groups(prior)
        if groups is None:
            return None
    self_term = consts.self_term if consts is not None else prior.self_term(np.arange(n))
    return _Compiled(
        delta.indptr.astype(np.int64), delta.indices.astype(np.int64), delta.data.astype(np.float64),
        self_term, groups if groups is not None else np.zeros(n, np.int64),
        r if groups is not None else 1, groups is not None,
    )


def _sweep_compiled(
    store: SimilarityStore, c: _Compiled, labels: np.ndarray, block_size: int, rng: np.random.Generator, tol: float
) -> tuple[np.ndarray, int]:
    """:func:`_sweep` by :func:`._sweep_jit.sweep_counts`: the same visit order, moves and labels. O(N K + q)."""
    labels = _relabel(labels)  # a new array (the caller's is kept): the kernel moves items in it
    k = int(labels.max()) + 1
    order = rng.permutation(store.n_items)
    prior = store.prior
    moves = _sweep_jit.sweep_counts(
        order, c.indptr, c.indices, c.data, c.self_term, c.groups, c.n_groups, float(prior.a), float(prior.b),
        c.use_counts, labels, k, int(block_size), float(tol),
    )
    return _relabel(labels), int(moves)


def _objective(store: SimilarityStore, c: _Constants, labels: np.ndarray) -> float:
    """:func:`correlation_objective` with the call's constants cached: the same floating-point
    operations in the same order, so the same bits. O(N r + q).
    """
    prior = store.prior
    k = int(labels.max()) + 1
    sizes = np.bincount(labels, minlength=k).astype(np.float64)
    total = 0.5 * (prior.b * float((sizes**2).sum()) - c.self_sum)
    r = prior.phi.shape[1]
    if r and prior.a != 0.0:
        if c.groups is not None:  # the same integer sums, counted
            sums = np.bincount(labels * r + c.groups, minlength=k * r).reshape(k, r).astype(np.float64)
        else:
            sums = np.zeros((k, r))
            np.add.at(sums, labels, c.phi)
        total += 0.5 * prior.a * float((sums**2).sum())
    if len(c.pairs):
        same = labels[c.pairs[:, 0]] == labels[c.pairs[:, 1]]
        total += float(c.deltas[same].sum())
    return total


def _sweep_small(
    store: SimilarityStore,
    c: _Constants,
    labels: np.ndarray,
    block_size: int,
    rng: np.random.Generator,
    tol: float,
) -> tuple[np.ndarray, int]:
    """:func:`_sweep` with less work per block, for pools of up to ``_SMALL_POOL_MAX_ITEMS``.

    ``labels`` must already be relabelled (:func:`_relabel`), as :func:`local_search` keeps them.
    Every affinity is the very floating-point expression of :func:`_affinity`, evaluated in the
    same order, so moves and results are bit-identical. What changes: the sparse rows of the
    whole visit order are gathered once per sweep (a block reads a slice), the prior's features
    are converted once per call, and for a partition or zero prior (where the prior term is
    exact, see :class:`_Constants`) the affinities of several blocks are computed in one pass
    on the state at the first of them: the blocks up to the first one that moves an item are
    thereby decided exactly as one by one, and the rest of the pass is dropped. The number of
    blocks per pass doubles after a pass without moves and halves after one with moves.

    O(N r K + q) time per sweep, plus the dropped rows; O(q + N K) extra memory.
    """
    prior = store.prior
    n = store.n_items
    labels = labels.copy()
    k = int(labels.max()) + 1
    r = prior.phi.shape[1]
    use_phi = bool(r) and prior.a != 0.0
    counts_mode = use_phi and c.groups is not None
    batched = counts_mode or not use_phi
    a, b = prior.a, prior.b
    cap = k + min(n, 2 * block_size)
    sizes = np.zeros(cap)
    sizes[:k] = np.bincount(labels, minlength=k)
    if counts_mode:  # counts[g, k] = items of prior group g in cluster k, the exact phi . C_k
        assert c.groups is not None
        counts = np.zeros((r, cap))
        np.add.at(counts, (c.groups, labels), 1.0)
    elif r:
        sums = np.zeros((cap, r))
        np.add.at(sums[:k], labels, c.phi)
    n_used = k
    moves = 0
    order = rng.permutation(n)
    self_o = c.self_term[order]
    phi_o = c.phi[order] if use_phi and not counts_mode else None
    grp_o = (c.groups if counts_mode else np.zeros(n, np.int64))[order]  # type: ignore[index]
    # The sparse entries of every row, in visit order; rows [s, e) of the order are one slice
    # (what gather_rows(c.delta, order) returns, by SciPy's row indexing).
    permuted = c.delta[order]
    ptr = permuted.indptr.astype(np.int64)
    local = np.repeat(np.arange(n), np.diff(ptr))
    cols, vals = permuted.indices, permuted.data
    rows_all = np.arange(n)
    table = np.empty(0)
    stale = True
    n_blocks = 1
    start = 0
    while start < n:
        stop = min(start + (n_blocks if batched else 1) * block_size, n)
        m = stop - start
        if n_used + min(m, block_size) > cap:
            cap = max(2 * cap, n_used + block_size)
            sizes = np.concatenate([sizes, np.zeros(cap - len(sizes))])
            if counts_mode:
                counts = np.concatenate([counts, np.zeros((r, cap - counts.shape[1]))], axis=1)
            elif r:
                sums = np.concatenate([sums, np.zeros((cap - len(sums), r))])
            stale = True
        nk = n_used
        rows = rows_all[:m]
        cur = labels[order[start:stop]]
        # Column k < nk: _affinity's (b * sizes + a * phi @ sums.T) - self_term at the own
        # cluster + sparse part, term by term (IEEE addition and multiplication commute).
        # Column nk: a new cluster, 0 where u may leave its cluster, -inf for a singleton.
        if batched:
            if stale:  # the prior term of every (group, cluster), one row for a zero prior
                table = np.zeros((r if counts_mode else 1, cap))
                if counts_mode:
                    table[:, :nk] = a * counts[:, :nk]
                table[:, :nk] += b * sizes[:nk]
                stale = False
            aff = table[grp_o[start:stop]][:, :nk + 1]
        else:
            assert phi_o is not None
            aff = np.empty((m, nk + 1))
            aff[:, :nk] = a * (phi_o[start:stop] @ sums[:nk].T)
            aff[:, :nk] += b * sizes[:nk]
        aff[:, nk] = np.where(sizes[cur] > 1, 0.0, -np.inf)
        aff[rows, cur] -= self_o[start:stop]
        lo, hi = ptr[start], ptr[stop]
        if hi > lo:
            bins = (local[lo:hi] - start) * nk + labels[cols[lo:hi]]
            aff[:, :nk] += np.bincount(bins, weights=vals[lo:hi], minlength=m * nk).reshape(m, nk)
        # Ties go to the lowest id (an existing cluster before a new one); a move needs a
        # strict gain over staying.
        best = aff.argmax(axis=1)
        move = (aff[rows, best] > aff[rows, cur] + tol) & (best != cur)
        first = int(move.argmax())
        if not move[first]:
            start = stop
            n_blocks *= 2
            continue
        # Only the first block with a move is applied; later rows saw a stale state.
        lo_row = first - first % block_size
        hi_row = min(lo_row + block_size, m)
        n_blocks = max(1, n_blocks // 2)
        sel = np.flatnonzero(move[lo_row:hi_row]) + lo_row
        items = order[start + sel]
        old = cur[sel]
        tgt = best[sel]
        new = tgt == nk
        n_new = int(new.sum())
        if n_new:
            tgt[new] = np.arange(n_used, n_used + n_new)
            n_used += n_new
        np.subtract.at(sizes, old, 1.0)
        np.add.at(sizes, tgt, 1.0)
        if counts_mode:
            g_items = grp_o[start + sel]
            np.subtract.at(counts, (g_items, old), 1.0)
            np.add.at(counts, (g_items, tgt), 1.0)
        elif r:
            p = c.phi[items]
            np.subtract.at(sums, old, p)
            np.add.at(sums, tgt, p)
        stale = True
        labels[items] = tgt
        moves += len(items)
        start += hi_row
    return _relabel(labels), moves


def local_search(
    store: SimilarityStore,
    labels: np.ndarray | None = None,
    *,
    rng: np.random.Generator,
    n_restarts: int = 1,
    max_sweeps: int = 30,
    block_size: int | None = None,
    tol: float = 1e-9,
    warm_start: bool = True,
) -> CCResult:
    """Max-correlation clustering by local search with a dynamic number of clusters.

    Each sweep visits the items in a random order, in blocks: every item of a block moves to
    the cluster of highest affinity (or to a new singleton cluster when every cluster,
    including its own, repels it) if that strictly improves on staying. Empty clusters
    disappear. With ``block_size=1`` this is the classic sequential local search, which never
    decreases the objective; larger blocks move items simultaneously, so a sweep is checked and,
    if the objective fell, undone and repeated with half the block size. A restart stops when a
    sweep moves nothing or after ``max_sweeps`` sweeps. Restart 0 starts from ``labels`` (warm
    start; singletons if ``None``), the others from random partitions into as many clusters
    as the best solution so far has; the best objective wins. With ``warm_start=False`` every
    restart starts from a random partition into as many clusters as ``labels`` has (the TMLR
    paper's solver: ``labels`` only sets that number).

    Time: ``O(restarts * sweeps * (N r K + q))`` for ``q`` queried pairs, ``K`` clusters and
    prior rank ``r``; memory ``O(block_size * K + N r + q)``. Pools of up to 4,096 items take a
    sweep with less work per block (``_sweep_small``: rows gathered once per sweep, and for a
    partition or zero prior several blocks evaluated at once); it performs the same
    floating-point operations per affinity, so its results are bit-identical (2-3x faster at
    N = 336-1,500, ``benchmarks/clustering_solver_speed.py``); memory ``O(N K + N r + q)``.

    Args:
        store: Similarities.
        labels: Warm start, int ``(n_items,)``.
        rng: Randomness (visit order, restarts).
        n_restarts: Number of restarts (>= 1).
        max_sweeps: Sweeps per restart (>= 1).
        block_size: Items moved together; default ``max(1, N // 32)``.
        tol: Minimal gain for a move.
        warm_start: Start restart 0 from ``labels`` (``False``: random starts only).

    Example:
        >>> from activelab.clustering.store import zero_prior
        >>> store = SimilarityStore(zero_prior(4))
        >>> store.add([[0, 1], [2, 3], [1, 2]], [1.0, 1.0, -1.0])
        >>> res = local_search(store, rng=np.random.default_rng(0), n_restarts=3)
        >>> res.labels.tolist(), round(res.objective, 3)
        ([0, 0, 1, 1], 1.0)
    """
    n = store.n_items
    for name, value, lo in (("n_restarts", n_restarts, 1), ("max_sweeps", max_sweeps, 1)):
        if not isinstance(value, (int, np.integer)) or value < lo:
            raise ValueError(f"{name} must be an int >= {lo}, got {value!r}.")
    if block_size is None:
        block_size = max(1, n // 32)
    if not isinstance(block_size, (int, np.integer)) or block_size < 1:
        raise ValueError(f"block_size must be an int >= 1, got {block_size!r}.")
    if labels is None:
        start = np.arange(n, dtype=np.int64)
    else:
        start = np.asarray(labels, dtype=np.int64)
        if start.shape != (n,):
            raise ValueError(f"labels must have shape ({n},), got {start.shape}.")
    delta = store.delta_csr()
    small = n <= _SMALL_POOL_MAX_ITEMS
    consts = _constants(store, delta) if small else None
    compiled = _compiled_inputs(store, delta, consts)
    best: CCResult | None = None
    for restart in range(n_restarts):
        if restart == 0 and warm_start:
            cur = start.copy()
        else:
            k = int(best.labels.max()) + 1 if best is not None else len(np.unique(start))
            cur = rng.integers(0, max(k, 2), size=n)
        cur = _relabel(cur)
        obj = correlation_objective(store, cur, delta) if consts is None else _objective(store, consts, cur)
        bs = int(block_size)
        sweeps = 0
        while sweeps < max_sweeps:
            if compiled is not None:
                cand, moves = _sweep_compiled(store, compiled, cur, bs, rng, tol)
            elif consts is None:
                cand, moves = _sweep(store, delta, cur, bs, rng, tol)
            else:
                cand, moves = _sweep_small(store, consts, cur, bs, rng, tol)
            sweeps += 1
            if moves == 0:
                break
            cand_obj = correlation_objective(store, cand, delta) if consts is None else _objective(store, consts, cand)
            if cand_obj + 1e-9 * max(1.0, abs(obj)) < obj:
                if bs == 1:  # cannot happen in exact arithmetic; stop rather than loop
                    break
                bs = max(1, bs // 2)
                continue
            cur, obj = cand, cand_obj
        if best is None or obj > best.objective + 1e-12:
            best = CCResult(cur, float(obj), sweeps)
    if best is None:  # unreachable: n_restarts >= 1 was checked
        raise RuntimeError("local_search ran no restart.")
    return best


def _merge_pass(cur: np.ndarray, ca: np.ndarray, cb: np.ndarray, weight: np.ndarray, keep: np.ndarray) -> np.ndarray | None:
    """One pass of merging: cluster pairs ``(ca, cb)`` where ``keep``, in decreasing ``weight``,
    each cluster merged at most once; the relabelled clustering, or ``None`` if nothing is kept.
    """
    if not keep.any():
        return None
    order = np.argsort(-weight[keep], kind="stable")
    into = np.arange(int(cur.max()) + 1)
    used = np.zeros(len(into), dtype=bool)
    for x, y in zip(ca[keep][order], cb[keep][order], strict=True):
        if not used[x] and not used[y]:
            used[x] = used[y] = True
            into[y] = x
    return _relabel(into[cur])


def merge_clusters(store: SimilarityStore, labels: np.ndarray, delta: sp.csr_matrix | None = None) -> np.ndarray:
    """Merge clusters while some two of them have a positive summed similarity.

    Local search moves one item at a time, so it cannot join two halves of a true cluster when
    each half holds together and the prior keeps them apart: every single move loses more than
    it gains, although moving the whole half gains ``W[a, b] = sum of S over a x b``. This step
    takes, in decreasing order of ``W``, disjoint pairs of clusters with ``W > 0`` that are
    joined by at least one answered pair, merges them, and repeats until no such pair is left.
    Every merge raises the correlation objective by its ``W``. Pairs of clusters joined only by
    the prior are left to local search.

    Time: ``O(q + K r)`` per pass for ``q`` answered pairs, ``K`` clusters and prior rank ``r``
    (at most ``log2 K`` passes when every pass halves the clusters, ``K`` in the worst case);
    memory ``O(q + K r)``, never ``K x K``.

    Args:
        store: Similarities.
        labels: A clustering, int ``(n_items,)``.
        delta: ``store.delta_csr()`` if the caller has it.

    Returns:
        The merged clustering, relabelled ``0..K'-1`` (``labels`` itself is not modified).

    Example:
        >>> from activelab.clustering.store import partition_prior
        >>> store = SimilarityStore(partition_prior(np.array([0, 0, 1, 1]), 0.01))
        >>> store.add([[0, 2], [1, 3]], [1.0, 1.0])
        >>> merge_clusters(store, np.array([0, 0, 1, 1])).tolist()
        [0, 0, 0, 0]
    """
    n = store.n_items
    cur = _relabel(np.asarray(labels, dtype=np.int64))
    if cur.shape != (n,):
        raise ValueError(f"labels must have shape ({n},), got {cur.shape}.")
    if not store.n_queried_pairs:
        return cur
    d = (store.delta_csr() if delta is None else delta).tocoo()
    prior = store.prior
    while True:
        k = int(cur.max()) + 1
        a, b = cur[d.row], cur[d.col]
        keep = a < b
        if not keep.any():
            return cur
        # the answered part of W between clusters joined by answered pairs
        w = sp.coo_matrix((d.data[keep], (a[keep], b[keep])), shape=(k, k)).tocsr()
        w.sum_duplicates()
        wc = w.tocoo()
        ca, cb = wc.row.astype(np.int64), wc.col.astype(np.int64)
        # the prior's part: a * Phi_a . Phi_b + b * |a| |b| (the delta already holds S - prior)
        sizes = np.bincount(cur, minlength=k).astype(np.float64)
        total = wc.data + prior.b * sizes[ca] * sizes[cb]
        if prior.phi.shape[1] and prior.a != 0.0:
            phi_sums = prior.cluster_sums(cur, k)
            total += prior.a * np.einsum("ij,ij->i", phi_sums[ca], phi_sums[cb])
        merged = _merge_pass(cur, ca, cb, total, total > 1e-12)
        if merged is None:
            return cur
        cur = merged


def merge_by_answers(store: SimilarityStore, labels: np.ndarray, min_net: int = 2) -> np.ndarray:
    """Merge two clusters when the answers between them say "same" at least ``min_net`` times more
    often than "different".

    The counterpart of :func:`merge_clusters` that trusts the answers over the prior: with a
    partition prior, two halves of a true cluster are kept apart by a prior summed over
    ``|A| |B|`` pairs, which only hundreds of answers outweigh, whereas two or three answers
    between their most confirmed members already say that they are one cluster. Each answered
    pair counts ``sign(S_uv)`` times its number of answers; clusters are merged in decreasing
    order of that net count, disjoint pairs per pass, until no two clusters reach ``min_net``.
    A wrong merge (two wrong answers in a row) is left to local search and later answers: the
    objective still holds the prior, so the next sweep can split the cluster again.

    Time: ``O(q log q)`` per pass for ``q`` answered pairs (at most ``K`` passes, usually one or
    two); memory ``O(q)``.

    Args:
        store: Similarities.
        labels: A clustering, int ``(n_items,)``.
        min_net: Net "same" answers needed between two clusters (>= 1).

    Returns:
        The merged clustering, relabelled ``0..K'-1`` (``labels`` itself is not modified).

    Example:
        >>> from activelab.clustering.store import partition_prior
        >>> store = SimilarityStore(partition_prior(np.repeat([0, 1], 20), 0.03))
        >>> store.add([[0, 20], [1, 21]], [1.0, 1.0])
        >>> merge_by_answers(store, np.repeat([0, 1], 20)).max()
        np.int64(0)
    """
    if isinstance(min_net, bool) or not isinstance(min_net, (int, np.integer)) or min_net < 1:
        raise ValueError(f"min_net must be an int >= 1, got {min_net!r}.")
    cur = _relabel(np.asarray(labels, dtype=np.int64))
    if cur.shape != (store.n_items,):
        raise ValueError(f"labels must have shape ({store.n_items},), got {cur.shape}.")
    if not store.n_queried_pairs:
        return cur
    qp = store.queried_pairs()
    votes = store.votes()
    while True:
        a, b = cur[qp[:, 0]], cur[qp[:, 1]]
        keep = a != b
        if not keep.any():
            return cur
        k = int(cur.max()) + 1
        net = sp.coo_matrix((votes[keep], (np.minimum(a, b)[keep], np.maximum(a, b)[keep])), shape=(k, k)).tocsr()
        net.sum_duplicates()
        nc = net.tocoo()
        merged = _merge_pass(cur, nc.row.astype(np.int64), nc.col.astype(np.int64), nc.data, nc.data >= min_net)
        if merged is None:
            return cur
        cur = merged


def _soft_field(store: SimilarityStore, delta: sp.csr_matrix, q: np.ndarray) -> np.ndarray:
    """``F[u, k] = sum_{v != u} S[u, v] q[v, k]``; O(N r K + q K)."""
    prior = store.prior
    field: np.ndarray = np.broadcast_to(prior.b * q.sum(axis=0), q.shape).copy()
    if prior.phi.shape[1] and prior.a != 0.0:
        phi = prior.phi.astype(np.float64)
        field += prior.a * (phi @ (phi.T @ q))
    field -= prior.self_term(np.arange(store.n_items))[:, None] * q
    if delta.nnz:
        field += delta @ q
    return field


def mean_field(
    store: SimilarityStore,
    labels: np.ndarray,
    *,
    beta: float = 1.0,
    n_iter: int = 15,
    damping: float = 0.5,
    smoothing: float = 0.1,
) -> np.ndarray:
    """Mean-field soft assignments ``q`` of the Gibbs distribution ``P(c) ∝ exp(beta * objective)``.

    The number of clusters is that of ``labels`` (a local-search solution), which also gives
    the start ``q0 = (1 - smoothing) onehot + smoothing / K``. Each iteration sets
    ``q <- (1 - damping) q + damping softmax(beta F)`` with ``F[u, k] = sum_{v != u} S[u, v] q[v, k]``.

    Time ``O(n_iter (N r K + q K))``, memory ``O(N K)``.

    Returns:
        ``q``, float64 ``(n_items, K)``, rows summing to 1.

    Example:
        >>> from activelab.clustering.store import partition_prior
        >>> store = SimilarityStore(partition_prior(np.array([0, 0, 1, 1])))
        >>> q = mean_field(store, np.array([0, 0, 1, 1]), beta=50.0)
        >>> q.argmax(axis=1).tolist()
        [0, 0, 1, 1]
    """
    if not beta > 0 or not np.isfinite(beta):
        raise ValueError(f"beta must be a positive finite inverse temperature, got {beta!r}.")
    if not 0 < damping <= 1:
        raise ValueError(f"damping must lie in (0, 1], got {damping!r}.")
    labels = _relabel(np.asarray(labels, dtype=np.int64))
    k = int(labels.max()) + 1
    q = np.full((store.n_items, k), smoothing / k)
    q[np.arange(store.n_items), labels] += 1.0 - smoothing
    delta = store.delta_csr()
    for _ in range(n_iter):
        logits = beta * _soft_field(store, delta, q)
        logits -= logits.max(axis=1, keepdims=True)
        new = np.exp(logits)
        new /= new.sum(axis=1, keepdims=True)
        q = (1.0 - damping) * q + damping * new
    return q


def same_cluster_prob(q: np.ndarray, pairs: np.ndarray, chunk_size: int = 65536) -> np.ndarray:
    """``P(u ~ v) = sum_k q[u, k] q[v, k]`` for ``pairs`` ``(m, 2)``; chunked, O(m K) time.

    Example:
        >>> same_cluster_prob(np.array([[1.0, 0.0], [0.5, 0.5]]), np.array([[0, 1]])).tolist()
        [0.5]
    """
    out = np.empty(len(pairs))
    for s in range(0, len(pairs), chunk_size):
        p = pairs[s:s + chunk_size]
        out[s:s + chunk_size] = np.einsum("ij,ij->i", q[p[:, 0]], q[p[:, 1]])
    return np.clip(out, 0.0, 1.0)
