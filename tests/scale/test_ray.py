"""The Ray backend gives the local backend's picks: Ray Data top-k (npy and Parquet pools) and the
k-center / BADGE shards as actors; a two-node ``ray.cluster_utils.Cluster`` runs the same path."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from activelab.scale import ShardPool, select_pool

pytest.importorskip("ray")


@pytest.mark.parametrize("kind", ["npy", pytest.param("parquet", marks=pytest.mark.slow)])
def test_ray_data_top_k_equals_local(ray_local: object, small_pools: dict[str, ShardPool], sklearn_model: Path, kind: str) -> None:
    pool = small_pools[kind]
    labelled = pool.sorted_ids()[::31]
    local = select_pool(pool, "margin", 40, model=sklearn_model, labelled=labelled, batch_size=1_000)
    dist = select_pool(pool, "margin", 40, model=sklearn_model, labelled=labelled, batch_size=1_000, backend="ray")
    np.testing.assert_array_equal(dist.ids, local.ids)
    np.testing.assert_array_equal(dist.scores, local.scores)


def test_ray_actors_kcenter_and_badge_equal_local(ray_local: object, npy_pool: ShardPool, mlp_model: Path) -> None:
    labelled = npy_pool.sorted_ids()[::700]
    for strategy, model in (("kcenter", None), ("badge", mlp_model)):
        local = select_pool(npy_pool, strategy, 25, model=model, labelled=labelled, seed=6)
        dist = select_pool(npy_pool, strategy, 25, model=model, labelled=labelled, seed=6, backend="ray", workers=2)
        np.testing.assert_array_equal(dist.ids, local.ids)
        assert len(dist.nodes) == 1


_TWO_NODES = """
import os, sys
import numpy as np
import ray
from ray.cluster_utils import Cluster
from activelab.scale import open_pool, select_pool

cluster = Cluster(initialize_head=True, connect=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
cluster.add_node(num_cpus=1)
cluster.wait_for_nodes()
try:
    assert len([n for n in ray.nodes() if n["Alive"]]) == 2
    pool = open_pool(sys.argv[1])
    labelled = pool.sorted_ids()[::500]
    for strategy in sys.argv[3].split(","):
        model = None if strategy == "kcenter" else sys.argv[2]
        local = select_pool(pool, strategy, 12, model=model, labelled=labelled, seed=3)
        dist = select_pool(pool, strategy, 12, model=model, labelled=labelled, seed=3, backend="ray", workers=2)
        assert np.array_equal(local.ids, dist.ids), (strategy, local.ids, dist.ids)
        print(strategy, "same picks")
        if strategy in ("kcenter", "badge"):
            print(strategy, "shards on", len(dist.nodes), "nodes")
finally:
    ray.shutdown()
    cluster.shutdown()
"""


def _two_nodes(pool: ShardPool, model: Path, tmp_path: Path, strategies: tuple[str, ...]) -> str:
    """Run the script: a head and a worker node (1 CPU each) in a subprocess, so the session's
    local Ray is left alone; returns its stdout."""
    script = tmp_path / "two_nodes.py"
    script.write_text(textwrap.dedent(_TWO_NODES))
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    done = subprocess.run([sys.executable, str(script), str(pool.root), str(model), ",".join(strategies)],
                          capture_output=True, text=True, env=env, timeout=400)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    for strategy in strategies:
        assert f"{strategy} same picks" in done.stdout
    return done.stdout


def test_two_node_cluster_kcenter(npy_pool: ShardPool, mlp_model: Path, tmp_path: Path) -> None:
    """The distributed k-center path on a two-node cluster: the shards spread over both nodes."""
    assert "kcenter shards on 2 nodes" in _two_nodes(npy_pool, mlp_model, tmp_path, ("kcenter",))


@pytest.mark.slow
def test_two_node_cluster_badge_and_ray_data_top_k(npy_pool: ShardPool, mlp_model: Path, tmp_path: Path) -> None:
    """BADGE's shards and the Ray Data top-k pipeline on two nodes of 1 CPU (about a minute)."""
    assert "badge shards on 2 nodes" in _two_nodes(npy_pool, mlp_model, tmp_path, ("badge", "entropy"))
