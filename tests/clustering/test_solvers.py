"""Solvers against brute force (all set partitions for N <= 8) and slow dense references."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from activelab.clustering import solvers
from activelab.clustering.solvers import correlation_objective, local_search, mean_field, same_cluster_prob
from activelab.clustering.store import LowRankPrior, SimilarityStore, feature_prior, partition_prior, zero_prior


def set_partitions(n: int):
    """Every partition of range(n) as a label list (restricted growth strings)."""
    def rec(prefix: list[int], k: int):
        if len(prefix) == n:
            yield list(prefix)
            return
        for c in range(k + 1):
            yield from rec([*prefix, c], max(k, c + 1))
    yield from rec([0], 1) if n else iter([[]])


def dense_objective(S: np.ndarray, labels: np.ndarray) -> float:
    total = 0.0
    for u, v in itertools.combinations(range(len(labels)), 2):
        if labels[u] == labels[v]:
            total += S[u, v]
    return total


def random_store(n: int, rng: np.random.Generator, kind: str) -> SimilarityStore:
    prior = {"zeros": zero_prior(n), "partition": partition_prior(rng.integers(0, 3, n)),
             "features": feature_prior(rng.normal(size=(n, 3)), scale=0.5)}[kind]
    store = SimilarityStore(prior, tau=3)
    pairs = np.array(list(itertools.combinations(range(n), 2)))
    chosen = pairs[rng.random(len(pairs)) < 0.6]
    store.add(chosen, rng.uniform(-1, 1, len(chosen)))
    return store


def test_set_partitions_are_bell_numbers() -> None:
    assert [sum(1 for _ in set_partitions(n)) for n in range(1, 8)] == [1, 2, 5, 15, 52, 203, 877]


@pytest.mark.parametrize("kind", ["zeros", "partition", "features"])
def test_objective_matches_dense_reference(kind: str, rng: np.random.Generator) -> None:
    store = random_store(9, rng, kind)
    S = store.dense()
    for _ in range(5):
        labels = rng.integers(0, 4, 9)
        assert correlation_objective(store, labels) == pytest.approx(dense_objective(S, labels), abs=1e-9)


@pytest.mark.parametrize("kind", ["zeros", "partition", "features"])
def test_local_search_finds_brute_force_optimum(kind: str) -> None:
    """On 30 random instances with N <= 8, 10 restarts reach the exhaustive optimum."""
    rng = np.random.default_rng(42)
    for trial in range(10):
        n = int(rng.integers(4, 9))
        store = random_store(n, rng, kind)
        S = store.dense()
        best = max(dense_objective(S, np.array(p)) for p in set_partitions(n))
        res = local_search(store, rng=np.random.default_rng(trial), n_restarts=10, block_size=1)
        assert res.objective == pytest.approx(best, abs=1e-9), (kind, trial, n)
        assert res.objective == pytest.approx(dense_objective(S, res.labels), abs=1e-9)


def test_local_search_result_is_a_local_optimum(rng: np.random.Generator) -> None:
    """No single move (to another cluster or a new singleton) improves the returned solution."""
    n = 40
    store = random_store(n, rng, "partition")
    S = store.dense()
    res = local_search(store, rng=np.random.default_rng(0), n_restarts=2)
    labels = res.labels
    base = dense_objective(S, labels)
    for u in range(n):
        for target in [*np.unique(labels), labels.max() + 1]:
            moved = labels.copy()
            moved[u] = target
            assert dense_objective(S, moved) <= base + 1e-9


def test_local_search_dynamic_clusters_and_determinism() -> None:
    """Strong answers split the prior's single cluster into the true three."""
    truth = np.repeat([0, 1, 2], 30)
    store = SimilarityStore(partition_prior(np.zeros(90, dtype=int)), tau=1)
    pairs = np.array(list(itertools.combinations(range(90), 2)))
    store.add(pairs, np.where(truth[pairs[:, 0]] == truth[pairs[:, 1]], 1.0, -1.0))
    a = local_search(store, np.zeros(90, dtype=np.int64), rng=np.random.default_rng(0))
    b = local_search(store, np.zeros(90, dtype=np.int64), rng=np.random.default_rng(0))
    np.testing.assert_array_equal(a.labels, b.labels)
    assert len(np.unique(a.labels)) == 3
    assert (a.labels[:, None] == a.labels[None, :]).tolist() == (truth[:, None] == truth[None, :]).tolist()


def test_local_search_errors() -> None:
    store = SimilarityStore(zero_prior(4))
    with pytest.raises(ValueError, match="n_restarts must be an int >= 1"):
        local_search(store, rng=np.random.default_rng(0), n_restarts=0)
    with pytest.raises(ValueError, match=r"labels must have shape \(4,\)"):
        local_search(store, np.zeros(3, dtype=int), rng=np.random.default_rng(0))


def test_mean_field_matches_naive_dense_iteration(rng: np.random.Generator) -> None:
    store = random_store(12, rng, "features")
    S = store.dense()
    labels = rng.integers(0, 3, 12)
    q = mean_field(store, labels, beta=2.0, n_iter=7, damping=0.5, smoothing=0.2)
    k = len(np.unique(labels))
    # the start uses first-appearance cluster ids, as the solver does
    order = {lab: i for i, lab in enumerate(dict.fromkeys(labels.tolist()))}
    ref = np.full((12, k), 0.2 / k)
    for u, lab in enumerate(labels):
        ref[u, order[lab]] += 0.8
    for _ in range(7):
        field = S @ ref  # S has a zero diagonal
        new = np.exp(2.0 * field - (2.0 * field).max(axis=1, keepdims=True))
        new /= new.sum(axis=1, keepdims=True)
        ref = 0.5 * ref + 0.5 * new
    np.testing.assert_allclose(q, ref, atol=1e-10)
    p = same_cluster_prob(q, np.array([[0, 1], [2, 5]]))
    np.testing.assert_allclose(p, [q[0] @ q[1], q[2] @ q[5]])
    with pytest.raises(ValueError, match="beta must be a positive"):
        mean_field(store, labels, beta=0.0)


# ---------------------------------------------------------------------------------------------
# The small-pool sweep (_sweep_small) against the block sweep it replaces for N <= 4096 (_sweep,
# still the large-N path): the same labels, bit for bit, the same objective and sweep count.

@pytest.fixture
def numpy_sweeps(monkeypatch: pytest.MonkeyPatch) -> None:
    """The NumPy sweeps only (the compiled one is compared with them below)."""
    monkeypatch.setattr(solvers, "_USE_JIT", False)


def _old_path(store: SimilarityStore, labels, monkeypatch: pytest.MonkeyPatch, **kwargs):
    """local_search on the NumPy block sweep of every N (the code before the small-pool path)."""
    with monkeypatch.context() as m:
        m.setattr(solvers, "_SMALL_POOL_MAX_ITEMS", 0)
        m.setattr(solvers, "_sweep_small", _refuse)
        m.setattr(solvers, "_USE_JIT", False)
        return local_search(store, labels, **kwargs)


def _refuse(*args: object, **kwargs: object):
    raise AssertionError("the small-pool sweep ran")


def _random_case(seed: int) -> tuple[SimilarityStore, np.ndarray | None, dict]:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 90))
    kind = ("zeros", "partition", "features", "partition")[seed % 4]
    prior = {
        "zeros": zero_prior(n),
        "partition": partition_prior(rng.integers(0, int(rng.integers(1, 6)), n), float(rng.choice([0.1, 0.3]))),
        "features": feature_prior(rng.normal(size=(n, 3)), scale=0.5),
    }[kind]
    store = SimilarityStore(prior, tau=3)
    iu = np.triu_indices(n, 1)
    chosen = rng.random(len(iu[0])) < rng.choice([0.0, 0.05, 0.3, 1.0])
    pairs = np.stack([iu[0][chosen], iu[1][chosen]], axis=1)
    if len(pairs):  # ±1 answers (sums of multiples of 0.05: many exact ties) or uniform ones
        store.add(pairs, rng.choice([-1.0, 1.0], len(pairs)) if seed % 3 else rng.uniform(-1, 1, len(pairs)))
    labels = None if seed % 5 == 0 else rng.integers(0, int(rng.integers(1, 8)), n)
    kwargs = {
        "n_restarts": int(rng.integers(1, 4)),
        "warm_start": bool(seed % 2),
        "block_size": (None, 1, 3, n)[seed % 4 if seed % 7 else 0],
        "max_sweeps": int(rng.integers(1, 10)),
    }
    return store, labels, kwargs


def test_small_pool_sweep_is_bit_identical_to_the_block_sweep(monkeypatch: pytest.MonkeyPatch, numpy_sweeps: None) -> None:
    """240 random stores (zero, partition and feature priors; no to all pairs answered; warm and
    random starts, singletons; block sizes default, 1, 3 and N; 1-3 restarts)."""
    multi_sweep = 0
    for seed in range(240):
        store, labels, kwargs = _random_case(seed)
        ref = _old_path(store, labels, monkeypatch, rng=np.random.default_rng(seed), **kwargs)
        new = local_search(store, labels, rng=np.random.default_rng(seed), **kwargs)
        np.testing.assert_array_equal(new.labels, ref.labels, err_msg=f"seed {seed}")
        assert new.objective == ref.objective, seed
        assert new.n_sweeps == ref.n_sweeps, seed
        multi_sweep += ref.n_sweeps > 1
    assert multi_sweep > 60  # the cases move items, not only stop after one sweep


def _noisy_answers(prior: LowRankPrior, truth: np.ndarray, rng: np.random.Generator) -> SimilarityStore:
    """A store (tau = 1) with about 30 % of the pairs answered once, 10 % of the answers flipped."""
    n = len(truth)
    store = SimilarityStore(prior, tau=1)
    iu = np.triu_indices(n, 1)
    chosen = rng.random(len(iu[0])) < 0.3
    pairs = np.stack([iu[0][chosen], iu[1][chosen]], axis=1)
    same = truth[pairs[:, 0]] == truth[pairs[:, 1]]
    store.add(pairs, np.where(same ^ (rng.random(len(pairs)) < 0.1), 1.0, -1.0))
    return store


@pytest.mark.parametrize("kind", ["zeros", "partition", "features"])
@pytest.mark.parametrize("warm_start", [True, False])
def test_small_pool_sweep_opens_clusters_like_the_block_sweep(
    kind: str, warm_start: bool, monkeypatch: pytest.MonkeyPatch, numpy_sweeps: None
) -> None:
    """One prior group, four true clusters: the search opens new clusters, on both paths alike."""
    truth = np.repeat([0, 1, 2, 3], 40)
    n = len(truth)
    rng = np.random.default_rng(3)
    prior = {"zeros": zero_prior(n), "partition": partition_prior(np.zeros(n, dtype=np.int64), 0.1),
             "features": feature_prior(rng.normal(size=(n, 4)), scale=0.2)}[kind]
    store = _noisy_answers(prior, truth, rng)
    start = np.zeros(n, dtype=np.int64)
    kwargs = {"n_restarts": 3, "warm_start": warm_start, "block_size": 7}
    ref = _old_path(store, start, monkeypatch, rng=np.random.default_rng(5), **kwargs)
    new = local_search(store, start, rng=np.random.default_rng(5), **kwargs)
    np.testing.assert_array_equal(new.labels, ref.labels)
    assert new.objective == ref.objective
    # A start has at most max(2, clusters found so far) clusters: 3 or more were opened.
    assert new.labels.max() + 1 >= 3


def test_small_pool_objective_is_bit_identical(rng: np.random.Generator) -> None:
    for kind in ("zeros", "partition", "features"):
        store = random_store(30, rng, kind)
        consts = solvers._constants(store, store.delta_csr())
        assert (consts.groups is not None) == (kind == "partition")
        for _ in range(5):
            labels = solvers._relabel(rng.integers(0, 6, 30))
            assert solvers._objective(store, consts, labels) == correlation_objective(store, labels)


def test_large_pools_keep_the_block_sweep(monkeypatch: pytest.MonkeyPatch, numpy_sweeps: None) -> None:
    """Above _SMALL_POOL_MAX_ITEMS the block sweep runs, unchanged; at it the small-pool one."""
    store = random_store(40, np.random.default_rng(1), "partition")
    calls: list[str] = []
    block_sweep, small_sweep = solvers._sweep, solvers._sweep_small

    def spy(name, fn):
        def wrapped(*args, **kwargs):
            calls.append(name)
            return fn(*args, **kwargs)
        return wrapped

    monkeypatch.setattr(solvers, "_sweep", spy("block", block_sweep))
    monkeypatch.setattr(solvers, "_sweep_small", spy("small", small_sweep))
    monkeypatch.setattr(solvers, "_SMALL_POOL_MAX_ITEMS", 39)
    local_search(store, rng=np.random.default_rng(0), n_restarts=2)
    assert calls and set(calls) == {"block"}
    calls.clear()
    monkeypatch.setattr(solvers, "_SMALL_POOL_MAX_ITEMS", 40)
    local_search(store, rng=np.random.default_rng(0), n_restarts=2)
    assert calls and set(calls) == {"small"}
    assert solvers._SMALL_POOL_MAX_ITEMS == 40 and block_sweep is not small_sweep


# ---------------------------------------------------------------------------------------------
# The compiled sweep (_sweep_jit.sweep_counts, numba) against both NumPy sweeps: the same labels,
# objective and sweep count, bit for bit, for partition and zero priors on small and large pools.

needs_numba = pytest.mark.skipif(not solvers._sweep_jit.AVAILABLE, reason="numba is not installed (activelab[fast])")


def _numpy_small(store: SimilarityStore, labels, monkeypatch: pytest.MonkeyPatch, **kwargs):
    with monkeypatch.context() as m:
        m.setattr(solvers, "_USE_JIT", False)
        return local_search(store, labels, **kwargs)


def _compiled_path(store: SimilarityStore, labels, monkeypatch: pytest.MonkeyPatch, *, large: bool = False, **kwargs):
    """local_search with every sweep compiled (on the large-pool path if ``large``)."""
    with monkeypatch.context() as m:
        m.setattr(solvers, "_USE_JIT", True)
        m.setattr(solvers, "_sweep_small", _refuse)
        m.setattr(solvers, "_sweep", _refuse)
        if large:
            m.setattr(solvers, "_SMALL_POOL_MAX_ITEMS", 0)
        return local_search(store, labels, **kwargs)


@needs_numba
def test_compiled_sweep_is_bit_identical_to_the_numpy_sweeps(monkeypatch: pytest.MonkeyPatch) -> None:
    """The 240 random stores of the small-pool test, on the small- and the large-pool path."""
    compared = 0
    for seed in range(240):
        store, labels, kwargs = _random_case(seed)
        if store.prior.kind == "features":  # no exact prior term to count: the NumPy sweeps run
            assert solvers._compiled_inputs(store, store.delta_csr(), None) is None
            continue
        ref = _numpy_small(store, labels, monkeypatch, rng=np.random.default_rng(seed), **kwargs)
        block = _old_path(store, labels, monkeypatch, rng=np.random.default_rng(seed), **kwargs)
        for large in (False, True):
            new = _compiled_path(store, labels, monkeypatch, large=large, rng=np.random.default_rng(seed), **kwargs)
            for other in (ref, block):
                np.testing.assert_array_equal(new.labels, other.labels, err_msg=f"seed {seed}")
                assert new.objective == other.objective, seed
                assert new.n_sweeps == other.n_sweeps, seed
        compared += 1
    assert compared == 180


@needs_numba
@pytest.mark.parametrize("kind", ["zeros", "partition"])
@pytest.mark.parametrize("block_size", [1, 7, 160])
def test_compiled_sweep_opens_clusters_like_the_numpy_sweep(
    kind: str, block_size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Everything starts in one cluster: the sweeps open clusters (and grow their tables) alike."""
    truth = np.repeat(np.arange(8), 20)
    n = len(truth)
    rng = np.random.default_rng(4)
    prior = zero_prior(n) if kind == "zeros" else partition_prior(rng.integers(0, 3, n), 0.1)
    store = _noisy_answers(prior, truth, rng)
    start = np.zeros(n, dtype=np.int64)
    kwargs = {"n_restarts": 2, "warm_start": True, "block_size": block_size}
    ref = _numpy_small(store, start, monkeypatch, rng=np.random.default_rng(5), **kwargs)
    new = _compiled_path(store, start, monkeypatch, rng=np.random.default_rng(5), **kwargs)
    np.testing.assert_array_equal(new.labels, ref.labels)
    assert new.objective == ref.objective and new.n_sweeps == ref.n_sweeps
    assert new.labels.max() + 1 >= 6


@needs_numba
def test_compiled_sweep_runs_where_it_applies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Partition and zero priors take the compiled sweep; a feature prior, or _USE_JIT off, NumPy's."""
    rng = np.random.default_rng(2)
    calls: list[str] = []
    compiled = solvers._sweep_compiled

    def spy(*args, **kwargs):
        calls.append("compiled")
        return compiled(*args, **kwargs)

    monkeypatch.setattr(solvers, "_sweep_compiled", spy)
    for kind, expected in (("partition", True), ("zeros", True), ("features", False)):
        calls.clear()
        local_search(random_store(30, rng, kind), rng=np.random.default_rng(0), n_restarts=2)
        assert bool(calls) == expected, kind
    monkeypatch.setattr(solvers, "_USE_JIT", False)
    calls.clear()
    local_search(random_store(30, rng, "partition"), rng=np.random.default_rng(0), n_restarts=2)
    assert calls == []
