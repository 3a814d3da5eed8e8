"""``activelab cluster``: a subprocess smoke test and one-line user errors (exit code 2)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from activelab.cli import app

ENV = {"COLUMNS": "200", "NO_COLOR": "1"}


def test_cluster_smoke_subprocess(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(
        [sys.executable, "-m", "activelab", "cluster", "--dataset", "blobs10", "--strategy", "uniform,maxexp",
         "--noise", "0.2", "--batch", "20", "--init", "kmeans", "--budget-fraction", "0.1", "--seeds", "1",
         "--n-items", "40", "--out", str(out)],
        capture_output=True, text=True, env={**os.environ, **ENV}, timeout=600, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    rounds = pd.read_csv(out / "rounds.csv")
    assert {"n_queries", "fraction_queried", "ari", "ami"} <= set(rounds.columns)
    assert rounds["n_queries"].max() == 78  # 10 % of 780 pairs
    assert (out / "summary.csv").exists() and (out / "curves.png").stat().st_size > 0
    assert "maxexp" in proc.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--strategy", "maxepx"], "Did you mean 'maxexp'"),
        (["--noise", "1.0"], "noise (--noise) must lie in [0, 1)"),
        (["--beta", "0"], "beta (--beta) must be a positive finite"),
        (["--init", "kmean"], "Did you mean 'kmeans'"),
        (["--dataset", "digts"], "Did you mean 'digits'"),
        (["--dataset", "digits", "--n-items", "100000"], "--n-items"),
    ],
)
def test_cluster_user_errors(tmp_path: Path, args: list[str], fragment: str) -> None:
    base = {"--dataset": "blobs10", "--strategy": "uniform", "--out": str(tmp_path)}
    for flag, value in zip(args[::2], args[1::2], strict=True):
        base[flag] = value
    argv = ["cluster", *[x for kv in base.items() for x in kv]]
    result = CliRunner(env=ENV).invoke(app, argv, catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert fragment in result.stderr
