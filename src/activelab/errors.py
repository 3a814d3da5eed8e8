"""Exception hierarchy of activelab: one root, a few specific subclasses."""

from __future__ import annotations


class ActiveLabError(Exception):
    """Root of every error raised on purpose by activelab."""


class PoolExhaustedError(ActiveLabError):
    """More items were requested than unlabelled candidates remain."""


class CapabilityError(ActiveLabError):
    """A strategy needs a model capability (a view) that the model does not provide."""


class UnknownNameError(ActiveLabError, KeyError):
    """A registry name (strategy, dataset, model) is not known."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class StrategyContractError(ActiveLabError):
    """A strategy broke its contract (the message names the rule), e.g. returned a labelled item."""


class NotFittedError(ActiveLabError):
    """A model was asked to predict before ``fit`` was called."""


class CheckpointError(ActiveLabError):
    """A checkpoint directory is missing, incomplete, corrupt or from another run."""


class DataUnavailableError(ActiveLabError):
    """A dataset's files are not present locally (fetch them with ``activelab data fetch``)."""


class ActiveLabWarning(UserWarning):
    """Root of the warnings activelab gives on purpose (the command line prints them as ``warning: ...``)."""


class DataWarning(ActiveLabWarning):
    """Data that load but look wrong, e.g. stray label values that become classes of their own."""
