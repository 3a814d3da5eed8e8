from types import SimpleNamespace

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import cohen_kappa_score

from activelab.errors import ActiveLabError
from activelab.loop import ActiveLearner, Budget
from activelab.models import SklearnClassifier
from activelab.oracles import SimulatedOracle
from activelab.pool import Pool
from activelab.stopping import (
    AccuracyPlateau,
    BudgetStop,
    MaxUncertainty,
    StabilizingPredictions,
    StoppingCriterion,
    cohen_kappa,
)
from activelab.strategies import make


class ScriptedModel:
    """Predicts from a table: item i (feature X[i] = i) gets the probabilities ``table[i]``."""

    n_classes = 3

    def __init__(self, table):
        self.table = np.asarray(table, dtype=float)
        self.calls = []

    def predict_proba(self, X):
        self.calls.append(len(X))
        return self.table[np.asarray(X, dtype=np.int64).ravel()]


def _onehot(labels, n_classes=3):
    return np.eye(n_classes)[np.asarray(labels)]


def _learner(model, n=50, seed=0, labelled=()):
    pool = Pool(n, 3)
    if len(labelled):
        pool.add_labels(np.asarray(labelled), np.zeros(len(labelled), dtype=np.int64), round_=0)
    return SimpleNamespace(seed=seed, pool=pool, X=np.arange(n)[:, None], model=model, budget=Budget(5, 5, 40))


@pytest.mark.parametrize("seed", range(4))
def test_cohen_kappa_matches_sklearn(seed):
    gen = np.random.default_rng(seed)
    a, b = gen.integers(0, 4, 60), gen.integers(0, 4, 60)
    b[:30] = a[:30]
    assert cohen_kappa(a, b) == pytest.approx(cohen_kappa_score(a, b), abs=1e-12)
    assert cohen_kappa(np.full(5, 2), np.full(5, 2)) == 1.0
    with pytest.raises(ValueError, match="equal length"):
        cohen_kappa(a, b[:3])


def test_stabilizing_predictions_fires_exactly_when_the_window_mean_reaches_threshold():
    n = 40
    base = np.arange(n) % 3
    changed = base.copy()
    changed[:20] = (changed[:20] + 1) % 3  # half the predictions differ: kappa ≈ 0.25
    # predictions per round: base, changed, changed, base, base, base
    script = [base, changed, changed, base, base, base]
    crit = StabilizingPredictions(threshold=0.99, window=2, stop_set_size=n)
    fired = []
    for preds in script:
        learner = _learner(ScriptedModel(_onehot(preds)), n=n)
        crit.stop_set_ = np.arange(n) if crit.stop_set_ is None else crit.stop_set_
        fired.append(crit.should_stop(learner, None))
    kappas = [cohen_kappa(a, b) for a, b in zip(script, script[1:], strict=False)]
    assert crit.kappas_ == pytest.approx(kappas)
    # window means: (k0+k1), (k1+k2), (k2+k3), (k3+k4) → only the last pair (1, 1) reaches 0.99
    assert fired[:5] == [None] * 5
    assert fired[5] is not None and "mean kappa 1.0000 >= 0.99" in fired[5]
    assert crit.last_value == 1.0


def test_stabilizing_predictions_stop_set_is_seeded():
    model = ScriptedModel(_onehot(np.zeros(500, dtype=int)))
    a, b, c = (StabilizingPredictions(stop_set_size=50) for _ in range(3))
    a.should_stop(_learner(model, n=500, seed=1), None)
    b.should_stop(_learner(model, n=500, seed=1), None)
    c.should_stop(_learner(model, n=500, seed=2), None)
    np.testing.assert_array_equal(a.stop_set_, b.stop_set_)
    assert not np.array_equal(a.stop_set_, c.stop_set_)
    assert len(a.stop_set_) == 50 and len(np.unique(a.stop_set_)) == 50


@pytest.mark.parametrize("aggregate", ["max", "mean"])
def test_max_uncertainty_fires_exactly_below_threshold(aggregate):
    n = 30
    gen = np.random.default_rng(0)
    table = gen.dirichlet(np.ones(3), size=n)
    labelled = np.arange(0, n, 4)
    learner = _learner(ScriptedModel(table), n=n, labelled=labelled)
    unl = np.setdiff1d(np.arange(n), labelled)
    u = 1 - table[unl].max(axis=1)  # least confidence, computed by hand
    value = u.max() if aggregate == "max" else u.mean()
    crit = MaxUncertainty(value + 1e-9, aggregate=aggregate, chunk_size=4)
    assert crit.should_stop(learner, None) is not None
    assert crit.last_value == pytest.approx(value)
    assert max(learner.model.calls) <= 4  # streamed in chunks
    assert MaxUncertainty(value - 1e-9, aggregate=aggregate).should_stop(learner, None) is None
    assert MaxUncertainty(value, aggregate=aggregate).should_stop(learner, None) is None  # strict <
    with pytest.raises(ValueError, match="aggregate must be"):
        MaxUncertainty(0.1, aggregate="median")


def test_accuracy_plateau_fires_after_patience_flat_changes():
    n_val = 1000
    y_val = np.zeros(n_val, dtype=int)
    accuracies = [0.5, 0.7, 0.702, 0.703, 0.703, 0.9]
    crit = AccuracyPlateau(eps=0.005, patience=2, X_val=np.arange(n_val)[:, None], y_val=y_val)
    fired = []
    for acc in accuracies:
        preds = np.where(np.arange(n_val) < round(acc * n_val), 0, 1)
        fired.append(crit.should_stop(_learner(ScriptedModel(_onehot(preds)), n=n_val), None))
    # changes: .2, .002, .001, 0, .197 → two flat changes in a row first at index 3
    assert fired[:3] == [None] * 3
    assert fired[3] is not None and "changed by < 0.005 for 2 rounds" in fired[3]
    assert crit.accuracies_ == pytest.approx(accuracies)
    with pytest.raises(ValueError, match="both X_val and y_val"):
        AccuracyPlateau(X_val=np.zeros((3, 1)))


def test_accuracy_plateau_holdout_is_never_trained_on():
    gen = np.random.default_rng(0)
    X = gen.normal(size=(120, 2))
    y = (X[:, 0] > 0).astype(int)
    seen = []

    class Recording(SklearnClassifier):
        def fit(self, X_, y_, *, rng):
            seen.append({tuple(row) for row in np.asarray(X_)})
            return super().fit(X_, y_, rng=rng)

    crit = AccuracyPlateau(eps=1e-9, patience=50, holdout=0.25)
    learner = ActiveLearner(Recording(LogisticRegression(), 2), make("margin"), SimulatedOracle(y), X,
                            budget=Budget(12, 4, 24), seed=0, stopping=[crit])
    history = learner.run()
    held = crit.held_out_
    assert len(held) == 3 and set(held) <= set(learner.pool.labelled_indices().tolist())
    for trained in seen:
        assert not trained & {tuple(X[i]) for i in held}
    assert [r.n_labelled for r in history] == [12, 16, 20, 24]  # held-out labels count against the budget
    assert "stop/accuracy_plateau" in history[0].metrics
    with pytest.raises(ValueError, match="leaves no validation or no training"):
        AccuracyPlateau(holdout=0.01).exclude_from_training(_learner(None, labelled=np.arange(5)))


def test_budget_stop_and_protocol():
    learner = _learner(None, labelled=np.arange(40))
    assert BudgetStop().should_stop(learner, None) == "40 of 40 labels spent"
    assert BudgetStop().should_stop(_learner(None, labelled=np.arange(5)), None) is None
    for c in (BudgetStop(), StabilizingPredictions(), MaxUncertainty(0.1), AccuracyPlateau()):
        assert isinstance(c, StoppingCriterion)


def _digits_learner(tmp=None, stopping=None, seed=0, total=200):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X = X[:600] / 16
    y = y[:600]
    crits = stopping if stopping is not None else [StabilizingPredictions(threshold=0.9, window=2, stop_set_size=300)]
    return ActiveLearner(SklearnClassifier(LogisticRegression(max_iter=300), 10), make("margin"), SimulatedOracle(y), X,
                         budget=Budget(20, 10, total), seed=seed, stopping=crits, checkpoint_dir=tmp, n_classes=10)


def test_loop_records_the_reason_and_resume_is_exact(tmp_path):
    full = _digits_learner().run()
    assert full.stop_reason.startswith("stabilizing_predictions: mean kappa")
    stop_round = len(full) - 1
    assert stop_round == 4  # measured; the resume below depends on stopping after round 3  # stopped before the budget (200 labels = 18 rounds)
    assert full[-1].n_labelled < 200 and len(full[-1].queried) == 0
    assert all(r.stop_reason is None for r in full[:-1])
    assert "stop/stabilizing_predictions" in full[-1].metrics
    # interrupted after 3 rounds, resumed with fresh objects: the same rounds and the same stop
    # (without the criterion's checkpointed state the resumed run would lack kappas and stop later)
    first = _digits_learner(tmp_path)
    for _ in range(3):
        first.step()
    resumed = _digits_learner(tmp_path).run()
    assert [r.to_dict()["queried"] for r in resumed] == [r.to_dict()["queried"] for r in full]
    assert resumed.stop_reason == full.stop_reason
    # resuming a stopped run stays stopped
    again = _digits_learner(tmp_path)
    assert len(again.run()) == len(full) and again.done
    with pytest.raises(ActiveLabError, match="finished \\(stabilizing_predictions"):
        again.step()


def test_budget_end_is_recorded():
    history = _digits_learner(stopping=[], total=50).run()
    assert history.stop_reason == "budget: 50 of 50 labels spent"
    assert [r.n_labelled for r in history] == [20, 30, 40, 50]
    with pytest.raises(TypeError, match="stopping criteria need"):
        _digits_learner(stopping=[object()])
