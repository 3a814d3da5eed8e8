"""The ``anchor`` pair strategy, ``merge_clusters`` and the solver settings a strategy recommends."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pandas as pd
import pytest

from activelab.clustering import ActiveClusterer, NoisyPairOracle, make_pair_strategy, partition_prior
from activelab.clustering.runner import ClusterConfigError, ClusterRunConfig, grid_of, solver_settings
from activelab.clustering.solvers import correlation_objective, merge_by_answers, merge_clusters
from activelab.clustering.store import SimilarityStore, zero_prior
from activelab.clustering.strategies import Anchor, ClusterState


def _state(labels: np.ndarray, answers: list[tuple[int, int, float]], prior_labels: np.ndarray | None = None) -> ClusterState:
    prior = partition_prior(labels if prior_labels is None else prior_labels, 0.03)
    store = SimilarityStore(prior, tau=3)
    if answers:
        store.add([a[:2] for a in answers], [a[2] for a in answers])
    return ClusterState(store, np.asarray(labels, dtype=np.int64))


def test_pairs_obey_the_contract_and_the_seed() -> None:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 60)
    answers = [(i, j, float(rng.choice([-1.0, 1.0]))) for i, j in itertools.combinations(range(0, 60, 3), 2)][:150]
    state = _state(labels, answers)
    a = Anchor().select(state, 40, np.random.default_rng(5))
    b = Anchor().select(_state(labels, answers), 40, np.random.default_rng(5))
    assert np.array_equal(a, b)
    assert a.shape == (40, 2) and a.dtype == np.int64 and (a[:, 0] < a[:, 1]).all()
    assert len({tuple(p) for p in a.tolist()}) == 40
    assert (state.store.counts_of(a) < 3).all()


def test_least_confident_items_first_and_partners_are_anchors_of_their_own_cluster() -> None:
    labels = np.repeat([0, 1], 6)
    # items 0..3 confirmed with each other in cluster 0; item 4 has no answer yet
    answers = [(0, 1, 1.0), (0, 2, 1.0), (1, 2, 1.0), (2, 3, 1.0), (0, 3, 1.0), (6, 7, 1.0), (6, 8, 1.0), (7, 8, 1.0)]
    state = _state(labels, answers)
    ev = Anchor().evidence(state).toarray()
    assert ev[0].tolist() == [3.0, 0.0] and ev[4].tolist() == [0.0, 0.0]
    pairs = Anchor(cross=0).select(state, 4, np.random.default_rng(0))
    # the four least confident items (4, 5 in cluster 0; 9, 10, 11 in cluster 1) each get one partner
    items = [int(p[0]) if int(p[0]) in (4, 5, 9, 10, 11) else int(p[1]) for p in pairs]
    assert len(set(items)) == 4
    for p, u in zip(pairs.tolist(), items, strict=True):
        partner = p[0] + p[1] - u
        assert labels[partner] == labels[u]  # confirmed in its own cluster first
        assert partner in ((0, 1, 2, 3) if labels[u] == 0 else (6, 7, 8))  # by a confirmed member


def test_a_rejected_item_is_asked_about_another_cluster() -> None:
    labels = np.repeat([0, 1, 2], 4)
    confirmed = [(0, 1, 1.0), (0, 2, 1.0), (1, 2, 1.0), (4, 5, 1.0), (4, 6, 1.0), (5, 6, 1.0), (8, 9, 1.0), (8, 10, 1.0)]
    # item 3 (cluster 0) was told "different" by two members of its cluster and never asked about cluster 2
    state = _state(labels, [*confirmed, (0, 3, -1.0), (1, 3, -1.0), (3, 4, -1.0), (3, 5, -1.0)])
    pairs = Anchor(cross=0).select(state, 1, np.random.default_rng(0))
    assert 3 in pairs[0] and labels[pairs[0][pairs[0] != 3][0]] == 2


def _split_run(strategy: Anchor, merge: str | None) -> float:
    # two true clusters of 20, each split in half by the start; the halves hold together
    truth = np.repeat([0, 1], 20)
    start = np.repeat([0, 1, 2, 3], 10)
    ac = ActiveClusterer(
        strategy,
        NoisyPairOracle(truth, 0.0),
        partition_prior(start),
        batch_size=20,
        budget=200,
        seed=0,
        truth=truth,
        initial_labels=start,
        prior_weight=0.3,
        merge=merge,
        n_restarts=2,
    )
    return float(ac.run()[-1].metrics["ari"])


def test_split_true_clusters_are_joined_by_cross_checks_and_merging_by_answers() -> None:
    assert _split_run(Anchor(), "answers") == 1.0
    # without the checks between clusters, or without merging, the halves stay apart
    assert _split_run(Anchor(cross=0), "answers") < 0.7
    assert _split_run(Anchor(), None) < _split_run(Anchor(), "answers")


def test_cross_checks_ask_between_the_anchors_of_clusters() -> None:
    labels = np.repeat([0, 1, 2], 5)
    pairs = Anchor(cross=2).select(_state(labels, []), 6, np.random.default_rng(0))
    # half the batch at most goes to the three pairs of clusters, the rest to items
    between = [tuple(sorted((labels[a], labels[b]))) for a, b in pairs.tolist() if labels[a] != labels[b]]
    assert sorted(between) == [(0, 1), (0, 2), (1, 2)]


def test_bad_arguments_are_named() -> None:
    with pytest.raises(ValueError, match="own_bias"):
        Anchor(own_bias=-1)
    truth = np.repeat([0, 1], 5)
    for bad in (0.0, 1.5, True):
        with pytest.raises(ValueError, match="prior_weight"):
            ActiveClusterer(
                Anchor(), NoisyPairOracle(truth, 0.0), partition_prior(truth), batch_size=2, budget=4, prior_weight=bad
            )
    with pytest.raises(ValueError, match="merge"):
        ActiveClusterer(Anchor(), NoisyPairOracle(truth, 0.0), partition_prior(truth), batch_size=2, budget=4, merge="yes")
    with pytest.raises(ValueError, match="cross"):
        Anchor(cross=-1)
    with pytest.raises(ValueError, match="min_net"):
        merge_by_answers(SimilarityStore(zero_prior(3)), np.zeros(3, dtype=np.int64), min_net=0)


def test_prior_weight_scales_the_prior_and_its_weight_in_the_mean() -> None:
    truth = np.repeat([0, 1], 5)
    ac = ActiveClusterer(Anchor(), NoisyPairOracle(truth, 0.0), partition_prior(truth), batch_size=2, budget=4, prior_weight=0.3)
    ac.store.add([[0, 1]], [1.0])
    s = ac.store.similarity(np.array([[0, 1], [0, 2], [0, 7]]))
    assert np.allclose(s, [(0.03 + 1.0) / 2, 0.03, -0.03])


def _dense_w(store: SimilarityStore, labels: np.ndarray) -> np.ndarray:
    """Summed similarity between every two clusters, from the dense matrix (the reference)."""
    s = store.dense()
    k = int(labels.max()) + 1
    onehot = np.eye(k)[labels]
    return onehot.T @ s @ onehot


@pytest.mark.parametrize("seed", range(6))
def test_merge_clusters_against_the_dense_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 30
    store = SimilarityStore(partition_prior(rng.integers(0, 3, n), 0.05) if seed % 2 else zero_prior(n), tau=3)
    pairs = np.array([p for p in itertools.combinations(range(n), 2)])
    pick = pairs[rng.choice(len(pairs), 120, replace=False)]
    store.add(pick, rng.choice([-1.0, 1.0, 0.3], size=len(pick)))
    labels = rng.integers(0, 8, n)
    out = merge_clusters(store, labels)
    # a merge of clusters: items together before stay together
    for a, b in itertools.combinations(range(n), 2):
        if labels[a] == labels[b]:
            assert out[a] == out[b]
    # every merge raised the objective; no two clusters joined by an answer still attract
    assert correlation_objective(store, out) >= correlation_objective(store, labels) - 1e-9
    w = _dense_w(store, out)
    answered = np.zeros_like(w, dtype=bool)
    for u, v in store.queried_pairs():
        answered[out[u], out[v]] = answered[out[v], out[u]] = True
    np.fill_diagonal(answered, False)
    assert not (answered & (w > 1e-9)).any()


@pytest.mark.parametrize("seed", range(4))
def test_merge_by_answers_against_a_pairwise_reference(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 24
    store = SimilarityStore(partition_prior(rng.integers(0, 4, n), 0.03), tau=3)
    pairs = np.array(list(itertools.combinations(range(n), 2)))
    pick = pairs[rng.choice(len(pairs), 80, replace=False)]
    store.add(pick, rng.choice([-1.0, 1.0], size=len(pick), p=[0.3, 0.7]))
    labels = rng.integers(0, 6, n)
    out = merge_by_answers(store, labels, min_net=2)
    for a, b in itertools.combinations(range(n), 2):  # merges only
        if labels[a] == labels[b]:
            assert out[a] == out[b]
    # the reference: net "same" answers between every two final clusters, pair by pair
    s = store.similarity(store.queried_pairs())
    net: dict[tuple[int, int], float] = {}
    for (u, v), val, c in zip(store.queried_pairs().tolist(), s, store.counts, strict=True):
        x, y = sorted((int(out[u]), int(out[v])))
        if x != y:
            net[(x, y)] = net.get((x, y), 0.0) + np.sign(val) * c
    assert all(v < 2 for v in net.values())


def test_solver_settings_follow_the_config_then_the_strategy(tmp_path) -> None:
    cfg = ClusterRunConfig(("blobs10",), ("default", "maxexp"), out=tmp_path)
    assert solver_settings(cfg, make_pair_strategy("default")) == {"prior_weight": 0.3, "merge": "answers"}
    assert solver_settings(cfg, make_pair_strategy("maxexp")) == {"prior_weight": 1.0, "merge": None}
    forced = ClusterRunConfig(("blobs10",), ("default",), prior_weight=1.0, merge="off", out=tmp_path)
    assert solver_settings(forced, make_pair_strategy("default")) == {"prior_weight": 1.0, "merge": None}
    with pytest.raises(ClusterConfigError, match="prior_weight"):
        ClusterRunConfig(("blobs10",), ("default",), prior_weight=0.0, out=tmp_path)
    with pytest.raises(ClusterConfigError, match="merge"):
        ClusterRunConfig(("blobs10",), ("default",), merge="yes", out=tmp_path)
    # what "default" means is part of its jobs' fingerprint; maxexp's jobs keep theirs
    jobs = {j.keys["strategy"]: j for j in grid_of(cfg).jobs}
    assert jobs["default"].data["pair strategy default"] == {"class": "Anchor", "prior_weight": 0.3, "merge": "answers"}
    assert list(jobs["maxexp"].data) == ["blobs10"]


def test_cli_flags_reach_the_config(tmp_path) -> None:
    from typer.testing import CliRunner

    from activelab.cli import app

    out = tmp_path / "run"
    res = CliRunner().invoke(
        app,
        [
            "cluster",
            "--dataset",
            "blobs10",
            "--strategy",
            "default",
            "--n-items",
            "30",
            "--batch",
            "10",
            "--budget-fraction",
            "0.1",
            "--seeds",
            "1",
            "--prior-weight",
            "0.5",
            "--merge",
            "objective",
            "--out",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    rounds = pd.read_csv(out / "rounds.csv")
    assert set(rounds["strategy"]) == {"default"} and len(rounds) > 1
    config = json.loads((out / "config.json").read_text())
    assert (config["prior_weight"], config["merge"]) == (0.5, "objective")
    job = json.loads((out / "jobs" / "blobs10__default__seed0.json").read_text())
    assert job["fingerprint"]["data"]["pair strategy default"] == {"class": "Anchor", "prior_weight": 0.5, "merge": "objective"}
