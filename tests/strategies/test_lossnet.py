import numpy as np
import pytest

from activelab.loop import ActiveLearner, Budget
from activelab.models import Views, mlp
from activelab.models.lossnet import LossPredictionClassifier
from activelab.oracles import SimulatedOracle
from activelab.pool import Pool
from activelab.strategies import make
from activelab.strategies.lossnet import LearningLossStrategy


def _views(pred, labelled):
    return Views(indices=np.arange(len(pred)) * 3, labelled=labelled, predicted_loss=np.asarray(pred, dtype=float))


def test_top_k_by_predicted_loss_absolute_indices():
    pred = np.array([0.1, 5.0, 3.0, 9.0, 4.0, 0.0])
    labelled = np.array([False, False, False, True, False, False])
    chosen = make("learning_loss").select(_views(pred, labelled), Pool(18), 3, np.random.default_rng(0))
    assert sorted(chosen.tolist()) == [3, 6, 12]  # rows 1, 2, 4 (row 3 is labelled)


def test_subset_ranks_inside_a_seeded_random_subset():
    gen = np.random.default_rng(0)
    pred = gen.normal(size=200)
    views = _views(pred, np.zeros(200, bool))
    strategy = LearningLossStrategy(subset=20)
    a = strategy.select(views, Pool(600), 5, np.random.default_rng(4))
    b = strategy.select(views, Pool(600), 5, np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)
    # reference: the same subset drawn by hand, then the top 5 of it
    rows = np.sort(np.random.default_rng(4).choice(200, size=20, replace=False))
    expected = rows[np.argsort(-pred[rows])[:5]] * 3
    assert set(a.tolist()) == set(expected.tolist())
    with pytest.raises(ValueError, match=r"subset \(20\) must be >= k \(30\)"):
        strategy.select(views, Pool(600), 30, np.random.default_rng(0))
    with pytest.raises(ValueError, match="subset must be a positive int"):
        LearningLossStrategy(subset=0)


def test_non_finite_predicted_loss_is_an_error():
    pred = np.array([0.1, np.nan, 3.0])
    with pytest.raises(ValueError, match="NaN"):
        make("learning_loss").select(_views(pred, np.zeros(3, bool)), Pool(9), 1, np.random.default_rng(0))


def test_runs_in_the_loop(tiny_blobs):
    X, y = tiny_blobs
    model = LossPredictionClassifier(mlp((16,), 0.25), 3, epochs=10, head_width=8)
    learner = ActiveLearner(model, make("learning_loss"), SimulatedOracle(y), X, budget=Budget(10, 5, 20), seed=0)
    history = learner.run()
    assert [r.n_labelled for r in history] == [10, 15, 20]
