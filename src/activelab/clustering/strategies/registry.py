"""The pair-strategy registry: names → factories, with did-you-mean errors.

Imports only the strategy classes it builds (not :mod:`.features`) and the shared lookup.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..._registry import lookup
from .heuristic import Frequency, Uncertainty, Uniform
from .information import EIG, BatchIG, Entropy
from .triangles import MaxTriangle

__all__ = ["PAIR_STRATEGIES", "list_pair_strategies", "make_pair_strategy"]

#: Name -> (factory, description).
PAIR_STRATEGIES: dict[str, tuple[Callable[..., Any], str]] = {
    "uniform": (Uniform, "Uniformly random pairs."),
    "frequency": (Frequency, "Least-answered pairs first."),
    "uncertainty": (Uncertainty, "Pairs with the estimate closest to 0 first."),
    "maxmin": (lambda **kw: MaxTriangle("maxmin", **kw), "Least certain edge of bad triangles (|S|), eps-greedy."),
    "maxexp": (lambda **kw: MaxTriangle("maxexp", **kw), "Least certain edge of bad triangles (expected cost), eps-greedy."),
    "entropy": (Entropy, "Binary entropy of the mean-field same-cluster probability."),
    "eig": (EIG, "Expected information gain on the two items' assignments (mean field)."),
    "batch_ig": (BatchIG, "EIG with power/Gumbel batch sampling and a per-item cap."),
    # The recommendation, chosen before the TMLR pack's "beat" runs (docs/clustering.md): the
    # paper's best strategy; with `activelab cluster`'s solver (5 restarts, restart 0 warm).
    "default": (lambda **kw: MaxTriangle("maxexp", **kw), "The recommended strategy (now maxexp)."),
}


def make_pair_strategy(name: str, **kwargs: Any) -> Any:
    """Build a registered pair strategy.

    Example:
        >>> make_pair_strategy("maxexp").name
        'maxexp'
        >>> make_pair_strategy("maxepx")
        Traceback (most recent call last):
        ...
        activelab.errors.UnknownNameError: Unknown pair strategy 'maxepx'. Did you mean 'maxexp'? Available: batch_ig, default, eig, entropy, frequency, maxexp, maxmin, uncertainty, uniform.
    """
    return lookup("pair strategy", name, PAIR_STRATEGIES)[0](**kwargs)


def list_pair_strategies() -> list[tuple[str, str]]:
    """``(name, description)`` of each registered pair strategy, sorted."""
    return [(n, PAIR_STRATEGIES[n][1]) for n in sorted(PAIR_STRATEGIES)]
