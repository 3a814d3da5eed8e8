"""BatchBALD against a naive exact enumeration of the joint label configurations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from activelab.acquisition import bald
from activelab.errors import PoolExhaustedError
from activelab.selection import batchbald
from activelab.selection.batchbald import _JointState


def _samples(seed: int, n: int, m: int, c: int, scale: float = 2.0) -> np.ndarray:
    gen = np.random.default_rng(seed)
    z = gen.normal(scale=scale, size=(n, m, c))
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _entropy(p: np.ndarray) -> np.ndarray:
    safe = np.where(p > 0, p, 1.0)
    return -(p * np.log(safe)).sum(axis=-1)


def _joint_mi_naive(p: np.ndarray, batch: list[int]) -> float:
    """I(y_B; θ) by enumerating every configuration of the batch labels, one at a time."""
    m, c = p.shape[1], p.shape[2]
    h_joint = 0.0
    for config in itertools.product(range(c), repeat=len(batch)):
        per_draw = np.ones(m)
        for row, label in zip(batch, config, strict=True):
            per_draw = per_draw * p[row, :, label]
        mean = per_draw.mean()
        if mean > 0:
            h_joint -= mean * np.log(mean)
    h_cond = sum(_entropy(p[row]).mean() for row in batch)
    return h_joint - h_cond


def _greedy_naive(p: np.ndarray, k: int) -> list[int]:
    batch: list[int] = []
    for _ in range(k):
        gains = {i: _joint_mi_naive(p, [*batch, i]) for i in range(len(p)) if i not in batch}
        batch.append(max(gains, key=gains.__getitem__))
    return batch


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("lazy", [True, False])
def test_matches_naive_exact_enumeration(seed: int, lazy: bool) -> None:
    p = _samples(seed, n=6, m=4, c=3)
    picks = batchbald(p, 4, np.random.default_rng(0), lazy=lazy)
    assert picks.tolist() == _greedy_naive(p, 4)
    assert picks.dtype == np.int64


@pytest.mark.parametrize("seed", range(3))
def test_lazy_equals_plain_greedy_on_a_larger_pool(seed: int) -> None:
    p = _samples(seed, n=300, m=8, c=3, scale=1.5)
    lazy = batchbald(p, 5, np.random.default_rng(0), chunk_size=16)
    plain = batchbald(p, 5, np.random.default_rng(0), lazy=False, chunk_size=64)
    np.testing.assert_array_equal(lazy, plain)


@pytest.mark.parametrize("seed", range(5))
def test_k1_is_the_bald_argmax(seed: int) -> None:
    p = _samples(seed, n=50, m=6, c=4)
    assert batchbald(p, 1, np.random.default_rng(0))[0] == int(np.argmax(bald(p)))


def test_joint_mi_of_the_batch_beats_top_k_bald() -> None:
    """Near-deterministic draws, every row three times: top-k BALD takes copies, BatchBALD does not."""
    base = _samples(3, n=5, m=6, c=3, scale=12.0)
    p = np.repeat(base, 3, axis=0)  # every row three times
    picks = batchbald(p, 3, np.random.default_rng(0)).tolist()
    assert len({i // 3 for i in picks}) == 3  # three different originals
    top = np.argsort(-bald(p), kind="stable")[:3].tolist()
    assert _joint_mi_naive(p, picks) > _joint_mi_naive(p, top) + 1e-6


def _exact_gains(p: np.ndarray, batch: list[int]) -> np.ndarray:
    """I(y_i; θ | y_B) for every row: H(y_B, y_i) - H(y_B) - E H(y_i|θ), with the joint over y_B built in full."""
    joint = np.ones((p.shape[1], 1))
    for row in batch:
        joint = (joint[:, :, None] * p[row][:, None, :]).reshape(p.shape[1], -1)  # (M, C^b)
    pb = joint.mean(axis=0)
    h_b = _entropy(pb)
    full = np.einsum("ms,nmc->nsc", joint, p) / p.shape[1]  # (N, C^b, C)
    return _entropy(full.reshape(len(p), -1)) - h_b - _entropy(p).mean(axis=1)


def test_sampled_configurations_estimate_the_exact_gains() -> None:
    p = _samples(11, n=40, m=6, c=4, scale=1.5)
    batch = [0, 1, 2, 3, 4, 5, 6]  # 4^7 = 16384 configurations
    exact = _exact_gains(p, batch)
    state = _JointState(6, 4000, torch.float64, torch.device("cpu"))
    gen = np.random.default_rng(0)
    t = torch.from_numpy(p)
    for row in batch:
        state.add(t[row], gen)
    assert not state.exact  # 4^7 > 4000: configurations were sampled
    cond = torch.from_numpy(_entropy(p).mean(axis=1))
    est = state.gains(t, cond).numpy()
    np.testing.assert_allclose(est[7:], exact[7:], atol=0.03)
    assert np.corrcoef(est[7:], exact[7:])[0, 1] > 0.98


def test_exact_state_gains_match_the_reference() -> None:
    p = _samples(2, n=12, m=5, c=3)
    state = _JointState(5, 1000, torch.float64, torch.device("cpu"))
    t = torch.from_numpy(p)
    for row in (0, 4, 7):
        state.add(t[row], np.random.default_rng(0))
    assert state.exact
    est = state.gains(t, torch.from_numpy(_entropy(p).mean(axis=1))).numpy()
    np.testing.assert_allclose(est, _exact_gains(p, [0, 4, 7]), atol=1e-10)


def test_sampled_mode_is_deterministic_per_seed_and_valid() -> None:
    p = _samples(5, n=120, m=10, c=10, scale=1.0)
    a = batchbald(p, 12, np.random.default_rng(1), n_joint_samples=50)
    b = batchbald(p, 12, np.random.default_rng(1), n_joint_samples=50)
    np.testing.assert_array_equal(a, b)
    assert len(np.unique(a)) == 12
    assert a[0] == int(np.argmax(bald(p)))


def test_float32_and_chunking_do_not_change_the_picks() -> None:
    p = _samples(8, n=200, m=8, c=3)
    ref = batchbald(p, 4, np.random.default_rng(0))
    np.testing.assert_array_equal(batchbald(p.astype(np.float32), 4, np.random.default_rng(0)), ref)
    np.testing.assert_array_equal(batchbald(p, 4, np.random.default_rng(0), chunk_size=1), ref)


def test_agreeing_draws_still_give_k_unique_rows() -> None:
    p = np.repeat(_samples(0, n=30, m=1, c=3), 4, axis=1)  # all draws identical: every gain is 0
    picks = batchbald(p, 30, np.random.default_rng(0))
    assert sorted(picks.tolist()) == list(range(30))


def test_zero_probabilities_are_handled() -> None:
    p = np.zeros((5, 3, 3))
    p[:, 0, 0] = p[:, 1, 1] = p[:, 2, 2] = 1.0  # one-hot draws that disagree
    p[4] = 1.0 / 3.0
    picks = batchbald(p, 5, np.random.default_rng(0), n_joint_samples=4)
    assert sorted(picks.tolist()) == [0, 1, 2, 3, 4]


def test_errors() -> None:
    rng = np.random.default_rng(0)
    p = _samples(0, n=4, m=3, c=2)
    with pytest.raises(PoolExhaustedError, match="only 4"):
        batchbald(p, 5, rng)
    with pytest.raises(ValueError, match=r"\(n_items, n_draws, n_classes\)"):
        batchbald(p[:, 0], 2, rng)
    with pytest.raises(ValueError, match="n_joint_samples must be a positive int, got 0"):
        batchbald(p, 2, rng, n_joint_samples=0)
    with pytest.raises(ValueError, match="chunk_size must be a positive int"):
        batchbald(p, 2, rng, chunk_size=-3)
    with pytest.raises(ValueError, match="NaN"):
        batchbald(np.full((2, 2, 2), np.nan), 1, rng)
    assert batchbald(p, 0, rng).shape == (0,)


def test_validation_in_blocks_names_the_bad_block(monkeypatch: pytest.MonkeyPatch) -> None:
    module = __import__("sys").modules["activelab.selection.batchbald"]
    p = _samples(0, n=10, m=3, c=2)
    expected = batchbald(p, 3, np.random.default_rng(0))
    monkeypatch.setattr(module, "_CHECK_ROWS", 4)
    np.testing.assert_array_equal(batchbald(p, 3, np.random.default_rng(0)), expected)
    p[6, 1, 0] = np.nan
    with pytest.raises(ValueError, match=r"prob_samples\[4:8\] holds 1 NaN/inf"):
        batchbald(p, 3, np.random.default_rng(0))
