"""End to end: a simulated annotator labels through the labelling app, against the in-process loop.

For each dataset and seed, the pool (the seed's stratified two thirds, or MNIST's training set)
becomes an `activelab label` project with no labels (features only; MNIST: PCA to 50 dimensions
fitted on the pool), batch 10, the `mlp` model and the margin strategy. A real server runs in its
own process. One simulated annotator answers the truth over HTTP: it takes the 10 items the queue
offers, answers them in one POST, then waits for the trainer's next model version before asking
again, so the app runs rounds of 10 like the loop. The app's first items come from its cold start
(TypiClust on the features until every class has a label).

The curve of the app is the test accuracy of the model of each version (refitted here on the
labels that version saw, with the same model and seed), at 20, 30, ..., budget labels; its AUC is
their mean. Beside it: `ActiveLearner` with margin on the same pool, model, budget and rounds,
with a random initial set of 20 (the library default) and with a TypiClust initial set.

    python benchmarks/label_e2e.py --datasets digits,mnist --seeds 3 --budget 200
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

TOKEN = "e2e-token-0123456789"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def load_pool(name: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X_pool, y_pool, X_test, y_test) as float32 features; MNIST through PCA-50 fitted on the pool."""
    from activelab.data import load_dataset, with_test_split

    ds = with_test_split(load_dataset(name, seed=seed), seed)
    X = np.asarray(ds.X, dtype=np.float32).reshape(len(ds.X), -1)
    Xt = np.asarray(ds.X_test, dtype=np.float32).reshape(len(ds.X_test), -1)
    if X.shape[1] > 100:
        from sklearn.decomposition import PCA

        pca = PCA(50, random_state=seed).fit(X)
        X, Xt = pca.transform(X).astype(np.float32), pca.transform(Xt).astype(np.float32)
        scale = X.std()
        X, Xt = X / scale, Xt / scale
    return X, np.asarray(ds.y), Xt, np.asarray(ds.y_test)


class Client:
    """One keep-alive connection to the server with the token."""

    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
        self.conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
        resp = self.conn.getresponse()
        data = json.loads(resp.read() or b"null")
        if resp.status != 200:
            raise RuntimeError(f"{method} {path} -> {resp.status}: {data}")
        return data


def run_app(X: np.ndarray, y: np.ndarray, seed: int, budget: int, workdir: Path) -> tuple[list[int], list[int], float]:
    """Label through the app; returns (labelled counts of the versions, the answered items in order, seconds)."""
    from activelab.label.create import init_project

    np.savez(workdir / "pool.npz", X=X)
    classes = tuple(str(c) for c in range(int(y.max()) + 1))
    project = init_project(workdir / "proj", workdir / "pool.npz", classes=classes, batch=10, seed=seed,
                           retrain_answers=10, retrain_seconds=1.0)
    port = _free_port()
    log = open(workdir / "serve.log", "wb")  # closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "activelab", "label", "serve", str(project.directory), "--port", str(port), "--token", TOKEN],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    t0 = time.perf_counter()
    try:
        deadline = time.time() + 60
        while True:
            try:
                client = Client(port)
                status = client.call("GET", "/api/status")
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        answered: list[int] = []
        while len(answered) < budget:
            version = status["model"]["version"]
            items = client.call("GET", "/api/next?n=10&annotator=sim")["items"][: budget - len(answered)]
            answers = [{"id": i["id"], "label": int(y[int(i["id"])]), "uid": str(uuid.uuid4())} for i in items]
            client.call("POST", "/api/answers", {"annotator": "sim", "answers": answers})
            answered += [int(i["id"]) for i in items]
            while True:  # wait for the model that has seen these answers
                status = client.call("GET", "/api/status")
                if status["model"]["version"] > version and status["model"]["n_labelled"] >= len(answered):
                    break
                time.sleep(0.1)
        seconds = time.perf_counter() - t0
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()
    from activelab.label.store import Store

    counts = [int(m["n_labelled"]) for m in Store(project.directory / "labels.sqlite").models()]
    return counts, answered, seconds


def curve_of(X: np.ndarray, y: np.ndarray, Xt: np.ndarray, yt: np.ndarray, order: list[int], counts: list[int], seed: int) -> dict[int, float]:
    """Test accuracy of the model fitted on the first n answered items, for each n in ``counts``."""
    from activelab.engine import stream_rng
    from activelab.models.registry import make_model

    out = {}
    for n in sorted(set(counts)):
        if n == 0:
            continue
        idx = np.asarray(order[:n])
        model = make_model("mlp", int(y.max()) + 1)
        model.fit(X[idx], y[idx], rng=stream_rng(seed, "model", 0))
        out[n] = float((np.asarray(model.predict_proba(Xt)).argmax(1) == yt).mean())
    return out


def run_loop(X: np.ndarray, y: np.ndarray, Xt: np.ndarray, yt: np.ndarray, seed: int, budget: int, initial: str) -> dict[int, float]:
    """The in-process loop: margin, 20 initial (random or TypiClust) + 10 per round, test accuracy per round."""
    from activelab.loop import ActiveLearner, Budget
    from activelab.models.registry import make_model
    from activelab.oracles import SimulatedOracle
    from activelab.strategies import make

    def evaluate(m: object) -> dict[str, float]:
        return {"accuracy": float((np.asarray(m.predict_proba(Xt)).argmax(1) == yt).mean())}  # type: ignore[attr-defined]

    learner = ActiveLearner(make_model("mlp", int(y.max()) + 1), make("margin"), SimulatedOracle(y), X,
                            budget=Budget(20, 10, budget), seed=seed, evaluate=evaluate, initial_strategy=initial)
    history = learner.run()
    return {r.n_labelled: float(r.metrics["accuracy"]) for r in history}


def main(argv: list[str] | None = None) -> int:
    """Run the comparison and print a table per dataset."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", default="digits,mnist")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--budget", type=int, default=200)
    args = p.parse_args(argv)
    points = list(range(20, args.budget + 1, 10))
    print(f"AUC = mean test accuracy at {points[0]}, {points[1]}, ..., {points[-1]} labels; model mlp, strategy margin")
    print()
    print("| dataset | seed | app (HTTP, cold start + margin) | loop, random initial 20 | loop, TypiClust initial 20 | app wall s |")
    print("|---|---|---|---|---|---|")
    summary: dict[str, list[tuple[float, float, float]]] = {}
    for name in [d.strip() for d in args.datasets.split(",") if d.strip()]:
        for seed in range(args.seeds):
            X, y, Xt, yt = load_pool(name, seed)
            with tempfile.TemporaryDirectory() as tmp:
                counts, order, seconds = run_app(X, y, seed, args.budget, Path(tmp))
            app = curve_of(X, y, Xt, yt, order, counts, seed)
            missing = [n for n in points if n not in app]
            if missing:
                print(f"warning: the app had no model version at {missing} labels", file=sys.stderr)
            auc_app = float(np.mean([app[n] for n in points if n in app]))
            rand = run_loop(X, y, Xt, yt, seed, args.budget, "random")
            typi = run_loop(X, y, Xt, yt, seed, args.budget, "typiclust")
            auc_r, auc_t = float(np.mean([rand[n] for n in points])), float(np.mean([typi[n] for n in points]))
            summary.setdefault(name, []).append((auc_app, auc_r, auc_t))
            print(f"| {name} | {seed} | {auc_app:.4f} | {auc_r:.4f} | {auc_t:.4f} | {seconds:.0f} |", flush=True)
    for name, rows in summary.items():
        a = np.asarray(rows)
        print(f"| {name} | mean of {len(rows)} | {a[:, 0].mean():.4f} ± {a[:, 0].std(ddof=1) if len(a) > 1 else 0:.4f} "
              f"| {a[:, 1].mean():.4f} ± {a[:, 1].std(ddof=1) if len(a) > 1 else 0:.4f} "
              f"| {a[:, 2].mean():.4f} ± {a[:, 2].std(ddof=1) if len(a) > 1 else 0:.4f} | |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
