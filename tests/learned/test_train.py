import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from activelab.cli import app
from activelab.learned.env import ALEnv
from activelab.learned.features import N_FEATURES
from activelab.learned.scorer import CandidateScorer
from activelab.learned.strategy import load_policy
from activelab.learned.train import TrainConfig, behaviour_clone, collect_expert_data, train_policy


def test_collect_and_clone_the_expert(small_task):
    import torch

    env = ALEnv("pick", task=small_task, max_candidates=12)
    obs, scores, returns = collect_expert_data(env, 2, np.random.default_rng(0))
    assert obs.shape == (len(scores), 12 * N_FEATURES) and len(returns) == 2
    masks = obs.reshape(len(obs), 12, N_FEATURES)[..., 0] > 0.5
    np.testing.assert_array_equal(np.isfinite(scores), masks)
    s = torch.as_tensor(scores)
    target = torch.softmax(torch.where(torch.isfinite(s), (s - s.max(dim=1, keepdim=True).values) / 0.01, -1e30), dim=1)
    target_entropy = float(-(target * torch.log(target.clamp_min(1e-30))).sum(dim=1).mean())
    torch.manual_seed(0)
    scorer = CandidateScorer(N_FEATURES, hidden=64)
    loss = behaviour_clone(scorer, obs, scores, epochs=400, temperature=0.01, rng=np.random.default_rng(0))
    assert loss < target_entropy + 0.1  # cross-entropy reaches the targets' entropy: the clone fits them
    with torch.no_grad():
        picks = scorer(torch.as_tensor(obs.reshape(len(obs), 12, N_FEATURES)))[0].argmax(dim=1).numpy()
    regret = (scores.max(axis=1) - scores[np.arange(len(picks)), picks]).mean()
    random_regret = np.mean([(r.max() - r[np.isfinite(r)]).mean() for r in scores])
    assert masks[np.arange(len(picks)), picks].all()
    assert regret < 0.25 * random_regret


def test_train_config_errors():
    with pytest.raises(ValueError, match="mode must be pick"):
        TrainConfig(mode="pik")
    with pytest.raises(ValueError, match="trained by PPO only"):
        TrainConfig(mode="weights", timesteps=0)


@pytest.mark.parametrize("mode", ["pick", "heuristic"])
def test_train_policy_writes_a_usable_file(tmp_path, mode, monkeypatch):
    monkeypatch.setenv("SB3_LOGDIR", str(tmp_path / "sb3"))  # where SB3's default logger would write
    config = TrainConfig(
        mode=mode, timesteps=0 if mode == "pick" else 128, dagger_iterations=1, episodes_per_iteration=1,
        max_candidates=8, epochs=2, n_items=150, sources=("generated",), command="test",
    )
    path = train_policy(config, tmp_path / "p.pt")
    blob = load_policy(path)
    assert blob["kind"] == mode and blob["metadata"]["reproduce"] == "test"
    assert not (tmp_path / "sb3").exists()  # training leaves no SB3 log folder behind
    assert blob["metadata"]["config"]["sources"] == ["generated"]


def test_cli_train_and_evaluate(tmp_path):
    runner = CliRunner()
    result = runner.invoke(app, ["policy", "train", "--mode", "pik", "--out", str(tmp_path / "x.pt")])
    assert result.exit_code == 2 and "mode must be pick" in result.output
    result = runner.invoke(app, ["policy", "evaluate", str(tmp_path / "missing.pt"), "--datasets", "blobs", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "does not exist" in result.output
    out = tmp_path / "eval"
    result = runner.invoke(app, [
        "policy", "evaluate", "src/activelab/learned/policies/default.pt", "--datasets", "blobs", "--model", "logreg",
        "--baselines", "random", "--seeds", "1", "--initial", "10", "--query-size", "10", "--budget", "30", "--out", str(out),
    ])
    assert result.exit_code == 2 and "embed" in result.output  # logreg has no embeddings
    result = runner.invoke(app, [
        "policy", "evaluate", "src/activelab/learned/policies/default.pt", "--datasets", "blobs", "--model", "mlp",
        "--epochs", "3", "--baselines", "random", "--seeds", "1", "--initial", "10", "--query-size", "10",
        "--budget", "30", "--out", str(out),
    ])
    assert result.exit_code == 0, result.output
    summary = pd.read_csv(out / "summary.csv")
    assert sorted(summary["strategy"]) == ["policy", "random"]
    assert "ACTIVELAB_POLICY" not in os.environ
    stored = json.loads((out / "config.json").read_text())["strategy_options"]
    assert stored == {"policy": {"path": str(Path("src/activelab/learned/policies/default.pt").resolve())}}
