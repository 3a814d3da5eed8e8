"""Learned acquisition: active learning as a Gymnasium environment, policies trained with SB3.

Needs the ``rl`` extra (``gymnasium``, ``stable-baselines3``, ``sb3-contrib``) for the
environment and training; a trained policy runs as an ordinary strategy
(``strategies.make("policy")``) with numpy and torch only.
"""

from .features import CANDIDATE_FEATURES, GLOBAL_FEATURES, RoundFeatures, global_features
from .proxy import LogisticProxy, MLPProxy, make_proxy
from .tasks import TRAIN_SOURCES, Task, TaskSampler

__all__ = [
    "CANDIDATE_FEATURES",
    "GLOBAL_FEATURES",
    "TRAIN_SOURCES",
    "LogisticProxy",
    "MLPProxy",
    "RoundFeatures",
    "Task",
    "TaskSampler",
    "global_features",
    "make_proxy",
]
