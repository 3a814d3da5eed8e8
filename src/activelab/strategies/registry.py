"""The strategy registry: names → factories, with did-you-mean errors."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from .. import acquisition as acq
from .. import selection
from .._registry import lookup
from .base import ScoreStrategy
from .builtin import BadgeStrategy, CoresetStrategy, RandomStrategy

__all__ = ["STRATEGIES", "list_strategies", "make"]


def _score(name: str, fn: Callable[..., Any], view: str = "probs", selector: Callable[..., Any] | None = None):  # type: ignore[no-untyped-def]
    def factory(**kw: Any) -> ScoreStrategy:
        beta = kw.pop("beta", None)
        sel = selector
        if beta is not None:
            if selector is None:
                raise TypeError(f"strategy {name!r} takes no 'beta' (only stochastic strategies do).")
            sel = partial(selector, beta=beta)
        return ScoreStrategy(name=name, score=fn, view=view, selector=sel, **kw)

    return factory


#: name -> (factory(**kwargs) -> Strategy, one-line description)
STRATEGIES: dict[str, tuple[Callable[..., Any], str]] = {
    "random": (RandomStrategy, "uniformly random unlabelled items"),
    "least_confidence": (_score("least_confidence", acq.least_confidence), "lowest top-class probability"),
    "margin": (_score("margin", acq.margin), "smallest gap between the two most probable classes"),
    "entropy": (_score("entropy", acq.entropy), "highest predictive entropy"),
    "bald": (_score("bald", acq.bald, "prob_samples"), "highest mutual information (MC dropout), top-k"),
    "variation_ratio": (_score("variation_ratio", acq.variation_ratio, "prob_samples"), "most disagreeing MC-dropout votes"),
    "mean_std": (_score("mean_std", acq.mean_std, "prob_samples"), "largest mean std of class probabilities over MC draws"),
    "power_bald": (
        _score("power_bald", acq.bald, "prob_samples", selection.power),
        "BALD with power sampling (Kirsch et al. 2023): batch ∝ score^beta, diverse and cheap",
    ),
    "power_margin": (
        _score("power_margin", acq.margin, "probs", selection.power),
        "margin with power sampling: batch ∝ score^beta",
    ),
    "softmax_entropy": (
        _score("softmax_entropy", acq.entropy, "probs", selection.softmax),
        "entropy with softmax sampling: batch ∝ exp(beta·score)",
    ),
    "coreset": (CoresetStrategy, "greedy k-center on embeddings (Core-Set)"),
    "badge": (BadgeStrategy, "k-means++ on factorised gradient embeddings (BADGE)"),
}


def make(name: str, **kwargs: Any) -> Any:
    """Build a registered strategy, e.g. ``make("power_bald", beta=2.0)``.

    Raises:
        UnknownNameError: With a did-you-mean suggestion for misspelt names.
        TypeError: For keyword arguments the strategy does not take.

    Example:
        >>> make("margin").name
        'margin'
    """
    factory, _ = lookup("strategy", name, STRATEGIES, " List them with `activelab list strategies`.")
    try:
        return factory(**kwargs)
    except TypeError as err:
        raise TypeError(f"strategy {name!r}: {err}") from err


def list_strategies() -> list[tuple[str, str]]:
    """(name, description) of every registered strategy."""
    return [(k, v[1]) for k, v in STRATEGIES.items()]
