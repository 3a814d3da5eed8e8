"""The TMLR protocol pieces: a given starting partition, the cold-restart solver, their checks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from activelab.clustering import SimilarityStore, local_search, partition_prior
from activelab.clustering.runner import ClusterConfigError, ClusterRunConfig, read_partition, run_clustering


def _pack(tmp_path: Path) -> tuple[Path, np.ndarray, Path, np.ndarray]:
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(4), 15)
    X = rng.normal(size=(60, 3)) + 4.0 * y[:, None]
    data = tmp_path / "toy.npz"
    np.savez(data, X=X, y=y)
    part = y.copy()
    part[:20] = rng.integers(0, 4, 20)  # a partly wrong starting partition
    parts = tmp_path / "init.npz"
    np.savez(parts, toy=part, other=np.zeros(7, dtype=np.int64), floats=np.zeros(60))
    return data, y, parts, part


def test_a_given_partition_is_the_prior_and_the_first_clustering(tmp_path: Path) -> None:
    data, y, parts, part = _pack(tmp_path)
    cfg = ClusterRunConfig(datasets=(str(data),), strategies=("uniform",), seeds=1, n_items=None, batch=20,
                           budget_fraction=0.05, init_partition=f"{parts}:toy", out=tmp_path / "out")
    rounds = run_clustering(cfg, progress=False)
    first = rounds[rounds["round"] == 0]["ari"].iloc[0]
    # the ±0.1 prior of a partition is maximised by that partition, and nothing is asked yet
    assert first == pytest.approx(adjusted_rand_score(y, part))
    assert first < 0.9


def test_bad_init_partitions_are_refused_before_any_work(tmp_path: Path) -> None:
    data, _, parts, _ = _pack(tmp_path)
    base = dict(datasets=(str(data),), strategies=("uniform",), n_items=None, out=tmp_path / "out")
    cases = {
        f"{parts}": "must be FILE.npz:KEY",
        f"{tmp_path}/missing.npz:toy": "no file",
        f"{parts}:nope": "has no array 'nope'; it holds",
        f"{parts}:floats": "non-negative int cluster ids",
    }
    for spec, message in cases.items():
        with pytest.raises(ClusterConfigError, match=message):
            ClusterRunConfig(**base, init_partition=spec)
    with pytest.raises(ClusterConfigError, match="--init must be kmeans or random"):
        ClusterRunConfig(**base, init_partition=f"{parts}:toy", init="zeros")
    with pytest.raises(ClusterConfigError, match="has 7 labels but dataset"):
        run_clustering(ClusterRunConfig(**base, init_partition=f"{parts}:other"), progress=False)
    assert not (tmp_path / "out").exists()
    assert read_partition(f"{parts}:toy").dtype == np.int64


def test_cold_restarts_ignore_the_start_but_its_number_of_clusters() -> None:
    rng = np.random.default_rng(1)
    truth = np.repeat(np.arange(3), 10)
    store = SimilarityStore(partition_prior(truth, 0.1))
    a = rng.integers(0, 4, 30)
    b = (a + 1) % 4  # another partition with the same number of clusters
    runs = [local_search(store, start, rng=np.random.default_rng(7), n_restarts=3, warm_start=False)
            for start in (a, b)]
    assert np.array_equal(runs[0].labels, runs[1].labels)
    warm = local_search(store, a, rng=np.random.default_rng(7), n_restarts=1, max_sweeps=1)
    cold = local_search(store, a, rng=np.random.default_rng(7), n_restarts=1, max_sweeps=1, warm_start=False)
    assert not np.array_equal(warm.labels, cold.labels)


def test_more_restarts_never_lower_the_objective() -> None:
    rng = np.random.default_rng(2)
    truth = np.repeat(np.arange(4), 8)
    store = SimilarityStore(partition_prior(rng.integers(0, 4, 32), 0.1))
    pairs = np.array([(i, j) for i in range(32) for j in range(i + 1, 32)])
    pick = pairs[rng.choice(len(pairs), 150, replace=False)]
    store.add(pick, np.where(truth[pick[:, 0]] == truth[pick[:, 1]], 1.0, -1.0))
    start = np.zeros(32, dtype=np.int64)
    one = local_search(store, start, rng=np.random.default_rng(0), n_restarts=1)
    five = local_search(store, start, rng=np.random.default_rng(0), n_restarts=5)
    assert five.objective >= one.objective - 1e-12


def test_cli_flags_reach_the_config(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from activelab.cli import app

    data, _, parts, _ = _pack(tmp_path)
    out = tmp_path / "cli"
    result = CliRunner().invoke(app, ["cluster", "--dataset", str(data), "--strategy", "maxmin", "--n-items", "0",
                                      "--init-partition", f"{parts}:toy", "--restarts", "2", "--no-warm-start",
                                      "--batch", "20", "--budget-fraction", "0.03", "--seeds", "1", "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = (out / "config.json").read_text()
    assert '"restarts": 2' in text and '"warm_start": false' in text and "init.npz:toy" in text, text


def test_default_names_the_recommended_strategy() -> None:
    from activelab.clustering import make_pair_strategy

    default = make_pair_strategy("default")
    assert default.name == "anchor" and default.solver == {"prior_weight": 0.3, "merge": "answers"}
    assert make_pair_strategy("anchor").solver == {}  # the bare strategy keeps the library's solver
