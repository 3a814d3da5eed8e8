"""Grid experiments: datasets × strategies × models × seeds, paired, parallel and resumable.

One *job* is one active-learning run of (dataset, strategy, model, seed). The seed alone fixes
the held-out split, the initial labelled set and every round's model initialisation, so all
strategies run with the same seed are paired. Each finished job is written to
``OUT/jobs/<dataset>__<strategy>__<model>__seed<k>.csv`` (atomically); rerunning with the same
``OUT`` skips the jobs whose file exists, so an interrupted grid resumes where it stopped.

Example:
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     config = RunConfig(("blobs",), ("random", "margin"), models=("logreg",), seeds=2,
    ...                        initial=10, query_size=10, budget=30, out=Path(tmp))
    ...     rounds = run_experiments(config, progress=False)
    ...     sorted(p.name for p in Path(tmp).iterdir())
    ['config.json', 'curves.png', 'jobs', 'rounds.csv', 'summary.csv']
    >>> len(rounds)  # 2 strategies x 2 seeds x 3 rounds (10, 20, 30 labels)
    12
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._registry import lookup
from ..data import load_dataset, with_test_split
from ..data.registry import DATASETS, FILE_SUFFIXES
from ..engine import resolve_initial_strategy
from ..errors import ActiveLabError
from ..loop import ActiveLearner, Budget
from ..models.base import check_capabilities
from ..models.registry import MODELS, make_model
from ..oracles import SimulatedOracle
from ..stopping import make_stopping
from ..strategies.registry import make
from .config import PROTOCOL, ConfigError, RunConfig
from .grid import Executor, Grid, GridJob, LocalExecutor, run_grid, write_csv_atomic
from .metrics import summarise
from .plots import plot_curves

__all__ = ["ROUND_COLUMNS", "ConfigError", "Job", "RunConfig", "grid_of", "plan_jobs", "run_experiments"]

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
    """One run: a dataset (``source`` is the name or absolute path to load), strategy, model, seed."""

    dataset: str
    source: str
    strategy: str
    model: str
    seed: int

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

    Everything that can be checked before training is checked here: strategy, model and
    dataset names (did-you-mean errors), that every dataset loads and its pool holds the
    budget, that every model provides the views every strategy needs, CUDA availability,
    and that ``out`` holds no results of another protocol.

    Raises:
        UnknownNameError: For an unknown strategy, model, dataset or update policy.
        ConfigError: For a budget above a pool size and other invalid settings.
        CapabilityError: If a model cannot feed a strategy (e.g. ``logreg`` with ``bald``).
        DataUnavailableError, DataFileError: If a dataset is not fetched or a file is invalid.
    """
    if not isinstance(config, RunConfig):
        raise TypeError(f"config must be a RunConfig, got {type(config).__name__}.")
    try:
        strategies = {s: make(s, **config.strategy_options.get(s, {})) for s in config.strategies}
        resolve_initial_strategy(_initial_strategy(config))
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

    labels: dict[str, str] = {}
    for name in config.datasets:
        label = dataset_label(name)
        if label in labels:
            raise ConfigError(
                f"datasets {labels[label]!r} and {name!r} would both be called {label!r} in the results; "
                "rename one of the files."
            )
        labels[label] = name
        try:
            ds = with_test_split(load_dataset(_source(name), seed=0), 0)
        except ActiveLabError:
            raise
        except (ValueError, TypeError) as err:
            raise ConfigError(f"dataset {name!r} could not be loaded: {err}") from err
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
    return [
        Job(dataset_label(d), _source(d), s, m, seed)
        for d in config.datasets
        for s in config.strategies
        for m in config.models
        for seed in config.seed_list
    ]


# --------------------------------------------------------------------------------- one job
def _accuracy(model: Any, X: np.ndarray, y: np.ndarray, chunk_size: int = 8192) -> dict[str, float]:
    """Test accuracy, predicting in chunks."""
    correct = 0
    for start in range(0, len(X), chunk_size):
        probs = model.predict_proba(X[start : start + chunk_size])
        correct += int((np.argmax(probs, axis=1) == y[start : start + chunk_size]).sum())
    return {"accuracy": correct / len(X)}


# Per-process cache of the last loaded (source, seed) split: consecutive jobs often share it.
_WORKER_CACHE: dict[tuple[str, int], Any] = {}


def _stopping(config: RunConfig) -> list[Any]:
    """Fresh stopping criteria of one job (they hold per-run state)."""
    return [make_stopping(name, **kwargs) for name, kwargs in config.stopping.items()]


def _initial_strategy(config: RunConfig) -> Any:
    """The initial strategy's name, or the strategy built with its ``strategy_options``."""
    options = config.strategy_options.get(config.initial_strategy)
    return make(config.initial_strategy, **options) if options else config.initial_strategy


def run_job(job: Job, config: RunConfig) -> pd.DataFrame:
    """Run one job and return its rows (the grid writes its file)."""
    cache = _WORKER_CACHE
    key = (job.source, job.seed)
    if key not in cache:
        cache.clear()
        cache[key] = with_test_split(load_dataset(job.source, seed=job.seed), job.seed)
    ds = cache[key]
    model = make_model(job.model, ds.n_classes, epochs=config.epochs, device=config.device, update=config.update)
    learner = ActiveLearner(
        model,
        make(job.strategy, **config.strategy_options.get(job.strategy, {})),
        SimulatedOracle(ds.y),
        ds.X,
        budget=Budget(config.initial, config.query_size, config.budget),
        seed=job.seed,
        evaluate=partial(_accuracy, X=ds.X_test, y=ds.y_test),
        initial_strategy=_initial_strategy(config),
        stopping=_stopping(config),
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
    return df.reindex(columns=[*ROUND_COLUMNS, *extra])


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
                    run_job, (j, config), group=(j.source, j.seed))
            for j in jobs
        ],
        columns=ROUND_COLUMNS,
        finish=_finish,
        describe=_describe,
        dtypes=_KEY_DTYPES,
    )


def run_experiments(config: RunConfig, progress: bool = True, executor: Executor | None = None) -> pd.DataFrame:
    """Run every job of ``config`` (skipping finished ones) and write the results into ``config.out``.

    Writes ``jobs/<dataset>__<strategy>__<model>__seed<k>.csv`` per job, then ``rounds.csv``
    (:data:`ROUND_COLUMNS`, one row per dataset, strategy, model, seed and round),
    ``summary.csv`` (:func:`~activelab.experiments.metrics.summarise`), ``curves.png``
    (:func:`~activelab.experiments.plots.plot_curves`) and ``config.json`` (the settings),
    through :func:`~activelab.experiments.grid.run_grid`.

    Args:
        config: The grid and protocol.
        progress: Report progress on stderr (a bar on a terminal, one line per job otherwise).
        executor: Where the jobs run (default: :class:`~activelab.experiments.grid.LocalExecutor`
            with ``config.workers`` processes).

    Returns:
        The rounds table (the content of ``rounds.csv``).

    Raises:
        Every error of :func:`plan_jobs` and of the grid's output check, before any job starts.
    """
    grid = grid_of(config)
    return run_grid(grid, executor or LocalExecutor(config.workers), progress=progress)
