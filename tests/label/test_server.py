"""The labelling server's JSON API (Starlette test client), the trainer and its supervisor."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("starlette")
from starlette.testclient import TestClient

from activelab.label.create import init_project
from activelab.label.project import Project
from activelab.label.server import create_app
from activelab.label.trainer import refresh

TOKEN = "test-token-123"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _digits_npz(path: Path, n: int = 300) -> np.ndarray:
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    np.savez(path, X=(X[:n] / 16.0).astype(np.float32))
    return y[:n]


@pytest.fixture
def project(tmp_path: Path) -> tuple[Project, np.ndarray]:
    truth = _digits_npz(tmp_path / "pool.npz")
    p = init_project(tmp_path / "proj", tmp_path / "pool.npz", classes=tuple(str(d) for d in range(10)),
                     model="logreg", batch=10)
    return p, truth


@pytest.fixture
def client(project: tuple[Project, np.ndarray]) -> TestClient:
    app = create_app(project[0].directory, TOKEN, start_worker=False)
    with TestClient(app) as c:
        yield c


def _answer(item_id: str, label: int) -> dict:
    return {"id": item_id, "label": label, "uid": str(uuid.uuid4())}


def test_init_makes_a_first_queue_by_cold_start(project):
    p, _ = project
    info = p.store.queue_info()
    assert info["size"] == 10 and info["version"] == 1
    assert p.store.latest_model()["info"]["phase"] == "cold start"


def test_two_annotators_get_disjoint_items_and_answers_are_exported(client, project):
    a = client.get("/api/next?n=5&annotator=ann1", headers=AUTH).json()["items"]
    b = client.get("/api/next?n=5&annotator=ann2", headers=AUTH).json()["items"]
    ia, ib = [i["id"] for i in a], [i["id"] for i in b]
    assert len(ia) == len(ib) == 5 and not set(ia) & set(ib)
    assert all(i["kind"] == "features" and len(i["features"]) == 64 for i in a)
    sent = [_answer(i, 3) for i in ia]
    r = client.post("/api/answers", headers=AUTH, json={"annotator": "ann1", "answers": sent})
    assert r.status_code == 200 and r.json() == {"stored": 5, "duplicates": 0}
    again = client.post("/api/answers", headers=AUTH, json={"annotator": "ann1", "answers": sent})  # a retry
    assert again.status_code == 200 and again.json() == {"stored": 0, "duplicates": 5}
    exported = client.get("/api/export", headers=AUTH).json()["answers"]
    assert sorted((x["id"], x["uid"], x["label"]) for x in exported) == sorted((s["id"], s["uid"], 3) for s in sent)
    # a reload gets ann2 the same items back; answered items never come again
    assert [i["id"] for i in client.get("/api/next?n=5&annotator=ann2", headers=AUTH).json()["items"]] == ib
    later = [i["id"] for i in client.get("/api/next?n=20&annotator=ann1", headers=AUTH).json()["items"]]
    assert not set(later) & set(ia) and not set(later) & set(ib)


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status", "field"),
    [
        ("GET", "/api/status", None, {}, 401, "token"),
        ("GET", "/api/status", None, {"Authorization": "Bearer wrong-token"}, 401, "token"),
        ("GET", "/api/next?n=0&annotator=a", None, AUTH, 400, "n"),
        ("GET", "/api/next?n=x&annotator=a", None, AUTH, 400, "n"),
        ("GET", "/api/next?n=3", None, AUTH, 400, "annotator"),
        ("POST", "/api/answers", "not json", AUTH, 400, "body"),
        ("POST", "/api/answers", {"annotator": "a"}, AUTH, 400, "answers"),
        ("POST", "/api/answers", {"annotator": "a", "answers": [{"id": "1", "label": 1}]}, AUTH, 400, "uid"),
        ("POST", "/api/answers", {"annotator": "a", "answers": [{"id": "no-such-item", "label": 1, "uid": "u1"}]}, AUTH, 404, "id"),
        ("POST", "/api/answers", {"annotator": "a", "answers": [{"id": "1", "label": 99, "uid": "u2"}]}, AUTH, 422, "label"),
        ("POST", "/api/answers", {"annotator": "a", "answers": [{"id": "1", "label": "cat", "uid": "u3"}]}, AUTH, 422, "label"),
    ],
)
def test_bad_requests_get_4xx_naming_the_field(client, method, path, body, headers, status, field):
    kwargs = {"headers": headers}
    if isinstance(body, str):
        kwargs["content"] = body
    elif body is not None:
        kwargs["json"] = body
    r = client.request(method, path, **kwargs)
    assert r.status_code == status, r.text
    assert r.json()["field"] == field and r.json()["error"]


def test_an_item_leased_to_someone_else_is_refused(client):
    item = client.get("/api/next?n=1&annotator=ann1", headers=AUTH).json()["items"][0]["id"]
    r = client.post("/api/answers", headers=AUTH, json={"annotator": "ann2", "answers": [_answer(item, 2)]})
    assert r.status_code == 409 and r.json()["field"] == "id"
    assert client.get("/api/export", headers=AUTH).json()["answers"] == []  # nothing of the batch stored


def test_a_reused_uid_with_another_answer_is_a_conflict(client):
    item = client.get("/api/next?n=1&annotator=a", headers=AUTH).json()["items"][0]["id"]
    first = {"id": item, "label": 1, "uid": "same"}
    assert client.post("/api/answers", headers=AUTH, json={"annotator": "a", "answers": [first]}).status_code == 200
    clash = {"id": item, "label": 2, "uid": "same"}
    r = client.post("/api/answers", headers=AUTH, json={"annotator": "a", "answers": [clash]})
    assert r.status_code == 409 and r.json()["field"] == "uid"


def test_undo_skip_unsure_and_status(client, project):
    items = [i["id"] for i in client.get("/api/next?n=3&annotator=a", headers=AUTH).json()["items"]]
    sent = [_answer(items[0], 4), _answer(items[1], -1), _answer(items[2], -2)]
    assert client.post("/api/answers", headers=AUTH, json={"annotator": "a", "answers": sent}).status_code == 200
    undone = client.post("/api/undo", headers=AUTH, json={"annotator": "a", "uid": "undo-1"}).json()["undone"]
    assert undone["id"] == items[2]
    status = client.get("/api/status", headers=AUTH).json()
    assert status["classes"] == [str(d) for d in range(10)] and status["n_items"] == 300
    assert status["per_class"]["4"] == 1 and status["model"]["version"] == 1 and status["trainer"] is None


def test_text_is_returned_verbatim_for_the_page_to_escape(tmp_path):
    rows = [{"text": "<script>alert(1)</script> hello"}, *({"text": f"plain text number {i}"} for i in range(30))]
    (tmp_path / "t.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    p = init_project(tmp_path / "proj", tmp_path / "t.jsonl", classes=("pos", "neg"), model="logreg", batch=5)
    with TestClient(create_app(p.directory, TOKEN, start_worker=False)) as c:
        items = c.get("/api/next?n=40&annotator=a", headers=AUTH).json()["items"]
    assert "<script>alert(1)</script> hello" in [i["text"] for i in items]


def test_the_trainer_moves_from_cold_start_to_the_strategy(project):
    p, truth = project
    store = p.store
    # answer until every class has a label (ground truth), then refresh
    answered = 0
    while len({int(a["label"]) for a in store.export()}) < 10 and answered < 300:
        for item in store.lease("sim", 10):
            store.add_answers("sim", [(item["id"], int(truth[int(item["idx"])]), str(uuid.uuid4()))])
            answered += 1
        refresh(p)
    version = refresh(p)
    latest = store.latest_model()
    assert latest["version"] == version and latest["info"]["phase"] == "strategy"
    cv = latest["metrics"].get("cv_accuracy")
    assert cv is None or 0.0 <= cv <= 1.0
    queued = store.lease("fresh", 10)
    idx, _, _ = store.effective_answers()
    assert not {int(i["idx"]) for i in queued} & set(np.asarray(idx).tolist())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_status(port: int, timeout: float = 30.0) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            req = urllib.request.Request(f"http://127.0.0.1:{port}/api/status", headers=AUTH)
            with urllib.request.urlopen(req, timeout=2) as r:
                return json.loads(r.read())
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise AssertionError("the server did not answer /api/status")


def test_a_live_server_leases_disjointly_under_8_threads_and_restarts_a_dead_trainer(project):
    p, _ = project
    port = _free_port()
    log = open(p.directory / "serve.log", "wb")  # closed in finally
    proc = subprocess.Popen(
        [sys.executable, "-m", "activelab", "label", "serve", str(p.directory), "--port", str(port), "--token", TOKEN],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        _wait_status(port)
        got: dict[str, list[str]] = {}

        def annotator(name: str) -> None:
            ids: list[str] = []
            for _ in range(4):
                req = urllib.request.Request(f"http://127.0.0.1:{port}/api/next?n=3&annotator={name}", headers=AUTH)
                with urllib.request.urlopen(req, timeout=10) as r:
                    ids += [i["id"] for i in json.loads(r.read())["items"]]
            got[name] = ids

        threads = [threading.Thread(target=annotator, args=(f"a{i}",)) for i in range(8)]
        [t.start() for t in threads]
        [t.join() for t in threads]
        owners: dict[str, str] = {}
        for name, ids in got.items():
            for i in ids:
                assert owners.setdefault(i, name) == name, f"item {i} leased to {owners[i]} and {name}"
        # the trainer: kill it, the supervisor starts another
        status = _wait_status(port)
        assert status["trainer"]["alive"]
        worker = subprocess.run(["pgrep", "-f", f"activelab.label.worker {p.directory}"], capture_output=True, text=True)
        pid = int(worker.stdout.split()[0])
        os.kill(pid, signal.SIGKILL)
        deadline = time.time() + 20
        while time.time() < deadline and _wait_status(port)["trainer"]["restarts"] < 1:
            time.sleep(0.3)
        status = _wait_status(port)
        assert status["trainer"]["restarts"] >= 1 and status["trainer"]["alive"]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()
    time.sleep(1.0)
    left = subprocess.run(["pgrep", "-f", f"activelab.label.worker {p.directory}"], capture_output=True, text=True)
    assert left.stdout.strip() == "", "a trainer outlived its server"
