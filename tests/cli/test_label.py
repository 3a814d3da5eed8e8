"""``activelab label`` without a browser: init, next, add, export (with the model), Label Studio round trip."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from activelab.cli import app

ENV = {"COLUMNS": "200", "NO_COLOR": "1"}


def invoke(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner(env=ENV).invoke(app, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, np.ndarray]:
    rng = np.random.default_rng(0)
    y = np.arange(90) % 3
    X = (rng.normal(size=(90, 5)) + 3.0 * np.eye(3, 5)[y]).astype(np.float32)
    np.savez(tmp_path / "pool.npz", X=X)
    code, out, err = invoke("label", "init", tmp_path / "proj", "--data", tmp_path / "pool.npz", "--classes", "a,b,c",
                            "--model", "logreg", "--batch", "6")
    assert code == 0, err
    assert "90 items (arrays), classes a, b, c, 0 labels given" in out
    return tmp_path / "proj", y


def test_next_add_export_and_the_model(project, tmp_path):
    directory, y = project
    code, out, _ = invoke("label", "next", directory, "--n", "12")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 12 and rows[0].keys() >= {"id", "kind"}
    answers = tmp_path / "answers.csv"
    with answers.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "label"])
        for r in rows:
            w.writerow([r["id"], "abc"[y[int(r["id"])]]])  # class names
    code, out, _ = invoke("label", "add", directory, answers)
    assert code == 0 and "stored 12 answers (0 already there)" in out
    code, out, _ = invoke("label", "add", directory, answers)  # the same file again: nothing twice
    assert code == 0 and "stored 0 answers (12 already there)" in out
    code, out, _ = invoke("label", "export", directory, "--out", tmp_path / "labels.csv")
    assert code == 0
    with (tmp_path / "labels.csv").open() as fh:
        labels = list(csv.DictReader(fh))
    assert len(labels) == 12 and all(r["class"] == "abc"[y[int(r["id"])]] for r in labels)
    assert (tmp_path / "labels_models.csv").is_file()
    from activelab.label.export import load_model

    model = load_model(tmp_path / "labels_model.pkl")
    X = np.load(directory / "features.npy")
    assert (np.asarray(model.predict_proba(X)).argmax(1) == y).mean() > 0.8


def test_label_studio_round_trip(tmp_path):
    y = np.arange(30) % 3
    (tmp_path / "t.csv").write_text("text\n" + "\n".join(f"item {i} of kind {'abc'[k]}" for i, k in enumerate(y)) + "\n")
    directory = tmp_path / "proj"
    code, _, err = invoke("label", "init", directory, "--data", tmp_path / "t.csv", "--classes", "a,b,c", "--model", "logreg")
    assert code == 0, err
    code, _, err = invoke("label", "export", directory, "--format", "labelstudio", "--out", tmp_path / "tasks.json")
    assert code == 0, err
    tasks = json.loads((tmp_path / "tasks.json").read_text())
    assert len(tasks) == 30 and all("text" in t["data"] for t in tasks)
    exported = [
        {"data": t["data"], "annotations": [{"result": [{"type": "choices", "from_name": "label", "to_name": "item",
                                                          "value": {"choices": ["abc"[y[int(t["data"]["activelab_id"])]]]}}]}]}
        for t in tasks[:5]
    ]
    (tmp_path / "ls.json").write_text(json.dumps(exported))
    code, out, err = invoke("label", "import", directory, tmp_path / "ls.json")
    assert code == 0, err
    assert "stored 5 answers" in out


def test_a_bad_label_in_an_answers_file_names_the_row(project, tmp_path):
    directory, _ = project
    (tmp_path / "bad.csv").write_text("id,label\n0,a\n1,zebra\n")
    code, _, err = invoke("label", "add", directory, tmp_path / "bad.csv")
    assert code == 2 and "row 3: label 'zebra' is neither a class (a, b, c)" in err
    code, out, _ = invoke("label", "export", directory, "--out", tmp_path / "labels.csv")
    assert code == 0 and (tmp_path / "labels.csv").read_text().count("\n") == 1  # nothing of the file stored


def test_user_errors_are_one_line(tmp_path):
    code, _, err = invoke("label", "next", tmp_path / "nothing")
    assert code == 2 and err.startswith("error: ") and "holds no labelling project" in err
    np.savez(tmp_path / "p.npz", X=np.zeros((10, 2), dtype=np.float32))
    code, _, err = invoke("label", "init", tmp_path / "x", "--data", tmp_path / "p.npz", "--classes", "a,b",
                          "--strategy", "margn")
    assert code == 2 and "Did you mean 'margin'" in err
