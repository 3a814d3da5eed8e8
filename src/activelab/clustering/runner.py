"""Grid of active-clustering runs (datasets × strategies × seeds), resumable, with tidy outputs.

Each job is one :class:`~.learner.ActiveClusterer` run; seed ``s`` fixes the subsample of items,
the initial partition and the oracle's noise draws per round, so strategies with the same seed
are paired. Finished jobs go to ``OUT/jobs/<dataset>__<strategy>__seed<k>.csv`` (atomic);
rerunning into the same ``OUT`` skips them. ``OUT/rounds.csv`` has one row per
(dataset, strategy, seed, round) with ``n_queries, fraction_queried, ari, ami``;
``OUT/summary.csv`` one row per (dataset, strategy); ``OUT/curves.png`` ARI against the
fraction of pairs queried.
"""

from __future__ import annotations

import json
import multiprocessing
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._registry import lookup
from ..engine import stream_rng
from ..errors import ActiveLabError
from .learner import ActiveClusterer
from .oracle import NoisyPairOracle
from .store import LowRankPrior, feature_prior, n_pairs, partition_prior, zero_prior
from .strategies import PAIR_STRATEGIES, make_pair_strategy

__all__ = ["INITS", "ClusterRunConfig", "load_items", "make_prior", "run_clustering", "summarise_clustering"]

#: ``--init`` choices: how unqueried pairs are initialised.
INITS = {
    "kmeans": "±0.1 from a k-means partition of the features (k = number of classes).",
    "random": "±0.1 from a random partition into 10 clusters.",
    "zeros": "0 for every unqueried pair.",
    "features": "0.1 × cosine of the centred features.",
}
#: Fractions of all pairs at which the summary reports ARI.
FRACTIONS = (0.02, 0.05, 0.10, 0.20)
_CONFIG_FILE = "config.json"
_PROTOCOL = ("noise", "batch", "init", "budget_fraction", "n_items", "tau", "beta")
# Settings added after the first config files were written, with the value those runs used.
_PROTOCOL_DEFAULTS = {"beta": 1.0}


class ClusterConfigError(ActiveLabError, ValueError):
    """An active-clustering configuration is invalid."""


@dataclass(frozen=True)
class ClusterRunConfig:
    """Settings of :func:`run_clustering` (the flags of ``activelab cluster``).

    Attributes:
        datasets: Dataset names (``activelab list datasets``, plus ``blobs10``: 10 Gaussian
            clusters in 10 dimensions) or ``.npz``/``.csv`` files; labels are the true partition.
        strategies: Pair strategy names (``uniform, frequency, uncertainty, maxmin, maxexp,
            entropy, eig, batch_ig``).
        noise: Oracle noise ``gamma`` in ``[0, 1)``.
        batch: Pairs per round.
        init: One of :data:`INITS`.
        budget_fraction: Answers to acquire, as a fraction of all ``N (N-1)/2`` pairs, in ``(0, tau]``.
        seeds: Number of seeds (``0 .. seeds-1``).
        n_items: Items subsampled per dataset (``None`` = all).
        tau: Answers allowed per pair.
        beta: Mean-field inverse temperature of ``entropy``, ``eig`` and ``batch_ig`` (see
            :class:`~activelab.clustering.ActiveClusterer`).
        workers: Parallel processes.
        out: Output directory.
    """

    datasets: tuple[str, ...]
    strategies: tuple[str, ...]
    noise: float = 0.2
    batch: int = 125
    init: str = "kmeans"
    budget_fraction: float = 0.2
    seeds: int = 3
    n_items: int | None = 500
    tau: int = 3
    beta: float = 1.0
    workers: int = 1
    out: Path = field(default=Path("cluster-out"), kw_only=True)

    def __post_init__(self) -> None:
        for name in ("datasets", "strategies"):
            value = getattr(self, name)
            value = (value,) if isinstance(value, str) else tuple(value)
            if not value or not all(isinstance(v, str) and v.strip() for v in value):
                raise ClusterConfigError(f"{name} must be a non-empty list of names, got {value!r}.")
            if len(set(value)) != len(value):
                raise ClusterConfigError(f"{name} lists a name more than once: {value!r}.")
            object.__setattr__(self, name, tuple(v.strip() for v in value))
        for s in self.strategies:
            lookup("pair strategy", s, PAIR_STRATEGIES)
        lookup("init", self.init, INITS)
        if isinstance(self.beta, bool) or not isinstance(self.beta, (int, float)) or not 0 < self.beta < float("inf"):
            raise ClusterConfigError(f"beta (--beta) must be a positive finite inverse temperature, got {self.beta!r}.")
        if not isinstance(self.noise, (int, float)) or not 0.0 <= float(self.noise) < 1.0:
            raise ClusterConfigError(f"noise (--noise) must lie in [0, 1), got {self.noise!r}.")
        for name, lo in (("batch", 1), ("seeds", 1), ("tau", 1), ("workers", 1)):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < lo:
                raise ClusterConfigError(f"{name} (--{name}) must be an int >= {lo}, got {v!r}.")
        if self.n_items is not None and (not isinstance(self.n_items, (int, np.integer)) or self.n_items < 3):
            raise ClusterConfigError(f"n_items (--n-items) must be an int >= 3 or None, got {self.n_items!r}.")
        if not isinstance(self.budget_fraction, (int, float)) or not 0 < self.budget_fraction <= self.tau:
            raise ClusterConfigError(
                f"budget_fraction (--budget-fraction) must lie in (0, tau={self.tau}], got {self.budget_fraction!r}."
            )
        object.__setattr__(self, "out", Path(self.out).expanduser())


def load_items(name: str, seed: int, n_items: int | None) -> tuple[np.ndarray, np.ndarray, str]:
    """Features ``(N, d)`` float32, true partition ``(N,)`` and a label for ``name``.

    ``n_items`` items are drawn at random (seeded) from the pool and, if the dataset has one,
    its test split. ``blobs10`` is generated directly with ``n_items`` items.

    Raises:
        ClusterConfigError: If the dataset has fewer than 3 items or fewer than ``n_items``.
    """
    from ..data import load_dataset
    from ..data.builtin import load_blobs

    if name == "blobs10":
        ds = load_blobs(n_items=n_items or 500, n_features=10, n_classes=10, seed=seed)
        return ds.X.reshape(len(ds.X), -1).astype(np.float32), ds.y, "blobs10"
    ds = load_dataset(name, seed=seed)
    X, y = ds.X, ds.y
    if ds.X_test is not None:
        X = np.concatenate([np.asarray(X), np.asarray(ds.X_test)])
        y = np.concatenate([y, ds.y_test])
    total = len(X)
    if total < 3:
        raise ClusterConfigError(f"dataset {name!r} has {total} items; active clustering needs at least 3.")
    if n_items is not None:
        if n_items > total:
            raise ClusterConfigError(f"dataset {name!r} has {total} items but --n-items is {n_items}; lower it.")
        idx = np.sort(stream_rng(seed, "subsample").choice(total, size=n_items, replace=False))
        X, y = np.asarray(X[idx]), y[idx]
    X = np.asarray(X, dtype=np.float32).reshape(len(X), -1)
    label = ds.name if name == ds.name else Path(name).stem
    return X, np.asarray(y, dtype=np.int64), label


def make_prior(init: str, X: np.ndarray, n_clusters: int, rng: np.random.Generator) -> tuple[LowRankPrior, np.ndarray | None]:
    """The prior of ``--init`` and the warm start of the first clustering (or ``None``)."""
    lookup("init", init, INITS)
    n = len(X)
    if init == "zeros":
        return zero_prior(n), None
    if init == "features":
        return feature_prior(X, 0.1), None
    if init == "random":
        labels = rng.integers(0, min(10, n), size=n)
    else:
        from ..neighbors import kmeans

        labels, _ = kmeans(X, min(n_clusters, n), rng=rng, n_init=3)
    labels = np.asarray(labels, dtype=np.int64)
    return partition_prior(labels, 0.1), labels


def _job_path(out: Path, dataset: str, strategy: str, seed: int) -> Path:
    return out / "jobs" / f"{dataset}__{strategy}__seed{seed}.csv"


def run_job(config: ClusterRunConfig, dataset: str, strategy: str, seed: int) -> pd.DataFrame:
    """Run one (dataset, strategy, seed) job and return its rounds (also written to its job file)."""
    X, y, label = load_items(dataset, seed, config.n_items)
    n = len(X)
    prior, start = make_prior(config.init, X, int(y.max()) + 1, stream_rng(seed, "prior"))
    budget = int(round(config.budget_fraction * n_pairs(n)))
    clusterer = ActiveClusterer(
        make_pair_strategy(strategy), NoisyPairOracle(y, config.noise), prior,
        batch_size=config.batch, budget=budget, seed=seed, tau=config.tau, truth=y, initial_labels=start,
        beta=config.beta,
    )
    history = clusterer.run()
    rows = pd.DataFrame(history.to_rows())
    rows.insert(0, "seed", seed)
    rows.insert(0, "strategy", strategy)
    rows.insert(0, "dataset", label)
    path = _job_path(config.out, label, strategy, seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    rows.to_csv(tmp, index=False)
    os.replace(tmp, path)
    return rows


def _ari_at(group: pd.DataFrame, fraction: float) -> float:
    """ARI of the first round with at least ``fraction`` of the pairs queried (NaN if never)."""
    g = group.sort_values("round")
    hit = g[g["fraction_queried"] >= fraction - 1e-12]
    return float(hit["ari"].iloc[0]) if len(hit) else float("nan")


def summarise_clustering(rounds: pd.DataFrame) -> pd.DataFrame:
    """One row per (dataset, strategy): mean/std over seeds of the ARI curve's mean (``auc``),
    of the final ARI and AMI, and the mean ARI at 2/5/10/20 % of the pairs queried.

    Example:
        >>> df = pd.DataFrame({"dataset": "d", "strategy": "s", "seed": [0, 0], "round": [0, 1],
        ...                    "fraction_queried": [0.0, 0.05], "ari": [0.2, 0.6], "ami": [0.1, 0.5]})
        >>> summarise_clustering(df)[["ari_auc_mean", "final_ari_mean", "ari@5%"]].round(2).to_dict("records")
        [{'ari_auc_mean': 0.4, 'final_ari_mean': 0.6, 'ari@5%': 0.6}]
    """
    need = ("dataset", "strategy", "seed", "round", "fraction_queried", "ari")
    missing = [c for c in need if c not in rounds.columns]
    if missing or rounds.empty:
        raise ValueError(f"rounds must be a non-empty table with the columns {list(need)}; missing {missing}.")
    out = []
    seconds = [c for c in rounds.columns if c.startswith("seconds_")]
    for (dataset, strategy), group in rounds.groupby(["dataset", "strategy"], sort=False):
        per_seed = []
        for _, g in group.groupby("seed"):
            g = g.sort_values("round")
            per_seed.append({
                "auc": float(g["ari"].mean()),
                "final": float(g["ari"].iloc[-1]),
                "ami": float(g["ami"].iloc[-1]) if "ami" in g else float("nan"),
                **{f"ari@{round(f * 100)}%": _ari_at(g, f) for f in FRACTIONS},
            })
        ps = pd.DataFrame(per_seed)
        row: dict[str, Any] = {
            "dataset": dataset,
            "strategy": strategy,
            "ari_auc_mean": ps["auc"].mean(),
            "ari_auc_std": ps["auc"].std(ddof=1) if len(ps) > 1 else 0.0,
            "final_ari_mean": ps["final"].mean(),
            "final_ari_std": ps["final"].std(ddof=1) if len(ps) > 1 else 0.0,
            "final_ami_mean": ps["ami"].mean(),
            **{c: ps[c].mean() for c in ps.columns if c.startswith("ari@")},
            "n_seeds": len(ps),
            "seconds_per_round": float(group[seconds].sum(axis=1).mean()) if seconds else float("nan"),
        }
        out.append(row)
    return pd.DataFrame(out)


def plot_clustering(rounds: pd.DataFrame, path: Path) -> Path:
    """ARI against the fraction of pairs queried, one panel per dataset, ±std band over seeds."""
    from matplotlib.figure import Figure

    datasets = list(dict.fromkeys(rounds["dataset"]))
    fig = Figure(figsize=(6.0 * min(3, len(datasets)), 4.4 * (-(-len(datasets) // 3))), layout="constrained")
    axes = fig.subplots(-(-len(datasets) // 3), min(3, len(datasets)), squeeze=False)
    for ax in axes.flat[len(datasets):]:
        ax.set_visible(False)
    for ax, dataset in zip(axes.flat, datasets):
        panel = rounds[rounds["dataset"] == dataset]
        for strategy, g in panel.groupby("strategy", sort=False):
            by = g.groupby("round")
            x = by["fraction_queried"].mean().to_numpy()
            m = by["ari"].mean().to_numpy()
            s = by["ari"].std(ddof=1).fillna(0.0).to_numpy()
            ax.plot(x, m, label=f"{strategy} (mean ARI {m.mean():.3f})", linewidth=1.5)
            ax.fill_between(x, m - s, m + s, alpha=0.15, linewidth=0)
        ax.set_title(f"{dataset} ({panel['seed'].nunique()} seeds)", fontsize=10)
        ax.set_xlabel("fraction of pairs queried")
        ax.set_ylabel("ARI")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fig.savefig(tmp, dpi=110, format="png")
    os.replace(tmp, path)
    return path


def _check_protocol(config: ClusterRunConfig) -> None:
    """A rerun into the same OUT must use the same protocol (otherwise job files would mix)."""
    path = config.out / _CONFIG_FILE
    mine = {k: asdict(config)[k] for k in _PROTOCOL}
    if path.exists():
        old = json.loads(path.read_text())
        diff = {k: (old.get(k, _PROTOCOL_DEFAULTS.get(k)), v) for k, v in mine.items()
                if old.get(k, _PROTOCOL_DEFAULTS.get(k)) != v}
        if diff:
            detail = ", ".join(f"{k}: {a!r} there vs {b!r} now" for k, (a, b) in diff.items())
            raise ClusterConfigError(f"{config.out} holds results of another protocol ({detail}); use another --out.")
    else:
        config.out.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(mine, indent=1))


def run_clustering(
    config: ClusterRunConfig, *, progress: Callable[[str], None] | None = None, run_missing: bool = True
) -> pd.DataFrame:
    """Run every (dataset, strategy, seed) job, skipping finished ones; write rounds, summary, curves.

    Args:
        config: The grid.
        progress: Called with a message after each job.
        run_missing: ``False`` runs nothing and summarises the finished jobs only (a report on a
            grid that is still running or was interrupted); the summary's ``n_seeds`` says how
            many seeds each row holds.

    Returns:
        The tidy rounds table (also ``OUT/rounds.csv``).

    Raises:
        ClusterConfigError: With ``run_missing=False`` when no job has finished.
    """
    if not isinstance(config, ClusterRunConfig):
        raise TypeError(f"config must be a ClusterRunConfig, got {type(config).__name__}.")
    labels = {d: load_items(d, 0, config.n_items)[2] for d in config.datasets}  # fail fast on names/files
    _check_protocol(config)
    jobs: list[tuple[str, str, int]] = []
    done: list[pd.DataFrame] = []
    for s in config.strategies:  # strategy-major: an interrupted grid has whole strategies
        for seed in range(config.seeds):
            for d in config.datasets:
                path = _job_path(config.out, labels[d], s, seed)
                if path.exists():
                    done.append(pd.read_csv(path))
                else:
                    jobs.append((d, s, seed))
    if not run_missing:
        if not done:
            raise ClusterConfigError(f"no finished job in {config.out / 'jobs'} for these datasets and strategies.")
        jobs = []
    if config.workers > 1 and len(jobs) > 1:
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=config.workers, mp_context=ctx) as pool:
            futures = {pool.submit(run_job, config, *job): job for job in jobs}
            for fut in as_completed(futures):
                done.append(fut.result())
                if progress is not None:
                    progress(f"done {futures[fut]}")
    else:
        for job in jobs:
            done.append(run_job(config, *job))
            if progress is not None:
                progress(f"done {job}")
    rounds = pd.concat(done, ignore_index=True)
    order = {s: i for i, s in enumerate(config.strategies)}
    rounds = rounds.sort_values(["dataset", "strategy", "seed", "round"], key=lambda c: c.map(order) if c.name == "strategy" else c, kind="stable").reset_index(drop=True)
    _write(rounds, config.out / "rounds.csv")
    summary = summarise_clustering(rounds)
    _write(summary, config.out / "summary.csv")
    plot_clustering(rounds, config.out / "curves.png")
    return rounds


def _write(df: pd.DataFrame, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    df.to_csv(tmp, index=False)
    os.replace(tmp, path)
