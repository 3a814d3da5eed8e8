"""Wall time of one DAgger iteration's expert-data collection: 1 process, 2 worker processes, local Ray.

The collection is ``collect_expert_data`` of iteration 0 (behaviour cloning: every step follows
the expert, whose look-ahead costs K proxy fits) on the training task sampler of
``TrainConfig(max_candidates=16, n_items=400)``, ``--episodes`` episodes (6 by default) from
one seed. Each setting gets one :class:`~activelab.learned.rollouts.RolloutRunner` and collects
twice with the same seed:

- ``cold``: the first collection, including the start of the worker processes (spawned, each
  importing activelab and torch) or of the local Ray (``ray.init`` with all cores) and its
  workers' imports;
- ``warm``: the second, on the running workers: the cost of every later DAgger iteration.

Prints one row per setting: the speed-up of the warm collection over one process, whether every
setting's arrays (observations, expert scores, returns) are identical to one process's, and the
1-minute load average before and after. Runs the settings one after another in this process, so
keep the machine otherwise idle (other jobs on the cores make the wall times meaningless).

    python benchmarks/policy_rollouts.py --episodes 6 --workers 2

About 2 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np


def collect(runner: object, env: object, episodes: int, seed: int) -> tuple[float, tuple[np.ndarray, np.ndarray, list[float]]]:
    from activelab.learned.rollouts import collect_expert_data

    t = time.perf_counter()
    result = collect_expert_data(env, episodes, np.random.default_rng(seed), expert_max_iter=15, runner=runner)  # type: ignore[arg-type]
    return time.perf_counter() - t, result


def identical(a: tuple[np.ndarray, np.ndarray, list[float]], b: tuple[np.ndarray, np.ndarray, list[float]]) -> bool:
    return np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1]) and a[2] == b[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=6)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    os.environ.setdefault("RAY_AUTH_MODE", "disabled")  # a local Ray on this machine only: no token needed

    from activelab.learned.config import TrainConfig
    from activelab.learned.env import ALEnv
    from activelab.learned.rollouts import RolloutRunner

    config = TrainConfig(max_candidates=16, n_items=400)
    env = ALEnv("pick", sampler=config.sampler(), max_candidates=config.max_candidates)
    settings = [("1 process", {}), (f"{args.workers} workers", {"workers": args.workers}),
                ("local Ray", {"backend": "ray"})]
    print(f"{args.episodes} episodes, TrainConfig(max_candidates=16, n_items=400), expert_max_iter=15, "
          f"seed {args.seed}, {os.cpu_count()} cores")
    print("| setting | cold s (with start) | warm s | warm speed-up | states | identical to 1 process | load before / after |")
    print("|---|---:|---:|---:|---:|---|---|")
    reference = None
    base = 0.0
    for name, options in settings:
        load = os.getloadavg()[0]
        with RolloutRunner(**options) as runner:  # type: ignore[arg-type]
            cold, first = collect(runner, env, args.episodes, args.seed)
            warm, second = collect(runner, env, args.episodes, args.seed)
        if reference is None:
            reference, base = first, warm
        same = identical(first, second) and identical(first, reference)
        print(f"| {name} | {cold:.1f} | {warm:.1f} | {base / warm:.2f}x | {len(first[0])} | {same} | "
              f"{load:.1f} / {os.getloadavg()[0]:.1f} |", flush=True)


if __name__ == "__main__":
    main()
