"""Selection speed of the Bayesian batch methods (issue 3): BatchBALD, EPIG, stochastic selectors.

Called by ``selection_speed.py`` through :func:`bench_rows`; also runnable on its own::

    python benchmarks/_speed_bayesian.py --quick
    python benchmarks/_speed_bayesian.py --sizes 100000 --only batchbald   # the issue's BatchBALD case
    python benchmarks/_speed_bayesian.py                                    # N in {10k, 100k, 1M}

Inputs are seeded float32 posterior samples ``(N, 20, 10)`` (``selection_speed.make_prob_samples``
around the probabilities of ``selection_speed.make_embeddings``). Time is wall-clock seconds of
one run; memory is the peak resident set above the level reached once the inputs exist
(``selection_speed.measure``: Linux ``VmHWM`` after a reset, or a sampling thread).

Rows:

* ``batchbald`` — k = 100, 20 draws, C = 10, ``n_joint_samples`` = 1000 (exact enumeration
  for the first 3 picks, sampled configurations after), lazy greedy; the notes give the rows
  scored per pick (the lazy loop's saving over N);
* ``epig`` — 100 target rows drawn from the pool, top-k;
* ``power`` / ``softmax`` / ``rank`` — the stochastic selectors on precomputed BALD scores.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch

from activelab.acquisition import bald
from activelab.selection import batchbald, epig, power, rank, softmax, top_k

N_DRAWS = 20
N_CLASSES = 10
K = 100
N_JOINT = 1000
N_TARGET = 100
METHODS = ("batchbald", "epig", "power", "softmax", "rank")


def _ss() -> Any:
    """The sibling script ``selection_speed`` (inputs, memory measurement, table helpers).

    Imported on use, so that ``selection_speed`` may import this module at its top.
    """
    here = os.path.dirname(os.path.abspath(__file__))
    if here not in sys.path:
        sys.path.insert(0, here)
    main = sys.modules.get("__main__")
    if main is not None and os.path.basename(getattr(main, "__file__", "") or "") == "selection_speed.py":
        return main  # run as a script: reuse it rather than importing a second copy
    import selection_speed

    return selection_speed


def _limits(quick: bool) -> dict[str, int]:
    """Largest N per method (quick: BatchBALD and EPIG at 1M take minutes each)."""
    if quick:
        return {"batchbald": 10_000, "epig": 100_000}
    return {"batchbald": 1_000_000, "epig": 1_000_000}


@contextlib.contextmanager
def _count_scored_rows() -> Iterator[list[int]]:
    """Count the rows BatchBALD scores (wraps its internal gain function for one call)."""
    module = sys.modules["activelab.selection.batchbald"]
    state_cls = module._JointState
    original = state_cls.gains
    counter = [0]

    def counting(self: Any, p_rows: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        counter[0] += int(p_rows.shape[0])
        return original(self, p_rows, cond)

    state_cls.gains = counting
    try:
        yield counter
    finally:
        state_cls.gains = original


def bench_rows(
    n_values: Sequence[int], quick: bool, *, methods: Sequence[str] = METHODS, seed: int = 0, log: Any = None
) -> list[dict[str, Any]]:
    """Time the Bayesian selection methods at every N; one dict per (N, method).

    Keys: ``n``, ``k``, ``method``, ``seconds`` (None when skipped), ``peak_mb``, ``notes``.
    """
    say = log or (lambda msg: print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True))
    ss = _ss()
    limits = _limits(quick)
    ss._configure_malloc()
    rows: list[dict[str, Any]] = []

    def add(n: int, method: str, seconds: float | None, peak: float | None, notes: str = "") -> None:
        rows.append({"n": n, "k": K, "method": method, "seconds": seconds, "peak_mb": peak, "notes": notes})
        say(f"  N={n:,} {method}: {'skipped' if seconds is None else f'{seconds:.3f} s'}"
            f"{'' if peak is None else f', peak {peak:.1f} MB'} {notes}")

    for n in sorted(n_values):
        gen = np.random.default_rng(seed)
        say(f"N={n:,}: generating ({n:,}, {N_DRAWS}, {N_CLASSES}) float32 samples")
        _, probs = ss.make_embeddings(n, 16, N_CLASSES, gen)
        samples = ss.make_prob_samples(probs, N_DRAWS, gen)
        del probs
        mb = samples.nbytes / ss.MB
        scores = bald(samples)

        def rng() -> np.random.Generator:
            return np.random.default_rng(seed + 1)

        # The timed lambdas take this N's arrays as defaults: each runs at once inside ss.measure,
        # and the `del` at the end of the iteration then frees the arrays before ss._trim().
        if "batchbald" in methods:
            if n > limits["batchbald"]:
                add(n, "batchbald", None, None, f"skipped above N={limits['batchbald']:,}")
            else:
                with _count_scored_rows() as scored:
                    sec, peak, picks = ss.measure(
                        lambda samples=samples: batchbald(samples, K, rng(), n_joint_samples=N_JOINT)
                    )
                overlap = len(np.intersect1d(picks, top_k(scores, K, rng())))
                add(n, "batchbald", sec, peak,
                    f"S={N_JOINT}, {N_DRAWS} draws; {scored[0] / (K - 1):,.0f} rows scored per pick (lazy) of {n:,}; "
                    f"{overlap}/{K} picks shared with top-k BALD; samples array {mb:.0f} MB")
        if "epig" in methods:
            if n > limits["epig"]:
                add(n, "epig", None, None, f"skipped above N={limits['epig']:,}")
            else:
                sec, peak, _ = ss.measure(
                    lambda samples=samples: top_k(epig(samples, n_target=N_TARGET, rng=rng()), K, rng())
                )
                add(n, "epig + top_k", sec, peak, f"{N_TARGET} pool targets, {N_DRAWS} draws; samples array {mb:.0f} MB")
        for name, fn in (("power", power), ("softmax", softmax), ("rank", rank)):
            if name in methods:
                sec, peak, _ = ss.measure(lambda fn=fn, scores=scores: fn(scores, K, rng()), repeats=3)
                add(n, f"{name} (on BALD scores)", sec, peak, "selector only, scores precomputed")
        del samples, scores
        ss._trim()
    return rows


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as a markdown table."""
    ss = _ss()
    return ss.method_rows_table(rows)


def main(argv: Sequence[str] | None = None) -> int:
    ss = _ss()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=ss._ints, default=None, help="pool sizes (default 10k,100k,1M; --quick 10k,100k)")
    p.add_argument("--quick", action="store_true", help="N in {10k, 100k}; BatchBALD only up to 10k, EPIG up to 100k")
    p.add_argument("--only", type=str, default=",".join(METHODS), help=f"comma-separated subset of {','.join(METHODS)}")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    methods = [m.strip() for m in args.only.split(",") if m.strip()]
    unknown = set(methods) - set(METHODS)
    if unknown:
        p.error(f"unknown methods {sorted(unknown)}; choose from {', '.join(METHODS)}")
    sizes = args.sizes or ([10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000])
    torch.set_num_threads(1)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    rows = bench_rows(sizes, args.quick, methods=methods, seed=args.seed)
    command = "python benchmarks/_speed_bayesian.py " + " ".join(sys.argv[1:] if argv is None else argv)
    print(markdown(rows))
    print(f"\nCommand: `{command.strip()}`; started {started}; {ss._machine()}; load average now {os.getloadavg()[0]:.2f}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
