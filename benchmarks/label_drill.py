"""Crash drill and latency of the labelling server (`activelab label serve`).

A project is made from 5,000 generated items without labels (64 features, 10 classes,
scikit-learn's ``make_classification``; the default `mlp` model and margin strategy, so the
trainer refits every 10 answers and is busy all the time). The server runs in its own process group. ``--annotators`` threads, each a simulated
person answering the truth over HTTP with keep-alive connections, ask for 5 items, answer them
in one POST with fresh uids and retry the same uids until the server acknowledges (200). While
they work, the server is killed with SIGKILL ``--kills`` times (evenly spaced in answers) and
restarted. At the end every acknowledged uid must be in the export, and no uid twice.

Latency is measured per request (wall time from send to full response, successful requests only)
for ``GET /api/next`` and ``POST /api/answers``, overall and while the trainer was refitting
(intervals from the model versions' end times and durations). The run's figures and the machine
are printed as a table.

    python benchmarks/label_drill.py                      # 20 annotators, 2,000 answers, 2 kills, flat out
    python benchmarks/label_drill.py --think 0.5          # the same at a person's pace
    python benchmarks/label_drill.py --answers 300 --annotators 4 --kills 1   # quick
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import numpy as np

TOKEN = "drill-token-0123456789"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`activelab label serve` in its own process group; kill -9 and restart."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory, self.port = directory, port
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = open(directory / "drill-serve.log", "ab")  # closed in stop()

    def start(self) -> float:
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "activelab", "label", "serve", str(self.directory), "--port", str(self.port),
             "--token", TOKEN], stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/api/status", headers={"Authorization": f"Bearer {TOKEN}"})
                if conn.getresponse().status == 200:
                    return time.perf_counter() - t0
            except OSError:
                time.sleep(0.1)
            if time.perf_counter() - t0 > 60:
                raise SystemExit("the server did not come up in 60 s; see drill-serve.log")

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)  # the server and its trainer
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


class Annotator(threading.Thread):
    """A simulated person: next 5 → answer them (truth) → retry the same uids until acknowledged."""

    def __init__(self, name: str, port: int, truth: np.ndarray, state: dict, think: float) -> None:
        super().__init__(daemon=True)
        self.name_, self.port, self.truth, self.state, self.think = name, port, truth, state, think
        self.conn: http.client.HTTPConnection | None = None
        self.acked: list[str] = []
        self.lat_next: list[tuple[float, float]] = []  # (start time, seconds)
        self.lat_answers: list[tuple[float, float]] = []

    def _call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict | None]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        try:
            self.conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
            resp = self.conn.getresponse()
            data = resp.read()
            return resp.status, (json.loads(data) if data else None)
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            raise

    def run(self) -> None:
        while not self.state["stop"].is_set():
            try:
                t = time.time()
                t0 = time.perf_counter()
                status, nxt = self._call("GET", f"/api/next?n=5&annotator={self.name_}")
                if status == 200:
                    self.lat_next.append((t, time.perf_counter() - t0))
            except (OSError, http.client.HTTPException):
                time.sleep(0.2)
                continue
            if status != 200 or not nxt or not nxt["items"]:
                time.sleep(0.2)
                continue
            if self.think:
                time.sleep(self.think * len(nxt["items"]))  # a person looks at each item
            answers = [{"id": i["id"], "label": int(self.truth[int(i["id"])]), "uid": str(uuid.uuid4())}
                       for i in nxt["items"]]
            for _ in range(200):  # the same uids until acknowledged
                try:
                    t = time.time()
                    t0 = time.perf_counter()
                    status, _ = self._call("POST", "/api/answers", {"annotator": self.name_, "answers": answers})
                except (OSError, http.client.HTTPException):
                    time.sleep(0.2)
                    continue
                if status == 200:
                    self.lat_answers.append((t, time.perf_counter() - t0))
                    self.acked += [a["uid"] for a in answers]
                    with self.state["lock"]:
                        self.state["acked"] += len(answers)
                    break
                if 400 <= status < 500:
                    break  # e.g. a lease lost over a restart: these answers were refused, not lost
                time.sleep(0.2)


def _percentiles(samples: list[float]) -> str:
    if not samples:
        return "—"
    a = np.asarray(samples) * 1000
    return f"{np.percentile(a, 50):.1f} / {np.percentile(a, 99):.1f} ms (n={len(a)})"


def main(argv: list[str] | None = None) -> int:
    """Run the drill; exit 1 if an acknowledged answer is missing or stored twice."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--annotators", type=int, default=20)
    p.add_argument("--answers", type=int, default=2000, help="stop after this many acknowledged answers")
    p.add_argument("--kills", type=int, default=2, help="kill -9 + restart this many times, evenly spaced")
    p.add_argument("--think", type=float, default=0.0, help="seconds each simulated person spends per item (0: as fast as possible)")
    p.add_argument("--dir", type=Path, default=None, help="project directory (default: a temporary one)")
    args = p.parse_args(argv)
    from sklearn.datasets import make_classification

    from activelab.label.create import init_project

    X, y = make_classification(n_samples=5000, n_features=64, n_informative=20, n_classes=10, n_clusters_per_class=1,
                               random_state=0)
    with tempfile.TemporaryDirectory() as tmp:
        root = args.dir or Path(tmp)
        np.savez(root / "pool.npz", X=X.astype(np.float32))
        t0 = time.perf_counter()
        project = init_project(root / "proj", root / "pool.npz", classes=tuple(str(d) for d in range(10)))
        t_init = time.perf_counter() - t0
        server = Server(project.directory, _free_port())
        starts = [server.start()]
        state = {"stop": threading.Event(), "lock": threading.Lock(), "acked": 0}
        people = [Annotator(f"a{i}", server.port, y, state, args.think) for i in range(args.annotators)]
        t_begin = time.perf_counter()
        for person in people:
            person.start()
        kills_at = [args.answers * (i + 1) // (args.kills + 1) for i in range(args.kills)]
        for at in kills_at:
            while state["acked"] < at:
                time.sleep(0.05)
            server.kill()
            time.sleep(1.0)
            starts.append(server.start())
        while state["acked"] < args.answers:
            time.sleep(0.05)
        state["stop"].set()
        for person in people:
            person.join(timeout=30)
        wall = time.perf_counter() - t_begin
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
        conn.request("GET", "/api/export", headers={"Authorization": f"Bearer {TOKEN}"})
        exported = json.loads(conn.getresponse().read())["answers"]
        conn.request("GET", "/api/status", headers={"Authorization": f"Bearer {TOKEN}"})
        status = json.loads(conn.getresponse().read())
        server.stop()
        from activelab.label.store import Store

        models = Store(project.directory / "labels.sqlite").models()
        busy = [(m["time"] - float(m["info"].get("seconds", 0.0)), m["time"]) for m in models]

        def while_busy(samples: list[tuple[float, float]]) -> list[float]:
            return [s for t, s in samples if any(a <= t <= b for a, b in busy)]

        acked = [u for person in people for u in person.acked]
        uids = [a["uid"] for a in exported]
        counts: dict[str, int] = {}
        for u in uids:
            counts[u] = counts.get(u, 0) + 1
        lost = [u for u in acked if u not in counts]
        twice = sum(c > 1 for c in counts.values())
        nxt = [s for person in people for s in person.lat_next]
        ans = [s for person in people for s in person.lat_answers]
        print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; python {platform.python_version()}")
        print(f"project: 5,000 generated items, 64 features, 10 classes, model mlp, strategy margin; init {t_init:.1f} s")
        print()
        print("| figure | value |")
        print("|---|---|")
        print(f"| annotators | {args.annotators} ({args.think:g} s per item) |")
        print(f"| acknowledged answers | {len(acked)} |")
        print(f"| exported answers | {len(exported)} |")
        print(f"| acknowledged but missing | {len(lost)} |")
        print(f"| stored twice | {twice} |")
        print(f"| kill -9 + restart | {args.kills} (server up again in {', '.join(f'{s:.1f}' for s in starts[1:])} s) |")
        print(f"| wall time of the answering | {wall:.1f} s ({len(acked) / wall:.0f} answers/s) |")
        print(f"| model versions (refits) | {len(models)}; last: {status['model']['n_labelled'] if status['model'] else 0} labels, "
              f"cv accuracy {status['model']['cv_accuracy'] if status['model'] else None} |")
        busy_s = sum(b - a for a, b in busy)
        print(f"| trainer busy | {busy_s:.1f} s of {wall:.1f} s |")
        print(f"| `GET /api/next` p50 / p99, all | {_percentiles([s for _, s in nxt])} |")
        print(f"| `GET /api/next` p50 / p99, trainer busy | {_percentiles(while_busy(nxt))} |")
        print(f"| `POST /api/answers` p50 / p99, all | {_percentiles([s for _, s in ans])} |")
        print(f"| `POST /api/answers` p50 / p99, trainer busy | {_percentiles(while_busy(ans))} |")
        t_first = min(t for t, _ in nxt) if nxt else 0.0
        slow = sorted(((s, t - t_first, kind) for kind, lat in (("next", nxt), ("answers", ans)) for t, s in lat), reverse=True)[:5]
        print(f"| slowest requests (ms, at s) | {', '.join(f'{kind} {s * 1000:.0f} at {at:.1f}' for s, at, kind in slow)} |")
        return 0 if not lost and not twice and len(acked) >= args.answers else 1


if __name__ == "__main__":
    raise SystemExit(main())
