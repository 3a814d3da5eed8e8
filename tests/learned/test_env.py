import dataclasses

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env as gym_check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from activelab.learned.env import ALEnv, reference_curve


def _rollout(env, seed, policy="first"):
    obs, info = env.reset(seed=seed)
    rewards, infos, done = [], [info], False
    rng = np.random.default_rng(0)
    while not done:
        if env.mode == "pick":
            valid = np.flatnonzero(env.action_masks())
            action = valid[0] if policy == "first" else rng.choice(valid)
        else:
            action = env.action_space.sample()
        obs, r, done, trunc, info = env.step(action)
        assert not trunc
        rewards.append(r)
        infos.append(info)
    return np.array(rewards), infos


@pytest.mark.parametrize("mode", ["pick", "weights", "heuristic"])
def test_env_checkers(small_sampler, mode):
    env = ALEnv(mode, sampler=small_sampler, max_candidates=12)
    gym_check_env(env, skip_render_check=True)
    sb3_check_env(env, warn=True, skip_render_check=True)


def test_same_seed_same_episode(small_sampler):
    env = ALEnv("pick", sampler=small_sampler, max_candidates=12)
    o1, _ = env.reset(seed=5)
    r1, i1 = _rollout(env, 5, "random")
    o2, _ = env.reset(seed=5)
    r2, i2 = _rollout(env, 5, "random")
    np.testing.assert_array_equal(o1, o2)
    np.testing.assert_array_equal(r1, r2)
    assert [i["val_accuracy"] for i in i1] == [i["val_accuracy"] for i in i2]
    r3, _ = _rollout(env, 6, "random")
    assert len(r3) != len(r1) or not np.array_equal(r3, r1)


def test_return_is_auc_difference_against_reference(small_task):
    env = ALEnv("pick", task=small_task, max_candidates=12)
    rewards, infos = _rollout(env, 0)
    ref = reference_curve(small_task, "margin")
    curve = env.curve
    n = [small_task.initial] + [i["n_labelled"] for i in infos[1:] if i["n_labelled"] != infos[0]["n_labelled"]]
    n = np.array(sorted(set([small_task.initial] + [i["n_labelled"] for i in infos])))
    span = small_task.budget - small_task.initial
    expected = 100 * sum((curve[t] - ref[t]) * (n[t] - n[t - 1]) for t in range(1, len(curve))) / span
    assert rewards.sum() == pytest.approx(expected)
    assert n[-1] == small_task.budget
    # the reference strategy itself earns exactly zero
    env_ref = ALEnv("heuristic", task=small_task, max_candidates=12, heuristics=("margin",))
    r_ref, _ = _rollout(env_ref, 0)
    np.testing.assert_allclose(r_ref, 0.0)


def test_rewards_use_no_test_data(small_task):
    rng = np.random.default_rng(0)
    perturbed = dataclasses.replace(
        small_task, y_test=rng.permutation(small_task.y_test), X_test=small_task.X_test + rng.normal(size=small_task.X_test.shape)
    )
    r_a, i_a = _rollout(ALEnv("pick", task=small_task, max_candidates=12), 1, "random")
    r_b, i_b = _rollout(ALEnv("pick", task=perturbed, max_candidates=12), 1, "random")
    np.testing.assert_array_equal(r_a, r_b)
    assert [i["test_accuracy"] for i in i_a] != [i["test_accuracy"] for i in i_b]  # the perturbation was seen


def test_masked_actions_are_replaced_and_reported(small_task):
    env = ALEnv("pick", task=dataclasses.replace(small_task, query_size=4, n_candidates=8), max_candidates=12)
    env.reset(seed=0)
    _, _, _, _, info = env.step(11)  # padding row
    assert info["invalid_action"]
    assert env.action_masks().sum() == 7
    _, _, _, _, info = env.step(int(np.flatnonzero(env.action_masks())[0]))
    assert not info["invalid_action"]


def test_expert_scores_match_manual_lookahead(small_task):
    import copy

    env = ALEnv("pick", task=small_task, max_candidates=12)
    env.reset(seed=0)
    scores = env.expert_scores()
    mask = env.action_masks()
    assert np.isneginf(scores[~mask]).all() and np.isfinite(scores[mask]).all()
    engine = env.engine
    row = int(np.flatnonzero(mask)[2])
    idx = np.append(engine.pool.labelled_indices(), env._cand[row])
    m = copy.deepcopy(engine.model).fit(small_task.X_train[idx], small_task.y_train[idx], rng=np.random.default_rng(0))
    p = m.predict_proba(small_task.X_val)
    acc = (p.argmax(1) == small_task.y_val).mean()
    nll = -np.log(p[np.arange(len(p)), small_task.y_val]).mean()
    assert scores[row] == pytest.approx(acc - 0.01 * nll)


def test_errors(small_sampler):
    with pytest.raises(ValueError, match="mode must be one of"):
        ALEnv("picks")
    env = ALEnv("pick", sampler=small_sampler, max_candidates=12)
    with pytest.raises(RuntimeError, match="reset"):
        env.step(0)
    from activelab.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match="Did you mean 'margin'"):
        ALEnv("heuristic", sampler=small_sampler, heuristics=("margn",))
