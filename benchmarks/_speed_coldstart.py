"""Speed of the neighbour, cold-start and hybrid selection methods (issue 3), and a low-budget check.

Called by ``selection_speed.py`` through :func:`bench_rows`; also runnable on its own::

    python benchmarks/_speed_coldstart.py --quick                 # N in {10k, 100k}
    python benchmarks/_speed_coldstart.py                         # N in {10k, 100k, 1M}
    python benchmarks/_speed_coldstart.py --low-budget digits     # the low-budget protocol, 5 seeds

Inputs are seeded float32 embeddings ``(N, D)`` with cluster structure
(``selection_speed.make_embeddings``, D = 512 unless ``--dim``), with 100 labelled rows and
k = 100 picks. Time is wall-clock seconds of one run; memory is the peak resident set above the
level reached once the inputs exist (``selection_speed.measure``).

Rows:

* ``knn`` (torch / faiss) — exact 20-NN of every row: O(N²·D); skipped above a size limit
  (at N = 1M and D = 512 it is 5·10¹⁴ multiply-adds: hours on a 2-core machine);
* ``kmeans`` (torch / faiss) — 200 clusters, 20 iterations on a subsample of 256 rows per
  cluster, then every row assigned;
* ``typiclust`` — 100 labelled + 100 picks = 200 clusters, typicality inside the ≤ 100 picked
  clusters (subsampled to 5000 rows per cluster);
* ``knn (ivf)`` — approximate 20-NN of every row by ``activelab.neighbors.IVFIndex`` (about
  2·√N cells, 16 probed), at every N; where the exact kNN ran too, its recall;
* ``probcover`` — exact 100-NN graph + purity heuristic (k-means, 10 clusters) + greedy cover;
  same size limit as ``knn``;
* ``probcover (ivf)`` — the same with ``knn_search="ivf"`` (what ``"auto"`` does above
  N²·D = 2·10¹²), at every N; where the exact run exists too, the fraction of the exact balls' rows
  that the exact δ-balls of the IVF picks cover (coverage of the IVF picks / coverage of the
  exact picks, both measured on the exact balls);
* ``cluster_margin`` — margin filter to 1000 rows, average-linkage HAC on them, round-robin;
* ``two_step`` — margin filter to 1000 rows, k-center among them and the labelled rows;
* ``cal`` — CAL scores (10 nearest labelled rows per candidate) + top-k;
* ``dal`` — discriminative AL, 10 logistic fits on at most 20,000 rows;
* ``information_density``, ``egl`` — the O(N·D) scores + top-k.

``--low-budget DATASET`` runs the low-budget protocol instead: no initial labels, 10 labels per
round, 10 rounds (models fitted on 10, 20, ..., 100 labels), the registry's ``mlp`` model,
paired seeds; each cold-start strategy also picks the first batch (``initial_strategy``), random
picks it at random. Prints AUC mean ± std per strategy.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import selection_speed as ss  # the sibling script: inputs and memory measurement

from activelab.acquisition import expected_gradient_length, information_density, margin
from activelab.neighbors import IVFIndex, faiss_available, kmeans, knn
from activelab.selection import (
    cal_scores,
    cluster_margin,
    discriminative,
    probcover,
    top_k,
    two_step,
    typiclust,
)
from activelab.selection.coldstart import probcover_graph

K = 100
N_LABELLED = 100
KNN_K = 20
N_CLUSTERS = 200
METHODS = (
    "knn", "kmeans", "typiclust", "probcover", "cluster_margin", "two_step",
    "cal", "dal", "information_density", "egl",
)


def _knn_limit(quick: bool, dim: int) -> int:
    """Largest N for the O(N²·D) methods (knn, probcover): ~1.5·10¹² multiply-adds in full runs."""
    budget = 2e11 if quick else 1.5e12
    return int(np.sqrt(budget / dim))


def bench_rows(
    n_values: Sequence[int],
    quick: bool,
    *,
    methods: Sequence[str] = METHODS,
    dim: int = 512,
    seed: int = 0,
    log: Any = None,
) -> list[dict[str, Any]]:
    """Time the methods at every N; one dict per (N, method, backend).

    Keys: ``n``, ``k``, ``method``, ``seconds`` (None when skipped), ``peak_mb``, ``notes``.
    """
    say = log or (lambda msg: print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True))
    limit = _knn_limit(quick, dim)
    backends = ["sklearn", "faiss"] if faiss_available() else ["sklearn"]
    ss._configure_malloc()
    rows: list[dict[str, Any]] = []

    def add(n: int, method: str, seconds: float | None, peak: float | None, notes: str = "") -> None:
        rows.append({"n": n, "k": K, "method": method, "seconds": seconds, "peak_mb": peak, "notes": notes})
        say(f"  N={n:,} {method}: {'skipped' if seconds is None else f'{seconds:.3f} s'}"
            f"{'' if peak is None else f', peak {peak:.1f} MB'} {notes}")

    def rng() -> np.random.Generator:
        return np.random.default_rng(seed + 1)

    for n in sorted(n_values):
        gen = np.random.default_rng(seed)
        say(f"N={n:,}: generating ({n:,}, {dim}) float32 embeddings")
        emb, probs = ss.make_embeddings(n, dim, 10, gen)
        labelled = np.zeros(n, dtype=bool)
        labelled[gen.choice(n, N_LABELLED, replace=False)] = True
        scores = margin(probs)
        mb = emb.nbytes / ss.MB
        too_big = f"skipped above N={limit:,}: exact kNN is O(N²·D) = {float(n) * n * dim:.1e} multiply-adds"
        exact_nn = None
        median_d20: float | None = None
        # The timed lambdas take this N's arrays as defaults: each runs at once inside ss.measure,
        # and the `del` at the end of the iteration then frees the arrays before ss._trim().
        for b in backends:
            if "knn" in methods:
                if n > limit:
                    add(n, f"knn ({b})", None, None, too_big)
                else:
                    sec, peak, exact_nn = ss.measure(lambda b=b, emb=emb: knn(emb, KNN_K, backend=b))
                    add(n, f"knn ({b})", sec, peak, f"k={KNN_K}, every row a query; embeddings {mb:.0f} MB")
            if "kmeans" in methods:
                sec, peak, _ = ss.measure(lambda b=b, emb=emb: kmeans(emb, N_CLUSTERS, rng=rng(), backend=b))
                s_rows = min(n, 256 * N_CLUSTERS)
                add(n, f"kmeans ({b})", sec, peak, f"c={N_CLUSTERS}, 20 iterations on {s_rows:,} rows, all rows assigned")
        if "knn" in methods:
            sec, peak, (got_d, got) = ss.measure(lambda emb=emb: IVFIndex(emb, seed=seed).knn(KNN_K))
            median_d20 = float(np.sqrt(np.median(got_d[:, -1])))  # radius for the large-N ProbCover rows
            del got_d
            note = f"k={KNN_K}, {IVFIndex.default_lists(n)} cells, 16 probed"
            if exact_nn is not None:
                hits = sum(len(set(a) & set(b)) for a, b in zip(exact_nn[1].tolist(), got.tolist(), strict=True))
                note += f"; recall {hits / got.size:.4f} against the exact kNN"
            add(n, "knn (ivf)", sec, peak, note)
            # a radius for the large-N ProbCover rows: the median distance to the 20th neighbour
            del got
        if "typiclust" in methods:
            sec, peak, _ = ss.measure(lambda emb=emb, labelled=labelled: typiclust(emb, labelled, K, rng()))
            add(n, "typiclust", sec, peak, f"{N_LABELLED} labelled, c={N_LABELLED + K} clusters, typicality on ≤ 5000 rows/cluster")
        if "probcover" in methods:
            if n > limit:
                add(n, "probcover", None, None, too_big)
            else:
                sec, peak, exact_picks = ss.measure(
                    lambda emb=emb, labelled=labelled: probcover(emb, labelled, K, rng(), n_clusters=10, knn_search="exact")
                )
                add(n, "probcover", sec, peak, "100-NN graph, delta by purity (k-means, 10 clusters)")
            note = f"as probcover with knn_search='ivf' ({IVFIndex.default_lists(n)} cells, 16 probed)"
            if n <= limit:
                sec, peak, picks = ss.measure(
                    lambda emb=emb, labelled=labelled: probcover(emb, labelled, K, rng(), n_clusters=10, knn_search="ivf")
                )
                note += f"; coverage of its picks / the exact picks' {_coverage_ratio(emb, labelled, picks, exact_picks, rng()):.4f}"
            else:
                # The purity δ of these 10 broad clusters grows balls with N (> 50M pairs at N = 100k);
                # a fixed-size neighbourhood is what a large pool needs, so δ = median 20-NN distance.
                if median_d20 is None:
                    median_d20 = float(np.sqrt(np.median(IVFIndex(emb, seed=seed).knn(KNN_K)[0][:, -1])))
                sec, peak, _ = ss.measure(
                    lambda emb=emb, labelled=labelled, delta=median_d20: probcover(
                        emb, labelled, K, rng(), delta, knn_search="ivf"
                    )
                )
                note += f"; δ = {median_d20:.2f}, the median distance to the 20th neighbour (see knn (ivf))"
            add(n, "probcover (ivf)", sec, peak, note)
        if "cluster_margin" in methods:
            sec, peak, _ = ss.measure(lambda s=scores, emb=emb, labelled=labelled: cluster_margin(s, emb, labelled, K, rng()))
            add(n, "cluster_margin", sec, peak, f"margin filter to {10 * K} rows, average-linkage HAC, round-robin")
        if "two_step" in methods:
            sec, peak, _ = ss.measure(lambda s=scores, emb=emb, labelled=labelled: two_step(s, emb, labelled, K, rng()))
            add(n, "two_step", sec, peak, f"margin filter to {10 * K} rows, k-center with {N_LABELLED} labelled centres")
        if "cal" in methods:
            sec, peak, _ = ss.measure(
                lambda p=probs, emb=emb, labelled=labelled: top_k(cal_scores(p, emb, labelled, 10), K, rng())
            )
            add(n, "cal + top_k", sec, peak, f"10 nearest of the {N_LABELLED} labelled rows per candidate")
        if "dal" in methods:
            sec, peak, _ = ss.measure(lambda emb=emb, labelled=labelled: discriminative(emb, labelled, K, rng()))
            add(n, "dal", sec, peak, "10 sub-batches, logistic fits on <= 20,000 rows")
        if "information_density" in methods:
            sec, peak, _ = ss.measure(lambda p=probs, emb=emb: top_k(information_density(p, emb), K, rng()))
            add(n, "information_density + top_k", sec, peak, "entropy x mean cosine similarity, O(N·D)")
        if "egl" in methods:
            sec, peak, _ = ss.measure(lambda p=probs, emb=emb: top_k(expected_gradient_length(p, emb), K, rng()))
            add(n, "egl + top_k", sec, peak, "closed-form output-layer gradient norm, O(N·(C + D))")
        del emb, probs, scores
        ss._trim()
    return rows


def _coverage_ratio(
    emb: np.ndarray, labelled: np.ndarray, picks: np.ndarray, exact_picks: np.ndarray, rng: np.random.Generator
) -> float:
    """Rows covered by the exact δ-balls of labelled + ``picks``, over the same for ``exact_picks``.

    ``rng`` must be the one the exact run got, so that the balls (and δ) are that run's.
    """
    _, indptr, cols = probcover_graph(emb, rng, n_clusters=10, knn_search="exact")

    def covered(p: np.ndarray) -> int:
        centres = np.concatenate([np.flatnonzero(labelled), p])
        hit = np.zeros(len(emb), dtype=bool)
        for c in centres:
            hit[cols[indptr[c] : indptr[c + 1]]] = True
        return int(hit.sum())

    return covered(picks) / covered(exact_picks)


def markdown(rows: Sequence[dict[str, Any]]) -> str:
    """The rows as a markdown table."""
    return ss.method_rows_table(rows)


# ----------------------------------------------------------------------------- low budget
COLD_START = ("typiclust", "probcover", "kmeans")


def _accuracy(model: Any, X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    return {"accuracy": float((model.predict_proba(X).argmax(1) == y).mean())}


def low_budget_rows(
    dataset: str,
    strategies: Sequence[str] = ("random", "typiclust", "probcover"),
    seeds: int = 5,
    *,
    query_size: int = 10,
    rounds: int = 10,
    model: str = "mlp",
    log: Callable[[str], None] | None = None,
    options: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The low-budget protocol: AUC (mean accuracy over the rounds) per strategy and seed.

    ``options`` (e.g. ``{"space": "input", "pca": 50, "normalize": True}``) go to the
    cold-start strategies (typiclust, probcover, kmeans), which then also pick the first batch.
    """
    from activelab.data import load_dataset, with_test_split
    from activelab.loop import ActiveLearner, Budget
    from activelab.models.registry import make_model
    from activelab.oracles import SimulatedOracle
    from activelab.strategies import make

    say = log or (lambda msg: print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True))
    out = []
    for seed in range(seeds):
        ds = with_test_split(load_dataset(dataset, seed=seed), seed)
        for name in strategies:
            t0 = time.perf_counter()
            strategy = make(name, **(options or {})) if name in COLD_START else make(name)
            learner = ActiveLearner(
                make_model(model, ds.n_classes), strategy, SimulatedOracle(ds.y), ds.X,
                budget=Budget(0, query_size, query_size * rounds), seed=seed,
                evaluate=partial(_accuracy, X=ds.X_test, y=ds.y_test),
                initial_strategy="random" if name == "random" else strategy,
            )
            history = learner.run()
            acc = history.column("accuracy")
            out.append({"dataset": dataset, "strategy": name, "seed": seed, "auc": float(acc.mean()),
                        "final": float(acc[-1]), "seconds": time.perf_counter() - t0})
            say(f"  {dataset} seed {seed} {name}: AUC {acc.mean():.4f}, final {acc[-1]:.4f}")
    return out


def low_budget_markdown(rows: Sequence[dict[str, Any]]) -> str:
    """AUC mean ± std per (dataset, strategy)."""
    keys = list(dict.fromkeys((r["dataset"], r["strategy"]) for r in rows))
    body = []
    for ds, st in keys:
        auc = np.array([r["auc"] for r in rows if r["dataset"] == ds and r["strategy"] == st])
        fin = np.array([r["final"] for r in rows if r["dataset"] == ds and r["strategy"] == st])
        sec = np.mean([r["seconds"] for r in rows if r["dataset"] == ds and r["strategy"] == st])
        body.append([ds, st, f"{auc.mean():.4f} ± {auc.std():.4f}", f"{fin.mean():.4f}", str(len(auc)), f"{sec:.1f}"])
    return ss.markdown_table(["dataset", "strategy", "AUC mean ± std", "final acc", "seeds", "s/run"], body)


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", type=ss._ints, default=None, help="pool sizes (default 10k,100k,1M; --quick 10k,100k)")
    p.add_argument("--quick", action="store_true", help="N in {10k, 100k}; O(N²·D) methods only up to ~20k")
    p.add_argument("--only", type=str, default=",".join(METHODS), help=f"comma-separated subset of {','.join(METHODS)}")
    p.add_argument("--dim", type=int, default=512, help="embedding width D")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--low-budget", type=str, default=None, metavar="DATASET", help="run the low-budget protocol instead")
    p.add_argument("--strategies", type=str, default="random,typiclust,probcover", help="strategies for --low-budget")
    p.add_argument("--seeds", type=int, default=5, help="seeds for --low-budget")
    p.add_argument("--space", choices=("embeddings", "input"), default=None,
                   help="--low-budget: representation of the cold-start strategies in query rounds")
    p.add_argument("--pca", type=int, default=None, help="--low-budget: PCA components of that representation")
    p.add_argument("--normalize", action="store_true", help="--low-budget: unit-length rows (cosine geometry)")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    command = "python benchmarks/_speed_coldstart.py " + " ".join(sys.argv[1:] if argv is None else argv)
    if args.low_budget:
        names = [s.strip() for s in args.strategies.split(",") if s.strip()]
        options: dict[str, Any] = {"pca": args.pca, "normalize": args.normalize}
        if args.space is not None:
            options["space"] = args.space
        rows = low_budget_rows(args.low_budget, names, args.seeds, options=options)
        print(low_budget_markdown(rows))
    else:
        methods = [m.strip() for m in args.only.split(",") if m.strip()]
        unknown = set(methods) - set(METHODS)
        if unknown:
            p.error(f"unknown methods {sorted(unknown)}; choose from {', '.join(METHODS)}")
        sizes = args.sizes or ([10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000])
        print(markdown(bench_rows(sizes, args.quick, methods=methods, dim=args.dim, seed=args.seed)))
    print(f"\nCommand: `{command.strip()}`; started {started}; {ss._machine()}; load average now {os.getloadavg()[0]:.2f}.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
