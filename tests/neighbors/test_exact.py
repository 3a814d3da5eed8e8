"""Tests of activelab.neighbors.exact against brute force, sklearn, and across backends."""

from __future__ import annotations

import numpy as np
import pytest

from activelab.neighbors import assign_nearest, faiss_available, knn, radius_neighbors
from activelab.neighbors.exact import knn_torch

needs_faiss = pytest.mark.skipif(not faiss_available(), reason="faiss not installed")
BACKENDS = ["sklearn", pytest.param("faiss", marks=needs_faiss)]
# every exact search: the two backends of knn() and the torch kernel IVFIndex keeps
SEARCHES = [*BACKENDS, "knn_torch"]


def search(which: str, X: np.ndarray, k: int, **kwargs) -> tuple[np.ndarray, np.ndarray]:
    """knn(..., backend=which), or knn_torch for which="knn_torch"."""
    return knn_torch(X, k, **kwargs) if which == "knn_torch" else knn(X, k, backend=which, **kwargs)


@pytest.mark.parametrize("which", SEARCHES)
@pytest.mark.parametrize("chunk_size", [7, 64, 4096])
def test_knn_matches_brute_force(which: str, chunk_size: int, brute_knn) -> None:
    X = np.random.default_rng(0).standard_normal((150, 6)).astype(np.float32)
    d, i = search(which, X, 8, chunk_size=chunk_size)
    rd, ri = brute_knn(X, 8)
    assert d.dtype == np.float32 and i.dtype == np.int64 and d.shape == i.shape == (150, 8)
    np.testing.assert_array_equal(i, ri)
    np.testing.assert_allclose(d, rd, rtol=1e-5, atol=1e-6)
    assert (np.diff(d, axis=1) >= 0).all()
    assert not (i == np.arange(150)[:, None]).any()


@pytest.mark.parametrize("which", SEARCHES)
def test_knn_matches_sklearn_with_queries(which: str) -> None:
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(1)
    X = rng.standard_normal((300, 10)).astype(np.float32)
    Q = rng.standard_normal((40, 10)).astype(np.float32)
    d, i = search(which, X, 5, queries=Q, chunk_size=32)
    sd, si = NearestNeighbors(n_neighbors=5).fit(X).kneighbors(Q)
    np.testing.assert_array_equal(i, si)
    np.testing.assert_allclose(d, sd**2, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("which", SEARCHES)
def test_knn_keep_self_gives_self_first(which: str, brute_knn) -> None:
    X = np.random.default_rng(2).standard_normal((50, 3))
    d, i = search(which, X, 3, exclude_self=False)
    np.testing.assert_array_equal(i[:, 0], np.arange(50))
    np.testing.assert_array_equal(d[:, 0], 0.0)
    np.testing.assert_array_equal(i, brute_knn(X, 3, exclude_self=False)[1])


@pytest.mark.parametrize("chunk_size", [3, 5, 100])
def test_knn_ties_keep_lowest_indices(chunk_size: int, brute_knn) -> None:
    # integer grid with duplicates: distances are exact and heavily tied
    X = np.random.default_rng(3).integers(0, 3, size=(60, 2)).astype(np.float32)
    d, i = knn_torch(X, 6, chunk_size=chunk_size)
    rd, ri = brute_knn(X, 6)
    np.testing.assert_array_equal(i, ri)
    np.testing.assert_array_equal(d, rd.astype(np.float32))


@pytest.mark.parametrize("backend", BACKENDS)
def test_knn_backends_agree_on_tied_data_up_to_tie_choice(backend: str) -> None:
    X = np.random.default_rng(4).integers(0, 4, size=(80, 2)).astype(np.float32)
    dt, it = knn_torch(X, 5)
    df, jf = knn(X, 5, backend=backend)
    np.testing.assert_array_equal(dt, df)  # same distances, maybe other tied rows
    assert not (jf == np.arange(80)[:, None]).any()
    for r in range(80):
        assert len(set(jf[r])) == 5


@pytest.mark.parametrize("which", SEARCHES)
def test_knn_is_deterministic(which: str) -> None:
    X = np.random.default_rng(5).standard_normal((200, 4)).astype(np.float32)
    a = search(which, X, 4, chunk_size=50)
    b = search(which, X, 4, chunk_size=50)
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("which", SEARCHES)
def test_knn_mixed_precision_queries(which: str, brute_knn) -> None:
    rng = np.random.default_rng(6)
    X = rng.standard_normal((120, 5)).astype(np.float32)
    Q = rng.standard_normal((30, 5))  # float64 queries against float32 rows
    d, i = search(which, X, 4, queries=Q, chunk_size=16)
    rd, ri = brute_knn(X, 4, Q)
    np.testing.assert_array_equal(i, ri)
    np.testing.assert_allclose(d, rd, rtol=1e-5, atol=1e-6)


def test_knn_errors() -> None:
    X = np.zeros((5, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="k=5 neighbours requested but X has only 5 rows minus the query"):
        knn(X, 5)
    knn(X, 5, exclude_self=False, backend="sklearn")  # fine without excluding self
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
    with pytest.raises(ValueError, match="use backend='sklearn'"):
        knn(X, 1, backend="torch")  # type: ignore[arg-type]
    bad = X.copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN/inf values \\(first in row 3\\)"):
        knn(bad, 1, backend="sklearn")
    with pytest.raises(ValueError, match="NaN/inf values \\(first in row 3\\)"):
        knn_torch(bad, 1)
    with pytest.raises(ValueError, match="k=5 neighbours requested"):
        knn_torch(X, 5)


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


# ----------------------------------------------------------------------------- nearest centroid
def test_assign_nearest_matches_brute_force_and_breaks_ties_low() -> None:
    rng = np.random.default_rng(9)
    X = rng.standard_normal((300, 4)).astype(np.float32)
    C = rng.standard_normal((7, 4)).astype(np.float32)
    labels, d = assign_nearest(X, C, chunk_size=64)
    ref = ((X[:, None, :].astype(np.float64) - C[None].astype(np.float64)) ** 2).sum(-1)
    np.testing.assert_array_equal(labels, ref.argmin(1))
    np.testing.assert_allclose(d, ref.min(1), rtol=1e-4, atol=1e-5)
    tie_labels, tie_d = assign_nearest(np.array([[0.0], [2.0]]), np.array([[1.0], [-1.0], [3.0]]))
    assert tie_labels.tolist() == [0, 0] and tie_d.tolist() == [1.0, 1.0]  # equidistant: lowest centroid index
