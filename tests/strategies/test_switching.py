"""TCM and SelectAL: each batch is exactly the low- or high-budget strategy's, switched as documented."""

from __future__ import annotations

import numpy as np
import pytest

from activelab.checks import CheckModel, _toy_data, check_strategy
from activelab.engine import Engine
from activelab.models.base import Views
from activelab.oracles import SimulatedOracle
from activelab.pool import Pool
from activelab.strategies import make
from activelab.strategies.switching import SelectALStrategy, TCMStrategy, selectal_simulation


def _views(n_labelled_per_class: int, n_classes: int = 3, n: int = 120, seed: int = 0) -> tuple[Views, Pool]:
    """Views over a pool of ``n`` blob rows with ``n_labelled_per_class`` labels per class."""
    X, y = _toy_data(n, 4, n_classes, seed)
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, n_classes)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    pool = Pool(n, n_classes)
    lab = np.concatenate([np.flatnonzero(y == c)[:n_labelled_per_class] for c in range(n_classes)])
    if len(lab):
        pool.add_labels(lab, y[lab], round_=0)
    views = Views(indices=np.arange(n), labelled=pool.labelled_mask.copy(), probs=probs, embeddings=X)
    return views, pool


def _margin_views(views: Views) -> Views:
    """The views margin alone would get (candidate rows only)."""
    rows = views.candidates
    return Views(indices=views.indices[rows], labelled=np.zeros(len(rows), bool), probs=views.probs[rows])


@pytest.mark.parametrize("per_class", [1, 2, 3, 5])
def test_tcm_is_typiclust_before_the_switch_and_margin_after(per_class: int) -> None:
    views, pool = _views(per_class)
    tcm = make("tcm", switch_per_class=3)
    got = tcm.select(views, pool, 7, np.random.default_rng(5))
    if per_class < 3:
        ref = make("typiclust").select(views, pool, 7, np.random.default_rng(5))
    else:
        ref = make("margin").select(_margin_views(views), pool, 7, np.random.default_rng(5))
    np.testing.assert_array_equal(got, ref)


def test_tcm_run_equals_typiclust_then_margin_on_the_same_engine_streams() -> None:
    """End to end: a TCM run proposes what a run that hands each round to the right strategy proposes."""
    X, y = _toy_data(150, 5, 3, 1)
    switch, k = 4, 6  # the switch at 12 labels: rounds with 6 labels are typiclust's, later ones margin's
    typi, margin = make("typiclust"), make("margin")

    def run(per_round) -> list[list[int]]:
        eng = Engine(CheckModel(3), make("tcm", switch_per_class=switch), X, seed=3, n_classes=3)
        out = []
        for _ in range(5):
            idx = eng.propose(k, strategy=per_round(eng))
            eng.teach(SimulatedOracle(y).label(idx))
            eng.refit()
            out.append(sorted(idx.tolist()))
        return out

    got = run(lambda eng: None)
    ref = run(lambda eng: None if eng.pool.n_labelled == 0 else typi if eng.pool.n_labelled < switch * 3 else margin)
    assert got == ref
    assert len({i for batch in got for i in batch}) == 30


def test_tcm_counts_classes_from_the_model_when_the_pool_does_not_know_them() -> None:
    views, pool = _views(2)
    anonymous = Pool(pool.n_items)  # no n_classes
    anonymous.add_labels(pool.labelled_indices(), pool.labels[pool.labelled_mask], round_=0)
    assert make("tcm", switch_per_class=2).regime(views, anonymous) == "high"  # 6 labels >= 2 x 3 classes (probs)
    assert make("tcm", switch_per_class=2.5).regime(views, anonymous) == "low"


def test_switching_strategies_pass_the_contract_on_both_sides_of_the_switch() -> None:
    # check_strategy starts from 12 labels of 3 classes and adds 8 per proposal: the switch at 6 per class
    # (18 labels) falls inside its run, so both phases and the checkpoint round trip are checked
    check_strategy(make("tcm", switch_per_class=6))
    check_strategy(make("selectal", simulation_size=3))


def test_options_reach_the_sub_strategies_and_bad_ones_are_named() -> None:
    tcm = make("tcm", low="probcover", low_options={"space": "input"}, high="entropy")
    assert tcm.low_strategy.name == "probcover" and tcm.low_strategy.space == "input"
    assert tcm.needs == ("inputs", "probs") and tcm.needs_labelled
    with pytest.raises(ValueError, match="switch_per_class .* got -1"):
        make("tcm", switch_per_class=-1)
    with pytest.raises(TypeError, match="stateful|keeps state"):
        make("tcm", high="albl")
    with pytest.raises(ValueError, match="tie must be"):
        make("selectal", tie="middle")
    with pytest.raises(ValueError, match="simulation_size must be an int >= 1, got 0"):
        make("selectal", simulation_size=0)
    with pytest.raises(TypeError, match="selectal.*unexpected keyword"):
        make("selectal", n_folds=3)


# ---------------------------------------------------------------------------------- SelectAL
def _outlier_blobs(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clearly low budget: 8 tight classes, 3 labels each of which one is an outlier; the pool is the blobs."""
    rng = np.random.default_rng(seed)
    c = 8
    means = 4 * np.stack([np.cos(2 * np.pi * np.arange(c) / c), np.sin(2 * np.pi * np.arange(c) / c)], 1)
    y = np.repeat(np.arange(c), 3)
    x = means[y] + rng.normal(scale=0.3, size=(len(y), 2))
    outlier = np.arange(len(y)) % 3 == 2
    x[outlier] = rng.uniform(-9, 9, size=(outlier.sum(), 2))
    pool = means[rng.integers(0, c, 600)] + rng.normal(scale=0.3, size=(600, 2))
    return x, y, pool


def _two_gaussians(seed: int, n: int = 1500) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Clearly high budget: two well-sampled classes split at x0 = 0 through a sparse band."""
    rng = np.random.default_rng(seed)

    def draw(m: int) -> np.ndarray:
        return np.c_[rng.choice([-1.0, 1.0], m) + rng.normal(scale=0.6, size=m), rng.normal(size=m)]

    x = draw(n)
    return x, (x[:, 0] > 0).astype(np.int64), draw(2000)


@pytest.mark.parametrize("seed", range(4))
def test_selectal_simulation_prefers_typicality_with_few_labels_and_outliers(seed: int) -> None:
    x, y, pool = _outlier_blobs(seed)
    sim = selectal_simulation(x, y, pool)
    assert sim["low"] > sim["high"], sim


@pytest.mark.parametrize("seed", range(4))
def test_selectal_simulation_prefers_uncertainty_with_many_labels(seed: int) -> None:
    x, y, pool = _two_gaussians(seed)
    sim = selectal_simulation(x, y, pool)
    assert sim["high"] > sim["low"], sim


def _as_views(x: np.ndarray, y: np.ndarray, x_pool: np.ndarray, n_classes: int) -> tuple[Views, Pool]:
    n = len(x) + len(x_pool)
    emb = np.vstack([x, x_pool]).astype(np.float32)
    pool = Pool(n, n_classes)
    pool.add_labels(np.arange(len(x)), y, round_=0)
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(n, n_classes))
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return Views(indices=np.arange(n), labelled=pool.labelled_mask.copy(), probs=probs, embeddings=emb), pool


@pytest.mark.parametrize(("case", "regime", "n_classes"), [(_outlier_blobs, "low", 8), (_two_gaussians, "high", 2)])
def test_selectal_picks_exactly_what_the_chosen_side_picks(case, regime: str, n_classes: int) -> None:
    x, y, x_pool = case(0)
    views, pool = _as_views(x, y, x_pool, n_classes)
    s = make("selectal")
    got = s.select(views, pool, 5, np.random.default_rng(9))
    assert s.last_decision == regime and s.last_simulation is not None
    side = make("typiclust") if regime == "low" else make("margin")
    ref = side.select(views if regime == "low" else _margin_views(views), pool, 5, np.random.default_rng(9))
    np.testing.assert_array_equal(got, ref)
    again = make("selectal").select(views, pool, 5, np.random.default_rng(9))  # deterministic: same rng, same picks
    np.testing.assert_array_equal(got, again)


def test_selectal_declares_a_low_budget_below_two_labels_of_any_class() -> None:
    views, pool = _views(1, n_classes=6)  # 6 labels, one per class: no simulation
    s = make("selectal")
    got = s.select(views, pool, 4, np.random.default_rng(2))
    assert s.last_decision == "low" and s.last_simulation is None
    np.testing.assert_array_equal(got, make("typiclust").select(views, pool, 4, np.random.default_rng(2)))


def test_selectal_ties_go_to_the_tie_side() -> None:
    # every row identical per class: every kept set labels the pool as all the labels do
    x = np.repeat(np.array([[0.0, 0.0], [5.0, 5.0]]), 6, axis=0)
    y = np.repeat([0, 1], 6)
    views, pool = _as_views(x, y, np.array([[0.1, 0.0], [4.9, 5.0]]), 2)
    for tie in ("low", "high"):
        s = make("selectal", tie=tie)
        s.select(views, pool, 1, np.random.default_rng(0))
        assert s.last_simulation is not None and s.last_simulation["low"] == s.last_simulation["high"]
        assert s.last_decision == tie


def test_selectal_simulation_refuses_bad_input() -> None:
    x = np.zeros((5, 2))
    with pytest.raises(ValueError, match="width 2"):
        selectal_simulation(x, np.zeros(5, int), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="leave_out must be an int >= 1, got 0"):
        selectal_simulation(x, np.zeros(5, int), np.zeros((3, 2)), leave_out=0)
    with pytest.raises(ValueError, match=">= 2 labelled rows"):
        selectal_simulation(x[:1], np.zeros(1, int), np.zeros((3, 2)))


def test_the_classes_are_registered() -> None:
    assert isinstance(make("tcm"), TCMStrategy) and isinstance(make("selectal"), SelectALStrategy)
