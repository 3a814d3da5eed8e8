"""Learning-curve plots: mean test accuracy against labelled items, with a ±std band over seeds.

Figures are drawn with matplotlib's object API on the Agg canvas (no ``pyplot``, no global
backend switch), so plotting works headless and leaves the caller's matplotlib state alone.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["plot_curves"]

_REQUIRED = ("dataset", "strategy", "model", "seed", "round", "n_labelled", "accuracy")
# Legend entries per column when the legend sits beside the panel.
_LEGEND_ROWS = 18


def _curve_stats(group: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n_labelled, mean accuracy, std accuracy) per round over the seeds of one strategy."""
    by_round = group.groupby("round", sort=True)
    x = by_round["n_labelled"].mean().to_numpy(dtype=np.float64)
    mean = by_round["accuracy"].mean().to_numpy(dtype=np.float64)
    counts = by_round["accuracy"].count().to_numpy()
    std = by_round["accuracy"].std(ddof=1).to_numpy(dtype=np.float64)
    std = np.where(counts > 1, std, 0.0)
    return x, mean, std


def plot_curves(rounds: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Draw one panel per (dataset, model) with one mean line and ±std band per strategy.

    The legend gives each strategy's AUC (mean accuracy over the rounds of the mean curve,
    which equals the mean over seeds of the per-seed AUC), best first. Up to 10 strategies it
    sits inside the panel; with more it takes columns beside the panel, and strategies beyond
    the palette's 20 colours differ by line style too.

    Args:
        rounds: Tidy results with the columns ``dataset, strategy, model, seed, round,
            n_labelled, accuracy`` (the ``rounds.csv`` of :func:`run_experiments`).
        path: Output image; the format follows the extension (``.png`` recommended). It is
            written under a temporary name and renamed, so a reader never sees half a file.

    Returns:
        The path written.

    Raises:
        ValueError: If a required column is missing or ``rounds`` is empty.
    """
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    if not isinstance(rounds, pd.DataFrame):
        raise TypeError(f"rounds must be a pandas DataFrame, got {type(rounds).__name__}.")
    missing = [c for c in _REQUIRED if c not in rounds.columns]
    if missing:
        raise ValueError(f"rounds is missing the columns {missing}; plot_curves needs {list(_REQUIRED)}.")
    if rounds.empty:
        raise ValueError("rounds is empty; there is nothing to plot.")
    path = Path(path)

    panels = list(dict.fromkeys(zip(rounds["dataset"], rounds["model"], strict=True)))
    strategies = list(dict.fromkeys(rounds["strategy"]))
    cmap = colormaps["tab10" if len(strategies) <= 10 else "tab20"]
    # Past the palette's colours, the line style tells strategies of the same colour apart.
    styles = ("-", "--", ":", "-.")
    looks = {s: (cmap(i % cmap.N), styles[(i // cmap.N) % len(styles)]) for i, s in enumerate(strategies)}
    # Up to 10 strategies the legend fits inside the panel; more go in columns to its right.
    outside = len(strategies) > 10
    legend_cols = math.ceil(len(strategies) / _LEGEND_ROWS) if outside else 1

    ncols = min(3, len(panels))
    nrows = math.ceil(len(panels) / ncols)
    panel_width = 6.4 + (2.6 * legend_cols if outside else 0.0)
    panel_height = max(4.6, 0.19 * min(len(strategies), _LEGEND_ROWS) + 0.8) if outside else 4.6
    fig = Figure(figsize=(panel_width * ncols, panel_height * nrows), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    for ax, (dataset, model) in zip(axes.flat, panels, strict=False):  # the grid may have spare (hidden) axes
        panel = rounds[(rounds["dataset"] == dataset) & (rounds["model"] == model)]
        n_seeds = panel["seed"].nunique()
        lines = []
        for strategy, group in panel.groupby("strategy", sort=False):
            x, mean, std = _curve_stats(group)
            colour, style = looks[strategy]
            auc = float(mean.mean())
            (line,) = ax.plot(x, mean, color=colour, linestyle=style, linewidth=1.6, label=f"{strategy} (AUC {auc:.3f})")
            lines.append((auc, line))
            if n_seeds > 1:
                ax.fill_between(x, mean - std, mean + std, color=colour, alpha=0.18, linewidth=0)
        band = f", band = ±1 std over {n_seeds} seeds" if n_seeds > 1 else ", 1 seed"
        ax.set_title(f"{dataset} · {model}{band}", fontsize=10)
        ax.set_xlabel("labelled items")
        ax.set_ylabel("test accuracy")
        ax.grid(True, alpha=0.3)
        # legend entries best AUC first (a stable sort keeps ties in input order)
        handles = [line for _, line in sorted(lines, key=lambda t: -t[0])]
        if outside:
            ax.legend(
                handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), ncols=legend_cols,
                fontsize=7, title="strategy (best AUC first)", title_fontsize=8,
            )
        else:
            ax.legend(handles=handles, loc="lower right", fontsize=8, title="strategy", title_fontsize=8)

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fig.savefig(tmp, dpi=120, format=path.suffix.lstrip(".") or "png")
    os.replace(tmp, path)
    return path
