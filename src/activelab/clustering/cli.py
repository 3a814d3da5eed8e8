"""``activelab cluster``: compare pair strategies for active correlation clustering."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

__all__ = ["cluster_command"]


def cluster_command(
    dataset: Annotated[str, typer.Option(help="Dataset name(s) or .npz/.csv file(s), comma-separated (also blobs10).")],
    strategy: Annotated[str, typer.Option(help="Pair strategies, comma-separated, e.g. uniform,maxmin,maxexp,eig.")],
    out: Annotated[Path, typer.Option(help="Output directory (rerunning into it resumes).")],
    noise: Annotated[float, typer.Option(help="Oracle noise gamma in [0, 1).")] = 0.2,
    batch: Annotated[int, typer.Option(help="Pairs asked per round.")] = 125,
    init: Annotated[str, typer.Option(help="Prior of unqueried pairs: kmeans, random, zeros or features.")] = "kmeans",
    budget_fraction: Annotated[float, typer.Option(help="Answers to acquire, as a fraction of all pairs.")] = 0.2,
    seeds: Annotated[int, typer.Option(help="Number of seeds (0..N-1), paired across strategies.")] = 3,
    n_items: Annotated[int, typer.Option(help="Items subsampled per dataset (0 = all).")] = 500,
    tau: Annotated[int, typer.Option(help="Answers allowed per pair.")] = 3,
    beta: Annotated[float, typer.Option(help="Mean-field inverse temperature (entropy, eig, batch_ig).")] = 1.0,
    workers: Annotated[int, typer.Option(help="Parallel worker processes.")] = 1,
) -> None:
    """Active clustering with pair queries; writes rounds.csv, summary.csv and curves.png into OUT."""
    from rich.console import Console

    from ..cli import _console, _split, _user_errors
    from .runner import ClusterRunConfig, run_clustering

    with _user_errors(validation=True):
        config = ClusterRunConfig(
            _split("--dataset", dataset), _split("--strategy", strategy), noise=noise, batch=batch, init=init,
            budget_fraction=budget_fraction, seeds=seeds, n_items=n_items or None, tau=tau, beta=beta,
            workers=workers, out=out,
        )
    err = Console(stderr=True)
    with _user_errors():
        rounds = run_clustering(config, progress=lambda msg: err.print(msg, highlight=False))
    from .runner import summarise_clustering

    summary = summarise_clustering(rounds)
    console = _console()
    cols = ["dataset", "strategy", "ari_auc_mean", "final_ari_mean", "ari@2%", "ari@5%", "ari@10%", "ari@20%", "n_seeds"]
    console.print(summary[cols].round(3).to_string(index=False), highlight=False)
    console.print("wrote:", highlight=False)
    for name in ("rounds.csv", "summary.csv", "curves.png", "jobs/"):
        console.print(f"  {config.out / name}", highlight=False)
