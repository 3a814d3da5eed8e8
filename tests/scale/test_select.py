"""Sharded selection in one process: the local backend and the shard protocol against the
single-process functions on the pool in id order, and the errors raised before any work."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import joblib
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from activelab.acquisition import entropy, least_confidence, margin
from activelab.errors import CapabilityError, PoolExhaustedError, UnknownNameError
from activelab.scale import (
    PoolFormatError,
    ShardPool,
    load_pool_model,
    merge_top_k,
    read_id_file,
    select_pool,
    write_pool,
)
from activelab.scale.shards import BADGE_BLOCK, LocalGroup, ShardState, badge_sharded, kcenter_sharded, split_rows
from activelab.selection import badge, kcenter_greedy


@pytest.fixture(autouse=True)
def _shards_kernel() -> Iterator[None]:
    """The single-process references here run with the shards' kernel, torch.mv (scale/select.py says why)."""
    from activelab.neighbors.kernels import forced_kernel

    with forced_kernel("torch.mv"):
        yield


def _in_id_order(pool: ShardPool) -> tuple[np.ndarray, np.ndarray]:
    return pool.read_id_range(-(2**62), 2**62)


@given(st.lists(st.integers(0, 5), min_size=1, max_size=60), st.integers(1, 8), st.integers(1, 70))
@settings(max_examples=60, deadline=None)
def test_merge_top_k_of_blocks_is_the_global_top_k(values: list[int], n_blocks: int, k: int) -> None:
    scores = np.asarray(values, dtype=np.float64)  # many ties
    ids = np.random.default_rng(len(values)).permutation(10 * len(values))[: len(values)].astype(np.int64)
    k = min(k, len(ids))
    expected = np.lexsort((ids, -scores))[:k]  # score descending, then id ascending
    parts = [merge_top_k(i, s, k) for i, s in zip(np.array_split(ids, n_blocks), np.array_split(scores, n_blocks), strict=True)]
    got_ids, got_s = merge_top_k(np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts]), k)
    np.testing.assert_array_equal(got_ids, ids[expected])
    np.testing.assert_array_equal(got_s, scores[expected])


@pytest.mark.parametrize("name,fn", [("margin", margin), ("entropy", entropy), ("least_confidence", least_confidence)])
def test_top_k_local_equals_scoring_the_whole_pool(npy_pool: ShardPool, sklearn_model: Path, name: str, fn: object) -> None:
    ids, x = _in_id_order(npy_pool)
    labelled = ids[::97]
    scores = fn(joblib.load(sklearn_model).predict_proba(x))  # type: ignore[operator]
    scores[np.isin(ids, labelled)] = -np.inf
    order = np.lexsort((ids, -scores))[:50]
    got = select_pool(npy_pool, name, 50, model=sklearn_model, labelled=labelled, batch_size=5_000)
    np.testing.assert_array_equal(got.ids, ids[order])
    np.testing.assert_allclose(got.scores, scores[order], rtol=0, atol=1e-12)
    assert not np.isin(got.ids, labelled).any()


class _Constant:
    """Equal probabilities for every row: every score ties."""

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return np.full((len(x), 2), 0.5)


def test_top_k_ties_go_to_the_smaller_id(tmp_path: Path) -> None:
    ids = np.array([50, 7, 30, 2, 99, 13], dtype=np.int64)
    pool = write_pool(tmp_path / "p", ids, np.zeros((6, 2), np.float32), shard_rows=2)
    joblib.dump(_Constant(), tmp_path / "c.joblib")
    got = select_pool(pool, "margin", 3, model=tmp_path / "c.joblib", labelled=np.array([7]), batch_size=1)
    np.testing.assert_array_equal(got.ids, [2, 13, 30])


def _sharded(pool: ShardPool, strategy: str, k: int, model: Path | None, labelled: np.ndarray, seed: int,
             n_shards: int) -> np.ndarray:
    ids = pool.sorted_ids()
    labelled = np.unique(labelled)
    cands = ids[~np.isin(ids, labelled)] if strategy == "badge" else ids
    bounds = split_rows(len(cands), n_shards, BADGE_BLOCK if strategy == "badge" else 1)
    group = LocalGroup([
        ShardState(str(pool.root), int(cands[s]), int(cands[e - 1]), strategy=strategy,
                   model_path=None if model is None else str(model), labelled=labelled)
        for s, e in zip(bounds[:-1], bounds[1:], strict=True)
    ])
    rng = np.random.default_rng(seed)
    if strategy == "kcenter":
        return kcenter_sharded(group, bounds, cands, np.isin(cands, labelled), k, rng)
    return badge_sharded(group, bounds, cands, k, rng)


@pytest.mark.parametrize("n_shards", [1, 3, 7])
@pytest.mark.parametrize("with_labels", [False, True])
def test_kcenter_shards_equal_kcenter_greedy_on_features(npy_pool: ShardPool, n_shards: int, with_labels: bool) -> None:
    ids, x = _in_id_order(npy_pool)
    labelled = ids[5::1500] if with_labels else np.empty(0, np.int64)
    expected = ids[kcenter_greedy(x, np.isin(ids, labelled), 30, np.random.default_rng(4))]
    np.testing.assert_array_equal(_sharded(npy_pool, "kcenter", 30, None, labelled, 4, n_shards), expected)
    np.testing.assert_array_equal(select_pool(npy_pool, "kcenter", 30, labelled=labelled, seed=4).ids, expected)


def test_kcenter_shards_on_model_embeddings(parquet_pool: ShardPool, mlp_model: Path) -> None:
    ids, x = _in_id_order(parquet_pool)
    labelled = ids[3::4000]
    emb = load_pool_model(mlp_model).embeddings(x)
    expected = ids[kcenter_greedy(emb, np.isin(ids, labelled), 20, np.random.default_rng(0))]
    np.testing.assert_array_equal(_sharded(parquet_pool, "kcenter", 20, mlp_model, labelled, 0, 4), expected)
    np.testing.assert_array_equal(select_pool(parquet_pool, "kcenter", 20, model=mlp_model, labelled=labelled).ids, expected)


@pytest.mark.parametrize("with_labels", [False, True])
def test_badge_shards_equal_badge(npy_pool: ShardPool, mlp_model: Path, with_labels: bool) -> None:
    ids, x = _in_id_order(npy_pool)
    labelled = ids[::50] if with_labels else np.empty(0, np.int64)
    keep = ~np.isin(ids, labelled)
    model = load_pool_model(mlp_model)
    expected = ids[keep][badge(model.probs(x[keep]), model.embeddings(x[keep]), 40, np.random.default_rng(9))]
    got = _sharded(npy_pool, "badge", 40, mlp_model, labelled, 9, 3)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(select_pool(npy_pool, "badge", 40, model=mlp_model, labelled=labelled, seed=9).ids, expected)


def test_coinciding_rows_take_the_random_fallback(tmp_path: Path, mlp_model: Path) -> None:
    """Fewer distinct rows than picks: both functions fall back to a random free row, from the same draws."""
    rng = np.random.default_rng(3)
    base = rng.normal(size=(3, 8)).astype(np.float32)
    x = base[rng.integers(0, 3, size=400)]
    ids = rng.permutation(5000)[:400].astype(np.int64)
    pool = write_pool(tmp_path / "p", ids, x, shard_rows=64)
    sids, sx = _in_id_order(pool)
    expected = sids[kcenter_greedy(sx, np.zeros(400, bool), 8, np.random.default_rng(1))]
    np.testing.assert_array_equal(_sharded(pool, "kcenter", 8, None, np.empty(0, np.int64), 1, 3), expected)
    model = load_pool_model(mlp_model)
    expected_b = sids[badge(model.probs(sx), model.embeddings(sx), 8, np.random.default_rng(2))]
    np.testing.assert_array_equal(_sharded(pool, "badge", 8, mlp_model, np.empty(0, np.int64), 2, 1), expected_b)


@pytest.mark.parametrize("kind", ["npy", "parquet"])
def test_head_reads_the_first_rows(tmp_path: Path, kind: str) -> None:
    x = np.arange(30, dtype=np.float32).reshape(10, 3)
    pool = write_pool(tmp_path / kind, np.arange(10) * 7, x, shard_rows=4, kind=kind)
    np.testing.assert_array_equal(pool.head(2), x[:2])


def test_k_zero_picks_nothing(npy_pool: ShardPool, mlp_model: Path) -> None:
    for strategy in ("kcenter", "badge", "margin"):
        got = select_pool(npy_pool, strategy, 0, model=None if strategy == "kcenter" else mlp_model, backend="ray")
        assert got.ids.dtype == np.int64 and len(got.ids) == 0


def test_split_rows() -> None:
    np.testing.assert_array_equal(split_rows(10, 3), [0, 3, 6, 10])
    np.testing.assert_array_equal(split_rows(40_000, 3, BADGE_BLOCK), [0, 16384, 32768, 40000])
    np.testing.assert_array_equal(split_rows(100, 4, BADGE_BLOCK), [0, 100])  # one block: one shard


def test_errors_before_any_work(npy_pool: ShardPool, sklearn_model: Path, mlp_model: Path, tmp_path: Path) -> None:
    with pytest.raises(UnknownNameError, match="kcentre"):
        select_pool(npy_pool, "kcentre", 5)
    with pytest.raises(UnknownNameError, match="backend"):
        select_pool(npy_pool, "kcenter", 5, backend="spark")
    with pytest.raises(PoolExhaustedError, match="Requested 40000 items but only 39999"):
        select_pool(npy_pool, "kcenter", 40_000, labelled=npy_pool.read_ids(0)[:1])
    with pytest.raises(PoolFormatError, match="labelled id -5 is not in the pool"):
        select_pool(npy_pool, "kcenter", 5, labelled=np.array([-5]))
    with pytest.raises(ValueError, match="'margin' needs a model"):
        select_pool(npy_pool, "margin", 5)
    with pytest.raises(CapabilityError, match="has no embed"):
        select_pool(npy_pool, "badge", 5, model=sklearn_model)
    with pytest.raises(FileNotFoundError, match="model file .*nope.pkl does not exist"):
        select_pool(npy_pool, "margin", 5, model=tmp_path / "nope.pkl")
    (tmp_path / "junk.pkl").write_bytes(b"not a pickle")
    with pytest.raises(PoolFormatError, match="could not be loaded as a pickle"):
        select_pool(npy_pool, "margin", 5, model=tmp_path / "junk.pkl")
    joblib.dump({"a": 1}, tmp_path / "dict.pkl")
    with pytest.raises(PoolFormatError, match="holds a dict, not a model with predict_proba"):
        select_pool(npy_pool, "margin", 5, model=tmp_path / "dict.pkl")
    narrow = write_pool(tmp_path / "narrow", np.arange(4), np.zeros((4, 3), np.float32))
    with pytest.raises(PoolFormatError, match="fails on the pool's rows \\(3 features each\\)"):
        select_pool(narrow, "margin", 2, model=sklearn_model)


def test_read_id_file(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text("id,label\n5,cat\n\n9,dog\n")
    np.testing.assert_array_equal(read_id_file(tmp_path / "a.csv"), [5, 9])
    np.save(tmp_path / "b.npy", np.array([3, 1], dtype=np.int32))
    np.testing.assert_array_equal(read_id_file(tmp_path / "b.npy"), [3, 1])
    (tmp_path / "c.txt").write_text("1\nx2\n")
    with pytest.raises(PoolFormatError, match="line 2: 'x2' is not an integer id"):
        read_id_file(tmp_path / "c.txt")
