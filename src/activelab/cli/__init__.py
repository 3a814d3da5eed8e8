"""The ``activelab`` command line (``activelab --help``): one module per command group.

- :mod:`.app`: the typer app, ``list`` and ``data``; :func:`main` is the console entry point.
- :mod:`.run`: ``run`` and ``demo``, generated from :class:`~activelab.experiments.RunConfig`.
- :mod:`.cluster`: ``cluster``, generated from :class:`~activelab.clustering.runner.ClusterRunConfig`.
- :mod:`.policy`: ``policy train``, ``policy evaluate``, ``policy train-pairs`` and ``policy train-switch``.
- :mod:`.common`: user errors, consoles, the table style, commands built from configurations.
"""

from .app import app, main

__all__ = ["app", "main"]
