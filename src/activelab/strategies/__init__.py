"""Strategies: the protocol, the registry and the built-in strategies."""

from .base import ScoreStrategy, Strategy
from .builtin import BadgeStrategy, CALStrategy, CoresetStrategy, DensityStrategy, EGLStrategy, RandomStrategy
from .registry import STRATEGIES, list_strategies, make

__all__ = [
    "STRATEGIES",
    "BadgeStrategy",
    "CALStrategy",
    "EGLStrategy",
    "CoresetStrategy",
    "DensityStrategy",
    "RandomStrategy",
    "ScoreStrategy",
    "Strategy",
    "list_strategies",
    "make",
]
