"""``activelab select``: CSV out, the same picks as the API, one error line for bad input."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from activelab.cli import app
from activelab.scale import ShardPool, select_pool


def invoke(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"}).invoke(app, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_select_writes_the_picks(npy_pool: ShardPool, sklearn_model: Path, tmp_path: Path) -> None:
    labelled = npy_pool.sorted_ids()[:20]
    (tmp_path / "labelled.csv").write_text("id\n" + "\n".join(map(str, labelled)) + "\n")
    code, out, err = invoke("select", "--pool", npy_pool.root, "--model", sklearn_model, "--strategy", "entropy",
                            "--k", "7", "--labelled", tmp_path / "labelled.csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO(out)))
    expected = select_pool(npy_pool, "entropy", 7, model=sklearn_model, labelled=labelled)
    assert [int(r["id"]) for r in rows] == expected.ids.tolist()
    np.testing.assert_array_equal([float(r["score"]) for r in rows], expected.scores)
    assert "picked 7 items with entropy (local)" in err
    code, out, err = invoke("select", "--pool", npy_pool.root, "--strategy", "kcenter", "--k", "5", "--seed", "2",
                            "--out", tmp_path / "picks.csv")
    assert code == 0, err
    rows = list(csv.DictReader(io.StringIO((tmp_path / "picks.csv").read_text())))
    assert [int(r["id"]) for r in rows] == select_pool(npy_pool, "kcenter", 5, seed=2).ids.tolist()
    assert [r["score"] for r in rows] == [""] * 5


def test_select_bad_input_is_one_error_line(npy_pool: ShardPool, tmp_path: Path) -> None:
    code, out, err = invoke("select", "--pool", tmp_path, "--strategy", "kcenter", "--k", "3")
    assert code == 2 and out == ""
    assert err.strip().startswith("error:") and "has no pool.json" in err
    code, _, err = invoke("select", "--pool", npy_pool.root, "--strategy", "entropie", "--k", "3")
    assert code == 2 and "entropie" in err and "entropy" in err
