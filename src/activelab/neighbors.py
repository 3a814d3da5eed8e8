"""Exact nearest neighbours and k-means on row embeddings, chunked (never N×N in memory).

Two backends compute the same things:

* ``"torch"``: chunked matrix products on CPU (or any torch device for the caller's tensors);
  always available and bit-for-bit deterministic on CPU;
* ``"faiss"``: ``faiss.IndexFlatL2`` / ``faiss.Kmeans`` when ``faiss`` is importable.

``backend="auto"`` uses faiss when it is importable and torch otherwise. Results of
:func:`knn` agree between backends except for *which* of several exactly tied neighbours
fills the last slot (both return rows sorted by ``(distance, index)``, with distances
recomputed exactly as ``‖q - x‖²``). :func:`kmeans` differs between backends only through
their random initialisations; both minimise the same objective (see the tests).

Costs (N rows, M queries, D dims, k neighbours, c clusters, B = ``chunk_size``):

=================  ========================================  ==================================
function           time                                      extra memory
=================  ========================================  ==================================
``knn``            O(M·N·D) (one GEMM per B×B block)         O(B·B) block + O(M·k) result
                                                             (faiss: + a copy of X, N·D float32)
``assign_nearest`` O(N·c·D)                                  O(B·c) + O(N) result
``kmeans``         O(c·log c·S₀·D) seeding                   O(S·D) subsample copy + O(B·c)
                   + O(n_iter·S·c·D) + O(N·c·D) assignment
=================  ========================================  ==================================

S = ``min(N, max_points_per_centroid · c)`` is the number of rows Lloyd's iterations run on,
S₀ = ``min(S, max(10⁴, 3c))`` the number the greedy k-means++ seeding looks at.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import numpy as np
import torch

__all__ = ["IVFIndex", "assign_nearest", "faiss_available", "ivf_knn", "kmeans", "knn", "radius_neighbors", "resolve_knn_search"]

Backend = Literal["auto", "faiss", "torch"]
_BACKENDS = ("auto", "faiss", "torch")


# ----------------------------------------------------------------------------- helpers
def faiss_available() -> bool:
    """Whether ``import faiss`` works (the ``"auto"`` backend then uses it)."""
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


@contextmanager
def _faiss_threads() -> Iterator[None]:
    """Run faiss with torch's intra-op thread count (restored afterwards).

    faiss's OpenMP pool otherwise takes every core; on a shared machine (or inside workers
    that already split the cores) its spinning threads slow it down many times over.
    """
    import faiss
    import torch

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(max(1, torch.get_num_threads()))
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


def _resolve_backend(backend: str) -> str:
    if backend not in _BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(map(repr, _BACKENDS))}, got {backend!r}.")
    if backend == "auto":
        return "faiss" if faiss_available() else "torch"
    if backend == "faiss" and not faiss_available():
        raise ImportError("backend='faiss' needs the faiss package: pip install faiss-cpu, or use backend='torch'.")
    return backend


def _check_int(value: object, name: str, minimum: int) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}.")
    if int(value) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {int(value)}.")
    return int(value)


def _as_rows(x: object, name: str) -> np.ndarray:
    """A C-contiguous float32/float64 2-D array (float32 and float64 are kept without a copy)."""
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_rows, n_dims), got shape {arr.shape}.")
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}.")
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float32)
    if arr.shape[1] == 0:
        raise ValueError(f"{name} needs at least one column, got shape {arr.shape}.")
    return np.ascontiguousarray(arr)


def _sq_norms(arr: np.ndarray, chunk: int) -> np.ndarray:
    """Squared row norms (float64), chunked; raises ValueError when ``arr`` holds NaN/inf."""
    out = np.empty(arr.shape[0], dtype=np.float64)
    for s in range(0, arr.shape[0], chunk):
        block = arr[s : s + chunk].astype(np.float64)
        out[s : s + chunk] = np.einsum("ij,ij->i", block, block)
    if not np.isfinite(out).all():
        bad = int(np.flatnonzero(~np.isfinite(out))[0])
        raise ValueError(f"rows hold NaN/inf values (first in row {bad}); check the embeddings or features.")
    return out


def _exact_sq_dists(q: np.ndarray, x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``‖q_i - x[idx_ij]‖²`` in float64 for a (b, k) index block; memory O(b·D)."""
    out = np.empty(idx.shape, dtype=np.float64)
    qq = q if q.dtype == x.dtype else q.astype(np.float64)
    for j in range(idx.shape[1]):
        diff = qq - x[idx[:, j]]  # the difference in the inputs' precision, summed in float64
        out[:, j] = np.einsum("ij,ij->i", diff, diff, dtype=np.float64)
    return out


def _sort_rows(d: np.ndarray, i: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort every row by (distance, index)."""
    order = np.lexsort((i, d), axis=-1) if d.size else np.zeros(d.shape, dtype=np.int64)
    return np.take_along_axis(d, order, 1), np.take_along_axis(i, order, 1)


def _smallest_k_stable(d: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` smallest entries of every row of ``d``, ties broken by lower column index.

    ``torch.topk`` does not say which of several equal values it keeps at the cut, so rows
    whose (k+1)-th smallest value equals the k-th are redone with a stable sort (rare for
    real data).
    Result sorted by (value, column).
    """
    if d.shape[1] > k:  # a tie at the cut shows as the (k+1)-th value equal to the k-th
        vals, cols = torch.topk(d, k + 1, dim=1, largest=False, sorted=True)
        tied = vals[:, k] == vals[:, k - 1]
        vals, cols = vals[:, :k], cols[:, :k]
    else:
        vals, cols = torch.topk(d, k, dim=1, largest=False, sorted=True)
        tied = torch.zeros(d.shape[0], dtype=torch.bool)
    if bool(tied.any()):
        rows = torch.nonzero(tied).flatten()
        sv, sc = torch.sort(d[rows], dim=1, stable=True)
        vals[rows], cols[rows] = sv[:, :k], sc[:, :k]
    # order by (value, column): sort columns first, then stable sort on the values
    c_order = torch.argsort(cols, dim=1)
    vals, cols = vals.gather(1, c_order), cols.gather(1, c_order)
    v_order = torch.sort(vals, dim=1, stable=True).indices
    return vals.gather(1, v_order), cols.gather(1, v_order)


# ----------------------------------------------------------------------------- kNN
def knn(
    X: np.ndarray,
    k: int,
    *,
    queries: np.ndarray | None = None,
    exclude_self: bool = True,
    chunk_size: int = 4096,
    backend: Backend = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """Exact k nearest neighbours (squared Euclidean distance) of every query among the rows of ``X``.

    Args:
        X: ``(N, D)`` database rows (float32 used without a copy by the torch backend).
        k: Number of neighbours, ``1 <= k <= N`` (``N - 1`` when the query itself is excluded).
        queries: ``(M, D)`` query rows; ``None`` means the rows of ``X`` themselves.
        exclude_self: Only when ``queries`` is None: row ``i`` is not its own neighbour
            (other rows identical to it still are).
        chunk_size: Rows per block B; the torch backend holds one B×B distance block.
        backend: ``"auto"`` (faiss if importable), ``"faiss"`` or ``"torch"``.

    Returns:
        ``(sq_dists, idx)``: ``(M, k)`` float32 squared distances, ascending along each row,
        and ``(M, k)`` int64 row indices into ``X``. Rows are sorted by (distance, index);
        the torch backend keeps the lowest indices among tied distances, faiss may keep
        another of the tied rows in the last slot.

    Raises:
        ValueError: On shape mismatches, NaN/inf rows, or ``k`` out of range.
        ImportError: If ``backend="faiss"`` and faiss is not installed.

    Cost: O(M·N·D) time; O(B²) extra memory (torch) or a float32 copy of ``X`` (faiss),
    plus the ``(M, k)`` result and O(B·D) to recompute the kept distances exactly.

    Example:
        >>> X = np.array([[0.0], [1.0], [3.0], [7.0]], dtype=np.float32)
        >>> d, i = knn(X, 2, backend="torch")
        >>> i.tolist()
        [[1, 2], [0, 2], [1, 0], [2, 1]]
        >>> d[0].tolist()
        [1.0, 9.0]
    """
    x = _as_rows(X, "X")
    n = x.shape[0]
    self_query = queries is None
    q = x if self_query else _as_rows(queries, "queries")
    if q.shape[1] != x.shape[1]:
        raise ValueError(f"queries have {q.shape[1]} columns but X has {x.shape[1]}; they must match.")
    drop_self = self_query and bool(exclude_self)
    k = _check_int(k, "k", 1)
    n_avail = n - 1 if drop_self else n
    if k > n_avail:
        what = f"{n} rows minus the query itself" if drop_self else f"{n} rows"
        raise ValueError(f"k={k} neighbours requested but X has only {what}; lower k.")
    chunk = _check_int(chunk_size, "chunk_size", 1)
    which = _resolve_backend(backend)
    x_sq = _sq_norms(x, chunk)
    q_sq = x_sq if self_query else _sq_norms(q, chunk)
    m = q.shape[0]
    out_d = np.empty((m, k), dtype=np.float32)
    out_i = np.empty((m, k), dtype=np.int64)
    if which == "faiss":
        _knn_faiss(x, q, k, drop_self, chunk, out_d, out_i)
    else:
        _knn_torch(x, x_sq, q, q_sq, k, drop_self, chunk, out_d, out_i)
    return out_d, out_i


def _knn_torch(
    x: np.ndarray,
    x_sq: np.ndarray,
    q: np.ndarray,
    q_sq: np.ndarray,
    k: int,
    drop_self: bool,
    chunk: int,
    out_d: np.ndarray,
    out_i: np.ndarray,
) -> None:
    n, m = x.shape[0], q.shape[0]
    dtype = torch.float64 if x.dtype == np.float64 or q.dtype == np.float64 else torch.float32
    xt = torch.from_numpy(x).to(dtype)
    qt = torch.from_numpy(q).to(dtype)
    xs_t = torch.from_numpy(x_sq).to(dtype)
    qs_t = torch.from_numpy(q_sq).to(dtype)
    inf = float("inf")
    for qs in range(0, m, chunk):
        qe = min(m, qs + chunk)
        qb, qbsq = qt[qs:qe], qs_t[qs:qe]
        best_d = torch.empty((qe - qs, 0), dtype=dtype)
        best_i = torch.empty((qe - qs, 0), dtype=torch.int64)
        for xs in range(0, n, chunk):
            xe = min(n, xs + chunk)
            d = qb @ xt[xs:xe].T
            d.mul_(-2.0).add_(qbsq[:, None]).add_(xs_t[None, xs:xe]).clamp_(min=0.0)
            if drop_self:  # the query rows qs..qe are the database rows qs..qe
                lo, hi = max(qs, xs), min(qe, xe)
                if lo < hi:
                    r = torch.arange(lo, hi)
                    d[r - qs, r - xs] = inf
            vals, cols = _smallest_k_stable(d, min(k, xe - xs))
            # merge: previous blocks hold lower indices, so a stable sort keeps (value, index) order
            cat_d = torch.cat([best_d, vals], 1)
            cat_i = torch.cat([best_i, cols + xs], 1)
            order = torch.sort(cat_d, dim=1, stable=True).indices[:, :k]
            best_d, best_i = cat_d.gather(1, order), cat_i.gather(1, order)
        idx = best_i.numpy()
        exact = _exact_sq_dists(q[qs:qe], x, idx)
        out_d[qs:qe], out_i[qs:qe] = _sort_rows(exact, idx)


def _knn_faiss(
    x: np.ndarray, q: np.ndarray, k: int, drop_self: bool, chunk: int, out_d: np.ndarray, out_i: np.ndarray
) -> None:
    import faiss

    index = faiss.IndexFlatL2(x.shape[1])
    index.add(np.ascontiguousarray(x, dtype=np.float32))
    kk = k + 1 if drop_self else k
    m = q.shape[0]
    for qs in range(0, m, chunk):
        qe = min(m, qs + chunk)
        with _faiss_threads():
            _, idx = index.search(np.ascontiguousarray(q[qs:qe], dtype=np.float32), kk)
        idx = idx.astype(np.int64)
        if drop_self:
            idx = idx[_others(idx, np.arange(qs, qe))].reshape(qe - qs, k)
        exact = _exact_sq_dists(q[qs:qe], x, idx)
        out_d[qs:qe], out_i[qs:qe] = _sort_rows(exact, idx)


# ----------------------------------------------------------------------------- approximate kNN
KnnSearch = Literal["auto", "exact", "ivf"]
EXACT_KNN_BUDGET = 2e12
"""``knn_search="auto"`` searches exactly while N²·D is at most this many multiply-adds
(about a minute per core here: N ≈ 62,000 at D = 512, 200,000 at D = 50) and by IVF above."""


def resolve_knn_search(knn_search: str, n_rows: int, n_dims: int = 1) -> str:
    """``"exact"`` or ``"ivf"`` for a ``knn_search`` option and an ``(n_rows, n_dims)`` array.

    ``"auto"`` is exact while ``n_rows² · n_dims`` is at most :data:`EXACT_KNN_BUDGET`, and
    IVF (:class:`IVFIndex`) above.
    """
    if knn_search not in ("auto", "exact", "ivf"):
        raise ValueError(f"knn_search must be 'auto', 'exact' or 'ivf', got {knn_search!r}.")
    if knn_search == "auto":
        return "ivf" if float(n_rows) * n_rows * max(1, n_dims) > EXACT_KNN_BUDGET else "exact"
    return knn_search


class IVFIndex:
    """Approximate neighbour search over the rows of ``X`` by an inverted file (IVF), in torch.

    The rows are split into ``n_lists`` cells by k-means (:func:`kmeans`, 10 iterations on a
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
        backend: Backend of the cell k-means and the probe search (see :func:`kmeans`).

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
        self.x = _as_rows(X, "X")
        n = self.x.shape[0]
        self.n_probe = _check_int(n_probe, "n_probe", 1)
        self.block = _check_int(block_elements, "block_elements", 1)
        seed = _check_int(seed, "seed", 0)
        self.x_sq = _sq_norms(self.x, 4096)  # NaN/inf check with the row named
        self.n_lists = self.default_lists(n) if n_lists is None else min(_check_int(n_lists, "n_lists", 1), n)
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
        """The default number of cells for ``n_rows`` rows: ``round(2·√N)``, in ``[1, N]``."""
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

        Returns ``(sq_dists, idx)`` as :func:`knn` (rows sorted by (distance, index)). A row
        whose probed cells hold fewer than ``k`` other rows is searched exactly.

        Raises:
            ValueError: If ``k`` is out of range.
        """
        n = self.x.shape[0]
        k = _check_int(k, "k", 1)
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
            sd, nn = knn(self.x, k + 1, queries=self.x[short], backend="torch")
            keep = _others(nn, short)
            best_i[short] = nn[keep].reshape(len(short), k)
            best_d[short] = sd[keep].reshape(len(short), k)
        out_d, out_i = _sort_rows(best_d, best_i)
        return out_d.astype(np.float32), out_i

    def radius_neighbors(
        self, radius: float, *, query_rows: np.ndarray | None = None, max_edges: int = 50_000_000
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows within ``radius`` of each query row found in its probed cells, as :func:`radius_neighbors`.

        The query row itself is always included. Raises ValueError past ``max_edges`` pairs.
        """
        n = self.x.shape[0]
        rows, r2 = _check_radius_query(radius, query_rows, n)
        max_edges = _check_int(max_edges, "max_edges", 0)
        if len(np.unique(rows)) != len(rows):
            raise ValueError("query_rows must not repeat a row for the IVF radius search.")
        slack = _radius_slack(r2, self.x_sq)
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
                keep[near] &= _exact_sq_pairs(self.x, qi[near], ci[near]) <= r2
            total += int(keep.sum())
            if total > max_edges:
                _too_many_edges(radius, max_edges)
            keys.append(pos[qi[keep]] * n + ci[keep])
        key = np.concatenate(keys)
        del keys
        key.sort()
        indptr = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(np.bincount(key // n, minlength=len(rows)), out=indptr[1:])
        key %= n
        return indptr, key


def _nearest_centroids(x: np.ndarray, centroids: np.ndarray, m: int, backend: Backend) -> np.ndarray:
    """The ``m`` nearest centroids of every row, nearest first, ``(N, m)`` int64 (float32 distances).

    Cost: O(N·c·D) time, O(B·c) memory per block of B rows.
    """
    cent = np.ascontiguousarray(centroids, dtype=np.float32)
    out = np.empty((len(x), m), dtype=np.int64)
    if _resolve_backend(backend) == "faiss":
        import faiss

        index = faiss.IndexFlatL2(cent.shape[1])
        index.add(cent)
        for s in range(0, len(x), 65_536):
            with _faiss_threads():
                out[s : s + 65_536] = index.search(np.ascontiguousarray(x[s : s + 65_536], dtype=np.float32), m)[1]
        return out
    ct = torch.from_numpy(cent)
    c_sq = (ct * ct).sum(1)
    for s in range(0, len(x), 4096):
        xb = torch.from_numpy(np.ascontiguousarray(x[s : s + 4096], dtype=np.float32))
        d = c_sq[None, :] - 2.0 * (xb @ ct.T)  # the row's own norm does not change the order
        out[s : s + 4096] = torch.topk(d, m, dim=1, largest=False, sorted=True).indices.numpy()
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
    """Approximate kNN of every row among the others: ``IVFIndex(X, ...).knn(k)`` (see :class:`IVFIndex`)."""
    return IVFIndex(X, seed=seed, n_lists=n_lists, n_probe=n_probe).knn(k)


def _others(idx: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Mask of the ``k + 1`` neighbours of ``rows`` (``idx``, ``(m, k + 1)``) to keep: all but the row itself.

    A row tied with duplicates of itself may be cut off its own list; it then drops the last.
    """
    is_self = idx == rows[:, None]
    is_self[~is_self.any(1), -1] = True
    return ~is_self


def _check_radius_query(radius: float, query_rows: np.ndarray | None, n: int) -> tuple[np.ndarray, float]:
    """(query row indices, squared radius), or a ValueError naming the bad radius or rows."""
    if not np.isfinite(radius) or radius < 0:
        raise ValueError(f"radius must be a finite distance >= 0, got {radius}.")
    rows = np.arange(n) if query_rows is None else np.asarray(query_rows, dtype=np.int64)
    if rows.size and (rows.min() < 0 or rows.max() >= n):
        raise ValueError(f"query_rows must be row indices in [0, {n}).")
    return rows, float(radius) ** 2


def _radius_slack(r2: float, x_sq: np.ndarray) -> float:
    """Margin around ``r2`` within which a block estimate ``‖q‖² - 2 q·x + ‖x‖²`` is rechecked exactly.

    The estimate errs by a few ulps of the squared norms.
    """
    return 1e-4 * r2 + 1e-5 * float(x_sq.max(initial=0.0)) + 1e-12


def _exact_sq_pairs(x: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``‖x[a_i] - x[b_i]‖²`` in float64 for index pairs, in batches of about 4M numbers."""
    out = np.empty(len(a), dtype=np.float64)
    step = max(1, 4_000_000 // max(1, x.shape[1]))
    for s in range(0, len(a), step):
        diff = x[a[s : s + step]].astype(np.float64) - x[b[s : s + step]]
        out[s : s + step] = np.einsum("ij,ij->i", diff, diff)
    return out


def _too_many_edges(radius: float, max_edges: int) -> None:
    raise ValueError(
        f"the radius-{radius:.4g} balls hold more than max_edges={max_edges:,} pairs; "
        "use a smaller radius (for ProbCover: a lower purity or an explicit delta) or raise max_edges."
    )


def radius_neighbors(
    X: np.ndarray,
    radius: float,
    *,
    query_rows: np.ndarray | None = None,
    max_edges: int = 50_000_000,
    chunk_size: int = 4096,
) -> tuple[np.ndarray, np.ndarray]:
    """Every row of ``X`` within Euclidean distance ``radius`` of each query row (itself included).

    Args:
        X: ``(N, D)`` rows.
        radius: Ball radius (>= 0); a row at distance exactly ``radius`` is inside.
        query_rows: Row indices of ``X`` to query (default: all rows).
        max_edges: Refuse (ValueError) to hold more pairs than this; the result is sparse
            only while the balls are small.
        chunk_size: Rows per block B (one B×B distance block is held).

    Returns:
        CSR ``(indptr, cols)``: ``indptr`` ``(M + 1,)`` int64, ``cols`` int64 row indices of
        ``X`` in ascending order within each query. Distances are decided exactly
        (``‖q - x‖²`` recomputed in float64 for the pairs whose fast block estimate lies
        within a float margin of the radius).

    Cost: O(M·N·D) time; O(B² + E) memory for E returned pairs.

    Example:
        >>> indptr, cols = radius_neighbors(np.array([[0.0], [1.0], [3.0]]), 1.0)
        >>> [cols[indptr[i]:indptr[i + 1]].tolist() for i in range(3)]
        [[0, 1], [0, 1], [2]]
    """
    x = _as_rows(X, "X")
    n = x.shape[0]
    rows, r2 = _check_radius_query(radius, query_rows, n)
    chunk = _check_int(chunk_size, "chunk_size", 1)
    max_edges = _check_int(max_edges, "max_edges", 0)
    x_sq = _sq_norms(x, chunk)
    dtype = torch.float64 if x.dtype == np.float64 else torch.float32
    xt = torch.from_numpy(x).to(dtype)
    xs_t = torch.from_numpy(x_sq).to(dtype)
    slack = _radius_slack(r2, x_sq)  # keep a margin around the radius, decide exactly inside it
    counts = np.zeros(len(rows), dtype=np.int64)
    parts: list[np.ndarray] = []
    total = 0
    for qs in range(0, len(rows), chunk):
        q_idx = rows[qs : qs + chunk]
        qb = xt[torch.from_numpy(q_idx)]
        q_sq = xs_t[torch.from_numpy(q_idx)]
        r_parts, c_parts = [], []
        pending = 0
        for xs in range(0, n, chunk):
            d = qb @ xt[xs : xs + chunk].T
            d.mul_(-2.0).add_(q_sq[:, None]).add_(xs_t[None, xs : xs + chunk])
            rr, cc = torch.nonzero(d <= r2 + slack, as_tuple=True)
            if len(rr):
                pending += len(rr)
                if total + pending > 2 * max_edges + chunk:  # stop early: memory stays O(max_edges)
                    _too_many_edges(radius, max_edges)
                rr_np, cc_np = rr.numpy(), cc.numpy() + xs
                near = (d[rr, cc] > r2 - slack).numpy()  # only these need the exact distance
                if near.any():
                    keep = _exact_sq_pairs(x, q_idx[rr_np[near]], cc_np[near]) <= r2
                    drop = np.flatnonzero(near)[~keep]
                    rr_np, cc_np = np.delete(rr_np, drop), np.delete(cc_np, drop)
                r_parts.append(rr_np)
                c_parts.append(cc_np)
        if not r_parts:
            continue
        rr_all, cc_all = np.concatenate(r_parts), np.concatenate(c_parts)
        order = np.argsort(rr_all, kind="stable")  # blocks were visited in column order
        total += len(order)
        if total > max_edges:
            _too_many_edges(radius, max_edges)
        counts[qs : qs + len(q_idx)] = np.bincount(rr_all, minlength=len(q_idx))
        parts.append(cc_all[order])
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    cols = np.concatenate(parts).astype(np.int64) if parts else np.empty(0, dtype=np.int64)
    return indptr, cols


# ----------------------------------------------------------------------------- k-means
def assign_nearest(
    X: np.ndarray, centroids: np.ndarray, *, chunk_size: int = 4096
) -> tuple[np.ndarray, np.ndarray]:
    """Nearest centroid of every row (ties → lowest centroid index) and its squared distance.

    Args:
        X: ``(N, D)`` rows.
        centroids: ``(c, D)`` centres.
        chunk_size: Rows per block; one block of ``(chunk_size, c)`` distances is held.

    Returns:
        ``(labels, sq_dists)``: ``(N,)`` int64 and ``(N,)`` float64 (clamped at 0). The sum of
        ``sq_dists`` is the k-means objective (inertia).

    Cost: O(N·c·D) time, O(chunk_size·c) extra memory.

    Example:
        >>> lab, d = assign_nearest(np.array([[0.0], [4.0]]), np.array([[1.0], [5.0]]))
        >>> lab.tolist(), d.tolist()
        ([0, 1], [1.0, 1.0])
    """
    x = _as_rows(X, "X")
    c = _as_rows(centroids, "centroids")
    if c.shape[1] != x.shape[1]:
        raise ValueError(f"centroids have {c.shape[1]} columns but X has {x.shape[1]}; they must match.")
    if c.shape[0] == 0:
        raise ValueError("centroids must hold at least one row.")
    chunk = _check_int(chunk_size, "chunk_size", 1)
    return _assign(x, _sq_norms(x, chunk), c, chunk)


def _assign(x: np.ndarray, x_sq: np.ndarray, centroids: np.ndarray, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    dtype = torch.float64 if x.dtype == np.float64 else torch.float32
    ct = torch.from_numpy(np.ascontiguousarray(centroids)).to(dtype)
    c_sq = (ct.double() ** 2).sum(1).to(dtype)
    xt = torch.from_numpy(x).to(dtype)
    xs_t = torch.from_numpy(x_sq).to(dtype)
    labels = np.empty(x.shape[0], dtype=np.int64)
    dists = np.empty(x.shape[0], dtype=np.float64)
    for s in range(0, x.shape[0], chunk):
        d = xt[s : s + chunk] @ ct.T
        d.mul_(-2.0).add_(xs_t[s : s + chunk, None]).add_(c_sq[None, :])
        # argmin returns the first minimum (lowest centroid index) on ties
        lab = torch.argmin(d, dim=1)
        labels[s : s + chunk] = lab.numpy()
        dists[s : s + chunk] = d.gather(1, lab[:, None]).squeeze(1).clamp_(min=0.0).double().numpy()
    return labels, dists


def _dists_to(x: np.ndarray, x_sq: np.ndarray, rows: np.ndarray, chunk: int) -> np.ndarray:
    """Squared distances ``(N, len(rows))`` from every row of ``x`` to the rows ``rows`` (float64)."""
    dtype = torch.float64 if x.dtype == np.float64 else torch.float32
    xt = torch.from_numpy(x).to(dtype)
    ct = xt[torch.from_numpy(rows)]
    out = np.empty((x.shape[0], len(rows)), dtype=np.float64)
    for s in range(0, x.shape[0], chunk):
        out[s : s + chunk] = (xt[s : s + chunk] @ ct.T).double().numpy()
    out *= -2.0
    out += x_sq[:, None]
    out += x_sq[rows][None, :]
    np.maximum(out, 0.0, out=out)
    return out


_INIT_SIZE = 10_000  # rows the seeding looks at (at least 3·c): seeding is c passes over them


def _kmeanspp(x: np.ndarray, x_sq: np.ndarray, c: int, rng: np.random.Generator, chunk: int) -> np.ndarray:
    """Greedy k-means++ seeding: per centre, ``2 + ln c`` D²-sampled trials, the one lowering the
    potential most is kept (Arthur & Vassilvitskii 2007, sec. 6). Returns (c, D) float64 centres.

    Above ``max(_INIT_SIZE, 3·c)`` rows the seeds are drawn from a random subsample of that
    many rows (as scikit-learn's MiniBatchKMeans does); Lloyd's iterations then use all rows.

    Cost: c passes over min(N, max(10⁴, 3c)) rows, each with 2 + ln c columns:
    O(c·log c·min(N, max(10⁴, 3c))·D); memory O(that many rows × (D + 2 + ln c)).
    """
    size = max(_INIT_SIZE, 3 * c)
    if x.shape[0] > size:
        sub = np.sort(rng.choice(x.shape[0], size=size, replace=False))
        x, x_sq = np.ascontiguousarray(x[sub]), x_sq[sub]
    n = x.shape[0]
    n_trials = 2 + int(np.log(c))
    centres = [int(rng.integers(n))]
    min_d = _dists_to(x, x_sq, np.asarray(centres), chunk)[:, 0]
    for _ in range(1, c):
        min_d[centres] = 0.0
        cum = np.cumsum(min_d)
        total = cum[-1]
        if total <= 0.0:  # every row coincides with a centre: pick uniformly among the others
            free = np.setdiff1d(np.arange(n), centres)
            j = int(rng.choice(free))
            centres.append(j)
            np.minimum(min_d, _dists_to(x, x_sq, np.asarray([j]), chunk)[:, 0], out=min_d)
            continue
        trials = np.minimum(np.searchsorted(cum, rng.random(n_trials) * total, side="right"), n - 1)
        d = _dists_to(x, x_sq, trials, chunk)
        np.minimum(d, min_d[:, None], out=d)
        best = int(np.argmin(d.sum(0)))
        centres.append(int(trials[best]))
        min_d = d[:, best].copy()
    return x[np.asarray(centres)].astype(np.float64)


def _lloyd_torch(
    x: np.ndarray, x_sq: np.ndarray, c: int, rng: np.random.Generator, n_iter: int, chunk: int
) -> tuple[np.ndarray, float]:
    """One k-means run (k-means++ then Lloyd); returns (centroids float64, inertia)."""
    n, dim = x.shape
    cent = _kmeanspp(x, x_sq, c, rng, chunk)
    xt = torch.from_numpy(x)
    labels, dists = _assign(x, x_sq, cent, chunk)
    for _ in range(n_iter):
        sums = torch.zeros((c, dim), dtype=torch.float64)
        for s in range(0, n, chunk):
            sums.index_add_(0, torch.from_numpy(labels[s : s + chunk]), xt[s : s + chunk].double())
        counts = np.bincount(labels, minlength=c)
        new = sums.numpy()
        nonempty = counts > 0
        new[nonempty] /= counts[nonempty, None]
        empty = np.flatnonzero(~nonempty)
        if len(empty):  # re-seed each empty cluster at a row far from its centre (deterministic)
            far = np.argsort(-dists, kind="stable")[: len(empty)]
            new[empty] = x[far]
        new_labels, dists = _assign(x, x_sq, new, chunk)
        cent = new
        if np.array_equal(new_labels, labels) and not len(empty):
            labels = new_labels
            break
        labels = new_labels
    return cent, float(dists.sum())


def kmeans(
    X: np.ndarray,
    n_clusters: int,
    *,
    rng: np.random.Generator,
    n_iter: int = 20,
    n_init: int = 1,
    max_points_per_centroid: int | None = 256,
    chunk_size: int = 4096,
    backend: Backend = "auto",
) -> tuple[np.ndarray, np.ndarray]:
    """k-means (squared Euclidean) with greedy k-means++ seeding; labels for every row.

    The torch backend runs greedy k-means++ then Lloyd's iterations (chunked assignments; an empty
    cluster is re-seeded at the row farthest from its centre, deterministically), stopping
    early when no label changes; ``n_init`` runs, the lowest objective kept. The faiss
    backend runs ``faiss.Kmeans`` from the same greedy k-means++ seeds (faiss splits large
    clusters to fill empty ones). Both run the iterations on a
    random subsample of at most ``max_points_per_centroid · n_clusters`` rows (faiss's own
    default rule; ``None`` = all rows) and then assign every row to its nearest centroid.
    A returned cluster can be empty in rare cases (two centroids that converge together).

    Args:
        X: ``(N, D)`` rows.
        n_clusters: ``1 <= c <= N``.
        rng: Generator for the seeding and the subsample (same rng state → same result).
        n_iter: Lloyd iterations per run.
        n_init: Independent runs; the lowest objective wins.
        max_points_per_centroid: Subsample cap per cluster for the iterations, or None.
        chunk_size: Rows per block of the assignments.
        backend: ``"auto"``, ``"faiss"`` or ``"torch"``.

    Returns:
        ``(labels, centroids)``: ``(N,)`` int64 in ``[0, c)`` and ``(c, D)`` float32.

    Cost: S = min(N, max_points_per_centroid·c) rows: O(c·log c·min(S, max(10⁴, 3c))·D) seeding,
    O(n_init·n_iter·S·c·D) iterations, O(N·c·D) final assignment; extra memory O(S·D) for
    the subsample copy (none when S = N and X is float32/float64) plus O(chunk_size·c + N).

    Example:
        >>> X = np.array([[0.0], [0.1], [5.0], [5.1]])
        >>> lab, cen = kmeans(X, 2, rng=np.random.default_rng(0), backend="torch")
        >>> bool(lab[0] == lab[1] != lab[2] == lab[3])
        True
    """
    x = _as_rows(X, "X")
    n = x.shape[0]
    c = _check_int(n_clusters, "n_clusters", 1)
    if c > n:
        raise ValueError(f"n_clusters={c} exceeds the {n} rows of X; lower n_clusters.")
    n_iter = _check_int(n_iter, "n_iter", 0)
    n_init = _check_int(n_init, "n_init", 1)
    chunk = _check_int(chunk_size, "chunk_size", 1)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}; use np.random.default_rng(seed).")
    which = _resolve_backend(backend)
    x_sq = _sq_norms(x, chunk)
    if max_points_per_centroid is not None:
        cap = _check_int(max_points_per_centroid, "max_points_per_centroid", 1) * c
    else:
        cap = n
    if cap < n:
        sub = np.sort(rng.choice(n, size=cap, replace=False))
        xs, xs_sq = x[sub], x_sq[sub]
    else:
        xs, xs_sq = x, x_sq
    if which == "faiss":
        cent = _kmeans_faiss(xs, xs_sq, c, rng, n_iter, n_init, chunk)
    else:
        cent, best_obj = _lloyd_torch(xs, xs_sq, c, rng, n_iter, chunk)
        for _ in range(n_init - 1):
            cent_r, obj = _lloyd_torch(xs, xs_sq, c, rng, n_iter, chunk)
            if obj < best_obj:
                cent, best_obj = cent_r, obj
    cent32 = cent.astype(np.float32)
    labels, _ = _assign(x, x_sq, cent32 if x.dtype == np.float32 else cent, chunk)
    return labels, cent32


def _kmeans_faiss(
    x: np.ndarray, x_sq: np.ndarray, c: int, rng: np.random.Generator, n_iter: int, n_init: int, chunk: int
) -> np.ndarray:
    """faiss Lloyd iterations from our greedy k-means++ seeds; the lowest objective of ``n_init`` runs."""
    import faiss

    x32 = np.ascontiguousarray(x, dtype=np.float32)
    best: tuple[np.ndarray, float] | None = None
    for _ in range(n_init):
        init = _kmeanspp(x, x_sq, c, rng, chunk).astype(np.float32)
        if n_iter == 0:
            cent = init.astype(np.float64)
        else:
            km = faiss.Kmeans(
                x.shape[1], c, niter=n_iter, nredo=1, seed=int(rng.integers(0, 2**31 - 1)), verbose=False,
                min_points_per_centroid=1,  # no "please provide at least ..." warnings on small inputs
                max_points_per_centroid=max(1, x.shape[0]),  # the caller subsamples
            )
            with _faiss_threads():
                km.train(x32, init_centroids=init)
            cent = np.asarray(km.centroids, dtype=np.float64)
        obj = float(_assign(x, x_sq, cent, chunk)[1].sum())
        if best is None or obj < best[1]:
            best = (cent, obj)
    if best is None:  # n_init >= 1 is checked by the caller
        raise RuntimeError("internal error: no k-means run.")
    return best[0]
