"""The round-level switch policy anchored to margin (issue 16, items 2-3)."""

import copy

import numpy as np
import pytest
import torch

from activelab.learned.env import ALEnv
from activelab.learned.features import N_FEATURES
from activelab.learned.proxy import LogisticProxy
from activelab.learned.strategy import load_policy, save_policy
from activelab.learned.switch import (
    AdvantageNet,
    SwitchData,
    SwitchTrainConfig,
    collect_switch_data,
    decide,
    fit_switch,
    load_switch_members,
    predict_advantages,
    switch_state,
    teacher_values,
    train_switch_policy,
)
from activelab.loop import ActiveLearner, Budget
from activelab.oracles import SimulatedOracle
from activelab.strategies import make

ACTIONS = ("margin", "random")


def _env(task, actions=ACTIONS):
    env = ALEnv("heuristic", task=task, heuristics=actions, max_candidates=12)
    env.reset(seed=5)
    return env


def _episode(env, action):
    rewards, done = [], False
    while not done:
        _, r, done, _, _ = env.step(action)
        rewards.append(r)
    return rewards


def test_decide_takes_an_alternative_only_when_every_member_expects_a_gain():
    assert decide(np.zeros((5, 3))) == 0
    assert decide(np.array([[0.5, 0.1], [0.7, 0.2]])) == 1          # mean 0.6, sd 0.1: sure
    assert decide(np.array([[2.0, 0.0], [-1.0, 0.0]])) == 0          # mean 0.5, sd 1.5: unsure
    assert decide(np.array([[0.1, 0.4], [0.1, 0.4]])) == 2
    assert decide(np.array([[-0.2, -0.1]])) == 0                       # one member: its own sign
    with pytest.raises(ValueError, match="members, alternatives"):
        decide(np.zeros(3))


def test_teacher_values_are_the_branch_returns_and_leave_the_env_alone(small_task):
    env = _env(small_task)
    before = copy.deepcopy(env)
    values = teacher_values(env, horizon=10)   # longer than the task: every branch runs to the end
    # the environment itself has not moved: its episode from here is what it was
    assert env.curve == before.curve and env.engine.pool.n_labelled == before.engine.pool.n_labelled
    assert values[0] == pytest.approx(sum(_episode(copy.deepcopy(before), 0)))
    # taking random first, then margin to the end
    branch = copy.deepcopy(before)
    first = branch.step(1)[1]
    assert values[1] == pytest.approx(first + sum(_episode(branch, 0)))
    # horizon 0: the one round's reward
    assert teacher_values(env, horizon=0)[1] == pytest.approx(first)
    with pytest.raises(ValueError, match="'margin' action"):
        teacher_values(_env(small_task, ("random", "entropy")), 1)


def test_untrained_switch_policy_is_margin_exactly(tmp_path):
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=240, centers=3, n_features=5, cluster_std=3.0, random_state=1)
    config = SwitchTrainConfig(actions=("margin", "badge", "typiclust"), members=3)
    members = [AdvantageNet(N_FEATURES, 2, config.hidden) for _ in range(3)]
    path = save_policy(tmp_path / "switch.pt", "switch", switch_state(members, config), {})

    def curve(strategy):
        learner = ActiveLearner(
            LogisticProxy(3), strategy, SimulatedOracle(y), X,
            budget=Budget(9, 6, 39), seed=3, evaluate=lambda m: {"acc": float((m.predict_proba(X).argmax(1) == y).mean())},
        )
        history = learner.run()
        return list(history.column("acc")), [r.queried.tolist() for r in history]

    policy = make("policy", path=path)
    assert curve(policy) == curve(make("margin"))
    assert policy.last_action == "margin"


def test_switch_policy_follows_its_members(tmp_path):
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=200, centers=3, n_features=5, random_state=2)
    config = SwitchTrainConfig(actions=("margin", "random"), members=2)
    members = [AdvantageNet(N_FEATURES, 1, config.hidden) for _ in range(2)]
    for net in members:  # a sure, constant advantage for random
        torch.nn.init.constant_(net.head.bias, 1.0)
    path = save_policy(tmp_path / "switch.pt", "switch", switch_state(members, config), {"note": "test"})
    learner = ActiveLearner(
        LogisticProxy(3), make("policy", path=path), SimulatedOracle(y), X,
        budget=Budget(9, 5, 19), seed=0,
    )
    learner.run()
    assert learner.strategy.last_action == "random"
    assert load_policy(path)["metadata"] == {"note": "test"}
    rebuilt = load_switch_members(load_policy(path)["state"])
    np.testing.assert_allclose(predict_advantages(rebuilt, np.zeros(N_FEATURES)), [[1.0], [1.0]])


def test_fit_learns_a_sign_that_depends_on_the_state():
    rng = np.random.default_rng(0)
    n = 200
    obs = rng.uniform(0, 1, size=(n, N_FEATURES)).astype(np.float32)
    # the alternative gains 2 where feature 3 is high, loses 2 where it is low
    values = np.zeros((n, 2))
    values[:, 1] = np.where(obs[:, 3] > 0.5, 2.0, -2.0) + rng.normal(0, 0.1, n)
    data = SwitchData(obs, values, np.arange(n) // 10, np.ones(n))
    members = fit_switch(data, SwitchTrainConfig(actions=("margin", "random"), members=3, epochs=150))
    high, low = obs[:, 3] > 0.6, obs[:, 3] < 0.4
    chosen = np.array([decide(predict_advantages(members, o)) for o in obs])
    assert (chosen[high] == 1).mean() > 0.9 and (chosen[low] == 0).mean() > 0.9


def test_collect_and_train_end_to_end(tmp_path):
    config = SwitchTrainConfig(seed=1, tasks=1, horizon=1, actions=("margin", "random"), sources=("generated",),
                               n_items=200, rounds=(2, 2), members=2, epochs=5)
    data = collect_switch_data(config, np.random.default_rng(1))
    assert data.obs.shape == (len(data.values), N_FEATURES) and data.values.shape[1] == 2
    assert (data.task == 0).all() and (np.diff(data.per_class) > 0).all()
    path = train_switch_policy(config, tmp_path / "s.pt", command="activelab policy train-switch ...")
    blob = load_policy(path)
    assert blob["kind"] == "switch" and blob["state"]["actions"] == ["margin", "random"]
    assert blob["metadata"]["states"] == len(data.obs)   # the same seed collects the same states
    assert blob["metadata"]["command"].startswith("activelab policy train-switch")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"actions": ("badge", "margin")}, "start with 'margin'"),
        ({"actions": ("margin",)}, "at least one alternative"),
        ({"actions": ("margin", "badge", "badge")}, "no repeats"),
        ({"tasks": 0}, "tasks must be an int >= 1"),
        ({"horizon": -1}, "horizon must be an int >= 0"),
        ({"p_teacher": 1.5}, r"p_teacher must lie in \[0, 1\]"),
    ],
)
def test_config_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SwitchTrainConfig(**kwargs)


def test_unknown_action_is_refused_before_any_work():
    from activelab.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match="Did you mean 'badge'"):
        SwitchTrainConfig(actions=("margin", "badgee"))
