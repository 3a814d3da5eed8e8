"""Bad triangles and violations against naive O(N^3) references; candidate pairs for large N."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import scipy.sparse as sp

from activelab.clustering.candidates import (
    CandidateConfig,
    all_pairs,
    bad_triangles,
    candidate_pairs,
    knn_pairs,
    violations,
)
from activelab.clustering.store import SimilarityStore, partition_prior, zero_prior


def noisy_store(n: int, rng: np.random.Generator) -> SimilarityStore:
    store = SimilarityStore(partition_prior(rng.integers(0, 3, n)), tau=3)
    pairs = all_pairs(n)
    chosen = pairs[rng.random(len(pairs)) < 0.5]
    store.add(chosen, rng.choice([-1.0, 1.0, 0.3, -0.3], len(chosen)))
    return store


def naive_bad_triangles(S: np.ndarray, pairs: np.ndarray) -> set[tuple[int, int]]:
    out = set()
    for p, (i, j) in enumerate(pairs):
        for k in range(len(S)):
            if k in (i, j):
                continue
            if int(S[i, j] > 0) + int(S[i, k] > 0) + int(S[j, k] > 0) == 2:
                out.add((p, k))
    return out


def test_bad_triangles_exhaustive_match_naive(rng: np.random.Generator) -> None:
    store = noisy_store(14, rng)
    S = store.dense()
    pairs = all_pairs(14)
    tri = bad_triangles(store, pairs)
    got = set(zip(tri.pair_index.tolist(), tri.k.tolist(), strict=True))
    assert got == naive_bad_triangles(S, pairs)
    assert len(got) == len(tri.k)  # no duplicates
    i, j, k = pairs[tri.pair_index, 0], pairs[tri.pair_index, 1], tri.k
    np.testing.assert_allclose(tri.s, np.stack([S[i, j], S[i, k], S[j, k]], axis=1))
    # chunking and the dense fast path give the same triangles
    small = bad_triangles(store, pairs, config=CandidateConfig(chunk_elements=30))
    dense = bad_triangles(store, pairs, dense=S)
    for other in (small, dense):
        assert set(zip(other.pair_index.tolist(), other.k.tolist(), strict=True)) == got


def test_bad_triangles_neighbour_mode_with_complete_graph_is_exhaustive(rng: np.random.Generator) -> None:
    n = 12
    store = noisy_store(n, rng)
    pairs = all_pairs(n)[rng.random(66) < 0.3]
    complete = sp.csr_matrix(np.ones((n, n)) - np.eye(n))
    config = CandidateConfig(max_exhaustive_pairs=0, n_random_third=0)
    tri = bad_triangles(store, pairs, graph=complete, rng=np.random.default_rng(0), config=config)
    assert set(zip(tri.pair_index.tolist(), tri.k.tolist(), strict=True)) == naive_bad_triangles(store.dense(), pairs)


def test_bad_triangles_neighbour_mode_only_uses_graph_neighbours(rng: np.random.Generator) -> None:
    n = 12
    store = noisy_store(n, rng)
    pairs = all_pairs(n)
    graph = sp.csr_matrix(([1.0, 1.0], ([0, 5], [5, 0])), shape=(n, n))
    config = CandidateConfig(max_exhaustive_pairs=0, n_random_third=0)
    tri = bad_triangles(store, pairs, graph=graph, rng=np.random.default_rng(0), config=config)
    ends = pairs[tri.pair_index]
    assert all((k == 5 and 0 in e) or (k == 0 and 5 in e) for e, k in zip(ends.tolist(), tri.k.tolist(), strict=True))


def test_violations_match_definition(rng: np.random.Generator) -> None:
    store = noisy_store(10, rng)
    labels = rng.integers(0, 3, 10)
    S = store.dense()
    pairs = all_pairs(10)
    ref = [(labels[i] == labels[j] and S[i, j] < 0) or (labels[i] != labels[j] and S[i, j] >= 0) for i, j in pairs]
    assert violations(store, labels, pairs).tolist() == ref


def test_large_pool_candidates_are_sparse_and_valid() -> None:
    rng = np.random.default_rng(0)
    n = 3000
    X = rng.normal(size=(n, 5)).astype(np.float32)
    store = SimilarityStore(zero_prior(n), tau=2)
    store.add([[0, 1], [0, 1], [2, 3]], [1.0, 1.0, -1.0])
    config = CandidateConfig(max_exhaustive_pairs=1000, n_random=2000)
    graph = knn_pairs(X, 5)
    cand = candidate_pairs(store, rng.integers(0, 10, n), np.random.default_rng(1), config, graph)
    assert len(cand) < 0.01 * n * (n - 1) / 2
    assert (cand[:, 0] < cand[:, 1]).all()
    assert len(np.unique(cand[:, 0] * n + cand[:, 1])) == len(cand)
    assert (store.counts_of(cand) < 2).all()
    keys = set((cand[:, 0] * n + cand[:, 1]).tolist())
    assert 0 * n + 1 not in keys and 2 * n + 3 in keys  # exhausted pair dropped, queried pair kept


def test_knn_pairs_match_brute_force() -> None:
    X = np.random.default_rng(3).normal(size=(50, 3)).astype(np.float32)
    got = {tuple(p) for p in knn_pairs(X, 3).tolist()}
    d = ((X[:, None] - X[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    ref = set()
    for i in range(50):
        for j in np.argsort(d[i])[:3]:
            ref.add((min(i, int(j)), max(i, int(j))))
    assert got == ref


@pytest.mark.parametrize("n", [2, 5])
def test_all_pairs(n: int) -> None:
    assert [tuple(p) for p in all_pairs(n).tolist()] == list(itertools.combinations(range(n), 2))
