"""A pairs project end to end: init from blob features, "same group?" pairs through the API, the
trainer's clustering moving toward the true groups, the export of the clustering, and the CLI."""

from __future__ import annotations

import csv
import io
import json
import uuid
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette")
from starlette.testclient import TestClient
from typer.testing import CliRunner

from activelab.cli import app as cli_app
from activelab.errors import UnknownNameError
from activelab.label.export import export_csv
from activelab.label.create import init_project
from activelab.label.project import Project, ProjectError
from activelab.label.server import create_app
from activelab.label.trainer import refresh

TOKEN = "pairs-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _blobs(path: Path, n: int = 60, groups: int = 4, with_y: bool = True) -> np.ndarray:
    """``n`` items in ``groups`` Gaussian blobs in 5-D (std 1.5): k-means on them is good but not perfect."""
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=n, centers=groups, n_features=5, cluster_std=1.5, random_state=0)
    np.savez(path, X=X.astype(np.float32), **({"y": y} if with_y else {}))
    return y


@pytest.fixture
def pairs_project(tmp_path: Path) -> tuple[Project, np.ndarray]:
    truth = _blobs(tmp_path / "blobs.npz")
    return init_project(tmp_path / "proj", tmp_path / "blobs.npz", task="pairs", batch=10), truth


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _answer(item_id: str, label: int) -> dict:
    return {"id": item_id, "label": label, "uid": str(uuid.uuid4())}


def test_init_checks_the_pair_strategy_and_the_items(tmp_path: Path) -> None:
    _blobs(tmp_path / "b.npz")
    with pytest.raises(UnknownNameError, match="maxexp"):
        init_project(tmp_path / "p1", tmp_path / "b.npz", task="pairs", strategy="maxepx")
    np.savez(tmp_path / "two.npz", X=np.eye(2, dtype=np.float32))
    with pytest.raises(ProjectError, match="at least 3 items"):
        init_project(tmp_path / "p2", tmp_path / "two.npz", task="pairs")
    assert not (tmp_path / "p1").exists() and not (tmp_path / "p2" / "project.json").exists()
    # --classes name the groups the data came labelled with: their number is the default n_clusters
    p = init_project(tmp_path / "p3", tmp_path / "b.npz", task="pairs", classes=("0", "1", "2", "3"), strategy="uniform")
    assert p.config.n_clusters == 4 and p.config.classes == ("different", "same") and p.config.strategy == "uniform"
    assert p.store.given_labels().min() == 0 and p.store.answer_count() == 0


def test_a_pairs_project_end_to_end_through_the_api(pairs_project, tmp_path: Path) -> None:
    p, truth = pairs_project
    cfg, store = p.config, p.store
    assert cfg.task == "pairs" and cfg.strategy == "maxexp" and cfg.n_clusters is None
    first = store.latest_model()
    assert first["info"]["phase"] == "pairs" and first["metrics"]["n_clusters"] == 10 and "ari" in first["metrics"]
    assert store.queue_info()["size"] == 10
    with TestClient(create_app(p.directory, TOKEN, start_worker=False)) as client:
        status = client.get("/api/status", headers=AUTH).json()
        assert status["task"] == "pairs" and status["classes"] == ["different", "same"]
        assert status["n_items"] == 60 and status["n_clusters"] == 10 and status["n_pairs"] == 10
        got = client.get("/api/next?n=4&annotator=ann", headers=AUTH).json()["items"]
        assert len(got) == 4
        for item in got:
            assert item["kind"] == "pair" and item["id"] == f"{item['a']['id']}~{item['b']['id']}"
            assert int(item["a"]["id"]) < int(item["b"]["id"])
            for end in ("a", "b"):
                assert item[end]["kind"] == "features" and len(item[end]["features"]) == 5
        other = client.get("/api/next?n=20&annotator=other", headers=AUTH).json()["items"]
        assert len(other) == 6 and not {i["id"] for i in other} & {i["id"] for i in got}  # the queue only
        sent = [_answer(i["id"], int(truth[int(i["a"]["id"])] == truth[int(i["b"]["id"])])) for i in got]
        r = client.post("/api/answers", headers=AUTH, json={"annotator": "ann", "answers": sent})
        assert r.status_code == 200 and r.json() == {"stored": 4, "duplicates": 0}
        base = client.post("/api/answers", headers=AUTH, json={"annotator": "ann", "answers": [_answer("0", 1)]})
        assert base.status_code == 400 and base.json()["field"] == "id"
        exported = client.get("/api/export", headers=AUTH).json()["answers"]
        assert sorted((a["id"], a["label"]) for a in exported) == sorted((s["id"], s["label"]) for s in sent)
        client.post("/api/release", headers=AUTH, json={"annotator": "other", "ids": [i["id"] for i in other]})

    answered = {a["id"] for a in exported}
    refresh(p)
    queued = set(store.queue_scores())
    assert len(queued) == 10 and not queued & answered  # new pairs, none asked before
    # answering a few batches by the truth moves the clustering toward the true groups
    ari = [store.latest_model()["metrics"]["ari"]]
    for _ in range(6):
        batch = store.lease("sim", 10)
        store.add_answers("sim", [(i["id"], int(truth[i["a"]] == truth[i["b"]]), str(uuid.uuid4())) for i in batch])
        refresh(p)
        ari.append(store.latest_model()["metrics"]["ari"])
    assert ari[-1] > first["metrics"]["ari"] + 0.05, ari
    assert store.latest_model()["n_labelled"] == 64

    written = export_csv(p, tmp_path / "out" / "pairs.csv")
    assert [w.name for w in written] == ["pairs.csv", "pairs_clusters.csv", "pairs_models.csv"]
    rows = _rows(tmp_path / "out" / "pairs.csv")
    assert len(rows) == 64 and set(rows[0]) == {"id", "item_a", "item_b", "label", "answer", "kind", "annotator", "time"}
    for row in rows:
        same = truth[int(row["item_a"])] == truth[int(row["item_b"])]
        assert row["answer"] == ("same" if same else "different") and row["label"] == str(int(same))
    clusters = _rows(tmp_path / "out" / "pairs_clusters.csv")
    assert [c["id"] for c in clusters] == [str(i) for i in range(60)]
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand_score(truth, [int(c["cluster"]) for c in clusters]) > first["metrics"]["ari"]
    assert len(_rows(tmp_path / "out" / "pairs_models.csv")) == 8
    assert not (tmp_path / "out" / "pairs_model.pkl").exists()  # no fitted classifier for pairs


def test_skipped_and_leased_pairs_are_not_proposed_again(pairs_project) -> None:
    p, _ = pairs_project
    store = p.store
    held = store.lease("ann", 3)
    store.add_answers("ann", [(held[0]["id"], -1, "s1"), (held[1]["id"], -2, "s2")])
    refresh(p)
    queued = set(store.queue_scores())
    assert len(queued) == 10 and not queued & {h["id"] for h in held}  # skipped, unsure, still leased


def test_the_cli_runs_a_pairs_project_on_unlabelled_texts(tmp_path: Path) -> None:
    texts = [f"{topic} note number {i}" for i in range(12) for topic in ("cats purr", "dogs bark", "birds sing")]
    (tmp_path / "t.jsonl").write_text("\n".join(json.dumps({"text": t}) for t in texts))
    runner = CliRunner(env={"COLUMNS": "200", "NO_COLOR": "1"})

    def invoke(*args: str | Path) -> str:
        result = runner.invoke(cli_app, [str(a) for a in args], catch_exceptions=False)
        assert result.exit_code == 0, result.stdout + result.stderr
        return result.stdout

    out = invoke("label", "init", tmp_path / "proj", "--data", tmp_path / "t.jsonl", "--task", "pairs",
                 "--n-clusters", "3", "--batch", "5")
    assert "36 items (text)" in out and "pair strategy maxexp" in out and "first queue: 5 pairs" in out
    rows = list(csv.DictReader(io.StringIO(invoke("label", "next", tmp_path / "proj", "--n", "5"))))
    assert len(rows) == 5 and all(r["kind"] == "pair" and r["id"] == f"{r['item_a']}~{r['item_b']}" for r in rows)
    with (tmp_path / "answers.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["id", "label"])
        for r in rows:
            w.writerow([r["id"], "same" if int(r["item_a"]) % 3 == int(r["item_b"]) % 3 else "different"])
    assert "stored 5 answers" in invoke("label", "add", tmp_path / "proj", tmp_path / "answers.csv")
    out = invoke("label", "export", tmp_path / "proj", "--out", tmp_path / "x.csv")
    assert "x_clusters.csv" in out and "x_model.pkl" not in out
    assert len(_rows(tmp_path / "x.csv")) == 5
    assert len(_rows(tmp_path / "x_clusters.csv")) == 36
    p = Project.open(tmp_path / "proj")
    assert p.config.n_clusters == 3 and (p.store.given_labels() == -1).all()
    assert "ari" not in p.store.latest_model()["metrics"]  # the texts came without groups


def test_a_folder_of_images_with_loose_files_pairs_and_serves_both_images(tmp_path: Path) -> None:
    from PIL import Image

    (tmp_path / "photos" / "red").mkdir(parents=True)
    for i in range(3):
        Image.new("RGB", (4, 4), (250, 10 * i, 0)).save(tmp_path / "photos" / "red" / f"r{i}.png")
        Image.new("RGB", (4, 4), (0, 10 * i, 250)).save(tmp_path / "photos" / f"loose{i}.png")  # no class folder
    p = init_project(tmp_path / "proj", tmp_path / "photos", task="pairs", n_clusters=2, batch=4)
    assert p.store.n_items == 6 and p.store.given_labels().tolist() == [-1, -1, -1, 0, 0, 0]
    assert "ari" not in p.store.latest_model()["metrics"]  # not every item came with a group
    with TestClient(create_app(p.directory, TOKEN, start_worker=False)) as client:
        item = client.get("/api/next?n=1&annotator=a", headers=AUTH).json()["items"][0]
        for end in ("a", "b"):
            assert item[end]["kind"] == "image" and item[end]["image"] == f"/api/items/{item[end]['id']}/image"
            r = client.get(item[end]["image"], headers=AUTH)
            assert r.status_code == 200 and r.headers["content-type"] == "image/png"
        assert client.get(f"/api/items/{item['id']}/image", headers=AUTH).status_code == 404  # a pair has no image
