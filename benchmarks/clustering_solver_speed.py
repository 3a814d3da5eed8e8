r"""Time per ``local_search`` call: the block sweep (the path before the small-pool one) against the
small-pool sweep, on the pools where the latter runs (N <= 4096).

Each case: N items in 10 true clusters, a ±0.1 partition prior from a partition that agrees with
the truth on about half of the items, about 10 % of the pairs answered once with 20 % flipped
answers (tau = 3), warm start from the prior's partition, 5 restarts. Both paths run on the same
store with the same seed, interleaved, and must return the same labels, objective and sweep
count (checked). A figure is the minimum over the repeats, wall clock and process CPU time (the
machine is shared: the CPU time is the steadier one).

    python benchmarks/clustering_solver_speed.py              # N = 336, 1000, 1500; 7 repeats
    python benchmarks/clustering_solver_speed.py --sizes 336 --repeats 3
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from activelab.clustering import solvers
from activelab.clustering.store import SimilarityStore, partition_prior


def make_case(n: int, seed: int = 0, k_true: int = 10, frac: float = 0.10, noise: float = 0.2):
    """A store and its prior's partition (the warm start)."""
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, k_true, n)
    init = np.where(rng.random(n) < 0.5, rng.integers(0, k_true, n), truth)
    store = SimilarityStore(partition_prior(init, 0.1), tau=3)
    iu = np.triu_indices(n, 1)
    pick = rng.choice(len(iu[0]), int(frac * len(iu[0])), replace=False)
    pairs = np.stack([iu[0][pick], iu[1][pick]], axis=1)
    answers = np.where(truth[pairs[:, 0]] == truth[pairs[:, 1]], 1.0, -1.0)
    store.add(pairs, np.where(rng.random(len(pairs)) < noise, -answers, answers))
    return store, init


def timed(store: SimilarityStore, init: np.ndarray, small: bool, warm_start: bool, seed: int):
    """(result, wall seconds, CPU seconds) of one call on the chosen path."""
    saved = solvers._SMALL_POOL_MAX_ITEMS
    solvers._SMALL_POOL_MAX_ITEMS = saved if small else 0
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        res = solvers.local_search(store, init, rng=np.random.default_rng(seed), n_restarts=5, warm_start=warm_start)
        return res, time.perf_counter() - wall, time.process_time() - cpu
    finally:
        solvers._SMALL_POOL_MAX_ITEMS = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="336,1000,1500", help="pool sizes, comma-separated (each <= 4096)")
    parser.add_argument("--repeats", type=int, default=7, help="calls per path and case (minimum reported)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    too_big = [s for s in sizes if not 2 <= s <= solvers._SMALL_POOL_MAX_ITEMS]
    if too_big:
        raise SystemExit(f"--sizes {too_big}: each size must lie in [2, {solvers._SMALL_POOL_MAX_ITEMS}].")
    if args.repeats < 1:
        raise SystemExit(f"--repeats {args.repeats}: give at least 1.")
    print("| N | warm start | sweeps | block sweep, wall / CPU ms | small-pool sweep, wall / CPU ms | speed-up (wall / CPU) |")
    print("|---|---|---|---|---|---|")
    for n in sizes:
        store, init = make_case(n)
        for warm_start in (True, False):
            times: dict[bool, list[tuple[float, float]]] = {False: [], True: []}
            results = {}
            for rep in range(args.repeats):
                for small in ((False, True) if rep % 2 == 0 else (True, False)):
                    res, wall, cpu = timed(store, init, small, warm_start, seed=1)
                    times[small].append((wall, cpu))
                    results[small] = res
            old, new = results[False], results[True]
            if not (np.array_equal(old.labels, new.labels) and old.objective == new.objective
                    and old.n_sweeps == new.n_sweeps):
                raise SystemExit(f"N={n} warm_start={warm_start}: the two paths disagree.")
            o_wall, o_cpu = (min(t[i] for t in times[False]) for i in (0, 1))
            n_wall, n_cpu = (min(t[i] for t in times[True]) for i in (0, 1))
            print(f"| {n} | {warm_start} | {new.n_sweeps} | {o_wall * 1e3:.0f} / {o_cpu * 1e3:.0f} | "
                  f"{n_wall * 1e3:.0f} / {n_cpu * 1e3:.0f} | {o_wall / n_wall:.1f}x / {o_cpu / n_cpu:.1f}x |",
                  flush=True)


if __name__ == "__main__":
    main()
