"""activelab: a generic active learning framework for deep models."""

__version__ = "0.1.0"
