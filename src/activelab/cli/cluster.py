"""``activelab cluster``: compare pair strategies for active correlation clustering."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..clustering.runner import ClusterRunConfig
from .common import command_from_config, print_table, print_written, user_errors

if TYPE_CHECKING:
    from rich.console import JustifyMethod

__all__ = ["cluster"]


def _cluster(config: ClusterRunConfig, extras: dict[str, Any]) -> None:
    from ..clustering.runner import run_clustering, summarise_clustering

    with user_errors():
        rounds = run_clustering(config, progress=True)
    summary = summarise_clustering(rounds)
    best = summary.groupby("dataset", sort=False)["ari_auc_mean"].transform("max")
    top = ((summary["ari_auc_mean"] == best) & (len(summary) > 1)).tolist()
    at = ["ari@2%", "ari@5%", "ari@10%", "ari@20%"]
    rows = [
        (str(r["dataset"]), str(r["strategy"]), f"{r['ari_auc_mean']:.4f} ± {r['ari_auc_std']:.4f}",
         f"{r['final_ari_mean']:.4f} ± {r['final_ari_std']:.4f}", *(f"{r[c]:.3f}" for c in at), str(int(r["n_seeds"])))
        for _, r in summary.iterrows()
    ]
    columns: list[tuple[str, JustifyMethod]] = [
        ("dataset", "left"), ("strategy", "left"), ("mean ARI ± std", "right"), ("final ARI ± std", "right"),
        *((c, "right") for c in at), ("seeds", "right"),
    ]
    print_table("Adjusted Rand index over seeds (mean over rounds; at 2-20 % of the pairs queried)", columns, rows, top)
    print_written(config.out)


cluster = command_from_config(
    ClusterRunConfig, _cluster,
    doc="Active clustering with pair queries; writes rounds.csv, summary.csv and curves.png into OUT.",
)
