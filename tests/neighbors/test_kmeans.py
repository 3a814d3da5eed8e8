"""Tests of activelab.neighbors.kmeans against sklearn and across backends."""

from __future__ import annotations

import numpy as np
import pytest

from activelab.neighbors import assign_nearest, faiss_available, kmeans

needs_faiss = pytest.mark.skipif(not faiss_available(), reason="faiss not installed")
BACKENDS = ["sklearn", pytest.param("faiss", marks=needs_faiss)]


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
    for backend in ("sklearn", "faiss"):
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


def test_kmeans_sklearn_converges_to_a_fixed_point() -> None:
    X = _blobs(200, seed=2).astype(np.float64)
    labels, cent = kmeans(X, 5, rng=np.random.default_rng(0), n_iter=100, backend="sklearn")
    for c in range(5):
        np.testing.assert_allclose(cent[c], X[labels == c].mean(0), rtol=1e-5, atol=1e-5)


def test_kmeans_more_clusters_than_distinct_points() -> None:
    X = np.repeat(np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 5.0]]), 4, axis=0)
    labels, cent = kmeans(X, 5, rng=np.random.default_rng(0), backend="sklearn")
    assert np.isfinite(cent).all()
    assert assign_nearest(X, cent)[1].sum() == 0.0
    assert labels.min() >= 0 and labels.max() < 5


def test_kmeans_subsample_still_labels_every_row() -> None:
    X = _blobs(2000, seed=3)
    labels, cent = kmeans(X, 5, rng=np.random.default_rng(0), max_points_per_centroid=20, backend="sklearn")
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
