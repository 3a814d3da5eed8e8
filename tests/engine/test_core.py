"""Engine: propose / teach / refit as explicit steps, outstanding items, exact state round trips."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from activelab.checks import CheckModel
from activelab.engine import Engine
from activelab.errors import ActiveLabError, CheckpointError, PoolExhaustedError, StrategyContractError
from activelab.loop import ActiveLearner, Budget
from activelab.models import SklearnClassifier
from activelab.oracles import Answers, SimulatedOracle
from activelab.strategies import make


def _answers(idx, y, answered=None):
    idx = np.asarray(idx, dtype=np.int64)
    return Answers(idx, y[idx], np.ones(len(idx), dtype=bool) if answered is None else np.asarray(answered))


def _engine(data, strategy="margin", seed=0, model=None, **kw):
    X, y = data
    return Engine(model or CheckModel(3), make(strategy), X, seed=seed, **kw)


def _started(data, **kw):
    engine = _engine(data, **kw)
    engine.teach(_answers(engine.propose(10), data[1]))
    engine.refit()
    return engine


def test_the_initial_proposal_is_the_seeded_uniform_draw(tiny_blobs):
    engine = _engine(tiny_blobs, seed=4)
    first = engine.propose(10)
    expected = np.sort(np.random.default_rng([4, 0, 0]).choice(200, 10, replace=False))
    np.testing.assert_array_equal(first, expected)
    assert engine.round_ == -1 and engine.pool.n_pending == 10


def test_proposals_run_ahead_of_answers_and_never_repeat(tiny_blobs):
    engine = _started(tiny_blobs)
    a, b, c = engine.propose(8), engine.propose(8), engine.propose(8)
    assert len(np.unique(np.concatenate([a, b, c]))) == 24
    assert engine.pool.n_pending == 24 and engine.round_ == 0  # no answers came: no refit
    np.testing.assert_array_equal(engine.outstanding, np.sort(np.concatenate([a, b, c])))
    assert not engine.pool.unlabelled_mask[np.concatenate([a, b, c])].any()


def test_a_second_proposal_from_one_model_draws_from_its_own_stream(tiny_blobs):
    engine = _started(tiny_blobs, strategy="random")
    offer = engine.pool.unlabelled_indices()
    first = engine.propose(5)
    second = engine.propose(5)
    # RandomStrategy draws rows of the candidates with its generator: [seed, 3, round], then [seed, 3, round, 1]
    np.testing.assert_array_equal(np.sort(first), np.sort(offer[np.random.default_rng([0, 3, 0]).choice(len(offer), 5, replace=False)]))
    offer2 = np.setdiff1d(offer, first)
    np.testing.assert_array_equal(np.sort(second), np.sort(offer2[np.random.default_rng([0, 3, 0, 1]).choice(len(offer2), 5, replace=False)]))


def test_teach_any_subset_in_any_order_with_skips(tiny_blobs):
    X, y = tiny_blobs
    engine = _started(tiny_blobs)
    a, b = engine.propose(6), engine.propose(6)
    engine.teach(_answers(b[::-1][:3], y))                            # the later batch first, reversed, partly
    engine.teach(_answers(a[:2], y, answered=[True, False]))            # one answer, one skip
    pool = engine.pool
    assert pool.label_round[b[::-1][:3]].tolist() == [1, 1, 1]         # the round whose model first sees them
    assert pool.skipped[a[1]] and not pool.unlabelled_mask[a[1]]
    assert pool.n_pending == 12 - 5
    assert engine.stale
    engine.release(a[2:])
    assert pool.unlabelled_mask[a[2:]].all() and pool.n_pending == 3


def test_items_never_proposed_may_be_taught(tiny_blobs):
    X, y = tiny_blobs
    engine = _engine(tiny_blobs)
    engine.teach(_answers([5, 17, 42, 99, 120, 150, 3, 8], y))  # labels a person gave up front
    assert engine.pool.n_labelled == 8 and engine.round_ == -1
    picked = engine.propose(4)                               # labels exist: fits first, no initial draw
    assert engine.round_ == 0 and not np.isin(picked, [5, 17, 42]).any()


@pytest.mark.parametrize(
    ("answers", "error", "match"),
    [
        (lambda y, e: _answers([3, 3], y), ValueError, "twice"),
        (lambda y, e: Answers(np.array([3, 999]), np.array([0, 0]), np.array([True, True])), IndexError, "outside the pool"),
        (lambda y, e: _answers(e.pool.labelled_indices()[:1], y), ValueError, "already labelled"),
        (lambda y, e: Answers(np.array([1, 2]), np.array([0, 7]), np.array([True, True])), ValueError, "outside the classes"),
        (lambda y, e: Answers(np.array([1.0]), np.array([0]), np.array([True])), TypeError, "integer pool indices"),
    ],
)
def test_bad_answers_change_nothing(tiny_blobs, answers, error, match):
    X, y = tiny_blobs
    engine = _started(tiny_blobs)
    before = engine.state_dict()
    with pytest.raises(error, match=match):
        engine.teach(answers(y, engine))
    after = engine.state_dict()
    for key in ("label_round", "labels", "skipped", "pending"):
        np.testing.assert_array_equal(before["pool"][key], after["pool"][key])


def test_refit_only_when_stale_unless_told(tiny_blobs):
    X, y = tiny_blobs
    engine = _started(tiny_blobs)
    q = engine.propose(5)
    engine.teach(_answers(q, y))
    engine.propose(5, refit=False)
    assert engine.round_ == 0 and engine.stale
    engine.propose(5)
    assert engine.round_ == 1 and not engine.stale


def test_round_records_collect_every_proposal_of_a_model(tiny_blobs):
    X, y = tiny_blobs
    engine = _started(tiny_blobs)
    a, b = engine.propose(3), engine.propose(4)
    engine.teach(_answers(np.concatenate([a, b]), y))
    engine.refit()
    record = engine.history[-1]
    assert record.round_ == 0 and record.n_labelled == 10
    np.testing.assert_array_equal(record.queried, np.concatenate([a, b]))
    assert {"fit", "evaluate", "infer", "select"} <= set(record.seconds)


def test_the_simulation_loop_is_these_steps(tiny_blobs):
    X, y = tiny_blobs
    evaluate = lambda m: {"accuracy": float((m.predict_proba(X).argmax(1) == y).mean())}  # noqa: E731
    learner = ActiveLearner(CheckModel(3), make("margin"), SimulatedOracle(y), X, budget=Budget(10, 5, 30), seed=2,
                            evaluate=evaluate)
    history = learner.run()
    engine = Engine(CheckModel(3), make("margin"), X, seed=2, evaluate=evaluate)
    engine.teach(_answers(engine.propose(10), y))
    curve, asked = [], []
    while True:
        curve.append(engine.refit()["accuracy"])
        if engine.pool.n_labelled >= 30:
            break
        q = engine.propose(5)
        asked.append(q)
        engine.teach(_answers(q, y))
    assert history.column("accuracy").tolist() == curve
    *rounds, last = history  # the last round fits and evaluates but queries nothing (budget spent)
    assert len(last.queried) == 0
    for record, q in zip(rounds, asked, strict=True):
        np.testing.assert_array_equal(record.queried, q)


@pytest.mark.parametrize("model", ["check", "sklearn"])
def test_state_round_trip_mid_round_gives_the_same_proposals(tiny_blobs, tmp_path, model):
    """Saved with items outstanding; a model without state_dict is refitted on the same round's data."""
    X, y = tiny_blobs

    def build():
        m = CheckModel(3) if model == "check" else SklearnClassifier(LogisticRegression(max_iter=300), 3)
        return _engine(tiny_blobs, strategy="power_margin", model=m)

    def steps(engine, n):
        out = []
        for _ in range(n):
            q = engine.propose(4)
            out.append(q)
            engine.teach(_answers(q[:2], y))  # half the answers; the rest stay outstanding
        return out

    full = build()
    full.teach(_answers(full.propose(10), y))
    want = steps(full, 5)

    part = build()
    part.teach(_answers(part.propose(10), y))
    got = steps(part, 2)
    part.save_checkpoint(tmp_path)
    resumed = build()
    resumed.load_checkpoint(tmp_path)
    assert resumed.pool.n_pending == part.pool.n_pending == 4
    got += steps(resumed, 3)
    for w, g in zip(want, got, strict=True):
        np.testing.assert_array_equal(w, g)


def test_checkpoint_of_another_run_is_refused(tiny_blobs, tmp_path):
    engine = _started(tiny_blobs, seed=1)
    engine.save_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match="seed: checkpoint 1 vs run 2"):
        _engine(tiny_blobs, seed=2).load_checkpoint(tmp_path)
    with pytest.raises(CheckpointError, match="strategy: checkpoint 'margin' vs run 'entropy'"):
        _engine(tiny_blobs, strategy="entropy", seed=1).load_checkpoint(tmp_path)


def test_errors(tiny_blobs):
    X, y = tiny_blobs
    engine = _engine(tiny_blobs)
    with pytest.raises(ActiveLabError, match="no labels to fit on"):
        engine.refit()
    with pytest.raises(PoolExhaustedError, match="only 200 offerable items"):
        engine.propose(201)
    with pytest.raises(TypeError, match="Answers"):
        engine.teach([1, 2])
    with pytest.raises(ValueError, match="seed must be a non-negative int"):
        Engine(CheckModel(3), make("margin"), X, seed=-1)

    class Bad:
        name, needs, needs_labelled, n_draws = "bad", ("probs",), False, 0

        def select(self, views, pool, k, rng):
            return pool.labelled_indices()[:k]

    bad = Engine(CheckModel(3), Bad(), X)
    bad.teach(_answers(bad.propose(10), y))
    with pytest.raises(StrategyContractError, match="strategy 'bad' broke the rule .*which is labelled"):
        bad.propose(3)
    assert bad.pool.n_pending == 0  # nothing was marked


def test_a_strategy_override_draws_from_the_same_streams(tiny_blobs):
    a = _started(tiny_blobs, strategy="random")
    b = _started(tiny_blobs, strategy="margin")
    np.testing.assert_array_equal(a.propose(5), b.propose(5, strategy=make("random")))


@pytest.mark.parametrize(("X", "error", "match"), [
    ([[0.0, 1.0], [1.0, 0.0]], TypeError, "got list; convert it with np.asarray"),
    (np.zeros(10), ValueError, r"at least 2-D .*reshape\(-1, 1\)"),
    (np.array([[0.0, 1.0], [np.inf, 2.0], [np.nan, 0.0]]), ValueError, r"first at row 1, column 0: inf"),
    (np.array([["a", "b"], ["c", "d"]]), TypeError, "must be numeric"),
])
def test_bad_pool_features_are_named_at_construction(X, error, match):
    with pytest.raises(error, match=match):
        Engine(CheckModel(3), make("margin"), X)


def test_a_checkpoint_is_refused_for_other_features_of_the_same_size(tiny_blobs, tmp_path):
    X, y = tiny_blobs
    engine = _started((X, y))
    assert engine.fingerprint()["data"]["shape"] == {"X": list(X.shape)}
    engine.save_checkpoint(tmp_path)
    other = _engine((X + 1.0, y))
    with pytest.raises(CheckpointError, match=r"data: checkpoint shape .* sha256 \w{12} vs run .*other content"):
        other.load_checkpoint(tmp_path)
    _engine((X.copy(), y)).load_checkpoint(tmp_path)  # equal content: restored
