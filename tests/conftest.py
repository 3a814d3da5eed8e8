"""Shared fixtures: small generated data only (no downloads)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

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


@pytest.fixture(scope="session")
def ray_local() -> Iterator[Any]:
    """One local Ray per test session, started by the first test that asks for it (2-4 s), shut down at the end.

    Two CPUs, no dashboard, and token authentication off (``RAY_AUTH_MODE=disabled``; current Ray
    turns it on by default and warns). Always a new instance (``address="local"``): without it
    ``ray.init`` joins a Ray already running on this machine. Yields the ``ray`` module.
    """
    import ray

    if ray.is_initialized():  # started by the caller of pytest: use it, leave it
        yield ray
        return
    before = os.environ.get("RAY_AUTH_MODE")
    os.environ["RAY_AUTH_MODE"] = "disabled"
    ray.init(address="local", num_cpus=2, include_dashboard=False)  # "local": a new one, never another's
    try:
        yield ray
    finally:
        ray.shutdown()
        if before is None:
            os.environ.pop("RAY_AUTH_MODE", None)
        else:
            os.environ["RAY_AUTH_MODE"] = before


def pytest_configure(config: pytest.Config) -> None:
    """Tiny networks train fastest on one thread; it also avoids oversubscribing CI's 2 cores."""
    import torch

    torch.set_num_threads(1)
