"""Tests of activelab.neighbors against brute force, sklearn, and across backends."""

from __future__ import annotations

import numpy as np
import pytest

from activelab.neighbors import assign_nearest, faiss_available, kmeans, knn, radius_neighbors

needs_faiss = pytest.mark.skipif(not faiss_available(), reason="faiss not installed")
BACKENDS = ["torch", pytest.param("faiss", marks=needs_faiss)]


def brute_knn(X: np.ndarray, k: int, Q: np.ndarray | None = None, exclude_self: bool = True):
    """Obviously correct reference: full float64 distance matrix, sort by (distance, index)."""
    x = X.astype(np.float64)
    q = x if Q is None else Q.astype(np.float64)
    d = ((q[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    if Q is None and exclude_self:
        np.fill_diagonal(d, np.inf)
    idx = np.empty((len(q), k), dtype=np.int64)
    for r in range(len(q)):
        order = np.lexsort((np.arange(len(x)), d[r]))
        idx[r] = order[:k]
    return np.take_along_axis(d, idx, 1), idx


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("chunk_size", [7, 64, 4096])
def test_knn_matches_brute_force(backend: str, chunk_size: int) -> None:
    X = np.random.default_rng(0).standard_normal((150, 6)).astype(np.float32)
    d, i = knn(X, 8, chunk_size=chunk_size, backend=backend)
    rd, ri = brute_knn(X, 8)
    assert d.dtype == np.float32 and i.dtype == np.int64 and d.shape == i.shape == (150, 8)
    np.testing.assert_array_equal(i, ri)
    np.testing.assert_allclose(d, rd, rtol=1e-5, atol=1e-6)
    assert (np.diff(d, axis=1) >= 0).all()
    assert not (i == np.arange(150)[:, None]).any()


@pytest.mark.parametrize("backend", BACKENDS)
def test_knn_matches_sklearn_with_queries(backend: str) -> None:
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 10)).astype(np.float32)
    Q = rng.standard_normal((40, 10)).astype(np.float32)
    d, i = knn(X, 5, queries=Q, chunk_size=32, backend=backend)
    sd, si = NearestNeighbors(n_neighbors=5).fit(X).kneighbors(Q)
    np.testing.assert_array_equal(i, si)
    np.testing.assert_allclose(d, sd**2, rtol=1e-5, atol=1e-6)


def test_knn_keep_self_gives_self_first() -> None:
    X = np.random.default_rng(2).standard_normal((50, 3))
    d, i = knn(X, 3, exclude_self=False, backend="torch")
    np.testing.assert_array_equal(i[:, 0], np.arange(50))
    np.testing.assert_array_equal(d[:, 0], 0.0)
    np.testing.assert_array_equal(i, brute_knn(X, 3, exclude_self=False)[1])


@pytest.mark.parametrize("chunk_size", [3, 5, 100])
def test_knn_ties_keep_lowest_indices(chunk_size: int) -> None:
    # integer grid with duplicates: distances are exact and heavily tied
    X = np.random.default_rng(3).integers(0, 3, size=(60, 2)).astype(np.float32)
    d, i = knn(X, 6, chunk_size=chunk_size, backend="torch")
    rd, ri = brute_knn(X, 6)
    np.testing.assert_array_equal(i, ri)
    np.testing.assert_array_equal(d, rd.astype(np.float32))


@needs_faiss
def test_knn_backends_agree_on_tied_data_up_to_tie_choice() -> None:
    X = np.random.default_rng(4).integers(0, 4, size=(80, 2)).astype(np.float32)
    dt, it = knn(X, 5, backend="torch")
    df, jf = knn(X, 5, backend="faiss")
    np.testing.assert_array_equal(dt, df)  # same distances, maybe other tied rows
    assert not (jf == np.arange(80)[:, None]).any()
    for r in range(80):
        assert len(set(jf[r])) == 5


def test_knn_is_deterministic() -> None:
    X = np.random.default_rng(5).standard_normal((200, 4)).astype(np.float32)
    a = knn(X, 4, chunk_size=50, backend="torch")
    b = knn(X, 4, chunk_size=50, backend="torch")
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


def test_knn_errors() -> None:
    X = np.zeros((5, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="k=5 neighbours requested but X has only 5 rows minus the query"):
        knn(X, 5)
    knn(X, 5, exclude_self=False, backend="torch")  # fine without excluding self
    with pytest.raises(ValueError, match="k must be >= 1"):
        knn(X, 0)
    with pytest.raises(TypeError, match="k must be an int"):
        knn(X, 2.0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="queries have 3 columns but X has 2"):
        knn(X, 1, queries=np.zeros((2, 3)))
    with pytest.raises(ValueError, match="must be 2-D"):
        knn(np.zeros(5), 1)
    with pytest.raises(ValueError, match="backend must be one of"):
        knn(X, 1, backend="annoy")  # type: ignore[arg-type]
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN/inf values \\(first in row 3\\)"):
        knn(bad, 1, backend="torch")


# ----------------------------------------------------------------------------- k-means
def _blobs(n: int = 400, seed: int = 0) -> np.ndarray:
    from sklearn.datasets import make_blobs

    X, _ = make_blobs(n_samples=n, centers=5, n_features=4, cluster_std=1.0, random_state=seed)
    return X.astype(np.float32)


@pytest.mark.parametrize("backend", BACKENDS)
def test_kmeans_objective_matches_sklearn(backend: str) -> None:
    from sklearn.cluster import KMeans

    X = _blobs()
    labels, cent = kmeans(X, 5, rng=np.random.default_rng(0), n_init=3, backend=backend)
    assert labels.shape == (400,) and labels.dtype == np.int64 and cent.shape == (5, 4) and cent.dtype == np.float32
    _, d = assign_nearest(X, cent)
    ref = KMeans(5, n_init=5, random_state=0).fit(X).inertia_
    assert d.sum() <= ref * 1.02


@needs_faiss
def test_kmeans_backends_agree_on_objective() -> None:
    X = np.random.default_rng(6).standard_normal((600, 8)).astype(np.float32)
    objs = []
    for backend in ("torch", "faiss"):
        _, cent = kmeans(X, 10, rng=np.random.default_rng(0), n_init=2, backend=backend)
        objs.append(assign_nearest(X, cent)[1].sum())
    assert abs(objs[0] - objs[1]) <= 0.05 * min(objs)


@pytest.mark.parametrize("backend", BACKENDS)
def test_kmeans_is_deterministic_and_labels_are_nearest_centroid(backend: str) -> None:
    X = _blobs(300, seed=1)
    a = kmeans(X, 4, rng=np.random.default_rng(7), backend=backend)
    b = kmeans(X, 4, rng=np.random.default_rng(7), backend=backend)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    # labels are the naive nearest-centroid assignment
    d = ((X[:, None, :].astype(np.float64) - a[1][None].astype(np.float64)) ** 2).sum(-1)
    np.testing.assert_array_equal(a[0], d.argmin(1))


def test_kmeans_torch_converges_to_a_fixed_point() -> None:
    X = _blobs(200, seed=2).astype(np.float64)
    labels, cent = kmeans(X, 5, rng=np.random.default_rng(0), n_iter=100, backend="torch")
    for c in range(5):
        np.testing.assert_allclose(cent[c], X[labels == c].mean(0), rtol=1e-5, atol=1e-5)


def test_kmeans_more_clusters_than_distinct_points() -> None:
    X = np.repeat(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 5.0]]), 4, axis=0)
    labels, cent = kmeans(X, 5, rng=np.random.default_rng(0), backend="torch")
    assert np.isfinite(cent).all()
    assert assign_nearest(X, cent)[1].sum() == 0.0
    assert labels.min() >= 0 and labels.max() < 5


def test_kmeans_subsample_still_labels_every_row() -> None:
    X = _blobs(2000, seed=3)
    labels, cent = kmeans(X, 5, rng=np.random.default_rng(0), max_points_per_centroid=20, backend="torch")
    assert labels.shape == (2000,)
    np.testing.assert_array_equal(labels, assign_nearest(X, cent)[0])
    assert len(np.unique(labels)) == 5


def test_kmeans_errors() -> None:
    X = np.zeros((4, 2))
    with pytest.raises(ValueError, match="n_clusters=5 exceeds the 4 rows"):
        kmeans(X, 5, rng=np.random.default_rng(0))
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator"):
        kmeans(X, 2, rng=0)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="n_init must be >= 1"):
        kmeans(X, 2, rng=np.random.default_rng(0), n_init=0)
    with pytest.raises(ValueError, match="centroids have 3 columns but X has 2"):
        assign_nearest(X, np.zeros((2, 3)))


# ----------------------------------------------------------------------------- radius search
@pytest.mark.parametrize("chunk_size", [7, 4096])
def test_radius_neighbors_matches_brute_force(chunk_size: int) -> None:
    X = np.random.default_rng(8).integers(0, 4, size=(90, 2)).astype(np.float32)  # exact ties on the boundary
    rows = np.array([0, 5, 17, 89])
    indptr, cols = radius_neighbors(X, 1.0, query_rows=rows, chunk_size=chunk_size)
    d = ((X[rows, None, :].astype(np.float64) - X[None]) ** 2).sum(-1)
    for r in range(len(rows)):
        assert cols[indptr[r] : indptr[r + 1]].tolist() == np.flatnonzero(d[r] <= 1.0).tolist()
    full_ptr, _ = radius_neighbors(X, 0.0)
    assert (np.diff(full_ptr) >= 1).all()  # every row is in its own ball
    with pytest.raises(ValueError, match="more than max_edges=10 pairs"):
        radius_neighbors(X, 3.0, max_edges=10)
    with pytest.raises(ValueError, match="radius must be a finite distance"):
        radius_neighbors(X, -1.0)


# ----------------------------------------------------------------------------- approximate (IVF) search
def test_ivf_knn_probing_every_cell_is_exact_and_deterministic() -> None:
    from activelab.neighbors import IVFIndex, ivf_knn

    X = np.random.default_rng(10).standard_normal((400, 5)).astype(np.float32)
    index = IVFIndex(X, seed=3, n_lists=8, n_probe=8, block_elements=500)  # small blocks: many per cell
    d, i = index.knn(6)
    rd, ri = brute_knn(X, 6)
    np.testing.assert_array_equal(i, ri)
    np.testing.assert_allclose(d, rd, rtol=1e-5, atol=1e-6)
    d2, i2 = ivf_knn(X, 6, seed=3, n_lists=8, n_probe=2)
    np.testing.assert_array_equal(i2, ivf_knn(X, 6, seed=3, n_lists=8, n_probe=2)[1])  # same seed, same result
    assert not (i2 == np.arange(400)[:, None]).any() and (np.diff(d2, axis=1) >= 0).all()
    # what is found is exact: the reported distances are the true ones of the returned rows
    np.testing.assert_allclose(d2, ((X[:, None, :].astype(np.float64) - X[i2]) ** 2).sum(-1), rtol=1e-5, atol=1e-6)
    assert not np.array_equal(i2, ri)  # two probed cells of eight do miss neighbours here


def test_ivf_knn_recall_on_clustered_rows_and_errors() -> None:
    from sklearn.datasets import make_blobs

    from activelab.neighbors import IVFIndex, ivf_knn

    X, _ = make_blobs(3000, n_features=16, centers=30, random_state=0)
    _, ref = knn(X.astype(np.float32), 10, backend="torch")
    _, got = ivf_knn(X, 10, seed=0)  # default cells (about 2·√N) and n_probe
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ref.tolist(), got.tolist())])
    assert recall > 0.95
    _, few = ivf_knn(X, 10, seed=0, n_lists=60, n_probe=1)
    assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ref.tolist(), few.tolist())]) < recall
    # cells too small for k: those rows fall back to the exact search
    small = IVFIndex(X[:400], seed=0, n_lists=40, n_probe=1)
    short = np.diff(small._cell_ptr)[small.probes[:, 0]] < 31
    assert short.any()
    _, tiny = small.knn(30)
    _, tiny_ref = knn(X[:400].astype(np.float32), 30, backend="torch")
    np.testing.assert_array_equal(tiny[short], tiny_ref[short])
    assert (tiny >= 0).all() and not (tiny == np.arange(400)[:, None]).any()
    with pytest.raises(ValueError, match="k=3000 neighbours requested"):
        ivf_knn(X, 3000, seed=0)
    with pytest.raises(ValueError, match="n_probe must be >= 1"):
        IVFIndex(X, seed=0, n_probe=0)
    bad = X.copy()
    bad[7, 2] = np.nan
    with pytest.raises(ValueError, match="first in row 7"):
        IVFIndex(bad, seed=0)


def test_ivf_radius_neighbors_probing_every_cell_matches_the_exact_search() -> None:
    from activelab.neighbors import IVFIndex

    X = np.random.default_rng(8).integers(0, 6, size=(400, 2)).astype(np.float32)  # ties on the boundary
    rows = np.array([17, 0, 5, 399])  # any order
    index = IVFIndex(X, seed=1, n_lists=5, n_probe=5, block_elements=64)
    got = index.radius_neighbors(1.0, query_rows=rows)
    ref = radius_neighbors(X, 1.0, query_rows=rows)
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_array_equal(got[1], ref[1])
    one = IVFIndex(X, seed=1, n_lists=5, n_probe=1).radius_neighbors(1.0, query_rows=rows)
    for r in range(len(rows)):  # one probed cell finds a subset, and the row itself
        ball = set(one[1][one[0][r] : one[0][r + 1]].tolist())
        assert rows[r] in ball and ball <= set(ref[1][ref[0][r] : ref[0][r + 1]].tolist())
    with pytest.raises(ValueError, match="more than max_edges=10 pairs"):
        index.radius_neighbors(3.0, max_edges=10)
    with pytest.raises(ValueError, match="must not repeat a row"):
        index.radius_neighbors(1.0, query_rows=np.array([3, 3]))


def test_resolve_knn_search() -> None:
    from activelab.neighbors import EXACT_KNN_BUDGET, resolve_knn_search

    n512 = int(np.sqrt(EXACT_KNN_BUDGET / 512))
    assert resolve_knn_search("auto", n512, 512) == "exact"
    assert resolve_knn_search("auto", n512 + 1, 512) == "ivf"
    assert resolve_knn_search("auto", 60_000, 50) == "exact"  # MNIST reduced to 50 components
    assert resolve_knn_search("ivf", 10, 2) == "ivf" and resolve_knn_search("exact", 10**7, 512) == "exact"
    with pytest.raises(ValueError, match="knn_search must be 'auto', 'exact' or 'ivf', got 'hnsw'"):
        resolve_knn_search("hnsw", 10)
