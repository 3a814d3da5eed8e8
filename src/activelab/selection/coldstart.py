"""Cold-start and low-budget selection: TypiClust, ProbCover and a k-means initial set.

These pick *representative* rows rather than uncertain ones, which is what helps when few
(or no) labels exist. All three work on any row representation: model embeddings, or the
standardised input features before any model exists (the loop's initial-set selection).

Costs (N rows, D dims, L labelled, k picks, c = min(L + k, max_clusters) clusters,
K = ``max_degree``, m = ``max_cluster_points``):

===================  ================================================  ==========================
function             time                                              extra memory
===================  ================================================  ==========================
``typiclust``        k-means (see :func:`activelab.neighbors.kmeans`)  O(N) + one kNN block
                     + Σ over at most k clusters of O(min(n_c, m)²·D)
``probcover``        exact kNN O(N²·D) + radius search O(S·N·D)        O(N·K + E) sparse balls
                     + greedy O(k·N + E)
``probcover_delta``  k-means + the same kNN                            O(N·K)
``kmeans_initial``   k-means with k clusters + O(k²·D) nearest rows     O(N + k²)
===================  ================================================  ==========================

Nothing of size N×N is built: ProbCover's δ-ball graph is the kNN graph cut at radius δ (a
ball is read off the row's K nearest neighbours, or completed by a radius search when all K
lie inside δ), stored as CSR index arrays (E pairs in all, S rows needing the radius search).
"""

from __future__ import annotations

import numbers

import numpy as np

from .._validation import check_k, check_mask
from ..neighbors import Backend, IVFIndex, KnnSearch, kmeans, knn, radius_neighbors, resolve_knn_search

__all__ = ["kmeans_initial", "probcover", "probcover_delta", "probcover_graph", "reduce_features", "typicality", "typiclust"]


def _rows(embeddings: object) -> np.ndarray:
    arr = np.asarray(embeddings)
    if arr.ndim != 2:
        raise ValueError(f"embeddings must be 2-D (n_rows, n_dims), got shape {arr.shape}.")
    if arr.dtype not in (np.float32, np.float64):
        if not np.issubdtype(arr.dtype, np.number):
            raise TypeError(f"embeddings must be numeric, got dtype {arr.dtype}.")
        arr = arr.astype(np.float32)
    return arr


def _rows_mask_k(embeddings: np.ndarray, labelled: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Checked ``(rows, labelled mask, k)``: ``k`` may not exceed the unlabelled rows."""
    x = _rows(embeddings)
    mask = check_mask(labelled, len(x))
    return x, mask, check_k(k, int(len(x) - mask.sum()))


def _pos_int(value: object, name: str, minimum: int = 1) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}.")
    if int(value) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {int(value)}.")
    return int(value)


def reduce_features(
    embeddings: np.ndarray,
    pca: int | None = None,
    normalize: bool = False,
    *,
    max_fit_rows: int = 10_000,
    chunk_size: int = 65_536,
) -> np.ndarray:
    """Rows projected on their top ``pca`` principal components and/or scaled to unit length.

    The distance-based cold-start methods depend on the geometry they are given: on raw pixels
    (MNIST, 784 dims) Euclidean neighbourhoods are dominated by stroke thickness and a few dense
    classes, so ProbCover and TypiClust pick poorly. Their papers use self-supervised
    embeddings compared by cosine distance; without one, a PCA projection followed by
    L2 normalisation (cosine geometry) is the cheap, dependency-free substitute.

    The components are fitted on at most ``max_fit_rows`` evenly spaced rows (deterministic:
    no random draw), and the rows are projected in chunks of ``chunk_size``.
    Time O(s·D·min(s, D) + N·D·pca) for s fitted rows; memory O(N·pca + s·D).

    Args:
        embeddings: ``(N, D)`` rows.
        pca: Number of components (``None``: no projection; ``>= D``: no projection).
        normalize: Scale every row to unit L2 norm (after the projection); all-zero rows stay 0.

    Returns:
        float32 ``(N, min(pca, D))`` (or ``(N, D)``).

    Example:
        >>> x = np.array([[3.0, 0.0, 0.0], [0.0, 2.0, 0.0], [1.0, 1.0, 0.0]])
        >>> reduce_features(x, normalize=True).astype(float).round(3).tolist()
        [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.707, 0.707, 0.0]]
        >>> reduce_features(x, pca=2).shape
        (3, 2)
    """
    x = _rows(embeddings)
    if not isinstance(normalize, (bool, np.bool_)):
        raise TypeError(f"normalize must be a bool, got {type(normalize).__name__}.")
    max_fit_rows = _pos_int(max_fit_rows, "max_fit_rows", 2)
    chunk_size = _pos_int(chunk_size, "chunk_size")
    if not np.isfinite(x).all():
        raise ValueError("embeddings contain NaN or infinite values; clean the features before selecting.")
    out: np.ndarray = x.astype(np.float32, copy=False)
    if pca is not None and _pos_int(pca, "pca") < x.shape[1] and len(x) > 1:
        step = -(-len(x) // max_fit_rows)
        fit = np.asarray(x[::step], dtype=np.float64)
        mean = fit.mean(axis=0)
        _, _, vt = np.linalg.svd(fit - mean, full_matrices=False)
        comps = vt[: int(pca)].T.astype(np.float32)  # (D, p)
        mean32 = mean.astype(np.float32)
        out = np.empty((len(x), comps.shape[1]), dtype=np.float32)
        for a in range(0, len(x), chunk_size):
            out[a : a + chunk_size] = (np.asarray(x[a : a + chunk_size], dtype=np.float32) - mean32) @ comps
    if normalize:
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        out = out / np.where(norms > 0, norms, 1.0).astype(np.float32)
    return out


# ----------------------------------------------------------------------------- TypiClust
def typicality(embeddings: np.ndarray, n_neighbors: int = 20, *, backend: Backend = "auto") -> np.ndarray:
    """Typicality of each row: the inverse mean Euclidean distance to its ``n_neighbors`` NN.

    Hacohen et al. (2022), eq. 1. Rows with ``n_neighbors`` exact duplicates get ``inf``.

    Args:
        embeddings: ``(n, D)`` rows (n >= 2).
        n_neighbors: Neighbours per row (capped at ``n - 1``).

    Returns:
        ``(n,)`` float64, higher = more typical (denser neighbourhood).

    Cost: one exact kNN, O(n²·D) time, O(n·k) memory.

    Example:
        >>> typicality(np.array([[0.0], [1.0], [3.0]]), 1).tolist()
        [1.0, 1.0, 0.5]
    """
    x = _rows(embeddings)
    if len(x) < 2:
        raise ValueError(f"typicality needs at least 2 rows, got {len(x)}.")
    k = min(_pos_int(n_neighbors, "n_neighbors"), len(x) - 1)
    d, _ = knn(x, k, backend=backend)
    mean = np.sqrt(d.astype(np.float64)).mean(1)
    with np.errstate(divide="ignore"):
        typical: np.ndarray = 1.0 / mean
    return typical


def typiclust(
    embeddings: np.ndarray,
    labelled: np.ndarray,
    k: int,
    rng: np.random.Generator,
    *,
    n_neighbors: int = 20,
    max_clusters: int = 500,
    min_cluster_size: int = 5,
    max_cluster_points: int | None = 5000,
    kmeans_iter: int = 20,
    backend: Backend = "auto",
) -> np.ndarray:
    """TypiClust (Hacohen, Dekel & Weinshall, 2022): the most typical row of the largest uncovered clusters.

    All rows (labelled and not) are clustered by k-means into ``c = min(L + k, max_clusters,
    N)`` clusters. Then, ``k`` times: among clusters that still have an unpicked unlabelled
    row, take the one with the fewest labelled-or-picked rows, breaking ties by the larger
    size (then the lower cluster id); clusters smaller than ``min_cluster_size`` are used only
    when no larger one is left (as in the authors' code). In that cluster pick the
    unlabelled row of highest typicality (:func:`typicality`, computed within the cluster
    with ``min(n_neighbors, n_c // 2)`` neighbours, ties → lowest row).

    Clusters with more than ``max_cluster_points`` rows get their typicality from a random
    subsample of that many rows (both as candidates and as neighbours); exact when every
    cluster is smaller, which holds for small pools. ``None`` = always exact.

    Args:
        embeddings: ``(N, D)`` rows.
        labelled: ``(N,)`` bool mask; labelled rows cover their clusters and are never returned.
        k: Rows to pick.
        rng: Generator for k-means and the subsamples.
        n_neighbors: Neighbours for typicality (20 in the paper).
        max_clusters: Cap on the number of clusters (500 in the authors' code).
        min_cluster_size: Clusters below this size are used last.
        max_cluster_points: Subsample cap per cluster for typicality, or None.
        kmeans_iter: Lloyd iterations.
        backend: ``"auto"`` (faiss if importable), ``"faiss"`` or ``"sklearn"``.

    Returns:
        ``(k,)`` int64 unique unlabelled row indices, in pick order.

    Cost: k-means O(c·N·D·kmeans_iter) (subsampled, see :func:`activelab.neighbors.kmeans`)
    plus, for the ≤ k clusters picked from, O(min(n_c, m)²·D) each; memory O(N) plus one kNN
    block.

    Example:
        >>> X = np.array([[0.0], [0.1], [0.2], [0.35], [5.0], [5.1], [5.3], [5.6]])
        >>> sorted(typiclust(X, np.zeros(8, bool), 2, np.random.default_rng(0)).tolist())
        [1, 5]
    """
    x, mask, k = _rows_mask_k(embeddings, labelled, k)
    n = len(x)
    if k == 0:
        return np.empty(0, dtype=np.int64)
    n_neighbors = _pos_int(n_neighbors, "n_neighbors")
    c = min(int(mask.sum()) + k, _pos_int(max_clusters, "max_clusters"), n)
    labels, _ = kmeans(x, c, rng=rng, n_iter=kmeans_iter, backend=backend)
    size = np.bincount(labels, minlength=c)
    covered = np.bincount(labels[mask], minlength=c)
    free = np.bincount(labels[~mask], minlength=c)  # unpicked unlabelled rows per cluster
    taken = mask.copy()
    big = size >= min_cluster_size
    picks: list[int] = []
    for _ in range(k):
        avail = free > 0
        pool_of = avail & big if (avail & big).any() else avail
        cand = np.flatnonzero(pool_of)
        # fewest covered, then largest, then lowest id
        best = cand[np.lexsort((cand, -size[cand], covered[cand]))[0]]
        members = np.flatnonzero(labels == best)
        picks.append(_most_typical(x, members, taken, n_neighbors, max_cluster_points, rng, backend))
        taken[picks[-1]] = True
        covered[best] += 1
        free[best] -= 1
    return np.asarray(picks, dtype=np.int64)


def _most_typical(
    x: np.ndarray,
    members: np.ndarray,
    taken: np.ndarray,
    n_neighbors: int,
    cap: int | None,
    rng: np.random.Generator,
    backend: Backend,
) -> int:
    """The untaken member of highest within-cluster typicality (ties → lowest row)."""
    ref = members
    if cap is not None and len(members) > cap:
        ref = np.sort(rng.choice(members, size=cap, replace=False))
        if taken[ref].all():  # keep at least one candidate in the subsample
            ref = np.union1d(ref[:-1], members[~taken[members]][:1])
    cand = ~taken[ref]
    if not cand.any():
        raise RuntimeError("internal error: typiclust picked a cluster without candidates.")
    if len(ref) < 3:  # 1 or 2 rows: every row is equally typical
        return int(ref[cand][0])
    kk = min(n_neighbors, len(ref) // 2)
    d, _ = knn(x[ref], kk, backend=backend)
    mean = np.sqrt(d.astype(np.float64)).mean(1)
    mean[~cand] = np.inf
    return int(ref[np.argmin(mean)])  # smallest mean distance = highest typicality


# ----------------------------------------------------------------------------- ProbCover
def _ball_csr(
    x: np.ndarray, d: np.ndarray, idx: np.ndarray, delta: float, max_edges: int, ivf: IVFIndex | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """CSR (indptr, cols) of the δ-balls (each row covers itself and every row within δ).

    A row whose ball is smaller than its kNN list is read off the list; only rows whose whole
    list lies inside δ (the ball may go on) are completed by a radius search: over all rows
    (exact), or over the probed cells of ``ivf`` (approximate).
    """
    n, kk = d.shape
    inside = d <= np.float32(delta) ** 2  # a prefix of every (ascending) row
    deg = inside.sum(1)
    sat = (deg == kk) & (kk < n - 1)
    lengths = (deg + 1).astype(np.int64)
    sat_rows = np.flatnonzero(sat)
    r_cols = np.empty(0, dtype=np.int64)
    if len(sat_rows):
        budget = max(0, max_edges - int(lengths[~sat].sum()))
        if ivf is None:
            r_ptr, r_cols = radius_neighbors(x, float(delta), query_rows=sat_rows, max_edges=budget)
        else:
            r_ptr, r_cols = ivf.radius_neighbors(float(delta), query_rows=sat_rows, max_edges=budget)
        lengths[sat_rows] = np.diff(r_ptr)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=indptr[1:])
    cols = np.empty(indptr[-1], dtype=np.int64)
    ns = np.flatnonzero(~sat)
    cols[indptr[ns]] = ns  # self first
    dn = deg[ns]
    rows_rep = np.repeat(ns, dn)
    offs = np.arange(len(rows_rep)) - np.repeat(np.cumsum(dn) - dn, dn)
    cols[indptr[rows_rep] + 1 + offs] = idx[ns][inside[ns]]
    if len(sat_rows):
        cols[_ranges(indptr, sat_rows)] = r_cols
    return indptr, cols


def _transpose(indptr: np.ndarray, cols: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    rows = np.repeat(np.arange(n), np.diff(indptr))
    order = np.argsort(cols, kind="stable")
    t_ptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(cols, minlength=n), out=t_ptr[1:])
    return t_ptr, rows[order]


def _probcover_knn(
    x: np.ndarray, k: int, rng: np.random.Generator, knn_search: str, n_probe: int, backend: Backend
) -> tuple[tuple[np.ndarray, np.ndarray], IVFIndex | None]:
    """The kNN lists of ProbCover (exact or IVF) and the IVF index for the radius completion."""
    if resolve_knn_search(knn_search, *x.shape) == "exact":
        return knn(x, k, backend=backend), None
    index = IVFIndex(x, seed=int(rng.integers(2**31)), n_probe=n_probe, backend=backend)
    return index.knn(k), index


def probcover_delta(
    embeddings: np.ndarray,
    n_clusters: int,
    rng: np.random.Generator,
    *,
    purity: float = 0.5,
    max_degree: int = 100,
    backend: Backend = "auto",
    knn_search: KnnSearch = "auto",
    n_probe: int = 16,
    _knn: tuple[np.ndarray, np.ndarray] | None = None,
) -> float:
    """ProbCover's ball radius δ by the purity heuristic (Yehuda et al. 2022, sec. 4.1).

    Cluster the rows by k-means into ``n_clusters`` (the paper uses the number of classes);
    a ball is *pure* if every row in it has the centre's cluster label. δ is the largest
    radius at which at least a fraction ``purity`` of the balls is pure (the default 0.5,
    not the paper's 0.95, is explained in :func:`probcover`). Purity is read from each row's
    ``max_degree`` nearest neighbours: a row whose ``max_degree`` neighbours all share its
    label counts as pure at every δ (exact when ``max_degree >= N - 1``). ``knn_search`` and
    ``n_probe`` choose the kNN pass as in :func:`probcover`.

    Returns:
        δ (a Euclidean distance, >= 0).

    Cost: k-means plus one kNN pass (exact O(N²·D), IVF about O(N^1.5·D·n_probe/2)); O(N·K) memory.
    """
    x = _rows(embeddings)
    n = len(x)
    if not 0.0 < purity <= 1.0:
        raise ValueError(f"purity must be in (0, 1], got {purity}.")
    n_clusters = _pos_int(n_clusters, "n_clusters")
    if n < 2:
        return 0.0
    labels, _ = kmeans(x, min(n_clusters, n), rng=rng, backend=backend)
    if _knn is None:
        _knn, _ = _probcover_knn(x, min(max_degree, n - 1), rng, knn_search, n_probe, backend)
    d, idx = _knn
    differ = labels[idx] != labels[:, None]
    first = np.where(differ.any(1), differ.argmax(1), -1)
    r2 = np.where(first >= 0, d[np.arange(n), np.maximum(first, 0)].astype(np.float64), np.inf)
    m = int(np.floor((1.0 - purity) * n + 1e-9))  # impure balls allowed
    r_sorted = np.sort(r2)
    limit = r_sorted[m] if m < n else np.inf  # δ² must stay below the (m+1)-th impurity radius
    if np.isinf(limit):
        return float(np.sqrt(d.max()))
    # the largest float32 squared radius strictly below the limit (balls use d <= δ²)
    below = np.nextafter(np.float32(limit), np.float32(0))
    return float(np.sqrt(np.float64(max(below, 0.0))))


def probcover(
    embeddings: np.ndarray,
    labelled: np.ndarray,
    k: int,
    rng: np.random.Generator,
    delta: float | None = None,
    *,
    n_clusters: int | None = None,
    purity: float = 0.5,
    max_degree: int = 100,
    max_edges: int = 50_000_000,
    backend: Backend = "auto",
    knn_search: KnnSearch = "auto",
    n_probe: int = 16,
    graph: tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """ProbCover (Yehuda, Dekel, Hacohen & Weinshall, 2022): greedy max coverage of δ-balls.

    Row i *covers* the rows within distance δ of it (its ball, itself included). Rows in the
    balls of labelled rows start covered. Then ``k`` times: pick the unlabelled row whose ball
    holds the most uncovered rows (ties → lowest row) and mark its ball covered; once
    everything is covered, the rest is drawn uniformly with ``rng``.

    The balls are exact and stored sparse (CSR): one exact kNN pass with ``max_degree``
    neighbours gives every ball that is smaller than that; the rows whose ``max_degree``
    neighbours all lie inside δ get their full ball from a radius search
    (:func:`activelab.neighbors.radius_neighbors`). (Truncated balls would make the greedy
    pick the densest class again and again; figures: docs/benchmarks.md, "Notes moved from
    docstrings".)
    A ValueError is raised if the balls hold more than ``max_edges`` pairs in all.

    Args:
        embeddings: ``(N, D)`` rows.
        labelled: ``(N,)`` bool mask.
        k: Rows to pick.
        rng: Generator (k-means of the purity heuristic; random picks after full coverage).
        delta: Ball radius (Euclidean). ``None``: chosen by :func:`probcover_delta`.
        n_clusters: Clusters for the purity heuristic (the number of classes); needed when
            ``delta`` is None.
        purity: Target fraction of pure balls for the heuristic. The paper uses 0.95 on
            self-supervised (SimCLR) embeddings whose k-means clusters are nearly classes; on
            raw features and small-model embeddings the clusters are less clean, 0.95 gives
            tiny balls and the greedy then keeps picking the densest class. Default 0.5
            (low-budget AUCs for 0.95, 0.75 and 0.5: docs/benchmarks.md, "Notes moved from
            docstrings"; on MNIST reduced by :func:`reduce_features`: "Low-budget protocol"
            there).
        max_degree: Neighbours per row of the kNN pass (K); also used by the purity heuristic.
        max_edges: Cap on the stored ball pairs (memory 16 bytes per pair with the transpose).
        backend: kNN / k-means backend.
        knn_search: ``"exact"``, ``"ivf"`` (approximate: :class:`~activelab.neighbors.IVFIndex`
            for the kNN lists and the radius completion, so balls may miss rows in unprobed
            cells), or ``"auto"``: exact while N²·D is at most
            :data:`~activelab.neighbors.EXACT_KNN_BUDGET` (N ≈ 62,000 at D = 512), IVF above.
        n_probe: Cells searched per row in the IVF mode.
        graph: Precomputed ``(indptr, cols)`` balls of these rows from :func:`probcover_graph`
            (then ``delta``, ``n_clusters``, ``purity``, ``max_degree``, ``max_edges`` are unused).

    Returns:
        ``(k,)`` int64 unique unlabelled row indices, in pick order.

    Cost: one exact kNN O(N²·D) (chunked, O(B²) block) plus a radius search O(S·N·D) for
    the S rows with full kNN lists (IVF: both about 2√N/n_probe times cheaper), greedy
    O(k·N + E); memory O(N·K + E) for E ball pairs (IVF: + a float32 copy of the rows).

    Example:
        >>> X = np.array([[0.0], [0.5], [1.0], [9.0], [9.5]])
        >>> probcover(X, np.zeros(5, bool), 2, np.random.default_rng(0), delta=0.6).tolist()
        [1, 3]
    """
    x, mask, k = _rows_mask_k(embeddings, labelled, k)
    n = len(x)
    if k == 0:
        return np.empty(0, dtype=np.int64)
    if graph is None:
        _, indptr, cols = probcover_graph(
            x, rng, delta, n_clusters=n_clusters, purity=purity, max_degree=max_degree, max_edges=max_edges,
            backend=backend, knn_search=knn_search, n_probe=n_probe,
        )
    else:
        indptr, cols = (np.asarray(a, dtype=np.int64) for a in graph)
        if indptr.shape != (n + 1,) or indptr[-1] != len(cols) or (len(cols) and not 0 <= cols.min() <= cols.max() < n):
            raise ValueError(
                f"graph must be the (indptr, cols) CSR of {n} rows' balls (from probcover_graph on the same rows); "
                f"got indptr of shape {indptr.shape} and {len(cols)} cols."
            )
    return _greedy_cover(indptr, cols, mask, k, rng)


def probcover_graph(
    embeddings: np.ndarray,
    rng: np.random.Generator,
    delta: float | None = None,
    *,
    n_clusters: int | None = None,
    purity: float = 0.5,
    max_degree: int = 100,
    max_edges: int = 50_000_000,
    backend: Backend = "auto",
    knn_search: KnnSearch = "auto",
    n_probe: int = 16,
) -> tuple[float, np.ndarray, np.ndarray]:
    """ProbCover's δ and its δ-balls as CSR ``(delta, indptr, cols)``: all but the greedy.

    The balls depend only on the rows (and δ), not on which rows are labelled, so a caller
    whose representation does not change between rounds (fixed input features) can build them
    once and pass them to :func:`probcover` as ``graph``. ``rng`` is used only by the k-means
    of the purity heuristic (when ``delta`` is None) and to seed the IVF cells.
    Arguments as in :func:`probcover`.

    Cost: as :func:`probcover` without the greedy (+ k-means for δ); memory O(N·K + E).
    """
    x = _rows(embeddings)
    n = len(x)
    max_degree = _pos_int(max_degree, "max_degree")
    kk = min(max_degree, n - 1)
    if delta is None and n_clusters is None:
        raise ValueError("probcover needs delta or n_clusters (e.g. the number of classes) for the purity heuristic.")
    nn, ivf = _probcover_knn(x, kk, rng, knn_search, _pos_int(n_probe, "n_probe"), backend) if kk > 0 else (None, None)
    if delta is None:
        assert n_clusters is not None  # checked above
        delta = probcover_delta(x, n_clusters, rng, purity=purity, max_degree=max_degree, backend=backend, _knn=nn)
    if not np.isfinite(delta) or delta < 0:
        raise ValueError(f"delta must be a finite distance >= 0, got {delta}.")
    if nn is None:
        return float(delta), np.arange(n + 1, dtype=np.int64), np.arange(n, dtype=np.int64)
    indptr, cols = _ball_csr(x, nn[0], nn[1], float(delta), _pos_int(max_edges, "max_edges"), ivf)
    return float(delta), indptr, cols


def _greedy_cover(
    indptr: np.ndarray, cols: np.ndarray, labelled: np.ndarray, k: int, rng: np.random.Generator
) -> np.ndarray:
    n = len(labelled)
    t_ptr, t_cols = _transpose(indptr, cols, n)
    covered = np.zeros(n, dtype=bool)
    lab = np.flatnonzero(labelled)
    if len(lab):
        covered[np.concatenate([cols[indptr[i] : indptr[i + 1]] for i in lab])] = True
    # gain[u] = uncovered rows in ball(u) = Σ over uncovered v of [u covers v]
    unc = np.flatnonzero(~covered)
    gain = np.bincount(t_cols[_ranges(t_ptr, unc)], minlength=n).astype(np.int64)
    gain[labelled] = -1
    picks: list[int] = []
    while len(picks) < k:
        u = int(np.argmax(gain))
        if gain[u] <= 0:
            rest = np.flatnonzero(gain == 0)
            picks.extend(int(i) for i in rng.choice(rest, size=k - len(picks), replace=False))
            break
        picks.append(u)
        ball = cols[indptr[u] : indptr[u + 1]]
        new = ball[~covered[ball]]
        covered[new] = True
        np.subtract.at(gain, t_cols[_ranges(t_ptr, new)], 1)
        gain[u] = -1
        gain[picks] = -1
    return np.asarray(picks, dtype=np.int64)


def _ranges(ptr: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Concatenated positions ``ptr[r]:ptr[r+1]`` for every r in ``rows``."""
    if len(rows) == 0:
        return np.empty(0, dtype=np.int64)
    starts, lens = ptr[rows], ptr[rows + 1] - ptr[rows]
    total = int(lens.sum())
    offs = np.arange(total) - np.repeat(np.cumsum(lens) - lens, lens)
    positions: np.ndarray = np.repeat(starts, lens) + offs
    return positions


# ----------------------------------------------------------------------------- k-means initial set
def kmeans_initial(
    embeddings: np.ndarray,
    k: int,
    rng: np.random.Generator,
    *,
    labelled: np.ndarray | None = None,
    kmeans_iter: int = 20,
    backend: Backend = "auto",
) -> np.ndarray:
    """k-means on the unlabelled rows into ``k`` clusters; the row nearest each centroid.

    Centroids are handled from the largest cluster down; if two centroids share their
    nearest row, the later one takes its next nearest free row.

    Returns:
        ``(k,)`` int64 unique unlabelled row indices.

    Cost: k-means with k clusters on the unlabelled rows, plus a kNN of the k centroids
    against them (O(k·N·D), O(k²) memory).

    Example:
        >>> X = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]])
        >>> sorted(kmeans_initial(X, 2, np.random.default_rng(0)).tolist())
        [1, 4]
    """
    x = _rows(embeddings)
    n = len(x)
    mask = np.zeros(n, dtype=bool) if labelled is None else check_mask(labelled, n)
    cand = np.flatnonzero(~mask)
    k = check_k(k, len(cand))
    if k == 0:
        return np.empty(0, dtype=np.int64)
    xc = x[cand]
    labels, cent = kmeans(xc, k, rng=rng, n_iter=kmeans_iter, backend=backend)
    order = np.argsort(-np.bincount(labels, minlength=k), kind="stable")
    _, near = knn(xc, k, queries=cent[order], backend=backend)
    used = np.zeros(len(cand), dtype=bool)
    picks = []
    for row in near:
        j = int(row[np.argmax(~used[row])])  # first free in distance order; k free exist
        used[j] = True
        picks.append(j)
    return cand[np.asarray(picks, dtype=np.int64)]
