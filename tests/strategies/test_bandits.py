import math

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from activelab.errors import ActiveLabError
from activelab.loop import ActiveLearner, Budget
from activelab.models import SklearnClassifier, TorchClassifier, Views, mlp
from activelab.oracles import SimulatedOracle
from activelab.pool import Pool
from activelab.strategies import make
from activelab.strategies.bandits import (
    ALBLStrategy,
    TailorStrategy,
    beta_update,
    exp4p_distribution,
    exp4p_update,
    importance_weighted_accuracy,
    thompson_choose,
)


def _naive_exp4p(advice_seq, picks_seq, rewards, p_min, delta, horizon):
    """EXP4.P (Beygelzimer et al. 2011) written out with plain floats and loops; k picks per round."""
    n_experts = len(advice_seq[0])
    w = [1.0] * n_experts
    for advice, picks, r in zip(advice_seq, picks_seq, rewards, strict=True):
        K = len(advice[0])
        W = sum(w)
        p = [(1 - K * p_min) * sum(w[i] * advice[i][j] for i in range(n_experts)) / W + p_min for j in range(K)]
        bonus = math.sqrt(math.log(n_experts / delta) / (K * horizon))
        new = []
        for i in range(n_experts):
            y_hat = sum(advice[i][j] * r / p[j] for j in picks) / len(picks)
            v_hat = sum(advice[i][j] / p[j] for j in range(K))
            new.append(w[i] * math.exp(p_min / 2 * (y_hat + v_hat * bonus)))
        w = new
    total = sum(w)
    return [x / total for x in w]


@pytest.mark.parametrize("k", [1, 2])
def test_exp4p_updates_match_naive_reference(k):
    gen = np.random.default_rng(k)
    n_experts, K, T, delta = 3, 6, 8, 0.1
    p_min = 0.05
    advice_seq, picks_seq = [], []
    for _ in range(T):
        advice = np.zeros((n_experts, K))
        for i in range(n_experts):
            advice[i, gen.choice(K, size=k, replace=False)] = 1.0 / k
        advice_seq.append(advice)
        picks_seq.append(gen.choice(K, size=k, replace=False).tolist())
    rewards = [0.1, 0.9, 0.5, 1.0, 0.0, 0.3, 0.7, 0.6]
    log_w = np.zeros(n_experts)
    for advice, picks, r in zip(advice_seq, picks_seq, rewards, strict=True):
        q = exp4p_distribution(log_w, advice, p_min)
        assert q.sum() == pytest.approx(1.0) and q.min() >= p_min - 1e-15
        bonus = math.sqrt(math.log(n_experts / delta) / (K * T))
        log_w = exp4p_update(log_w, advice[:, picks], q[picks], (advice / q).sum(1), r, p_min / 2, bonus)
    w = np.exp(log_w - log_w.max())
    expected = _naive_exp4p([a.tolist() for a in advice_seq], picks_seq, rewards, p_min, delta, T)
    np.testing.assert_allclose(w / w.sum(), expected, rtol=1e-12)
    with pytest.raises(ValueError, match="p_min must be in"):
        exp4p_distribution(log_w, advice_seq[0], 0.5)
    with pytest.raises(ValueError, match="reward must be in"):
        exp4p_update(log_w, advice_seq[0][:, :1], np.array([0.2]), np.ones(3), 1.5, 0.1, 0.0)


def test_importance_weighted_accuracy_is_unbiased():
    """Drawing one item from q and weighting by 1/q estimates the accuracy over the candidates."""
    gen = np.random.default_rng(0)
    correct = gen.random(20) < 0.7
    q = gen.dirichlet(np.ones(20))
    draws = gen.choice(20, size=200_000, p=q)
    est = importance_weighted_accuracy(correct[draws], 1.0 / q[draws], np.full(len(draws), 20))
    assert est == pytest.approx(correct.mean(), abs=0.01)


def _views(n, labelled, probs):
    return Views(indices=np.arange(n), labelled=labelled, probs=probs)


def test_albl_round_trip_reward_and_update_by_hand():
    """Two rounds on hand-made views: the update uses IW-ACC of the new predictions, computed by hand."""
    n, k = 30, 4
    gen = np.random.default_rng(0)
    y = gen.integers(0, 3, n)
    pool = Pool(n, 3)
    pool.add_labels(np.arange(3), y[:3], round_=0)
    albl = ALBLStrategy(("random", "margin", "entropy"), learning_rate=0.5)
    probs = gen.dirichlet(np.ones(3), size=n)
    picked = albl.select(_views(n, pool.labelled_mask, probs), pool, k, np.random.default_rng(1))
    assert len(set(picked.tolist())) == k and pool.unlabelled_mask[picked].all()
    pending = albl.state_dict()["pending"]
    # importance weights are 1/π_s with π_s = q(j_s) / (mass of the items not drawn before)
    q = np.asarray(pending["picked_q"])
    expected_w = (1.0 - np.concatenate([[0.0], np.cumsum(q)[:-1]])) / q
    np.testing.assert_allclose(albl.importance_, expected_w)
    assert albl.n_candidates_ == [27, 26, 25, 24]
    pool.add_labels(picked, y[picked], round_=1)
    new_probs = gen.dirichlet(np.ones(3), size=n)
    correct = new_probs[picked].argmax(1) == y[picked]
    reward = min(1.0, float(np.mean(expected_w * correct / np.array([27, 26, 25, 24]))))
    expected_log_w = exp4p_update(
        np.zeros(3), np.asarray(pending["picked_advice"]), q, np.asarray(pending["v_hat"]), reward, 0.5, pending["bonus"]
    )
    albl.select(_views(n, pool.labelled_mask, new_probs), pool, k, np.random.default_rng(2))
    assert albl.rewards_ == pytest.approx([reward])
    np.testing.assert_allclose(albl.log_weights_, expected_log_w)


def test_thompson_sampling_converges_to_the_best_arm():
    """3 arms whose picks have class 0 with prob .2, .5, .8; the reward weights only class 0."""
    gen = np.random.default_rng(0)
    p_class0 = np.array([0.2, 0.5, 0.8])
    alpha, beta = np.ones((3, 2)), np.ones((3, 2))
    pulls = []
    for _ in range(400):
        arm = thompson_choose(alpha, beta, np.array([1.0, 0.0]), np.ones(3, bool), gen)
        beta_update(alpha, beta, arm, 0 if gen.random() < p_class0[arm] else 1)
        pulls.append(arm)
    assert np.mean(np.array(pulls[-100:]) == 2) > 0.8
    np.testing.assert_array_equal(alpha + beta, np.ones((3, 2)) * 2 + np.bincount(pulls, minlength=3)[:, None])
    # an unavailable arm is never chosen
    assert thompson_choose(alpha, beta, np.array([1.0, 0.0]), np.array([True, True, False]), gen) != 2


def test_tailor_updates_posteriors_from_the_labels_and_redo_is_idempotent():
    n, k = 40, 5
    gen = np.random.default_rng(3)
    y = gen.integers(0, 2, n)
    pool = Pool(n, 2)
    pool.add_labels(np.arange(4), y[:4], round_=0)
    tailor = TailorStrategy(("random", "margin"))
    views = _views(n, pool.labelled_mask, gen.dirichlet(np.ones(2), size=n))
    first = tailor.select(views, pool, k, np.random.default_rng(0))
    again = tailor.select(views, pool, k, np.random.default_rng(0))  # same round asked twice: same answer
    np.testing.assert_array_equal(first, again)
    arms = tailor.state_dict()["pending"]["arms"]
    pool.add_labels(first, y[first], round_=1)
    tailor.select(_views(n, pool.labelled_mask, views.probs), pool, k, np.random.default_rng(1))
    alpha = np.ones((2, 2))
    for item, arm in zip(first, arms, strict=True):
        alpha[arm, y[item]] += 1
    np.testing.assert_array_equal(tailor.alpha_, alpha)
    np.testing.assert_array_equal(tailor.alpha_ + tailor.beta_, 2 + np.bincount(arms, minlength=2)[:, None] * np.ones((1, 2)))


def test_needs_are_the_union_of_the_arms():
    albl = make("albl")
    assert set(albl.needs) == {"probs", "embeddings"} and albl.needs_labelled
    tailor = make("tailor", arms=("margin", "bald"))
    assert set(tailor.needs) == {"probs", "prob_samples"} and not tailor.needs_labelled and tailor.n_draws == 20
    with pytest.raises(ValueError, match="distinct names"):
        TailorStrategy(("margin", "margin"))
    with pytest.raises(ValueError, match="non-empty sequence"):
        ALBLStrategy(())
    with pytest.raises(TypeError, match="nesting bandits"):
        TailorStrategy(("margin", ALBLStrategy()))
    with pytest.raises(ValueError, match="exploration must be in"):
        ALBLStrategy(exploration=1.0)


def _learner(name, tmp=None, **kw):
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    X, y = X[:300] / 16, y[:300]
    strategy = make(name, arms=("random", "margin", "entropy"), **kw)
    return ActiveLearner(SklearnClassifier(LogisticRegression(max_iter=100), 10), strategy, SimulatedOracle(y), X,
                         budget=Budget(20, 10, 60), seed=0, checkpoint_dir=tmp, n_classes=10)


@pytest.mark.parametrize("name", ["albl", "tailor"])
def test_checkpoint_resume_is_exact(tmp_path, name):
    kw = {"learning_rate": 1.0} if name == "albl" else {}
    full = _learner(name, **kw)
    history = full.run()
    first = _learner(name, tmp_path, **kw)
    first.step()
    first.step()
    resumed = _learner(name, tmp_path, **kw)
    again = resumed.run()
    assert [r.to_dict() | {"seconds": None} for r in again] == [r.to_dict() | {"seconds": None} for r in history]
    assert resumed.strategy.state_dict() == full.strategy.state_dict()
    if name == "albl":
        assert len(full.strategy.rewards_) == 3 and not np.allclose(full.strategy.weights_, 1 / 3)


def test_reusing_a_strategy_in_another_run_is_an_error():
    learner = _learner("tailor")
    learner.run()
    other = _learner("tailor")
    other.engine.strategy = learner.strategy
    other.engine.seed = 5
    with pytest.raises(ActiveLabError, match="state of another run"):
        other.run()


def test_default_arms_in_the_loop(tiny_blobs):
    X, y = tiny_blobs
    model = TorchClassifier(mlp((8,), 0.25), 3, epochs=5)
    for name in ("albl", "tailor"):
        history = ActiveLearner(model, make(name), SimulatedOracle(y), X, budget=Budget(10, 5, 25), seed=0).run()
        assert [r.n_labelled for r in history] == [10, 15, 20, 25]
