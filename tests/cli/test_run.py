"""Command-line tests.

Smoke tests run the command as a user would, ``python -m activelab ...`` in a subprocess (each
start imports torch, so there are few of them); the remaining cases call the same typer app
in-process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from activelab.cli import app

TINY = ["--model", "mlp", "--epochs", "5", "--seeds", "2", "--initial", "10", "--query-size", "10", "--budget", "30"]
ENV = {"COLUMNS": "200", "NO_COLOR": "1"}


def activelab(*args: str | Path) -> subprocess.CompletedProcess[str]:
    """Run ``python -m activelab ARGS`` in a subprocess."""
    return subprocess.run(
        [sys.executable, "-m", "activelab", *map(str, args)],
        capture_output=True, text=True, env={**os.environ, **ENV}, timeout=600, check=False,
    )


def invoke(*args: str | Path) -> tuple[int, str, str]:
    """Run the typer app in-process: (exit code, stdout, stderr)."""
    result = CliRunner(env=ENV).invoke(app, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def assert_user_error(code: int, stderr: str, *fragments: str) -> None:
    assert code == 2, stderr
    assert stderr.startswith("error: "), stderr
    assert "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    for fragment in fragments:
        assert fragment in stderr, stderr


def write_toy_npz(path: Path) -> None:
    """3 separable classes in 4-D, with its own test split."""
    rng = np.random.default_rng(1)
    y, y_test = np.arange(150) % 3, np.arange(60) % 3
    X = rng.normal(size=(150, 4)).astype(np.float32)
    X_test = rng.normal(size=(60, 4)).astype(np.float32)
    X[np.arange(150), y] += 3.0
    X_test[np.arange(60), y_test] += 3.0
    np.savez(path, X=X, y=y, X_test=X_test, y_test=y_test)


# ------------------------------------------------------------------- subprocess smoke tests
def test_run_named_and_npz_datasets_end_to_end(tmp_path: Path) -> None:
    write_toy_npz(tmp_path / "toy.npz")
    out = tmp_path / "out"
    result = activelab("run", "--dataset", f"blobs,{tmp_path / 'toy.npz'}", "--strategy", "random,entropy",
                       *TINY, "--out", out)
    assert result.returncode == 0, result.stderr
    for name in ("rounds.csv", "summary.csv", "curves.png"):
        assert (out / name).is_file()
        assert str(out / name) in result.stdout
    rounds = pd.read_csv(out / "rounds.csv")
    assert rounds["dataset"].unique().tolist() == ["blobs", "toy"]
    assert len(rounds) == 2 * 2 * 2 * 3  # datasets x strategies x seeds x rounds
    assert (out / "jobs" / "toy__entropy__mlp__seed1.csv").is_file()
    toy = rounds[rounds["dataset"] == "toy"]
    assert toy.loc[toy["round"] == 2, "accuracy"].min() > 0.5
    summary = pd.read_csv(out / "summary.csv")
    assert len(summary) == 4
    assert "AUC" in result.stdout
    for auc in summary["auc_mean"]:
        assert f"{auc:.4f}" in result.stdout


def test_list_datasets_shows_availability() -> None:
    result = activelab("list", "datasets")
    assert result.returncode == 0, result.stderr
    for word in ("blobs", "digits", "mnist", "fashion-mnist", "available"):
        assert word in result.stdout


def test_unknown_strategy_suggests_and_exits_2(tmp_path: Path) -> None:
    result = activelab("run", "--dataset", "blobs", "--strategy", "random,margn", *TINY, "--out", tmp_path / "o")
    assert_user_error(result.returncode, result.stderr, "Unknown strategy 'margn'", "Did you mean 'margin'")
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------------- in-process cases
@pytest.mark.parametrize(("what", "expected"), [
    ("strategies", ["random", "margin", "entropy", "bald", "badge", "coreset"]),
    ("models", ["mlp", "cnn", "logreg"]),
])
def test_list(what: str, expected: list[str]) -> None:
    code, stdout, stderr = invoke("list", what)
    assert code == 0, stderr
    for name in expected:
        assert name in stdout


def test_data_list() -> None:
    code, stdout, _ = invoke("data", "list")
    assert code == 0
    assert "digits" in stdout
    assert "cache:" in stdout


@pytest.mark.parametrize(("args", "fragments"), [
    (["list", "strategy"], ["Did you mean 'strategies'"]),
    (["run", "--dataset", "blobs", "--strategy", "random", "--initial", "20", "--budget", "10"],
     ["budget (--budget 10) is smaller than the initial set (--initial 20)"]),
    (["run", "--dataset", "blobs", "--strategy", "random", "--budget", "2500"],
     ["exceeds the pool of dataset 'blobs' (2000 items", "at most 2000"]),
    (["run", "--dataset", "blobs", "--strategy", "random", "--workers", "0"], ["--workers", "got 0"]),
    (["run", "--dataset", "blobs", "--strategy", "random", "--update", "warmstart"], ["Did you mean 'warm_start'"]),
    (["run", "--dataset", "blobs", "--strategy", "bald", "--model", "logreg"], ["'bald' needs a model"]),
    (["run", "--dataset", "missing.npz", "--strategy", "random"], ["missing.npz", "does not exist"]),
    (["run", "--dataset", "blobs", "--strategy", " , "], ["--strategy needs at least one name"]),
    (["data", "fetch", "digits"], ["needs no fetch"]),
    (["run", "--dataset", "blobs", "--strategy", "margin", "--strategy-options", "{margin"], ["--strategy-options must be a JSON object"]),
    (["run", "--dataset", "blobs", "--strategy", "margin", "--strategy-options", '{"margin": {"bogus": 1}}'],
     ["strategy_options", "bogus"]),
    (["run", "--dataset", "blobs", "--strategy", "margin", "--strategy-options", '{"badge": {}}'],
     ["names strategy 'badge'"]),
    (["run", "--dataset", "blobs", "--strategy", "margin", "--stop", "stabilising_predictions"],
     ["Did you mean 'stabilizing_predictions'"]),
    (["run", "--dataset", "blobs", "--strategy", "margin", "--stop", "max_uncertainty"], ["--stop", "threshold"]),
    # issue 19: checked before any model trains
    (["run", "--dataset", "blobs", "--strategy", "margin", "--model", "cnn"],
     ["model 'cnn' cannot take the items of dataset 'blobs' (each of shape (10,))", "use mlp for flat features"]),
    (["run", "--dataset", "blobs", "--strategy", "power_margin", "--strategy-options", '{"power_margin": {"beta": "high"}}'],
     ["beta must be a positive finite number", "got str 'high'"]),
    (["run", "--dataset", "blobs", "--strategy", "power_margin", "--strategy-options", '{"power_margin": {"beta": -1}}'],
     ["beta must be a positive finite number", "got -1"]),
    (["run", "--dataset", "blobs", "--strategy", "dal", "--strategy-options", '{"dal": {"n_steps": 0}}'],
     ["strategy 'dal'", "failed a dry run", "n_steps must be an int >= 1"]),
    (["run", "--dataset", "blobs", "--strategy", "margin", "--scale", "std"], ["Unknown scale (--scale) 'std'", "'standard'"]),
])
def test_user_errors_exit_2_with_one_line(tmp_path: Path, args: list[str], fragments: list[str]) -> None:
    if args[0] == "run":
        args = [*args, "--out", str(tmp_path / "o")]
    code, _, stderr = invoke(*args)
    assert_user_error(code, stderr, *fragments)
    assert not (tmp_path / "o").exists()


def test_run_strategy_options_reach_the_strategies(tmp_path: Path) -> None:
    """--strategy-options builds the strategies (and the initial strategy) with the given keywords."""
    out = tmp_path / "o"
    options = '{"typiclust": {"space": "input", "pca": 2, "normalize": true}, "margin": {"sampling": "power"}}'
    code, _, stderr = invoke(
        "run", "--dataset", "blobs", "--strategy", "margin", "--initial-strategy", "typiclust", "--strategy-options", options,
        "--seeds", "1", "--initial", "10", "--budget", "20", "--epochs", "2", "--out", out,
    )
    assert code == 0, stderr
    stored = json.loads((out / "config.json").read_text())["strategy_options"]
    assert stored == {"typiclust": {"space": "input", "pca": 2, "normalize": True}, "margin": {"sampling": "power"}}
    out = tmp_path / "stop"
    code, _, stderr = invoke(
        "run", "--dataset", "blobs", "--strategy", "margin", "--stop", '{"max_uncertainty": {"threshold": 10}}',
        "--seeds", "1", "--initial", "10", "--budget", "40", "--epochs", "2", "--out", out,
    )
    assert code == 0, stderr
    rounds = pd.read_csv(out / "rounds.csv")
    assert len(rounds) == 1 and rounds["stop_reason"].iloc[0].startswith("max_uncertainty")



def _labels_npz(path: Path, kind: str) -> Path:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 5))
    y = X @ rng.normal(size=5) if kind == "regression" else rng.integers(0, 3, 600)
    if kind == "stray":
        y[7] = 10**12
    np.savez(path, X=X, y=y)
    return path


def test_a_regression_target_is_refused_with_one_line(tmp_path: Path) -> None:
    data = _labels_npz(tmp_path / "reg.npz", "regression")
    code, _, stderr = invoke("run", "--dataset", data, "--strategy", "margin", "--out", tmp_path / "o")
    assert_user_error(code, stderr, "continuous target", "regression is not supported yet")
    assert not (tmp_path / "o").exists()


def test_an_unwritable_out_is_refused_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    code, _, stderr = invoke("run", "--dataset", "blobs", "--strategy", "random", "--seeds", "1", "--budget", "30",
                             "--out", tmp_path / "file" / "o")
    assert_user_error(code, stderr, "is not writable", "choose another directory with --out")


def test_stray_labels_warn_in_one_line_and_the_table_shows_labels_and_stops(tmp_path: Path) -> None:
    data = _labels_npz(tmp_path / "stray.npz", "stray")
    code, stdout, stderr = invoke(
        "run", "--dataset", data, "--strategy", "margin", "--model", "logreg", "--seeds", "2", "--initial", "10",
        "--query-size", "10", "--budget", "40", "--stop", '{"max_uncertainty": {"threshold": 10}}', "--out", tmp_path / "o",
    )
    assert code == 0, stderr
    warnings = [line for line in stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and "stray label value(s) 1000000000000 (1 item: row 7 of y)" in warnings[0]
    assert "Traceback" not in stderr and "DataWarning" not in stderr
    header = next(line for line in stdout.splitlines() if "AUC mean" in line)
    assert "labels" in header and "stopped early" in header
    row = next(line for line in stdout.splitlines() if line.startswith("stray"))
    assert "2 (max_uncertainty: 2)" in row and " 10 " in row  # both seeds stopped at 10 labels
    assert str(tmp_path / "o" / "queries.csv") in stdout
