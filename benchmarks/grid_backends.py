"""Wall time of one experiment grid on the local process pool and on a local Ray (``--backend ray``).

The grid: 2 datasets (digits, mnist1d) × 4 strategies (random, margin, entropy, badge) × 3 seeds,
the MLP, 20 initial labels + 10 per round to 100 (24 jobs of 9 rounds). Each run is a fresh
process that plans the grid (not timed: the same for both) and times ``run_grid``:

- ``pool``: :class:`~activelab.experiments.LocalExecutor` with ``--workers`` processes (spawned
  per run, each importing activelab and torch);
- ``ray``: ``ray.init(address="local", num_cpus=--workers, include_dashboard=False)`` (timed separately as
  ``ray start``), then :class:`~activelab.experiments.RayExecutor` on it (one task per job,
  1 CPU each, the driver writing the files).

Runs alternate (pool, ray, pool, ray, ...) so both see the same background load. Prints one
line per run, the medians, the ratio ray/pool (grid alone, and with Ray's start) and whether the
non-timing columns of ``rounds.csv`` are identical. Target: ray/pool ≤ 1.1.

    python benchmarks/grid_backends.py --repeats 2 --workers 2

About 4-6 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

GRID = {"datasets": ("digits", "mnist1d"), "strategies": ("random", "margin", "entropy", "badge"), "models": ("mlp",),
        "seeds": 3, "initial": 20, "query_size": 10, "budget": 100}


def one(backend: str, out: Path, workers: int) -> dict[str, float]:
    """Plan and run the grid once in this process; seconds of Ray's start and of the grid."""
    from activelab.experiments import LocalExecutor, RayExecutor, RunConfig, run_grid
    from activelab.experiments.runner import grid_of

    grid = grid_of(RunConfig(**GRID, workers=workers, out=out))  # type: ignore[arg-type]
    start = 0.0
    if backend == "ray":
        import ray

        t = time.perf_counter()
        ray.init(address="local", num_cpus=workers, include_dashboard=False)
        start = time.perf_counter() - t
        executor: object = RayExecutor()
    else:
        executor = LocalExecutor(workers)
    t = time.perf_counter()
    run_grid(grid, executor, progress=False)  # type: ignore[arg-type]
    seconds = time.perf_counter() - t
    if backend == "ray":
        ray.shutdown()
    return {"start": start, "grid": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--one", nargs=2, metavar=("BACKEND", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], Path(args.one[1]), args.workers)))
        return
    jobs = len(GRID["datasets"]) * len(GRID["strategies"]) * GRID["seeds"]  # type: ignore[arg-type]
    print(f"grid: {jobs} jobs ({GRID}), workers / Ray CPUs = {args.workers}, {os.cpu_count()} cores")
    times: dict[str, list[dict[str, float]]] = {"pool": [], "ray": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.repeats):
            for backend in ("pool", "ray"):
                out = Path(tmp) / f"{backend}{r}"
                proc = subprocess.run([sys.executable, __file__, "--workers", str(args.workers), "--one", backend, str(out)],
                                      capture_output=True, text=True, check=False)
                if proc.returncode != 0:
                    sys.exit(f"{backend} run failed:\n{proc.stderr[-3000:]}")
                t = json.loads(proc.stdout.strip().splitlines()[-1])
                times[backend].append(t)
                extra = f" (+ ray start {t['start']:.1f} s)" if backend == "ray" else ""
                print(f"run {r + 1} {backend:4s}: grid {t['grid']:.1f} s{extra}", flush=True)
        frames = []
        for backend in ("pool", "ray"):
            df = pd.read_csv(Path(tmp) / f"{backend}0" / "rounds.csv")
            frames.append(df.drop(columns=[c for c in df.columns if c.startswith("seconds")]))
        same = frames[0].equals(frames[1])
    pool = statistics.median(t["grid"] for t in times["pool"])
    ray_grid = statistics.median(t["grid"] for t in times["ray"])
    ray_total = statistics.median(t["grid"] + t["start"] for t in times["ray"])
    print(f"median pool {pool:.1f} s, ray {ray_grid:.1f} s (with its start {ray_total:.1f} s)")
    print(f"ray / pool: {ray_grid / pool:.2f}x grid alone, {ray_total / pool:.2f}x with Ray's start (target <= 1.1)")
    print(f"rounds.csv identical without the timing columns: {same}")


if __name__ == "__main__":
    main()
