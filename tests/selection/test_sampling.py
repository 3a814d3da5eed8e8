"""Tests for ``activelab.selection.sampling``: ``top_k`` and the stochastic batches ``power``,
``softmax`` and ``rank``.
"""

from __future__ import annotations

import numpy as np
import pytest

from activelab.errors import PoolExhaustedError
from activelab.selection import check_beta, power, rank, softmax, top_k


# ---------------------------------------------------------------------------------- top_k
@pytest.mark.parametrize("seed", range(5))
def test_top_k_returns_the_k_highest(seed: int, assert_valid_picks) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=200)
    picks = top_k(scores, 17, rng)
    assert_valid_picks(picks, 17, 200)
    rest = np.setdiff1d(np.arange(200), picks)
    assert scores[picks].min() >= scores[rest].max()
    assert (np.diff(scores[picks]) <= 0).all()  # highest first
    assert set(picks.tolist()) == set(np.argsort(-scores)[:17].tolist())


def test_top_k_with_ties_at_the_cut_takes_everything_above() -> None:
    scores = np.array([3.0, 1.0, 1.0, 1.0, 2.0, 0.0])
    for seed in range(10):
        picks = top_k(scores, 3, np.random.default_rng(seed))
        assert picks[:2].tolist() == [0, 4]
        assert picks[2] in {1, 2, 3}


def test_top_k_random_tie_break(assert_valid_picks) -> None:
    scores = np.zeros(1000)
    a = top_k(scores, 10, np.random.default_rng(0))
    b = top_k(scores, 10, np.random.default_rng(1))
    again = top_k(scores, 10, np.random.default_rng(0))
    assert_valid_picks(a, 10, 1000)
    assert_valid_picks(b, 10, 1000)
    assert set(a.tolist()) != set(b.tolist())
    np.testing.assert_array_equal(a, again)


def test_top_k_tie_break_is_uniform() -> None:
    rng = np.random.default_rng(0)
    counts = np.zeros(5)
    for _ in range(4000):
        counts[top_k(np.ones(5), 1, rng)] += 1
    np.testing.assert_allclose(counts / counts.sum(), 0.2, atol=0.03)


def test_top_k_zero_and_all() -> None:
    rng = np.random.default_rng(0)
    empty = top_k(np.arange(5.0), 0, rng)
    assert empty.dtype == np.int64
    assert empty.shape == (0,)
    np.testing.assert_array_equal(top_k(np.arange(5.0), 5, rng), [4, 3, 2, 1, 0])


def test_top_k_more_than_available() -> None:
    with pytest.raises(PoolExhaustedError, match="Requested 6 items but only 5"):
        top_k(np.arange(5.0), 6, np.random.default_rng(0))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_top_k_rejects_non_finite_scores(bad: float) -> None:
    with pytest.raises(ValueError, match="NaN/inf"):
        top_k(np.array([0.1, bad, 0.3]), 1, np.random.default_rng(0))


def test_top_k_rejects_bad_arguments() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="must be 1-D"):
        top_k(np.zeros((2, 2)), 1, rng)
    with pytest.raises(ValueError, match="k must be >= 0"):
        top_k(np.zeros(3), -1, rng)
    with pytest.raises(TypeError, match="k must be an int"):
        top_k(np.zeros(3), 1.5, rng)  # type: ignore[arg-type]


# ------------------------------------------------------------------------ power / softmax
@pytest.mark.parametrize("fn", [power, softmax])
def test_stochastic_batches_unique_and_deterministic_per_seed(fn, assert_valid_picks) -> None:  # type: ignore[no-untyped-def]
    scores = np.random.default_rng(0).random(300)
    a = fn(scores, 40, np.random.default_rng(3))
    b = fn(scores, 40, np.random.default_rng(3))
    c = fn(scores, 40, np.random.default_rng(4))
    assert_valid_picks(a, 40, 300)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_power_picks_zero_scores_last() -> None:
    scores = np.array([0.0, 0.5, 0.0, 2.0, 1.0, 0.0, 0.1])
    zero = {0, 2, 5}
    for seed in range(20):
        rng = np.random.default_rng(seed)
        picks = power(scores, 7, rng)
        assert set(picks[-3:].tolist()) == zero
        assert not zero & set(power(scores, 4, rng).tolist())


def test_power_zero_scores_are_a_random_subset() -> None:
    # which zero-score rows are taken is random; among tied rows the order is by index
    subsets = {tuple(sorted(power(np.zeros(6), 3, np.random.default_rng(s)).tolist())) for s in range(10)}
    assert len(subsets) > 1


def test_power_rejects_negative_scores_and_bad_beta() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="non-negative scores.*use softmax"):
        power(np.array([0.5, -0.1]), 1, rng)
    with pytest.raises(ValueError, match="beta must be a positive finite number"):
        power(np.array([0.5, 0.1]), 1, rng, beta=0.0)
    with pytest.raises(ValueError, match="beta must be a positive finite number"):
        softmax(np.array([0.5, 0.1]), 1, rng, beta=-1.0)
    with pytest.raises(PoolExhaustedError):
        softmax(np.array([0.5, 0.1]), 3, rng)


@pytest.mark.parametrize(
    ("fn", "beta", "weights"),
    [
        (power, 1.0, lambda s: s),
        (power, 2.0, lambda s: s**2),
        (softmax, 1.5, lambda s: np.exp(1.5 * s)),
    ],
)
def test_single_draw_frequencies_follow_the_weights(fn, beta, weights) -> None:  # type: ignore[no-untyped-def]
    scores = np.array([0.25, 0.5, 1.0, 1.5])
    rng = np.random.default_rng(0)
    n_trials = 6000
    counts = np.zeros(len(scores))
    for _ in range(n_trials):
        counts[fn(scores, 1, rng, beta=beta)] += 1
    expected = weights(scores) / weights(scores).sum()
    # 4.5 binomial standard errors at most ~0.03
    np.testing.assert_allclose(counts / n_trials, expected, atol=0.03)


# ------------------------------------------------------------------------------------ rank
def test_rank_is_deterministic_per_seed_and_unique() -> None:
    s = np.random.default_rng(0).normal(size=300)
    a = rank(s, 40, np.random.default_rng(3))
    np.testing.assert_array_equal(a, rank(s, 40, np.random.default_rng(3)))
    assert a.dtype == np.int64 and len(np.unique(a)) == 40
    assert sorted(rank(s, 300, np.random.default_rng(0)).tolist()) == list(range(300))


def test_rank_single_draw_frequencies_follow_rank_power() -> None:
    scores = np.array([10.0, -3.0, 2.5, 7.0])  # ranks 1, 4, 3, 2
    beta = 1.5
    weights = np.array([1.0, 4.0, 3.0, 2.0]) ** -beta
    gen = np.random.default_rng(0)
    counts = np.zeros(4)
    for _ in range(6000):
        counts[rank(scores, 1, gen, beta=beta)] += 1
    np.testing.assert_allclose(counts / counts.sum(), weights / weights.sum(), atol=0.02)


def test_rank_ties_are_equally_likely_and_scale_free() -> None:
    scores = np.array([1.0, 1.0, 0.0])
    gen = np.random.default_rng(1)
    first = [int(rank(scores, 1, gen)[0]) for _ in range(3000)]
    # ranks 1, 1, 3: p ∝ 1, 1, 1/3
    np.testing.assert_allclose(np.bincount(first, minlength=3) / 3000, [3 / 7, 3 / 7, 1 / 7], atol=0.03)
    s = np.random.default_rng(2).normal(size=50)
    np.testing.assert_array_equal(rank(s, 10, np.random.default_rng(5)), rank(1000 * s - 7, 10, np.random.default_rng(5)))


def test_rank_errors() -> None:
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="beta must be a positive finite number"):
        rank(np.ones(3), 1, rng, beta=0.0)
    with pytest.raises(PoolExhaustedError):
        rank(np.ones(3), 4, rng)
    with pytest.raises(ValueError, match="NaN/inf"):
        rank(np.array([1.0, np.nan]), 1, rng)


@pytest.mark.parametrize(("beta", "error"), [
    ("high", TypeError), (True, TypeError), (None, TypeError), (-1, ValueError), (0, ValueError),
    (float("nan"), ValueError), (float("inf"), ValueError),
])
def test_check_beta_names_the_value(beta: object, error: type[Exception]) -> None:
    with pytest.raises(error, match=r"beta must be a positive finite number .*got .*" + repr(beta)[:3]):
        check_beta(beta)
    assert check_beta(2) == 2.0 and isinstance(check_beta(np.float32(0.5)), float)


@pytest.mark.parametrize("options", [{"beta": "high"}, {"beta": -1}, {"sampling": "softmax", "beta": 0}])
def test_bad_beta_fails_when_the_strategy_is_built(options: dict[str, object]) -> None:
    """Not in the first select(), after a model has been trained."""
    from activelab.strategies import make

    name = "margin" if "sampling" in options else "power_margin"
    with pytest.raises((TypeError, ValueError), match="beta must be a positive finite number"):
        make(name, **options)
