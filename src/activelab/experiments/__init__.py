"""Experiments: grids of datasets × strategies × models × seeds, metrics and plots.

The entry point is :func:`run_experiments` with a :class:`RunConfig`; ``activelab run`` on the
command line is a thin layer over it.
"""

from activelab.experiments.metrics import learning_curve_auc, summarise
from activelab.experiments.plots import plot_curves
from activelab.experiments.runner import ConfigError, RunConfig, run_experiments

__all__ = ["ConfigError", "RunConfig", "learning_curve_auc", "plot_curves", "run_experiments", "summarise"]
