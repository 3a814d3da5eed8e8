import gymnasium as gym
import numpy as np
import pytest
import torch

from activelab.learned.env import ALEnv
from activelab.learned.networks import EquivariantActorCriticPolicy, EquivariantDQNPolicy, MaskableEquivariantPolicy
from activelab.learned.scorer import CandidateScorer
from activelab.learned.train import quiet_sb3_logger


class _RecordInvalid(gym.Wrapper):
    """Counts masked actions that reach the environment."""

    def __init__(self, env):
        super().__init__(env)
        self.invalid = 0
        self.steps = 0

    def step(self, action):
        mask = self.env.unwrapped.action_masks()
        self.invalid += int(not mask[int(action)])
        self.steps += 1
        return self.env.step(action)

    def action_masks(self):
        return self.env.unwrapped.action_masks()


def test_scorer_is_permutation_equivariant_and_masks():
    torch.manual_seed(0)
    net = CandidateScorer(6, hidden=8)
    x = torch.rand(3, 7, 6)
    x[..., 0] = 1.0
    x[0, 2, 0] = 0.0
    logits, pooled = net(x)
    perm = torch.randperm(7)
    logits_p, pooled_p = net(x[:, perm])
    torch.testing.assert_close(logits_p, logits[:, perm])
    torch.testing.assert_close(pooled_p, pooled)
    assert logits[0, 2] == -1e8
    # invalid rows do not influence the others
    y = x.clone()
    y[0, 2, 1:] = 100.0
    torch.testing.assert_close(net(y)[0][0], logits[0])


def test_maskable_ppo_learns_and_never_takes_masked_actions(small_task):
    from sb3_contrib import MaskablePPO

    env = _RecordInvalid(ALEnv("pick", task=small_task, max_candidates=12))
    model = MaskablePPO(
        MaskableEquivariantPolicy, env, n_steps=128, batch_size=64, n_epochs=2, seed=0,
        policy_kwargs={"hidden": 16}, device="cpu",
    )
    before = {k: v.clone() for k, v in model.policy.scorer.state_dict().items()}
    model.set_logger(quiet_sb3_logger())
    model.learn(256)
    assert env.steps >= 256 and env.invalid == 0
    after = model.policy.scorer.state_dict()
    assert any(not torch.equal(before[k], after[k]) for k in before)
    assert isinstance(model.policy.action_net, torch.nn.Identity)
    # the optimiser holds exactly the policy's parameters (the swapped-out head is gone)
    opt_params = {id(p) for g in model.policy.optimizer.param_groups for p in g["params"]}
    assert opt_params == {id(p) for p in model.policy.parameters()}


def test_ppo_learns_without_masks_and_never_takes_masked_actions(small_task):
    from stable_baselines3 import PPO

    env = _RecordInvalid(ALEnv("pick", task=small_task, max_candidates=12))
    model = PPO(EquivariantActorCriticPolicy, env, n_steps=128, batch_size=64, n_epochs=2, seed=0,
                policy_kwargs={"hidden": 16}, device="cpu")
    model.set_logger(quiet_sb3_logger())
    model.learn(256)
    assert env.steps >= 256 and env.invalid == 0  # invalid rows get logit -1e8


def test_dqn_q_network_masks_invalid_candidates(small_sampler):
    from stable_baselines3 import DQN

    env = _RecordInvalid(ALEnv("pick", sampler=small_sampler, max_candidates=12))
    model = DQN(EquivariantDQNPolicy, env, learning_starts=16, buffer_size=500, batch_size=16, seed=0,
                exploration_fraction=0.01, exploration_final_eps=0.0, policy_kwargs={"hidden": 16}, device="cpu")
    model.set_logger(quiet_sb3_logger())
    model.learn(64)
    obs, _ = env.reset(seed=1)
    env.unwrapped.step(int(np.flatnonzero(env.action_masks())[0]))
    obs = env.unwrapped._observation()
    q = model.q_net(torch.as_tensor(obs)[None])[0]
    assert (q[~torch.as_tensor(env.action_masks())] == -1e8).all()
    action, _ = model.predict(obs, deterministic=True)
    assert env.action_masks()[int(action)]


def test_subproc_vec_env(small_sampler):
    from stable_baselines3.common.vec_env import SubprocVecEnv

    def make(i):
        return lambda: ALEnv("pick", sampler=small_sampler, max_candidates=12)

    venv = SubprocVecEnv([make(0), make(1)], start_method="fork")
    try:
        venv.seed(0)
        obs = venv.reset()
        assert obs.shape == (2, 12 * 30)
        masks = np.stack(venv.env_method("action_masks"))
        obs, rewards, dones, infos = venv.step(masks.argmax(axis=1))
        assert rewards.shape == (2,) and all("val_accuracy" in i for i in infos)
    finally:
        venv.close()


def test_bad_observation_space():
    from gymnasium import spaces

    with pytest.raises(ValueError, match="flat Box"):
        EquivariantActorCriticPolicy(spaces.Box(0, 1, (31,)), spaces.Discrete(2), lambda _: 1e-3)
