"""Experiments: grids of datasets × strategies × models × seeds, metrics and plots.

The entry point is :func:`run_experiments` with a :class:`RunConfig`; ``activelab run`` on the
command line is generated from :class:`RunConfig`'s declarations. Every grid (``run``,
``cluster``, ``policy evaluate``) runs through :func:`run_grid` on an :class:`Executor`
(:class:`LocalExecutor`, or :class:`RayExecutor` with ``--backend ray``; Ray is imported only then).
"""

from .config import PROTOCOL, RunConfig
from .executors import make_executor
from .grid import Executor, Grid, GridJob, LocalExecutor, run_grid
from .metrics import learning_curve_auc, summarise
from .options import ConfigError
from .plots import plot_curves
from .ray_backend import RayExecutor
from .runner import run_experiments

__all__ = [
    "PROTOCOL",
    "ConfigError",
    "Executor",
    "Grid",
    "GridJob",
    "LocalExecutor",
    "RayExecutor",
    "RunConfig",
    "learning_curve_auc",
    "make_executor",
    "plot_curves",
    "run_experiments",
    "run_grid",
    "summarise",
]
