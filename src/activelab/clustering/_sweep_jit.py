"""One local-search sweep compiled by numba, for a partition or zero prior (optional, ``activelab[fast]``).

:func:`sweep_counts` is the sweep of :func:`activelab.clustering.solvers._sweep_small` (and of
``_sweep``) written as loops: the blocks of the visit order are decided one after another on the
state at each block's start, and every affinity is the same floating-point expression, evaluated
in the same order, as NumPy evaluates it there:

* the prior term of item ``u`` (prior group ``g``) and cluster ``k``: ``a * counts[g, k] + b * sizes[k]``
  (``0.0 + b * sizes[k]`` for a zero prior); both products are of integers counted exactly;
* minus ``u``'s self term at its own cluster;
* plus the sum of ``u``'s sparse row over the members of ``k``, accumulated from ``0.0`` in the
  row's stored order (what ``np.bincount`` with weights does);
* a new singleton cluster scores ``0.0`` if ``u`` shares its cluster, ``-inf`` otherwise; the
  first maximum wins and a move needs a gain larger than ``tol``.

It is compiled without ``fastmath``, so no operation is reassociated: the labels, the number of
moves and hence every later result are bit-identical to the NumPy sweeps (tested). Time
``O(N K + nnz)`` per sweep with no temporary arrays; memory ``O(r K + block)`` for ``r`` prior
groups and ``K`` clusters.
"""

from __future__ import annotations

import numpy as np

from .._numba import AVAILABLE, lazy_njit

__all__ = ["AVAILABLE", "sweep_counts"]


@lazy_njit(fastmath=False)
def sweep_counts(  # pragma: no cover - compiled
    order: np.ndarray,
    indptr: np.ndarray,
    indices: np.ndarray,
    data: np.ndarray,
    self_term: np.ndarray,
    groups: np.ndarray,
    n_groups: int,
    a: float,
    b: float,
    use_counts: bool,
    labels: np.ndarray,
    n_clusters: int,
    block_size: int,
    tol: float,
) -> int:
    """Sweep ``order`` in blocks of ``block_size``, moving items of ``labels`` (int64, changed in place).

    ``labels`` must use the ids ``0..n_clusters-1`` (each non-empty); new clusters get the next
    ids in the order they open, so ``labels`` is not relabelled here. ``groups[u]`` is ``u``'s
    prior group (read only when ``use_counts``). Returns the number of moves.
    """
    n = order.shape[0]
    cap = n_clusters + min(n, 2 * block_size)
    rows = n_groups if use_counts else 1
    sizes = np.zeros(cap)
    counts = np.zeros((rows, cap))
    for u in range(n):
        sizes[labels[u]] += 1.0
        if use_counts:
            counts[groups[u], labels[u]] += 1.0
    aff = np.empty(cap + 1)
    acc = np.zeros(cap)
    best = np.empty(block_size, np.int64)
    move = np.zeros(block_size, np.bool_)
    n_used = n_clusters
    moves = 0
    for start in range(0, n, block_size):
        stop = min(start + block_size, n)
        if n_used + (stop - start) > cap:  # each block opens at most one cluster per item
            new_cap = max(2 * cap, n_used + (stop - start))
            grown = np.zeros(new_cap)
            grown[:cap] = sizes
            sizes = grown
            grown_counts = np.zeros((rows, new_cap))
            grown_counts[:, :cap] = counts
            counts = grown_counts
            aff = np.empty(new_cap + 1)
            acc = np.zeros(new_cap)
            cap = new_cap
        nk = n_used
        any_move = False
        for i in range(start, stop):
            u = order[i]
            cu = labels[u]
            g = groups[u] if use_counts else 0
            for k in range(nk):
                base = a * counts[g, k] if use_counts else 0.0
                aff[k] = base + b * sizes[k]
                acc[k] = 0.0
            aff[cu] = aff[cu] - self_term[u]
            for p in range(indptr[u], indptr[u + 1]):
                acc[labels[indices[p]]] += data[p]
            for k in range(nk):
                aff[k] = aff[k] + acc[k]
            aff[nk] = 0.0 if sizes[cu] > 1.0 else -np.inf
            top = 0
            top_val = aff[0]
            for k in range(1, nk + 1):
                if aff[k] > top_val:
                    top_val = aff[k]
                    top = k
            j = i - start
            best[j] = top
            move[j] = top_val > aff[cu] + tol and top != cu
            any_move = any_move or move[j]
        if not any_move:
            continue
        for i in range(start, stop):
            j = i - start
            if not move[j]:
                continue
            u = order[i]
            old = labels[u]
            tgt = best[j]
            if tgt == nk:
                tgt = n_used
                n_used += 1
            sizes[old] -= 1.0
            sizes[tgt] += 1.0
            if use_counts:
                counts[groups[u], old] -= 1.0
                counts[groups[u], tgt] += 1.0
            labels[u] = tgt
            moves += 1
    return moves
