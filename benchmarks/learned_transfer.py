"""Transfer of the learned acquisition policy to held-out datasets and architectures (issue 4).

Pre-registered split (declared here, before any training; the policy is trained only on
TRAIN_SOURCES, through `activelab policy train`, and never sees an evaluation dataset):

- training tasks: generated make_classification problems (random classes 2-10, dimensions,
  separations, imbalance, label noise), `blobs`, scikit-learn's breast_cancer; proxy learners
  (logistic regression, 32-unit MLP head) on fixed features;
- held-out evaluation datasets and the deployed architecture (all TorchClassifier, never seen
  in training: architecture transfer from the proxies): HELD_OUT below.

For each held-out dataset, the shipped policy and the baselines (random, margin, entropy, badge,
albl, tailor: those in the registry) run on paired seeds through activelab.experiments (same
split, initial set and model initialisation per seed). Printed per dataset: AUC mean ± std,
mean rank (rank of the strategies within each seed, averaged), win/tie/loss against margin with
the Wilcoxon signed-rank p-value (paired over seeds), the fraction of the random→margin gap
(AUC_s − AUC_random) / (AUC_margin − AUC_random), and the mean AUC difference to random with its
Wilcoxon p-value (the issue's "never significantly worse than random"). Fashion-MNIST's pool is a
declared stratified 10,000-image subsample (POOL_SUBSAMPLE: CPU cost; ``--full-pool`` lifts it). Then the mean rank across datasets, and the
environment throughput (steps per second) with the proxy learner.

    python benchmarks/learned_transfer.py --quick                    # digits, 5 seeds, short budget
    python benchmarks/learned_transfer.py --datasets digits,mnist1d --seeds 20 --budget 120
    python benchmarks/learned_transfer.py                            # all held-out datasets, 20 seeds

Datasets that fail to load (e.g. MNIST not fetched: `activelab data fetch mnist`) are skipped
with the reason printed.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from activelab.learned.tasks import TRAIN_SOURCES

sys.path.insert(0, str(Path(__file__).resolve().parent))

#: Held-out evaluation datasets -> deployed model (registry names). Declared before training.
HELD_OUT = {
    "digits": "mlp",
    "mnist1d": "mlp",
    "mnist": "mlp",
    "fashion-mnist": "cnn",
    "newsgroups": "mlp",
}
#: Held-out datasets whose pool is replaced by a stratified subsample (test set unchanged), for
#: CPU cost only: the CNN's pass over a 60,000-image pool every round makes 20 seeds x 7
#: strategies take days on 2 cores. Declared before any evaluation run; ``--full-pool`` lifts it.
POOL_SUBSAMPLE = {"fashion-mnist": 10_000}
BASELINES = ("random", "margin", "entropy", "badge", "albl", "tailor")
TIE = 1e-9


def env_throughput(seconds: float = 20.0, seed: int = 0) -> tuple[float, int]:
    """Steps per second of ALEnv (pick mode, proxy learners, training task sampler), random valid actions."""
    from threadpoolctl import threadpool_limits

    from activelab.learned.env import ALEnv
    from activelab.learned.tasks import TaskSampler

    env = ALEnv("pick", sampler=TaskSampler(max_candidates=32, n_items=800), max_candidates=32)
    rng = np.random.default_rng(seed)
    steps = 0
    with threadpool_limits(1):
        env.reset(seed=seed)
        t = time.perf_counter()
        while time.perf_counter() - t < seconds:
            _, _, done, _, _ = env.step(int(rng.choice(np.flatnonzero(env.action_masks()))))
            steps += 1
            if done:
                env.reset(seed=int(rng.integers(1 << 31)))
        elapsed = time.perf_counter() - t
    return steps / elapsed, steps


def compare(rounds: pd.DataFrame, reference: str = "margin") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-(dataset, strategy) statistics and the per-seed AUC table.

    Returns ``(stats, auc)`` where ``auc`` has one row per (dataset, seed) and one column per
    strategy, and ``stats`` holds auc_mean, auc_std, mean_rank, win/tie/loss against
    ``reference``, the Wilcoxon p-value and the fraction of the random→reference gap.
    """
    from scipy.stats import wilcoxon

    auc = rounds.groupby(["dataset", "seed", "strategy"])["accuracy"].mean().unstack("strategy")
    rows = []
    for dataset, table in auc.groupby(level="dataset"):
        table = table.dropna(axis=1, how="all")
        ranks = table.rank(axis=1, ascending=False).mean()
        gap = table["margin"].mean() - table["random"].mean() if {"margin", "random"} <= set(table) else np.nan
        for strategy in table.columns:
            a = table[strategy]
            row = {
                "dataset": dataset, "strategy": strategy, "auc_mean": a.mean(), "auc_std": a.std(ddof=1),
                "mean_rank": ranks[strategy], "n_seeds": int(a.notna().sum()),
            }
            if reference in table and strategy != reference:
                d = (a - table[reference]).to_numpy()
                row.update(win=int((d > TIE).sum()), tie=int((np.abs(d) <= TIE).sum()), loss=int((d < -TIE).sum()))
                row["wilcoxon_p"] = float(wilcoxon(d).pvalue) if np.any(np.abs(d) > TIE) else 1.0
            if "random" in table and strategy != "random":
                d = (a - table["random"]).to_numpy()
                row["delta_vs_random"] = float(d.mean())
                row["p_vs_random"] = float(wilcoxon(d).pvalue) if np.any(np.abs(d) > TIE) else 1.0
            if gap == gap and gap != 0:
                row["gap_fraction"] = (a.mean() - table["random"].mean()) / gap
            rows.append(row)
    return pd.DataFrame(rows), auc


def _markdown(stats: pd.DataFrame) -> str:
    lines = [
        "| dataset | strategy | AUC mean ± std | mean rank | W/T/L vs margin | Wilcoxon p | gap fraction | Δ vs random (p) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for _, r in stats.sort_values(["dataset", "auc_mean"], ascending=[True, False]).iterrows():
        wtl = "—" if pd.isna(r.get("win")) else f"{int(r['win'])}/{int(r['tie'])}/{int(r['loss'])}"
        p = "—" if pd.isna(r.get("wilcoxon_p")) else f"{r['wilcoxon_p']:.3g}"
        g = "—" if pd.isna(r.get("gap_fraction")) else f"{r['gap_fraction']:+.2f}"
        vr = "—" if pd.isna(r.get("p_vs_random")) else f"{r['delta_vs_random']:+.4f} ({r['p_vs_random']:.3g})"
        lines.append(
            f"| {r['dataset']} | {r['strategy']} | {r['auc_mean']:.4f} ± {r['auc_std']:.4f} | {r['mean_rank']:.2f} | {wtl} | {p} | {g} | {vr} |"
        )
    return "\n".join(lines)


def main() -> None:
    from activelab.data import load_dataset
    from activelab.experiments import RunConfig, run_experiments
    from label_efficiency import subsample  # the sibling script: stratified pool subsample as .npz
    from activelab.strategies import STRATEGIES, make

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=",".join(HELD_OUT), help="held-out datasets (subset of HELD_OUT)")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--initial", type=int, default=20)
    parser.add_argument("--query-size", type=int, default=10)
    parser.add_argument("--budget", type=int, default=320)
    parser.add_argument("--epochs", type=int, default=None,
                        help="override the epochs of the MLP datasets (the CNN keeps its default: 30 epochs, batch 64)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--policy", default=None, help="policy file (default: the shipped one)")
    parser.add_argument("--label", default="policy", help="name of the policy in the tables (e.g. for ablations)")
    parser.add_argument("--strategies", default=None, help="override the baselines (comma-separated)")
    parser.add_argument("--full-pool", action="store_true", help="do not subsample the pools listed in POOL_SUBSAMPLE")
    parser.add_argument("--quick", action="store_true", help="digits only, 5 seeds, budget 120, 30 epochs")
    parser.add_argument("--throughput-seconds", type=float, default=20.0)
    parser.add_argument("--out", type=Path, default=Path("learned-transfer-out"))
    args = parser.parse_args()
    if args.quick:
        args.datasets, args.seeds, args.budget, args.epochs = "digits", 5, 120, args.epochs or 30

    options = {"policy": {"path": str(Path(args.policy).resolve())}} if args.policy is not None else {}
    policy = make("policy", **options.get("policy", {}))
    meta = policy.metadata
    print(f"training sources (declared): {', '.join(TRAIN_SOURCES)}; policy trained on {meta.get('config', {}).get('sources')}")
    print(f"policy file: {policy.policy_path}\n  reproduce: {meta.get('reproduce')}\n  train seconds: {meta.get('train_seconds')}")
    baselines = tuple(args.strategies.split(",")) if args.strategies else BASELINES
    present = [s for s in baselines if s in STRATEGIES]
    missing = [s for s in baselines if s not in STRATEGIES]
    if missing:
        print(f"baselines not in the registry (skipped): {', '.join(missing)}")
    strategies = ("policy", *present)

    frames = []
    for name in args.datasets.split(","):
        name = name.strip()
        if name not in HELD_OUT:
            print(f"skip {name}: not a declared held-out dataset ({', '.join(HELD_OUT)})")
            continue
        try:
            load_dataset(name)
        except Exception as err:  # noqa: BLE001 - any loading failure skips the dataset with its reason
            print(f"skip {name}: {type(err).__name__}: {err}")
            continue
        source = name
        if name in POOL_SUBSAMPLE and not args.full_pool:
            source = str(subsample(name, POOL_SUBSAMPLE[name], args.out / "data"))
            print(f"{name}: pool replaced by a stratified {POOL_SUBSAMPLE[name]:,}-item subsample (declared; test set unchanged)")
        config = RunConfig(
            (source,), strategies, models=(HELD_OUT[name],), seeds=args.seeds, initial=args.initial,
            query_size=args.query_size, budget=args.budget,
            epochs=args.epochs if HELD_OUT[name] == "mlp" else None, workers=args.workers,
            strategy_options=options, out=args.out / name,
        )
        t = time.perf_counter()
        frames.append(run_experiments(config, progress=False))
        print(f"{name} ({HELD_OUT[name]}): {len(strategies)} strategies x {args.seeds} seeds in {time.perf_counter() - t:.0f} s")
    if not frames:
        print("no dataset ran.")
        return
    rounds = pd.concat(frames, ignore_index=True)
    rounds["strategy"] = rounds["strategy"].replace({"policy": args.label})
    stats, auc = compare(rounds)
    print(
        f"\nProtocol: initial {args.initial}, query size {args.query_size}, budget {args.budget}, "
        f"epochs {args.epochs or 'model default'} (MLP; CNN: model default), {args.seeds} paired seeds; AUC = mean test accuracy over rounds.\n"
    )
    print(_markdown(stats))
    overall = stats.groupby("strategy")["mean_rank"].mean().sort_values()
    print("\nMean rank across datasets: " + ", ".join(f"{s} {r:.2f}" for s, r in overall.items()))
    args.out.mkdir(parents=True, exist_ok=True)
    stats.to_csv(args.out / "stats.csv", index=False)
    auc.to_csv(args.out / "auc_per_seed.csv")
    if args.throughput_seconds > 0:
        sps, steps = env_throughput(args.throughput_seconds)
        print(f"\nALEnv throughput (pick mode, proxy learners, 1 process, 1 thread): {sps:.1f} steps/s ({steps} steps)")


if __name__ == "__main__":
    main()
