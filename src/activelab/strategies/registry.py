"""The strategy registry: names → factories, with did-you-mean errors.

An entry is a factory ``(**kwargs) -> Strategy`` or, like Gymnasium's environment registry, a
``"module:attribute"`` string imported only when the strategy is built. The registry imports no
strategy module: the strategy classes, and plugins such as the learned ``policy`` (torch and a
policy file), load on first use, and composite strategies (bandits, hybrids) resolve their arms'
names through :func:`make` without an import cycle. :func:`register` adds a user's own strategy.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from .. import acquisition as acq
from .. import selection
from .._registry import lookup
from .base import ScoreStrategy, Strategy, sampling_selector

__all__ = ["STRATEGIES", "list_strategies", "make", "register", "resolve"]


def _score(
    name: str, fn: Callable[..., Any], view: str | tuple[str, ...] = "probs", selector: Callable[..., Any] | None = None
) -> Callable[..., ScoreStrategy]:
    def factory(**kw: Any) -> ScoreStrategy:
        beta = kw.pop("beta", None)
        sampling = kw.pop("sampling", None)
        sel = selector if sampling is None else sampling_selector(sampling)
        if beta is not None:
            if sel is None:
                raise TypeError(
                    f"strategy {name!r} takes no 'beta' (only stochastic strategies do; "
                    "add sampling='power', 'softmax' or 'rank')."
                )
            sel = partial(sel, beta=selection.check_beta(beta))  # checked now, not in the first select()
        return ScoreStrategy(name=name, score=fn, view=view, selector=sel, **kw)

    return _sampleable(factory)


_SAMPLINGS = ("power", "softmax", "rank")
_Factory = TypeVar("_Factory", bound=Callable[..., Any])


def _sampleable(factory: _Factory) -> _Factory:
    """Mark a factory that takes ``sampling=``: ``power_/softmax_/rank_<its name>`` then resolve."""
    factory.accepts_sampling = True  # type: ignore[attr-defined]  # mypy models no attributes on functions
    return factory


def _information_density(beta: float = 1.0, uncertainty: str = "entropy", **kw: Any) -> ScoreStrategy:
    """Density-weighted uncertainty; ``beta`` here weights the density term (not a sampling temperature)."""
    score = partial(acq.information_density, beta=beta, uncertainty=uncertainty)
    return ScoreStrategy(name="information_density", score=score, view=("probs", "embeddings"), **kw)


def _epig(**kw: Any) -> Any:
    return resolve("activelab.strategies.bayesian:EpigStrategy")(**kw)


#: name -> (factory(**kwargs) -> Strategy, or a lazy "module:attribute" string; one-line description)
STRATEGIES: dict[str, tuple[Callable[..., Any] | str, str]] = {
    "random": ("activelab.strategies.builtin:RandomStrategy", "uniformly random unlabelled items"),
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
    "power_entropy": (
        _score("power_entropy", acq.entropy, "probs", selection.power),
        "entropy with power sampling: batch ∝ score^beta",
    ),
    "rank_bald": (
        _score("rank_bald", acq.bald, "prob_samples", selection.rank),
        "BALD with rank sampling (softrank): batch ∝ rank^-beta; rank_/power_/softmax_ + any score name work",
    ),
    "rank_margin": (_score("rank_margin", acq.margin, "probs", selection.rank), "margin with rank sampling: batch ∝ rank^-beta"),
    "rank_entropy": (_score("rank_entropy", acq.entropy, "probs", selection.rank), "entropy with rank sampling: batch ∝ rank^-beta"),
    "batchbald": (
        "activelab.strategies.bayesian:BatchBaldStrategy",
        "greedy joint mutual information of the batch (BatchBALD, Kirsch et al. 2019), consistent MC dropout or 'ensemble'",
    ),
    "epig": (_sampleable(_epig), "expected predictive information gain on 100 pool targets (EPIG, Bickford Smith et al. 2023)"),
    "power_epig": (
        _sampleable(partial(_epig, name="power_epig", sampling="power")),
        "EPIG with power sampling: diverse batches ∝ EPIG^beta",
    ),
    "qbc_vote": (
        _score("qbc_vote", acq.vote_entropy, "prob_samples"),
        "query by committee: entropy of the members' votes (ensemble, SklearnCommittee or MC dropout)",
    ),
    "qbc_kl": (
        _score("qbc_kl", acq.consensus_kl, "prob_samples"),
        "query by committee: mean KL of the members from their consensus (same value as BALD)",
    ),
    "coreset": ("activelab.strategies.builtin:CoresetStrategy", "greedy k-center on embeddings (Core-Set)"),
    "badge": ("activelab.strategies.builtin:BadgeStrategy", "k-means++ on factorised gradient embeddings (BADGE)"),
    "cal": ("activelab.strategies.builtin:CALStrategy", "contrastive: KL from the nearest labelled neighbours' predictions (CAL)"),
    "egl": (_score("egl", acq.expected_gradient_length, ("probs", "embeddings")), "expected gradient length of the output layer (EGL)"),
    "dal": ("activelab.strategies.builtin:DiscriminativeStrategy", "discriminative AL: surest 'unlabelled' under a labelled-vs-unlabelled classifier (DAL)"),
    "information_density": (
        _information_density, "entropy x mean cosine similarity to the pool, O(N·D) (Settles & Craven)"
    ),
    "typiclust": ("activelab.strategies.coldstart:TypiClustStrategy", "most typical item of the largest uncovered k-means clusters (TypiClust; cold start)"),
    "probcover": ("activelab.strategies.coldstart:ProbCoverStrategy", "greedy max coverage of delta-balls in embedding space (ProbCover; cold start)"),
    "kmeans": ("activelab.strategies.coldstart:KMeansStrategy", "item nearest each of k k-means centroids of the unlabelled embeddings"),
    "tcm": (
        "activelab.strategies.switching:TCMStrategy",
        "typiclust until switch_per_class labels per class (default 3), then margin (TCM, Doucet et al. 2024)",
    ),
    "selectal": (
        "activelab.strategies.switching:SelectALStrategy",
        "typiclust or margin each round, as a simulation on the labelled set decides (after SelectAL, Hacohen & Weinshall 2023)",
    ),
    "cluster_margin": ("activelab.strategies.hybrid:ClusterMarginStrategy", "margin filter, average-linkage clusters, round-robin from the smallest (Cluster-Margin)"),
    "two_step": ("activelab.strategies.hybrid:TwoStepStrategy", "top factor*k by a score (score=margin), then k-center among them"),
    "mixture": ("activelab.strategies.hybrid:MixtureStrategy", "top-k of a weighted sum of rank-normalised scores (weights={'margin': 0.5, 'entropy': 0.5})"),
    "policy": ("activelab.learned.strategy:PolicyStrategy", "learned acquisition policy (shipped default, or path=FILE from `activelab policy train`)"),
    "learning_loss": (
        "activelab.strategies.lossnet:LearningLossStrategy",
        "highest predicted loss from a Learning Loss head (Yoo & Kweon 2019; model 'mlp_lossnet')",
    ),
    "albl": (
        "activelab.strategies.bandits:ALBLStrategy",
        "EXP4.P bandit over random/margin/entropy/coreset, importance-weighted accuracy reward (Hsu & Lin 2015)",
    ),
    "tailor": (
        "activelab.strategies.bandits:TailorStrategy",
        "Thompson sampling over random/margin/entropy/coreset, class-balancing reward (TAILOR, Zhang et al. 2023)",
    ),
}


def make(name: str, **kwargs: Any) -> Strategy:
    """Build a registered strategy, e.g. ``make("power_bald", beta=2.0)``.

    Score strategies (and ``epig``) take ``sampling="top_k"|"power"|"softmax"|"rank"`` and
    ``beta``; ``power_<name>``, ``softmax_<name>`` and ``rank_<name>`` resolve for each of them
    even when not listed (``make("rank_variation_ratio")``).

    Raises:
        UnknownNameError: With a did-you-mean suggestion for misspelt names.
        TypeError: For keyword arguments the strategy does not take.

    Example:
        >>> make("margin").name
        'margin'
    """
    prefix, _, base = name.partition("_")
    if name not in STRATEGIES and prefix in _SAMPLINGS and _accepts_sampling(base):
        if "sampling" in kwargs:
            raise TypeError(f"strategy {name!r} already fixes sampling={prefix!r}; use make({base!r}, sampling=...).")
        strategy = make(base, sampling=prefix, **kwargs)  # e.g. rank_mean_std = mean_std with rank sampling
        # the sampling factories build dataclasses (ScoreStrategy, EpigStrategy) whose name is a
        # writable field; the Strategy protocol only promises a readable one
        renamed: Any = strategy
        renamed.name = name
        return strategy
    entry, _ = lookup("strategy", name, STRATEGIES, " List them with `activelab list strategies`.")
    factory = resolve(entry) if isinstance(entry, str) else entry
    try:
        built: Strategy = factory(**kwargs)
    except TypeError as err:
        raise TypeError(f"strategy {name!r}: {err}") from err
    return built


def _split_target(target: str) -> tuple[str, str]:
    module, sep, attribute = target.partition(":")
    if not sep or not module or not attribute:
        raise ValueError(f"a lazy registry entry must be 'package.module:attribute', got {target!r}.")
    return module, attribute


def resolve(target: str) -> Callable[..., Any]:
    """Import ``"package.module:attribute"`` and return the attribute.

    Raises:
        ValueError: If ``target`` is not of the form ``module:attribute``.
        ImportError: If the module cannot be imported (e.g. an optional extra is missing); the
            message names the entry.
        AttributeError: If the module has no such attribute.

    Example:
        >>> resolve("activelab.strategies.builtin:RandomStrategy").__name__
        'RandomStrategy'
    """
    module, attribute = _split_target(target)
    try:
        mod = importlib.import_module(module)
    except ImportError as err:
        raise ImportError(f"cannot load the strategy entry {target!r}: {err}") from err
    try:
        found: Callable[..., Any] = getattr(mod, attribute)
    except AttributeError as err:
        raise AttributeError(f"module {module!r} has no attribute {attribute!r} (registry entry {target!r}).") from err
    return found


def _accepts_sampling(name: str) -> bool:
    entry = STRATEGIES.get(name, (None, ""))[0]
    return bool(getattr(entry, "accepts_sampling", False))


def register(name: str, factory: Callable[..., Any] | str, description: str, *, overwrite: bool = False) -> None:
    """Add a strategy to the registry: a factory, or a lazy ``"module:attribute"`` string.

    Afterwards ``make(name, **kw)`` builds it and ``activelab list strategies`` lists it. With a
    ``"module:attribute"`` string, worker processes import the module themselves, so
    ``activelab run --workers N`` can run it when the registration happens at import time of a
    module that the workers import too.

    Raises:
        ValueError: If ``name`` is taken (pass ``overwrite=True`` to replace it), is empty,
            starts with a sampling prefix (``power_``, ``softmax_``, ``rank_``: the registry
            derives those names itself), or a string is not ``module:attribute``.
        TypeError: If ``factory`` is neither callable nor a string.

    Example:
        >>> register("my_margin", lambda **kw: make("margin", **kw), "margin under another name")
        >>> make("my_margin").name
        'margin'
        >>> del STRATEGIES["my_margin"]
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"a strategy name must be a non-empty string, got {name!r}.")
    if name.partition("_")[0] in _SAMPLINGS:
        prefixes = ", ".join(p + "_" for p in _SAMPLINGS)
        raise ValueError(f"strategy name {name!r} starts with a sampling prefix ({prefixes}); choose another name.")
    if name in STRATEGIES and not overwrite:
        raise ValueError(f"strategy {name!r} is already registered; pass overwrite=True to replace it.")
    if isinstance(factory, str):
        _split_target(factory)
    elif not callable(factory):
        raise TypeError(f"factory must be callable or a 'module:attribute' string, got {type(factory).__name__}.")
    STRATEGIES[name] = (factory, description)


def list_strategies() -> list[tuple[str, str]]:
    """(name, description) of every registered strategy."""
    return [(k, v[1]) for k, v in STRATEGIES.items()]
