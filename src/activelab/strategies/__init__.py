"""Strategies: the protocol, the registry and the built-in strategies."""

from .base import ScoreStrategy, Strategy
from .builtin import (
    BadgeStrategy,
    CALStrategy,
    CoresetStrategy,
    DensityStrategy,
    DiscriminativeStrategy,
    EGLStrategy,
    RandomStrategy,
)
from .registry import STRATEGIES, list_strategies, make

__all__ = [
    "STRATEGIES",
    "BadgeStrategy",
    "CALStrategy",
    "EGLStrategy",
    "CoresetStrategy",
    "DensityStrategy",
    "DiscriminativeStrategy",
    "RandomStrategy",
    "ScoreStrategy",
    "Strategy",
    "list_strategies",
    "make",
]
