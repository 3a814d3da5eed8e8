"""EPIG against the naive formula."""

from __future__ import annotations

import numpy as np
import pytest

from activelab.selection import epig


def _samples(seed: int, n: int, m: int, c: int, scale: float = 2.0) -> np.ndarray:
    gen = np.random.default_rng(seed)
    z = gen.normal(scale=scale, size=(n, m, c))
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _epig_naive(pool: np.ndarray, target: np.ndarray) -> np.ndarray:
    """mean_t Σ_{y,y*} p(y,y*) log(p(y,y*) / (p(y) p(y*))), one pair and one cell at a time."""
    m, c = pool.shape[1], pool.shape[2]
    out = np.zeros(len(pool))
    for i in range(len(pool)):
        total = 0.0
        for t in range(len(target)):
            p_y = pool[i].mean(axis=0)
            p_t = target[t].mean(axis=0)
            for a in range(c):
                for b in range(c):
                    joint = sum(pool[i, d, a] * target[t, d, b] for d in range(m)) / m
                    if joint > 0:
                        total += joint * np.log(joint / (p_y[a] * p_t[b]))
        out[i] = total / len(target)
    return out


@pytest.mark.parametrize("seed", range(4))
def test_matches_the_naive_formula(seed: int) -> None:
    pool = _samples(seed, n=7, m=5, c=3)
    target = _samples(seed + 100, n=4, m=5, c=3)
    np.testing.assert_allclose(epig(pool, target), _epig_naive(pool, target), atol=1e-10)


def test_float32_and_chunking() -> None:
    pool = _samples(1, n=50, m=6, c=4)
    target = _samples(2, n=9, m=6, c=4)
    ref = _epig_naive(pool, target)
    np.testing.assert_allclose(epig(pool, target, chunk_size=1), ref, atol=1e-10)
    np.testing.assert_allclose(epig(pool.astype(np.float32), target.astype(np.float32), chunk_size=7), ref, atol=2e-5)


def test_default_target_is_a_seeded_subsample_of_the_pool() -> None:
    pool = _samples(3, n=40, m=5, c=3)
    rows = np.sort(np.random.default_rng(9).choice(40, size=10, replace=False))
    expected = _epig_naive(pool, pool[rows])
    np.testing.assert_allclose(epig(pool, n_target=10, rng=np.random.default_rng(9)), expected, atol=1e-10)
    a = epig(pool, n_target=10, rng=np.random.default_rng(1))
    b = epig(pool, n_target=10, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(a, b)
    # a target larger than the pool is the whole pool
    np.testing.assert_allclose(epig(pool, n_target=500, rng=np.random.default_rng(0)), _epig_naive(pool, pool), atol=1e-10)


def test_properties() -> None:
    pool = _samples(4, n=30, m=6, c=3)
    target = _samples(5, n=8, m=6, c=3)
    s = epig(pool, target)
    assert s.shape == (30,)
    assert (s >= 0).all()
    # EPIG ≤ I(y; θ) (BALD): the target labels carry no more than the parameters do
    mean = pool.mean(axis=1)
    bald = -(mean * np.log(mean)).sum(1) + (pool * np.log(pool)).sum(2).mean(1)
    assert (s <= bald + 1e-9).all()
    agreeing = np.repeat(pool[:, :1], 6, axis=1)  # every draw identical: nothing to learn
    np.testing.assert_allclose(epig(agreeing, target), 0.0, atol=1e-12)
    # permuting the pool rows permutes the scores
    perm = np.random.default_rng(0).permutation(30)
    np.testing.assert_allclose(epig(pool[perm], target), s[perm], atol=1e-12)


def test_errors() -> None:
    pool = _samples(0, n=5, m=4, c=3)
    with pytest.raises(TypeError, match="pass rng=np.random.default_rng"):
        epig(pool)
    with pytest.raises(ValueError, match="same posterior draws"):
        epig(pool, _samples(0, n=5, m=3, c=3))
    with pytest.raises(ValueError, match="n_target must be a positive int"):
        epig(pool, n_target=0, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="chunk_size must be a positive int"):
        epig(pool, pool, chunk_size=0)
    with pytest.raises(ValueError, match="sum to 1"):
        epig(pool * 2, pool)
