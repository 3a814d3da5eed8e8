"""BatchBALD/EPIG strategies, stochastic variants of any score, and query-by-committee scores."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from sklearn.tree import DecisionTreeClassifier

from activelab.acquisition import SCORES, bald, consensus_kl, margin, mean_std, vote_entropy
from activelab.loop import ActiveLearner, Budget
from activelab.models import DeepEnsemble, SklearnCommittee, TorchClassifier, Views, mlp
from activelab.oracles import SimulatedOracle
from activelab.pool import Pool
from activelab.selection import batchbald, epig, power, rank, softmax, top_k
from activelab.strategies import STRATEGIES, make


def _samples(seed: int, n: int, m: int, c: int, scale: float = 2.0) -> np.ndarray:
    gen = np.random.default_rng(seed)
    z = gen.normal(scale=scale, size=(n, m, c))
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _views(samples: np.ndarray, labelled_every: int = 4) -> tuple[Views, Pool]:
    """Views of a pool whose every ``labelled_every``-th item is labelled (absolute indices ≠ rows)."""
    n = len(samples)
    pool = Pool(n, n_classes=samples.shape[2])
    lab = np.arange(0, n, labelled_every)
    pool.add_labels(lab, np.zeros(len(lab), dtype=np.int64), round_=0)
    rows = pool.unlabelled_indices()
    views = Views(indices=rows, labelled=np.zeros(len(rows), bool), prob_samples=samples[rows], probs=samples[rows].mean(1))
    return views, pool


# ------------------------------------------------------------------------ committee scores
def _vote_entropy_naive(samples: np.ndarray) -> np.ndarray:
    out = []
    for row in samples:
        votes = [int(np.argmax(p)) for p in row]
        shares = np.bincount(votes) / len(votes)
        out.append(scipy.stats.entropy(shares[shares > 0]))
    return np.array(out)


@pytest.mark.parametrize("seed", range(3))
def test_vote_entropy_reference_and_votes_input(seed: int) -> None:
    p = _samples(seed, n=40, m=7, c=4)
    s = vote_entropy(p)
    np.testing.assert_allclose(s, _vote_entropy_naive(p), atol=1e-12)
    np.testing.assert_allclose(vote_entropy(votes=p.argmax(axis=2)), s, atol=1e-12)
    assert (s >= 0).all() and (s <= np.log(4) + 1e-12).all()
    perm = np.random.default_rng(seed).permutation(40)
    np.testing.assert_allclose(vote_entropy(p[perm]), s[perm])


def test_vote_entropy_edge_cases_and_errors() -> None:
    agreeing = np.repeat(_samples(0, 5, 1, 3), 4, axis=1)
    np.testing.assert_array_equal(vote_entropy(agreeing), 0.0)
    np.testing.assert_array_equal(vote_entropy(_samples(0, 5, 1, 3)[:, 0]), 0.0)  # point probabilities
    np.testing.assert_allclose(vote_entropy(votes=np.array([[0, 1], [3, 3]])), [np.log(2), 0.0])
    with pytest.raises(ValueError, match="exactly one of probs"):
        vote_entropy()
    with pytest.raises(ValueError, match="exactly one of probs"):
        vote_entropy(agreeing, votes=np.zeros((5, 4), dtype=int))
    with pytest.raises(ValueError, match="2-D integer array"):
        vote_entropy(votes=np.zeros((5, 4)))
    with pytest.raises(ValueError, match="class ids >= 0"):
        vote_entropy(votes=np.array([[0, -1]]))
    with pytest.raises(ValueError, match="sum to 1"):
        vote_entropy(agreeing * 2)


@pytest.mark.parametrize("seed", range(3))
def test_consensus_kl_reference_and_equals_bald(seed: int) -> None:
    p = _samples(seed, n=30, m=5, c=3)
    p[0, 0] = [1.0, 0.0, 0.0]  # zero probabilities
    naive = np.array([np.mean([scipy.stats.entropy(pm, row.mean(0)) for pm in row]) for row in p])
    s = consensus_kl(p)
    np.testing.assert_allclose(s, naive, atol=1e-10)
    np.testing.assert_allclose(s, bald(p), atol=1e-10)
    np.testing.assert_array_equal(consensus_kl(p[:, 0]), 0.0)
    np.testing.assert_allclose(consensus_kl(np.repeat(p[:, :1], 3, axis=1)), 0.0, atol=1e-15)


def test_scores_registered() -> None:
    assert SCORES["vote_entropy"] is vote_entropy
    assert SCORES["consensus_kl"] is consensus_kl


# --------------------------------------------------------------------- stochastic variants
@pytest.mark.parametrize(
    ("name", "kwargs", "score", "selector", "beta"),
    [
        ("margin", {"sampling": "power", "beta": 2.0}, margin, power, 2.0),
        ("margin", {"sampling": "softmax"}, margin, softmax, 1.0),
        ("rank_margin", {}, margin, rank, 1.0),
        ("rank_mean_std", {"beta": 3.0}, mean_std, rank, 3.0),  # not listed: resolved by prefix
        ("softmax_mean_std", {}, mean_std, softmax, 1.0),
        ("power_bald", {"sampling": "top_k"}, bald, None, None),
        ("rank_bald", {}, bald, rank, 1.0),
        ("power_entropy", {}, None, power, 1.0),
    ],
)
def test_sampling_variants_select_like_their_selector(name, kwargs, score, selector, beta) -> None:  # type: ignore[no-untyped-def]
    samples = _samples(1, n=80, m=6, c=3)
    views, pool = _views(samples)
    strategy = make(name, **kwargs)
    assert strategy.name == name
    chosen = strategy.select(views, pool, 9, np.random.default_rng(4))
    data = views.prob_samples if strategy.view == "prob_samples" else views.probs
    s = (score or SCORES["entropy"])(data)
    rows = top_k(s, 9, np.random.default_rng(4)) if selector is None else selector(s, 9, np.random.default_rng(4), beta=beta)
    np.testing.assert_array_equal(chosen, views.indices[rows])


def test_sampling_errors_and_listing() -> None:
    with pytest.raises(TypeError, match="takes no 'beta'.*sampling="):
        make("margin", beta=2.0)
    with pytest.raises(ValueError, match="sampling must be one of top_k, power, softmax, rank"):
        make("margin", sampling="gumbel")
    with pytest.raises(TypeError, match="already fixes sampling='rank'"):
        make("rank_mean_std", sampling="power")
    with pytest.raises(ValueError, match="beta only applies"):
        make("epig", beta=2.0)
    with pytest.raises(KeyError, match="Unknown strategy 'rank_coreset'"):
        make("rank_coreset")  # not a score strategy: no sampling variant
    listed = set(STRATEGIES)
    assert {"batchbald", "epig", "power_epig", "qbc_vote", "qbc_kl", "rank_bald", "rank_margin", "rank_entropy",
            "power_entropy", "power_bald", "power_margin", "softmax_entropy"} <= listed
    assert "rank_mean_std" not in listed  # resolvable, but the listing stays short


# ------------------------------------------------------------------- BatchBALD and EPIG
def test_batchbald_strategy_maps_rows_to_absolute_indices() -> None:
    samples = _samples(2, n=60, m=5, c=3)
    views, pool = _views(samples)
    chosen = make("batchbald", n_joint_samples=30).select(views, pool, 6, np.random.default_rng(0))
    rows = batchbald(views.prob_samples, 6, np.random.default_rng(0), n_joint_samples=30)
    np.testing.assert_array_equal(chosen, views.indices[rows])
    assert pool.unlabelled_mask[chosen].all()


@pytest.mark.parametrize(("name", "selector"), [("epig", None), ("power_epig", power), ("rank_epig", rank)])
def test_epig_strategy_uses_a_pool_target_and_its_selector(name, selector) -> None:  # type: ignore[no-untyped-def]
    samples = _samples(3, n=90, m=5, c=3)
    views, pool = _views(samples)
    strategy = make(name, n_target=20)
    chosen = strategy.select(views, pool, 7, np.random.default_rng(5))
    target_rng, select_rng = np.random.default_rng(5).spawn(2)
    s = epig(views.prob_samples, n_target=20, rng=target_rng)
    rows = (selector or top_k)(s, 7, select_rng)
    np.testing.assert_array_equal(chosen, views.indices[rows])
    assert strategy.name == name


# ---------------------------------------------------------------------------- end to end
def test_batchbald_with_a_deep_ensemble_in_the_loop(tiny_blobs) -> None:  # type: ignore[no-untyped-def]
    X, y = tiny_blobs
    model = DeepEnsemble(TorchClassifier(mlp((8,), 0.0), 3, lr=1e-2, epochs=5), 3)

    def run(seed: int) -> list[list[int]]:
        learner = ActiveLearner(model, make("batchbald", n_draws=3), SimulatedOracle(y), X, budget=Budget(6, 5, 16), seed=seed)
        return [r.queried.tolist() for r in learner.run()]

    first = run(0)
    assert [len(q) for q in first] == [5, 5, 0]
    assert first == run(0)


@pytest.mark.parametrize("strategy", ["qbc_vote", "qbc_kl", "epig"])
def test_committee_strategies_with_a_sklearn_committee(tiny_blobs, strategy: str) -> None:  # type: ignore[no-untyped-def]
    X, y = tiny_blobs
    model = SklearnCommittee(DecisionTreeClassifier(max_depth=3), 3, n_members=4, cap_draws=True)  # bagged trees
    learner = ActiveLearner(model, make(strategy), SimulatedOracle(y), X, budget=Budget(8, 6, 20), seed=0)
    history = learner.run()
    queried = np.concatenate([r.queried for r in history])
    assert len(np.unique(queried)) == len(queried) == 12
