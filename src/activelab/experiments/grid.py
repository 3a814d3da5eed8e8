"""One grid runner for every experiment command: plan, check the protocol, resume, execute, write.

``activelab run``, ``activelab cluster`` and ``activelab policy evaluate`` describe their work as a
:class:`Grid`: the jobs (one learning curve each), the protocol a rerun must share, how a job
file is verified before it is reused, and how the finished table is summarised. :func:`run_grid`
does the rest, the same way for all of them:

- ``OUT/config.json`` records the command and its settings; a rerun into the same ``OUT`` with
  another protocol, or by another command, is refused before anything runs, so results of
  different work are never mixed; an ``OUT`` that cannot be written is refused too;
- each finished job is written by the process that ran it (the driver, with the Ray executor): its tables
  (``OUT/jobs/<name>.csv``, plus ``OUT/jobs/<name>.<table>.csv`` for the grid's other
  ``tables``), each atomically, then its *manifest* ``OUT/jobs/<name>.json``, atomically and
  last. The manifest holds the job's *fingerprint* (the protocol, the fingerprints of the data
  it read, the activelab version) and each file's row count and SHA-256;
- on a rerun a job counts as finished only if its manifest is readable, every file matches its
  row count and hash, parses and holds this job's rows, and the fingerprint equals the current
  one. Any other job is redone, and one line per reason says which and why ("redoing 1 job
  (d/margin/mlp/seed0): file d__margin__mlp__seed0.csv is truncated (3 rows, manifest says 6)",
  "redoing 2 jobs (...): dataset 'd' changed since they ran (...)");
- a job that checkpoints (:attr:`GridJob.resumable`) saves its state every round into
  ``OUT/jobs/<name>.ckpt/`` (with its fingerprint in ``job.json``), resumes from there after
  an interruption, and the directory is removed once the job's files are written; a checkpoint
  of another fingerprint is discarded, with a line saying why;
- the jobs run on an :class:`Executor`: :class:`LocalExecutor` runs them in this process or in
  spawned worker processes that die with this one (Linux: a parent-death signal; elsewhere a
  watchdog thread) and never write into ``OUT`` once it is gone;
  :class:`~activelab.experiments.ray_backend.RayExecutor` runs them as Ray tasks whose tables
  stream back to this process, which writes the files (:func:`~activelab.experiments.executors.make_executor` picks one);
- ``OUT/rounds.csv`` (and ``OUT/<table>.csv`` for the other tables; every job's rows, in the
  grid's order) and the command's summary and plot are written atomically at the end;
- progress: a bar on a terminal, one plain line per job otherwise.
"""

from __future__ import annotations

import hashlib
import io
import json
import multiprocessing
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from ..engine.checkpoint import CHECKPOINT_FILE
from .options import ConfigError

__all__ = [
    "CONFIG_FILE",
    "Executor",
    "Grid",
    "GridJob",
    "JobTables",
    "LocalExecutor",
    "execute_job",
    "check_job_table",
    "compute_job",
    "prepare_checkpoint",
    "read_job_file",
    "run_grid",
    "verify_job",
    "worker_pool",
    "write_csv_atomic",
    "write_job",
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


#: A job's tables by name; ``"rounds"`` is the main one (``OUT/jobs/<name>.csv`` and ``OUT/rounds.csv``).
JobTables = dict[str, pd.DataFrame]


@dataclass(frozen=True)
class GridJob:
    """One job: ``fn(*args) -> DataFrame`` (picklable: a module-level function and plain arguments).

    Attributes:
        name: Short human-readable name, e.g. ``"digits/margin/mlp/seed0"``.
        filename: File name of its main table under ``OUT/jobs/`` (ends in ``.csv``).
        keys: Columns whose value every row of the job's table has (checked on reuse).
        fn: The function that runs the job. It returns the main table, or a dict of tables by
            name (``{"rounds": ..., "queries": ...}``; see :attr:`Grid.tables`).
        args: Its arguments.
        group: Jobs with the same group run back to back (they share loaded data).
        data: Fingerprints of the data the job reads, by dataset name (e.g.
            :func:`activelab.data.base.fingerprint`), computed once while planning; part of the
            job's fingerprint, so a job is redone when its data change.
        resumable: ``fn`` also takes ``checkpoint_dir=``: a directory under ``OUT/jobs`` where it
            checkpoints every round and resumes from after an interruption.
        fingerprint: Set by :func:`run_grid`: the protocol, :attr:`data` and the activelab
            version, written into the job's manifest (and its checkpoint directory).
    """

    name: str
    filename: str
    keys: Mapping[str, Any]
    fn: Callable[..., pd.DataFrame | Mapping[str, pd.DataFrame]] = field(repr=False, compare=False)
    args: tuple[Any, ...] = field(default=(), repr=False, compare=False)
    group: Any = field(default=None, compare=False)
    data: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)
    resumable: bool = field(default=False, compare=False)
    fingerprint: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def stem(self) -> str:
        """The file name without ``.csv``: the prefix of every file of the job."""
        return self.filename[:-4] if self.filename.endswith(".csv") else self.filename

    def table_file(self, table: str) -> str:
        """File name of one of its tables under ``OUT/jobs/``."""
        return self.filename if table == "rounds" else f"{self.stem}.{table}.csv"

    @property
    def manifest_file(self) -> str:
        """File name of its manifest under ``OUT/jobs/``."""
        return f"{self.stem}.json"

    @property
    def checkpoint_dir(self) -> str:
        """Name of its checkpoint directory under ``OUT/jobs/`` (resumable jobs)."""
        return f"{self.stem}.ckpt"


# ---------------------------------------------------------------------------- worker processes
# Set in worker processes by their initialiser: the pid of the process that started them.
_PARENT_PID: int | None = None
_PR_SET_PDEATHSIG = 1


def _exit_if_orphaned() -> None:
    """In a worker whose parent is gone: exit at once, writing nothing (no-op in the main process)."""
    if _PARENT_PID is not None and os.getppid() != _PARENT_PID:
        os._exit(1)


def _watch_parent(parent: int, interval: float) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(1)
        time.sleep(interval)


def die_with_parent(parent: int, *, interval: float = 0.25) -> None:
    """Make this process exit when ``parent`` does (call it in a child process).

    On Linux the kernel sends SIGKILL when the parent dies (``prctl(PR_SET_PDEATHSIG)``, via
    ctypes); everywhere a daemon thread also checks ``os.getppid()`` every ``interval``
    seconds and exits at once when it changed. Both catch a parent killed with SIGKILL or by
    the out-of-memory killer, which gives it no chance to stop its workers.
    """
    global _PARENT_PID
    _PARENT_PID = parent
    if sys.platform.startswith("linux"):
        import ctypes

        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
        except (OSError, AttributeError):  # no prctl (another libc): the watchdog below still works
            pass
    _exit_if_orphaned()  # the parent died before prctl took effect
    threading.Thread(target=_watch_parent, args=(parent, interval), daemon=True, name="activelab-parent-watchdog").start()


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_json_atomic(data: Any, path: Path, indent: int = 1) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=indent) + "\n")
    os.replace(tmp, path)


def _as_tables(result: pd.DataFrame | Mapping[str, pd.DataFrame]) -> JobTables:
    if isinstance(result, pd.DataFrame):
        return {"rounds": result}
    if not isinstance(result, Mapping) or not isinstance(result.get("rounds"), pd.DataFrame):
        raise TypeError(f"a grid job must return a DataFrame or a dict of them with 'rounds', got {type(result).__name__}.")
    return dict(result)


def prepare_checkpoint(job: GridJob, jobs_dir: Path) -> Path | None:
    """Create a resumable job's checkpoint directory ``<name>.ckpt/`` with its ``job.json``.

    Returns:
        The directory, or ``None`` for a job that does not checkpoint.
    """
    if not job.resumable:
        return None
    ckpt = jobs_dir / job.checkpoint_dir
    _exit_if_orphaned()
    ckpt.mkdir(parents=True, exist_ok=True)
    if not (ckpt / "job.json").is_file():
        _write_json_atomic({"job": job.name, "fingerprint": dict(job.fingerprint)}, ckpt / "job.json")
    return ckpt


def compute_job(job: GridJob, checkpoint_dir: Path | None = None) -> JobTables:
    """Run ``job`` and return its tables, writing nothing but its checkpoints.

    Args:
        job: The job.
        checkpoint_dir: Where a resumable job checkpoints every round and resumes from
            (see :func:`prepare_checkpoint`); ``None`` runs it from its start, without checkpoints.
    """
    if checkpoint_dir is not None and job.resumable:
        return _as_tables(job.fn(*job.args, checkpoint_dir=checkpoint_dir))
    return _as_tables(job.fn(*job.args))


def write_job(job: GridJob, jobs_dir: Path, tables: JobTables) -> None:
    """Write a finished job's files under ``jobs_dir``: each table atomically, then its manifest, last.

    The checkpoint directory, if any, is removed once the files are written. In a worker whose
    parent is gone nothing is written: the process exits.
    """
    files = {}
    for table, df in tables.items():
        target = jobs_dir / job.table_file(table)
        _exit_if_orphaned()
        write_csv_atomic(df, target)
        files[table] = {"file": target.name, "rows": len(df), "sha256": _sha256_file(target)}
    _exit_if_orphaned()
    _write_json_atomic(
        {"job": job.name, "keys": dict(job.keys), "fingerprint": dict(job.fingerprint), "files": files},
        jobs_dir / job.manifest_file,
    )
    if job.resumable:
        shutil.rmtree(jobs_dir / job.checkpoint_dir, ignore_errors=True)


def execute_job(job: GridJob, path: Path) -> JobTables:
    """Run ``job`` and write its files (in the process that ran it): its tables, then its manifest.

    ``path`` is the main table's file (``OUT/jobs/<name>.csv``); the other tables go beside it,
    and a resumable job checkpoints into ``<name>.ckpt/`` there, removed once the files are
    written. In a worker whose parent is gone nothing is written: the process exits. (An
    executor whose workers must not write into ``OUT``, such as the Ray executor, calls
    :func:`compute_job` in the worker and :func:`write_job` in the driver instead.)

    Returns:
        The job's tables by name.
    """
    jobs_dir = path.parent
    tables = compute_job(job, prepare_checkpoint(job, jobs_dir))
    write_job(job, jobs_dir, tables)
    return tables


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
    check_job_table(job, df, path, columns)
    return df


def check_job_table(job: GridJob, df: pd.DataFrame, path: Path, columns: Sequence[str]) -> None:
    """Check that a job's main table (read from ``path``) has ``columns`` and only this job's rows.

    Raises:
        ConfigError: If it lacks a column, is empty or holds rows of another job; the message
            says to delete the file so the job is recomputed.
    """
    missing = [c for c in columns if c not in df.columns]
    keys_ok = not df.empty and all(c in df.columns and (df[c] == v).all() for c, v in job.keys.items())
    if missing or not keys_ok:
        problem = f"lacks the columns {missing}" if missing else "is empty or holds rows of another job"
        raise ConfigError(f"job file {path} {problem}; delete it to recompute that job.")


@runtime_checkable
class Executor(Protocol):
    """Runs jobs and reports each finished one; the order of completion is free.

    ``run(jobs, jobs_dir, on_done)`` must call ``on_done(job, tables)`` once per job, after the
    job's files are written under ``jobs_dir`` (:func:`execute_job` does both and returns the
    tables; an executor whose workers do not write call :func:`prepare_checkpoint` and
    :func:`compute_job` in the worker and :func:`write_job` in the caller), and must stop its
    workers before it returns or raises. Workers must not outlive the process that called
    ``run`` (see :func:`die_with_parent`).
    """

    def run(self, jobs: Sequence[GridJob], jobs_dir: Path, on_done: Callable[[GridJob, JobTables], None]) -> None:
        """Run ``jobs``; call ``on_done`` for each as it finishes."""
        ...


def _init_worker(n_threads: int, parent: int) -> None:
    """Initialiser of each worker process: die with the parent, share the cores between the workers."""
    die_with_parent(parent)
    import torch

    torch.set_num_threads(n_threads)


# The workers' initialiser is ``exec(_WORKER_BOOT, {...})``: ``builtins.exec`` unpickles without
# importing activelab (whose import, torch included, takes seconds), so a worker arms its
# parent-death signal within milliseconds of starting, before that import, and a parent killed
# while its workers start up leaves none behind. Then the full initialiser runs.
_WORKER_BOOT = """
import os, sys
if sys.platform.startswith("linux"):
    import ctypes, signal
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass
if os.getppid() != PARENT:
    os._exit(1)
from activelab.experiments.grid import _init_worker
_init_worker(THREADS, PARENT)
"""


def worker_pool(workers: int, threads: int) -> ProcessPoolExecutor:
    """A pool of ``workers`` spawned processes that die with this one, ``threads`` torch threads each.

    Each worker arms its parent-death signal before it imports activelab, then runs
    :func:`die_with_parent` (see :class:`LocalExecutor`); the caller shuts the pool down. Functions
    sent to it must be importable (module-level) and their arguments picklable.
    """
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=exec,
        initargs=(_WORKER_BOOT, {"PARENT": os.getpid(), "THREADS": threads}),
    )


class LocalExecutor:
    """Jobs in this process (``workers=1``) or in ``workers`` spawned processes on this machine.

    Each worker gets ``cpu_count // workers`` torch threads (or ``threads``), so the workers
    share the cores instead of oversubscribing them. Results do not depend on ``workers``.
    The workers die with this process, even when it is killed with SIGKILL (see
    :func:`die_with_parent`), and write nothing once it is gone.
    """

    def __init__(self, workers: int = 1, threads: int | None = None) -> None:
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            raise ValueError(f"workers must be an int >= 1, got {workers!r}.")
        self.workers = workers
        self.threads = threads if threads is not None else max(1, (os.cpu_count() or 1) // workers)

    def run(self, jobs: Sequence[GridJob], jobs_dir: Path, on_done: Callable[[GridJob, JobTables], None]) -> None:
        """Run ``jobs`` here or in worker processes; ``on_done`` in this process, per finished job."""
        if self.workers == 1 or len(jobs) <= 1:
            from ..models.torch import torch_threads

            with torch_threads(self.threads):
                for job in jobs:
                    on_done(job, execute_job(job, jobs_dir / job.filename))
            return
        with worker_pool(min(self.workers, len(jobs)), self.threads) as executor:
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
        protocol_defaults: Protocol keys that older ``config.json`` files and job manifests
            lack, with the value those runs used: a stored file without such a key counts as
            having run with that value (its jobs are reused when the current value equals it).
        sort: Optional ``rounds -> rounds`` applied before ``rounds.csv`` is written.
        tables: Names of the jobs' other tables (e.g. ``("queries",)``): each job writes
            ``OUT/jobs/<name>.<table>.csv`` and they are combined into ``OUT/<table>.csv``.
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
    tables: Sequence[str] = ()


def _stored_command(stored: Mapping[str, Any]) -> str:
    """The command that wrote a ``config.json`` (files written before it was recorded: by their keys)."""
    if "command" in stored:
        return str(stored["command"])
    return "run" if "models" in stored else "cluster"


def check_out(grid: Grid) -> None:
    """Refuse an ``OUT`` that is a file, cannot be written, or holds another command's or protocol's results.

    Writability is probed by creating ``OUT`` if needed and writing and removing a file there.

    Raises:
        ConfigError: Naming each differing setting with both values and what to do.
    """
    out = grid.out
    if out.exists() and not out.is_dir():
        raise ConfigError(f"out ({out}) exists and is not a directory; choose a directory with --out.")
    probe = out / f".write-test-{os.getpid()}"
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise ConfigError(
            f"out ({out}) is not writable ({err.strerror or type(err).__name__}); choose another directory with --out."
        ) from err
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


def _version() -> str:
    from .. import __version__

    return __version__


def _plain(value: Any) -> Any:
    """``value`` as it reads back from JSON (tuples become lists), so fingerprints compare equal."""
    return json.loads(json.dumps(value))


def _short(fp: Any) -> str:
    if isinstance(fp, Mapping) and "sha256" in fp:
        return f"shape {fp.get('shape')} sha256 {str(fp['sha256'])[:12]}"
    return "none" if fp is None else repr(fp)


def _fingerprint_change(stored: Any, current: Mapping[str, Any]) -> str:
    """Why a stored job fingerprint is not the current one (one reason, the first that applies)."""
    if not isinstance(stored, Mapping):
        return "its manifest has no fingerprint"
    data_then, data_now = stored.get("data") or {}, current.get("data") or {}
    for name in sorted(set(data_then) | set(data_now), key=str):
        if data_then.get(name) != data_now.get(name):
            return (f"dataset {name!r} changed since {{they}} ran (fingerprint {_short(data_then.get(name))}, "
                    f"now {_short(data_now.get(name))})")
    if stored.get("activelab") != current.get("activelab"):
        return f"{{they}} ran with activelab {stored.get('activelab')}, this is {current.get('activelab')}"
    then, now = stored.get("protocol") or {}, current.get("protocol") or {}
    absent = object()
    diff = [
        f"{k} was {'absent' if a is absent else repr(a)}, now {'absent' if b is absent else repr(b)}"
        for k in sorted(set(then) | set(now), key=str)
        if (a := then.get(k, absent)) != (b := now.get(k, absent))
    ]
    return f"the protocol changed ({', '.join(diff)})" if diff else "the fingerprint differs"


def _with_protocol_defaults(stored: Any, defaults: Mapping[str, Any]) -> Any:
    """A stored job fingerprint with the protocol keys it predates filled in (see ``Grid.protocol_defaults``).

    A key a later version added to the protocol is absent from the fingerprints that older
    versions wrote; those runs used the value ``defaults`` gives, so they did the same work when
    the current value equals it (exactly what :func:`check_out` applies to ``config.json``).
    """
    if not isinstance(stored, Mapping) or not isinstance(stored.get("protocol"), Mapping) or not defaults:
        return stored
    protocol = {**{k: v for k, v in defaults.items() if k not in stored["protocol"]}, **stored["protocol"]}
    return {**stored, "protocol": _plain(protocol)}


def verify_job(grid: Grid, job: GridJob, jobs_dir: Path) -> tuple[JobTables | None, str | None]:
    """Is ``job`` finished in ``jobs_dir``, with files that still hold and the current fingerprint?

    Returns:
        ``(tables, None)`` for a finished job; ``(None, None)`` if it has left no file (never
        started, or interrupted: it may have a checkpoint); ``(None, reason)`` if its files
        cannot be reused, ``reason`` saying why (``{they}`` stands for the job or jobs).
    """
    manifest_path = jobs_dir / job.manifest_file
    main = jobs_dir / job.filename
    if not manifest_path.is_file():
        return (None, "no manifest beside {their} file (written by an older version, or interrupted while "
                      "writing)") if main.is_file() else (None, None)
    try:
        manifest = json.loads(manifest_path.read_text())
        files = manifest["files"]
        stored = manifest["fingerprint"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        return None, f"{{their}} manifest is unreadable ({type(err).__name__})"
    missing_tables = [t for t in ("rounds", *grid.tables) if t not in files]
    if missing_tables:
        return None, f"{{they}} lack the table(s) {', '.join(missing_tables)} (written by an older version)"
    tables: JobTables = {}
    for table in ("rounds", *grid.tables):
        path = jobs_dir / job.table_file(table)
        entry = files[table]
        if not path.is_file():
            return None, f"file {path.name} is missing"
        try:  # one read of the file: hashed, then parsed from the same bytes
            raw = path.read_bytes()
            intact = hashlib.sha256(raw).hexdigest() == entry["sha256"]
            df = pd.read_csv(io.BytesIO(raw), dtype=dict(grid.dtypes)) if table == "rounds" else pd.read_csv(io.BytesIO(raw))
        except (OSError, ValueError, KeyError, TypeError, pd.errors.ParserError) as err:
            return None, f"file {path.name} is unreadable ({type(err).__name__})"
        if not intact:
            rows = entry.get("rows")
            if isinstance(rows, int) and len(df) < rows:
                return None, f"file {path.name} is truncated ({len(df)} rows, manifest says {rows})"
            return None, f"file {path.name} was changed after it was written (its SHA-256 differs from the manifest's)"
        if table == "rounds":
            try:
                check_job_table(job, df, path, grid.columns)
            except ConfigError as err:
                return None, str(err).split(";")[0].replace(f"job file {path}", f"file {path.name}")
        tables[table] = df
    stored = _with_protocol_defaults(stored, grid.protocol_defaults)
    if _plain(stored) != _plain(job.fingerprint):
        return None, _fingerprint_change(stored, job.fingerprint)
    return tables, None


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale_temporaries(*dirs: Path) -> None:
    """Temporary files (``.<name>.tmp-<pid>``) left by a process that was killed while writing."""
    for d in dirs:
        for tmp in d.glob(".*.tmp-*"):
            pid = tmp.name.rsplit("-", 1)[-1]
            if pid.isdigit() and not _pid_alive(int(pid)):
                tmp.unlink(missing_ok=True)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _grouped(reasons: Mapping[str, list[GridJob]], verb: str) -> list[str]:
    """One line per reason: '<verb> 2 jobs (a, b): <reason>'."""
    lines = []
    for reason, jobs in reasons.items():
        names = ", ".join(j.name for j in jobs[:3]) + (f", ... ({len(jobs)} in all)" if len(jobs) > 3 else "")
        one = len(jobs) == 1
        text = reason.replace("{they}", "it" if one else "they").replace("{their}", "its" if one else "their")
        lines.append(f"{verb} {_plural(len(jobs), 'job')} ({names}): {text}")
    return lines


def run_grid(
    grid: Grid, executor: Executor | None = None, *, progress: bool = True, run_missing: bool = True
) -> pd.DataFrame:
    """Run the missing jobs of ``grid`` and write ``config.json``, ``jobs/``, ``rounds.csv``, summary and plot.

    Args:
        grid: The work (see :class:`Grid`).
        executor: Where jobs run (default :class:`LocalExecutor` with one worker).
        progress: Report progress on stderr (a bar on a terminal, plain lines otherwise),
            including one line per reason why finished jobs are redone.
        run_missing: ``False`` runs nothing and writes the tables of the finished jobs only (a
            report on an unfinished grid).

    Returns:
        The rounds table (the content of ``rounds.csv``).

    Raises:
        ConfigError: Before any job runs, if ``OUT`` holds another command's or protocol's
            results or cannot be written; with ``run_missing=False``, if no job has finished.
    """
    check_out(grid)
    out = grid.out
    jobs_dir = out / "jobs"
    jobs_dir.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(out, jobs_dir)
    _write_json_atomic({"command": grid.command, **grid.settings, **grid.protocol}, out / CONFIG_FILE, indent=2)

    version, protocol = _version(), _plain(dict(grid.protocol))
    jobs = [
        replace(j, fingerprint={"protocol": protocol, "data": _plain(dict(j.data)), "activelab": version})
        for j in grid.jobs
    ]
    results: dict[str, JobTables] = {}
    redo: dict[str, list[GridJob]] = {}
    for job in jobs:
        tables, reason = verify_job(grid, job, jobs_dir)
        if tables is not None:
            results[job.filename] = tables
            shutil.rmtree(jobs_dir / job.checkpoint_dir, ignore_errors=True)  # left by a kill after the files
        elif reason is not None:
            redo.setdefault(reason, []).append(job)
    todo = _execution_order(j for j in jobs if j.filename not in results) if run_missing else []
    if not run_missing and not results:
        raise ConfigError(f"no finished job in {jobs_dir} for this grid.")
    discard: dict[str, list[GridJob]] = {}
    resumed = []
    for job in todo:
        (jobs_dir / job.manifest_file).unlink(missing_ok=True)  # its files are no longer vouched for
        ckpt = jobs_dir / job.checkpoint_dir
        if not job.resumable or not ckpt.is_dir():
            continue
        if not (ckpt / CHECKPOINT_FILE).is_file():  # interrupted before its first round ended: nothing to keep
            shutil.rmtree(ckpt, ignore_errors=True)
            continue
        try:
            stored = json.loads((ckpt / "job.json").read_text())["fingerprint"]
        except (OSError, ValueError, KeyError, TypeError):
            stored = None
        if stored is not None and _plain(stored) == _plain(job.fingerprint):
            resumed.append(job)  # run first, so that interrupted jobs finish before new ones start
        else:
            reason = "its checkpoint has no readable job.json" if stored is None else _fingerprint_change(stored, job.fingerprint)
            discard.setdefault(reason, []).append(job)
            shutil.rmtree(ckpt, ignore_errors=True)
    todo = resumed + [j for j in todo if j not in resumed]

    with _Reporter(progress, len(jobs), len(results), grid.command) as reporter:
        for line in _grouped(redo, "redoing") + _grouped(discard, "discarding the checkpoint of"):
            reporter.say(line)
        if resumed:
            reporter.say(f"resuming {_plural(len(resumed), 'job')} from {'its' if len(resumed) == 1 else 'their'} "
                         "last checkpointed round")
        if results and todo:
            reporter.say(f"resuming: {len(results)} of {len(jobs)} jobs already finished in {jobs_dir}; "
                         f"running the other {len(todo)}")
        elif results and run_missing:
            reporter.say(f"all {len(results)} jobs already finished in {jobs_dir}; rewriting the tables")

        def on_done(job: GridJob, tables: JobTables) -> None:
            results[job.filename] = tables
            reporter.done(job.name, grid.describe(tables["rounds"]))

        if todo:
            (executor or LocalExecutor()).run(todo, jobs_dir, on_done)

    finished = [results[j.filename] for j in jobs if j.filename in results]
    rounds = pd.concat([t["rounds"] for t in finished], ignore_index=True)
    if grid.sort is not None:
        rounds = grid.sort(rounds)
    write_csv_atomic(rounds, out / "rounds.csv")
    for table in grid.tables:
        parts = [t[table] for t in finished if table in t]
        if parts:
            write_csv_atomic(pd.concat(parts, ignore_index=True), out / f"{table}.csv")
    grid.finish(rounds, out)
    return rounds


def _execution_order(jobs: Iterable[GridJob]) -> list[GridJob]:
    """Jobs of one group back to back (first appearance order), so workers reuse loaded data."""
    jobs = list(jobs)
    first: dict[Any, int] = {}
    for i, j in enumerate(jobs):
        first.setdefault(j.group, i)
    return sorted(jobs, key=lambda j: first[j.group])
