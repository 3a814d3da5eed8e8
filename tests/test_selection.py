"""Tests for ``activelab.selection``: top-k, stochastic batches, k-center and BADGE.

The batch methods are checked pick for pick against naive numpy references that build
every distance (and, for BADGE, every gradient embedding) explicitly.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from activelab.errors import PoolExhaustedError
from activelab.selection import (
    badge,
    covering_radius,
    kcenter_greedy,
    power,
    random_projection,
    softmax,
    top_k,
)


def _softmax_rows(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _assert_valid_picks(picks: np.ndarray, k: int, n: int, labelled: np.ndarray | None = None) -> None:
    assert picks.dtype == np.int64
    assert picks.shape == (k,)
    assert len(np.unique(picks)) == k
    assert ((picks >= 0) & (picks < n)).all()
    if labelled is not None:
        assert not labelled[picks].any()


# ---------------------------------------------------------------------------------- top_k
@pytest.mark.parametrize("seed", range(5))
def test_top_k_returns_the_k_highest(seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = rng.normal(size=200)
    picks = top_k(scores, 17, rng)
    _assert_valid_picks(picks, 17, 200)
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


def test_top_k_random_tie_break() -> None:
    scores = np.zeros(1000)
    a = top_k(scores, 10, np.random.default_rng(0))
    b = top_k(scores, 10, np.random.default_rng(1))
    again = top_k(scores, 10, np.random.default_rng(0))
    _assert_valid_picks(a, 10, 1000)
    _assert_valid_picks(b, 10, 1000)
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
def test_stochastic_batches_unique_and_deterministic_per_seed(fn) -> None:  # type: ignore[no-untyped-def]
    scores = np.random.default_rng(0).random(300)
    a = fn(scores, 40, np.random.default_rng(3))
    b = fn(scores, 40, np.random.default_rng(3))
    c = fn(scores, 40, np.random.default_rng(4))
    _assert_valid_picks(a, 40, 300)
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
    with pytest.raises(ValueError, match="beta must be > 0"):
        power(np.array([0.5, 0.1]), 1, rng, beta=0.0)
    with pytest.raises(ValueError, match="beta must be > 0"):
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


# -------------------------------------------------------------------------- kcenter_greedy
def _kcenter_reference(x: np.ndarray, labelled: np.ndarray, k: int, rng: np.random.Generator) -> list[int]:
    """Naive O(N·k·D) greedy k-center with exact pairwise differences (float64)."""
    x = x.astype(np.float64)
    n = len(x)
    taken = labelled.copy()
    picks: list[int] = []

    def sq_dist(j: int) -> np.ndarray:
        return ((x - x[j]) ** 2).sum(axis=1)

    min_d = np.full(n, np.inf)
    for j in np.flatnonzero(labelled):
        min_d = np.minimum(min_d, sq_dist(j))
    if not labelled.any():
        first = int(rng.choice(n))
        picks.append(first)
        taken[first] = True
        min_d = sq_dist(first)
    while len(picks) < k:
        d = np.where(taken, -1.0, min_d)
        best = int(np.argmax(d))
        if d[best] <= 0.0:
            best = int(rng.choice(np.flatnonzero(~taken)))
        picks.append(best)
        taken[best] = True
        min_d = np.minimum(min_d, sq_dist(best))
    return picks


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("n_labelled", [0, 1, 25])
def test_kcenter_matches_reference(seed: int, n_labelled: int) -> None:
    gen = np.random.default_rng(seed)
    n, d, k = 300, 6, 30
    x = gen.normal(size=(n, d)) * gen.uniform(0.5, 2.0, size=d)
    labelled = np.zeros(n, dtype=bool)
    labelled[gen.choice(n, n_labelled, replace=False)] = True
    picks = kcenter_greedy(x, labelled, k, np.random.default_rng(100 + seed))
    _assert_valid_picks(picks, k, n, labelled)
    np.testing.assert_array_equal(picks, _kcenter_reference(x, labelled, k, np.random.default_rng(100 + seed)))


@pytest.mark.parametrize("n_labelled", [0, 40])
def test_kcenter_float32_matches_reference(n_labelled: int) -> None:
    gen = np.random.default_rng(7)
    x = gen.normal(size=(500, 16)).astype(np.float32)
    labelled = np.zeros(500, dtype=bool)
    labelled[gen.choice(500, n_labelled, replace=False)] = True
    picks = kcenter_greedy(x, labelled, 25, np.random.default_rng(1))
    np.testing.assert_array_equal(picks, _kcenter_reference(x, labelled, 25, np.random.default_rng(1)))


def test_kcenter_first_pick_uses_rng_without_labelled_rows() -> None:
    x = np.random.default_rng(0).normal(size=(50, 3))
    none = np.zeros(50, dtype=bool)
    firsts = {int(kcenter_greedy(x, none, 1, np.random.default_rng(s))[0]) for s in range(10)}
    assert len(firsts) > 1
    assert int(kcenter_greedy(x, none, 1, np.random.default_rng(5))[0]) == int(np.random.default_rng(5).choice(50))


def test_kcenter_example_picks_farthest() -> None:
    x = np.array([[0.0], [1.0], [10.0], [11.0], [5.0]], dtype=np.float32)
    labelled = np.array([True, False, False, False, False])
    np.testing.assert_array_equal(kcenter_greedy(x, labelled, 3, np.random.default_rng(0)), [3, 4, 1])


def test_kcenter_never_returns_labelled_and_can_take_all() -> None:
    gen = np.random.default_rng(1)
    x = gen.normal(size=(60, 4)).astype(np.float32)
    labelled = gen.random(60) < 0.5
    n_free = int((~labelled).sum())
    picks = kcenter_greedy(x, labelled, n_free, np.random.default_rng(0))
    _assert_valid_picks(picks, n_free, 60, labelled)
    assert set(picks.tolist()) == set(np.flatnonzero(~labelled).tolist())


def test_kcenter_more_than_unlabelled() -> None:
    x = np.zeros((10, 2), dtype=np.float32)
    labelled = np.arange(10) < 7
    with pytest.raises(PoolExhaustedError, match="Requested 4 items but only 3"):
        kcenter_greedy(x, labelled, 4, np.random.default_rng(0))
    assert kcenter_greedy(x, labelled, 0, np.random.default_rng(0)).shape == (0,)


@pytest.mark.parametrize("n_labelled", [0, 3])
def test_kcenter_identical_rows(n_labelled: int) -> None:
    x = np.full((20, 5), 0.5, dtype=np.float32)  # exact in binary: every distance is exactly 0
    labelled = np.arange(20) < n_labelled
    picks = kcenter_greedy(x, labelled, 10, np.random.default_rng(3))
    _assert_valid_picks(picks, 10, 20, labelled)
    np.testing.assert_array_equal(picks, _kcenter_reference(x, labelled, 10, np.random.default_rng(3)))
    other = kcenter_greedy(x, labelled, 10, np.random.default_rng(4))
    assert not np.array_equal(picks, other)  # the fallback is random, not "lowest index"


def test_kcenter_duplicates_of_labelled_rows() -> None:
    # every unlabelled row duplicates a labelled one: distances are 0 up to rounding
    gen = np.random.default_rng(2)
    base = gen.normal(size=(10, 3)).round(1)
    x = np.concatenate([base, base])  # rows 10..19 duplicate rows 0..9
    labelled = np.zeros(20, dtype=bool)
    labelled[:10] = True
    picks = kcenter_greedy(x, labelled, 10, np.random.default_rng(0))
    _assert_valid_picks(picks, 10, 20, labelled)


def test_kcenter_rejects_bad_input() -> None:
    rng = np.random.default_rng(0)
    x = np.zeros((5, 2), dtype=np.float32)
    with pytest.raises(TypeError, match="boolean mask"):
        kcenter_greedy(x, np.zeros(5, dtype=int), 1, rng)
    with pytest.raises(ValueError, match=r"must have shape \(5,\)"):
        kcenter_greedy(x, np.zeros(4, dtype=bool), 1, rng)
    with pytest.raises(ValueError, match="2-D"):
        kcenter_greedy(np.zeros(5), np.zeros(5, dtype=bool), 1, rng)
    x[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN/inf"):
        kcenter_greedy(x, np.zeros(5, dtype=bool), 1, rng)


# -------------------------------------------------------------------------- covering radius
def test_covering_radius_matches_brute_force() -> None:
    gen = np.random.default_rng(0)
    x = gen.normal(size=(400, 7)).astype(np.float32)
    centres = gen.choice(400, 13, replace=False)
    brute = cdist(x.astype(np.float64), x[centres].astype(np.float64)).min(axis=1).max()
    np.testing.assert_allclose(covering_radius(x, centres), brute, rtol=1e-4)


def test_kcenter_picks_reduce_covering_radius() -> None:
    gen = np.random.default_rng(0)
    x = gen.normal(size=(500, 4))
    labelled = np.zeros(500, dtype=bool)
    labelled[:5] = True
    greedy = kcenter_greedy(x, labelled, 20, np.random.default_rng(0))
    rand = gen.choice(np.arange(5, 500), 20, replace=False)
    lab = np.arange(5)
    r_greedy = covering_radius(x, np.concatenate([lab, greedy]))
    assert r_greedy < covering_radius(x, np.concatenate([lab, rand]))
    # greedy k-center is a 2-approximation: no row is farther than the last pick's distance
    assert r_greedy <= covering_radius(x, np.concatenate([lab, greedy[:-1]]))


# ------------------------------------------------------------------------ random_projection
def test_random_projection_shape_dtype_and_determinism() -> None:
    x = np.random.default_rng(0).normal(size=(300, 40))
    z = random_projection(x, 8, np.random.default_rng(1), chunk=64)
    assert z.shape == (300, 8)
    assert z.dtype == np.float32
    assert z.flags.c_contiguous
    np.testing.assert_array_equal(z, random_projection(x, 8, np.random.default_rng(1)))
    assert not np.array_equal(z, random_projection(x, 8, np.random.default_rng(2)))


def test_random_projection_roughly_preserves_distances() -> None:
    x = np.random.default_rng(0).normal(size=(100, 512)).astype(np.float32)
    z = random_projection(x, 256, np.random.default_rng(1))
    ratio = cdist(z, z)[np.triu_indices(100, 1)] / cdist(x, x)[np.triu_indices(100, 1)]
    assert 0.9 < np.median(ratio) < 1.1
    assert ratio.min() > 0.7
    assert ratio.max() < 1.3


def test_random_projection_to_wider_is_a_float32_copy() -> None:
    x = np.arange(12.0).reshape(4, 3)
    z = random_projection(x, 3, np.random.default_rng(0))
    assert z.dtype == np.float32
    np.testing.assert_array_equal(z, x)
    with pytest.raises(ValueError, match="dim must be a positive int"):
        random_projection(x, 0, np.random.default_rng(0))
    with pytest.raises(ValueError, match="2-D"):
        random_projection(np.zeros(3), 2, np.random.default_rng(0))


# ------------------------------------------------------------------------------------ badge
def _gradient_embeddings(probs: np.ndarray, h: np.ndarray) -> np.ndarray:
    """Explicit last-layer gradient embeddings ``(p_i - e_ŷi) ⊗ h_i``, shape ``(N, C·D)``."""
    a = probs.astype(np.float64).copy()
    a[np.arange(len(a)), a.argmax(axis=1)] -= 1.0
    return (a[:, :, None] * h.astype(np.float64)[:, None, :]).reshape(len(a), -1)


def _badge_reference(probs: np.ndarray, h: np.ndarray, k: int, rng: np.random.Generator) -> list[int]:
    """Naive k-means++ seeding on explicit gradient embeddings."""
    g = _gradient_embeddings(probs, h)
    n = len(g)
    first = int(np.argmax((g * g).sum(axis=1)))
    picks = [first]
    taken = np.zeros(n, dtype=bool)
    taken[first] = True
    min_d = ((g - g[first]) ** 2).sum(axis=1)
    while len(picks) < k:
        weights = min_d.astype(np.float64)
        weights[taken] = 0.0
        cum = np.cumsum(weights)
        total = cum[-1]
        if total <= 0.0:
            j = int(rng.choice(np.flatnonzero(~taken)))
        else:
            u = rng.random() * total
            j = min(int(np.searchsorted(cum, u, side="right")), n - 1)
        picks.append(j)
        taken[j] = True
        min_d = np.minimum(min_d, ((g - g[j]) ** 2).sum(axis=1))
    return picks


def _badge_data(seed: int, n: int = 120, c: int = 4, d: int = 5) -> tuple[np.ndarray, np.ndarray]:
    gen = np.random.default_rng(seed)
    probs = _softmax_rows(gen.normal(scale=2.0, size=(n, c)))
    h = gen.normal(size=(n, d))
    return probs, h


def test_factorised_distance_equals_explicit_gradient_distance() -> None:
    probs, h = _badge_data(0, n=40, c=3, d=6)
    g = _gradient_embeddings(probs, h)
    a = probs.copy()
    a[np.arange(40), probs.argmax(axis=1)] -= 1.0
    g_sq = (a * a).sum(1) * (h * h).sum(1)
    factorised = g_sq[:, None] + g_sq[None, :] - 2.0 * (a @ a.T) * (h @ h.T)
    explicit = cdist(g, g, "sqeuclidean")
    np.testing.assert_allclose(factorised, explicit, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(g_sq, (g * g).sum(1), rtol=1e-12)


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("n_classes", [4, 40])  # few classes (fused numpy path) and many (torch mv for a)
def test_badge_matches_reference_kmeanspp(seed: int, n_classes: int) -> None:
    probs, h = _badge_data(seed, c=n_classes)
    picks = badge(probs, h, 25, np.random.default_rng(seed))
    _assert_valid_picks(picks, 25, len(h))
    np.testing.assert_array_equal(picks, _badge_reference(probs, h, 25, np.random.default_rng(seed)))


def test_badge_matches_reference_across_blocks() -> None:
    # more rows than one block of the CPU sweep (16384): the running sum crosses block borders
    probs, h = _badge_data(5, n=40_000, c=3, d=4)
    picks = badge(probs, h, 6, np.random.default_rng(0))
    np.testing.assert_array_equal(picks, _badge_reference(probs, h, 6, np.random.default_rng(0)))


def test_badge_matches_reference_over_many_blocks() -> None:
    # 5 blocks of the CPU sweep in float32: each draw picks a block by the blocks' sums, then
    # a row by that block's running sum; the picks equal the global running sum's
    probs, h = _badge_data(11, n=70_000, c=5, d=6)
    h32, p32 = h.astype(np.float32), probs.astype(np.float32)
    picks = badge(p32, h32, 40, np.random.default_rng(3))
    np.testing.assert_array_equal(picks, _badge_reference(p32, h32, 40, np.random.default_rng(3)))


def test_d2_draw_finds_the_row_of_the_running_sum() -> None:
    from activelab.selection import _BLOCK, _d2_draw

    gen = np.random.default_rng(0)
    w = gen.random(2 * _BLOCK + 100).astype(np.float32)
    w[gen.random(len(w)) < 0.3] = 0.0  # taken rows
    w[_BLOCK : 2 * _BLOCK] = 0.0  # a block with no weight at all
    sums = np.add.reduceat(w, np.arange(0, len(w), _BLOCK), dtype=np.float64)
    totals = np.cumsum(sums)
    cum = np.cumsum(w, dtype=np.float64)
    for u in np.concatenate([gen.random(500) * totals[-1], [0.0, totals[0], np.nextafter(totals[-1], 0)]]):
        j = _d2_draw(w, sums, totals, float(u))
        assert w[j] > 0.0
        expected = min(int(np.searchsorted(cum, u, side="right")), len(w) - 1)
        if abs(cum[expected] - u) > 1e-6 * totals[-1] and abs(cum[expected - 1] - u) > 1e-6 * totals[-1]:
            assert j == expected  # away from rounding distance of a border: the global running sum's row


def test_badge_float32_matches_reference() -> None:
    probs, h = _badge_data(9, n=300, c=10, d=16)
    picks = badge(probs.astype(np.float32), h.astype(np.float32), 30, np.random.default_rng(0))
    ref = _badge_reference(probs.astype(np.float32), h.astype(np.float32), 30, np.random.default_rng(0))
    np.testing.assert_array_equal(picks, ref)


def test_badge_first_pick_is_max_gradient_norm() -> None:
    probs, h = _badge_data(1, n=200)
    g = _gradient_embeddings(probs, h)
    assert int(badge(probs, h, 1, np.random.default_rng(0))[0]) == int(np.argmax((g * g).sum(1)))
    # the first pick does not depend on the generator
    assert len({int(badge(probs, h, 3, np.random.default_rng(s))[0]) for s in range(5)}) == 1


def test_badge_unique_deterministic_and_can_take_all() -> None:
    probs, h = _badge_data(2, n=50)
    picks = badge(probs, h, 50, np.random.default_rng(0))
    _assert_valid_picks(picks, 50, 50)
    np.testing.assert_array_equal(picks, badge(probs, h, 50, np.random.default_rng(0)))
    assert not np.array_equal(
        badge(probs, h, 20, np.random.default_rng(0)), badge(probs, h, 20, np.random.default_rng(1))
    )


def test_badge_identical_rows() -> None:
    probs = np.tile([[0.5, 0.25, 0.25]], (12, 1))
    h = np.full((12, 4), 0.5, dtype=np.float32)
    picks = badge(probs, h, 6, np.random.default_rng(0))
    _assert_valid_picks(picks, 6, 12)
    np.testing.assert_array_equal(picks, _badge_reference(probs, h, 6, np.random.default_rng(0)))


def test_badge_errors() -> None:
    probs, h = _badge_data(0, n=10)
    rng = np.random.default_rng(0)
    with pytest.raises(PoolExhaustedError, match="Requested 11 items but only 10"):
        badge(probs, h, 11, rng)
    with pytest.raises(ValueError, match="probs has 9 rows but embeddings has 10"):
        badge(probs[:9], h, 2, rng)
    with pytest.raises(ValueError, match="rows must sum to 1"):
        badge(probs * 2, h, 2, rng)
    h_bad = h.copy()
    h_bad[3, 0] = np.inf
    with pytest.raises(ValueError, match="NaN/inf"):
        badge(probs, h_bad, 2, rng)
    assert badge(probs, h, 0, rng).shape == (0,)
