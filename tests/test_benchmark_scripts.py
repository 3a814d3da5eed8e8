"""The benchmark scripts are acceptance commands: their default paths must keep running."""

import importlib.util
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def _load(name):
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_registered_strategy_gets_a_model_or_a_stated_reason():
    le = _load("label_efficiency")
    from activelab.strategies import STRATEGIES

    groups, skipped = le.model_groups("mlp", list(STRATEGIES))
    assert skipped == {}
    assert groups["mlp_lossnet"] == ["learning_loss"]
    assert sorted(s for names in groups.values() for s in names) == sorted(STRATEGIES)

    groups, skipped = le.model_groups("logreg", ["margin", "badge"])
    assert groups == {"logreg": ["margin"]}
    assert "needs a model with embed()" in skipped["badge"]


def test_label_efficiency_runs_a_strategy_that_needs_another_model(tmp_path):
    out = tmp_path / "le"
    cmd = [
        sys.executable, str(BENCH / "label_efficiency.py"), "--strategies", "random,learning_loss",
        "--seeds", "1", "--budget", "40", "--epochs", "2", "--workers", "1", "--out", str(out),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert "model mlp_lossnet (a variant of mlp) runs: learning_loss" in result.stdout
    rows = [line for line in result.stdout.splitlines() if line.startswith("| random") or line.startswith("| learning_loss")]
    assert len(rows) == 2
    assert set(pd.read_csv(out / "rounds.csv").strategy) == {"random"}
    assert set(pd.read_csv(out / "model-mlp_lossnet" / "rounds.csv").strategy) == {"learning_loss"}


def test_numerics_vs_libraries_quick_prints_every_table():
    result = subprocess.run(
        [sys.executable, str(BENCH / "numerics_vs_libraries.py"), "--quick"],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stderr
    for title in ("### Exact k-NN", "### k-means", "### Radius search over IVF cells", "### Proxy learners", "### Cohen's kappa"):
        assert title in result.stdout
    rows = [line for line in result.stdout.splitlines() if line.startswith("| ")]
    assert any("scikit-learn `NearestNeighbors" in r for r in rows) and any("activelab `LogisticProxy`" in r for r in rows)
    assert any("scikit-learn `cohen_kappa_score`" in r for r in rows)


@pytest.mark.slow
def test_kill_drill_short(tmp_path):
    """Two kills of a short grid (about a minute); the full drill is in docs/benchmarks.md."""
    result = subprocess.run(
        [sys.executable, str(BENCH / "kill_drill.py"), "--out", str(tmp_path / "drill"), "--kills", "2", "--budget", "150",
         "--min-delay", "5", "--max-delay", "7"],
        capture_output=True, text=True, timeout=600, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "PASS" in result.stdout


def test_pack_by_dataset_puts_ours_beside_published_and_marks_misses():
    cl = _load("clustering")
    rows = [
        # dataset, strategy, vs, ours, published, within, seeds
        ("ecoli", "uniform", "uniform", 0.46, 0.4599, True, 8),
        ("ecoli", "maxexp", "maxexp", 0.60, 0.7219, False, 7),
        ("yeast", "uniform", "uniform", 0.19, 0.188, True, 8),
        ("yeast", "default", "maxexp", 0.85, 0.683, True, 8),
    ]
    summary = pd.DataFrame(
        [{"dataset": d, "strategy": s, "vs": v, "ari_mean_0_20": o, "ari_mean_0_20_pub": p, "within": w,
          "n_seeds": n, "noise": 0.2, "init": "kmeans"} for d, s, v, o, p, w, n in rows]
    )
    table = cl.pack_by_dataset(summary)
    assert list(table["dataset"]) == ["ecoli", "yeast"]
    ecoli, yeast = table.iloc[0], table.iloc[1]
    assert ecoli["noise"] == "0.2" and ecoli["uniform"] == "0.460 (0.460)"
    assert ecoli["maxexp"] == "0.600 (0.722)*"  # outside the tolerance: marked
    assert ecoli["within"] == "1/2" and ecoli["seeds"] == 7
    # a strategy the paper did not run is compared with maxexp, and "within" counts only the paper's
    assert yeast["default (vs maxexp)"] == "0.850 (0.683)"
    assert yeast["within"] == "1/1" and yeast["seeds"] == 8
    assert pd.isna(yeast["maxexp"]) and pd.isna(ecoli["default (vs maxexp)"])


def test_teacher_headroom_rollout_teacher_with_margin_only_is_margin(tmp_path):
    th = _load("teacher_headroom")
    from activelab.learned.tasks import TaskSampler

    task = TaskSampler(sources=("generated",), learners=("logreg",), query_sizes=(4,), rounds=(3, 3), n_items=300).sample(
        np.random.default_rng(1)
    )
    margin = th.run_fixed(task, "margin", 7, ("margin", "random"))
    # the branches are deep copies: trying actions leaves the real run where margin alone takes it
    (val, test), taken = th.run_rollout_teacher(task, 7, ("margin",), horizon=1)
    assert (val, test) == margin and [a for _, a in taken] == ["margin"] * 3
    assert th.delta_auc(val, margin[0]) == 0.0
    # with a second action the teacher takes, each round, the branch with the most validation gain
    (val2, _), taken2 = th.run_rollout_teacher(task, 7, ("margin", "random"), horizon=0)
    assert len(val2) == len(margin[0]) and {a for _, a in taken2} <= {"margin", "random"}
    # an untrained switch policy file is margin exactly
    from activelab.learned.features import N_FEATURES
    from activelab.learned.strategy import save_policy
    from activelab.learned.switch import AdvantageNet, SwitchTrainConfig, switch_state

    config = SwitchTrainConfig(actions=("margin", "random"), members=2)
    members = [AdvantageNet(N_FEATURES, 2, config.hidden) for _ in range(2)]
    path = save_policy(tmp_path / "switch.pt", "switch", switch_state(members, config), {})
    assert th.run_switch(task, 7, str(path)) == margin
    # anchored to TCM, the untrained file is the TCM rule, which differs from margin here
    acts = ("margin", "typiclust")
    config = SwitchTrainConfig(actions=acts, members=2, anchor="tcm")
    members = [AdvantageNet(N_FEATURES, 2, config.hidden) for _ in range(2)]
    path = save_policy(tmp_path / "switch_tcm.pt", "switch", switch_state(members, config), {})
    tcm = th.run_tcm(task, 7, acts)
    assert th.run_switch(task, 7, str(path)) == tcm and tcm != th.run_fixed(task, "margin", 7, acts)
    assert th.delta_auc([0.5, 0.7], [0.5, 0.6]) == pytest.approx(5.0)
    with pytest.raises(ValueError, match="empty"):
        th.delta_auc([], [0.5])
