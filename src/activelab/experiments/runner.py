"""Grid experiments: datasets × strategies × models × seeds, paired, parallel and resumable.

One *job* is one active-learning run of (dataset, strategy, model, seed). The seed alone fixes
the held-out split, the initial labelled set and every round's model initialisation, so all
strategies run with the same seed are paired. Each finished job is written to
``OUT/jobs/<dataset>__<strategy>__<model>__seed<k>.csv`` (its rounds) and ``….queries.csv`` (the
items it labelled), with a manifest (``….json``: the job's fingerprint, including the content
hash of its dataset, and the files' hashes; see :mod:`~activelab.experiments.grid`). A job
checkpoints every round into ``….ckpt/``; rerunning with the same ``OUT`` reuses the verified
jobs, resumes an interrupted one from its last round and redoes any whose files or data changed.

Everything that can be checked before work starts is checked by :func:`plan_jobs`: names,
options (each strategy also proposes once on a small synthetic problem), each model on a few
rows of each dataset, the labels of user files, and the budget against each pool.

Example:
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     config = RunConfig(("blobs",), ("random", "margin"), models=("logreg",), seeds=2,
    ...                        initial=10, query_size=10, budget=30, out=Path(tmp))
    ...     rounds = run_experiments(config, progress=False)
    ...     sorted(p.name for p in Path(tmp).iterdir())
    ['config.json', 'curves.png', 'jobs', 'queries.csv', 'rounds.csv', 'summary.csv']
    >>> len(rounds)  # 2 strategies x 2 seeds x 3 rounds (10, 20, 30 labels)
    12
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._registry import lookup
from ..checks import dry_run_strategy
from ..data import load_dataset, with_test_split
from ..data.base import Dataset, fingerprint, scale_features, split_indices
from ..data.registry import DATASETS, FILE_SUFFIXES
from ..engine import OWN_INITIAL, own_initial_strategy, resolve_initial_strategy
from ..errors import ActiveLabError, DataWarning
from ..loop import ActiveLearner, Budget
from ..models.base import check_capabilities
from ..models.registry import MODELS, make_model
from ..oracles import SimulatedOracle
from ..stopping import make_stopping
from ..strategies.registry import make
from .config import PROTOCOL, ConfigError, RunConfig
from .executors import make_executor
from .grid import Executor, Grid, GridJob, run_grid, write_csv_atomic
from .metrics import chunked_accuracy, summarise
from .plots import plot_curves

__all__ = ["QUERY_COLUMNS", "ROUND_COLUMNS", "ConfigError", "Job", "RunConfig", "grid_of", "plan_jobs", "run_experiments"]

#: Columns of ``rounds.csv`` (and of every job file), in order.
ROUND_COLUMNS = (
    "dataset",
    "strategy",
    "model",
    "seed",
    "round",
    "n_labelled",
    "accuracy",
    "seconds_fit",
    "seconds_evaluate",
    "seconds_infer",
    "seconds_select",
    "seconds_label",
)
#: Columns of ``queries.csv`` (and of every job's ``….queries.csv``): one row per item a job
#: labelled or skipped, in the order they were answered. ``round`` is the round whose model
#: first saw the label (0 = the initial set); ``index`` the absolute pool index (what the
#: engine and ``rounds.csv`` count in); ``row`` the item's row in the dataset as loaded (the
#: file's data row; registry datasets: their loader's order), before the held-out split;
#: ``label`` the class id given (0..C-1, in the sorted order of a file's label values), -1 = skipped.
QUERY_COLUMNS = ("dataset", "strategy", "model", "seed", "round", "index", "row", "label")
_KEY_DTYPES = {"dataset": str, "strategy": str, "model": str}


def _safe(text: str) -> str:
    """A file-name-safe version of ``text``."""
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", text).strip("._") or "dataset"


def dataset_label(name: str) -> str:
    """The name of a dataset in results and file names: the registry name, or a file's stem."""
    if name in DATASETS:
        return name
    if name.lower().endswith(FILE_SUFFIXES) or Path(name).expanduser().is_file():
        return _safe(Path(name).stem)
    return _safe(name)


@dataclass(frozen=True)
class Job:
    """One run: a dataset (``source`` is the name or absolute path to load), strategy, model, seed.

    ``data`` is the dataset's :func:`~activelab.data.base.fingerprint`, computed once while
    planning (the grid redoes the job when it changes).
    """

    dataset: str
    source: str
    strategy: str
    model: str
    seed: int
    data: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def filename(self) -> str:
        """``<dataset>__<strategy>__<model>__seed<k>.csv``."""
        return f"{_safe(self.dataset)}__{_safe(self.strategy)}__{_safe(self.model)}__seed{self.seed}.csv"

    @property
    def name(self) -> str:
        """Short human-readable name."""
        return f"{self.dataset}/{self.strategy}/{self.model}/seed{self.seed}"


def _source(name: str) -> str:
    if name in DATASETS:
        return name
    path = Path(name).expanduser()
    if name.lower().endswith(FILE_SUFFIXES) or path.is_file():
        return str(path.resolve())
    return name


def plan_jobs(config: RunConfig) -> list[Job]:
    """Validate ``config`` against the registries and data, and list its jobs (output order).

    Everything that can be checked before training is checked here, cheapest first:

    - strategy, model and dataset names (did-you-mean errors), strategy and stopping options
      (each strategy's own checks when it is built, e.g. ``beta`` must be a positive finite
      number), CUDA availability;
    - a dry run of every strategy (and the initial strategy): one proposal on a small synthetic
      problem with :class:`~activelab.checks.CheckModel`, so an option that fails only inside
      ``select`` fails now (:func:`~activelab.checks.dry_run_strategy`);
    - every dataset loads (user files: labels checked, see
      :func:`~activelab.data.files.check_label_values`), its pool holds the budget, and its
      fingerprint (shape + SHA-256) is taken;
    - every model provides the views every strategy needs, and fits and predicts on a few rows
      of every dataset (one per class), so e.g. ``cnn`` on flat features fails at once, saying
      what shape it needs.

    Whether ``out`` can be written, and holds no results of another protocol, is checked by the
    grid before any job starts.

    Raises:
        UnknownNameError: For an unknown strategy, model, dataset, update policy or scaling.
        ConfigError: For a budget above a pool size, a strategy that fails its dry run, a
            model that cannot take a dataset's items, and other invalid settings.
        CapabilityError: If a model cannot feed a strategy (e.g. ``logreg`` with ``bald``).
        DataUnavailableError, DataFileError: If a dataset is not fetched or a file is invalid
            (e.g. a continuous target).
    """
    if not isinstance(config, RunConfig):
        raise TypeError(f"config must be a RunConfig, got {type(config).__name__}.")
    try:
        strategies = {s: make(s, **config.strategy_options.get(s, {})) for s in config.strategies}
        initial = None if config.initial_strategy == OWN_INITIAL else resolve_initial_strategy(_initial_strategy(config))
    except (TypeError, ValueError) as err:  # unknown names are KeyErrors and pass through
        if not config.strategy_options:
            raise
        raise ConfigError(f"strategy_options (--strategy-options) {config.strategy_options}: {err}") from err
    try:
        _stopping(config)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"stopping (--stop) {config.stopping}: {err}") from err
    for m in config.models:
        lookup("model", m, MODELS, " List them with `activelab list models`.")
    if config.device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(f"device {config.device!r} was requested but CUDA is not available; use --device cpu.")
    for s, strategy in strategies.items():
        _dry_run(s, strategy, initial, config)

    labels: dict[str, str] = {}
    fingerprints: dict[str, dict[str, Any]] = {}
    for name in config.datasets:
        label = dataset_label(name)
        if label in labels:
            raise ConfigError(
                f"datasets {labels[label]!r} and {name!r} would both be called {label!r} in the results; "
                "rename one of the files."
            )
        labels[label] = name
        try:
            raw = load_dataset(_source(name), seed=0)
            ds = with_test_split(raw, 0)
        except ActiveLabError:
            raise
        except (ValueError, TypeError) as err:
            raise ConfigError(f"dataset {name!r} could not be loaded: {err}") from err
        fingerprints[name] = fingerprint(raw)
        if ds.X_test is None or len(ds.X_test) == 0:
            raise ConfigError(f"dataset {name!r} has an empty test split; give X_test/y_test with at least one row.")
        if config.budget > ds.n_items:
            raise ConfigError(
                f"budget (--budget {config.budget}) exceeds the pool of dataset {label!r} "
                f"({ds.n_items} items after holding out the test split); lower --budget to at most {ds.n_items}."
            )
        for m in config.models:
            try:
                model = make_model(
                    m, max(2, ds.n_classes), epochs=config.epochs, device=config.device, update=config.update
                )
            except (ValueError, TypeError) as err:
                message = str(err) if repr(m) in str(err) else f"model {m!r}: {err}"
                raise ConfigError(message) from err
            for s, strategy in strategies.items():
                check_capabilities(model, strategy.needs, s)
            _dry_fit(m, model, ds, label)
    return [
        Job(dataset_label(d), _source(d), s, m, seed, data=fingerprints[d])
        for d in config.datasets
        for s in config.strategies
        for m in config.models
        for seed in config.seed_list
    ]


# What a dry run or a dry fit may raise for a bad option or a bad shape (any other error is a bug).
_DRY_ERRORS = (TypeError, ValueError, LookupError, RuntimeError, ActiveLabError)


def _dry_run(name: str, strategy: Any, initial: Any, config: RunConfig) -> None:
    """One proposal of ``strategy`` on a small synthetic problem; a failure names the options."""
    try:
        dry_run_strategy(strategy, initial_strategy=own_initial_strategy(strategy) if initial is None else initial)
    except _DRY_ERRORS as err:
        options = {k: v for k, v in config.strategy_options.items() if k in (name, config.initial_strategy)}
        given = f" with --strategy-options {options}" if options else ""
        raise ConfigError(
            f"strategy {name!r}{given} failed a dry run on a small synthetic problem, before any training: "
            f"{type(err).__name__}: {err}"
        ) from err


def _dry_fit(name: str, model: Any, ds: Dataset, label: str) -> None:
    """Fit ``model`` on one row per class of ``ds`` and predict two rows: shape errors now, not after a job started."""
    _, first = np.unique(ds.y, return_index=True)
    rows = np.sort(first)
    try:
        model.fit(ds.X[rows], ds.y[rows], rng=np.random.default_rng(0))
        probs = np.asarray(model.predict_proba(ds.X[rows[:2]]))
    except _DRY_ERRORS as err:
        raise ConfigError(
            f"model {name!r} cannot take the items of dataset {label!r} (each of shape {tuple(ds.X.shape[1:])}): "
            f"{type(err).__name__}: {err}"
        ) from err
    if probs.shape != (min(2, len(rows)), model.n_classes):
        raise ConfigError(
            f"model {name!r} predicted an array of shape {probs.shape} for 2 items of dataset {label!r}; "
            f"expected (2, {model.n_classes})."
        )


# --------------------------------------------------------------------------------- one job
# Per-process cache of the last loaded (source, seed, scale) split: consecutive jobs often share it.
_WORKER_CACHE: dict[tuple[str, int, str], tuple[Dataset, np.ndarray]] = {}


def load_job_data(job: Job, config: RunConfig) -> tuple[Dataset, np.ndarray]:
    """The job's dataset with its seed's test split and scaling, and each pool item's row as loaded.

    User files are scaled by ``config.scale`` (fitted on the pool rows only); registry datasets
    are used as they are. Data warnings were shown while planning and are not repeated.
    """
    key = (job.source, job.seed, config.scale)
    if key not in _WORKER_CACHE:
        _WORKER_CACHE.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DataWarning)
            raw = load_dataset(job.source, seed=job.seed)
        rows = np.arange(raw.n_items) if raw.X_test is not None else split_indices(raw, job.seed)[0]
        ds = with_test_split(raw, job.seed)
        if job.source not in DATASETS:
            ds = scale_features(ds, config.scale)
        _WORKER_CACHE[key] = (ds, rows)
    return _WORKER_CACHE[key]


def _stopping(config: RunConfig) -> list[Any]:
    """Fresh stopping criteria of one job (they hold per-run state)."""
    return [make_stopping(name, **kwargs) for name, kwargs in config.stopping.items()]


def _initial_strategy(config: RunConfig, strategy: Any = None) -> Any:
    """The initial strategy's name, or the strategy built with its ``strategy_options``.

    With ``initial_strategy="own"`` it is ``strategy``'s own cold start
    (:func:`~activelab.engine.own_initial_strategy`).
    """
    if config.initial_strategy == OWN_INITIAL:
        return own_initial_strategy(strategy)
    options = config.strategy_options.get(config.initial_strategy)
    return make(config.initial_strategy, **options) if options else config.initial_strategy


def run_job(job: Job, config: RunConfig, *, checkpoint_dir: Path | None = None) -> dict[str, pd.DataFrame]:
    """Run one job and return its tables, ``rounds`` and ``queries`` (the grid writes the files).

    With ``checkpoint_dir`` the learner checkpoints there after every round and resumes from
    the last checkpoint (the grid gives each job ``OUT/jobs/<name>.ckpt``).
    """
    ds, rows = load_job_data(job, config)
    if ds.X_test is None or ds.y_test is None:  # pragma: no cover  (with_test_split always makes one)
        raise ActiveLabError(f"dataset {job.dataset!r} has no test split.")
    model = make_model(job.model, ds.n_classes, epochs=config.epochs, device=config.device, update=config.update)
    strategy = make(job.strategy, **config.strategy_options.get(job.strategy, {}))
    learner = ActiveLearner(
        model,
        strategy,
        SimulatedOracle(ds.y),
        ds.X,
        budget=Budget(config.initial, config.query_size, config.budget),
        seed=job.seed,
        evaluate=partial(chunked_accuracy, X=ds.X_test, y=ds.y_test),
        initial_strategy=_initial_strategy(config, strategy),
        stopping=_stopping(config),
        checkpoint_dir=checkpoint_dir,
    )
    history = learner.run()
    df = pd.DataFrame(history.to_rows())
    if config.stopping:
        df["stop_reason"] = [r.stop_reason or "" for r in history]
    df.insert(0, "dataset", job.dataset)
    df.insert(1, "strategy", job.strategy)
    df.insert(2, "model", job.model)
    df.insert(3, "seed", job.seed)
    extra = [c for c in df.columns if c not in ROUND_COLUMNS]
    events = learner.pool.events
    index = np.array([e.index for e in events], dtype=np.int64)
    queries = pd.DataFrame({
        "dataset": job.dataset, "strategy": job.strategy, "model": job.model, "seed": job.seed,
        "round": np.array([e.round_ for e in events], dtype=np.int64), "index": index, "row": rows[index],
        "label": np.array([e.label for e in events], dtype=np.int64),
    }, columns=list(QUERY_COLUMNS))
    return {"rounds": df.reindex(columns=[*ROUND_COLUMNS, *extra]), "queries": queries}


def _describe(df: pd.DataFrame) -> str:
    acc = df["accuracy"]
    return f"AUC {acc.mean():.4f}, final accuracy {acc.iloc[-1]:.4f}"


def _finish(rounds: pd.DataFrame, out: Path) -> None:
    write_csv_atomic(summarise(rounds), out / "summary.csv")
    plot_curves(rounds, out / "curves.png")


def grid_of(config: RunConfig) -> Grid:
    """The :class:`~activelab.experiments.grid.Grid` of ``config``: validated, planned, nothing run.

    Raises:
        Every error of :func:`plan_jobs`.
    """
    jobs = plan_jobs(config)
    settings = {
        "datasets": list(config.datasets),
        "strategies": list(config.strategies),
        "models": list(config.models),
        "seeds": config.seeds,
        **{k: getattr(config, k) for k in PROTOCOL},
        "device": config.device,
    }
    return Grid(
        command="run",
        out=config.out,
        settings=settings,
        protocol={k: getattr(config, k) for k in PROTOCOL},
        jobs=[
            GridJob(j.name, j.filename, {"dataset": j.dataset, "strategy": j.strategy, "model": j.model, "seed": j.seed},
                    run_job, (j, config), group=(j.source, j.seed), data={j.dataset: dict(j.data)}, resumable=True)
            for j in jobs
        ],
        columns=ROUND_COLUMNS,
        finish=_finish,
        describe=_describe,
        dtypes=_KEY_DTYPES,
        tables=("queries",),
    )


def run_experiments(config: RunConfig, progress: bool = True, executor: Executor | None = None) -> pd.DataFrame:
    """Run every job of ``config`` (skipping finished ones) and write the results into ``config.out``.

    Writes ``jobs/<dataset>__<strategy>__<model>__seed<k>.csv`` (and ``….queries.csv``, ``….json``)
    per job, then ``rounds.csv`` (:data:`ROUND_COLUMNS`, one row per dataset, strategy, model,
    seed and round), ``queries.csv`` (:data:`QUERY_COLUMNS`, one row per labelled or skipped item),
    ``summary.csv`` (:func:`~activelab.experiments.metrics.summarise`), ``curves.png``
    (:func:`~activelab.experiments.plots.plot_curves`) and ``config.json`` (the settings),
    through :func:`~activelab.experiments.grid.run_grid`.

    Args:
        config: The grid and protocol.
        progress: Report progress on stderr (a bar on a terminal, one line per job otherwise).
        executor: Where the jobs run (default: ``config.backend``: a
            :class:`~activelab.experiments.grid.LocalExecutor` with ``config.workers`` processes,
            or a :class:`~activelab.experiments.ray_backend.RayExecutor` on ``config.address``).

    Returns:
        The rounds table (the content of ``rounds.csv``).

    Raises:
        Every error of :func:`plan_jobs` and of the grid's output check, before any job starts;
        ConfigError: With ``backend="ray"``, if Ray is missing or ``address`` does not answer.
    """
    executor = executor or make_executor(config.backend, config.workers, config.address)
    grid = grid_of(config)
    return run_grid(grid, executor, progress=progress)
