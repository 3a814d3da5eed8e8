"""Models: the protocol, adapters (torch, sklearn), network builders and the model registry."""

from .base import (
    VIEWS,
    Model,
    SupportsEmbeddings,
    SupportsLossPrediction,
    SupportsProbaSamples,
    SupportsState,
    Views,
    compute_views,
)
from .ensemble import DeepEnsemble, SklearnCommittee
from .lossnet import LossPredictionClassifier
from .networks import cnn, mlp
from .registry import MODELS, list_models, make_model
from .sklearn import SklearnClassifier
from .torch import UPDATE_POLICIES, TorchClassifier

__all__ = [
    "MODELS",
    "UPDATE_POLICIES",
    "VIEWS",
    "DeepEnsemble",
    "LossPredictionClassifier",
    "Model",
    "SklearnClassifier",
    "SklearnCommittee",
    "SupportsEmbeddings",
    "SupportsLossPrediction",
    "SupportsProbaSamples",
    "SupportsState",
    "TorchClassifier",
    "Views",
    "cnn",
    "compute_views",
    "list_models",
    "make_model",
    "mlp",
]
