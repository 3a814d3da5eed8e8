import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from activelab.errors import ActiveLabError, CapabilityError, CheckpointError
from activelab.loop import ActiveLearner, Budget, Callback
from activelab.models import SklearnClassifier, TorchClassifier, mlp
from activelab.oracles import CallbackOracle, SimulatedOracle
from activelab.strategies import make


def _learner(data, strategy="margin", seed=0, model=None, budget=Budget(6, 4, 20), **kw):
    X, y = data
    model = model or SklearnClassifier(LogisticRegression(max_iter=200), 3)
    evaluate = lambda m: {"accuracy": float((m.predict_proba(X).argmax(1) == y).mean())}  # noqa: E731
    return ActiveLearner(model, make(strategy), SimulatedOracle(y), X, budget=budget, seed=seed, evaluate=evaluate, **kw)


def _strip(history):
    return [(r.round_, r.n_labelled, r.queried.tolist(), dict(r.metrics)) for r in history]


def test_rounds_and_budget(tiny_blobs):
    history = _learner(tiny_blobs).run()
    assert [r.n_labelled for r in history] == [6, 10, 14, 18, 20]
    assert [len(r.queried) for r in history] == [4, 4, 4, 2, 0]  # last query shrinks to fit the budget
    queried = np.concatenate([r.queried for r in history])
    assert len(np.unique(queried)) == len(queried) == 14
    assert set(history[0].seconds) == {"fit", "evaluate", "infer", "select", "label"}
    assert history.column("accuracy").shape == (5,)
    assert 0 <= history.auc() <= 1


def test_labels_come_from_the_oracle(tiny_blobs):
    X, y = tiny_blobs
    learner = _learner(tiny_blobs)
    learner.run()
    lab = learner.pool.labelled_indices()
    np.testing.assert_array_equal(learner.pool.labels[lab], y[lab])
    assert learner.pool.label_round[lab].max() == 4


def test_same_seed_same_queries_and_pairing(tiny_blobs):
    a = _strip(_learner(tiny_blobs, seed=3).run())
    b = _strip(_learner(tiny_blobs, seed=3).run())
    c = _strip(_learner(tiny_blobs, seed=4).run())
    assert a == b
    assert a != c
    other = _learner(tiny_blobs, strategy="random", seed=3)
    other.run()
    # paired: same seed → same initial set and same round-0 model, whatever the strategy
    assert other.history[0].metrics == _learner(tiny_blobs, seed=3).run()[0].metrics


def test_initial_set_is_shared_across_strategies(tiny_blobs):
    la, lb = _learner(tiny_blobs, seed=9), _learner(tiny_blobs, "entropy", seed=9)
    la.step(), lb.step()
    np.testing.assert_array_equal(la.pool.labelled_in_round(0), lb.pool.labelled_in_round(0))


class _StopAfter(Callback):
    def __init__(self, n):
        self.n = n

    def on_round_end(self, learner, record):
        return record.round_ + 1 < self.n


@pytest.mark.parametrize("update", ["retrain", "warm_start"])
def test_checkpoint_resume_equals_uninterrupted(tiny_blobs, tmp_path, update):
    def model():
        return TorchClassifier(mlp((8,), 0.25), 3, lr=1e-2, epochs=5, update=update)

    full = _strip(_learner(tiny_blobs, "bald", model=model()).run())
    interrupted = _learner(tiny_blobs, "bald", model=model(), checkpoint_dir=tmp_path, callbacks=[_StopAfter(2)])
    interrupted.run()
    assert len(interrupted.history) == 2
    resumed = _learner(tiny_blobs, "bald", model=model(), checkpoint_dir=tmp_path)
    assert _strip(resumed.run()) == full


def test_corrupt_checkpoint_is_clear_and_kept(tiny_blobs, tmp_path):
    (tmp_path / "checkpoint.npz").write_bytes(b"not a zip file")
    with pytest.raises(CheckpointError, match="corrupt"):
        _learner(tiny_blobs, checkpoint_dir=tmp_path).run()
    assert (tmp_path / "checkpoint.npz").read_bytes() == b"not a zip file"


def test_checkpoint_of_another_run(tiny_blobs, tmp_path):
    first = _learner(tiny_blobs, seed=1, checkpoint_dir=tmp_path, callbacks=[_StopAfter(1)])
    first.run()
    saved = (tmp_path / "checkpoint.npz").read_bytes()
    with pytest.raises(CheckpointError, match="seed: checkpoint 1 vs run 2"):
        _learner(tiny_blobs, seed=2, checkpoint_dir=tmp_path).run()
    with pytest.raises(CheckpointError, match="initial_strategy: checkpoint 'random' vs run 'kmeans'"):
        _learner(tiny_blobs, seed=1, checkpoint_dir=tmp_path, initial_strategy="kmeans").run()
    assert (tmp_path / "checkpoint.npz").read_bytes() == saved


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"initial": 10, "query_size": 5, "total": 5}, "smaller than the initial set"),
        ({"initial": -1, "query_size": 5, "total": 50}, "initial must be >= 0"),
        ({"initial": 0, "query_size": 5, "total": 0}, "total must be >= 1"),
        ({"initial": 5, "query_size": 0, "total": 50}, "query_size must be a positive int"),
    ],
)
def test_budget_errors(kw, match):
    with pytest.raises(ValueError, match=match):
        Budget(**kw)


def test_budget_larger_than_pool(tiny_blobs):
    with pytest.raises(ValueError, match="exceeds the pool size"):
        _learner(tiny_blobs, budget=Budget(5, 5, 500))


def test_capability_checked_up_front(tiny_blobs):
    with pytest.raises(CapabilityError, match="bald"):
        _learner(tiny_blobs, "bald")


def test_bad_strategy_output_is_caught(tiny_blobs):
    X, y = tiny_blobs

    class Bad:
        name, needs, needs_labelled, n_draws = "bad", (), False, 0

        def select(self, views, pool, k, rng):
            return np.zeros(k, dtype=np.int64)  # duplicates

    learner = ActiveLearner(SklearnClassifier(LogisticRegression(), 3), Bad(), SimulatedOracle(y), X, budget=Budget(5, 3, 11))
    with pytest.raises(ActiveLabError, match="indices are unique"):
        learner.run()


def test_skipped_items_are_not_offered_again(tiny_blobs):
    X, y = tiny_blobs
    oracle = CallbackOracle(lambda idx: [None if i % 2 else int(y[i]) for i in idx])
    learner = ActiveLearner(
        SklearnClassifier(LogisticRegression(), 3), make("random"), oracle, X,
        budget=Budget(4, 6, 30), initial_indices=[0, 2, 4, 6],
    )
    learner.run()
    assert learner.pool.skipped.sum() > 0
    assert not (learner.pool.skipped & learner.pool.labelled_mask).any()
    assert learner.pool.n_labelled == 30 or learner.pool.n_unlabelled == 0


@pytest.mark.parametrize(("strategy", "joint"), [("batchbald", True), ("epig", True), ("bald", False), ("power_bald", False)])
def test_the_loop_asks_for_joint_draws_only_for_strategies_that_compare_draws(tiny_blobs, strategy, joint):
    class Recording(SklearnClassifier):
        seen: list

        def predict_proba_samples(self, X, n_draws, *, rng, joint=False):
            self.seen.append(joint)
            p = self.predict_proba(X)
            return np.repeat(p[:, None, :], n_draws, axis=1)

    model = Recording(LogisticRegression(max_iter=200), 3)
    model.seen = []
    _learner(tiny_blobs, strategy=strategy, model=model, budget=Budget(6, 4, 10)).run()
    assert model.seen and set(model.seen) == {joint}
    assert getattr(make(strategy), "joint_draws", False) is joint


# ------------------------------------------------------------------ API misuse: clear errors
def _bad_nan(X):
    X = X.copy()
    X[5, 1] = np.nan
    return X


@pytest.mark.parametrize(("change", "error", "match"), [
    (lambda X, y: (X.tolist(), y), TypeError, r"X must be an array of shape .* got list; convert it with np\.asarray"),
    (lambda X, y: (X[:, 0], y), ValueError, r"X must be at least 2-D .* got shape \(\d+,\); .*reshape\(-1, 1\)"),
    (lambda X, y: (X, y[:-3]), ValueError, r"the oracle holds \d+ labels but X has \d+ items"),
    (lambda X, y: (_bad_nan(X), y), ValueError, r"X holds NaN/inf values \(first at row 5, column 1: nan\)"),
    (lambda X, y: (X, y + 0.37), ValueError, r"non-integer values \(first at row 0: .*regression"),
    (lambda X, y: (X, np.where(np.arange(len(y)) == 4, 7, y)), ValueError, r"label 7 \(item 4\) is outside the classes \[0, 3\)"),
    (lambda X, y: (X, y.astype(str)), TypeError, r"must hold integer class ids 0\.\.C-1, got dtype <U"),
])
def test_api_misuse_is_a_clear_error_before_any_work(tiny_blobs, change, error, match):
    X, y = change(*tiny_blobs)
    with pytest.raises(error, match=match):
        ActiveLearner(SklearnClassifier(LogisticRegression(), 3), make("margin"), SimulatedOracle(y), X,
                      budget=Budget(6, 4, 20))


@pytest.mark.parametrize("what", ["X", "y"])
def test_checkpoint_refuses_other_data_of_the_same_size(tiny_blobs, tmp_path, what):
    X, y = tiny_blobs
    first = _learner((X, y), checkpoint_dir=tmp_path, callbacks=[_StopAfter(1)])
    first.run()
    saved = (tmp_path / "checkpoint.npz").read_bytes()
    other = (X[::-1].copy(), y) if what == "X" else (X, np.roll(y, 1))
    key = "data" if what == "X" else "labels"
    with pytest.raises(CheckpointError, match=f"{key}: checkpoint .*sha256 .* vs run .*The data differ"):
        _learner(other, checkpoint_dir=tmp_path).run()
    assert (tmp_path / "checkpoint.npz").read_bytes() == saved
    resumed = _learner((X, y), checkpoint_dir=tmp_path)  # the same data resume
    assert len(resumed.run()) == 5
