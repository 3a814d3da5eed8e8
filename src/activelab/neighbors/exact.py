"""Exact k nearest neighbours, radius balls and nearest-centroid assignment, chunked (never N×N).

:func:`knn` runs on faiss (``faiss.IndexFlatL2``) or scikit-learn
(``NearestNeighbors(algorithm="brute")``), see :mod:`activelab.neighbors.backends`. Both return
rows sorted by ``(distance, index)`` with distances recomputed exactly as ``‖q - x‖²``; they
differ only in *which* of several exactly tied neighbours fills the last slot.
:func:`knn_torch` is the same search by chunked torch matrix products with ties broken by the
lowest row index; it is slower than both libraries and stays only because
:class:`~activelab.neighbors.ivf.IVFIndex` fixes its results with it.
:func:`radius_neighbors` and :func:`assign_nearest` run on torch.

The public helpers below (input checks, exact distances, row sorting) are shared with
:mod:`activelab.neighbors.ivf` and :mod:`activelab.neighbors.kmeans`.

Costs (N rows, M queries, D dims, k neighbours, c centroids, B = ``chunk_size``):

=====================  ========================  ==================================
function               time                      extra memory
=====================  ========================  ==================================
``knn``                O(M·N·D)                  O(M·k) result + library blocks
                                                 (faiss: + a copy of X, N·D float32)
``knn_torch``          O(M·N·D)                  O(B·B) block + O(M·k) result
``radius_neighbors``   O(M·N·D)                  O(B·B) block + O(E) for E pairs
``assign_nearest``     O(N·c·D)                  O(B·c) + O(N) result
=====================  ========================  ==================================
"""

from __future__ import annotations

import numbers

import numpy as np
import torch

from .backends import Backend, faiss_threads, resolve_backend, sklearn_threads

__all__ = [
    "as_rows",
    "assign_nearest",
    "assign_rows",
    "check_int",
    "check_radius_query",
    "exact_sq_pairs",
    "knn",
    "knn_torch",
    "not_self_mask",
    "radius_neighbors",
    "radius_slack",
    "sort_rows",
    "sq_norms",
    "too_many_edges_error",
]


# ----------------------------------------------------------------------------- shared helpers
def check_int(value: object, name: str, minimum: int) -> int:
    """``value`` as an int, or an error naming the option ``name`` and the bad value.

    Args:
        value: The option's value (an integral number; bools are refused).
        name: The option's name, used in the error message.
        minimum: Smallest accepted value.

    Returns:
        ``int(value)``.

    Raises:
        TypeError: If ``value`` is not an integral number.
        ValueError: If ``value < minimum``.

    Cost: O(1) time and memory.
    """
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}.")
    if int(value) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {int(value)}.")
    return int(value)


def as_rows(x: object, name: str) -> np.ndarray:
    """A C-contiguous float32/float64 2-D array (float32 and float64 are kept without a copy).

    Args:
        x: ``(n_rows, n_dims)`` array-like of real numbers; other dtypes become float32.
        name: The argument's name, used in error messages.

    Returns:
        ``(n_rows, n_dims)`` float32 or float64 C-contiguous array.

    Raises:
        ValueError: If ``x`` is not 2-D or has no column.
        TypeError: If ``x`` is not real numeric.

    Cost: O(1) for C-contiguous float32/float64 input, else O(n_rows·n_dims) time and memory.
    """
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


def sq_norms(arr: np.ndarray, chunk: int) -> np.ndarray:
    """Squared row norms in float64, chunked; raises ValueError when ``arr`` holds NaN/inf.

    Args:
        arr: ``(N, D)`` rows.
        chunk: Rows converted to float64 at a time.

    Returns:
        ``(N,)`` float64 squared norms.

    Raises:
        ValueError: Naming the first row that holds NaN/inf.

    Cost: O(N·D) time, O(chunk·D) extra memory plus the ``(N,)`` result.
    """
    out = np.empty(arr.shape[0], dtype=np.float64)
    for s in range(0, arr.shape[0], chunk):
        block = arr[s : s + chunk].astype(np.float64)
        out[s : s + chunk] = np.einsum("ij,ij->i", block, block)
    if not np.isfinite(out).all():
        bad = int(np.flatnonzero(~np.isfinite(out))[0])
        raise ValueError(f"rows hold NaN/inf values (first in row {bad}); check the embeddings or features.")
    return out


def sort_rows(d: np.ndarray, i: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort every row of a neighbour list by (distance, index).

    Args:
        d: ``(M, k)`` distances.
        i: ``(M, k)`` indices.

    Returns:
        ``(d, i)`` reordered within each row, same shapes and dtypes.

    Cost: O(M·k·log k) time, O(M·k) memory.
    """
    order = np.lexsort((i, d), axis=-1) if d.size else np.zeros(d.shape, dtype=np.int64)
    return np.take_along_axis(d, order, 1), np.take_along_axis(i, order, 1)


def not_self_mask(idx: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Mask of the ``k + 1`` neighbours of ``rows`` to keep: all but the row itself.

    A row tied with duplicates of itself may be cut off its own list; it then drops the last.

    Args:
        idx: ``(m, k + 1)`` neighbour indices of the query rows.
        rows: ``(m,)`` the query rows' own indices.

    Returns:
        ``(m, k + 1)`` bool mask with exactly ``k`` True per row.

    Cost: O(m·k) time and memory.
    """
    is_self = idx == rows[:, None]
    is_self[~is_self.any(1), -1] = True
    others: np.ndarray = ~is_self
    return others


def check_radius_query(radius: float, query_rows: np.ndarray | None, n: int) -> tuple[np.ndarray, float]:
    """(query row indices, squared radius) of a radius search over ``n`` rows.

    Args:
        radius: Ball radius, finite and ``>= 0``.
        query_rows: Row indices to query, or None for all ``n`` rows.
        n: Number of rows searched.

    Returns:
        ``(rows, radius²)``: ``(M,)`` int64 row indices and a float.

    Raises:
        ValueError: Naming the bad radius or the allowed row range.

    Cost: O(M) time and memory.
    """
    if not np.isfinite(radius) or radius < 0:
        raise ValueError(f"radius must be a finite distance >= 0, got {radius}.")
    rows = np.arange(n) if query_rows is None else np.asarray(query_rows, dtype=np.int64)
    if rows.size and (rows.min() < 0 or rows.max() >= n):
        raise ValueError(f"query_rows must be row indices in [0, {n}).")
    return rows, float(radius) ** 2


def radius_slack(r2: float, x_sq: np.ndarray) -> float:
    """Margin around ``r2`` within which a block estimate ``‖q‖² - 2 q·x + ‖x‖²`` is rechecked exactly.

    The estimate errs by a few ulps of the squared norms.

    Args:
        r2: Squared radius.
        x_sq: ``(N,)`` squared row norms.

    Returns:
        The margin (a float > 0).

    Cost: O(N) time, O(1) memory.
    """
    return 1e-4 * r2 + 1e-5 * float(x_sq.max(initial=0.0)) + 1e-12


def exact_sq_pairs(x: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``‖x[a_i] - x[b_i]‖²`` in float64 for index pairs, in batches of about 4M numbers.

    Args:
        x: ``(N, D)`` rows.
        a: ``(P,)`` row indices.
        b: ``(P,)`` row indices.

    Returns:
        ``(P,)`` float64 squared distances.

    Cost: O(P·D) time, O(4·10⁶) floats of extra memory plus the ``(P,)`` result.
    """
    out = np.empty(len(a), dtype=np.float64)
    step = max(1, 4_000_000 // max(1, x.shape[1]))
    for s in range(0, len(a), step):
        diff = x[a[s : s + step]].astype(np.float64) - x[b[s : s + step]]
        out[s : s + step] = np.einsum("ij,ij->i", diff, diff)
    return out


def too_many_edges_error(radius: float, max_edges: int) -> ValueError:
    """The error a radius search raises when its balls hold more than ``max_edges`` pairs.

    Cost: O(1).
    """
    return ValueError(
        f"the radius-{radius:.4g} balls hold more than max_edges={max_edges:,} pairs; "
        "use a smaller radius (for ProbCover: a lower purity or an explicit delta) or raise max_edges."
    )


def _exact_sq_dists(q: np.ndarray, x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``‖q_i - x[idx_ij]‖²`` in float64 for a (b, k) index block; memory O(b·D)."""
    out = np.empty(idx.shape, dtype=np.float64)
    qq = q if q.dtype == x.dtype else q.astype(np.float64)
    for j in range(idx.shape[1]):
        diff = qq - x[idx[:, j]]  # the difference in the inputs' precision, summed in float64
        out[:, j] = np.einsum("ij,ij->i", diff, diff, dtype=np.float64)
    return out


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
def _knn_inputs(
    X: np.ndarray, k: int, queries: np.ndarray | None, exclude_self: bool, chunk_size: int
) -> tuple[np.ndarray, np.ndarray, int, bool, int, np.ndarray, np.ndarray]:
    """Checked ``(x, q, k, drop_self, chunk, x_sq, q_sq)`` of a kNN call (see :func:`knn` for the errors)."""
    x = as_rows(X, "X")
    n = x.shape[0]
    self_query = queries is None
    q = x if self_query else as_rows(queries, "queries")
    if q.shape[1] != x.shape[1]:
        raise ValueError(f"queries have {q.shape[1]} columns but X has {x.shape[1]}; they must match.")
    drop_self = self_query and bool(exclude_self)
    k = check_int(k, "k", 1)
    n_avail = n - 1 if drop_self else n
    if k > n_avail:
        what = f"{n} rows minus the query itself" if drop_self else f"{n} rows"
        raise ValueError(f"k={k} neighbours requested but X has only {what}; lower k.")
    chunk = check_int(chunk_size, "chunk_size", 1)
    x_sq = sq_norms(x, chunk)
    q_sq = x_sq if self_query else sq_norms(q, chunk)
    return x, q, k, drop_self, chunk, x_sq, q_sq


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
        X: ``(N, D)`` database rows.
        k: Number of neighbours, ``1 <= k <= N`` (``N - 1`` when the query itself is excluded).
        queries: ``(M, D)`` query rows; ``None`` means the rows of ``X`` themselves.
        exclude_self: Only when ``queries`` is None: row ``i`` is not its own neighbour
            (other rows identical to it still are).
        chunk_size: Queries per library call B (bounds the candidate lists held at once).
        backend: ``"auto"`` (faiss if importable, else scikit-learn), ``"faiss"`` or ``"sklearn"``.

    Returns:
        ``(sq_dists, idx)``: ``(M, k)`` float32 squared distances, ascending along each row,
        and ``(M, k)`` int64 row indices into ``X``. Rows are sorted by (distance, index);
        among several rows tied at the k-th distance either library may keep any
        (:func:`knn_torch` keeps the lowest indices).

    Raises:
        ValueError: On shape mismatches, NaN/inf rows, ``k`` out of range or an unknown backend.
        ImportError: If ``backend="faiss"`` and faiss is not installed.

    Cost: O(M·N·D) time; extra memory O(M·k) for the result, O(B·D) to recompute the kept
    distances exactly, plus the library's blocks (scikit-learn: a few MB; faiss: a float32
    copy of ``X``). See ``docs/benchmarks.md`` for measured times.

    Example:
        >>> X = np.array([[0.0], [1.0], [3.0], [7.0]], dtype=np.float32)
        >>> d, i = knn(X, 2, backend="sklearn")
        >>> i.tolist()
        [[1, 2], [0, 2], [1, 0], [2, 1]]
        >>> d[0].tolist()
        [1.0, 9.0]
    """
    x, q, k, drop_self, chunk, _, _ = _knn_inputs(X, k, queries, exclude_self, chunk_size)
    which = resolve_backend(backend)
    out_d = np.empty((q.shape[0], k), dtype=np.float32)
    out_i = np.empty((q.shape[0], k), dtype=np.int64)
    if which == "faiss":
        _knn_faiss(x, q, k, drop_self, chunk, out_d, out_i)
    else:
        _knn_sklearn(x, q, k, drop_self, chunk, out_d, out_i)
    return out_d, out_i


def knn_torch(
    X: np.ndarray,
    k: int,
    *,
    queries: np.ndarray | None = None,
    exclude_self: bool = True,
    chunk_size: int = 4096,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`knn` by chunked torch matrix products, ties at the k-th distance broken by the lowest index.

    Deterministic bit for bit on CPU. It is slower than both :func:`knn` backends and holds a
    B×B block (``docs/benchmarks.md``); :class:`~activelab.neighbors.ivf.IVFIndex` uses it
    for the rows its probed cells cannot serve, because its results are defined by it.

    Args:
        X: ``(N, D)`` database rows (float32 used without a copy).
        k: Number of neighbours, ``1 <= k <= N`` (``N - 1`` when the query itself is excluded).
        queries: ``(M, D)`` query rows; ``None`` means the rows of ``X`` themselves.
        exclude_self: Only when ``queries`` is None: row ``i`` is not its own neighbour.
        chunk_size: Rows per block B; one B×B distance block is held.

    Returns:
        ``(sq_dists, idx)`` as :func:`knn`; among tied rows the lowest indices are kept.

    Raises:
        ValueError: On shape mismatches, NaN/inf rows, or ``k`` out of range.

    Cost: O(M·N·D) time; O(B²) extra memory plus the ``(M, k)`` result.

    Example:
        >>> X = np.array([[0.0], [1.0], [2.0], [3.0]], dtype=np.float32)
        >>> knn_torch(X, 1)[1].ravel().tolist()  # row 1 is tied between rows 0 and 2
        [1, 0, 1, 2]
    """
    x, q, k, drop_self, chunk, x_sq, q_sq = _knn_inputs(X, k, queries, exclude_self, chunk_size)
    out_d = np.empty((q.shape[0], k), dtype=np.float32)
    out_i = np.empty((q.shape[0], k), dtype=np.int64)
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
        out_d[qs:qe], out_i[qs:qe] = sort_rows(exact, idx)


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
        with faiss_threads():
            _, idx = index.search(np.ascontiguousarray(q[qs:qe], dtype=np.float32), kk)
        idx = idx.astype(np.int64)
        if drop_self:
            idx = idx[not_self_mask(idx, np.arange(qs, qe))].reshape(qe - qs, k)
        exact = _exact_sq_dists(q[qs:qe], x, idx)
        out_d[qs:qe], out_i[qs:qe] = sort_rows(exact, idx)


def _knn_sklearn(
    x: np.ndarray, q: np.ndarray, k: int, drop_self: bool, chunk: int, out_d: np.ndarray, out_i: np.ndarray
) -> None:
    from sklearn.neighbors import NearestNeighbors

    dtype = np.float64 if x.dtype == np.float64 or q.dtype == np.float64 else np.float32
    kk = k + 1 if drop_self else k
    index = NearestNeighbors(n_neighbors=kk, algorithm="brute").fit(x.astype(dtype, copy=False))
    qq = q.astype(dtype, copy=False)
    m = q.shape[0]
    with sklearn_threads():
        for qs in range(0, m, chunk):
            qe = min(m, qs + chunk)
            idx = index.kneighbors(qq[qs:qe], return_distance=False).astype(np.int64, copy=False)
            if drop_self:
                idx = idx[not_self_mask(idx, np.arange(qs, qe))].reshape(qe - qs, k)
            exact = _exact_sq_dists(q[qs:qe], x, idx)
            out_d[qs:qe], out_i[qs:qe] = sort_rows(exact, idx)


# ----------------------------------------------------------------------------- radius search
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

    Raises:
        ValueError: On a bad radius or rows, NaN/inf rows, or more than ``max_edges`` pairs.

    Cost: O(M·N·D) time; O(B² + E) memory for E returned pairs.

    Example:
        >>> indptr, cols = radius_neighbors(np.array([[0.0], [1.0], [3.0]]), 1.0)
        >>> [cols[indptr[i]:indptr[i + 1]].tolist() for i in range(3)]
        [[0, 1], [0, 1], [2]]
    """
    x = as_rows(X, "X")
    n = x.shape[0]
    rows, r2 = check_radius_query(radius, query_rows, n)
    chunk = check_int(chunk_size, "chunk_size", 1)
    max_edges = check_int(max_edges, "max_edges", 0)
    x_sq = sq_norms(x, chunk)
    dtype = torch.float64 if x.dtype == np.float64 else torch.float32
    xt = torch.from_numpy(x).to(dtype)
    xs_t = torch.from_numpy(x_sq).to(dtype)
    slack = radius_slack(r2, x_sq)  # keep a margin around the radius, decide exactly inside it
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
                    raise too_many_edges_error(radius, max_edges)
                rr_np, cc_np = rr.numpy(), cc.numpy() + xs
                near = (d[rr, cc] > r2 - slack).numpy()  # only these need the exact distance
                if near.any():
                    keep = exact_sq_pairs(x, q_idx[rr_np[near]], cc_np[near]) <= r2
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
            raise too_many_edges_error(radius, max_edges)
        counts[qs : qs + len(q_idx)] = np.bincount(rr_all, minlength=len(q_idx))
        parts.append(cc_all[order])
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    cols = np.concatenate(parts).astype(np.int64) if parts else np.empty(0, dtype=np.int64)
    return indptr, cols


# ----------------------------------------------------------------------------- nearest centroid
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

    Raises:
        ValueError: On shape mismatches, no centroid, or NaN/inf rows.

    Cost: O(N·c·D) time, O(chunk_size·c) extra memory.

    Example:
        >>> lab, d = assign_nearest(np.array([[0.0], [4.0]]), np.array([[1.0], [5.0]]))
        >>> lab.tolist(), d.tolist()
        ([0, 1], [1.0, 1.0])
    """
    x = as_rows(X, "X")
    c = as_rows(centroids, "centroids")
    if c.shape[1] != x.shape[1]:
        raise ValueError(f"centroids have {c.shape[1]} columns but X has {x.shape[1]}; they must match.")
    if c.shape[0] == 0:
        raise ValueError("centroids must hold at least one row.")
    chunk = check_int(chunk_size, "chunk_size", 1)
    return assign_rows(x, sq_norms(x, chunk), c, chunk)


def assign_rows(x: np.ndarray, x_sq: np.ndarray, centroids: np.ndarray, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`assign_nearest` on checked rows with their squared norms already computed.

    Distances are the block estimates ``‖x‖² - 2 x·c + ‖c‖²`` in the rows' precision
    (float64 rows: float64; float32 rows: float32).

    Args:
        x: ``(N, D)`` float32/float64 C-contiguous rows (see :func:`as_rows`).
        x_sq: ``(N,)`` float64 squared norms of ``x`` (see :func:`sq_norms`).
        centroids: ``(c, D)`` centres.
        chunk: Rows per block.

    Returns:
        ``(labels, sq_dists)``: ``(N,)`` int64 and ``(N,)`` float64 (clamped at 0).

    Cost: O(N·c·D) time, O(chunk·c) extra memory plus the results.
    """
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
