"""The matrix-vector pass over a pool-sized array, with its kernel chosen per device by measurement.

Greedy k-center, BADGE's k-means++ draws and k-means++ seeding read the whole pool once per
pick with one product ``out = x @ v``. That pass is memory-bandwidth bound, and which library
reads memory fastest depends on the machine, the shape and the load: on a 2-core EPYC VM,
``torch.mv`` read 11.8 GB/s at 1M × 512 where NumPy's BLAS ``sgemv`` read 24–27 GB/s, while on
other machines (and for small, cache-resident arrays) the order changes. So :func:`matvec`
runs the kernel :func:`choose_kernel` picks:

``"numpy"``
    ``np.dot(x, v, out=...)``: NumPy's BLAS ``sgemv``/``dgemv`` (OpenBLAS in the wheels), CPU only.
``"torch.mv"`` / ``"torch.matmul"``
    torch's own; the only candidates on CUDA and other non-CPU devices.

The choice is measured once per process for each (device, dtype, width D, size class) and
cached: every candidate makes a few interleaved passes over ``x`` itself (at most its first
64 MiB), the fastest median wins. Different kernels sum in different orders, so their results
may differ in the last bits of float32; a choice is fixed for the rest of the process, so one
process always gives the same results. ``ACTIVELAB_MATVEC=<kernel>`` in the environment, or
:func:`forced_kernel` in code, skips the measurement (tests, and reproducing a run bit for bit).

Cost of a measurement: ``3 × (1 + _ROUNDS)`` passes over ``min(x, 64 MiB)``, once per size
class; no extra memory beyond one output vector.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch

__all__ = [
    "CPU_KERNELS",
    "DEVICE_KERNELS",
    "choose_kernel",
    "clear_kernel_cache",
    "forced_kernel",
    "kernel_choices",
    "matvec",
    "recording",
    "time_kernels",
]

CPU_KERNELS = ("numpy", "torch.mv", "torch.matmul")
"""Candidates on CPU."""
DEVICE_KERNELS = ("torch.mv", "torch.matmul")
"""Candidates on CUDA and other non-CPU devices."""
ENV_VAR = "ACTIVELAB_MATVEC"

_PROBE_BYTES = 64 * 2**20  # the measurement reads at most this prefix of x (twice a 32 MiB L3)
_ROUNDS = 2  # timed rounds after one warm-up round; more for small arrays (see _rounds)

_cache: dict[tuple[str, str, int, int], str] = {}
_forced: list[str] = []
_recorders: list[list[tuple[tuple[int, ...], str, float]]] = []


def _candidates(device: torch.device) -> tuple[str, ...]:
    return CPU_KERNELS if device.type == "cpu" else DEVICE_KERNELS


def _check_kernel(kernel: str, device: torch.device) -> str:
    allowed = _candidates(device)
    if kernel not in allowed:
        raise ValueError(
            f"unknown matrix-vector kernel {kernel!r} for device {device.type!r}; choose one of "
            f"{', '.join(allowed)} (from {ENV_VAR}, forced_kernel() or the kernel argument)."
        )
    return kernel


def _run(kernel: str, x: torch.Tensor, v: torch.Tensor, out: torch.Tensor) -> None:
    if kernel == "numpy":
        np.dot(x.numpy(), v.numpy(), out=out.numpy())
    elif kernel == "torch.mv":
        torch.mv(x, v, out=out)
    else:
        torch.matmul(x, v, out=out)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _size_class(x: torch.Tensor) -> int:
    """log2 of the bytes a pass reads, capped at the probe size: small arrays live in cache."""
    nbytes = min(x.numel() * x.element_size(), _PROBE_BYTES)
    return int(nbytes).bit_length()


def _rounds(nbytes: int) -> int:
    """Timed rounds: 2 for large arrays, up to 25 for small ones (about 128 MiB read per kernel)."""
    return max(_ROUNDS, min(25, (128 * 2**20) // max(1, nbytes)))


def time_kernels(x: torch.Tensor, rounds: int | None = None, *, probe_bytes: int | None = None) -> dict[str, list[float]]:
    """Seconds of single passes ``x @ v`` by every candidate kernel of ``x``'s device.

    One warm-up pass each, then ``rounds`` rounds in which every kernel makes one pass (so a
    change of the machine's load falls on all of them alike). ``x`` is cut to its first
    ``probe_bytes`` (default: all of it).

    Args:
        x: ``(N, D)`` C-contiguous float tensor.
        rounds: Timed rounds (default: 2 for large arrays, more for small ones).
        probe_bytes: Read at most this many bytes of ``x`` per pass.

    Returns:
        ``{kernel: [seconds of each timed pass]}``.
    """
    if probe_bytes is not None:
        rows = max(1, min(x.shape[0], probe_bytes // max(1, x.shape[1] * x.element_size())))
        x = x[:rows]
    v = x[x.shape[0] // 2].clone()
    out = torch.empty(x.shape[0], dtype=x.dtype, device=x.device)
    kernels = _candidates(x.device)
    n_rounds = _rounds(x.numel() * x.element_size()) if rounds is None else rounds
    times: dict[str, list[float]] = {k: [] for k in kernels}
    for kernel in kernels:
        _run(kernel, x, v, out)
    for _ in range(n_rounds):
        for kernel in kernels:
            _sync(x.device)
            t0 = time.perf_counter()
            _run(kernel, x, v, out)
            _sync(x.device)
            times[kernel].append(time.perf_counter() - t0)
    return times


def choose_kernel(x: torch.Tensor) -> str:
    """The kernel :func:`matvec` uses for ``x``: forced, from ``ACTIVELAB_MATVEC``, or measured (cached).

    Raises:
        ValueError: If the forced or environment kernel is not a candidate on ``x``'s device.
    """
    if _forced:
        return _check_kernel(_forced[-1], x.device)
    env = os.environ.get(ENV_VAR, "").strip()
    if env:
        return _check_kernel(env, x.device)
    key = (x.device.type, str(x.dtype), int(x.shape[1]), _size_class(x))
    kernel = _cache.get(key)
    if kernel is None:
        times = time_kernels(x, probe_bytes=_PROBE_BYTES)
        kernel = min(times, key=lambda k: (statistics.median(times[k]), min(times[k])))
        _cache[key] = kernel
    return kernel


def matvec(x: torch.Tensor, v: torch.Tensor, out: torch.Tensor, kernel: str | None = None) -> torch.Tensor:
    """``out ← x @ v``, one pass over ``x``, by the fastest kernel for ``x`` (see the module docstring).

    Args:
        x: ``(N, D)`` C-contiguous float tensor (CPU tensors are read in place by NumPy).
        v: ``(D,)`` tensor of ``x``'s dtype and device.
        out: ``(N,)`` C-contiguous tensor of ``x``'s dtype and device, overwritten.
        kernel: One of the device's candidates; default :func:`choose_kernel`.

    Returns:
        ``out``.

    Cost: one read of ``x`` (N·D), no allocation (the first call per size class also measures).
    """
    k = choose_kernel(x) if kernel is None else _check_kernel(kernel, x.device)
    if _recorders:
        _sync(x.device)
        t0 = time.perf_counter()
        _run(k, x, v, out)
        _sync(x.device)
        seconds = time.perf_counter() - t0
        for rec in _recorders:
            rec.append((tuple(x.shape), k, seconds))
    else:
        _run(k, x, v, out)
    return out


@contextmanager
def forced_kernel(kernel: str) -> Iterator[None]:
    """Use ``kernel`` for every :func:`matvec` inside the block (it must suit the tensors' device)."""
    allowed = CPU_KERNELS + tuple(k for k in DEVICE_KERNELS if k not in CPU_KERNELS)
    if kernel not in allowed:
        raise ValueError(f"unknown matrix-vector kernel {kernel!r}; choose one of {', '.join(allowed)}.")
    _forced.append(kernel)
    try:
        yield
    finally:
        _forced.pop()


@contextmanager
def recording() -> Iterator[list[tuple[tuple[int, ...], str, float]]]:
    """Record ``(x.shape, kernel, seconds)`` of every :func:`matvec` inside the block (benchmarks)."""
    rec: list[tuple[tuple[int, ...], str, float]] = []
    _recorders.append(rec)
    try:
        yield rec
    finally:
        _recorders.remove(rec)


def kernel_choices() -> dict[tuple[str, str, int, int], str]:
    """The cached choices: ``{(device type, dtype, D, log2 bytes class): kernel}``."""
    return dict(_cache)


def clear_kernel_cache() -> None:
    """Forget the measured choices (the next pass measures again)."""
    _cache.clear()
