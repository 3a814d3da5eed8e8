"""``activelab run`` and ``activelab demo``: strategy comparisons over paired seeds."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ..experiments.config import RunConfig
from .common import command_from_config, print_table, print_written, user_errors

if TYPE_CHECKING:
    import pandas as pd
    from rich.console import JustifyMethod

__all__ = ["DEMO_STRATEGIES", "demo", "print_summary", "run", "run_config"]

#: Protocol of ``activelab demo`` (the reference protocol on digits).
DEMO_STRATEGIES = ("random", "margin", "entropy", "bald", "badge", "coreset")


def _fmt(mean: float, std: float) -> str:
    return f"{mean:.4f} ± {std:.4f}"


def _labels(value: float) -> str:
    return "-" if value != value else f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"


def _stopped(row: Any) -> str:
    n = int(row.get("n_stopped_early", 0) or 0)
    reasons = row.get("stop_reasons")
    return "-" if n == 0 else f"{n} ({reasons})" if isinstance(reasons, str) and reasons else str(n)


def print_summary(summary: pd.DataFrame, out: Path) -> None:
    """The summary as a table (best AUC of each dataset/model in bold), then the paths.

    ``labels`` is the mean number of labels reached; ``stopped early`` counts the seeds a
    stopping criterion ended before the budget, with the criteria.
    """
    best = summary.groupby(["dataset", "model"], sort=False)["auc_mean"].transform("max")
    top = ((summary["auc_mean"] == best) & (len(summary) > 1)).tolist()
    rows = [
        (str(r["dataset"]), str(r["model"]), str(r["strategy"]), _fmt(r["auc_mean"], r["auc_std"]),
         _fmt(r["final_accuracy_mean"], r["final_accuracy_std"]), _labels(r.get("labels_mean", float("nan"))),
         str(int(r["n_seeds"])), _stopped(r), f"{r['seconds_per_round']:.3f}")
        for _, r in summary.iterrows()
    ]
    columns: list[tuple[str, JustifyMethod]] = [
        ("dataset", "left"), ("model", "left"), ("strategy", "left"), ("AUC mean ± std", "right"),
        ("final acc ± std", "right"), ("labels", "right"), ("seeds", "right"), ("stopped early", "left"),
        ("s/round", "right"),
    ]
    print_table("Test accuracy over seeds (AUC = mean over rounds)", columns, rows, top)
    print_written(out)


def run_config(config: RunConfig, extras: dict[str, Any] | None = None) -> None:
    """Run the grid of ``config`` (errors of names, data and budget come before any job) and print the summary."""
    from ..experiments import run_experiments, summarise

    with user_errors():
        rounds = run_experiments(config, progress=True)
    print_summary(summarise(rounds), config.out)


run = command_from_config(
    RunConfig, run_config,
    doc="Compare strategies on datasets and models over paired seeds; write rounds, summary and curves.",
)


def demo(out: Annotated[Path, typer.Option(help="Output directory.")] = Path("demo-out")) -> None:
    """Digits, six strategies, 3 seeds, the reference protocol (20 + 10/round to 320), 2 workers."""
    with user_errors(validation=True):
        config = RunConfig(("digits",), DEMO_STRATEGIES, models=("mlp",), seeds=3, initial=20, query_size=10,
                           budget=320, workers=2, out=out)
    run_config(config)
