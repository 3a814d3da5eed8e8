r"""Time per ``local_search`` call on its three sweeps: the NumPy block sweep (every N; the path
above 4,096 items), the NumPy small-pool sweep (N <= 4096) and the sweep compiled by numba
(``activelab[fast]``; partition and zero priors, every N).

Each case: N items in 10 true clusters, a ±0.1 partition prior from a partition that agrees with
the truth on about half of the items, some pairs answered once with 20 % flipped answers
(10 % of the pairs up to N = 1500, 0.1 % above), tau = 3, warm start from the prior's partition
or random starts, 5 restarts. The paths run on the same store with the same seed, interleaved,
and must return the same labels, objective and sweep count (checked). A figure is the minimum
over the repeats, wall clock and process CPU time (the machine is shared: the CPU time is the
steadier one). Above 4,096 items the small-pool sweep does not run ("-").

    python benchmarks/clustering_solver_speed.py              # N = 336, 1000, 1500, 10000; 5 repeats
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
    if n <= 1500:  # a sample of all pairs without replacement
        iu = np.triu_indices(n, 1)
        pick = rng.choice(len(iu[0]), int(frac * len(iu[0])), replace=False)
        pairs = np.stack([iu[0][pick], iu[1][pick]], axis=1)
    else:  # the same without listing all pairs: draws, duplicates and self-pairs dropped
        draws = rng.integers(0, n, size=(int(frac * n * (n - 1) / 2), 2))
        draws = np.sort(draws[draws[:, 0] != draws[:, 1]], axis=1)
        pairs = np.unique(draws, axis=0)
    answers = np.where(truth[pairs[:, 0]] == truth[pairs[:, 1]], 1.0, -1.0)
    store.add(pairs, np.where(rng.random(len(pairs)) < noise, -answers, answers))
    return store, init


PATHS = ("block", "small", "compiled")


def timed(store: SimilarityStore, init: np.ndarray, path: str, warm_start: bool, seed: int):
    """(result, wall seconds, CPU seconds) of one call on ``path`` (one of :data:`PATHS`)."""
    saved = solvers._SMALL_POOL_MAX_ITEMS, solvers._USE_JIT
    solvers._SMALL_POOL_MAX_ITEMS = saved[0] if path == "small" else 0
    solvers._USE_JIT = path == "compiled"
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        res = solvers.local_search(store, init, rng=np.random.default_rng(seed), n_restarts=5, warm_start=warm_start)
        return res, time.perf_counter() - wall, time.process_time() - cpu
    finally:
        solvers._SMALL_POOL_MAX_ITEMS, solvers._USE_JIT = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="336,1000,1500,10000", help="pool sizes, comma-separated")
    parser.add_argument("--repeats", type=int, default=5, help="calls per path and case (minimum reported)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    if any(s < 2 for s in sizes):
        raise SystemExit(f"--sizes {sizes}: each size must be at least 2.")
    if args.repeats < 1:
        raise SystemExit(f"--repeats {args.repeats}: give at least 1.")
    if not solvers._sweep_jit.AVAILABLE:
        raise SystemExit("the compiled sweep needs numba: pip install 'activelab[fast]'.")
    timed(*make_case(50), "compiled", True, seed=0)  # compile (or load from numba's cache) before timing
    print("| N | warm start | sweeps | block sweep, wall / CPU ms | small-pool sweep, wall / CPU ms "
          "| compiled sweep, wall / CPU ms | compiled vs best NumPy (CPU) |")
    print("|---|---|---|---|---|---|---|")
    for n in sizes:
        store, init = make_case(n, frac=0.10 if n <= 1500 else 0.001)
        paths = [p for p in PATHS if p != "small" or n <= solvers._SMALL_POOL_MAX_ITEMS]
        for warm_start in (True, False):
            times: dict[str, list[tuple[float, float]]] = {p: [] for p in paths}
            results = {}
            for rep in range(args.repeats):
                for path in (paths if rep % 2 == 0 else paths[::-1]):
                    res, wall, cpu = timed(store, init, path, warm_start, seed=1)
                    times[path].append((wall, cpu))
                    results[path] = res
            ref = results["block"]
            for path, res in results.items():
                if not (np.array_equal(ref.labels, res.labels) and ref.objective == res.objective
                        and ref.n_sweeps == res.n_sweeps):
                    raise SystemExit(f"N={n} warm_start={warm_start}: the {path} sweep disagrees with the block sweep.")
            best = {p: (min(t[0] for t in ts), min(t[1] for t in ts)) for p, ts in times.items()}
            cell = {p: f"{best[p][0] * 1e3:.0f} / {best[p][1] * 1e3:.0f}" if p in best else "-" for p in PATHS}
            numpy_cpu = min(best[p][1] for p in paths if p != "compiled")
            print(f"| {n} | {warm_start} | {ref.n_sweeps} | {cell['block']} | {cell['small']} | {cell['compiled']} | "
                  f"{numpy_cpu / best['compiled'][1]:.1f}x |", flush=True)


if __name__ == "__main__":
    main()
