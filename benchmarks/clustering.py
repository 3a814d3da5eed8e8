r"""Active clustering benchmarks: (1) the TMLR reproduction protocol, (2) scale to N = 100,000,
(3) the ARI curve at N = 10,000 against the dense (every-pair) baselines.

Prints markdown tables. Examples::

    # quick check (2 seeds, blobs10 + digits, noise 0.2, k-means init)
    python benchmarks/clustering.py repro --quick
    # the full protocol of issue 5 (long: hours on 2 cores)
    python benchmarks/clustering.py repro --datasets blobs10,digits,mnist,fashion-mnist,newsgroups \
        --noise 0.2,0.4 --init kmeans,random --seeds 8 --workers 2
    # scale: 10 rounds of 5,000 pairs on 100,000 blobs and all 70,000 MNIST digits
    python benchmarks/clustering.py scale
    # ARI per round at N = 10,000 blobs: kNN candidates, and every pair for maxexp and uniform
    python benchmarks/clustering.py curve --dataset blobs --n-items 10000 --rounds 20 --batch 5000
    # the paper's own data and protocol (TMLR pack), beside the published values; resumable
    python benchmarks/clustering.py repro --pack ../shared/data/acc_tmlr --noise 0.2 --init kmeans --seeds 8

Reproduction protocol (Aronsson & Chehreghani, TMLR 2024): N = 500 items per dataset, 125 pairs
per round, tau = 3, budget 20 % of the 124,750 pairs, ARI at 2 / 5 / 10 / 20 % of the pairs.
Results per setting go to ``OUT/<noise>_<init>/`` (rounds.csv, summary.csv, curves.png) and are
resumable.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

from activelab.clustering import (
    ActiveClusterer,
    CandidateConfig,
    NoisyPairOracle,
    knn_pairs,
    make_pair_strategy,
    partition_prior,
)
from activelab.clustering.runner import FRACTIONS, ClusterRunConfig, resolve_solver, run_clustering, summarise_clustering
from activelab.engine import History

#: Published means over ten datasets, noise 0.2, k-means init (ARI at 2/5/10/20 %), TMLR 2024.
PUBLISHED = {
    "maxexp": (0.458, 0.564, 0.805, 0.979),
    "maxmin": (0.432, 0.492, 0.642, 0.935),
    "uniform": (0.424, 0.424, 0.424, 0.445),
}
COLS = [f"ari@{round(f * 100)}%" for f in FRACTIONS]


def markdown(df: pd.DataFrame, digits: int = 3) -> str:
    """A pipe table (no dependency on tabulate)."""
    def fmt(v: object) -> str:
        if isinstance(v, (float, np.floating)):
            return "nan" if np.isnan(v) else f"{v:.{digits}f}"
        return str(v)

    lines = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "|".join("---" for _ in df.columns) + "|"]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join(lines)


def _available(datasets: list[str]) -> list[str]:
    from activelab.clustering.runner import load_items

    keep = []
    for d in datasets:
        try:
            load_items(d, 0, 500)
        except Exception as err:  # noqa: BLE001 - report any loader failure and go on
            print(f"skipping dataset {d!r}: {type(err).__name__}: {err}", file=sys.stderr)
            continue
        keep.append(d)
    return keep


def repro(args: argparse.Namespace) -> None:
    """Run the reproduction grid and print one table per setting plus the mean over datasets."""
    datasets = _available(args.datasets.split(","))
    strategies = args.strategies.split(",")
    tables = []
    for noise in [float(x) for x in args.noise.split(",")]:
        for init in args.init.split(","):
            out = Path(args.out) / f"noise{noise}_{init}"
            t0 = time.perf_counter()
            config = ClusterRunConfig(
                tuple(datasets), tuple(strategies), noise=noise, batch=125, init=init,
                budget_fraction=args.budget_fraction, seeds=args.seeds, n_items=500, tau=3,
                beta=args.beta, workers=args.workers, out=out,
            )
            if args.report_only and not (out / "jobs").is_dir():
                print(f"\n### noise {noise}, init {init}: no finished job yet\n")
                continue
            rounds = run_clustering(
                config, progress=lambda m: print(m, file=sys.stderr, flush=True), run_missing=not args.report_only
            )
            summary = summarise_clustering(rounds)
            summary.insert(1, "noise", noise)
            summary.insert(2, "init", init)
            tables.append(summary)
            print(f"\n### noise {noise}, init {init} ({args.seeds} seeds, {time.perf_counter() - t0:.0f} s)\n")
            show = summary[["dataset", "strategy", *COLS, "ari_auc_mean", "ari_auc_std", "n_seeds", "seconds_per_round"]]
            print(markdown(show.rename(columns={"ari_auc_mean": "mean ARI 0-20%", "ari_auc_std": "± std"})))
            grouped = summary.groupby("strategy", sort=False)
            mean = grouped[[*COLS, "ari_auc_mean"]].mean().reset_index()
            # a partial grid (jobs still running) must not pass for a full one
            mean["n_datasets"] = grouped.size().to_numpy()
            mean["min_seeds"] = grouped["n_seeds"].min().to_numpy()
            print(f"\nMean over the datasets with finished jobs ({len(datasets)} requested):\n")
            if noise == 0.2 and init == "kmeans":
                for name, vals in PUBLISHED.items():
                    if name in set(mean["strategy"]):
                        row = {"strategy": f"{name} (published, 10 datasets)", **dict(zip(COLS, vals, strict=True))}
                        mean = pd.concat([mean, pd.DataFrame([row])], ignore_index=True)
            print(markdown(mean.rename(columns={"ari_auc_mean": "mean ARI 0-20%"})))
    if tables:
        pd.concat(tables).to_csv(Path(args.out) / "summary_all.csv", index=False)


#: The pack's sets with published results, smallest first (the order the grid runs them).
PACK_SETS = ("ecoli", "user_knowledge", "synthetic", "forest_type_mapping", "mnist", "cifar10", "mushrooms", "yeast",
             "cardiotocography", "20newsgroups")
PACK_COLS = ["ari_2", "ari_5", "ari_10", "ari_20", "ari_mean_0_20"]


def pack_curve_summary(rounds: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, strategy): the pack's statistics, mean over seeds (and the std of the 0-20 % mean).

    Like ``published_ari.csv``: the curve of each seed is interpolated linearly at 2/5/10/20 %
    of the pairs, past its last round it keeps its last value, and ``ari_mean_0_20`` is the
    trapezoid area on [0, 0.2] divided by 0.2.
    """
    grid = np.linspace(0.0, 0.2, 201)
    rows = []
    for (dataset, strategy, seed), g in rounds.groupby(["dataset", "strategy", "seed"], sort=False):
        g = g.sort_values("round")
        x, y = g["fraction_queried"].to_numpy(), g["ari"].to_numpy()
        rows.append({"dataset": dataset, "strategy": strategy, "seed": seed,
                     **{f"ari_{p}": float(np.interp(p / 100, x, y)) for p in (2, 5, 10, 20)},
                     "ari_mean_0_20": float(np.trapezoid(np.interp(grid, x, y), grid) / 0.2)})
    per_seed = pd.DataFrame(rows)
    by = per_seed.groupby(["dataset", "strategy"], sort=False)
    out = by[PACK_COLS].mean()
    out["sd_0_20"] = by["ari_mean_0_20"].std(ddof=1).fillna(0.0)
    out["n_seeds"] = by.size()
    return out.reset_index()


def repro_pack(args: argparse.Namespace) -> None:
    """The paper's own protocol on the TMLR pack, beside its published results (see the pack's README).

    Per dataset: every item (N as stored), B = ceil(0.001 N (N-1)/2) pairs per round, tau = 3,
    ±0.1 starting similarities from the pack's k-means partition (``kmeans``) or from a random
    partition into 10 clusters (``random``), eps = 0.3, beta = 1, the solver's 5 restarts of at
    most 30 sweeps, from random partitions only (``--warm-start`` starts restart 0 from the
    previous clustering instead, our solver), budget 20 % of the pairs.
    """
    import math

    pack = Path(args.pack)
    published = pd.read_csv(pack / "published_ari.csv")
    published["strategy"] = published["strategy"].replace({"unif": "uniform"})
    datasets = args.datasets.split(",") if args.datasets else list(PACK_SETS)
    unknown = [d for d in datasets if not (pack / f"{d}.npz").is_file()]
    if unknown:
        raise SystemExit(f"error: not in the pack {pack}: {unknown}; its sets are {', '.join(PACK_SETS)}.")
    strategies = tuple(args.strategies.split(","))
    tag = "warm" if args.warm_start else "paper"
    tables = []
    for noise in [float(x) for x in args.noise.split(",")]:
        for init in args.init.split(","):
            parts = []
            for d in datasets:
                n = int(np.load(pack / f"{d}.npz")["y"].shape[0])
                out = Path(args.out) / f"{tag}_noise{noise}_{init}" / d
                config = ClusterRunConfig(
                    (str(pack / f"{d}.npz"),), strategies, noise=noise, batch=math.ceil(0.001 * n * (n - 1) / 2),
                    init=init, budget_fraction=0.2, seeds=args.seeds, n_items=None, tau=3, beta=args.beta,
                    init_partition=f"{pack / 'kmeans_init_labels.npz'}:{d}" if init == "kmeans" else None,
                    restarts=5, warm_start=args.warm_start, workers=args.workers, out=out,
                )
                if args.report_only and not (out / "jobs").is_dir():
                    continue
                t0 = time.perf_counter()
                try:
                    rounds = run_clustering(
                        config, progress=lambda m: print(m, file=sys.stderr, flush=True), run_missing=not args.report_only
                    )
                except ValueError as err:  # report-only on a set with no finished job yet
                    print(f"{d}: {err}", file=sys.stderr)
                    continue
                print(f"{d} noise {noise} {init}: {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
                parts.append(pack_curve_summary(rounds))
            if not parts:
                print(f"\n### noise {noise}, init {init}: no finished job yet\n")
                continue
            summary = pd.concat(parts, ignore_index=True)
            # the pack names the random start "random_clustering" (the paper's code's name)
            pub_init = {"random": "random_clustering"}.get(init, init)
            pub = published[(published["noise"] == noise) & (published["init"] == pub_init)]
            # a strategy the paper did not run (ours, `default`) is compared with its best, maxexp
            summary["vs"] = summary["strategy"].where(summary["strategy"].isin(set(pub["strategy"])), "maxexp")
            pub = pub.rename(columns={"strategy": "vs"})
            summary = summary.merge(
                pub[["dataset", "vs", *PACK_COLS, "sd_ari_mean_0_20"]].rename(
                    columns={c: f"{c}_pub" for c in [*PACK_COLS, "sd_ari_mean_0_20"]}),
                on=["dataset", "vs"], how="left",
            )
            diff = summary["ari_mean_0_20"] - summary["ari_mean_0_20_pub"]
            summary["diff_in_pub_sd"] = diff / summary["sd_ari_mean_0_20_pub"].clip(lower=1e-3)
            # the acceptance tolerance: within 3 published standard deviations, or 0.03 when they are tiny
            summary["within"] = diff.abs() <= np.maximum(0.03, 3 * summary["sd_ari_mean_0_20_pub"])
            summary.insert(2, "noise", noise)
            summary.insert(3, "init", init)
            tables.append(summary)
            print(f"\n### noise {noise}, init {init}, solver {tag} (seeds per row in n_seeds)\n")
            show = summary[["dataset", "strategy", "ari_2", "ari_5", "ari_10", "ari_20", "ari_mean_0_20", "vs",
                            "ari_10_pub", "ari_mean_0_20_pub", "sd_ari_mean_0_20_pub", "diff_in_pub_sd", "within", "n_seeds"]]
            print(markdown(show.rename(columns={"ari_mean_0_20": "0-20%", "ari_mean_0_20_pub": "0-20% pub", "vs": "published",
                                                "sd_ari_mean_0_20_pub": "pub sd", "diff_in_pub_sd": "diff/sd"})))
            by = summary.groupby("strategy", sort=False)
            mean = by[[*PACK_COLS, "ari_10_pub", "ari_mean_0_20_pub"]].mean().reset_index()
            mean["n_datasets"] = by.size().to_numpy()
            mean["within"] = by["within"].sum().to_numpy()
            mean["min_seeds"] = by["n_seeds"].min().to_numpy()
            print(f"\nMean over the {len(parts)} dataset(s) with finished jobs (published: the same datasets):\n")
            print(markdown(mean.rename(columns={"ari_mean_0_20": "0-20%", "ari_mean_0_20_pub": "0-20% pub"})))
    if tables:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        every = pd.concat(tables)
        every.to_csv(Path(args.out) / f"pack_summary_{tag}.csv", index=False)
        print(f"\n### Every setting, solver {tag}: means over the finished datasets (published: the same datasets)\n")
        print(markdown(pack_overview(every)))
        print(f"\n### Every setting, solver {tag}, per dataset: mean ARI over 0-20 % of the pairs, ours (published)\n")
        print(markdown(pack_by_dataset(every).fillna("—")))


def pack_overview(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per (noise, init, strategy) of the per-dataset rows of :func:`repro_pack`.

    Mean ARI at 10 % and over 0-20 % beside the published means of the same datasets, how
    many datasets have finished jobs, how many of them are within the tolerance (for the
    strategies the paper ran) and the fewest seeds of any of them.
    """
    by = summary.groupby(["noise", "init", "strategy"], sort=False)
    out = by[["ari_10", "ari_10_pub", "ari_mean_0_20", "ari_mean_0_20_pub"]].mean()
    out["n_datasets"] = by.size()
    out["within"] = by["within"].sum()
    out["min_seeds"] = by["n_seeds"].min()
    paper_ran = (by["vs"].first() == out.index.get_level_values("strategy")).to_numpy()
    # ours is compared with the paper's maxexp: "within" does not apply
    out["within"] = [str(int(w)) if ran else "n/a" for w, ran in zip(out["within"], paper_ran, strict=True)]
    out = out.reset_index()
    out["noise"] = [f"{x:g}" for x in out["noise"]]
    return out.rename(columns={"ari_mean_0_20": "0-20%", "ari_mean_0_20_pub": "0-20% pub"})


def pack_by_dataset(summary: pd.DataFrame) -> pd.DataFrame:
    """One row per (noise, init, dataset) of the per-dataset rows of :func:`repro_pack`.

    For each strategy its mean ARI over 0-20 % of the pairs beside the published mean of the
    method it is compared with (itself, or the paper's maxexp for a strategy the paper did not
    run), as ``"ours (published)"``; a ``*`` marks a row outside the tolerance. Then how many of
    the paper's strategies are within it and the fewest seeds in the row.
    """
    rows = []
    for (noise, init, dataset), part in summary.groupby(["noise", "init", "dataset"], sort=False):
        row: dict[str, object] = {"noise": f"{noise:g}", "init": init, "dataset": dataset}
        paper_ran = part["vs"] == part["strategy"]
        for r in part.itertuples(index=False):
            mark = "*" if r.strategy == r.vs and not r.within else ""
            name = str(r.strategy) if r.strategy == r.vs else f"{r.strategy} (vs {r.vs})"
            row[name] = f"{r.ari_mean_0_20:.3f} ({r.ari_mean_0_20_pub:.3f}){mark}"
        row["within"] = f"{int(part.loc[paper_ran, 'within'].sum())}/{int(paper_ran.sum())}" if paper_ran.any() else "n/a"
        row["seeds"] = int(part["n_seeds"].min())
        rows.append(row)
    return pd.DataFrame(rows)


def _scale_data(name: str, n_items: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    from activelab.data import load_dataset
    from activelab.data.builtin import load_blobs

    if name == "blobs":
        ds = load_blobs(n_items=n_items, n_features=10, n_classes=10, seed=seed)
        return ds.X, ds.y
    ds = load_dataset(name)
    X = np.concatenate([ds.X.reshape(len(ds.X), -1), ds.X_test.reshape(len(ds.X_test), -1)])
    y = np.concatenate([ds.y, ds.y_test])
    if len(X) > n_items:
        idx = np.sort(np.random.default_rng(seed).choice(len(X), n_items, replace=False))
        X, y = X[idx], y[idx]
    # PCA to 50 dimensions (the paper reduces image features too); keeps kNN and k-means cheap.
    Xc = X.astype(np.float32) - X.mean(axis=0, dtype=np.float64).astype(np.float32)
    _, _, vt = np.linalg.svd(Xc[np.random.default_rng(seed).choice(len(Xc), 5000, replace=False)], full_matrices=False)
    return (Xc @ vt[:50].T).astype(np.float32), y


def _run_traced(
    strategy: str, y: np.ndarray, init: np.ndarray, args: argparse.Namespace, *, seed: int = 0, prior: float = 0.1,
    graph: np.ndarray | None, candidates: CandidateConfig, ami: bool,
) -> tuple[History, float, float]:
    """Run ``strategy`` with its recommended solver under tracemalloc: (history, seconds, peak traced MB)."""
    tracemalloc.start()
    try:
        pair_strategy = make_pair_strategy(strategy)
        ac = ActiveClusterer(
            pair_strategy, NoisyPairOracle(y, args.noise_level), partition_prior(init, prior),
            batch_size=args.batch, budget=args.batch * args.rounds, seed=seed, truth=y, initial_labels=init,
            graph_pairs=graph, candidates=candidates, ami=ami,
            **resolve_solver(pair_strategy),  # default's and learned's prior weight and merging
        )
        t = time.perf_counter()
        history = ac.run()
        total = time.perf_counter() - t
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return history, total, peak / 2**20


def scale(args: argparse.Namespace) -> None:
    """Seconds per round and peak memory for N = 100,000 items and 5,000 pairs per round."""
    import sklearn.metrics  # noqa: F401 - import once here so round 0's "evaluate" time is not the import

    from activelab.neighbors import kmeans

    rows = []
    for name in args.datasets.split(","):
        try:
            X, y = _scale_data(name, args.n_items, 0)
        except Exception as err:  # noqa: BLE001 - report and continue with the next dataset
            print(f"skipping {name!r}: {type(err).__name__}: {err}", file=sys.stderr)
            continue
        n = len(X)
        t = time.perf_counter()
        init, _ = kmeans(X, 10, rng=np.random.default_rng(0))
        t_kmeans = time.perf_counter() - t
        t = time.perf_counter()
        graph = knn_pairs(X, args.knn)
        t_knn = time.perf_counter() - t
        for strategy in args.strategies.split(","):
            history, total, peak_mb = _run_traced(strategy, y, init, args, graph=graph, candidates=CandidateConfig(),
                                                  ami=n <= 20_000)
            per_round = [sum(r.seconds.values()) for r in history[:-1]]
            sec = {k: np.mean([r.seconds[k] for r in history[:-1]]) for k in history[0].seconds}
            rows.append({
                "dataset": name, "N": n, "strategy": strategy, "rounds": len(history) - 1,
                "s/round mean": np.mean(per_round), "s/round max": np.max(per_round),
                "solve": sec["solve"], "select": sec["select"], "label": sec["label"], "evaluate": sec["evaluate"],
                "ARI start": history[0].metrics["ari"], "ARI end": history[-1].metrics["ari"],
                "peak traced MB": peak_mb, "total s": total,
                "setup k-means s": t_kmeans, "setup kNN s": t_knn,
            })
            print(markdown(pd.DataFrame(rows[-1:]), 2), file=sys.stderr, flush=True)
    print(f"\n### Scale: {args.rounds} rounds of {args.batch} pairs (noise {args.noise_level}, k-means init, "
          f"kNN k={args.knn})\n")
    print(markdown(pd.DataFrame(rows), 2))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nProcess peak RSS (ru_maxrss, includes torch/numpy libraries and the data): {rss:.0f} MB")


def curve(args: argparse.Namespace) -> None:
    """ARI per round at N = 10,000: each strategy on kNN candidates (sparse) and, for
    ``--dense`` strategies, on every pair (the exhaustive mode of the paper's N = 500 protocol),
    where that still fits; with seconds per round and peak traced memory.
    """
    import sklearn.metrics  # noqa: F401 - import once here so round 0's "evaluate" time is not the import

    from activelab.neighbors import kmeans

    X, y = _scale_data(args.dataset, args.n_items, 0)
    n = len(X)
    init, _ = kmeans(X, len(np.unique(y)), rng=np.random.default_rng(0))
    graph = knn_pairs(X, args.knn)
    all_pairs_count = n * (n - 1) // 2
    runs = [(s, "sparse") for s in args.strategies.split(",")] + [(s, "dense") for s in args.dense.split(",") if s]
    rows, curves = [], []
    for strategy, mode in runs:
        for seed in range(args.seeds):
            config = CandidateConfig(max_exhaustive_pairs=all_pairs_count) if mode == "dense" else CandidateConfig()
            try:
                history, total, peak_mb = _run_traced(strategy, y, init, args, seed=seed, prior=args.prior,
                                                      graph=None if mode == "dense" else graph, candidates=config,
                                                      ami=False)
            except MemoryError as err:
                print(f"{strategy} ({mode}) did not run: MemoryError {err}", file=sys.stderr)
                continue
            ari = [r.metrics["ari"] for r in history]
            curves += [{"strategy": strategy, "mode": mode, "seed": seed, "round": r.round_, "n_queries": r.n_queries,
                        "ari": r.metrics["ari"]} for r in history]
            rows.append({
                "strategy": strategy, "mode": mode, "seed": seed, "ARI start": ari[0],
                **{f"ARI r{q}": ari[min(q, len(ari) - 1)] for q in (args.rounds // 4, args.rounds // 2)},
                "ARI end": ari[-1], "mean ARI": float(np.mean(ari)),
                "s/round": total / max(len(history) - 1, 1), "peak traced MB": peak_mb,
            })
            print(markdown(pd.DataFrame(rows[-1:]), 3), file=sys.stderr, flush=True)
    print(f"\n### ARI curve: {args.dataset}, N = {n}, {args.rounds} rounds of {args.batch} pairs "
          f"(noise {args.noise_level}, k-means start with a ±{args.prior:g} prior, kNN k={args.knn})\n")
    print(markdown(pd.DataFrame(rows), 3))
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        pd.DataFrame(curves).to_csv(Path(args.out) / "curve.csv", index=False)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nProcess peak RSS (ru_maxrss): {rss:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("repro", help="TMLR reproduction protocol (N=500, 125 pairs/round).")
    r.add_argument("--datasets", default="blobs10,digits,mnist,fashion-mnist,newsgroups")
    r.add_argument("--strategies", default="uniform,maxmin,maxexp,eig,batch_ig")
    r.add_argument("--noise", default="0.2,0.4")
    r.add_argument("--init", default="kmeans,random")
    r.add_argument("--seeds", type=int, default=8)
    r.add_argument("--budget-fraction", type=float, default=0.2)
    r.add_argument("--beta", type=float, default=1.0, help="mean-field inverse temperature (entropy, eig, batch_ig)")
    r.add_argument("--workers", type=int, default=1)
    r.add_argument("--out", default="bench-out/clustering")
    r.add_argument("--report-only", action="store_true",
                   help="run nothing: print the tables of the jobs already finished in --out (n_seeds per row)")
    r.add_argument("--quick", action="store_true", help="2 seeds, blobs10+digits, noise 0.2, k-means init.")
    r.add_argument("--pack", default=None,
                   help="the TMLR pack (../shared/data/acc_tmlr): the paper's own data and protocol; --datasets then "
                        "names pack sets (default: all 10, smallest first)")
    r.add_argument("--warm-start", action="store_true",
                   help="with --pack: restart 0 of the solver starts from the previous clustering (ours), not at random")
    s = sub.add_parser("scale", help="N=100,000, 10 rounds of 5,000 pairs.")
    s.add_argument("--datasets", default="blobs,mnist")
    s.add_argument("--strategies", default="uniform,maxexp,eig")
    s.add_argument("--n-items", type=int, default=100_000)
    s.add_argument("--rounds", type=int, default=10)
    s.add_argument("--batch", type=int, default=5000)
    s.add_argument("--knn", type=int, default=10)
    s.add_argument("--noise-level", type=float, default=0.2)
    c = sub.add_parser("curve", help="ARI per round at N=10,000: kNN candidates against every pair (dense).")
    c.add_argument("--dataset", default="blobs")
    c.add_argument("--strategies", default="default,learned,maxexp,uniform")
    c.add_argument("--dense", default="maxexp,uniform", help="strategies also run on every pair (empty: none)")
    c.add_argument("--n-items", type=int, default=10_000)
    c.add_argument("--rounds", type=int, default=20)
    c.add_argument("--batch", type=int, default=5000)
    c.add_argument("--seeds", type=int, default=1)
    c.add_argument("--knn", type=int, default=10)
    c.add_argument("--noise-level", type=float, default=0.2)
    c.add_argument("--prior", type=float, default=0.1,
                   help="magnitude of the k-means partition prior (the paper's 0.1; an item's summed prior grows "
                        "with its cluster, so at N = 10,000 0.01 matches the paper's N = 1,000 sets)")
    c.add_argument("--out", default=None, help="folder for curve.csv (ARI per round)")
    parser_defaults = {"datasets": r.get_default("datasets"), "strategies": r.get_default("strategies")}
    args = parser.parse_args()
    if args.cmd == "repro" and args.pack:
        if args.datasets == parser_defaults["datasets"]:
            args.datasets = None
        if args.strategies == parser_defaults["strategies"]:
            args.strategies = "uniform,maxmin,maxexp"
        repro_pack(args)
    elif args.cmd == "repro":
        if args.quick:
            args.seeds, args.datasets, args.noise, args.init = 2, "blobs10,digits", "0.2", "kmeans"
        repro(args)
    elif args.cmd == "curve":
        curve(args)
    else:
        scale(args)


if __name__ == "__main__":
    main()
