"""Tests for ``activelab.selection.badge``.

BADGE is checked pick for pick against a naive k-means++ reference that builds every gradient
embedding explicitly.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from activelab.errors import PoolExhaustedError
from activelab.selection import badge
from activelab.selection.badge import _BLOCK, _d2_draw


def _softmax_rows(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


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
def test_badge_matches_reference_kmeanspp(seed: int, n_classes: int, assert_valid_picks) -> None:
    probs, h = _badge_data(seed, c=n_classes)
    picks = badge(probs, h, 25, np.random.default_rng(seed))
    assert_valid_picks(picks, 25, len(h))
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


def test_badge_unique_deterministic_and_can_take_all(assert_valid_picks) -> None:
    probs, h = _badge_data(2, n=50)
    picks = badge(probs, h, 50, np.random.default_rng(0))
    assert_valid_picks(picks, 50, 50)
    np.testing.assert_array_equal(picks, badge(probs, h, 50, np.random.default_rng(0)))
    assert not np.array_equal(
        badge(probs, h, 20, np.random.default_rng(0)), badge(probs, h, 20, np.random.default_rng(1))
    )


def test_badge_identical_rows(assert_valid_picks) -> None:
    probs = np.tile([[0.5, 0.25, 0.25]], (12, 1))
    h = np.full((12, 4), 0.5, dtype=np.float32)
    picks = badge(probs, h, 6, np.random.default_rng(0))
    assert_valid_picks(picks, 6, 12)
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
    h_bad[3, 1] = np.inf
    with pytest.raises(ValueError, match=r"NaN/inf values \(first at row 3, column 1: inf\)"):
        badge(probs, h_bad, 2, rng)
    assert badge(probs, h, 0, rng).shape == (0,)


@pytest.mark.parametrize("kernel", ["numpy", "einsum", "einsum-threads", "numba", "torch.mv", "torch.matmul"])
@pytest.mark.parametrize("n_classes", [4, 40])
def test_badge_matches_reference_with_every_matvec_kernel(kernel: str, n_classes: int) -> None:
    from activelab.neighbors.kernels import forced_kernel, recording

    probs, h = _badge_data(7, n=300, c=n_classes, d=9)
    with forced_kernel(kernel), recording() as rec:
        picks = badge(probs, h.astype(np.float32), 20, np.random.default_rng(3))
    np.testing.assert_array_equal(picks, _badge_reference(probs, h.astype(np.float32), 20, np.random.default_rng(3)))
    # one pass over h per pick but the last (and one over a per pick when C > 32, except with numba,
    # whose compiled loop reads a in the same sweep), all by the forced kernel
    assert sum(1 for shape, _, _ in rec if shape == (300, 9)) == 19
    separate_a = n_classes > 32 and kernel != "numba"
    assert sum(1 for shape, _, _ in rec if shape == (300, n_classes)) == (19 if separate_a else 0)
    assert {k for _, k, _ in rec} == {kernel}


@pytest.mark.parametrize("kernel", ["einsum", "einsum-threads", "numba"])
@pytest.mark.parametrize("n_classes", [4, 40])
def test_badge_fused_blocks_match_reference(monkeypatch: pytest.MonkeyPatch, kernel: str, n_classes: int) -> None:
    import sys

    from activelab.neighbors import kernels

    badge_module = sys.modules["activelab.selection.badge"]  # the package's `badge` is the function

    monkeypatch.setattr(badge_module, "_BLOCK", 64)  # 16 blocks of the fused sweep and of the D² draw
    monkeypatch.setattr(kernels.os, "cpu_count", lambda: 3)  # 3 threads pulling blocks
    monkeypatch.setattr(kernels, "_TEAM_CHUNK_BYTES", 64 * 6 * 4)  # numba: 64-row blocks claimed by a team of 3
    probs, h = _badge_data(9, n=1000, c=n_classes, d=6)
    h = h.astype(np.float32)
    with kernels.forced_kernel(kernel), kernels.recording() as rec:
        picks = badge(probs, h, 30, np.random.default_rng(4))
    np.testing.assert_array_equal(picks, _badge_reference(probs, h, 30, np.random.default_rng(4)))
    assert sum(1 for shape, _, _ in rec if shape == (1000, 6)) == 29  # one fused sweep per pick but the last
    with kernels.forced_kernel("numpy"):
        np.testing.assert_array_equal(picks, badge(probs, h, 30, np.random.default_rng(4)))


@pytest.mark.parametrize("kernel", ["numpy", "numba"])
def test_badge_draws_then_falls_back_to_random_with_the_reference_stream(monkeypatch: pytest.MonkeyPatch, kernel: str) -> None:
    from activelab.neighbors import kernels

    monkeypatch.setattr(kernels, "_TEAM_CHUNK_BYTES", 64 * 4 * 4)  # numba: several blocks, a team of 2
    monkeypatch.setattr(kernels.os, "cpu_count", lambda: 2)
    probs, h = _badge_data(5, n=300, c=3, d=4)
    h = h.astype(np.float32)
    h[6:] = h[5]  # five distinct rows, then duplicates: D² draws, then every weight 0, then random picks
    probs[6:] = probs[5]
    with kernels.forced_kernel(kernel):
        picks = badge(probs, h, 12, np.random.default_rng(8))
    ref_rng = np.random.default_rng(8)
    np.testing.assert_array_equal(picks, _badge_reference(probs, h, 12, ref_rng))
    assert len(set(picks.tolist())) == 12
    rng = np.random.default_rng(8)
    with kernels.forced_kernel(kernel):
        badge(probs, h, 12, rng)
    assert rng.random() == ref_rng.random()  # the generator is left where the reference leaves it


def test_badge_compiled_picks_do_not_depend_on_the_number_of_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    from activelab.neighbors import kernels

    pytest.importorskip("numba")
    probs, h = _badge_data(2, n=3000, c=5, d=7)
    h = h.astype(np.float32)
    picks = {}
    for cores in (1, 2, 5):
        monkeypatch.setattr(kernels.os, "cpu_count", lambda cores=cores: cores)
        with kernels.forced_kernel("numba"):
            picks[cores] = badge(probs, h, 40, np.random.default_rng(6))
    np.testing.assert_array_equal(picks[1], picks[2])
    np.testing.assert_array_equal(picks[1], picks[5])
    np.testing.assert_array_equal(picks[1], _badge_reference(probs, h, 40, np.random.default_rng(6)))


def test_badge_bf16_is_exact_kmeanspp_on_the_rounded_embeddings(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from activelab.neighbors import kernels

    pytest.importorskip("numba")
    monkeypatch.setattr(kernels, "_TEAM_CHUNK_BYTES", 64 * 7 * 2)
    probs, h = _badge_data(13, n=800, c=6, d=7)
    h = h.astype(np.float32)
    rounded = torch.from_numpy(h).to(torch.bfloat16).to(torch.float32).numpy()
    picks = badge(probs, h, 30, np.random.default_rng(2), precision="bf16")
    np.testing.assert_array_equal(picks, _badge_reference(probs, rounded, 30, np.random.default_rng(2)))


@pytest.mark.parametrize("n_classes", [4, 40])
def test_badge_first_call_measures_with_its_own_picks(monkeypatch: pytest.MonkeyPatch, n_classes: int) -> None:
    """No kernel chosen yet for h and more picks than the trial: no separate probe of h, the reference's picks, a cached choice."""
    import torch

    from activelab.neighbors import kernels

    monkeypatch.delenv(kernels.ENV_VAR, raising=False)
    monkeypatch.setattr(kernels, "_team_warm", [])
    monkeypatch.setattr(kernels, "_cache", {})
    real = kernels.time_kernels
    probed: list[tuple[int, ...]] = []

    def probe(x, *a, **kw):
        probed.append(tuple(x.shape))
        return real(x, *a, **kw)

    monkeypatch.setattr(kernels, "time_kernels", probe)
    probs, h = _badge_data(11, n=1500, c=n_classes, d=9)
    h = h.astype(np.float32)
    k = kernels.trial_passes(torch.from_numpy(h)) + 10
    picks = badge(probs, h, k, np.random.default_rng(4))
    np.testing.assert_array_equal(picks, _badge_reference(probs, h, k, np.random.default_rng(4)))
    assert (1500, 9) not in probed  # h: measured by the picks' own passes
    assert kernels.cached_kernel(torch.from_numpy(h)) in kernels.measured_kernels("cpu")
