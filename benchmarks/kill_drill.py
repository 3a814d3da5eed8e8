"""Kill drill: SIGKILL a multi-worker ``activelab run`` at random points, resume, compare.

Each round of the drill starts ``activelab run --workers 2`` into the same ``--out`` in its own
process group, kills the parent with SIGKILL after a random (seeded) delay, and checks:

- no process of the group is left a few seconds later (the workers die with their parent);
- no file under ``--out`` changed after the kill (sizes, mtimes and SHA-256 taken 0.2 s after
  the kill and again at the end of the wait);

then it runs again, and again, until a run finishes. That last run resumes the interrupted
jobs from their last checkpointed round; its ``rounds.csv`` and ``queries.csv`` (without the
``seconds_*`` columns) must equal those of an uninterrupted run, and no checkpoint may be left.

    python benchmarks/kill_drill.py --kills 6 --seed 0 --out /tmp/drill

Prints one line per kill and a verdict; exits 1 if any check fails. About 2-3 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

RUN = ["run", "--dataset", "digits", "--strategy", "margin,badge", "--seeds", "3", "--initial", "20",
       "--query-size", "10", "--workers", "2"]


def command(out: Path, budget: int) -> list[str]:
    """The drilled command: ``activelab run`` with this interpreter."""
    return [sys.executable, "-m", "activelab", *RUN, "--budget", str(budget), "--out", str(out)]


def snapshot(root: Path) -> dict[str, tuple[int, int, str]]:
    """``relative path -> (size, mtime_ns, sha256)`` of every file under ``root``."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_file():
            try:
                st = path.stat()
                out[str(path.relative_to(root))] = (st.st_size, st.st_mtime_ns, hashlib.sha256(path.read_bytes()).hexdigest())
            except FileNotFoundError:  # removed while we looked: that is a change too, seen by the next snapshot
                continue
    return out


def group_members(pgid: int) -> list[int]:
    """Pids of the live (not zombie) processes in process group ``pgid``."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            pids.append(int(entry.name))
    return pids


def without_timing(path: Path) -> pd.DataFrame:
    """A results table without its wall-time columns."""
    df = pd.read_csv(path)
    return df[[c for c in df.columns if not c.startswith("seconds")]]


def main(argv: list[str] | None = None) -> int:
    """Run the drill and print what it found."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, required=True, help="work directory (reference/ and drill/ below it)")
    p.add_argument("--kills", type=int, default=8, help="at most this many kills before the run may finish")
    p.add_argument("--seed", type=int, default=0, help="seed of the kill times")
    p.add_argument("--min-delay", type=float, default=4.0, help="earliest kill, seconds after the start")
    p.add_argument("--max-delay", type=float, default=12.0, help="latest kill, seconds after the start")
    p.add_argument("--wait", type=float, default=4.0, help="seconds to watch the group and the files after a kill")
    p.add_argument("--budget", type=int, default=400, help="labels per job (its length)")
    args = p.parse_args(argv)
    env = {**os.environ, "COLUMNS": "200"}
    shutil.rmtree(args.out, ignore_errors=True)
    args.out.mkdir(parents=True)
    reference, drill = args.out / "reference", args.out / "drill"

    t = time.perf_counter()
    subprocess.run(command(reference, args.budget), env=env, check=True, capture_output=True)
    print(f"uninterrupted run: {time.perf_counter() - t:.0f} s ({' '.join(RUN)} --budget {args.budget})", flush=True)

    rng = np.random.default_rng(args.seed)
    failures = []
    print("| kill | after s | the run said | jobs finished | checkpoints | processes left | gone after s | "
          "files changed after the kill |")
    print("|---|---|---|---|---|---|---|---|")
    for i in range(1, args.kills + 1):
        delay = float(rng.uniform(args.min_delay, args.max_delay))
        log = open(args.out / f"drill-{i}.log", "wb")  # closed below, before the kill
        proc = subprocess.Popen(command(drill, args.budget), env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            pass
        log.close()
        said = "; ".join(
            line for line in (args.out / f"drill-{i}.log").read_text(errors="replace").splitlines()
            if line.startswith(("resuming", "redoing", "discarding"))
        ) or "-"
        if proc.returncode is not None:
            print(f"| {i} | - | {said} | the run finished before the kill at {delay:.1f} s | | | | |", flush=True)
            break
        pgid = proc.pid  # start_new_session: the leader's pid is the group's id
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        killed = time.perf_counter()
        time.sleep(0.2)
        before = snapshot(drill)
        gone = None
        while time.perf_counter() - killed < args.wait:
            if gone is None and not group_members(pgid):
                gone = time.perf_counter() - killed
            time.sleep(0.05)
        left = group_members(pgid)
        after = snapshot(drill)
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        jobs = len(list((drill / "jobs").glob("*.json"))) if (drill / "jobs").is_dir() else 0
        ckpts = len(list((drill / "jobs").glob("*.ckpt"))) if (drill / "jobs").is_dir() else 0
        print(f"| {i} | {delay:.1f} | {said} | {jobs} of 6 | {ckpts} | {len(left)} | "
              f"{'-' if gone is None else f'{gone:.2f}'} | {len(changed)}{': ' + ', '.join(changed[:3]) if changed else ''} |",
              flush=True)
        if left:
            failures.append(f"kill {i}: {len(left)} processes left {args.wait:.0f} s after the kill")
            for pid in left:
                os.kill(pid, signal.SIGKILL)
        if changed:
            failures.append(f"kill {i}: {len(changed)} files changed after the kill")

    t = time.perf_counter()
    final = subprocess.run(command(drill, args.budget), env=env, capture_output=True, text=True, check=False)
    resumed = [line for line in final.stderr.splitlines() if line.startswith(("resuming", "redoing", "discarding"))]
    print(f"final run: exit {final.returncode}, {time.perf_counter() - t:.0f} s; " + ("; ".join(resumed) or "nothing to resume"))
    if final.returncode != 0:
        failures.append(f"the final run failed: {final.stderr.strip().splitlines()[-1:]}")
    else:
        for table in ("rounds.csv", "queries.csv"):
            a, b = without_timing(reference / table), without_timing(drill / table)
            same = a.equals(b)
            print(f"{table} after kills and resume vs uninterrupted (without seconds_*): "
                  f"{'identical' if same else 'DIFFERENT'} ({len(b)} rows)")
            if not same:
                failures.append(f"{table} differs from the uninterrupted run")
        left_ckpts = list((drill / "jobs").glob("*.ckpt"))
        if left_ckpts:
            failures.append(f"{len(left_ckpts)} checkpoint directories left after the final run")
    print("PASS: no process left, nothing written after a kill, identical results" if not failures
          else "FAIL: " + "; ".join(failures))
    return 0 if not failures else 1


if __name__ == "__main__":
    raise SystemExit(main())
