"""The shard format: round trips, the global (id) order, and the errors that name what is wrong."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from activelab.scale import PoolFormatError, ShardPool, open_pool, write_manifest, write_pool


def _small(n: int = 50, d: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.permutation(1000)[:n].astype(np.int64), rng.normal(size=(n, d)).astype(np.float32)


@pytest.mark.parametrize("kind", ["npy", "parquet"])
def test_round_trip_in_id_order(tmp_path: Path, kind: str) -> None:
    ids, x = _small()
    pool = write_pool(tmp_path, ids, x, shard_rows=12, kind=kind)
    assert (pool.n_rows, pool.dim, len(pool.shards)) == (50, 3, 5)
    got_ids, got_x = pool.read_id_range(int(ids.min()), int(ids.max()))
    order = np.argsort(ids)
    np.testing.assert_array_equal(got_ids, ids[order])
    np.testing.assert_array_equal(got_x, x[order])
    np.testing.assert_array_equal(pool.sorted_ids(), np.sort(ids))
    lo, hi = int(np.sort(ids)[10]), int(np.sort(ids)[19])
    sub_ids, sub_x = pool.read_id_range(lo, hi)
    np.testing.assert_array_equal(sub_ids, np.sort(ids)[10:20])
    np.testing.assert_array_equal(sub_x, x[order][10:20])


def test_write_manifest_describes_foreign_shards(tmp_path: Path) -> None:
    ids, x = _small(20, 4)
    # Parquet written by another tool: a variable-length list column named "emb"
    for n, part in enumerate((slice(0, 8), slice(8, 20))):
        table = pa.table({"id": pa.array(ids[part]), "emb": pa.array([list(r) for r in x[part]], pa.list_(pa.float32()))})
        pq.write_table(table, tmp_path / f"f{n}.parquet")
    pool = write_manifest(tmp_path, column="emb")
    assert (pool.kind, pool.n_rows, pool.dim, pool.column) == ("parquet", 20, 4, "emb")
    np.testing.assert_array_equal(pool.read_id_range(-1, 10**6)[1], x[np.argsort(ids)])
    npy_dir = tmp_path / "npy"
    npy_dir.mkdir()
    np.save(npy_dir / "a.ids.npy", ids[:5])
    np.save(npy_dir / "a.x.npy", x[:5])
    np.save(npy_dir / "b.ids.npy", ids[5:])
    np.save(npy_dir / "b.x.npy", x[5:].astype(np.float64))
    pool2 = write_manifest(npy_dir)
    assert (pool2.kind, pool2.n_rows, [s.file for s in pool2.shards]) == ("npy", 20, ["a", "b"])


def _rewrite(pool: ShardPool, **changes: object) -> None:
    path = pool.root / "pool.json"
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def test_duplicate_ids_are_named(tmp_path: Path) -> None:
    ids, x = _small(10)
    with pytest.raises(PoolFormatError, match=f"id {ids[3]} appears more than once"):
        write_pool(tmp_path, np.r_[ids, ids[3]], np.r_[x, x[:1]])
    np.save(tmp_path / "a.ids.npy", ids)
    np.save(tmp_path / "a.x.npy", x)
    np.save(tmp_path / "b.ids.npy", ids[3:4])
    np.save(tmp_path / "b.x.npy", x[:1])
    with pytest.raises(PoolFormatError, match=rf"id {ids[3]} appears more than once .*unique int64 id"):
        write_manifest(tmp_path)


def test_manifest_and_files_must_agree(tmp_path: Path) -> None:
    ids, x = _small(30)
    pool = write_pool(tmp_path / "p", ids, x, shard_rows=10)
    with pytest.raises(PoolFormatError, match="already holds a pool"):
        write_pool(tmp_path / "p", ids, x)
    _rewrite(pool, dim=5)
    with pytest.raises(PoolFormatError, match=r"the manifest says float \(10, 5\)"):
        open_pool(pool.root)
    _rewrite(pool, dim=3, shards=[{"file": "part-00000", "rows": 10, "min_id": 0, "max_id": 1}])
    with pytest.raises(PoolFormatError, match="ids span .* the manifest says \\[0, 1\\]"):
        open_pool(pool.root)
    _rewrite(pool, shards=[{"file": "gone", "rows": 10, "min_id": 0, "max_id": 1}])
    with pytest.raises(PoolFormatError, match="gone.ids.npy named in the manifest does not exist"):
        open_pool(pool.root)
    (pool.root / "pool.json").unlink()
    with pytest.raises(PoolFormatError, match="has no pool.json; write one .*write_manifest"):
        open_pool(pool.root)
    with pytest.raises(PoolFormatError, match="does not exist"):
        open_pool(tmp_path / "nowhere")


def test_parquet_errors(tmp_path: Path) -> None:
    ids, x = _small(20)
    pool = write_pool(tmp_path / "p", ids, x, shard_rows=10, kind="parquet")
    pq.write_table(pa.table({"id": pa.array(ids[:2])}), pool.root / "stray.parquet")
    with pytest.raises(PoolFormatError, match="Parquet files the manifest does not list \\(stray.parquet\\)"):
        open_pool(pool.root)
    bad = tmp_path / "ragged"
    bad.mkdir()
    pq.write_table(pa.table({"id": pa.array(ids[:2]), "x": pa.array([[1.0, 2.0], [1.0]])}), bad / "a.parquet")
    pool2 = write_manifest(bad)  # the width is read from the first row
    with pytest.raises(PoolFormatError, match="row 1 of column 'x' has 1 values, row 0 has 2"):
        pool2.read(0)
    strs = tmp_path / "strs"
    strs.mkdir()
    pq.write_table(pa.table({"id": pa.array(ids[:2]), "x": pa.array(["a", "b"])}), strs / "a.parquet")
    with pytest.raises(PoolFormatError, match="column 'x' is string, not a list of floats"):
        write_manifest(strs)


def test_ids_must_be_int64(tmp_path: Path) -> None:
    ids, x = _small(5)
    np.save(tmp_path / "a.ids.npy", ids.astype(np.int32))
    np.save(tmp_path / "a.x.npy", x)
    with pytest.raises(PoolFormatError, match="ids must be a 1-D int64 array, got int32"):
        write_manifest(tmp_path)
    with pytest.raises(PoolFormatError, match="ids must be integers, got float64"):
        write_pool(tmp_path / "q", ids.astype(np.float64), x)
    with pytest.raises(PoolFormatError, match="one row per id \\(5 ids\\)"):
        write_pool(tmp_path / "q", ids, x[:4])
