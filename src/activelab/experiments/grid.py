"""One grid runner for every experiment command: plan, check the protocol, resume, execute, write.

``activelab run``, ``activelab cluster`` and ``activelab policy evaluate`` describe their work as a
:class:`Grid`: the jobs (one learning curve each), the protocol a rerun must share, how a job
file is verified before it is reused, and how the finished table is summarised. :func:`run_grid`
does the rest, the same way for all of them:

- ``OUT/config.json`` records the command and its settings; a rerun into the same ``OUT`` with
  another protocol, or by another command, is refused before anything runs, so results of
  different work are never mixed;
- each finished job is written atomically to ``OUT/jobs/<name>.csv`` by the process that ran
  it; a rerun verifies and reuses those files and runs only the missing jobs;
- the jobs run on an :class:`Executor`: :class:`LocalExecutor` runs them in this process or in
  spawned worker processes (a Ray executor can take its place);
- ``OUT/rounds.csv`` (every job's rows, in the grid's order) and the command's summary and plot
  are written atomically at the end;
- progress: a bar on a terminal, one plain line per job otherwise.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from .options import ConfigError

__all__ = [
    "CONFIG_FILE",
    "Executor",
    "Grid",
    "GridJob",
    "LocalExecutor",
    "read_job_file",
    "run_grid",
    "write_csv_atomic",
]

#: Name of the file that records the command and settings of a grid's output directory.
CONFIG_FILE = "config.json"


def write_csv_atomic(df: pd.DataFrame, path: Path) -> Path:
    """Write ``df`` to ``path`` through a temporary file in the same directory and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    df.to_csv(tmp, index=False)
    os.replace(tmp, path)
    return path


@dataclass(frozen=True)
class GridJob:
    """One job: ``fn(*args) -> DataFrame`` (picklable: a module-level function and plain arguments).

    Attributes:
        name: Short human-readable name, e.g. ``"digits/margin/mlp/seed0"``.
        filename: File name under ``OUT/jobs/``.
        keys: Columns whose value every row of the job's table has (checked on reuse).
        fn: The function that runs the job.
        args: Its arguments.
        group: Jobs with the same group run back to back (they share loaded data).
    """

    name: str
    filename: str
    keys: Mapping[str, Any]
    fn: Callable[..., pd.DataFrame] = field(repr=False, compare=False)
    args: tuple[Any, ...] = field(default=(), repr=False, compare=False)
    group: Any = field(default=None, compare=False)


def execute_job(job: GridJob, path: Path) -> pd.DataFrame:
    """Run ``job`` and write its table atomically to ``path`` (in the process that ran it)."""
    df = job.fn(*job.args)
    write_csv_atomic(df, path)
    return df


def read_job_file(job: GridJob, path: Path, columns: Sequence[str], dtypes: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Read a finished job's file and check it is this job's, complete.

    Raises:
        ConfigError: If the file is unreadable or empty, lacks a column, or holds rows of another
            job; the message says to delete it so the job is recomputed.
    """
    try:
        df = pd.read_csv(path, dtype=dict(dtypes or {}))
    except (OSError, ValueError, pd.errors.ParserError) as err:
        raise ConfigError(f"job file {path} is unreadable ({type(err).__name__}: {err}); delete it to recompute that job.") from err
    missing = [c for c in columns if c not in df.columns]
    keys_ok = not df.empty and all(c in df.columns and (df[c] == v).all() for c, v in job.keys.items())
    if missing or not keys_ok:
        problem = f"lacks the columns {missing}" if missing else "is empty or holds rows of another job"
        raise ConfigError(f"job file {path} {problem}; delete it to recompute that job.")
    return df


@runtime_checkable
class Executor(Protocol):
    """Runs jobs and reports each finished one; the order of completion is free.

    ``run(jobs, jobs_dir, on_done)`` must call ``on_done(job, table)`` once per job, after the
    job's file is written to ``jobs_dir / job.filename`` (:func:`execute_job` does both), and
    must stop its workers before it returns or raises.
    """

    def run(self, jobs: Sequence[GridJob], jobs_dir: Path, on_done: Callable[[GridJob, pd.DataFrame], None]) -> None:
        """Run ``jobs``; call ``on_done`` for each as it finishes."""
        ...


def _init_worker(n_threads: int) -> None:
    """Initialiser of each worker process: share the cores between the workers."""
    import torch

    torch.set_num_threads(n_threads)


class LocalExecutor:
    """Jobs in this process (``workers=1``) or in ``workers`` spawned processes on this machine.

    Each worker gets ``cpu_count // workers`` torch threads (or ``threads``), so the workers
    share the cores instead of oversubscribing them. Results do not depend on ``workers``.
    """

    def __init__(self, workers: int = 1, threads: int | None = None) -> None:
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            raise ValueError(f"workers must be an int >= 1, got {workers!r}.")
        self.workers = workers
        self.threads = threads if threads is not None else max(1, (os.cpu_count() or 1) // workers)

    def run(self, jobs: Sequence[GridJob], jobs_dir: Path, on_done: Callable[[GridJob, pd.DataFrame], None]) -> None:
        """Run ``jobs`` here or in worker processes; ``on_done`` in this process, per finished job."""
        if self.workers == 1 or len(jobs) <= 1:
            from ..models.torch import torch_threads

            with torch_threads(self.threads):
                for job in jobs:
                    on_done(job, execute_job(job, jobs_dir / job.filename))
            return
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(
            max_workers=min(self.workers, len(jobs)), mp_context=context, initializer=_init_worker,
            initargs=(self.threads,),
        ) as executor:
            futures = {executor.submit(execute_job, job, jobs_dir / job.filename): job for job in jobs}
            try:
                for future in as_completed(futures):
                    on_done(futures[future], future.result())
            except BaseException:
                executor.shutdown(wait=False, cancel_futures=True)
                raise


@dataclass
class Grid:
    """What one experiment command asks of :func:`run_grid`.

    Attributes:
        command: The command's name (``"run"``, ``"cluster"``); another command's ``OUT`` is refused.
        out: Output directory.
        settings: Everything written to ``config.json``.
        protocol: The settings that decide the results; a rerun must repeat them exactly.
        jobs: The jobs, in the order their rows appear in ``rounds.csv``.
        columns: Columns every job file must have.
        finish: ``(rounds, out) -> None`` writes the summary and the plot.
        describe: ``table -> str``, one line about a finished job (e.g. its AUC).
        dtypes: Column dtypes when reading job files back (e.g. names as ``str``).
        protocol_defaults: Protocol keys that older ``config.json`` files lack, with the value
            those runs used.
        sort: Optional ``rounds -> rounds`` applied before ``rounds.csv`` is written.
    """

    command: str
    out: Path
    settings: Mapping[str, Any]
    protocol: Mapping[str, Any]
    jobs: Sequence[GridJob]
    columns: Sequence[str]
    finish: Callable[[pd.DataFrame, Path], None]
    describe: Callable[[pd.DataFrame], str] = lambda df: f"{len(df)} rounds"
    dtypes: Mapping[str, Any] = field(default_factory=dict)
    protocol_defaults: Mapping[str, Any] = field(default_factory=dict)
    sort: Callable[[pd.DataFrame], pd.DataFrame] | None = None


def _stored_command(stored: Mapping[str, Any]) -> str:
    """The command that wrote a ``config.json`` (files written before it was recorded: by their keys)."""
    if "command" in stored:
        return str(stored["command"])
    return "run" if "models" in stored else "cluster"


def check_out(grid: Grid) -> None:
    """Refuse an ``OUT`` that is a file, holds another command's results, or another protocol's.

    Raises:
        ConfigError: Naming each differing setting with both values and what to do.
    """
    out = grid.out
    if out.exists() and not out.is_dir():
        raise ConfigError(f"out ({out}) exists and is not a directory; choose a directory with --out.")
    path = out / CONFIG_FILE
    if not path.is_file():
        return
    try:
        stored = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ConfigError(f"{path} is unreadable ({err}); delete it or use another --out.") from err
    command = _stored_command(stored)
    if command != grid.command:
        raise ConfigError(
            f"{out} holds the results of `activelab {command}`, not `activelab {grid.command}`; "
            "use another --out (nothing was changed)."
        )
    diff = {}
    for key, value in grid.protocol.items():
        before = stored.get(key, grid.protocol_defaults.get(key, value))
        if before != value:
            diff[key] = (before, value)
    if diff:
        detail = ", ".join(f"{k} was {a!r}, now {b!r}" for k, (a, b) in diff.items())
        raise ConfigError(
            f"{out} holds results of another protocol ({detail}); finished jobs there would be reused. "
            f"Use another --out, or delete {out / 'jobs'} to recompute everything."
        )


class _Reporter:
    """A rich progress bar on a terminal; plain lines (flushed) when stderr is a file or a pipe."""

    def __init__(self, enabled: bool, total: int, finished: int, command: str) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.console = Console(stderr=True)
        self.enabled = enabled
        self.terminal = enabled and self.console.is_terminal
        self.total, self.finished = total, finished
        self.bar = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TextColumn("elapsed"),
            TimeElapsedColumn(), TextColumn("left"), TimeRemainingColumn(), console=self.console,
            disable=not self.terminal,
        )
        self.task = self.bar.add_task(f"{total} jobs", total=total, completed=finished)
        self.command = command

    def __enter__(self) -> _Reporter:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.bar.__exit__(None, None, None)

    def say(self, text: str) -> None:
        if not self.enabled:
            return
        if self.terminal:
            self.bar.console.print(text, highlight=False)
        else:
            sys.stderr.write(text + "\n")
            sys.stderr.flush()

    def done(self, name: str, summary: str) -> None:
        self.finished += 1
        self.say(f"[{self.finished}/{self.total}] done {name}: {summary}")
        self.bar.advance(self.task)


def run_grid(
    grid: Grid, executor: Executor | None = None, *, progress: bool = True, run_missing: bool = True
) -> pd.DataFrame:
    """Run the missing jobs of ``grid`` and write ``config.json``, ``jobs/``, ``rounds.csv``, summary and plot.

    Args:
        grid: The work (see :class:`Grid`).
        executor: Where jobs run (default :class:`LocalExecutor` with one worker).
        progress: Report progress on stderr (a bar on a terminal, plain lines otherwise).
        run_missing: ``False`` runs nothing and writes the tables of the finished jobs only (a
            report on an unfinished grid).

    Returns:
        The rounds table (the content of ``rounds.csv``).

    Raises:
        ConfigError: Before any job runs, if ``OUT`` holds another command's or protocol's results
            or a job file is unreadable; with ``run_missing=False``, if no job has finished.
    """
    check_out(grid)
    out = grid.out
    jobs_dir = out / "jobs"
    jobs_dir.mkdir(parents=True, exist_ok=True)
    tmp = out / f".{CONFIG_FILE}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps({"command": grid.command, **grid.settings, **grid.protocol}, indent=2) + "\n")
    os.replace(tmp, out / CONFIG_FILE)

    results: dict[str, pd.DataFrame] = {}
    for job in grid.jobs:
        path = jobs_dir / job.filename
        if path.is_file():
            results[job.filename] = read_job_file(job, path, grid.columns, grid.dtypes)
    todo = _execution_order(j for j in grid.jobs if j.filename not in results) if run_missing else []
    if not run_missing and not results:
        raise ConfigError(f"no finished job in {jobs_dir} for this grid.")

    with _Reporter(progress, len(grid.jobs), len(results), grid.command) as reporter:
        if results and todo:
            reporter.say(f"resuming: {len(results)} of {len(grid.jobs)} jobs already finished in {jobs_dir}; "
                         f"running the other {len(todo)}")
        elif results and run_missing:
            reporter.say(f"all {len(results)} jobs already finished in {jobs_dir}; rewriting the tables")

        def on_done(job: GridJob, df: pd.DataFrame) -> None:
            results[job.filename] = df
            reporter.done(job.name, grid.describe(df))

        if todo:
            (executor or LocalExecutor()).run(todo, jobs_dir, on_done)

    rounds = pd.concat([results[j.filename] for j in grid.jobs if j.filename in results], ignore_index=True)
    if grid.sort is not None:
        rounds = grid.sort(rounds)
    write_csv_atomic(rounds, out / "rounds.csv")
    grid.finish(rounds, out)
    return rounds


def _execution_order(jobs: Iterable[GridJob]) -> list[GridJob]:
    """Jobs of one group back to back (first appearance order), so workers reuse loaded data."""
    jobs = list(jobs)
    first: dict[Any, int] = {}
    for i, j in enumerate(jobs):
        first.setdefault(j.group, i)
    return sorted(jobs, key=lambda j: first[j.group])
