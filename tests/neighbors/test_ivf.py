"""Tests of activelab.neighbors.ivf: exact when every cell is probed, recall otherwise."""

from __future__ import annotations

import numpy as np
import pytest

from activelab.neighbors import faiss_available, knn, radius_neighbors
from activelab.neighbors.exact import knn_torch

BACKENDS = ["sklearn", pytest.param("faiss", marks=pytest.mark.skipif(not faiss_available(), reason="faiss not installed"))]


@pytest.mark.parametrize("backend", BACKENDS)
def test_ivf_knn_probing_every_cell_is_exact_and_deterministic(backend: str, brute_knn) -> None:
    from activelab.neighbors import IVFIndex, ivf_knn

    X = np.random.default_rng(10).standard_normal((400, 5)).astype(np.float32)
    index = IVFIndex(X, seed=3, n_lists=8, n_probe=8, block_elements=500, backend=backend)  # small blocks: many per cell
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
    _, ref = knn(X.astype(np.float32), 10)
    _, got = ivf_knn(X, 10, seed=0)  # default cells (about 2·√N) and n_probe
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ref.tolist(), got.tolist(), strict=True)])
    assert recall > 0.95
    _, few = ivf_knn(X, 10, seed=0, n_lists=60, n_probe=1)
    assert np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ref.tolist(), few.tolist(), strict=True)]) < recall
    # cells too small for k: those rows fall back to the exact search (the torch kernel, lowest indices on ties)
    small = IVFIndex(X[:400], seed=0, n_lists=40, n_probe=1)
    short = np.diff(small._cell_ptr)[small.probes[:, 0]] < 31
    assert short.any()
    _, tiny = small.knn(30)
    _, tiny_ref = knn_torch(X[:400].astype(np.float32), 30)
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


@pytest.mark.parametrize("backend", BACKENDS)
def test_ivf_radius_neighbors_probing_every_cell_matches_the_exact_search(backend: str) -> None:
    from activelab.neighbors import IVFIndex

    X = np.random.default_rng(8).integers(0, 6, size=(400, 2)).astype(np.float32)  # ties on the boundary
    rows = np.array([17, 0, 5, 399])  # any order
    index = IVFIndex(X, seed=1, n_lists=5, n_probe=5, block_elements=64, backend=backend)
    got = index.radius_neighbors(1.0, query_rows=rows)
    ref = radius_neighbors(X, 1.0, query_rows=rows)
    np.testing.assert_array_equal(got[0], ref[0])
    np.testing.assert_array_equal(got[1], ref[1])
    one = IVFIndex(X, seed=1, n_lists=5, n_probe=1, backend=backend).radius_neighbors(1.0, query_rows=rows)
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
