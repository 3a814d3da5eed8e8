"""Tests for ``activelab.neighbors.kernels``: the matrix-vector pass and its measured kernel choice."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from activelab.neighbors import kernels


@pytest.fixture(autouse=True)
def _fresh_cache(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(kernels.ENV_VAR, raising=False)
    kernels.clear_kernel_cache()
    yield
    kernels.clear_kernel_cache()


@pytest.mark.parametrize("kernel", kernels.CPU_KERNELS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matvec_matches_float64_product(kernel: str, dtype: type) -> None:
    gen = np.random.default_rng(0)
    x = gen.normal(size=(1000, 37)).astype(dtype)
    v = x[5].copy()
    out = torch.empty(1000, dtype=torch.from_numpy(x).dtype)
    got = kernels.matvec(torch.from_numpy(x), torch.from_numpy(v), out, kernel)
    assert got is out
    ref = x.astype(np.float64) @ v.astype(np.float64)
    tol = 1e-4 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out.numpy(), ref, rtol=tol, atol=tol * np.abs(ref).max())


def test_choice_is_measured_once_per_size_class(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, ...]] = []
    real = kernels.time_kernels

    def counting(x: torch.Tensor, rounds: int | None = None, *, probe_bytes: int | None = None, burst: int = 1):
        calls.append(tuple(x.shape))
        assert burst == 3  # bursts of back-to-back passes, as a pick loop makes them
        return real(x, rounds, probe_bytes=probe_bytes, burst=burst)

    monkeypatch.setattr(kernels, "time_kernels", counting)
    x = torch.from_numpy(np.ones((500, 8), dtype=np.float32))
    first = kernels.choose_kernel(x)
    assert first in kernels.CPU_KERNELS
    assert kernels.choose_kernel(x) == first
    assert kernels.choose_kernel(torch.from_numpy(np.ones((510, 8), dtype=np.float32))) == first  # same class
    assert len(calls) == 1
    kernels.choose_kernel(torch.from_numpy(np.ones((500, 9), dtype=np.float32)))  # another width: measured
    assert len(calls) == 2
    assert set(kernels.kernel_choices().values()) <= set(kernels.CPU_KERNELS)


def test_the_fastest_measured_kernel_is_chosen(monkeypatch: pytest.MonkeyPatch) -> None:
    # the fastest median pass wins (one lucky pass does not), the best pass breaks ties
    fake = {"numpy": [3.0, 3.0, 3.0], "einsum": [4.0, 0.1, 4.0], "torch.mv": [1.0, 9.0, 1.0]}
    monkeypatch.setattr(kernels, "time_kernels", lambda x, rounds=None, probe_bytes=None, burst=1: fake)
    assert kernels.choose_kernel(torch.zeros((4, 2))) == "torch.mv"
    fake["einsum"] = [1.0, 0.5, 1.0]
    kernels.clear_kernel_cache()
    assert kernels.choose_kernel(torch.zeros((4, 2))) == "einsum"


def test_time_kernels_times_every_candidate_on_a_prefix() -> None:
    x = torch.from_numpy(np.ones((1000, 16), dtype=np.float32))
    times = kernels.time_kernels(x, 3, probe_bytes=16 * 4 * 10)
    # torch.matmul is torch.mv's kernel: not measured; numba neither on a probe this small
    assert set(times) == {"numpy", "einsum", "einsum-threads", "torch.mv"}
    assert all(len(t) == 3 and min(t) >= 0.0 for t in times.values())
    assert set(kernels.time_kernels(x, 1, kernels=kernels.CPU_KERNELS)) == set(kernels.CPU_KERNELS)
    with pytest.raises(ValueError, match="'dgemv'"):
        kernels.time_kernels(x, 1, kernels=("dgemv",))


def test_forced_kernel_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    x = torch.zeros((10, 3))
    with kernels.forced_kernel("torch.matmul"):
        assert kernels.choose_kernel(x) == "torch.matmul"
        with kernels.forced_kernel("numpy"):
            assert kernels.choose_kernel(x) == "numpy"
        assert kernels.choose_kernel(x) == "torch.matmul"
    monkeypatch.setenv(kernels.ENV_VAR, "torch.mv")
    assert kernels.choose_kernel(x) == "torch.mv"
    assert kernels.kernel_choices() == {}  # nothing was measured


def test_bad_kernel_names_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    x = torch.zeros((10, 3))
    with pytest.raises(ValueError, match="'blas'.*numpy, einsum, einsum-threads, numba, torch.mv, torch.matmul"):
        with kernels.forced_kernel("blas"):
            pass
    with pytest.raises(ValueError, match="'sgemv'.*ACTIVELAB_MATVEC"):
        kernels.matvec(x, torch.zeros(3), torch.empty(10), "sgemv")
    monkeypatch.setenv(kernels.ENV_VAR, "numpyy")
    with pytest.raises(ValueError, match="'numpyy'"):
        kernels.choose_kernel(x)


def test_recording_sees_every_pass() -> None:
    x = torch.from_numpy(np.ones((50, 4), dtype=np.float32))
    out = torch.empty(50)
    with kernels.recording() as rec:
        kernels.matvec(x, x[0], out, "numpy")
        kernels.matvec(x, x[1], out, "torch.mv")
        kernels.row_products(x, out, "einsum")(3)
    kernels.matvec(x, x[2], out, "numpy")  # outside the block: not recorded
    assert [(shape, k) for shape, k, _ in rec] == [((50, 4), "numpy"), ((50, 4), "torch.mv"), ((50, 4), "einsum")]
    np.testing.assert_array_equal(out.numpy(), np.full(50, 4.0, dtype=np.float32))


@pytest.mark.parametrize("kernel", kernels.CPU_KERNELS)
def test_row_products_is_the_product_with_a_row(kernel: str) -> None:
    gen = np.random.default_rng(1)
    x = gen.normal(size=(300, 11)).astype(np.float32)
    out = torch.empty(300)
    f = kernels.row_products(torch.from_numpy(x), out, kernel)
    for j in (0, 7, 299):
        f(j)
        np.testing.assert_allclose(out.numpy(), x.astype(np.float64) @ x[j].astype(np.float64), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("n_rows", [1, 63, 64, 1000, 1001])
def test_einsum_threads_equals_einsum_bit_for_bit(monkeypatch: pytest.MonkeyPatch, n_rows: int) -> None:
    monkeypatch.setattr(kernels, "_CHUNK_BYTES", 64 * 7 * 4)  # 64-row chunks: many chunks, several threads
    monkeypatch.setattr(kernels.os, "cpu_count", lambda: 3)
    gen = np.random.default_rng(2)
    x = torch.from_numpy(gen.normal(size=(n_rows, 7)).astype(np.float32))
    got, ref = torch.full((n_rows,), np.nan), torch.empty(n_rows)
    kernels.matvec(x, x[0], got, "einsum-threads")
    kernels.matvec(x, x[0], ref, "einsum")
    np.testing.assert_array_equal(got.numpy(), ref.numpy())


def test_einsum_threads_pool_is_remade_in_a_forked_child(monkeypatch: pytest.MonkeyPatch) -> None:
    first = kernels._workers()
    assert kernels._workers() is first
    monkeypatch.setattr(kernels.os, "getpid", lambda: -1)  # as a fork's child sees it
    assert kernels._workers() is not first


def test_numba_kernel_without_numba_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    from activelab.neighbors import _jit

    monkeypatch.setattr(_jit, "AVAILABLE", False)
    x = torch.from_numpy(np.ones((50, 4), dtype=np.float32))
    assert "numba" not in kernels.time_kernels(x, 1)  # not offered, so never measured or chosen
    with kernels.forced_kernel("numba"), pytest.raises(ValueError, match=r"needs numba.*activelab\[fast\]"):
        kernels.matvec(x, x[0], torch.empty(50))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_numba_matvec_matches_blas_in_chunks(monkeypatch: pytest.MonkeyPatch, dtype: type) -> None:
    monkeypatch.setattr(kernels, "_CHUNK_BYTES", 64 * 7 * 8)  # 64-row chunks: 16 of them, pulled by 3 threads
    monkeypatch.setattr(kernels.os, "cpu_count", lambda: 3)
    x = np.random.default_rng(0).standard_normal((1000, 7)).astype(dtype)
    out = torch.empty(1000, dtype=torch.from_numpy(x).dtype)
    kernels.matvec(torch.from_numpy(x), torch.from_numpy(x[5].copy()), out, "numba")
    np.testing.assert_allclose(out.numpy(), x.astype(np.float64) @ x[5].astype(np.float64), rtol=1e-5, atol=1e-4)


def test_numba_is_measured_from_its_minimum_size(monkeypatch: pytest.MonkeyPatch) -> None:
    x = torch.from_numpy(np.ones((1000, 16), dtype=np.float32))  # 64 KB
    monkeypatch.setattr(kernels, "NUMBA_MIN_BYTES", 64_000)
    assert "numba" in kernels.time_kernels(x, 1)  # the test extra installs numba
    monkeypatch.setattr(kernels, "NUMBA_MIN_BYTES", 64_001)
    assert "numba" not in kernels.time_kernels(x, 1)


def test_bursts_time_back_to_back_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(kernels, "_run", lambda kernel, x, v, out: calls.append(kernel))
    x = torch.zeros((10, 3))
    times = kernels.time_kernels(x, 2, kernels=("numpy", "einsum"), burst=4)
    assert calls == ["numpy", "einsum"] + (["numpy"] * 4 + ["einsum"] * 4) * 2  # warm-up, then bursts
    assert {k: len(t) for k, t in times.items()} == {"numpy": 2, "einsum": 2}
    with pytest.raises(ValueError, match="burst must be >= 1, got 0"):
        kernels.time_kernels(x, 1, burst=0)


def test_measuring_row_products_measures_with_the_callers_passes_then_keeps_the_fastest(monkeypatch: pytest.MonkeyPatch) -> None:
    gen = np.random.default_rng(3)
    x = torch.from_numpy(gen.normal(size=(700, 12)).astype(np.float32))
    out = torch.empty(700)
    monkeypatch.setattr(kernels, "time_kernels", lambda *a, **kw: pytest.fail("no separate probe"))
    slow = {"numpy": 3e-3, "einsum": 1e-3, "einsum-threads": 2e-3, "torch.mv": 4e-3, "numba": 5e-3}
    used: list[str] = []
    real = kernels.row_products
    clock = [0.0]

    def timed(x_: torch.Tensor, out_: torch.Tensor, kernel: str | None = None):
        product = real(x_, out_, kernel)

        def run(j: int) -> None:
            used.append(str(kernel))
            clock[0] += slow[str(kernel)]  # a fake clock: each kernel's pass takes its own time
            product(j)

        return run

    monkeypatch.setattr(kernels, "row_products", timed)
    monkeypatch.setattr(kernels.time, "perf_counter", lambda: clock[0])
    assert kernels.cached_kernel(x) is None
    product = kernels.measuring_row_products(x, out)
    trial = kernels.trial_passes(x)
    candidates = [k for k in kernels.measured_kernels("cpu") if k != "numba"]  # 700 × 12 is below NUMBA_MIN_BYTES
    assert trial == len(candidates) * 4
    for j in range(trial + 5):
        product(j)
        np.testing.assert_allclose(out.numpy(), x.numpy() @ x.numpy()[j], rtol=1e-5, atol=1e-4)  # every pass is a real product
    assert used[:trial] == [k for k in candidates for _ in range(4)]  # one warm-up and 3 timed passes each, in turn
    assert set(used[trial:]) == {"einsum"}  # then the fastest, for good
    assert kernels.cached_kernel(x) == "einsum"  # cached for the size class, as choose_kernel would
    assert kernels.choose_kernel(x) == "einsum"


def test_cached_kernel_answers_without_measuring_only_what_needs_no_measurement(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernels, "time_kernels", lambda *a, **kw: pytest.fail("no measurement"))
    x = torch.zeros((40, 3))
    assert kernels.cached_kernel(x) is None
    with kernels.forced_kernel("einsum"):
        assert kernels.cached_kernel(x) == "einsum"
    monkeypatch.setenv(kernels.ENV_VAR, "torch.mv")
    assert kernels.cached_kernel(x) == "torch.mv"
    monkeypatch.setenv(kernels.ENV_VAR, "dgemv")
    with pytest.raises(ValueError, match="dgemv"):
        kernels.cached_kernel(x)


def test_loop_kernel_unmeasured_leaves_the_measurement_to_selections_with_enough_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(kernels, "_team_warm", [])
    probed: list[int] = []
    monkeypatch.setattr(kernels, "time_kernels", lambda x, *a, **kw: probed.append(1) or {"einsum": [1.0]})
    x = torch.zeros((40, 3))
    trial = kernels.trial_passes(x)
    assert kernels.loop_kernel_unmeasured(x, trial + 1) is None  # the caller's own passes will measure
    assert probed == []
    assert kernels.loop_kernel_unmeasured(x, trial) == "einsum"  # too few passes for that: the probe measures
    assert probed == [1]
    assert kernels.loop_kernel_unmeasured(x, trial + 1) == "einsum"  # chosen now, for every caller
    assert kernels.loop_kernel(x) == "einsum" and probed == [1]
