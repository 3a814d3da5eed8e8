"""Grid of active-clustering runs (datasets × strategies × seeds), resumable, with tidy outputs.

Each job is one :class:`~.learner.ActiveClusterer` run; seed ``s`` fixes the subsample of items,
the initial partition and the oracle's noise draws per round, so strategies with the same seed
are paired. Finished jobs go to ``OUT/jobs/<dataset>__<strategy>__seed<k>.csv`` (atomic) with a
manifest (the job's fingerprint, including its dataset's content hash); rerunning into the same
``OUT`` reuses the jobs that verify, resumes an interrupted one from its last checkpointed
round (``….ckpt/``) and redoes the others (see :mod:`~activelab.experiments.grid`). ``OUT/rounds.csv`` has one row per
(dataset, strategy, seed, round) with ``n_queries, fraction_queried, ari, ami``;
``OUT/summary.csv`` one row per (dataset, strategy); ``OUT/curves.png`` ARI against the
fraction of pairs queried.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._registry import lookup
from ..engine import stream_rng
from .._validation import fingerprint_arrays
from ..experiments.executors import make_executor
from ..experiments.grid import Executor, Grid, GridJob, run_grid, write_csv_atomic
from ..experiments.options import ConfigError, address_option, backend_option, check_backend, names, option, protocol_fields
from .learner import ActiveClusterer
from .oracle import NoisyPairOracle
from .store import LowRankPrior, feature_prior, n_pairs, partition_prior, zero_prior
from .strategies import PAIR_STRATEGIES, make_pair_strategy

__all__ = [
    "INITS",
    "PROTOCOL",
    "ClusterConfigError",
    "ClusterRunConfig",
    "grid_of",
    "load_items",
    "make_prior",
    "resolve_solver",
    "run_clustering",
    "solver_settings",
    "summarise_clustering",
]

#: ``--init`` choices: how unqueried pairs are initialised.
INITS = {
    "kmeans": "±0.1 from a k-means partition of the features (k = number of classes).",
    "random": "±0.1 from a random partition into 10 clusters.",
    "zeros": "0 for every unqueried pair.",
    "features": "0.1 × cosine of the centred features.",
}
#: Fractions of all pairs at which the summary reports ARI.
FRACTIONS = (0.02, 0.05, 0.10, 0.20)
# Settings added after the first config files were written, with the value those runs used.
_PROTOCOL_DEFAULTS = {
    "beta": 1.0, "init_partition": None, "restarts": 1, "warm_start": True, "prior_weight": None, "merge": None,
}


class ClusterConfigError(ConfigError):
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
        init_partition: ``FILE.npz:KEY``, a given starting partition (one int per item, in the
            dataset's order) for the ±0.1 prior, instead of the one ``init`` computes; the TMLR
            pack ships the paper's k-means partitions this way. Needs every item
            (``n_items=None``) or a file of ``n_items`` labels for an unsubsampled set.
        restarts: Local-search restarts per round (default 5, the paper's; restart 0 is the warm
            start unless ``warm_start`` is off). One restart (the library's default) keeps the
            k-means partition far too long: maxmin on the pack's ecoli set fell from 0.692 to
            0.553 mean ARI over 0-20 % of pairs (docs/clustering.md).
        warm_start: Restart 0 of each round starts from the previous round's clustering;
            ``False`` starts every restart from a random partition, as the paper's solver does.
        prior_weight: Multiplies the ±0.1 prior, in ``(0, 1]`` (see
            :class:`~activelab.clustering.ActiveClusterer`); ``None``: the strategy's
            recommendation (``default``: 0.3), else 1.
        merge: ``"answers"``, ``"objective"`` or ``"off"``: how clusters are merged after each
            local search (see :class:`~activelab.clustering.ActiveClusterer`); ``None``: the
            strategy's recommendation (``default``: answers), else off.
        workers: Parallel processes (``backend="local"``).
        backend: ``"local"`` or ``"ray"`` (Ray tasks; see :mod:`activelab.experiments.ray_backend`); not
            part of the protocol.
        address: The Ray cluster of ``backend="ray"`` (``None``: start a local Ray).
        out: Output directory.
    """

    datasets: tuple[str, ...] = option(
        help="Dataset name(s) or .npz/.csv file(s), comma-separated (also blobs10).", flags=("--dataset", "--datasets"),
        cli_type=str, parse=names("--dataset"), to_cli=",".join,
    )
    strategies: tuple[str, ...] = option(
        help="Pair strategies, comma-separated, e.g. uniform,maxmin,maxexp,eig.", flags=("--strategy", "--strategies"),
        cli_type=str, parse=names("--strategy"), to_cli=",".join,
    )
    noise: float = option(0.2, help="Oracle noise gamma in [0, 1).", protocol=True)
    batch: int = option(125, help="Pairs asked per round.", protocol=True)
    init: str = option("kmeans", help="Prior of unqueried pairs: kmeans, random, zeros or features.", protocol=True)
    budget_fraction: float = option(0.2, help="Answers to acquire, as a fraction of all pairs.", protocol=True)
    seeds: int = option(3, help="Number of seeds (0..N-1), paired across strategies.")
    n_items: int | None = option(
        500, help="Items subsampled per dataset (0 = all).", cli_type=int, parse=lambda v: v or None,
        to_cli=lambda v: v or 0, protocol=True,
    )
    tau: int = option(3, help="Answers allowed per pair.", protocol=True)
    beta: float = option(1.0, help="Mean-field inverse temperature (entropy, eig, batch_ig).", protocol=True)
    init_partition: str | None = option(
        None, help="Starting partition FILE.npz:KEY for the ±0.1 prior (replaces --init's partition).",
        cli_type=str, protocol=True,
    )
    restarts: int = option(5, help="Local-search restarts per round (5, as the paper).", protocol=True)
    warm_start: bool = option(
        True, help="Restart 0 starts from the previous clustering (--no-warm-start: random starts only, as the paper).",
        flags=("--warm-start/--no-warm-start",), protocol=True,
    )
    prior_weight: float | None = option(
        None, help="Multiply the prior by this weight in (0, 1] (default: the strategy's choice; default: 0.3, others 1).",
        cli_type=float | None, protocol=True,
    )
    merge: str | None = option(
        None, help="Merge clusters after each local search: answers (when their answers say same), objective (when "
        "their summed similarity is positive) or off (default: the strategy's choice; default: answers, others off).",
        cli_type=str | None, protocol=True,
    )
    workers: int = option(1, help="Parallel worker processes (--backend local).")
    backend: str = backend_option()
    address: str | None = address_option()
    out: Path = option(help="Output directory (rerunning into it resumes).", kw_only=True)

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
        for name, lo in (("batch", 1), ("seeds", 1), ("tau", 1), ("workers", 1), ("restarts", 1)):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < lo:
                raise ClusterConfigError(f"{name} (--{name}) must be an int >= {lo}, got {v!r}.")
        if self.n_items is not None and (not isinstance(self.n_items, (int, np.integer)) or self.n_items < 3):
            raise ClusterConfigError(f"n_items (--n-items) must be an int >= 3 or None, got {self.n_items!r}.")
        if not isinstance(self.budget_fraction, (int, float)) or not 0 < self.budget_fraction <= self.tau:
            raise ClusterConfigError(
                f"budget_fraction (--budget-fraction) must lie in (0, tau={self.tau}], got {self.budget_fraction!r}."
            )
        if self.prior_weight is not None and (
            isinstance(self.prior_weight, bool) or not isinstance(self.prior_weight, (int, float))
            or not 0 < self.prior_weight <= 1
        ):
            raise ClusterConfigError(f"prior_weight (--prior-weight) must lie in (0, 1], got {self.prior_weight!r}.")
        if self.merge is not None and self.merge not in ("answers", "objective", "off"):
            raise ClusterConfigError(f"merge (--merge) must be answers, objective or off, got {self.merge!r}.")
        if not isinstance(self.warm_start, bool):
            raise ClusterConfigError(f"warm_start (--warm-start/--no-warm-start) must be a bool, got {self.warm_start!r}.")
        if self.init_partition is not None:
            read_partition(self.init_partition)  # the file, the key and the labels are checked now
            if self.init not in ("kmeans", "random"):
                raise ClusterConfigError(
                    f"--init-partition gives a partition prior, so --init must be kmeans or random (the partition "
                    f"replaces theirs), got --init {self.init!r}."
                )
        check_backend(self.backend, self.address)
        object.__setattr__(self, "out", Path(self.out).expanduser())


def read_partition(spec: str) -> np.ndarray:
    """The labels ``FILE.npz:KEY`` names, int64 ``(N,)``.

    Raises:
        ClusterConfigError: The spec has no ``:KEY``, the file is missing or unreadable, the key
            is not in it, or the array is not a 1-D array of non-negative integers.
    """
    if not isinstance(spec, str) or ":" not in spec:
        raise ClusterConfigError(
            f"--init-partition must be FILE.npz:KEY (e.g. acc_tmlr/kmeans_init_labels.npz:ecoli), got {spec!r}."
        )
    path_text, key = spec.rsplit(":", 1)
    path = Path(path_text).expanduser()
    if not path.is_file():
        raise ClusterConfigError(f"--init-partition: no file {str(path)!r}; give an existing .npz file.")
    try:
        with np.load(path, allow_pickle=False) as archive:
            files = list(archive.files)
            labels = np.asarray(archive[key]) if key in files else None
    except (OSError, ValueError) as err:
        raise ClusterConfigError(f"--init-partition: cannot read {str(path)!r} as .npz ({err}).") from err
    if labels is None:
        raise ClusterConfigError(f"--init-partition: {str(path)!r} has no array {key!r}; it holds {sorted(files)}.")
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer) or len(labels) < 3 or labels.min() < 0:
        raise ClusterConfigError(
            f"--init-partition {spec!r} must be a 1-D array of at least 3 non-negative int cluster ids, got "
            f"{labels.dtype} {labels.shape}."
        )
    return labels.astype(np.int64)


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


def run_job(
    config: ClusterRunConfig, dataset: str, strategy: str, seed: int, *, checkpoint_dir: Path | None = None
) -> pd.DataFrame:
    """Run one (dataset, strategy, seed) job and return its rounds (the grid writes its file).

    With ``checkpoint_dir`` the clusterer checkpoints there after every round and resumes from
    the last checkpoint (the grid gives each job ``OUT/jobs/<name>.ckpt``).
    """
    X, y, label = load_items(dataset, seed, config.n_items)
    n = len(X)
    start: np.ndarray | None
    if config.init_partition is not None:
        start = _check_partition_size(read_partition(config.init_partition), config.init_partition, dataset, n)
        prior = partition_prior(start, 0.1)
    else:
        prior, start = make_prior(config.init, X, int(y.max()) + 1, stream_rng(seed, "prior"))
    budget = int(round(config.budget_fraction * n_pairs(n)))
    pair_strategy = make_pair_strategy(strategy)
    solver = solver_settings(config, pair_strategy)
    clusterer = ActiveClusterer(
        pair_strategy, NoisyPairOracle(y, config.noise), prior,
        batch_size=config.batch, budget=budget, seed=seed, tau=config.tau, truth=y, initial_labels=start,
        beta=config.beta, checkpoint_dir=checkpoint_dir, n_restarts=config.restarts, warm_start=config.warm_start,
        prior_weight=solver["prior_weight"], merge=solver["merge"],
    )
    history = clusterer.run()
    rows = pd.DataFrame(history.to_rows())
    rows.insert(0, "seed", seed)
    rows.insert(0, "strategy", strategy)
    rows.insert(0, "dataset", label)
    return rows


def solver_settings(config: ClusterRunConfig, strategy: Any) -> dict[str, Any]:
    """``prior_weight`` and ``merge`` of a job: the config's where set, else the strategy's ``solver``
    recommendation, else the library's (1.0, no merging).

    Example:
        >>> from activelab.clustering import make_pair_strategy
        >>> cfg = ClusterRunConfig(("blobs10",), ("default",), out="/tmp/x")
        >>> solver_settings(cfg, make_pair_strategy("default")), solver_settings(cfg, make_pair_strategy("maxexp"))
        ({'prior_weight': 0.3, 'merge': 'answers'}, {'prior_weight': 1.0, 'merge': None})
    """
    return resolve_solver(strategy, config.prior_weight, config.merge)


def resolve_solver(strategy: Any, prior_weight: float | None = None, merge: str | None = None) -> dict[str, Any]:
    """``prior_weight`` and ``merge`` for :class:`~activelab.clustering.ActiveClusterer`: the
    given values where not ``None``, else ``strategy.solver``'s, else 1.0 and no merging
    (``merge="off"`` is ``None``).
    """
    rec = dict(getattr(strategy, "solver", None) or {})
    merge = merge if merge is not None else rec.get("merge")
    return {
        "prior_weight": float(prior_weight if prior_weight is not None else rec.get("prior_weight", 1.0)),
        "merge": None if merge in (None, "off") else merge,
    }


def _check_partition_size(labels: np.ndarray, spec: str, dataset: str, n: int) -> np.ndarray:
    """``labels`` (read from ``spec``), after checking that ``dataset`` gives as many items."""
    if len(labels) != n:
        raise ClusterConfigError(
            f"--init-partition {spec!r} has {len(labels)} labels but dataset {dataset!r} gives {n} "
            "items; use --n-items 0 (all items) with the partition of that dataset."
        )
    return labels


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
    for ax, dataset in zip(axes.flat, datasets, strict=False):  # the grid may have spare (hidden) axes
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


#: Settings that change the results; a rerun into the same ``out`` must repeat them.
PROTOCOL = protocol_fields(ClusterRunConfig)
_COLUMNS = ("dataset", "strategy", "seed", "round", "n_queries", "fraction_queried", "ari")


def _finish(rounds: pd.DataFrame, out: Path) -> None:
    write_csv_atomic(summarise_clustering(rounds), out / "summary.csv")
    plot_clustering(rounds, out / "curves.png")


def _describe(df: pd.DataFrame) -> str:
    return f"mean ARI {df['ari'].mean():.4f}, final ARI {df['ari'].iloc[-1]:.4f}"


def _data_fingerprint(name: str) -> dict[str, Any]:
    """The fingerprint of the dataset a job subsamples (``blobs10`` is generated from the seed)."""
    if name == "blobs10":
        return {"generated": "blobs10"}
    from ..data import load_dataset
    from ..data.base import fingerprint

    return fingerprint(load_dataset(name, seed=0))


def _strategy_meaning(config: ClusterRunConfig, name: str) -> dict[str, Any]:
    """``{"pair strategy NAME": {...}}`` for strategies that recommend solver settings, else ``{}``."""
    strategy = make_pair_strategy(name)
    if getattr(strategy, "solver", None) is None:
        return {}
    extra = strategy.meaning() if callable(getattr(strategy, "meaning", None)) else {}  # e.g. a policy file's hash
    return {f"pair strategy {name}": {"class": type(strategy).__name__, **solver_settings(config, strategy), **extra}}


def grid_of(config: ClusterRunConfig) -> Grid:
    """The grid of ``config``: dataset names and files checked and fingerprinted now, nothing run.

    Jobs are strategy-major (an interrupted grid has whole strategies); ``rounds.csv`` is sorted
    by dataset, strategy (in the given order), seed and round.
    """
    if not isinstance(config, ClusterRunConfig):
        raise TypeError(f"config must be a ClusterRunConfig, got {type(config).__name__}.")
    items = {d: load_items(d, 0, config.n_items) for d in config.datasets}  # fail fast on names/files
    labels = {d: v[2] for d, v in items.items()}
    data = {d: _data_fingerprint(d) for d in config.datasets}
    if config.init_partition is not None:
        given = read_partition(config.init_partition)
        for d in config.datasets:
            _check_partition_size(given, config.init_partition, d, len(items[d][0]))
            data[d] = {**data[d], "init_partition": fingerprint_arrays({"labels": given})}
    protocol = {k: getattr(config, k) for k in PROTOCOL}
    # what a name stands for where it can change between versions (``default``): part of the
    # job's fingerprint, so a finished job of another meaning is redone, never reused
    meaning = {s: _strategy_meaning(config, s) for s in config.strategies}
    jobs = [
        GridJob(f"{labels[d]}/{s}/seed{seed}", f"{labels[d]}__{s}__seed{seed}.csv",
                {"dataset": labels[d], "strategy": s, "seed": seed}, run_job, (config, d, s, seed), group=(d, seed),
                data={labels[d]: data[d], **meaning[s]}, resumable=True)
        for s in config.strategies for seed in range(config.seeds) for d in config.datasets
    ]
    order = {s: i for i, s in enumerate(config.strategies)}

    def sort(rounds: pd.DataFrame) -> pd.DataFrame:
        return rounds.sort_values(
            ["dataset", "strategy", "seed", "round"], key=lambda c: c.map(order) if c.name == "strategy" else c,
            kind="stable",
        ).reset_index(drop=True)

    return Grid(
        command="cluster", out=config.out,
        settings={"datasets": list(config.datasets), "strategies": list(config.strategies), "seeds": config.seeds, **protocol},
        protocol=protocol, protocol_defaults=_PROTOCOL_DEFAULTS, jobs=jobs, columns=_COLUMNS, finish=_finish,
        describe=_describe, dtypes={"dataset": str, "strategy": str}, sort=sort,
    )


def run_clustering(
    config: ClusterRunConfig, *, progress: bool = True, run_missing: bool = True, executor: Executor | None = None
) -> pd.DataFrame:
    """Run every (dataset, strategy, seed) job, skipping finished ones; write rounds, summary, curves.

    Args:
        config: The grid.
        progress: Report progress on stderr (a bar on a terminal, one line per job otherwise).
        run_missing: ``False`` runs nothing and summarises the finished jobs only (a report on a
            grid that is still running or was interrupted); the summary's ``n_seeds`` says how
            many seeds each row holds.
        executor: Where the jobs run (default: ``config.backend``: a local pool of ``config.workers``
            processes, or Ray tasks on ``config.address``).

    Returns:
        The tidy rounds table (also ``OUT/rounds.csv``).

    Raises:
        ConfigError: Before any job runs, if ``out`` holds another command's or protocol's
            results; with ``run_missing=False``, when no job has finished.
    """
    executor = executor or make_executor(config.backend, config.workers, config.address)
    return run_grid(grid_of(config), executor, progress=progress, run_missing=run_missing)
