"""Embeddings stored in fp16 or bf16 (issue 17, optional item): k-center's speed and covering radius, BADGE's AUC.

Measured first before anything was built (torch passes over a half-width copy; a strategy that
rounds its embeddings); ``kcenter_greedy`` and ``badge`` now take ``precision="bf16"`` (CPU,
compiled loops), timed and scored here beside them.

Default mode, greedy k-center: each pick's pass is ``torch.mv`` over the half-width copy (torch
accumulates in fp32 on CPU and rounds the product to the storage type); the squared norms and
the running minimum stay float32. Both pick sets are scored by the covering radius in the
original float32 space (``activelab.selection.covering_radius``), against the library's own
float32 ``kcenter_greedy`` on the same inputs (``selection_speed.make_embeddings``).

``--badge-auc``: active learning with BADGE whose embeddings are stored in half precision
(:class:`HalfStorageBadge`, a user strategy written here, not registered in the library) against
the library's registered float32 ``badge``, paired: the same datasets, seeds, held-out splits,
initial sets, model and per-round model initialisations as ``activelab run`` (see
:func:`run_pair`). Per dataset it prints the mean AUC of the learning curves
(``activelab.experiments.metrics.learning_curve_auc``), the paired AUC difference
(half − float32) with a Wilcoxon signed-rank p-value, and how often the half-width picks equal
the float32 picks made from the same model, probabilities and random stream in the same round.

Usage::

    python benchmarks/reduced_precision.py --n 100000 --dim 256 --k 100
    python benchmarks/reduced_precision.py --badge-auc --datasets digits,mnist1d --seeds 10 --budget 150
"""

from __future__ import annotations

import activelab  # noqa: F401 - first, before NumPy loads OpenBLAS (activelab._env)
import argparse
import copy
import os
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))

from activelab import ActiveLearner, Budget, SimulatedOracle, Views
from activelab.data import load_dataset, with_test_split
from activelab.experiments.metrics import chunked_accuracy, learning_curve_auc
from activelab.models import make_model
from activelab.neighbors import kernels
from activelab.pool import Pool
from activelab.selection import badge, covering_radius, kcenter_greedy
from activelab.strategies import make

#: Storage types of ``--badge-auc``; ``float32`` through the wrapper is the identity (a control
#: that must reproduce the library's ``badge`` exactly).
STORAGES: dict[str, torch.dtype] = {"float16": torch.float16, "bfloat16": torch.bfloat16, "float32": torch.float32}
#: ``--badge-auc`` storages run by the library itself: ``bf16`` is ``make("badge", precision="bf16")``.
LIBRARY_STORAGES = ("bf16",)


# ------------------------------------------------------------------------ greedy k-center
def kcenter_half(emb: np.ndarray, labelled: np.ndarray, k: int, dtype: torch.dtype) -> tuple[np.ndarray, float]:
    """Greedy k-center with passes over a ``dtype`` copy of ``emb``; (picks, seconds of the picks alone)."""
    x = torch.from_numpy(emb).to(dtype)
    x_sq = (x.float() ** 2).sum(1)  # norms of the stored (rounded) rows
    lab = torch.from_numpy(np.flatnonzero(labelled))
    min_d = torch.full((len(emb),), float("inf"))
    for start in range(0, len(lab), 32):  # labelled rows: fp32 matmul of the rounded rows
        c = x[lab[start : start + 32]].float()
        d = x_sq[:, None] - 2.0 * (x.float() @ c.T if len(emb) <= 200_000 else _blocked(x, c)) + (c * c).sum(1)[None, :]
        min_d = torch.minimum(min_d, d.min(1).values)
    min_d[lab] = -1.0
    out = torch.empty(len(emb), dtype=dtype)
    picks: list[int] = []
    t0 = time.perf_counter()
    for _ in range(k):
        j = int(torch.argmax(min_d))
        picks.append(j)
        torch.mv(x, x[j], out=out)  # the half-width pass
        d = x_sq - 2.0 * out.float() + x_sq[j]
        torch.minimum(min_d, d, out=min_d)
        min_d[j] = -1.0
    return np.asarray(picks), time.perf_counter() - t0


def _best_of(n: int, fn: Any) -> tuple[float, Any]:
    """(fastest of ``n`` calls in seconds, the last result)."""
    best, out = float("inf"), None
    for _ in range(n):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def _blocked(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    return torch.cat([x[s : s + 65536].float() @ c.T for s in range(0, x.shape[0], 65536)])


def kcenter_main(args: argparse.Namespace) -> int:
    """The k-center table: pass time, pick time, covering radius and shared picks per storage."""
    import selection_speed as ss  # only this mode needs the synthetic embeddings

    gen = np.random.default_rng(args.seed)
    emb, _ = ss.make_embeddings(args.n, args.dim, 10, gen)
    labelled = np.zeros(args.n, dtype=bool)
    labelled[gen.choice(args.n, 100, replace=False)] = True
    lab_idx = np.flatnonzero(labelled)
    warm = kernels.warm_compiled_loops()  # both precisions then run the same compiled loops
    t0 = time.perf_counter()
    ref = kcenter_greedy(emb, labelled, args.k, np.random.default_rng(1))
    t_ref = time.perf_counter() - t0
    r_ref = covering_radius(emb, np.concatenate([lab_idx, ref]))
    print(f"N={args.n:,} D={args.dim} k={args.k}, 100 labelled; {torch.get_num_threads()} torch threads; "
          f"compiled pick loops loaded in {warm:.2f} s first")
    print("| storage | torch.mv pass ms (median of 7) | picks s | covering radius | radius / library's | picks shared with the library's |")
    print("|---|---|---|---|---|---|")
    x32 = torch.from_numpy(emb)
    print(f"| library kcenter_greedy (float32) | — | {t_ref:.2f} (all of it) | {r_ref:.4f} | 1.0000 | {args.k}/{args.k} |")
    t16, picks16 = _best_of(3, lambda: kcenter_greedy(emb, labelled, args.k, np.random.default_rng(1), precision="bf16"))
    t32, _ = _best_of(3, lambda: kcenter_greedy(emb, labelled, args.k, np.random.default_rng(1)))
    r16 = covering_radius(emb, np.concatenate([lab_idx, picks16]))
    shared16 = len(set(picks16.tolist()) & set(ref.tolist()))
    print(f"| library kcenter_greedy, precision='bf16' | — | {t16:.2f} (all of it; float32 {t32:.2f}, best of 3 each) "
          f"| {r16:.4f} | {r16 / r_ref:.4f} | {shared16}/{args.k} |")
    _, probs = ss.make_embeddings(args.n, 4, 10, np.random.default_rng(args.seed + 7))
    b16, _ = _best_of(3, lambda: badge(probs, emb, args.k, np.random.default_rng(2), precision="bf16"))
    b32, _ = _best_of(3, lambda: badge(probs, emb, args.k, np.random.default_rng(2)))
    print(f"| library badge, precision='bf16' (C = 10) | — | {b16:.2f} (float32 {b32:.2f}, best of 3 each) | — | — | — |")
    for name, dtype in (("float32", torch.float32), ("float16", torch.float16), ("bfloat16", torch.bfloat16)):
        x = x32.to(dtype)
        out = torch.empty(args.n, dtype=dtype)
        torch.mv(x, x[0], out=out)
        ts = []
        for r in range(7):
            t = time.perf_counter()
            torch.mv(x, x[r], out=out)
            ts.append(time.perf_counter() - t)
        del x
        picks, secs = kcenter_half(emb, labelled, args.k, dtype)  # the same loop for every storage
        radius = covering_radius(emb, np.concatenate([lab_idx, picks]))
        shared = len(set(picks.tolist()) & set(ref.tolist()))
        print(f"| {name} | {np.median(ts) * 1e3:.2f} | {secs:.2f} | {radius:.4f} | {radius / r_ref:.4f} | {shared}/{args.k} |")
    return 0


# ------------------------------------------------------------------------------ BADGE AUC
def stored(emb: np.ndarray, dtype: torch.dtype) -> np.ndarray:
    """``emb`` as a half-width store would hand it back: rounded to ``dtype``, widened to float32."""
    x = torch.from_numpy(np.ascontiguousarray(emb, dtype=np.float32))
    out: np.ndarray = x.to(dtype).to(torch.float32).numpy()
    return out


@dataclass
class HalfStorageBadge:
    """The registered ``badge`` strategy with its embeddings kept in ``storage`` (fp16 or bf16).

    Half-width storage with fp32 accumulation changes one thing for the selection: the stored
    embedding values are rounded to the half type. So this strategy rounds the embeddings it
    receives to ``storage`` and back to float32, then calls :func:`activelab.selection.badge`
    exactly as :class:`activelab.strategies.BadgeStrategy` does; every product, norm, distance
    and D² weight is then float32 arithmetic on the rounded values. The probabilities (and so
    ``a = p − onehot(ŷ)``) stay float32. fp16 would overflow beyond 65,504; the round trip would
    then give inf, and ``badge`` refuses non-finite input.

    For the record only, each round it also runs the float32 ``badge`` on the same
    probabilities and embeddings with a copy of the same generator, and appends to ``same``
    whether the two pick sets are equal and to ``overlap`` the fraction they share. The picks
    returned are the half-width ones; the copy leaves ``rng`` as the half-width draw leaves it.
    """

    storage: str = "float16"
    name: str = "badge_half"
    needs: tuple[str, ...] = ("probs", "embeddings")
    needs_labelled: ClassVar[bool] = False
    n_draws: int = 0
    same: list[bool] = field(default_factory=list, repr=False)
    overlap: list[float] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        if self.storage not in STORAGES:
            raise ValueError(f"storage must be one of {sorted(STORAGES)}, got {self.storage!r}.")

    def select(self, views: Views, pool: Pool, k: int, rng: np.random.Generator) -> np.ndarray:
        """k-means++ (D²) seeds among the candidates, on the rounded embeddings."""
        rows = views.candidates
        probs = views.require("probs")[rows]
        emb = views.require("embeddings")[rows]
        reference = badge(probs, emb, k, copy.deepcopy(rng))
        chosen = badge(probs, stored(emb, STORAGES[self.storage]), k, rng)
        shared = np.intersect1d(chosen, reference).size
        self.same.append(shared == k)
        self.overlap.append(shared / k)
        picked: np.ndarray = views.indices[rows[chosen]]
        return picked


def _worker_init(threads: int) -> None:
    torch.set_num_threads(threads)


def run_pair(
    dataset: str, seed: int, storages: Sequence[str], model_name: str, initial: int, query_size: int, budget: int
) -> dict[str, Any]:
    """One seed of one dataset: the library's ``badge``, then each ``storage``, in this process.

    Each run is what ``activelab run --dataset D --strategy badge --model M`` does for this seed
    (``activelab.experiments.runner.run_job``: the seed's held-out split, ``Budget``, the seeded
    engine streams, random initial set, test accuracy each round), so the runs share the initial
    set and each round's model initialisation, and differ only where the picks differ. One
    process runs them all, so every ``badge`` call uses the same matrix-vector kernel.

    Returns:
        ``{"dataset", "seed", "curves": {storage: accuracies}, "picks": {storage: per-round sets},
        "same": {storage: [...]}, "overlap": {storage: [...]}, "seconds": {storage: s}}``
        (``"library"`` is the float32 ``badge``).
    """
    raw = load_dataset(dataset, seed=seed)
    ds = with_test_split(raw, seed)
    X_test, y_test = ds.X_test, ds.y_test
    assert X_test is not None and y_test is not None
    out: dict[str, Any] = {"dataset": dataset, "seed": seed, "curves": {}, "picks": {}, "same": {}, "overlap": {}, "seconds": {}}
    for storage in ("library", *storages):
        if storage == "library":
            strategy = make("badge")
        elif storage in LIBRARY_STORAGES:
            strategy = make("badge", precision=storage)
        else:
            strategy = HalfStorageBadge(storage, name=f"badge_{storage}")
        t0 = time.perf_counter()
        learner = ActiveLearner(
            make_model(model_name, ds.n_classes),
            strategy,
            SimulatedOracle(ds.y),
            ds.X,
            budget=Budget(initial, query_size, budget),
            seed=seed,
            evaluate=lambda m: chunked_accuracy(m, X_test, y_test),
        )
        history = learner.run()
        out["seconds"][storage] = time.perf_counter() - t0
        out["curves"][storage] = [float(r.metrics["accuracy"]) for r in history]
        by_round: dict[int, set[int]] = {}
        for e in learner.pool.events:
            by_round.setdefault(int(e.round_), set()).add(int(e.index))
        out["picks"][storage] = [sorted(by_round[r]) for r in sorted(by_round)]
        if isinstance(strategy, HalfStorageBadge):
            out["same"][storage] = list(strategy.same)
            out["overlap"][storage] = list(strategy.overlap)
    return out


def _wilcoxon(diff: np.ndarray) -> str:
    """Two-sided Wilcoxon signed-rank p-value of paired differences (zeros split between the signs)."""
    from scipy.stats import wilcoxon

    if not np.any(diff != 0):
        return "— (all 0)"
    return f"{float(wilcoxon(diff, zero_method='zsplit').pvalue):.3f}"


def _ci(diff: np.ndarray) -> str:
    """Two-sided 95 % Student-t interval of the mean paired difference."""
    from scipy.stats import t

    if len(diff) < 2:
        return "—"
    half = float(t.ppf(0.975, len(diff) - 1)) * _sd(diff) / np.sqrt(len(diff))
    return f"[{diff.mean() - half:+.4f}, {diff.mean() + half:+.4f}]"


def _sd(x: np.ndarray) -> float:
    return float(x.std(ddof=1)) if len(x) > 1 else 0.0


def badge_auc_main(args: argparse.Namespace) -> int:
    """Run every (dataset, seed) pair, print one table per dataset, optionally write the rounds as CSV."""
    datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    storages = [s.strip() for s in args.storages.split(",") if s.strip()]
    for s in storages:
        if s not in STORAGES and s not in LIBRARY_STORAGES:
            raise SystemExit(f"--storages: unknown storage {s!r}; choose from {', '.join([*STORAGES, *LIBRARY_STORAGES])}.")
    jobs = [(d, seed) for d in datasets for seed in range(args.seeds)]
    threads = max(1, (os.cpu_count() or 1) // args.workers)
    t0 = time.perf_counter()
    print(
        f"BADGE AUC, embeddings stored as {', '.join(storages)} vs the library's float32 badge: "
        f"{args.seeds} seeds, model {args.model}, initial {args.initial}, query size {args.query_size}, "
        f"budget {args.budget}; {args.workers} worker process(es) x {threads} torch thread(s)",
        flush=True,
    )
    results: list[dict[str, Any]] = []
    with ProcessPoolExecutor(args.workers, mp_context=get_context("spawn"), initializer=_worker_init, initargs=(threads,)) as ex:
        futures = [ex.submit(run_pair, d, seed, storages, args.model, args.initial, args.query_size, args.budget) for d, seed in jobs]
        for fut in futures:
            res = fut.result()
            results.append(res)
            secs = ", ".join(f"{k} {v:.0f} s" for k, v in res["seconds"].items())
            print(f"  {res['dataset']} seed {res['seed']}: {secs}", file=sys.stderr, flush=True)
    print(f"wall time {time.perf_counter() - t0:.0f} s\n")
    print(
        "| dataset | storage | AUC mean (sd) | final acc. mean | ΔAUC half − float32: mean [min, max] | "
        "95 % CI of mean ΔAUC | Wilcoxon p | picks = float32's, same model and rng (rounds) | mean overlap | "
        "runs identical to float32's |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for d in datasets:
        rs = [r for r in results if r["dataset"] == d]
        auc = {s: np.array([learning_curve_auc(r["curves"][s]) for r in rs]) for s in ("library", *storages)}
        final = {s: np.mean([r["curves"][s][-1] for r in rs]) for s in ("library", *storages)}
        n_rounds = len(rs[0]["curves"]["library"])
        print(
            f"| {d} ({n_rounds} rounds) | float32 (library badge) | {auc['library'].mean():.4f} ({_sd(auc['library']):.4f}) "
            f"| {final['library']:.4f} | — | — | — | — | — | — |"
        )
        for s in storages:
            diff = auc[s] - auc["library"]
            same = [x for r in rs for x in r["same"].get(s, [])]
            overlap = [x for r in rs for x in r["overlap"].get(s, [])]
            identical = sum(r["picks"][s] == r["picks"]["library"] for r in rs)
            print(
                f"| {d} | {s} | {auc[s].mean():.4f} ({_sd(auc[s]):.4f}) | {final[s]:.4f} "
                f"| {diff.mean():+.5f} [{diff.min():+.4f}, {diff.max():+.4f}] | {_ci(diff)} | {_wilcoxon(diff)} "
                + (f"| {sum(same)}/{len(same)} ({np.mean(same):.3f}) | {np.mean(overlap):.4f} " if same else "| — | — ")
                + f"| {identical}/{len(rs)} |"
            )
    if args.out:
        import pandas as pd

        rows = [
            {"dataset": r["dataset"], "storage": s, "seed": r["seed"], "round": i, "accuracy": acc}
            for r in results
            for s, curve in r["curves"].items()
            for i, acc in enumerate(curve)
        ]
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(rows).to_csv(args.out, index=False)
        print(f"\nrounds written to {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=100_000, help="k-center: rows")
    p.add_argument("--dim", type=int, default=256, help="k-center: embedding width")
    p.add_argument("--k", type=int, default=100, help="k-center: picks")
    p.add_argument("--seed", type=int, default=0, help="k-center: seed of the embeddings and labelled rows")
    p.add_argument("--badge-auc", action="store_true", help="measure BADGE's AUC under half-width storage instead")
    p.add_argument("--datasets", default="digits,mnist1d", help="--badge-auc: registry datasets, comma-separated")
    p.add_argument("--storages", default="float16,bfloat16",
                   help="--badge-auc: float16, bfloat16, float32 (control), bf16 (the library's precision='bf16')")
    p.add_argument("--seeds", type=int, default=10, help="--badge-auc: seeds 0..N-1, paired across storages")
    p.add_argument("--model", default="mlp", help="--badge-auc: model name (activelab list models)")
    p.add_argument("--initial", type=int, default=20)
    p.add_argument("--query-size", type=int, default=10)
    p.add_argument("--budget", type=int, default=150)
    p.add_argument("--workers", type=int, default=2, help="--badge-auc: processes, one (dataset, seed) each")
    p.add_argument("--out", default="", help="--badge-auc: CSV of every round's accuracy")
    args = p.parse_args(argv)
    return badge_auc_main(args) if args.badge_auc else kcenter_main(args)


if __name__ == "__main__":
    raise SystemExit(main())
