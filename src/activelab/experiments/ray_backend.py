"""The grid's Ray executor (``--backend ray``): jobs as Ray tasks, results written by the driver.

:class:`RayExecutor` is an :class:`~activelab.experiments.grid.Executor`: ``activelab run``,
``activelab cluster`` and ``activelab policy evaluate`` take it with ``--backend ray`` (and
``--address ADDR`` for a running cluster). Ray is imported only when this backend is chosen;
without it the error says ``pip install 'activelab[ray]'``.

How it runs a grid:

- **One task per job** (``num_cpus=cpus_per_job``, 1 by default, and as many torch threads), so
  Ray runs as many jobs at once as the cluster has CPUs; ``--workers`` is the local backend's
  setting and is not used. A job that raises, or whose worker dies, is retried
  (``retries`` times, 2 by default; Ray's ``max_retries`` with ``retry_exceptions=True``)
  before the grid fails with the job's error.
- **Results stream to the driver.** Tasks return their tables; the driver takes them as they
  finish (``ray.wait``), writes each job's files and manifest exactly as the local backend does
  (:func:`~activelab.experiments.grid.write_job`) and advances the progress bar. Tasks never
  write result files, so resume, verification and fingerprints behave as with the local
  backend, the files are the same, and with the same seeds the non-timing columns of
  ``rounds.csv`` are identical. A run may be resumed on either backend (``backend`` and
  ``address`` are not part of the protocol).
- **Per-round checkpoints only where the driver's files are.** The driver writes a token file
  into ``OUT/jobs`` (``.ray-driver-<random>.tmp-<pid>``, removed at the end; a killed driver's
  token is removed by the next run). A task that sees it (the same machine, or a filesystem
  shared with the driver) checkpoints every round into ``OUT/jobs/<name>.ckpt/`` as the local
  backend does, so an interrupted run, or a retried task, resumes from the last round. A task on
  a node that does not see it runs its job from the start without checkpoints (a retry starts
  over; an interrupted run redoes the jobs that were running).
- **Workers need activelab importable.** A local Ray (the default; or ``--address auto`` for
  one started with ``ray start --head`` on this machine) runs its workers with this Python, so
  the same environment. For a remote cluster install activelab on its nodes, or ship it with a
  runtime environment, e.g. ``RayExecutor("ray://head:10001", runtime_env={"pip":
  ["activelab[ray]"]})`` or ``{"py_modules": [<path of the activelab package>]}``; or run the
  command on the head node as a Ray job (``ray job submit --runtime-env-json ... -- activelab
  run ... --backend ray --address auto``), which keeps the files and checkpoints on the head.
  Data sets load where a task runs (registry datasets from its cache, files by path), so
  registry data must be fetched, and files reachable, on every node.
- **Lifetime.** A Ray started here is shut down when the grid ends (or fails); when this
  process already called ``ray.init`` its connection is used and left open. When the driver
  exits, Ray stops the tasks it started; they can write only checkpoints, never result files.
"""

from __future__ import annotations

import contextlib
import os
import socket
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from .grid import GridJob, JobTables, compute_job, prepare_checkpoint, write_job
from .options import ConfigError, check_backend

__all__ = ["RAY_INSTALL", "RayExecutor", "import_ray"]

#: How to install the Ray backend.
RAY_INSTALL = "pip install 'activelab[ray]'"


def import_ray() -> ModuleType:
    """Import Ray, or fail with one line saying how to install it.

    Raises:
        ConfigError: If Ray is not installed.
    """
    try:
        import ray
    except ImportError as err:
        raise ConfigError(f"--backend ray needs Ray, which is not installed ({err}); install it with {RAY_INSTALL}.") from err
    return ray


def _probe(address: str, timeout: float) -> None:
    """Fail at once if nothing listens at ``address`` (Ray itself retries an unreachable address for minutes)."""
    rest = address[len("ray://"):] if address.startswith("ray://") else address
    host, _, port = rest.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as err:
        why = err.strerror or type(err).__name__
        raise ConfigError(
            f"no Ray cluster answers at --address {address} ({why}). Check the address (a head's GCS port, "
            "6379 by default, or ray://host:10001 for Ray Client), start the cluster with `ray start --head`, "
            "or leave out --address to start a local Ray."
        ) from err


def _run_task(job: GridJob, checkpoint_dir: str | None, token: str, threads: int) -> JobTables:
    """The Ray task: run one job and return its tables; checkpoint only where the driver's token is seen."""
    from ..models.torch import torch_threads

    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None and Path(token).is_file() else None
    with torch_threads(threads):
        return compute_job(job, ckpt)


def _positive_int(name: str, value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an int >= 1, got {value!r}.")
    return value


class RayExecutor:
    """Jobs as Ray tasks on a local or remote Ray cluster; the driver writes every result file.

    See the module's documentation for how results stream back, where checkpoints go and what
    remote clusters need. Costs: one task per job (its arguments, a few kB, and its tables
    travel through Ray's object store); the driver waits on the pending tasks with
    ``ray.wait``, O(jobs) per finished job.

    Args:
        address: The cluster: ``None`` starts a local Ray (``num_cpus`` CPUs, no dashboard) and
            shuts it down at the end; ``"auto"`` connects to one running on this machine;
            ``"host:port"`` to a head's GCS; ``"ray://host:port"`` through Ray Client (needs
            ``ray[client]``). An address where nothing answers fails here, in ``probe_timeout``
            seconds, before any job starts.
        num_cpus: CPUs of a local Ray started here (default: all of this machine's).
        cpus_per_job: CPUs each task asks for, and its torch threads.
        retries: How often a failed task is retried (an exception or a dead worker).
        runtime_env: Ray runtime environment of the job (e.g. ``{"pip": ["activelab[ray]"]}``
            or ``{"py_modules": [...]}`` for a remote cluster without activelab).
        probe_timeout: Seconds to wait for the address to accept a connection.

    Raises:
        ConfigError: If Ray is not installed (naming ``pip install 'activelab[ray]'``), or the
            address is malformed or does not answer.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        num_cpus: int | None = None,
        cpus_per_job: int = 1,
        retries: int = 2,
        runtime_env: Mapping[str, Any] | None = None,
        probe_timeout: float = 5.0,
    ) -> None:
        check_backend("ray", address)
        self.address = address
        self.num_cpus = None if num_cpus is None else _positive_int("num_cpus", num_cpus)
        self.cpus_per_job = _positive_int("cpus_per_job", cpus_per_job)
        if not isinstance(retries, int) or isinstance(retries, bool) or retries < 0:
            raise ValueError(f"retries must be an int >= 0, got {retries!r}.")
        self.retries = retries
        self.runtime_env = dict(runtime_env) if runtime_env is not None else None
        self.ray = import_ray()
        if address is not None and address != "auto":
            _probe(address, probe_timeout)

    def _connect(self) -> bool:
        """Connect to (or start) the cluster; True if this call did, so :meth:`run` shuts it down."""
        ray = self.ray
        if ray.is_initialized():
            if self.address is not None:
                raise ConfigError(
                    f"Ray is already initialised in this process, so --address {self.address} cannot be used; "
                    "leave out the address to run on that cluster, or call ray.shutdown() first."
                )
            return False
        kwargs: dict[str, Any] = {"runtime_env": self.runtime_env}
        if self.address is None:
            kwargs.update(address="local", num_cpus=self.num_cpus, include_dashboard=False)
        else:
            kwargs.update(address=self.address)
        try:
            ray.init(**kwargs)
        except (ConnectionError, ValueError, RuntimeError) as err:
            where = "start a local Ray" if self.address is None else f"connect to Ray at --address {self.address}"
            raise ConfigError(f"could not {where}: {err}") from err
        return True

    @contextlib.contextmanager
    def connected(self) -> Iterator[ModuleType]:
        """Hold a connection for the ``with`` block, for callers that submit their own Ray tasks.

        Connects as :meth:`run` does (starting a local Ray when ``address`` is ``None``), yields
        the ``ray`` module, and shuts a Ray started here down when the block ends; a connection
        this process already held is used and left open. Tasks should ask ``cpus_per_job`` CPUs
        and ``retries`` retries, as :meth:`run`'s do (policy training's rollouts,
        :mod:`activelab.learned.rollouts`, are submitted so).
        """
        started = self._connect()
        try:
            yield self.ray
        finally:
            if started:
                self.ray.shutdown()

    def run(self, jobs: Sequence[GridJob], jobs_dir: Path, on_done: Callable[[GridJob, JobTables], None]) -> None:
        """Run ``jobs`` as Ray tasks; write each job's files here and call ``on_done`` as each finishes."""
        ray = self.ray
        started = self._connect()
        token = jobs_dir / f".ray-driver-{uuid.uuid4().hex}.tmp-{os.getpid()}"
        pending: dict[Any, GridJob] = {}
        try:
            token.write_bytes(b"")
            task = ray.remote(num_cpus=self.cpus_per_job, max_retries=self.retries, retry_exceptions=True)(_run_task)
            for job in jobs:
                ckpt = prepare_checkpoint(job, jobs_dir)
                ref = task.options(name=f"activelab:{job.name}").remote(
                    job, None if ckpt is None else str(ckpt), str(token), self.cpus_per_job
                )
                pending[ref] = job
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    job = pending.pop(ref)
                    tables = ray.get(ref)
                    write_job(job, jobs_dir, tables)
                    on_done(job, tables)
        except BaseException:
            for ref in pending:
                ray.cancel(ref, force=True)
            raise
        finally:
            token.unlink(missing_ok=True)
            if started:
                ray.shutdown()
