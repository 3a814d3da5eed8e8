"""Pair strategies: which pairs to ask next (items = pairs).

Every strategy has ``select(state, k, rng) -> (k, 2)`` int64 canonical pairs (``i < j``), unique,
each with fewer than ``tau`` answers (the contract is written on :class:`PairStrategy`);
score-based strategies also expose ``scores(state, pairs) -> (m,)`` (higher = ask first), and
:func:`pair_features` gives a per-candidate feature matrix, so a learned policy can score
candidates the same way later.

Names (registry :data:`PAIR_STRATEGIES`, :func:`make_pair_strategy`):

* ``uniform``: random pairs; ``frequency``: least-answered first; ``uncertainty``: smallest
  ``|S|`` (:mod:`.heuristic`).
* ``maxmin`` / ``maxexp`` (Aronsson & Chehreghani, TMLR 2024): least certain edges of bad
  triangles through violated pairs, eps-greedy with ``frequency`` (:mod:`.triangles`).
* ``entropy``, ``eig``, ``batch_ig``: mean-field information measures (:mod:`.information`).
* ``anchor``: each item checked against its cluster's most confirmed members, other clusters
  searched when rejected (:mod:`.anchor`); ``default`` is ``anchor`` with its recommended solver
  settings (prior weight 0.3, cluster merging).
* ``learned``: a pair policy trained by imitation (:mod:`.learned`, imported on first use since
  it needs torch; trained by ``activelab policy train-pairs``).

Modules: :mod:`.base` (:class:`ClusterState`, :class:`PairStrategy` and the shared contract
checks), :mod:`.selection` (top-``k`` with random tie-breaks), :mod:`.heuristic`,
:mod:`.triangles`, :mod:`.information`, :mod:`.anchor`, :mod:`.learned`, :mod:`.features` and
:mod:`.registry`.
"""

from .anchor import Anchor
from .base import ClusterState, PairStrategy, ScorePairStrategy
from .features import pair_features
from .heuristic import Frequency, Uncertainty, Uniform
from .information import EIG, BatchIG, Entropy, expected_info_gain
from .registry import PAIR_STRATEGIES, list_pair_strategies, make_pair_strategy
from .selection import top_k_pairs
from .triangles import MaxTriangle, triangle_expected_cost

__all__ = [
    "EIG",
    "Anchor",
    "PAIR_STRATEGIES",
    "BatchIG",
    "ClusterState",
    "Entropy",
    "Frequency",
    "MaxTriangle",
    "PairStrategy",
    "ScorePairStrategy",
    "Uncertainty",
    "Uniform",
    "expected_info_gain",
    "list_pair_strategies",
    "make_pair_strategy",
    "pair_features",
    "top_k_pairs",
    "triangle_expected_cost",
]
