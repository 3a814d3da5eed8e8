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

import json
import multiprocessing
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._registry import lookup
from ..data import load_dataset, with_test_split
from ..data.registry import DATASETS, FILE_SUFFIXES
from ..errors import ActiveLabError
from ..engine import resolve_initial_strategy
from ..loop import ActiveLearner, Budget
from ..models.base import check_capabilities
from ..models.registry import MODELS, make_model
from ..models.torch import UPDATE_POLICIES
from ..oracles import SimulatedOracle
from ..stopping import STOPPING, make_stopping
from ..strategies.registry import make
from .metrics import summarise
from .plots import plot_curves

__all__ = ["ROUND_COLUMNS", "ConfigError", "Job", "RunConfig", "plan_jobs", "run_experiments"]

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
# Settings that change the results of a job: a rerun into the same OUT must use the same ones.
_PROTOCOL = ("initial", "query_size", "budget", "epochs", "update", "initial_strategy", "strategy_options", "stopping")
_CONFIG_FILE = "config.json"


class ConfigError(ActiveLabError, ValueError):
    """An experiment configuration is invalid; the message names the setting and the fix."""


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _names(name: str, value: Any) -> tuple[str, ...]:
    """Normalise a list of names (a single str or path is one name)."""
    if isinstance(value, (str, os.PathLike)):
        value = (value,)
    try:
        items = tuple(value)
    except TypeError as err:
        raise TypeError(f"{name} must be a sequence of names, got {type(value).__name__}.") from err
    out = []
    for item in items:
        if isinstance(item, os.PathLike):
            item = os.fspath(item)
        if not isinstance(item, str) or not item.strip():
            raise TypeError(f"{name} must hold non-empty strings, got {item!r}.")
        out.append(item.strip())
    if not out:
        raise ConfigError(f"{name} is empty; give at least one (see `activelab list {name}`).")
    dupes = sorted({n for n in out if out.count(n) > 1})
    if dupes:
        raise ConfigError(f"{name} lists {', '.join(map(repr, dupes))} more than once; give each once.")
    return tuple(out)


def _int(name: str, value: Any, minimum: int) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{name} ({_flag(name)}) must be an int, got {type(value).__name__} {value!r}.")
    if value < minimum:
        raise ConfigError(f"{name} ({_flag(name)}) must be an int >= {minimum}, got {value}.")


def _json_kwargs(setting: str, name: str, kwargs: Any) -> dict[str, Any]:
    """``kwargs`` as a plain dict that survives a JSON round trip (paths become strings)."""
    if not isinstance(kwargs, Mapping) or not all(isinstance(k, str) for k in kwargs):
        raise TypeError(f"{setting}[{name!r}] must be a dict of keyword arguments, got {kwargs!r}.")
    clean = {k: os.fspath(v) if isinstance(v, os.PathLike) else v for k, v in kwargs.items()}
    try:
        same = json.loads(json.dumps(clean)) == clean
    except (TypeError, ValueError):
        same = False
    if not same:
        raise ConfigError(
            f"{setting}[{name!r}] = {kwargs!r} is not JSON-serialisable as given (use str, int, float, "
            "bool, None, lists and dicts); it is stored in config.json."
        )
    return clean


def _keyword_table(setting: str, value: Any, known: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Check ``{name: {kwarg: value}}`` against the registered ``known`` names."""
    if not isinstance(value, Mapping):
        raise TypeError(f"{setting} must map names to keyword dicts, got {type(value).__name__}.")
    for name in value:
        lookup(setting.replace("_", " "), name, known)
    return {name: _json_kwargs(setting, name, kwargs) for name, kwargs in value.items()}


def _strategy_options(value: Any, strategies: tuple[str, ...], initial_strategy: str) -> dict[str, dict[str, Any]]:
    """Check and normalise ``strategy_options`` to a JSON-round-trippable ``{name: {kwarg: value}}``."""
    if not isinstance(value, Mapping):
        raise TypeError(f"strategy_options must map strategy names to keyword dicts, got {type(value).__name__}.")
    out: dict[str, dict[str, Any]] = {}
    for name, kwargs in value.items():
        if name not in strategies and name != initial_strategy:
            raise ConfigError(
                f"strategy_options names strategy {name!r}, which is neither among the strategies {list(strategies)} "
                "nor the initial strategy; add it or drop its options."
            )
        out[name] = _json_kwargs("strategy_options", name, kwargs)
    return out


@dataclass(frozen=True)
class RunConfig:
    """A grid of active-learning runs and the protocol they share.

    Attributes:
        datasets: Registered dataset names (``activelab list datasets``) or ``.npz``/``.csv``
            paths; a single string is one dataset.
        strategies: Registered strategy names (``activelab list strategies``).
        models: Registered model names (``activelab list models``).
        seeds: Number of seeds; runs use seeds ``0 .. seeds-1``.
        initial: Size of the initial labelled set; 0 = no labels to start with (the initial
            strategy picks the first ``query_size`` items before any model exists).
        query_size: Labels acquired per round.
        budget: Total labels, including the initial set.
        epochs: Training epochs per fit (``None``: the model's default).
        workers: Parallel worker processes (1 = run in this process).
        device: ``"cpu"`` or ``"cuda"`` (``"cuda:N"``).
        update: Update policy of torch models (``retrain``, ``warm_start``, ``finetune``;
            ``None``: the model's default).
        initial_strategy: How the initial set is chosen (``--initial-strategy``): ``random``
            (default), ``kmeans``, ``typiclust``, ``probcover`` (or another strategy that needs
            at most embeddings), run on the input features; the same for every strategy of a seed.
        strategy_options: Keyword arguments per strategy name, e.g.
            ``{"policy": {"path": "my_policy.pt"}}`` or ``{"power_bald": {"beta": 2.0}}``;
            values must be JSON-serialisable (they are stored in ``config.json`` and a rerun
            into the same ``out`` must use the same ones). Names must be among ``strategies``
            or be the ``initial_strategy``, which is then built with its options too.
        stopping: Stopping criteria by name with their keyword arguments (``--stop``), e.g.
            ``{"stabilizing_predictions": {"threshold": 0.99}}``; see
            :data:`activelab.stopping.STOPPING`. A run also stops when the budget is spent; job
            files then get a ``stop_reason`` column (empty until the round that stopped).
        out: Output directory (keyword-only).

    Raises:
        TypeError: If a setting has the wrong type.
        ConfigError: If a value is out of range (e.g. ``budget < initial``).
    """

    datasets: tuple[str, ...]
    strategies: tuple[str, ...]
    models: tuple[str, ...] = ("mlp",)
    seeds: int = 3
    initial: int = 20
    query_size: int = 10
    budget: int = 320
    epochs: int | None = None
    workers: int = 1
    device: str = "cpu"
    update: str | None = None
    initial_strategy: str = "random"
    strategy_options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    stopping: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    out: Path = field(kw_only=True)

    def __post_init__(self) -> None:
        for name in ("datasets", "strategies", "models"):
            object.__setattr__(self, name, _names(name, getattr(self, name)))
        if not isinstance(self.out, (str, os.PathLike)):
            raise TypeError(f"out must be a directory path, got {type(self.out).__name__}.")
        object.__setattr__(self, "out", Path(self.out).expanduser())
        _int("seeds", self.seeds, 1)
        _int("initial", self.initial, 0)
        _int("query_size", self.query_size, 1)
        _int("budget", self.budget, 1)
        _int("workers", self.workers, 1)
        if self.epochs is not None:
            _int("epochs", self.epochs, 1)
        if self.budget < self.initial:
            raise ConfigError(
                f"budget (--budget {self.budget}) is smaller than the initial set (--initial {self.initial}); "
                f"the budget counts the initial labels, so raise --budget to at least {self.initial} "
                "or lower --initial."
            )
        if not isinstance(self.device, str) or not re.fullmatch(r"cpu|cuda(:\d+)?", self.device):
            raise ConfigError(f"device (--device) must be 'cpu' or 'cuda' (or 'cuda:N'), got {self.device!r}.")
        if self.update is not None:
            lookup("update policy", self.update, UPDATE_POLICIES)
        if not isinstance(self.initial_strategy, str):
            raise TypeError(f"initial_strategy (--initial-strategy) must be a name, got {type(self.initial_strategy).__name__}.")
        try:
            resolve_initial_strategy(self.initial_strategy)
        except ValueError as err:
            raise ConfigError(f"initial_strategy (--initial-strategy): {err}") from err
        object.__setattr__(self, "strategy_options", _strategy_options(self.strategy_options, self.strategies, self.initial_strategy))
        object.__setattr__(self, "stopping", _keyword_table("stopping", self.stopping, STOPPING))

    @property
    def seed_list(self) -> tuple[int, ...]:
        """The seeds used: ``0 .. seeds-1``."""
        return tuple(range(self.seeds))


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


def _check_out(config: RunConfig) -> None:
    out = config.out
    if out.exists() and not out.is_dir():
        raise ConfigError(f"out ({out}) exists and is not a directory; choose a directory with --out.")
    stored_path = out / _CONFIG_FILE
    if not stored_path.is_file():
        return
    try:
        stored = json.loads(stored_path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ConfigError(f"{stored_path} is unreadable ({err}); delete it or use another --out.") from err
    diff = [k for k in _PROTOCOL if k in stored and stored[k] != getattr(config, k)]
    if diff:
        detail = ", ".join(f"{k} was {stored[k]!r}, now {getattr(config, k)!r}" for k in diff)
        raise ConfigError(
            f"{out} holds results of another protocol ({detail}); finished jobs there would be reused. "
            f"Use another --out, or delete {out / 'jobs'} to recompute everything."
        )


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
    _check_out(config)
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


def _init_worker(n_threads: int) -> None:
    """Initialiser of each worker process: share the cores between the workers."""
    import torch

    torch.set_num_threads(n_threads)


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    """Write ``df`` to ``path`` atomically (temporary file in the same directory, then rename)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    df.to_csv(tmp, index=False)
    os.replace(tmp, path)


def _stopping(config: RunConfig) -> list[Any]:
    """Fresh stopping criteria of one job (they hold per-run state)."""
    return [make_stopping(name, **kwargs) for name, kwargs in config.stopping.items()]


def _initial_strategy(config: RunConfig) -> Any:
    """The initial strategy's name, or the strategy built with its ``strategy_options``."""
    options = config.strategy_options.get(config.initial_strategy)
    return make(config.initial_strategy, **options) if options else config.initial_strategy


def _run_job(job: Job, config: RunConfig, jobs_dir: Path, cache: dict[tuple[str, int], Any] | None = None) -> pd.DataFrame:
    """Run one job, write its file atomically and return its rows."""
    cache = _WORKER_CACHE if cache is None else cache
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
    df = df.reindex(columns=[*ROUND_COLUMNS, *extra])
    _write_csv(df, jobs_dir / job.filename)
    return df


def _read_job(job: Job, path: Path) -> pd.DataFrame:
    df = pd.read_csv(path, dtype=_KEY_DTYPES)
    missing = [c for c in ROUND_COLUMNS if c not in df.columns]
    keys_ok = not df.empty and all(
        (df[c] == v).all() for c, v in (("dataset", job.dataset), ("strategy", job.strategy), ("model", job.model), ("seed", job.seed))
    )
    if missing or not keys_ok:
        problem = f"lacks the columns {missing}" if missing else "holds rows of another job"
        raise ConfigError(f"job file {path} {problem}; delete it to recompute that job.")
    return df


# --------------------------------------------------------------------------------- the grid
def _progress_bar(progress: bool) -> tuple[Any, bool]:
    """A rich progress bar on stderr, and whether it is shown (only on a terminal)."""
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    console = Console(stderr=True)
    enabled = progress and console.is_terminal
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("elapsed"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=console,
        disable=not enabled,
    )
    return bar, enabled


def _execute(
    todo: Sequence[Job],
    config: RunConfig,
    jobs_dir: Path,
    on_done: Callable[[Job, pd.DataFrame], None],
) -> None:
    """Run ``todo`` in this process (workers=1) or in spawned worker processes."""
    n_threads = max(1, (os.cpu_count() or 1) // config.workers)
    if config.workers == 1:
        from ..models.torch import torch_threads

        cache: dict[tuple[str, int], Any] = {}
        with torch_threads(n_threads):
            for job in todo:
                on_done(job, _run_job(job, config, jobs_dir, cache))
        return
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=min(config.workers, len(todo)),
        mp_context=context,
        initializer=_init_worker,
        initargs=(n_threads,),
    ) as executor:
        futures = {executor.submit(_run_job, job, config, jobs_dir): job for job in todo}
        try:
            for future in as_completed(futures):
                on_done(futures[future], future.result())
        except BaseException:
            executor.shutdown(wait=False, cancel_futures=True)
            raise


def _execution_order(jobs: Iterable[Job]) -> list[Job]:
    """Jobs sharing a (dataset, seed) back to back, so workers reuse the loaded split."""
    jobs = list(jobs)
    first = {j.source: i for i, j in reversed(list(enumerate(jobs)))}
    return sorted(jobs, key=lambda j: (first[j.source], j.seed))


def run_experiments(config: RunConfig, progress: bool = True) -> pd.DataFrame:
    """Run every job of ``config`` (skipping finished ones) and write the results into ``config.out``.

    Writes ``jobs/<dataset>__<strategy>__<model>__seed<k>.csv`` per job, then ``rounds.csv``
    (:data:`ROUND_COLUMNS`, one row per dataset, strategy, model, seed and round),
    ``summary.csv`` (:func:`~activelab.experiments.metrics.summarise`), ``curves.png``
    (:func:`~activelab.experiments.plots.plot_curves`) and ``config.json`` (the settings).

    Args:
        config: The grid and protocol.
        progress: Show a progress bar on stderr (only when it is a terminal).

    Returns:
        The rounds table (the content of ``rounds.csv``).

    Raises:
        Every error of :func:`plan_jobs`, before any job starts.
    """
    jobs = plan_jobs(config)
    out = config.out
    jobs_dir = out / "jobs"
    jobs_dir.mkdir(parents=True, exist_ok=True)
    settings = {
        "datasets": list(config.datasets),
        "strategies": list(config.strategies),
        "models": list(config.models),
        "seeds": config.seeds,
        **{k: getattr(config, k) for k in _PROTOCOL},
        "device": config.device,
    }
    tmp = out / f".{_CONFIG_FILE}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(settings, indent=2) + "\n")
    os.replace(tmp, out / _CONFIG_FILE)

    results: dict[Job, pd.DataFrame] = {}
    for job in jobs:
        path = jobs_dir / job.filename
        if path.is_file():
            results[job] = _read_job(job, path)
    todo = _execution_order(j for j in jobs if j not in results)

    bar, shown = _progress_bar(progress)
    with bar:
        task = bar.add_task(f"{len(jobs)} jobs", total=len(jobs), completed=len(results))
        if shown and results and todo:
            bar.console.print(f"resuming: {len(results)} of {len(jobs)} jobs already finished in {jobs_dir}")

        def on_done(job: Job, df: pd.DataFrame) -> None:
            results[job] = df
            if shown:
                acc = df["accuracy"]
                bar.console.print(f"done {job.name}: AUC {acc.mean():.4f}, final accuracy {acc.iloc[-1]:.4f}")
            bar.advance(task)

        if todo:
            _execute(todo, config, jobs_dir, on_done)

    rounds = pd.concat([results[j] for j in jobs], ignore_index=True)
    _write_csv(rounds, out / "rounds.csv")
    _write_csv(summarise(rounds), out / "summary.csv")
    plot_curves(rounds, out / "curves.png")
    return rounds
