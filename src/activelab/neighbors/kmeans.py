"""k-means (squared Euclidean) with greedy k-means++ seeding; Lloyd's iterations by faiss or scikit-learn.

Both backends start from the same greedy k-means++ seeds (``_kmeanspp``, NumPy BLAS) and minimise
the same objective; they differ in their Lloyd iterations (faiss: ``faiss.Kmeans``, which
splits large clusters to fill empty ones; scikit-learn: ``sklearn.cluster.KMeans`` from those
seeds, which moves an empty cluster to the rows farthest from their centres). Labels are
always the torch nearest-centroid assignment (:func:`~activelab.neighbors.exact.assign_rows`).

Costs (N rows, D dims, c clusters, B = ``chunk_size``):

=============  ==========================================  ====================================
function       time                                        extra memory
=============  ==========================================  ====================================
``kmeans``     O(c·log c·S₀·D) seeding                     O(S·D) subsample or library copy
               + O(n_iter·S·c·D) + O(N·c·D) assignment     + O(B·c)
=============  ==========================================  ====================================

S = ``min(N, max_points_per_centroid · c)`` is the number of rows Lloyd's iterations run on,
S₀ = ``min(S, max(10⁴, 3c))`` the number the greedy k-means++ seeding looks at.
"""

from __future__ import annotations

import warnings

import numpy as np

from .backends import Backend, faiss_threads, resolve_backend, sklearn_threads
from .exact import as_rows, assign_rows, check_int, sq_norms

__all__ = ["kmeans"]

_INIT_SIZE = 10_000  # rows the seeding looks at (at least 3·c): seeding is c passes over them


def _dists_to(x: np.ndarray, x_sq: np.ndarray, rows: np.ndarray, chunk: int) -> np.ndarray:
    """Squared distances ``(N, len(rows))`` from every row of ``x`` to the rows ``rows`` (float64).

    One pass over ``x``: a single NumPy BLAS GEMM with the few ``rows`` (in ``x``'s dtype,
    then widened), in blocks of ``chunk`` rows only above 2²⁰ rows. Torch's matmul per
    4096-row block cost 47 ms against 3.8 ms for 10k × 64 on a busy 2-core machine
    (docs/benchmarks.md, issue 17).
    """
    cols = np.ascontiguousarray(x[rows].T)
    out = np.empty((x.shape[0], len(rows)), dtype=np.float64)
    step = x.shape[0] if x.shape[0] <= 2**20 else chunk
    for s in range(0, x.shape[0], step):
        out[s : s + step] = x[s : s + step] @ cols
    out *= -2.0
    out += x_sq[:, None]
    out += x_sq[rows][None, :]
    np.maximum(out, 0.0, out=out)
    return out


def _kmeanspp(x: np.ndarray, x_sq: np.ndarray, c: int, rng: np.random.Generator, chunk: int) -> np.ndarray:
    """Greedy k-means++ seeding: per centre, ``2 + ln c`` D²-sampled trials, the one lowering the
    potential most is kept (Arthur & Vassilvitskii 2007, sec. 6).

    Above ``max(_INIT_SIZE, 3·c)`` rows the seeds are drawn from a random subsample of that
    many rows (as scikit-learn's MiniBatchKMeans does); Lloyd's iterations then use all rows.

    Args:
        x: ``(N, D)`` float32/float64 C-contiguous rows (see :func:`~activelab.neighbors.exact.as_rows`).
        x_sq: ``(N,)`` float64 squared norms of ``x``.
        c: Number of centres, ``1 <= c <= N``.
        rng: Generator of the subsample and the draws.
        chunk: Rows per distance block.

    Returns:
        ``(c, D)`` float64 centres (rows of ``x``).

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
    seeds: np.ndarray = x[np.asarray(centres)].astype(np.float64)
    return seeds


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

    Every run draws greedy k-means++ seeds, then runs Lloyd's iterations from them:
    ``sklearn.cluster.KMeans`` (``tol=0``: it stops early only when no label changes; an empty
    cluster moves to the rows farthest from their centres) or ``faiss.Kmeans`` (faiss splits
    large clusters to fill empty ones); ``n_init`` runs, the lowest objective kept. Both run
    the iterations on a random subsample of at most ``max_points_per_centroid · n_clusters``
    rows (faiss's own default rule; ``None`` = all rows) and then assign every row to its
    nearest centroid.
    A returned cluster can be empty in rare cases (two centroids that converge together).

    Args:
        X: ``(N, D)`` rows.
        n_clusters: ``1 <= c <= N``.
        rng: Generator for the seeding and the subsample (same rng state → same result).
        n_iter: Lloyd iterations per run.
        n_init: Independent runs; the lowest objective wins.
        max_points_per_centroid: Subsample cap per cluster for the iterations, or None.
        chunk_size: Rows per block of the assignments.
        backend: ``"auto"`` (faiss if importable, else scikit-learn), ``"faiss"`` or ``"sklearn"``.

    Returns:
        ``(labels, centroids)``: ``(N,)`` int64 in ``[0, c)`` and ``(c, D)`` float32.

    Raises:
        ValueError: On bad shapes or options, NaN/inf rows, ``n_clusters > N`` or an unknown backend.
        TypeError: If ``rng`` is not a numpy Generator.
        ImportError: If ``backend="faiss"`` and faiss is not installed.

    Cost: S = min(N, max_points_per_centroid·c) rows: O(c·log c·min(S, max(10⁴, 3c))·D) seeding,
    O(n_init·n_iter·S·c·D) iterations, O(N·c·D) final assignment; extra memory O(S·D) for
    the subsample copy (faiss: a float32 copy; scikit-learn: a centred copy, even when S = N)
    plus O(chunk_size·c + N).

    Example:
        >>> X = np.array([[0.0], [0.1], [5.0], [5.1]])
        >>> lab, cen = kmeans(X, 2, rng=np.random.default_rng(0), backend="sklearn")
        >>> bool(lab[0] == lab[1] != lab[2] == lab[3])
        True
    """
    x = as_rows(X, "X")
    n = x.shape[0]
    c = check_int(n_clusters, "n_clusters", 1)
    if c > n:
        raise ValueError(f"n_clusters={c} exceeds the {n} rows of X; lower n_clusters.")
    n_iter = check_int(n_iter, "n_iter", 0)
    n_init = check_int(n_init, "n_init", 1)
    chunk = check_int(chunk_size, "chunk_size", 1)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}; use np.random.default_rng(seed).")
    which = resolve_backend(backend)
    x_sq = sq_norms(x, chunk)
    if max_points_per_centroid is not None:
        cap = check_int(max_points_per_centroid, "max_points_per_centroid", 1) * c
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
        cent = _kmeans_sklearn(xs, xs_sq, c, rng, n_iter, n_init, chunk)
    cent32 = cent.astype(np.float32)
    labels, _ = assign_rows(x, x_sq, cent32 if x.dtype == np.float32 else cent, chunk)
    return labels, cent32


def _kmeans_faiss(
    x: np.ndarray, x_sq: np.ndarray, c: int, rng: np.random.Generator, n_iter: int, n_init: int, chunk: int
) -> np.ndarray:
    """Lloyd iterations by faiss from our greedy k-means++ seeds; the lowest objective of ``n_init`` runs."""
    import faiss

    x32 = np.ascontiguousarray(x, dtype=np.float32)
    best_cent, best_obj = np.empty(0), np.inf
    for run in range(n_init):
        init = _kmeanspp(x, x_sq, c, rng, chunk).astype(np.float32)
        if n_iter == 0:
            cent = init.astype(np.float64)
        else:
            km = faiss.Kmeans(
                x.shape[1], c, niter=n_iter, nredo=1, seed=int(rng.integers(0, 2**31 - 1)), verbose=False,
                min_points_per_centroid=1,  # no "please provide at least ..." warnings on small inputs
                max_points_per_centroid=max(1, x.shape[0]),  # the caller subsamples
            )
            with faiss_threads():
                km.train(x32, init_centroids=init)
            cent = np.asarray(km.centroids, dtype=np.float64)
        obj = float(assign_rows(x, x_sq, cent, chunk)[1].sum())
        if run == 0 or obj < best_obj:
            best_cent, best_obj = cent, obj
    return best_cent


def _kmeans_sklearn(
    x: np.ndarray, x_sq: np.ndarray, c: int, rng: np.random.Generator, n_iter: int, n_init: int, chunk: int
) -> np.ndarray:
    """scikit-learn Lloyd iterations from our greedy k-means++ seeds; the lowest objective of ``n_init`` runs."""
    from sklearn.cluster import KMeans
    from sklearn.exceptions import ConvergenceWarning

    best_cent, best_obj = np.empty(0), np.inf
    for run in range(n_init):
        cent = _kmeanspp(x, x_sq, c, rng, chunk)
        if n_iter > 0:
            km = KMeans(c, init=cent.astype(x.dtype), n_init=1, max_iter=n_iter, tol=0.0, algorithm="lloyd")
            with sklearn_threads(), warnings.catch_warnings():
                # rows with fewer distinct values than clusters: the duplicate centres are kept, as with faiss
                warnings.filterwarnings("ignore", message="Number of distinct clusters", category=ConvergenceWarning)
                km.fit(x)
            cent = np.asarray(km.cluster_centers_, dtype=np.float64)
        obj = float(assign_rows(x, x_sq, cent, chunk)[1].sum())
        if run == 0 or obj < best_obj:
            best_cent, best_obj = cent, obj
    return best_cent
