"""Do two source trees give the same results? A refactoring check over the whole command line.

Runs one set of ``activelab run`` and ``activelab cluster`` commands with each tree's package
(``PYTHONPATH=<tree>/src``, the same interpreter) and compares every ``rounds.csv`` without its
timing columns (``seconds_*``): they must be equal cell for cell. The set covers 31 strategies
(every registered family, stochastic variants, bandits, the learned policy), a cold start with
TypiClust, stopping criteria, the ``warm_start`` update with Learning Loss, a deep ensemble and
five pair strategies for active clustering.

    git worktree add /tmp/base <commit>
    python benchmarks/same_results.py --base /tmp/base --out /tmp/same

Prints one line per command set and exits 1 if any differs. About 4 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ALL = (
    "random,least_confidence,margin,entropy,bald,variation_ratio,mean_std,power_bald,power_margin,softmax_entropy,"
    "rank_bald,batchbald,epig,power_epig,qbc_vote,coreset,badge,cal,egl,dal,information_density,typiclust,probcover,"
    "kmeans,cluster_margin,two_step,mixture,policy,albl,tailor,rank_variation_ratio"
)
#: name -> arguments of one command
SETS = {
    "all": ["run", "--dataset", "digits", "--strategy", ALL, "--seeds", "2", "--initial", "20", "--query-size", "10",
            "--budget", "60", "--workers", "2"],
    "cold": ["run", "--dataset", "digits", "--strategy", "margin,badge,random", "--model", "mlp", "--seeds", "2",
             "--initial", "0", "--initial-strategy", "typiclust", "--query-size", "10", "--budget", "50"],
    "stop": ["run", "--dataset", "digits", "--strategy", "margin,albl,entropy", "--model", "mlp", "--seeds", "2",
             "--initial", "20", "--query-size", "10", "--budget", "120",
             "--stop", '{"accuracy_plateau": {}, "stabilizing_predictions": {}}'],
    "warm": ["run", "--dataset", "digits", "--strategy", "margin,learning_loss", "--model", "mlp_lossnet",
             "--update", "warm_start", "--seeds", "1", "--initial", "20", "--query-size", "10", "--budget", "60"],
    "ensemble": ["run", "--dataset", "digits", "--strategy", "bald,qbc_kl", "--model", "ensemble", "--seeds", "1",
                 "--initial", "20", "--query-size", "10", "--budget", "50"],
    "cluster": ["cluster", "--dataset", "digits,blobs10", "--strategy", "uniform,maxmin,maxexp,eig,batch_ig", "--seeds",
                "2", "--n-items", "120", "--batch", "50", "--budget-fraction", "0.1"],
}


def run_set(tree: Path, name: str, out: Path) -> float:
    """Run set ``name`` with the package of ``tree`` into ``out / name``; returns wall seconds."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "COLUMNS": "200"}
    t = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "activelab", *SETS[name], "--out", str(out / name)],
        capture_output=True, text=True, env=env, check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed with {tree}: {proc.stderr.strip().splitlines()[-1:]}")
    return time.perf_counter() - t


def compare(a: Path, b: Path) -> tuple[bool, str]:
    """``rounds.csv`` of ``a`` and ``b`` equal without the timing columns? And a one-line reason."""
    x, y = pd.read_csv(a / "rounds.csv"), pd.read_csv(b / "rounds.csv")
    cx = [c for c in x.columns if not c.startswith("seconds")]
    cy = [c for c in y.columns if not c.startswith("seconds")]
    if cx != cy:
        return False, f"columns differ: {sorted(set(cx) ^ set(cy))}"
    if x[cx].equals(y[cy]):
        return True, f"identical ({len(x)} rows, {len(cx)} columns)"
    return False, f"values differ in {int((x[cx] != y[cy]).any(axis=1).sum())} of {len(x)} rows"


def main(argv: list[str] | None = None) -> int:
    """Run every set with both trees and compare."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--base", type=Path, required=True, help="the other source tree (a checkout with src/activelab)")
    p.add_argument("--new", type=Path, default=Path(__file__).resolve().parents[1], help="default: this checkout")
    p.add_argument("--out", type=Path, required=True, help="output directory (base/ and new/ below it)")
    p.add_argument("--only", default=",".join(SETS), help="comma-separated sets")
    args = p.parse_args(argv)
    names = [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in SETS]
    if unknown:
        p.error(f"unknown sets {unknown}; the sets are {', '.join(SETS)}")
    ok = True
    print("| set | command | base s | new s | rounds.csv without timing columns |")
    print("|---|---|---|---|---|")
    for name in names:
        tb = run_set(args.base, name, args.out / "base")
        tn = run_set(args.new, name, args.out / "new")
        same, why = compare(args.out / "base" / name, args.out / "new" / name)
        ok &= same
        print(f"| {name} | `activelab {' '.join(SETS[name][:1])} …` | {tb:.0f} | {tn:.0f} | {why} |", flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
