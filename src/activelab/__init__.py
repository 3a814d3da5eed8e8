"""activelab: a generic active learning framework for deep models.

The two operations of every active-learning method are first-class here: *selection*
(:mod:`activelab.acquisition`, :mod:`activelab.selection`, :mod:`activelab.strategies`) and
*update* (:mod:`activelab.models`, with explicit update policies), driven by
:class:`ActiveLearner` over a :class:`Pool` of absolute indices.
"""

from . import _env  # noqa: F401 - first: settings read when NumPy loads OpenBLAS
from . import acquisition, selection, strategies
from .errors import (
    ActiveLabError,
    CapabilityError,
    CheckpointError,
    DataUnavailableError,
    NotFittedError,
    PoolExhaustedError,
    UnknownNameError,
)
from .loop import ActiveLearner, Budget, Callback, History, RoundRecord
from .models import SklearnClassifier, TorchClassifier, Views, cnn, mlp
from .oracles import Answers, CallbackOracle, NoisyOracle, Oracle, SimulatedOracle
from .pool import Pool

__version__ = "0.1.0"

__all__ = [
    "ActiveLabError",
    "ActiveLearner",
    "Answers",
    "Budget",
    "Callback",
    "CallbackOracle",
    "CapabilityError",
    "CheckpointError",
    "DataUnavailableError",
    "History",
    "NoisyOracle",
    "NotFittedError",
    "Oracle",
    "Pool",
    "PoolExhaustedError",
    "RoundRecord",
    "SimulatedOracle",
    "SklearnClassifier",
    "TorchClassifier",
    "UnknownNameError",
    "Views",
    "__version__",
    "acquisition",
    "cnn",
    "mlp",
    "selection",
    "strategies",
]
