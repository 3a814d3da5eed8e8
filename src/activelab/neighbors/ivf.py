"""Approximate neighbour search by an inverted file (IVF): k-means cells, one matrix product per cell.

:class:`IVFIndex` splits the rows into cells with :func:`~activelab.neighbors.kmeans.kmeans` and
compares each query only with the rows of its ``n_probe`` nearest cells, for kNN
(:meth:`IVFIndex.knn`, :func:`ivf_knn`) and radius balls (:meth:`IVFIndex.radius_neighbors`).
:func:`resolve_knn_search` decides when ``knn_search="auto"`` switches from the exact search
(:func:`~activelab.neighbors.exact.knn`) to IVF.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import numpy as np
import torch

from .backends import Backend, faiss_threads, resolve_backend, sklearn_threads
from .exact import (
    as_rows,
    check_int,
    check_radius_query,
    exact_sq_pairs,
    knn_torch,
    not_self_mask,
    radius_slack,
    sort_rows,
    sq_norms,
    too_many_edges_error,
)
from .kmeans import kmeans

__all__ = ["EXACT_KNN_BUDGET", "IVFIndex", "KnnSearch", "ivf_knn", "resolve_knn_search"]

KnnSearch = Literal["auto", "exact", "ivf"]
EXACT_KNN_BUDGET = 2e12
"""``knn_search="auto"`` searches exactly while N²·D is at most this many multiply-adds
(about a minute per core here: N ≈ 62,000 at D = 512, 200,000 at D = 50) and by IVF above."""


def resolve_knn_search(knn_search: str, n_rows: int, n_dims: int = 1) -> str:
    """``"exact"`` or ``"ivf"`` for a ``knn_search`` option and an ``(n_rows, n_dims)`` array.

    ``"auto"`` is exact while ``n_rows² · n_dims`` is at most :data:`EXACT_KNN_BUDGET`, and
    IVF (:class:`IVFIndex`) above.

    Raises:
        ValueError: For a name other than ``"auto"``, ``"exact"`` or ``"ivf"``.

    Cost: O(1) time and memory.

    Example:
        >>> resolve_knn_search("auto", 1000, 64)
        'exact'
    """
    if knn_search not in ("auto", "exact", "ivf"):
        raise ValueError(f"knn_search must be 'auto', 'exact' or 'ivf', got {knn_search!r}.")
    if knn_search == "auto":
        return "ivf" if float(n_rows) * n_rows * max(1, n_dims) > EXACT_KNN_BUDGET else "exact"
    return knn_search


class IVFIndex:
    """Approximate neighbour search over the rows of ``X`` by an inverted file (IVF), in torch.

    The rows are split into ``n_lists`` cells by k-means (:func:`~activelab.neighbors.kmeans.kmeans`, 10 iterations on a
    seeded subsample of at most 64 rows per cell); a query is compared only with the rows of
    the ``n_probe`` cells whose centroids are nearest to it. The search runs cell by cell:
    all queries that probe a cell meet the cell's rows in one matrix product (BLAS speed,
    unlike a per-query scan). For kNN the cells are visited in probe order (every query's
    own cell first), so later cells only touch the queries they can still improve.
    Neighbours in unprobed cells are missed, so recall is below 1
    (``benchmarks/_speed_coldstart.py`` prints it against the exact search). Distances are
    the block estimates ``‖q‖² - 2 q·x + ‖x‖²`` in the rows' precision (clamped at 0; for
    float32 a relative error of about 1e-6 of the squared norms); the radius search decides
    pairs near the boundary on the distance recomputed in float64.

    Args:
        X: ``(N, D)`` rows.
        seed: Seed of the cell k-means (same seed, same rows → same results).
        n_lists: Number of cells; default :meth:`default_lists` (``round(2·√N)``).
        n_probe: Cells searched per query; more is slower and closer to exact.
        block_elements: Largest query × cell-row distance block held at once.
        backend: Backend of the cell k-means and the probe search (see :func:`~activelab.neighbors.kmeans.kmeans`).

    Raises:
        ValueError: On bad shapes, NaN/inf rows or bad parameters.

    Cost: O(10·64·n_lists²·D) to train the cells and O(N·n_lists·D) to find every row's
    probed cells; a search then costs Σ over cells of (queries probing it) × (its rows) × D,
    about N·n_probe·(N/n_lists)·D = N^1.5·D·n_probe/2 for balanced cells (the exact search
    is N²·D). Memory: a copy of the rows in cell order (N·D), O(N·n_probe) probe lists, one block.
    """

    def __init__(
        self,
        X: np.ndarray,
        *,
        seed: int,
        n_lists: int | None = None,
        n_probe: int = 16,
        block_elements: int = 1 << 22,
        backend: Backend = "auto",
    ) -> None:
        self.x = as_rows(X, "X")
        n = self.x.shape[0]
        self.n_probe = check_int(n_probe, "n_probe", 1)
        self.block = check_int(block_elements, "block_elements", 1)
        seed = check_int(seed, "seed", 0)
        self.x_sq = sq_norms(self.x, 4096)  # NaN/inf check with the row named
        self.n_lists = self.default_lists(n) if n_lists is None else min(check_int(n_lists, "n_lists", 1), n)
        rng = np.random.default_rng(seed)
        sample = np.sort(rng.choice(n, size=min(n, 64 * self.n_lists), replace=False))
        _, self.centroids = kmeans(
            self.x[sample], self.n_lists, rng=rng, n_iter=10, max_points_per_centroid=None, backend=backend
        )
        probe = min(self.n_probe, self.n_lists)
        self.probes = _nearest_centroids(self.x, self.centroids, probe, backend)  # (N, probe), nearest first
        # cell c holds the rows whose nearest centroid is c, stored contiguously in cell order
        self._cell_ptr, self._cell_rows = _csr_of(self.probes[:, 0], self.n_lists)
        self._pos = np.empty(n, dtype=np.int64)
        self._pos[self._cell_rows] = np.arange(n)  # a row's position in the cell-ordered copy
        self._xt = torch.from_numpy(self.x)
        self._xs = torch.from_numpy(self.x_sq).to(self._xt.dtype)
        self._xc = self._xt[torch.from_numpy(self._cell_rows)]
        self._xc_sq = self._xs[torch.from_numpy(self._cell_rows)]

    @staticmethod
    def default_lists(n_rows: int) -> int:
        """The default number of cells for ``n_rows`` rows: ``round(2·√N)``, in ``[1, N]``. Cost: O(1)."""
        return max(1, min(int(round(2 * np.sqrt(n_rows))), n_rows))

    def _blocks(self, queries_of: tuple[np.ndarray, np.ndarray], width: int) -> Iterator[tuple[np.ndarray, int, int, np.ndarray]]:
        """(queries, cell start, cell end, squared distances) for every cell and block of its queries."""
        ptr, qrows = queries_of
        for c in range(self.n_lists):
            a, b = int(self._cell_ptr[c]), int(self._cell_ptr[c + 1])
            queries = qrows[ptr[c] : ptr[c + 1]]
            if a == b or not len(queries):
                continue
            xr, xr_sq = self._xc[a:b], self._xc_sq[a:b]
            step = max(1, self.block // (b - a + width))
            for s in range(0, len(queries), step):
                q = queries[s : s + step]
                qt = torch.from_numpy(q)
                d = self._xt[qt] @ xr.T
                d.mul_(-2.0).add_(self._xs[qt][:, None]).add_(xr_sq[None, :]).clamp_(min=0.0)
                yield q, a, b, d.numpy()

    def knn(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """``k`` approximate nearest neighbours of every row among the others.

        A row whose probed cells hold fewer than ``k`` other rows is searched exactly.

        Args:
            k: Number of neighbours, ``1 <= k <= N - 1``.

        Returns:
            ``(sq_dists, idx)`` as :func:`~activelab.neighbors.exact.knn`: ``(N, k)`` float32
            and ``(N, k)`` int64, rows sorted by (distance, index).

        Raises:
            ValueError: If ``k`` is out of range.

        Cost: about N·n_probe·(N/n_lists)·D time for balanced cells (see the class);
        O(N·k) memory for the lists plus one distance block.
        """
        n = self.x.shape[0]
        k = check_int(k, "k", 1)
        if k > n - 1:
            raise ValueError(f"k={k} neighbours requested but X has only {n} rows minus the query itself; lower k.")
        best_d = np.full((n, k), np.inf, dtype=self.x.dtype)
        best_i = np.full((n, k), -1, dtype=np.int64)  # an unsorted set of the k best so far
        for rank in range(self.probes.shape[1]):
            for q, a, b, d in self._blocks(_csr_of(self.probes[:, rank], self.n_lists), k):
                if rank == 0:  # the query's own cell: not its own neighbour
                    d[np.arange(len(q)), self._pos[q] - a] = np.inf
                else:  # only queries with a row closer than their current k-th best
                    hit = (d < best_d[q].max(1)[:, None]).any(1)
                    q, d = q[hit], d[hit]
                    if not len(q):
                        continue
                cat_d = np.concatenate([best_d[q], d], 1)
                cat_i = np.concatenate([best_i[q], np.broadcast_to(self._cell_rows[a:b], d.shape)], 1)
                part = np.argpartition(cat_d, k - 1, axis=1)[:, :k]
                best_d[q] = np.take_along_axis(cat_d, part, 1)
                best_i[q] = np.take_along_axis(cat_i, part, 1)
        short = np.flatnonzero(~np.isfinite(best_d).all(1))
        if len(short):  # fewer than k other rows in the probed cells: search these rows exactly
            sd, nn = knn_torch(self.x, k + 1, queries=self.x[short])
            keep = not_self_mask(nn, short)
            best_i[short] = nn[keep].reshape(len(short), k)
            best_d[short] = sd[keep].reshape(len(short), k)
        out_d, out_i = sort_rows(best_d, best_i)
        return out_d.astype(np.float32), out_i

    def radius_neighbors(
        self, radius: float, *, query_rows: np.ndarray | None = None, max_edges: int = 50_000_000
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows within ``radius`` of each query row found in its probed cells, as :func:`radius_neighbors`.

        The query row itself is always included.

        Args:
            radius: Ball radius (>= 0); a row at distance exactly ``radius`` is inside.
            query_rows: Distinct row indices to query (default: all rows).
            max_edges: Refuse (ValueError) to hold more pairs than this.

        Returns:
            CSR ``(indptr, cols)`` as :func:`~activelab.neighbors.exact.radius_neighbors`:
            ``(M + 1,)`` int64 and int64 row indices, ascending within each query.

        Raises:
            ValueError: On a bad radius, repeated or out-of-range rows, or past ``max_edges`` pairs.

        Cost: about M·n_probe·(N/n_lists)·D time for balanced cells; O(E) memory for E pairs
        (8 bytes each while collecting) plus one distance block.
        """
        n = self.x.shape[0]
        rows, r2 = check_radius_query(radius, query_rows, n)
        max_edges = check_int(max_edges, "max_edges", 0)
        if len(np.unique(rows)) != len(rows):
            raise ValueError("query_rows must not repeat a row for the IVF radius search.")
        slack = radius_slack(r2, self.x_sq)
        probes = self.probes[rows]
        ptr, flat = _csr_of(probes.reshape(-1), self.n_lists, repeat=probes.shape[1])
        pos = np.empty(n, dtype=np.int64)
        pos[rows] = np.arange(len(rows))  # a query's place in query_rows
        # pairs as one int64 key (query place · N + row), 8 bytes per pair while collecting
        keys = [pos[rows] * n + rows]  # every row is in its own ball
        total = len(rows)
        for q, a, _, d in self._blocks((ptr, rows[flat]), 0):
            rr, cc = np.nonzero(d <= r2 + slack)
            if not len(rr):
                continue
            qi, ci = q[rr], self._cell_rows[a + cc]
            near = d[rr, cc] > r2 - slack
            keep = qi != ci
            if near.any():
                keep[near] &= exact_sq_pairs(self.x, qi[near], ci[near]) <= r2
            total += int(keep.sum())
            if total > max_edges:
                raise too_many_edges_error(radius, max_edges)
            keys.append(pos[qi[keep]] * n + ci[keep])
        key = np.concatenate(keys)
        del keys
        key.sort()
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(np.bincount(key // n, minlength=len(rows)), out=indptr[1:])
        key %= n
        return indptr, key


def _nearest_centroids(x: np.ndarray, centroids: np.ndarray, m: int, backend: Backend) -> np.ndarray:
    """The ``m`` nearest centroids of every row, nearest first, ``(N, m)`` int64 (float32 rows and centroids).

    Cost: O(N·c·D) time, O(B·c) memory per block of B rows.
    """
    cent = np.ascontiguousarray(centroids, dtype=np.float32)
    out = np.empty((len(x), m), dtype=np.int64)
    if resolve_backend(backend) == "faiss":
        import faiss

        index = faiss.IndexFlatL2(cent.shape[1])
        index.add(cent)
        for s in range(0, len(x), 65_536):
            with faiss_threads():
                out[s : s + 65_536] = index.search(np.ascontiguousarray(x[s : s + 65_536], dtype=np.float32), m)[1]
        return out
    from sklearn.neighbors import NearestNeighbors

    index = NearestNeighbors(n_neighbors=m, algorithm="brute").fit(cent)
    with sklearn_threads():
        for s in range(0, len(x), 65_536):
            xb = np.ascontiguousarray(x[s : s + 65_536], dtype=np.float32)
            out[s : s + 65_536] = index.kneighbors(xb, return_distance=False)
    return out


def _csr_of(cells: np.ndarray, n_cells: int, repeat: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """CSR (ptr, rows) grouping positions of ``cells`` by cell; position p belongs to row p // repeat."""
    order = np.argsort(cells, kind="stable")
    ptr = np.zeros(n_cells + 1, dtype=np.int64)
    np.cumsum(np.bincount(cells, minlength=n_cells), out=ptr[1:])
    return ptr, (order // repeat).astype(np.int64)


def ivf_knn(
    X: np.ndarray, k: int, *, seed: int, n_lists: int | None = None, n_probe: int = 16
) -> tuple[np.ndarray, np.ndarray]:
    """Approximate kNN of every row among the others: ``IVFIndex(X, ...).knn(k)`` (see :class:`IVFIndex`).

    Args:
        X: ``(N, D)`` rows.
        k: Number of neighbours, ``1 <= k <= N - 1``.
        seed: Seed of the cell k-means.
        n_lists: Number of cells (default ``round(2·√N)``).
        n_probe: Cells searched per query.

    Returns:
        ``(sq_dists, idx)``: ``(N, k)`` float32 and ``(N, k)`` int64, rows sorted by (distance, index).

    Cost: building the index plus :meth:`IVFIndex.knn` (see :class:`IVFIndex`).
    """
    return IVFIndex(X, seed=seed, n_lists=n_lists, n_probe=n_probe).knn(k)
