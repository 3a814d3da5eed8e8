"""Label efficiency on the digits reference protocol, every registered strategy.

Protocol (issue 2): stratified 1/3 test split, 20 random initial labels, query size 10,
30 rounds (320 labels), MLP 64-128-10 with dropout 0.25 before the output layer, Adam lr 1e-2,
100 full-batch epochs, retrained from scratch every round, 5 paired seeds;
AUC = mean test accuracy over the 31 points of the learning curve.

Prints a markdown table (AUC mean ± std, final accuracy, seconds per round split into fit,
inference and selection) and writes rounds.csv / summary.csv / curves.png into --out.

    python benchmarks/label_efficiency.py                       # all strategies, 5 seeds
    python benchmarks/label_efficiency.py --strategies random,margin --seeds 2
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

from activelab.experiments import RunConfig, run_experiments, summarise
from activelab.strategies import STRATEGIES


def plain_torch_round(n_labelled: int = 170, repeats: int = 5) -> float:
    """Median seconds of one margin round written as a bare torch loop (no framework).

    Same network and optimiser as the protocol (64-128-10, dropout 0.25, Adam lr 1e-2, 100
    full-batch epochs), one thread, on ``n_labelled`` digits (the protocol's mean labelled-set
    size), then probabilities on the rest of the pool, test accuracy and a top-10 by margin.
    This is the yardstick for the framework's overhead on the same machine and run.
    """
    import numpy as np
    import torch
    from sklearn.datasets import load_digits
    from torch import nn

    X, y = load_digits(return_X_y=True)
    X = torch.from_numpy((X / 16).astype(np.float32))
    y = torch.from_numpy(y)
    lab, pool, test = X[:n_labelled], X[n_labelled:1198], X[1198:]
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    times = []
    try:
        for r in range(repeats):
            torch.manual_seed(r)
            t = time.perf_counter()
            net = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.25), nn.Linear(128, 10))
            opt = torch.optim.Adam(net.parameters(), lr=1e-2)
            for _ in range(100):
                opt.zero_grad()
                nn.functional.cross_entropy(net(lab), y[:n_labelled]).backward()
                opt.step()
            net.eval()
            with torch.no_grad():
                p = torch.softmax(net(pool), 1)
                (net(test).argmax(1) == y[1198:]).float().mean()
            top2 = p.topk(2, 1).values
            (top2[:, 0] - top2[:, 1]).argsort()[:10]
            times.append(time.perf_counter() - t)
    finally:
        torch.set_num_threads(before)
    return float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="digits")
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--model", default="mlp")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--initial", type=int, default=20)
    parser.add_argument("--query-size", type=int, default=10)
    parser.add_argument("--budget", type=int, default=320)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--update", default=None, help="retrain (default), warm_start or finetune")
    parser.add_argument("--out", type=Path, default=Path("out/label_efficiency"))
    args = parser.parse_args()

    config = RunConfig(
        datasets=(args.dataset,),
        strategies=tuple(s for s in args.strategies.split(",") if s),
        models=(args.model,),
        seeds=args.seeds,
        initial=args.initial,
        query_size=args.query_size,
        budget=args.budget,
        workers=args.workers,
        update=args.update,
        out=args.out,
    )
    start = time.perf_counter()
    rounds = run_experiments(config, progress=False)
    wall = time.perf_counter() - start
    summary = summarise(rounds).sort_values("auc_mean", ascending=False)
    phases = ["seconds_fit", "seconds_evaluate", "seconds_infer", "seconds_select"]
    per_round = rounds.groupby("strategy")[phases].mean()

    print(f"dataset={args.dataset} model={args.model} update={args.update or 'retrain'} seeds={args.seeds} "
          f"initial={args.initial} query={args.query_size} budget={args.budget} workers={args.workers}")
    print(f"machine: {platform.processor() or platform.machine()}, wall time {wall:.0f} s")
    print(f"bare torch loop, one margin round (same network, 170 labels): {plain_torch_round():.3f} s\n")
    print("| strategy | AUC mean ± std | final accuracy | s/round total | fit | evaluate | infer | select |")
    print("|---|---|---|---|---|---|---|---|")
    for row in summary.itertuples():
        t = per_round.loc[row.strategy]
        print(
            f"| {row.strategy} | {row.auc_mean:.4f} ± {row.auc_std:.4f} | {row.final_accuracy_mean:.4f} | "
            f"{t.sum():.3f} | {t.seconds_fit:.3f} | {t.seconds_evaluate:.3f} | {t.seconds_infer:.3f} | "
            f"{t.seconds_select:.4f} |"
        )


if __name__ == "__main__":
    main()
