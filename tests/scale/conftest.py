"""Pools and model files shared by the sharded-selection tests (generated, small)."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from activelab.models.registry import make_model
from activelab.scale import ShardPool, write_pool

N_ROWS, DIM, N_CLASSES = 40_000, 8, 3  # > 2 BADGE blocks of 16384 rows, so shards split on block edges


def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N_ROWS, DIM)).astype(np.float32)
    y = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1)
    ids = rng.permutation(10**7)[:N_ROWS].astype(np.int64)  # unsorted, sparse ids
    return ids, x, y


@pytest.fixture(scope="session")
def pool_data() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ids, features, labels) of the test pool, in write order (not id order)."""
    return _data()


@pytest.fixture(scope="session")
def npy_pool(tmp_path_factory: pytest.TempPathFactory, pool_data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> ShardPool:
    ids, x, _ = pool_data
    return write_pool(tmp_path_factory.mktemp("npy_pool"), ids, x, shard_rows=7_000)


@pytest.fixture(scope="session")
def parquet_pool(tmp_path_factory: pytest.TempPathFactory, pool_data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> ShardPool:
    ids, x, _ = pool_data
    return write_pool(tmp_path_factory.mktemp("parquet_pool"), ids[::-1].copy(), x[::-1].copy(), shard_rows=9_000, kind="parquet")


@pytest.fixture(scope="session")
def sklearn_model(tmp_path_factory: pytest.TempPathFactory, pool_data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> Path:
    """A fitted LogisticRegression saved with joblib (probabilities only, no embeddings)."""
    _, x, y = pool_data
    path = tmp_path_factory.mktemp("models") / "logreg.joblib"
    joblib.dump(LogisticRegression(max_iter=300).fit(x[:600], y[:600]), path)
    return path


@pytest.fixture(scope="session")
def mlp_model(tmp_path_factory: pytest.TempPathFactory, pool_data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> Path:
    """An activelab mlp in `activelab label export`'s format (probabilities and embeddings)."""
    _, x, y = pool_data
    model = make_model("mlp", N_CLASSES, epochs=3)
    model.fit(x[:600], y[:600], rng=np.random.default_rng(1))
    path = tmp_path_factory.mktemp("models") / "labels_model.pkl"
    blob = {"format": 1, "model": "mlp", "classes": ["a", "b", "c"], "epochs": 3,
            "state": model.state_dict(), "object": None}  # type: ignore[attr-defined]
    joblib.dump(blob, path)
    return path


@pytest.fixture(scope="session")
def small_pools(tmp_path_factory: pytest.TempPathFactory, pool_data: tuple[np.ndarray, np.ndarray, np.ndarray]) -> dict[str, ShardPool]:
    """The first 6,000 rows as an npy and a Parquet pool (4 shards each): the Ray Data tests."""
    ids, x, _ = pool_data
    return {kind: write_pool(tmp_path_factory.mktemp(f"small_{kind}"), ids[:6000], x[:6000], shard_rows=1500, kind=kind)
            for kind in ("npy", "parquet")}
