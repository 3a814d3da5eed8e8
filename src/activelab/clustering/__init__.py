"""Active correlation clustering with pairwise similarity queries (items = pairs).

Pieces: :mod:`.oracle` (noisy simulated and callback pair oracles), :mod:`.store` (sparse answers
plus a low-rank prior), :mod:`.solvers` (local search with a dynamic number of clusters, mean
field), :mod:`.candidates` (candidate pairs, bad triangles), :mod:`.strategies` (pair
strategies and their registry), :mod:`.deep` (encoder prior fine-tuned on answers),
:mod:`.learner` (:class:`ActiveClusterer`) and :mod:`.runner` (``activelab cluster``).
"""

from __future__ import annotations

from .candidates import CandidateConfig, bad_triangles, candidate_pairs, knn_pairs, violations
from .learner import ActiveClusterer, clustering_metrics
from .oracle import CallbackPairOracle, NoisyPairOracle, PairAnswers, PairOracle
from .solvers import CCResult, correlation_objective, local_search, mean_field, same_cluster_prob
from .store import LowRankPrior, SimilarityStore, feature_prior, partition_prior, zero_prior
from .strategies import (
    PAIR_STRATEGIES,
    ClusterState,
    PairStrategy,
    list_pair_strategies,
    make_pair_strategy,
    pair_features,
)

__all__ = [
    "PAIR_STRATEGIES",
    "ActiveClusterer",
    "CCResult",
    "CallbackPairOracle",
    "CandidateConfig",
    "ClusterState",
    "LowRankPrior",
    "NoisyPairOracle",
    "PairAnswers",
    "PairOracle",
    "PairStrategy",
    "SimilarityStore",
    "bad_triangles",
    "candidate_pairs",
    "clustering_metrics",
    "correlation_objective",
    "feature_prior",
    "knn_pairs",
    "list_pair_strategies",
    "local_search",
    "make_pair_strategy",
    "mean_field",
    "pair_features",
    "partition_prior",
    "same_cluster_prob",
    "violations",
    "zero_prior",
]
