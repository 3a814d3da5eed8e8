"""Tests for ``activelab.selection.kcenter``: greedy k-center and the covering radius.

k-center is checked pick for pick against a naive numpy reference that builds every distance.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.distance import cdist

from activelab.errors import PoolExhaustedError
from activelab.selection import covering_radius, kcenter_greedy


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
def test_kcenter_matches_reference(seed: int, n_labelled: int, assert_valid_picks) -> None:
    gen = np.random.default_rng(seed)
    n, d, k = 300, 6, 30
    x = gen.normal(size=(n, d)) * gen.uniform(0.5, 2.0, size=d)
    labelled = np.zeros(n, dtype=bool)
    labelled[gen.choice(n, n_labelled, replace=False)] = True
    picks = kcenter_greedy(x, labelled, k, np.random.default_rng(100 + seed))
    assert_valid_picks(picks, k, n, labelled)
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


def test_kcenter_never_returns_labelled_and_can_take_all(assert_valid_picks) -> None:
    gen = np.random.default_rng(1)
    x = gen.normal(size=(60, 4)).astype(np.float32)
    labelled = gen.random(60) < 0.5
    n_free = int((~labelled).sum())
    picks = kcenter_greedy(x, labelled, n_free, np.random.default_rng(0))
    assert_valid_picks(picks, n_free, 60, labelled)
    assert set(picks.tolist()) == set(np.flatnonzero(~labelled).tolist())


def test_kcenter_more_than_unlabelled() -> None:
    x = np.zeros((10, 2), dtype=np.float32)
    labelled = np.arange(10) < 7
    with pytest.raises(PoolExhaustedError, match="Requested 4 items but only 3"):
        kcenter_greedy(x, labelled, 4, np.random.default_rng(0))
    assert kcenter_greedy(x, labelled, 0, np.random.default_rng(0)).shape == (0,)


@pytest.mark.parametrize("n_labelled", [0, 3])
def test_kcenter_identical_rows(n_labelled: int, assert_valid_picks) -> None:
    x = np.full((20, 5), 0.5, dtype=np.float32)  # exact in binary: every distance is exactly 0
    labelled = np.arange(20) < n_labelled
    picks = kcenter_greedy(x, labelled, 10, np.random.default_rng(3))
    assert_valid_picks(picks, 10, 20, labelled)
    np.testing.assert_array_equal(picks, _kcenter_reference(x, labelled, 10, np.random.default_rng(3)))
    other = kcenter_greedy(x, labelled, 10, np.random.default_rng(4))
    assert not np.array_equal(picks, other)  # the fallback is random, not "lowest index"


def test_kcenter_duplicates_of_labelled_rows(assert_valid_picks) -> None:
    # every unlabelled row duplicates a labelled one: distances are 0 up to rounding
    gen = np.random.default_rng(2)
    base = gen.normal(size=(10, 3)).round(1)
    x = np.concatenate([base, base])  # rows 10..19 duplicate rows 0..9
    labelled = np.zeros(20, dtype=bool)
    labelled[:10] = True
    picks = kcenter_greedy(x, labelled, 10, np.random.default_rng(0))
    assert_valid_picks(picks, 10, 20, labelled)


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


# -------------------------------------------------------------------------- the passes' kernels
@pytest.mark.parametrize("kernel", ["numpy", "einsum", "einsum-threads", "numba", "torch.mv", "torch.matmul"])
@pytest.mark.parametrize("n_labelled", [0, 30])
def test_kcenter_matches_reference_with_every_matvec_kernel(kernel: str, n_labelled: int) -> None:
    from activelab.neighbors.kernels import forced_kernel, recording

    gen = np.random.default_rng(11)
    x = gen.normal(size=(400, 12)).astype(np.float32)
    labelled = np.zeros(400, dtype=bool)
    labelled[gen.choice(400, n_labelled, replace=False)] = True
    with forced_kernel(kernel), recording() as rec:
        picks = kcenter_greedy(x, labelled, 30, np.random.default_rng(2))
    np.testing.assert_array_equal(picks, _kcenter_reference(x, labelled, 30, np.random.default_rng(2)))
    # one pass per pick (the labelled rows are one GEMM, not passes), all by the forced kernel;
    # numba's compiled loop does not fold the last pick (its distances are never used)
    assert len(rec) == (29 if kernel == "numba" else 30) and {k for _, k, _ in rec} == {kernel}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_min_sq_dist_to_set_in_blocks_matches_brute_force(monkeypatch: pytest.MonkeyPatch, dtype: type) -> None:
    import torch

    from activelab.selection import kcenter as kc

    monkeypatch.setattr(kc, "_BLOCK_ELEMS", 1000)  # 5 centres a chunk: blocks of 200 rows, several of them
    gen = np.random.default_rng(4)
    x = gen.normal(size=(1000, 6)).astype(dtype)
    centres = gen.choice(1000, 23, replace=False)
    xt = torch.from_numpy(x)
    got = kc._min_sq_dist_to_set(xt, kc.sq_norms(xt), xt[torch.from_numpy(centres)], chunk=5)  # 5 centre chunks
    brute = cdist(x.astype(np.float64), x[centres].astype(np.float64), "sqeuclidean").min(axis=1)
    np.testing.assert_allclose(got.numpy(), brute, rtol=1e-4 if dtype == np.float32 else 1e-10, atol=1e-4)
    assert (got.numpy() >= 0.0).all()  # clamped: rounding never gives a negative distance


@pytest.mark.parametrize("kernel", ["einsum", "einsum-threads", "numba"])
@pytest.mark.parametrize("n_labelled", [0, 5])
def test_kcenter_fused_chunks_match_reference(monkeypatch: pytest.MonkeyPatch, kernel: str, n_labelled: int) -> None:
    from activelab.neighbors import kernels

    monkeypatch.setattr(kernels, "_CHUNK_BYTES", 64 * 5 * 4)  # 64-row chunks: 16 chunks, 3 threads pulling them
    monkeypatch.setattr(kernels.os, "cpu_count", lambda: 3)
    monkeypatch.setattr(kernels, "_TEAM_CHUNK_BYTES", 64 * 5 * 4)  # numba: 64-row chunks claimed by a team of 3
    gen = np.random.default_rng(8)
    x = gen.normal(size=(1000, 5)).astype(np.float32)
    x[500:520] = x[0]  # ties of distance: the first maximum must win, as in the unfused loop
    labelled = np.zeros(1000, dtype=bool)
    labelled[gen.choice(1000, n_labelled, replace=False)] = True
    with kernels.forced_kernel(kernel):
        picks = kcenter_greedy(x, labelled, 40, np.random.default_rng(5))
    np.testing.assert_array_equal(picks, _kcenter_reference(x, labelled, 40, np.random.default_rng(5)))
    with kernels.forced_kernel("numpy"):
        np.testing.assert_array_equal(picks, kcenter_greedy(x, labelled, 40, np.random.default_rng(5)))


@pytest.mark.parametrize("kernel", ["einsum-threads", "numba"])
@pytest.mark.parametrize("n_labelled", [0, 2])
def test_kcenter_fused_chunks_fall_back_to_random_on_identical_rows(
    monkeypatch: pytest.MonkeyPatch, kernel: str, n_labelled: int
) -> None:
    from activelab.neighbors import kernels

    monkeypatch.setattr(kernels, "_CHUNK_BYTES", 64 * 3 * 4)
    monkeypatch.setattr(kernels, "_TEAM_CHUNK_BYTES", 64 * 3 * 4)
    monkeypatch.setattr(kernels.os, "cpu_count", lambda: 2)
    x = np.full((300, 3), 0.25, dtype=np.float32)
    x[:5] = np.arange(15, dtype=np.float32).reshape(5, 3)  # a few distinct rows, then only duplicates
    labelled = np.arange(300) < n_labelled
    with kernels.forced_kernel(kernel):
        picks = kcenter_greedy(x, labelled, 20, np.random.default_rng(3))
    # the random draws among duplicates use rng exactly as the reference does
    np.testing.assert_array_equal(picks, _kcenter_reference(x, labelled, 20, np.random.default_rng(3)))


def test_loop_kernel_takes_the_compiled_loops_once_loaded_unless_a_kernel_is_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from activelab.neighbors import kernels

    pytest.importorskip("numba")
    x = torch.zeros((50, 4))
    monkeypatch.setattr(kernels, "_team_warm", [])
    monkeypatch.delenv(kernels.ENV_VAR, raising=False)
    assert kernels.loop_kernel(x) != "numba"  # small and not loaded: numba's start is not worth one call
    monkeypatch.setattr(kernels, "NUMBA_MIN_BYTES", 50 * 4 * 4)
    assert kernels.loop_kernel(x) == "numba"  # large enough to repay the start within the call
    monkeypatch.setattr(kernels, "NUMBA_MIN_BYTES", 2**40)
    assert kernels.warm_compiled_loops() >= 0.0
    assert kernels.loop_kernel(x) == "numba"  # loaded in this process: chosen at every size
    with kernels.forced_kernel("numpy"):
        assert kernels.loop_kernel(x) == "numpy"
    monkeypatch.setenv(kernels.ENV_VAR, "einsum")
    assert kernels.loop_kernel(x) == "einsum"


def test_loop_kernel_without_numba_is_the_measured_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    from activelab.neighbors import _jit, kernels

    monkeypatch.setattr(_jit, "AVAILABLE", False)
    monkeypatch.setattr(kernels, "_team_warm", [True])
    monkeypatch.delenv(kernels.ENV_VAR, raising=False)
    assert kernels.loop_kernel(torch.zeros((50, 4))) in kernels.measured_kernels("cpu")
    assert kernels.warm_compiled_loops() == 0.0
    assert not kernels.team_available()


def test_warm_for_rounds_loads_the_compiled_loops_only_for_large_repeated_selections(monkeypatch: pytest.MonkeyPatch) -> None:
    from activelab.neighbors import kernels

    pytest.importorskip("numba")
    monkeypatch.delenv(kernels.ENV_VAR, raising=False)
    monkeypatch.setattr(kernels, "_team_warm", [])
    kernels.warm_for_rounds(kernels.ROUNDS_MIN_BYTES - 1)
    assert not kernels._team_warm  # below the threshold one round's saving does not repay the start
    with kernels.forced_kernel("numpy"):
        kernels.warm_for_rounds(kernels.ROUNDS_MIN_BYTES)
    assert not kernels._team_warm  # a forced kernel is kept
    kernels.warm_for_rounds(kernels.ROUNDS_MIN_BYTES)
    assert kernels._team_warm


def test_kcenter_compiled_picks_do_not_depend_on_the_number_of_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    from activelab.neighbors import kernels

    pytest.importorskip("numba")
    gen = np.random.default_rng(12)
    x = gen.normal(size=(3000, 6)).astype(np.float32)
    x[1500:1600] = x[7]  # ties: the first maximum wins whatever the chunks
    labelled = np.zeros(3000, dtype=bool)
    labelled[:10] = True
    picks = {}
    for cores in (1, 2, 5):
        monkeypatch.setattr(kernels.os, "cpu_count", lambda cores=cores: cores)
        with kernels.forced_kernel("numba"):
            picks[cores] = kcenter_greedy(x, labelled, 60, np.random.default_rng(1))
    np.testing.assert_array_equal(picks[1], picks[2])
    np.testing.assert_array_equal(picks[1], picks[5])
    np.testing.assert_array_equal(picks[1], _kcenter_reference(x, labelled, 60, np.random.default_rng(1)))


def test_kcenter_team_distances_do_not_depend_on_the_chunks() -> None:
    """The compiled fold takes rows four at a time; chunks of any length (tails of 1–3 rows) give the same bits."""
    pytest.importorskip("numba")
    from activelab.neighbors import kernels

    team = kernels.team_module()
    gen = np.random.default_rng(5)
    x = gen.normal(size=(1003, 37)).astype(np.float32)
    x[400:420] = x[3]  # ties: the first maximum must win in every chunking
    half_sq = np.einsum("ij,ij->i", x, x) * np.float32(0.5)
    k = 40
    results = []
    for lanes, step in ((1, 64), (1, 1003), (2, 65), (2, 201), (3, 66), (2, 67)):
        n_chunks = -(-1003 // step)
        m = np.full(1003, np.inf, dtype=np.float32)
        picks = np.empty(k, dtype=np.int64)
        picks[0] = 3
        tail = (
            picks, np.empty((2, n_chunks), dtype=np.float32), np.empty((2, n_chunks), dtype=np.int64),
            np.zeros((k + 1) * lanes, dtype=np.int64), np.zeros(k + 1, dtype=np.int64),
            np.array([1, 1, 0], dtype=np.int64), step, lanes,
        )
        kernels.run_team(team.kcenter_team, (x, half_sq, m, 0, k, *tail), (x, half_sq, m, k, k, *tail), lanes)
        results.append((picks.copy(), m.copy()))
    for picks, m in results[1:]:
        np.testing.assert_array_equal(picks, results[0][0])
        np.testing.assert_array_equal(m, results[0][1])
    picks, m = results[0]
    centres = x[picks[:-1]]  # every pick but the last is folded
    d2 = ((x[:, None, :].astype(np.float64) - centres[None].astype(np.float64)) ** 2).sum(-1).min(1)
    free = np.ones(1003, dtype=bool)
    free[picks[:-1]] = False
    np.testing.assert_allclose(2 * m[free], d2[free], rtol=1e-4, atol=1e-3)
    assert (m[picks[:-1]] == -1).all()
    first = np.zeros(1003, dtype=bool)
    first[3] = True  # the loop's first centre, as a labelled row of the reference
    np.testing.assert_array_equal(picks[1:], _kcenter_reference(x, first, k - 1, np.random.default_rng(0)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_min_sq_dist_to_set_compiled_row_minimum_gives_the_numpy_values(monkeypatch: pytest.MonkeyPatch, dtype: type) -> None:
    from activelab.neighbors import kernels
    from activelab.selection import kcenter as kc

    pytest.importorskip("numba")
    monkeypatch.setattr(kc, "_BLOCK_ELEMS", 1000)  # several blocks of rows
    gen = np.random.default_rng(9)
    x = gen.normal(size=(1000, 6)).astype(dtype)
    sq = np.einsum("ij,ij->i", x, x)
    centres = x[gen.choice(1000, 23, replace=False)]
    row_min = kernels.team_module().min_plus_rows
    for chunk in (4096, 5):  # one chunk of centres (compiled), or several (the compiled first, NumPy after)
        np.testing.assert_array_equal(
            kc._min_sq_dist_to_set_np(x, sq, centres, chunk, row_min=row_min), kc._min_sq_dist_to_set_np(x, sq, centres, chunk)
        )


# ------------------------------------------------------------------------------ bf16 storage
def _bf16_values(x: np.ndarray) -> np.ndarray:
    """x rounded to bfloat16 by torch, as float64 (the points the bf16 path works on)."""
    import torch

    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).to(torch.bfloat16).to(torch.float64).numpy()


@pytest.mark.parametrize("n_labelled", [0, 12])
def test_kcenter_bf16_is_exact_greedy_on_the_rounded_points(monkeypatch: pytest.MonkeyPatch, n_labelled: int) -> None:
    from activelab.neighbors import kernels

    pytest.importorskip("numba")
    monkeypatch.setattr(kernels, "_TEAM_CHUNK_BYTES", 64 * 9 * 2)  # 64-row chunks of bf16 rows
    gen = np.random.default_rng(21)
    x = gen.normal(size=(900, 9)).astype(np.float32)
    labelled = np.zeros(900, dtype=bool)
    labelled[gen.choice(900, n_labelled, replace=False)] = True
    picks = kcenter_greedy(x, labelled, 40, np.random.default_rng(3), precision="bf16")
    np.testing.assert_array_equal(picks, _kcenter_reference(_bf16_values(x), labelled, 40, np.random.default_rng(3)))
    # the covering radius of the bf16 picks, measured on the original points, is close to fp32's
    fp32 = kcenter_greedy(x, labelled, 40, np.random.default_rng(3))
    r16 = covering_radius(x, np.concatenate([np.flatnonzero(labelled), picks]))
    r32 = covering_radius(x, np.concatenate([np.flatnonzero(labelled), fp32]))
    assert abs(r16 / r32 - 1.0) < 0.05


def test_precision_is_checked_before_any_work(monkeypatch: pytest.MonkeyPatch) -> None:
    from activelab.neighbors import kernels
    from activelab.selection import badge

    x = np.zeros((5, 2), dtype=np.float32)
    with pytest.raises(ValueError, match="precision must be one of 'fp32', 'bf16', got 'fp16'"):
        kcenter_greedy(x, np.zeros(5, dtype=bool), 1, np.random.default_rng(0), precision="fp16")
    with pytest.raises(ValueError, match="runs on the CPU only, got device='cuda'"):
        badge(np.full((5, 2), 0.5), x, 1, np.random.default_rng(0), device="cuda", precision="bf16")
    monkeypatch.setattr(kernels, "team_available", lambda: False)
    with pytest.raises(ValueError, match=r"needs the compiled pick loops: pip install 'activelab\[fast\]'"):
        kcenter_greedy(x, np.zeros(5, dtype=bool), 1, np.random.default_rng(0), precision="bf16")


@pytest.mark.parametrize("compiled", [True, False])
def test_bf16_rows_round_as_torch_does_and_give_the_rounded_norms(monkeypatch: pytest.MonkeyPatch, compiled: bool) -> None:
    import torch

    from activelab.neighbors import kernels
    from activelab.selection.tensors import bf16_decode, bf16_rows

    if compiled:
        pytest.importorskip("numba")
    else:
        monkeypatch.setattr(kernels, "team_available", lambda: False)  # the NumPy blocks
    gen = np.random.default_rng(4)
    x = (gen.normal(size=(3000, 13)) * np.exp(gen.normal(size=(3000, 13)) * 4)).astype(np.float32)
    x[0, :4] = [1.0 + 2**-8, 1.0 + 3 * 2**-8, -(1.0 + 2**-8), 0.0]  # ties: to even
    bits, sq = bf16_rows(x)
    expected = torch.from_numpy(x).to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    np.testing.assert_array_equal(bits, expected)
    rounded = bf16_decode(bits).astype(np.float64)
    np.testing.assert_allclose(sq, (rounded**2).sum(axis=1), rtol=1e-5)


@pytest.mark.parametrize("n_labelled", [0, 5])
def test_kcenter_first_call_measures_with_its_own_picks(monkeypatch: pytest.MonkeyPatch, n_labelled: int) -> None:
    """No kernel chosen yet and more picks than the trial: no separate probe, the reference's picks, a cached choice."""
    from activelab.neighbors import kernels

    monkeypatch.delenv(kernels.ENV_VAR, raising=False)
    monkeypatch.setattr(kernels, "_team_warm", [])
    monkeypatch.setattr(kernels, "_cache", {})
    monkeypatch.setattr(kernels, "time_kernels", lambda *a, **kw: pytest.fail("no separate probe"))
    gen = np.random.default_rng(8)
    x = gen.normal(size=(2000, 9)).astype(np.float32)
    labelled = np.zeros(2000, dtype=bool)
    labelled[gen.choice(2000, n_labelled, replace=False)] = True
    k = kernels.trial_passes(torch.from_numpy(x)) + 10
    got = kcenter_greedy(x, labelled, k, np.random.default_rng(2))
    np.testing.assert_array_equal(got, _kcenter_reference(x, labelled, k, np.random.default_rng(2)))
    assert kernels.cached_kernel(torch.from_numpy(x)) in kernels.measured_kernels("cpu")
