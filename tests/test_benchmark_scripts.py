"""The benchmark scripts are acceptance commands: their default paths must keep running."""

import importlib.util
import subprocess
import sys
from pathlib import Path

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
