"""The round-level switch policy anchored to margin or TCM (issue 16, items 2-3)."""

import copy

import numpy as np
import pytest
import torch

from activelab.engine import own_initial_strategy
from activelab.learned.env import ALEnv
from activelab.learned.features import N_FEATURES
from activelab.learned.proxy import LogisticProxy
from activelab.learned.strategy import load_policy, save_policy
from activelab.learned.switch import (
    TCM_SWITCH_PER_CLASS,
    AdvantageNet,
    SwitchData,
    SwitchTrainConfig,
    collect_switch_data,
    anchor_action,
    decide,
    env_anchor,
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


def test_decide_leaves_the_anchor_only_when_every_member_expects_a_gain():
    assert decide(np.zeros((5, 3))) == 0
    assert decide(np.array([[0.0, 0.5, 0.1], [0.0, 0.7, 0.2]])) == 1     # mean 0.6, sd 0.1: sure
    assert decide(np.array([[0.0, 2.0, 0.0], [0.0, -1.0, 0.0]])) == 0    # mean 0.5, sd 1.5: unsure
    assert decide(np.array([[0.0, 0.1, 0.4], [0.0, 0.1, 0.4]])) == 2
    assert decide(np.array([[0.0, -0.2, -0.1]])) == 0                     # one member: its own sign
    # another anchor: its own column is ignored, the others must beat it
    assert decide(np.array([[-1.0, -0.2, 0.3]]), anchor=1) == 2
    assert decide(np.array([[0.4, 0.0, -0.3]]), anchor=2) == 0
    assert decide(np.array([[-0.4, 0.0, 9.0]]), anchor=2) == 2
    assert decide(np.array([[-1.0, 5.0, -0.3]]), anchor=1) == 1
    with pytest.raises(ValueError, match="members, actions"):
        decide(np.zeros(3))
    with pytest.raises(ValueError, match="anchor must index"):
        decide(np.zeros((1, 3)), anchor=3)
    # caution: how many standard deviations the mean must clear
    unsure = np.array([[0.0, 2.0, 0.0], [0.0, -1.0, 0.0]])             # mean 0.5, sd 1.5
    assert decide(unsure, caution=0.0) == 1 and decide(unsure, caution=0.3) == 1 and decide(unsure, caution=0.4) == 0
    with pytest.raises(ValueError, match="caution must be"):
        decide(unsure, caution=-1.0)


def test_anchor_action_is_the_tcm_rule():
    acts = ("margin", "badge", "typiclust")
    # 4 classes, switch at 3 per class: TypiClust below 12 labels, margin from 12 on
    assert [anchor_action(acts, "tcm", n, 4) for n in (0, 11, 12, 40)] == [2, 2, 0, 0]
    assert all(anchor_action(acts, "margin", n, 4) == 0 for n in (0, 11, 12))
    tcm = make("tcm")
    assert tcm.switch_per_class == TCM_SWITCH_PER_CLASS
    with pytest.raises(ValueError, match="anchor must be one of"):
        anchor_action(acts, "tcmm", 0, 4)
    with pytest.raises(ValueError, match=r"needs the action\(s\) \['typiclust'\]"):
        anchor_action(("margin", "badge"), "tcm", 0, 4)


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


def test_teacher_values_roll_out_the_tcm_anchor(small_task):
    env = _env(small_task, ("margin", "typiclust"))
    before = copy.deepcopy(env)
    values = teacher_values(env, horizon=10, anchor="tcm")

    def anchored(branch):  # follow the TCM rule to the end of the task
        total, done = 0.0, False
        while not done:
            _, r, done, _, _ = branch.step(env_anchor(branch, "tcm"))
            total += r
        return total

    for action in (0, 1):
        branch = copy.deepcopy(before)
        _, first, done, _, _ = branch.step(action)
        assert values[action] == pytest.approx(first + (0.0 if done else anchored(branch)))


def test_untrained_switch_policy_is_margin_exactly(tmp_path):
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=240, centers=3, n_features=5, cluster_std=3.0, random_state=1)
    config = SwitchTrainConfig(actions=("margin", "badge", "typiclust"), members=3)
    members = [AdvantageNet(N_FEATURES, 3, config.hidden) for _ in range(3)]
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
    assert policy.cold_start is None


def test_untrained_tcm_anchored_policy_is_tcm_exactly_from_zero_labels(tmp_path):
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=240, centers=3, n_features=5, cluster_std=3.0, random_state=1)
    config = SwitchTrainConfig(actions=("margin", "badge", "typiclust"), members=2, anchor="tcm")
    members = [AdvantageNet(N_FEATURES, 3, config.hidden) for _ in range(2)]
    path = save_policy(tmp_path / "switch.pt", "switch", switch_state(members, config), {})

    def run(strategy):
        learner = ActiveLearner(
            LogisticProxy(3), strategy, SimulatedOracle(y), X, budget=Budget(0, 4, 36), seed=3,
            initial_strategy=own_initial_strategy(strategy), evaluate=lambda m: {"acc": float((m.predict_proba(X).argmax(1) == y).mean())},
        )
        history = learner.run()
        return list(history.column("acc")), [r.queried.tolist() for r in history]

    policy = make("policy", path=path)
    assert type(policy.cold_start).__name__ == "TypiClustStrategy"
    actions = []
    original = policy.select

    def spy(views, pool, k, rng):
        out = original(views, pool, k, rng)
        actions.append((pool.n_labelled, policy.last_action))
        return out

    policy.select = spy
    assert run(policy) == run(make("tcm"))
    # 3 classes x 3 per class: TypiClust below 9 labels (cold start at 0, then 4 and 8), margin after
    assert actions[:3] == [(4, "typiclust"), (8, "typiclust"), (12, "margin")]

def test_switch_policy_follows_its_members(tmp_path):
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=200, centers=3, n_features=5, random_state=2)
    config = SwitchTrainConfig(actions=("margin", "random"), members=2)
    members = [AdvantageNet(N_FEATURES, 2, config.hidden) for _ in range(2)]
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
    np.testing.assert_allclose(predict_advantages(rebuilt, np.zeros(N_FEATURES)), [[1.0, 1.0], [1.0, 1.0]])


def test_a_margin_anchored_file_without_an_anchor_key_still_loads():
    """Files written before the anchor existed predict only the alternatives' advantages."""
    old = [AdvantageNet(N_FEATURES, 2) for _ in range(2)]
    for net in old:
        torch.nn.init.constant_(net.head.bias, 0.5)
    state = {"actions": ["margin", "badge", "random"], "n_features": N_FEATURES, "hidden": 32,
             "members": [m.state_dict() for m in old]}
    rebuilt = load_switch_members(state)
    np.testing.assert_allclose(predict_advantages(rebuilt, np.zeros(N_FEATURES)), [[0.0, 0.5, 0.5]] * 2)


def test_fit_learns_a_sign_that_depends_on_the_state():
    rng = np.random.default_rng(0)
    n = 200
    obs = rng.uniform(0, 1, size=(n, N_FEATURES)).astype(np.float32)
    # the alternative gains 2 where feature 3 is high, loses 2 where it is low
    values = np.zeros((n, 2))
    values[:, 1] = np.where(obs[:, 3] > 0.5, 2.0, -2.0) + rng.normal(0, 0.1, n)
    data = SwitchData(obs, values, np.arange(n) // 10, np.ones(n))
    np.testing.assert_array_equal(data.advantages[:, 0], 0.0)
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


def test_collect_with_the_tcm_anchor_records_the_anchor_per_state():
    config = SwitchTrainConfig(seed=2, tasks=1, horizon=1, actions=("margin", "typiclust"), anchor="tcm",
                               sources=("wine",), rounds=(3, 3), members=2, epochs=5)
    data = collect_switch_data(config, np.random.default_rng(2))
    # TypiClust (1) below 3 labels per class, margin (0) from there on
    np.testing.assert_array_equal(data.anchor, np.where(data.per_class < 3, 1, 0))
    np.testing.assert_allclose(data.advantages[np.arange(len(data.anchor)), data.anchor], 0.0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"actions": ("badge", "margin")}, "start with 'margin'"),
        ({"actions": ("margin",)}, "at least one alternative"),
        ({"actions": ("margin", "badge", "badge")}, "no repeats"),
        ({"tasks": 0}, "tasks must be an int >= 1"),
        ({"horizon": -1}, "horizon must be an int >= 0"),
        ({"p_teacher": 1.5}, r"p_teacher must lie in \[0, 1\]"),
        ({"anchor": "typiclust"}, "anchor must be one of"),
        ({"anchor": "tcm", "actions": ("margin", "badge")}, "needs the action"),
        ({"sources": ("blobs", "digits")}, r"sources \['digits'\] are evaluation sets"),
        ({"sources": ()}, "sources is empty"),
        ({"caution": -0.5}, "caution must be"),
        ({"protocol": "deploy"}, "protocol must be one of"),
        ({"learners": ("mlp", "cnn")}, "learners must be a non-empty subset"),
    ],
)
def test_config_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SwitchTrainConfig(**kwargs)


def test_unknown_action_is_refused_before_any_work():
    from activelab.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match="Did you mean 'badge'"):
        SwitchTrainConfig(actions=("margin", "badgee"))
