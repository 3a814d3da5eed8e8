"""Learned acquisition: active learning as a Gymnasium environment, policies trained with SB3.

Needs the ``rl`` extra (``gymnasium``, ``stable-baselines3``, ``sb3-contrib``) for the
environment and training; a trained policy runs as an ordinary strategy
(``strategies.make("policy")``) with numpy and torch only. The names that need the extra
(``ALEnv``, ``train_policy``, ...) are imported on first access, so ``import activelab.learned``
works without it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .config import TrainConfig
from .features import CANDIDATE_FEATURES, GLOBAL_FEATURES, RoundFeatures, global_features
from .proxy import LogisticProxy, MLPProxy, make_proxy
from .tasks import TRAIN_SOURCES, Task, TaskSampler

if TYPE_CHECKING:
    from .env import ALEnv, reference_curve
    from .strategy import PolicyStrategy, load_policy, save_policy
    from .switch import SwitchTrainConfig, train_switch_policy
    from .train import train_policy

# name -> submodule; loaded on first access (gymnasium / stable-baselines3 / torch stay optional)
_LAZY = {
    "ALEnv": "env",
    "reference_curve": "env",
    "PolicyStrategy": "strategy",
    "load_policy": "strategy",
    "save_policy": "strategy",
    "train_policy": "train",
    "SwitchTrainConfig": "switch",
    "train_switch_policy": "switch",
}

__all__ = [
    "CANDIDATE_FEATURES",
    "GLOBAL_FEATURES",
    "TRAIN_SOURCES",
    "ALEnv",
    "LogisticProxy",
    "MLPProxy",
    "PolicyStrategy",
    "RoundFeatures",
    "SwitchTrainConfig",
    "Task",
    "TaskSampler",
    "TrainConfig",
    "global_features",
    "load_policy",
    "make_proxy",
    "reference_curve",
    "save_policy",
    "train_policy",
    "train_switch_policy",
]


def __getattr__(name: str) -> Any:
    """Import ``name`` from its submodule on first access (PEP 562)."""
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
