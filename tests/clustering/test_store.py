"""Similarity store: validation, running mean with the prior as one observation, tau, priors."""

from __future__ import annotations

import numpy as np
import pytest

from activelab.clustering.store import (
    SimilarityStore,
    check_pairs,
    feature_prior,
    partition_prior,
    zero_prior,
)


def dense_reference(store: SimilarityStore, answers: dict[tuple[int, int], list[float]]) -> np.ndarray:
    """Slow, obvious S: prior from its definition, running mean over a python dict of answers."""
    n = store.n_items
    S = np.zeros((n, n))
    phi = store.prior.phi.astype(np.float64)
    for u in range(n):
        for v in range(n):
            if u == v:
                continue
            prior = store.prior.a * float(phi[u] @ phi[v]) + store.prior.b
            vals = answers.get((min(u, v), max(u, v)), [])
            S[u, v] = (prior + sum(vals)) / (1 + len(vals))
    return S


@pytest.mark.parametrize("kind", ["zeros", "partition", "features"])
def test_similarity_matches_reference(kind: str, rng: np.random.Generator) -> None:
    n = 12
    prior = {
        "zeros": zero_prior(n),
        "partition": partition_prior(rng.integers(0, 3, n)),
        "features": feature_prior(rng.normal(size=(n, 4))),
    }[kind]
    store = SimilarityStore(prior, tau=3)
    answers: dict[tuple[int, int], list[float]] = {}
    for _ in range(4):
        pairs = rng.integers(0, n, size=(10, 2))
        pairs = pairs[pairs[:, 0] != pairs[:, 1]]
        keys = {(min(a, b), max(a, b)) for a, b in pairs}
        pairs = np.array([k for k in keys if len(answers.get(k, [])) < 3])
        vals = rng.uniform(-1, 1, len(pairs))
        store.add(pairs[:, ::-1], vals)  # unsorted order is accepted
        for (a, b), v in zip(pairs, vals, strict=True):
            answers.setdefault((int(a), int(b)), []).append(float(v))
    ref = dense_reference(store, answers)
    iu = np.stack(np.triu_indices(n, 1), axis=1)
    np.testing.assert_allclose(store.similarity(iu), ref[iu[:, 0], iu[:, 1]], atol=1e-6)
    np.testing.assert_allclose(store.dense(), ref, atol=1e-6)
    np.testing.assert_allclose(store.rows(np.array([3, 0])), ref[[3, 0]], atol=1e-6)
    assert store.n_queries == sum(len(v) for v in answers.values())
    np.testing.assert_allclose(store.delta_csr().toarray(), ref - prior.rows(np.arange(n)) * (1 - np.eye(n)), atol=1e-6)


def test_running_mean_counts_prior_once() -> None:
    store = SimilarityStore(partition_prior(np.array([0, 0, 1])), tau=3)
    store.add([[0, 1]], [-1.0])
    store.add([[1, 0]], [1.0])
    assert store.similarity(np.array([[0, 1]]))[0] == pytest.approx((0.1 - 1 + 1) / 3)
    assert store.counts_of(np.array([[0, 1], [0, 2]])).tolist() == [2, 0]


def test_partition_and_feature_prior_values() -> None:
    p = partition_prior(np.array([5, 5, 7]))
    assert p.pairs(np.array([0, 0]), np.array([1, 2])).tolist() == pytest.approx([0.1, -0.1])
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    f = feature_prior(X, scale=0.5, centre=False)
    assert f.pairs(np.array([0]), np.array([2]))[0] == pytest.approx(0.5 / np.sqrt(2))


def test_tau_is_enforced() -> None:
    store = SimilarityStore(zero_prior(4), tau=2)
    store.add([[0, 1], [1, 0]], [1.0, 1.0])
    with pytest.raises(ValueError, match=r"pair \(0, 1\) would have 3 answers but tau=2"):
        store.add([[0, 1]], [1.0])
    assert store.n_queries == 2  # the failed call stored nothing


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ([[1, 1]], r"row 0 is \(1, 1\): a pair needs two different items"),
        ([[0, 4]], r"row 0 is \(0, 4\): indices must lie in \[0, 4\)"),
        ([[-1, 2]], r"indices must lie in \[0, 4\)"),
        ([[0, 1, 2]], r"must have shape \(m, 2\)"),
        ([[0.5, 1.0]], "integer item indices"),
    ],
)
def test_bad_pairs_are_rejected(pairs: list[list[float]], message: str) -> None:
    with pytest.raises((ValueError, TypeError), match=message):
        check_pairs(pairs, 4)
    store = SimilarityStore(zero_prior(4))
    with pytest.raises((ValueError, TypeError), match=message):
        store.add(pairs, [0.0] * len(pairs))


def test_bad_values_and_sizes() -> None:
    store = SimilarityStore(zero_prior(4))
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        store.add([[0, 1]], [1.5])
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        store.add([[0, 1]], [np.nan])
    with pytest.raises(ValueError, match="one value per pair"):
        store.add([[0, 1]], [0.1, 0.2])
    with pytest.raises(ValueError, match="at least 2 items"):
        SimilarityStore(zero_prior(0))
    with pytest.raises(ValueError, match="tau must be an int >= 1"):
        SimilarityStore(zero_prior(3), tau=0)
    with pytest.raises(ValueError, match="N <= 3"):
        store.dense(max_items=3)


def test_state_dict_roundtrip() -> None:
    store = SimilarityStore(zero_prior(5))
    store.add([[0, 1], [2, 4]], [0.5, -0.5])
    other = SimilarityStore(zero_prior(5))
    other.load_state_dict(store.state_dict())
    pairs = np.array([[0, 1], [2, 4], [1, 2]])
    np.testing.assert_array_equal(other.similarity(pairs), store.similarity(pairs))
