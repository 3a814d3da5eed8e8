"""Strategies: the protocol, the registry and the built-in strategies."""

from .base import ScoreStrategy, Strategy
from .builtin import (
    BadgeStrategy,
    CALStrategy,
    CoresetStrategy,
    DiscriminativeStrategy,
    RandomStrategy,
)
from .registry import STRATEGIES, list_strategies, make, register

__all__ = [
    "STRATEGIES",
    "BadgeStrategy",
    "CALStrategy",
    "CoresetStrategy",
    "DiscriminativeStrategy",
    "RandomStrategy",
    "ScoreStrategy",
    "Strategy",
    "list_strategies",
    "make",
    "register",
]
