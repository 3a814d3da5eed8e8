"""``make_executor``: the executor a command's ``--backend`` names.

Kept apart from :mod:`.grid` so that the grid never imports its Ray backend (which imports the
grid): the local pool lives in :mod:`.grid`, the Ray executor in :mod:`.ray_backend`.
"""

from __future__ import annotations

from .grid import Executor, LocalExecutor
from .options import check_backend

__all__ = ["make_executor"]


def make_executor(backend: str = "local", workers: int = 1, address: str | None = None) -> Executor:
    """The executor of a command's ``--backend``: :class:`LocalExecutor` or the Ray executor.

    ``backend="ray"`` imports :mod:`activelab.experiments.ray_backend` (and Ray) only now, and
    checks that Ray is installed and that ``address`` answers, before any work.

    Raises:
        ConfigError: For an unknown backend, an address without ``--backend ray``, a missing
            Ray (naming ``pip install 'activelab[ray]'``) or an address where no cluster answers.
    """
    check_backend(backend, address)
    if backend == "ray":
        from .ray_backend import RayExecutor

        return RayExecutor(address)
    return LocalExecutor(workers)
