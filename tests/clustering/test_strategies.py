"""Pair strategies: contract (k unique canonical pairs, never more than tau answers), references."""

from __future__ import annotations

import numpy as np
import pytest

from activelab.clustering import (
    PAIR_STRATEGIES,
    ActiveClusterer,
    CandidateConfig,
    ClusterState,
    NoisyPairOracle,
    SimilarityStore,
    make_pair_strategy,
    pair_features,
    partition_prior,
    zero_prior,
)
from activelab.clustering.candidates import all_pairs
from activelab.clustering.strategies import expected_info_gain, top_k_pairs, triangle_expected_cost
from activelab.errors import PoolExhaustedError, UnknownNameError

NAMES = sorted(PAIR_STRATEGIES)


def small_state(n: int = 24, seed: int = 0, config: CandidateConfig | None = None) -> ClusterState:
    rng = np.random.default_rng(seed)
    truth = np.arange(n) % 3
    store = SimilarityStore(partition_prior(rng.integers(0, 2, n)), tau=2)
    pairs = all_pairs(n)[rng.random(n * (n - 1) // 2) < 0.3]
    store.add(pairs, NoisyPairOracle(truth, 0.3).answer(pairs, rng).values)
    return ClusterState(store, rng.integers(0, 3, n), noise=0.3, config=config or CandidateConfig())


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("large", [False, True])
def test_select_contract_and_determinism(name: str, large: bool) -> None:
    config = CandidateConfig(max_exhaustive_pairs=0, n_random=200) if large else None
    state = small_state(config=config)
    strategy = make_pair_strategy(name)
    a = strategy.select(state, 15, np.random.default_rng(5))
    b = make_pair_strategy(name).select(small_state(config=config), 15, np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (15, 2) and a.dtype == np.int64
    assert (a[:, 0] < a[:, 1]).all() and a.min() >= 0 and a.max() < 24
    assert len(np.unique(a[:, 0] * 24 + a[:, 1])) == 15
    assert (state.store.counts_of(a) < state.store.tau).all()


@pytest.mark.parametrize("name", NAMES)
def test_no_pair_is_asked_more_than_tau_times(name: str) -> None:
    """Spend 90 % of all answers (66 pairs x tau 2): the strategy must avoid exhausted pairs."""
    truth = np.arange(12) % 3
    ac = ActiveClusterer(make_pair_strategy(name), NoisyPairOracle(truth, 0.3), zero_prior(12),
                         batch_size=10, budget=119, seed=1, tau=2, truth=truth, ami=False)
    ac.run()  # the clusterer raises if a strategy returns a pair with tau answers
    assert ac.store.n_queries == 119
    assert ac.store.counts.max() <= 2


def test_exhausted_pool_raises() -> None:
    state = small_state(6)
    with pytest.raises(PoolExhaustedError, match="asked for 1000 pairs"):
        make_pair_strategy("uniform").select(state, 1000, np.random.default_rng(0))
    with pytest.raises(ValueError, match="k must be a non-negative int"):
        make_pair_strategy("maxexp").select(state, -1, np.random.default_rng(0))


def naive_triangle_scores(S: np.ndarray, labels: np.ndarray, name: str) -> dict[tuple[int, int], float]:
    """The paper's loops, on a dense S without ties."""
    n = len(S)
    out: dict[tuple[int, int], float] = {}
    for i in range(n):
        for j in range(i + 1, n):
            same = labels[i] == labels[j]
            if not ((same and S[i, j] < 0) or (not same and S[i, j] >= 0)):
                continue
            for k in range(n):
                if k in (i, j):
                    continue
                edges = [(i, j), (i, k), (j, k)]
                s = np.array([S[e] for e in edges])
                if int((s > 0).sum()) != 2:
                    continue
                m = int(np.argmin(np.abs(s)))
                e = tuple(sorted(edges[m]))
                score = abs(s[m]) if name == "maxmin" else float(triangle_expected_cost(s[None])[0])
                out[e] = max(out.get(e, -np.inf), score)
    return out


@pytest.mark.parametrize("name", ["maxmin", "maxexp"])
def test_triangle_scores_match_paper_loops(name: str) -> None:
    rng = np.random.default_rng(3)
    n = 11
    store = SimilarityStore(zero_prior(n), tau=3)
    store.add(all_pairs(n), rng.uniform(-1, 1, n * (n - 1) // 2))  # continuous: no ties
    labels = rng.integers(0, 3, n)
    state = ClusterState(store, labels)
    # every violated pair scanned (the default scans a random min(N, 20000) of them, as the paper)
    edges, scores = make_pair_strategy(name, max_violations=10_000).edge_scores(state, np.random.default_rng(0))
    got = {tuple(e): s for e, s in zip(edges.tolist(), scores.tolist(), strict=True)}
    ref = naive_triangle_scores(store.dense(), labels, name)
    assert got.keys() == ref.keys() and len(got) > 5
    for e in ref:
        assert got[e] == pytest.approx(ref[e])


def test_triangle_strategy_scans_n_violated_pairs_by_default_like_the_paper() -> None:
    rng = np.random.default_rng(4)
    n = 11
    store = SimilarityStore(zero_prior(n), tau=3)
    store.add(all_pairs(n), rng.uniform(-1, 1, n * (n - 1) // 2))
    labels = rng.integers(0, 3, n)
    state = ClusterState(store, labels)
    full = make_pair_strategy("maxmin", max_violations=10_000).edge_scores(state, np.random.default_rng(0))[0]
    capped = make_pair_strategy("maxmin").edge_scores(state, np.random.default_rng(0))[0]
    # the edges of triangles through N = 11 sampled violated pairs: a strict subset of all
    assert 0 < len(capped) < len(full)
    assert set(map(tuple, capped.tolist())) <= set(map(tuple, full.tolist()))
    with pytest.raises(ValueError, match="max_violations must be an int >= 1"):
        make_pair_strategy("maxmin", max_violations=0)


def test_triangle_expected_cost_by_enumeration() -> None:
    s = np.array([0.7, 0.2, -0.4])
    parts = [[1, 1, 1], [0, 1, 0], [1, 0, 0], [0, 0, 1], [0, 0, 0]]
    costs = np.array([sum(abs(x) if (p and x < 0) or (not p and x >= 0) else 0.0 for p, x in zip(pp, s, strict=True)) for pp in parts])
    w = np.exp(-2.0 * costs) / np.exp(-2.0 * costs).sum()
    assert triangle_expected_cost(s[None], beta=2.0)[0] == pytest.approx((w * costs).sum())


def test_triangle_expected_cost_matches_enumeration_on_random_rows_and_ignores_edge_order() -> None:
    rng = np.random.default_rng(3)
    s = rng.uniform(-1, 1, size=(200, 3))
    s[:20] = np.round(s[:20], 1)  # repeated values, as with a +-0.1 prior
    parts = np.array([[1, 1, 1], [0, 1, 0], [1, 0, 0], [0, 0, 1], [0, 0, 0]], bool)
    inside = np.where(parts[None], np.where(s[:, None] < 0, -s[:, None], 0.0), np.where(s[:, None] >= 0, s[:, None], 0.0))
    costs = inside.sum(axis=2)
    w = np.exp(-costs) / np.exp(-costs).sum(axis=1, keepdims=True)
    got = triangle_expected_cost(s)
    np.testing.assert_allclose(got, (w * costs).sum(axis=1), rtol=1e-12)
    for perm in ([1, 0, 2], [2, 1, 0], [1, 2, 0]):  # bitwise equal, so equal triangles tie exactly
        assert np.array_equal(triangle_expected_cost(s[:, perm]), got)


def test_eig_prefers_uncertain_pairs_and_is_finite() -> None:
    state = small_state()
    q = np.full((24, 3), 1 / 3)
    q[:12] = np.eye(3)[np.arange(12) % 3]
    state._cache["q"] = q  # items 0..11 certain, 12..23 maximally uncertain
    gains = expected_info_gain(state, np.array([[0, 3], [0, 12], [12, 13]]))
    assert np.isfinite(gains).all()
    # an uncertain item learns from a certain partner; two certain items learn nothing, and
    # neither do two uniform ones (the local update is then the same for every cluster)
    assert gains[1] > 1e-3 and abs(gains[0]) < 1e-9 and abs(gains[2]) < 1e-9


def naive_info_gain(state: ClusterState, u: int, v: int) -> float:
    """EIG of one pair straight from the definition, with scipy's entropy (slow, obviously right)."""
    from scipy.stats import entropy

    q = state.soft_assignments()
    s = float(state.store.similarity(np.array([[u, v]]))[0])
    n = int(state.store.counts_of(np.array([[u, v]]))[0])
    p = float(q[u] @ q[v])
    g = state.noise
    gain = entropy(q[u]) + entropy(q[v])
    for x, prob in ((1.0, (1 - g) * p), (-1.0, (1 - g) * (1 - p)), (0.325, g / 2), (-0.325, g / 2)):
        d = (x - s) / (n + 2.0)
        qu = q[u] * np.exp(state.beta * d * q[v])
        qv = q[v] * np.exp(state.beta * d * q[u])
        gain -= prob * (entropy(qu / qu.sum()) + entropy(qv / qv.sum()))
    return gain


@pytest.mark.parametrize("beta", [1.0, 4.0])
def test_eig_matches_the_definition(beta: float) -> None:
    state = small_state(seed=2)
    state.beta = beta
    gen = np.random.default_rng(1)
    q = gen.dirichlet(np.full(4, 0.5), size=24)
    q[:3] = np.eye(4)[:3]  # a few certain rows (zeros in q)
    state._cache["q"] = q
    pairs = all_pairs(24)[gen.choice(276, 40, replace=False)]
    got = expected_info_gain(state, pairs, chunk_size=7)  # several chunks
    ref = [naive_info_gain(state, int(u), int(v)) for u, v in pairs]
    np.testing.assert_allclose(got, ref, rtol=1e-9, atol=1e-12)


def test_batch_ig_caps_pairs_per_item() -> None:
    state = small_state(30)
    pairs = make_pair_strategy("batch_ig", max_per_item=2).select(state, 20, np.random.default_rng(0))
    assert np.bincount(pairs.ravel(), minlength=30).max() <= 2


def test_pair_features_for_learned_policies() -> None:
    state = small_state()
    pairs = all_pairs(24)[:50]
    f = pair_features(state, pairs)
    assert f.shape == (50, 8) and f.dtype == np.float32 and np.isfinite(f).all()
    assert ((f[:, 1] >= 0) & (f[:, 1] <= 1)).all()


def test_registry_did_you_mean() -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'maxexp'"):
        make_pair_strategy("maxepx")


@pytest.mark.parametrize("k", [0, 1, 7, 40, 99, 100])
def test_top_k_pairs_matches_a_full_sort_with_random_tie_break(k: int) -> None:
    """The partial sort picks exactly what sorting every candidate would (ties included)."""
    gen = np.random.default_rng(3)
    pairs = np.stack([np.arange(100), np.arange(100) + 100], axis=1)
    scores = gen.integers(0, 5, size=100).astype(float)  # many ties at the threshold
    noise = np.random.default_rng(11).random(100)
    reference = pairs[np.lexsort((noise, -scores))[:k]]
    np.testing.assert_array_equal(top_k_pairs(pairs, scores, k, np.random.default_rng(11)), reference)


@pytest.mark.parametrize("case", ["all_tied", "few_values", "distinct", "noise_ties"])
@pytest.mark.parametrize("k", [0, 1, 5, 63, 64, 200])
def test_top_rows_matches_lexsort_when_scores_or_noise_tie(case: str, k: int) -> None:
    from activelab.clustering.strategies import selection

    gen = np.random.default_rng(k)
    m = 64
    scores = {"all_tied": np.zeros(m), "few_values": gen.integers(0, 3, m).astype(float),
              "distinct": gen.random(m), "noise_ties": gen.integers(0, 2, m).astype(float)}[case]
    noise = gen.integers(0, 4, m) / 4.0 if case == "noise_ties" else gen.random(m)
    np.testing.assert_array_equal(selection.top_rows(scores, k, noise), np.lexsort((noise, -scores))[:k])


def test_package_exports_and_protocol() -> None:
    """Every exported name resolves, and every registered strategy satisfies the PairStrategy protocol."""
    import activelab.clustering.strategies as strategies
    from activelab.clustering.strategies import PairStrategy, list_pair_strategies

    assert all(hasattr(strategies, name) for name in strategies.__all__)
    assert [n for n, _ in list_pair_strategies()] == NAMES
    for name in NAMES:
        strategy = make_pair_strategy(name)
        # "default" is an alias: it builds the recommended strategy under that strategy's name
        assert isinstance(strategy, PairStrategy) and strategy.name == (name if name != "default" else "anchor")


def test_score_pair_strategy_is_a_public_extension_point() -> None:
    """A custom score strategy gets the shared checks, top-k and contract for free."""
    from activelab.clustering.strategies import ScorePairStrategy

    class FirstItem(ScorePairStrategy):
        name = "first_item"

        def scores(self, state: ClusterState, pairs: np.ndarray) -> np.ndarray:
            return -pairs[:, 0].astype(float) - pairs[:, 1] / 100.0  # (0, 1), (0, 2), ... first

    state = ClusterState(SimilarityStore(zero_prior(6), tau=1), np.zeros(6, dtype=np.int64))
    got = FirstItem().select(state, 3, np.random.default_rng(0))
    np.testing.assert_array_equal(got, [[0, 1], [0, 2], [0, 3]])
    with pytest.raises(PoolExhaustedError):
        FirstItem().select(state, 16, np.random.default_rng(0))
    with pytest.raises(ValueError, match="non-negative int"):
        FirstItem().select(state, True, np.random.default_rng(0))


def _row_wise_expected_cost(s: np.ndarray, beta: float) -> np.ndarray:
    """triangle_expected_cost as it was written first: on (t, 5) rows (the bit-for-bit reference)."""
    from activelab.clustering.strategies.triangles import _SAME

    s = np.sort(s, axis=1)
    cost = np.maximum(s, 0.0).sum(axis=1, keepdims=True) - s @ _SAME.T
    logits = -beta * cost
    logits -= logits.max(axis=1, keepdims=True)
    w = np.exp(logits)
    w /= w.sum(axis=1, keepdims=True)
    return (w * cost).sum(axis=1)


@pytest.mark.parametrize("beta", [1.0, 0.5, 3.0])
def test_triangle_expected_cost_is_bit_identical_to_the_row_wise_form(beta: float) -> None:
    """Continuous edges, and edges from a small set of values (a +-0.1 prior and answer means, many ties)."""
    rng = np.random.default_rng(7)
    values = np.concatenate([[-1.0, 1.0, 0.0, 0.1, -0.1], np.arange(-12, 13) / 3 + 0.1, np.arange(-12, 13) / 3 - 0.1])
    for s in (rng.normal(size=(20_000, 3)) * 3, rng.choice(values, size=(20_000, 3))):
        assert np.array_equal(triangle_expected_cost(s, beta), _row_wise_expected_cost(s, beta))


def test_first_argmin_and_max_per_key_match_their_numpy_forms() -> None:
    from activelab.clustering.strategies.triangles import _first_argmin3, _max_per_key

    rng = np.random.default_rng(8)
    m = rng.integers(0, 3, size=(5000, 3)).astype(float)  # many ties: the first minimum wins
    assert np.array_equal(_first_argmin3(m), np.argmin(m, axis=1))
    n = 40
    keys = rng.integers(0, n * n, 3000)
    score = rng.choice([0.0, 0.5, 1.0, 2.5], 3000)
    dense_keys, dense_score = _max_per_key(keys, score, n * n)
    sort_keys, sort_score = _max_per_key(keys, score, None)
    assert np.array_equal(dense_keys, sort_keys) and np.array_equal(dense_score, sort_score)
    assert np.array_equal(dense_keys, np.unique(keys))
    assert dense_score.tolist() == [score[keys == k].max() for k in dense_keys]
