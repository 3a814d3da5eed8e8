"""Shared fixtures: small generated data only (no downloads)."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def tiny_blobs() -> tuple[np.ndarray, np.ndarray]:
    """200 points, 3 well-separated classes, 5 features, float32."""
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=200, centers=3, n_features=5, cluster_std=2.0, random_state=0)
    return X.astype(np.float32), y.astype(np.int64)


def pytest_configure(config: pytest.Config) -> None:
    """Tiny networks train fastest on one thread; it also avoids oversubscribing CI's 2 cores."""
    import torch

    torch.set_num_threads(1)
