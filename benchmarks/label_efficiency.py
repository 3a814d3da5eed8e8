"""Label efficiency on the digits reference protocol, every registered strategy.

Protocol (issue 2): stratified 1/3 test split, 20 random initial labels, query size 10,
30 rounds (320 labels), MLP 64-128-10 with dropout 0.25 before the output layer, Adam lr 1e-2,
100 full-batch epochs, retrained from scratch every round, 5 paired seeds;
AUC = mean test accuracy over the 31 points of the learning curve.

Prints a markdown table (AUC mean ± std, final accuracy, seconds per round split into fit,
inference and selection) and writes rounds.csv / summary.csv / curves.png into --out.

    python benchmarks/label_efficiency.py                       # all strategies, 5 seeds
    python benchmarks/label_efficiency.py --strategies random,margin --seeds 2
    python benchmarks/label_efficiency.py --protocol mnist --strategies random,margin,badge --pool-subsample 5000

Protocols (``--protocol``; explicit flags override them):

* ``digits`` (default): the issue-2 reference protocol above.
* ``mnist``: the issue-3 MNIST protocol: model ``cnn``, 20 initial labels, 20 per round,
  25 rounds (520 labels), on the fetched MNIST (10,000-image test set).
* ``lowbudget``: no initial labels, 10 per round, 10 rounds (100 labels), the first batch
  chosen by ``--initial-strategy`` (default: the strategy itself when it is a cold-start one).

``--pool-subsample N`` replaces the pool by a seeded, stratified subsample of N items (written
as an ``.npz`` next to the results, test split unchanged), for CPU-sized runs of big datasets.
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import pandas as pd

from activelab.errors import CapabilityError
from activelab.experiments import RunConfig, run_experiments, summarise
from activelab.models.base import check_capabilities
from activelab.models.registry import MODELS, make_model
from activelab.strategies import STRATEGIES, make


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


PROTOCOLS: dict[str, dict[str, object]] = {
    "digits": {"dataset": "digits", "model": "mlp", "initial": 20, "query_size": 10, "budget": 320},
    "mnist": {"dataset": "mnist", "model": "cnn", "initial": 20, "query_size": 20, "budget": 520},
    "lowbudget": {"dataset": "digits", "model": "mlp", "initial": 0, "query_size": 10, "budget": 100},
}


def subsample(dataset: str, n_items: int, out: Path) -> Path:
    """Write a stratified, seeded subsample of ``dataset``'s pool (test split kept) as ``.npz``."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    from activelab.data import load_dataset, with_test_split

    ds = with_test_split(load_dataset(dataset), 0)
    if not 0 < n_items < len(ds.y):
        raise SystemExit(f"--pool-subsample must be in (0, {len(ds.y)}), got {n_items}")
    keep, _ = train_test_split(np.arange(len(ds.y)), train_size=n_items, stratify=ds.y, random_state=0)
    keep = np.sort(keep)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{dataset}-pool{n_items}.npz"
    if not path.exists():
        np.savez(path, X=ds.X[keep], y=ds.y[keep], X_test=ds.X_test, y_test=ds.y_test)
    return path


def model_groups(model: str, strategies: list[str]) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Which model runs which strategy: ``model`` where it can feed the strategy, else the first
    registered variant of it that can (``mlp_lossnet`` for ``learning_loss`` under ``mlp``).

    Returns ``({model: [strategies]}, {strategy: why it is skipped})``; a strategy that no
    variant of ``model`` can feed is skipped with the capability error as the reason.
    """
    variants = {m: make_model(m, 2) for m in [model] + [m for m in MODELS if m.startswith(f"{model}_")]}
    groups: dict[str, list[str]] = {}
    skipped: dict[str, str] = {}
    for name in strategies:
        needs = make(name).needs
        reason = ""
        for candidate, instance in variants.items():
            try:
                check_capabilities(instance, needs, name)
            except CapabilityError as err:
                reason = reason or str(err)
                continue
            groups.setdefault(candidate, []).append(name)
            break
        else:
            skipped[name] = reason
    return groups, skipped


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--protocol", choices=sorted(PROTOCOLS), default="digits")
    parser.add_argument("--dataset", default=None)
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--model", default=None)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--initial", type=int, default=None)
    parser.add_argument("--query-size", type=int, default=None)
    parser.add_argument("--budget", type=int, default=None)
    parser.add_argument("--initial-strategy", default=None, help="random (default), kmeans, typiclust, probcover")
    parser.add_argument("--epochs", type=int, default=None, help="override the model's epochs per fit")
    parser.add_argument("--pool-subsample", type=int, default=None, help="stratified pool subsample of N items")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--update", default=None, help="retrain (default), warm_start or finetune")
    parser.add_argument("--out", type=Path, default=Path("out/label_efficiency"))
    args = parser.parse_args()
    for key, value in PROTOCOLS[args.protocol].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    dataset = args.dataset
    if args.pool_subsample is not None:
        dataset = str(subsample(args.dataset, args.pool_subsample, args.out))

    groups, skipped = model_groups(args.model, [s for s in args.strategies.split(",") if s])
    start = time.perf_counter()
    parts = []
    for model, names in groups.items():
        config = RunConfig(
            datasets=(dataset,),
            strategies=tuple(names),
            models=(model,),
            seeds=args.seeds,
            initial=args.initial,
            query_size=args.query_size,
            budget=args.budget,
            epochs=args.epochs,
            workers=args.workers,
            update=args.update,
            initial_strategy=args.initial_strategy or "random",
            # the main model's results where they always were; a variant's in a subfolder
            out=args.out if model == args.model else args.out / f"model-{model}",
        )
        parts.append(run_experiments(config, progress=False))
    wall = time.perf_counter() - start
    if not parts:
        raise SystemExit(f"no strategy can run with model {args.model!r}: {skipped}")
    rounds = pd.concat(parts, ignore_index=True)
    summary = summarise(rounds).sort_values("auc_mean", ascending=False)
    phases = ["seconds_fit", "seconds_evaluate", "seconds_infer", "seconds_select"]
    per_round = rounds.groupby("strategy")[phases].mean()

    print(f"protocol={args.protocol} dataset={args.dataset}"
          f"{'' if args.pool_subsample is None else f' (pool subsample {args.pool_subsample})'} "
          f"initial_strategy={args.initial_strategy or 'random'} epochs={args.epochs or 'model default'}")
    print(f"dataset={args.dataset} model={args.model} update={args.update or 'retrain'} seeds={args.seeds} "
          f"initial={args.initial} query={args.query_size} budget={args.budget} workers={args.workers}")
    print(f"machine: {platform.processor() or platform.machine()}, wall time {wall:.0f} s")
    if args.protocol == "digits" and args.model == "mlp":
        print(f"bare torch loop, one margin round (same network, 170 labels): {plain_torch_round():.3f} s")
    for model, names in groups.items():
        if model != args.model:
            print(f"model {model} (a variant of {args.model}) runs: {', '.join(names)}")
    for name, reason in skipped.items():
        print(f"skipped {name}: {reason}")
    print()
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
