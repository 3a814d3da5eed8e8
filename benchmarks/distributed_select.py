"""Distributed selection (issue 17, item 3): local Ray against the single-process functions.

Builds a seeded pool of N × D float32 features as ``.npy`` shards (default 10M × 128, 5.1 GB
on disk under ``--dir``) and a scikit-learn logistic regression over C classes, then times

* **top-k** (``margin``, k = ``--k-top``): the single-process streamed scorer against the Ray
  Data pipeline (scoring actors + per-batch top-k merged on the driver);
* **k-center** (on the features, ``--labelled`` labelled ids, k = ``--k-center``): the
  single-process ``kcenter_greedy`` on the whole pool in id order against one Ray actor per
  shard (one broadcast and one reduce per pick).

Each variant runs in its own subprocess (a Ray variant starts its own local Ray there, 2 CPUs,
so every Ray process is in that process tree). Reported per variant: wall seconds of the
selection (the pool already on disk; Ray start-up excluded and printed apart), and peak memory
as the largest sum of resident sets over the variant's process tree (sampled every 0.2 s from
/proc; shared pages count once per process that maps them). The script checks that both
variants pick identical ids (and scores) and prints a markdown table.

Usage::

    python benchmarks/distributed_select.py --n 200000 --dim 32             # a quick run
    python benchmarks/distributed_select.py                                 # 10M × 128
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np


def _make_pool(root: Path, n: int, dim: int, classes: int, shard_rows: int) -> None:
    """Seeded shards written chunk by chunk (never the whole pool in memory) and a fitted model."""
    import joblib
    from sklearn.linear_model import LogisticRegression

    from activelab.scale import open_pool, write_manifest

    stamp = root / "made.json"
    want = {"n": n, "dim": dim, "classes": classes, "shard_rows": shard_rows}
    if stamp.exists() and json.loads(stamp.read_text()) == want:
        open_pool(root)
        return
    root.mkdir(parents=True, exist_ok=True)
    for p in root.iterdir():
        p.unlink()
    rng = np.random.default_rng(0)
    ids = rng.permutation(4 * n)[:n].astype(np.int64)  # sparse ids, not in file order
    w = rng.normal(size=(dim, classes)).astype(np.float32)
    for s, start in enumerate(range(0, n, shard_rows)):
        m = min(shard_rows, n - start)
        x = rng.standard_normal((m, dim), dtype=np.float32)
        np.save(root / f"part-{s:05d}.ids.npy", ids[start : start + m])
        np.save(root / f"part-{s:05d}.x.npy", x)
        if s == 0:
            fit_x = x[:5000]
            fit_y = (fit_x @ w + rng.gumbel(size=(len(fit_x), classes))).argmax(1)
            joblib.dump(LogisticRegression(max_iter=500).fit(fit_x, fit_y), root.parent / f"{root.name}_model.joblib")
    write_manifest(root)
    stamp.write_text(json.dumps(want))


def _tree_rss(pid: int) -> int:
    """Sum of VmRSS (bytes) over ``pid`` and its descendants."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    parents[int(entry)] = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    tree, frontier = {pid}, [pid]
    while frontier:
        p = frontier.pop()
        for c, pp in parents.items():
            if pp == p and c not in tree:
                tree.add(c)
                frontier.append(c)
    total = 0
    page = os.sysconf("SC_PAGE_SIZE")
    for p in tree:
        try:
            with open(f"/proc/{p}/statm") as fh:
                total += int(fh.read().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
    return total


def _run_child(args: argparse.Namespace, strategy: str, backend: str) -> dict[str, object]:
    cmd = [sys.executable, __file__, "--child", f"{strategy}:{backend}", "--dir", str(args.dir),
           "--k-top", str(args.k_top), "--k-center", str(args.k_center), "--labelled", str(args.labelled)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env={**os.environ, "RAY_AUTH_MODE": "disabled"})
    peak = [0]

    def sample() -> None:
        while proc.poll() is None:
            peak[0] = max(peak[0], _tree_rss(proc.pid))
            time.sleep(0.2)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    out, _ = proc.communicate()
    t.join()
    if proc.returncode != 0:
        raise SystemExit(f"{strategy}:{backend} failed (exit {proc.returncode})")
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    result["peak_gb"] = peak[0] / 1e9
    return result


def _child(spec: str, root: Path, k_top: int, k_center: int, n_labelled: int) -> None:
    strategy, backend = spec.split(":")
    from activelab.scale import open_pool, select_pool

    pool = open_pool(root)
    ray_start = 0.0
    if backend == "ray":
        import ray

        t = time.perf_counter()
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
        ray_start = time.perf_counter() - t
    labelled = pool.read_ids(0)[:n_labelled]
    model = root.parent / f"{root.name}_model.joblib"
    if strategy == "margin":
        sel = select_pool(pool, "margin", k_top, model=model, labelled=labelled, backend=backend)
    else:
        sel = select_pool(pool, "kcenter", k_center, labelled=labelled, backend=backend)
    print(json.dumps({"seconds": sel.seconds, "ray_start": ray_start, "ids": sel.ids.tolist(),
                      "scores": None if sel.scores is None else sel.scores.tolist()}))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=10_000_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--shard-rows", type=int, default=1_000_000)
    ap.add_argument("--k-top", type=int, default=1000)
    ap.add_argument("--k-center", type=int, default=20)
    ap.add_argument("--labelled", type=int, default=100)
    ap.add_argument("--strategies", default="margin,kcenter", help="which of margin,kcenter to run")
    ap.add_argument("--dir", type=Path, default=Path("/tmp/activelab_distributed_pool"))
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args.child, args.dir, args.k_top, args.k_center, args.labelled)
        return
    t = time.perf_counter()
    _make_pool(args.dir, args.n, args.dim, args.classes, args.shard_rows)
    print(f"pool {args.n:,} x {args.dim} float32 ({args.n * args.dim * 4 / 1e9:.2f} GB) in {args.dir}: "
          f"ready in {time.perf_counter() - t:.1f} s", flush=True)
    rows = []
    for strategy, k in (("margin", args.k_top), ("kcenter", args.k_center)):
        if strategy not in args.strategies.split(","):
            continue
        res = {b: _run_child(args, strategy, b) for b in ("local", "ray")}
        same = res["local"]["ids"] == res["ray"]["ids"] and res["local"]["scores"] == res["ray"]["scores"]
        for b in ("local", "ray"):
            r = res[b]
            rows.append(f"| {strategy} | {k} | {b} | {float(r['seconds']):.1f} | {float(r['ray_start']):.1f} | "  # type: ignore[arg-type]
                        f"{float(r['peak_gb']):.2f} | {'yes' if same else 'NO'} |")  # type: ignore[arg-type]
        print(rows[-2], rows[-1], sep="\n", flush=True)
    print(f"\nN = {args.n:,}, D = {args.dim}, C = {args.classes}, {args.labelled} labelled, shards of {args.shard_rows:,} rows\n")
    print("| strategy | k | backend | select (s) | Ray start (s) | peak RSS, process tree (GB) | picks identical |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
