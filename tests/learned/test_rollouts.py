"""DAgger rollouts in parallel: the same imitation data and weights in this process, in two workers and on Ray."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from activelab.cli import app
from activelab.experiments.options import ConfigError, protocol_fields
from activelab.learned.config import TrainConfig
from activelab.learned.env import ALEnv
from activelab.learned.features import N_FEATURES
from activelab.learned.rollouts import EpisodeSpec, RolloutRunner, collect_expert_data, rollout_episode
from activelab.learned.scorer import CandidateScorer
from activelab.learned.strategy import load_policy
from activelab.learned.train import train_policy

ENV = {"COLUMNS": "200", "NO_COLOR": "1"}

# Two DAgger iterations, so the second rolls in with the cloned scorer (its weights travel to the workers).
TINY = TrainConfig(
    dagger_iterations=2, episodes_per_iteration=2, max_candidates=4, epochs=2, n_items=150, sources=("generated",),
    timesteps=0, expert_max_iter=3, command="test",
)


def _train(tmp_path, name: str, **execution: object) -> dict:
    return load_policy(train_policy(dataclasses.replace(TINY, **execution), tmp_path / f"{name}.pt"))


def _assert_same_policy(a: dict, b: dict) -> None:
    wa, wb = a["state"]["weights"], b["state"]["weights"]
    assert list(wa) == list(wb)
    for key in wa:
        assert torch.equal(wa[key], wb[key]), key
    strip = [{k: v for k, v in row.items() if k != "seconds"} for row in a["metadata"]["dagger"]]
    assert strip == [{k: v for k, v in row.items() if k != "seconds"} for row in b["metadata"]["dagger"]]
    assert a["metadata"]["config"] == b["metadata"]["config"]  # the recipe; execution is stored apart


@pytest.fixture(scope="module")
def in_process(tmp_path_factory) -> dict:
    return _train(tmp_path_factory.mktemp("policy"), "one")


def test_two_workers_train_the_same_policy_as_one_process(in_process, tmp_path):
    two = _train(tmp_path, "two", workers=2)
    _assert_same_policy(in_process, two)
    assert in_process["metadata"]["execution"] == {"workers": 1, "backend": "local", "address": None}
    assert two["metadata"]["execution"] == {"workers": 2, "backend": "local", "address": None}
    assert "workers" not in two["metadata"]["config"] and two["metadata"]["config"]["seed"] == 0
    assert [row["states"] for row in two["metadata"]["dagger"]][-1] > [row["states"] for row in two["metadata"]["dagger"]][0]


def test_ray_tasks_train_the_same_policy_as_one_process(in_process, ray_local, tmp_path):
    on_ray = _train(tmp_path, "ray", backend="ray")
    _assert_same_policy(in_process, on_ray)
    assert on_ray["metadata"]["execution"]["backend"] == "ray"
    assert ray_local.is_initialized()  # a Ray the caller started is used and left running


def test_an_episode_is_a_pure_function_of_its_spec(small_task):
    torch.manual_seed(0)
    scorer = CandidateScorer(N_FEATURES, hidden=8)
    env = ALEnv("pick", task=small_task, max_candidates=12)
    obs, scores, returns = collect_expert_data(env, 3, np.random.default_rng(5), scorer, beta=0.5, expert_max_iter=3)
    # the seeds are drawn up front, two per episode; each episode alone gives its slice of the arrays
    seeds = np.random.default_rng(5).integers(0, 2**31 - 1, size=(3, 2))
    policy = {k: v.clone() for k, v in scorer.state_dict().items()}

    def spec(i: int, policy: dict | None, beta: float) -> EpisodeSpec:
        return EpisodeSpec(int(seeds[i, 0]), int(seeds[i, 1]), env.sampler, small_task, 12, "margin", policy, beta, 3)

    episodes = [rollout_episode(spec(i, policy, 0.5)) for i in range(3)]
    np.testing.assert_array_equal(obs, np.concatenate([e.obs for e in episodes]))
    np.testing.assert_array_equal(scores, np.concatenate([e.scores for e in episodes]))
    assert returns == [e.episode_return for e in episodes]
    # the scorer's weights are used: always following it visits other states than always following the expert
    policy_only, expert_only = rollout_episode(spec(1, policy, 0.0)), rollout_episode(spec(1, None, 0.0))
    assert not (len(policy_only.obs) == len(expert_only.obs) and np.array_equal(policy_only.obs, expert_only.obs))


def test_execution_options_are_not_the_recipe():
    recipe = protocol_fields(TrainConfig)
    assert {"seed", "episodes_per_iteration", "expert_max_iter"} <= set(recipe)
    assert not {"workers", "backend", "address", "command"} & set(recipe)


def test_bad_workers_backend_and_address_are_refused_before_any_work(tmp_path):
    with pytest.raises(ConfigError, match=r"backend \(--backend\) must be one of local, ray; got 'dask'"):
        TrainConfig(backend="dask")
    with pytest.raises(ConfigError, match="it needs --backend ray"):
        TrainConfig(address="10.0.0.5:6379")
    with pytest.raises(ConfigError, match=r"address \(--address\) must be auto, host:port"):
        TrainConfig(backend="ray", address="10.0.0.5")
    with pytest.raises(ValueError, match=r"workers \(--workers\) must be an int >= 1, got 0"):
        TrainConfig(workers=0)
    with pytest.raises(ValueError, match="workers must be an int >= 1, got 0"):
        RolloutRunner(workers=0)
    runner = CliRunner()
    out = tmp_path / "p.pt"
    result = runner.invoke(app, ["policy", "train", "--backend", "dask", "--out", str(out)], env=ENV)
    assert result.exit_code == 2 and "must be one of local, ray; got 'dask'" in result.output
    result = runner.invoke(app, ["policy", "train", "--address", "auto", "--out", str(out)], env=ENV)
    assert result.exit_code == 2 and "it needs --backend ray" in result.output
    # nothing listens on port 1: refused in seconds, before any episode runs
    result = runner.invoke(app, ["policy", "train", "--backend", "ray", "--address", "127.0.0.1:1", "--timesteps", "0",
                                 "--out", str(out)], env=ENV)
    assert result.exit_code == 2 and "no Ray cluster answers at --address 127.0.0.1:1" in result.output
    assert not out.exists()


def test_the_cli_stores_the_command_without_an_unset_address(tmp_path):
    out = tmp_path / "p.pt"
    args = ["policy", "train", "--dagger-iterations", "1", "--episodes", "1", "--max-candidates", "4", "--epochs", "1",
            "--n-items", "150", "--sources", "generated", "--timesteps", "0", "--expert-max-iter", "3", "--out", str(out)]
    result = CliRunner().invoke(app, args, env=ENV)
    assert result.exit_code == 0, result.output
    meta = load_policy(out)["metadata"]
    assert "--workers 1 --backend local --out" in meta["reproduce"] and "--address" not in meta["reproduce"]
    assert meta["execution"] == {"workers": 1, "backend": "local", "address": None}
