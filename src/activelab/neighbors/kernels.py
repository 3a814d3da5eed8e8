"""The matrix-vector pass over a pool-sized array, with its kernel chosen per device by measurement.

Greedy k-center, BADGE's k-means++ draws and k-means++ seeding read the whole pool once per
pick with one product ``out = x @ v``. That pass is memory-bandwidth bound, and which library
reads memory fastest depends on the machine, the shape and the load: on a 2-core EPYC VM,
``torch.mv`` read 11.8 GB/s at 1M × 512 where NumPy's BLAS ``sgemv`` read 24–27 GB/s (issue
17's measurement), while for small, cache-resident arrays or on a busy machine the order
changes (docs/benchmarks.md, issue 17). So :func:`matvec`
runs the kernel :func:`choose_kernel` picks:

``"numpy"``
    ``np.dot(x, v, out=...)``: NumPy's BLAS ``sgemv``/``dgemv`` (OpenBLAS in the wheels), CPU only.
``"einsum"``
    ``np.einsum("ij,j->i", ...)``: NumPy's own loop on one thread, CPU only. It wins where the
    threaded kernels lose to their start-up or to a busy machine: small arrays, or every core
    taken by other work (a 2.5 MB pass measured 0.36 ms against 10 ms for threaded ``sgemv``
    on a 2-core VM at load 5).
``"einsum-threads"``
    the same ``einsum`` on chunks of about 1 MiB of rows, pulled by one thread per core from a
    shared counter (NumPy releases the GIL inside ``einsum``). A thread that loses its core
    only delays the chunk it holds, where a threaded BLAS call waits for its slowest thread:
    on the 2-core VM at load 12 a 200k × 256 pass took 63 ms (median) against 93 ms for
    ``sgemv``. Each row's sum is the one plain ``einsum`` computes, bit for bit.
``"numba"``
    a loop compiled by numba (``pip install 'activelab[fast]'``, :mod:`._jit`) on ranges of
    rows (:func:`compiled_rows`: the whole array on one thread below 4 MiB, else a few ranges
    per core, pulled by one thread per core); offered only when numba is installed and the
    array has at least :data:`NUMBA_MIN_BYTES` (256 MiB). Its point is fusion: greedy k-center and BADGE then fold
    each row into their distances in the same read (:mod:`activelab.selection.kcenter`,
    :mod:`activelab.selection.badge`), where the other kernels are followed by O(N) NumPy
    steps.
``"torch.mv"``
    torch's own (MKL or its own loop on CPU, cuBLAS on CUDA).
``"torch.matmul"``
    accepted when forced, but not measured: for a matrix and a vector torch dispatches it to
    the same ATen ``mv`` kernel as ``torch.mv``.

The choice is measured once per process for each (device, dtype, width D, size class) and
cached: every candidate makes interleaved bursts of 3 back-to-back passes over a prefix of
``x`` itself, and the fastest median burst wins. Bursts, because a selection makes its passes
back to back (a threaded kernel timed on lone passes pays its threads' wake-up each time).
The prefix is 64 MiB, or 256 MiB from :data:`NUMBA_MIN_BYTES`, where ``numba`` is a
candidate: a 64 MiB probe is partly cache-resident and ranks the kernels otherwise than the
memory-bound pass over a large array (at 1M × 256 it timed ``numpy`` 5.6 ms and ``numba``
6.0 ms a pass, the whole array 85 and 51 ms; 2-core VM, docs/benchmarks.md, issue 17). The
median, not the best burst: on a busy machine a threaded kernel is fast while its threads
all run and many times slower when one waits for a core (bimodal), and the median sees which
case is typical. Different kernels sum in different orders, so their results may differ in
the last bits of float32; a choice is fixed for the rest of the process, so once it is made
one process always gives the same results.
``ACTIVELAB_MATVEC=<kernel>`` in the environment, or :func:`forced_kernel` in code, skips the
measurement (tests, and reproducing a run bit for bit).

A selection that will make more passes than the measurement needs does not probe: its first
passes are the measurement (:func:`measuring_row_products`: each candidate in turn makes one
warm-up and 3 timed passes of real picks over the whole array, then the fastest median is
used and cached). Such a first call mixes kernels in its first passes, so it may differ in the
last bits from a later call of the same process; a forced kernel avoids that too.

Cost of a measurement: ``k × (1 + 3 × r)`` passes for ``k`` candidates over the prefix,
``r`` = 2 rounds from 128 MiB, 3 from 43 MiB and up to 5 below, once per size class (on the
2-core VM about 0.2 s at 64 MiB, and 1.5 s at 256 MiB with numba's start); no extra memory
beyond one output vector.
"""

from __future__ import annotations

import itertools
import os
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from types import ModuleType
from typing import Any

import numpy as np
import torch

from . import _jit

__all__ = [
    "CPU_KERNELS",
    "DEVICE_KERNELS",
    "cached_kernel",
    "choose_kernel",
    "chunk_rows",
    "compiled_rows",
    "clear_kernel_cache",
    "forced_kernel",
    "kernel_choices",
    "loop_kernel",
    "loop_kernel_unmeasured",
    "matvec",
    "measured_kernels",
    "measuring_row_products",
    "NUMBA_MIN_BYTES",
    "record",
    "recording",
    "recording_active",
    "row_products",
    "run_chunks",
    "run_team",
    "team_available",
    "team_module",
    "team_rows",
    "team_threads",
    "time_kernels",
    "trial_passes",
    "warm_compiled_loops",
    "warm_for_rounds",
]

CPU_KERNELS = ("numpy", "einsum", "einsum-threads", "numba", "torch.mv", "torch.matmul")
"""Kernels on CPU (all but ``torch.matmul`` are measured; ``numba`` only when numba is installed)."""
DEVICE_KERNELS = ("torch.mv", "torch.matmul")
"""Kernels on CUDA and other non-CPU devices (``torch.mv`` is used)."""
_SAME_AS_MV = "torch.matmul"  # dispatches to torch.mv for a matrix and a vector: never measured
ENV_VAR = "ACTIVELAB_MATVEC"

NUMBA_MIN_BYTES = 256 * 2**20
"""Arrays below this size never get the ``numba`` kernel by measurement. Starting numba in a
process (import, then loading the compiled kernels from numba's cache) took about 0.85 s on
the 2-core VM, and its fused picks saved 20–40 % of a pass: from about 256 MiB, 100 picks
save more than that start costs; below it, a call of a few seconds would be slower."""
_PROBE_BYTES = 64 * 2**20  # the measurement reads at most this prefix of x (twice a 32 MiB L3) ...
_PROBE_BYTES_LARGE = 256 * 2**20  # ... or this one from NUMBA_MIN_BYTES, where numba is a candidate
_ROUNDS = 3  # timed rounds after one warm-up round; more for small arrays (see _rounds)
_BURST = 3  # passes per timing in choose_kernel: back to back, as a selection makes them

_cache: dict[tuple[str, str, int, int], str] = {}
_forced: list[str] = []
_recorders: list[list[tuple[tuple[int, ...], str, float]]] = []


def _candidates(device: torch.device) -> tuple[str, ...]:
    if device.type != "cpu":
        return DEVICE_KERNELS
    return CPU_KERNELS if _jit.AVAILABLE else tuple(k for k in CPU_KERNELS if k != "numba")


def measured_kernels(device: str | torch.device = "cpu") -> tuple[str, ...]:
    """The kernels :func:`choose_kernel` measures on ``device`` (``numba`` only when it is installed)."""
    return tuple(k for k in _candidates(torch.device(device)) if k != _SAME_AS_MV)


def _check_kernel(kernel: str, device: torch.device) -> str:
    allowed = _candidates(device)
    if kernel == "numba" and device.type == "cpu" and not _jit.AVAILABLE:
        raise ValueError(
            f"matrix-vector kernel 'numba' needs numba, which is not installed: pip install "
            f"'activelab[fast]', or choose one of {', '.join(allowed)} (from {ENV_VAR}, "
            "forced_kernel() or the kernel argument)."
        )
    if kernel not in allowed:
        raise ValueError(
            f"unknown matrix-vector kernel {kernel!r} for device {device.type!r}; choose one of "
            f"{', '.join(allowed)} (from {ENV_VAR}, forced_kernel() or the kernel argument)."
        )
    return kernel


def _run(kernel: str, x: torch.Tensor, v: torch.Tensor, out: torch.Tensor) -> None:
    if kernel == "numpy":
        np.dot(x.numpy(), v.numpy(), out=out.numpy())
    elif kernel == "einsum":
        np.einsum("ij,j->i", x.numpy(), v.numpy(), out=out.numpy())
    elif kernel == "einsum-threads":
        _einsum_threads(x.numpy(), v.numpy(), out.numpy())
    elif kernel == "numba":
        _numba_matvec(x.numpy(), v.numpy(), out.numpy())
    elif kernel == "torch.mv":
        torch.mv(x, v, out=out)
    else:
        torch.matmul(x, v, out=out)


_CHUNK_BYTES = 2**20  # rows per chunk of "einsum-threads": about 1 MiB of x
_pool: tuple[int, ThreadPoolExecutor] | None = None  # (pid that made it, pool): a forked child makes its own


def _workers() -> ThreadPoolExecutor:
    global _pool
    if _pool is None or _pool[0] != os.getpid():
        _pool = (os.getpid(), ThreadPoolExecutor(max(1, (os.cpu_count() or 1) - 1), thread_name_prefix="activelab-mv"))
    return _pool[1]


def chunk_rows(x: np.ndarray) -> int:
    """Rows per chunk of the chunked kernels: about 1 MiB of ``x`` (at least 64 rows)."""
    return max(64, int(_CHUNK_BYTES // max(1, x.shape[1] * x.itemsize)))


def run_chunks(n_chunks: int, work: Callable[[int], None], *, parallel: bool = True) -> None:
    """Call ``work(c)`` for every chunk ``c`` in ``range(n_chunks)``, from one thread per core.

    The threads pull chunk numbers from one shared counter, so a thread that loses its core
    delays only the chunk it holds. ``work`` must release the GIL for its time to overlap
    (NumPy's ``einsum`` and ufuncs do) and must touch only its own chunk. An exception in any
    chunk is raised here.
    """
    n_threads = min(os.cpu_count() or 1, n_chunks) if parallel else 1
    if n_threads <= 1:
        for c in range(n_chunks):
            work(c)
        return
    counter = itertools.count()  # next() on it is atomic under the GIL

    def pull() -> None:
        while (c := next(counter)) < n_chunks:
            work(c)

    pool = _workers()
    helpers = [pool.submit(pull) for _ in range(n_threads - 1)]
    pull()
    for f in helpers:
        f.result()


def _einsum_threads(xa: np.ndarray, v: np.ndarray, o: np.ndarray) -> None:
    """``o ← xa @ v`` by one-thread ``einsum`` on chunks of rows, one thread per core pulling chunks."""
    n = xa.shape[0]
    step = chunk_rows(xa)

    def work(c: int) -> None:
        s = c * step
        np.einsum("ij,j->i", xa[s : s + step], v, out=o[s : s + step])

    run_chunks(-(-n // step), work)


NUMBA_SERIAL_BYTES = 4 * 2**20
"""Below this size the compiled kernels make their pass on the calling thread alone: a
cache-resident pass takes tens of microseconds, what handing chunks to a second thread costs."""


def compiled_rows(x: np.ndarray, align: int = 1) -> int:
    """Rows per call of the compiled (``numba``) kernels on ``x``: a multiple of ``align``.

    All the rows below :data:`NUMBA_SERIAL_BYTES`; otherwise about a quarter of a core's share,
    so each thread makes a few calls per pass (a thread that loses its core delays only its
    current range, and the per-call cost of a few microseconds stays small).
    """
    n = int(x.shape[0])
    if x.nbytes < NUMBA_SERIAL_BYTES:
        return max(align, -(-n // align) * align)
    per_call = -(-n // (4 * (os.cpu_count() or 1)))
    return max(align, -(-per_call // align) * align)


def _numba_matvec(xa: np.ndarray, v: np.ndarray, o: np.ndarray) -> None:
    """``o ← xa @ v`` by the compiled loop of :mod:`._jit` on ranges of rows (:func:`compiled_rows`), pulled by one thread per core."""
    n = xa.shape[0]
    if n == 0:
        return
    step = compiled_rows(xa)

    def work(c: int) -> None:
        s = c * step
        _jit.matvec_chunk(xa, v, o, s, min(n, s + step))

    run_chunks(-(-n // step), work)


def record(shape: tuple[int, ...], kernel: str, seconds: float) -> None:
    """Report a pass made outside :func:`matvec` (a fused pass) to the active :func:`recording` blocks."""
    for rec in _recorders:
        rec.append((shape, kernel, seconds))


def recording_active() -> bool:
    """Whether a :func:`recording` block is open (a fused pass then times itself)."""
    return bool(_recorders)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _size_class(x: torch.Tensor) -> int:
    """log2 of the bytes a pass reads, capped at the probe size: small arrays live in cache."""
    nbytes = min(x.numel() * x.element_size(), _PROBE_BYTES_LARGE)
    return int(nbytes).bit_length()


def _rounds(nbytes: int) -> int:
    """Timed rounds: 2 from 128 MiB, 3 from 43 MiB, up to 5 for small arrays."""
    return 2 if nbytes >= 128 * 2**20 else max(_ROUNDS, min(5, (128 * 2**20) // max(1, nbytes)))


def time_kernels(
    x: torch.Tensor,
    rounds: int | None = None,
    *,
    probe_bytes: int | None = None,
    kernels: tuple[str, ...] | None = None,
    burst: int = 1,
) -> dict[str, list[float]]:
    """Seconds of a pass ``x @ v`` by each kernel (default: the measured candidates of ``x``'s device).

    One warm-up pass each, then ``rounds`` rounds in which every kernel makes ``burst`` passes
    back to back, timed together (so a change of the machine's load falls on all of them
    alike). ``x`` is cut to its first ``probe_bytes`` (default: all of it).

    Args:
        x: ``(N, D)`` C-contiguous float tensor.
        rounds: Timed rounds (default: 3 for large arrays, more for small ones).
        probe_bytes: Read at most this many bytes of ``x`` per pass.
        kernels: The kernels to time (default: :func:`measured_kernels`, without ``numba``
            below :data:`NUMBA_MIN_BYTES`; ``CPU_KERNELS`` times every CPU kernel).
        burst: Passes per timing, back to back as a selection makes them (a threaded kernel
            whose threads have gone to sleep pays their wake-up on a lone pass only).

    Returns:
        ``{kernel: [mean seconds of a pass in each timed burst]}``.
    """
    if burst < 1:
        raise ValueError(f"burst must be >= 1, got {burst}.")
    if probe_bytes is not None:
        rows = max(1, min(x.shape[0], probe_bytes // max(1, x.shape[1] * x.element_size())))
        x = x[:rows]
    v = x[x.shape[0] // 2].clone()
    out = torch.empty(x.shape[0], dtype=x.dtype, device=x.device)
    if kernels is None:
        kernels = _default_kernels(x)
    kernels = tuple(_check_kernel(k, x.device) for k in kernels)
    n_rounds = _rounds(x.numel() * x.element_size()) if rounds is None else rounds
    times: dict[str, list[float]] = {k: [] for k in kernels}
    for kernel in kernels:
        _run(kernel, x, v, out)
    for _ in range(n_rounds):
        for kernel in kernels:
            _sync(x.device)
            t0 = time.perf_counter()
            for _ in range(burst):
                _run(kernel, x, v, out)
            _sync(x.device)
            times[kernel].append((time.perf_counter() - t0) / burst)
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
    if x.device.type != "cpu":
        return "torch.mv"  # the one candidate elsewhere (torch.matmul is the same kernel)
    key = _cache_key(x)
    kernel = _cache.get(key)
    if kernel is None:
        large = _jit.AVAILABLE and x.numel() * x.element_size() >= NUMBA_MIN_BYTES
        times = time_kernels(x, probe_bytes=_PROBE_BYTES_LARGE if large else _PROBE_BYTES, burst=_BURST)
        kernel = _fastest(times)
        _cache[key] = kernel
    return kernel


def _cache_key(x: torch.Tensor) -> tuple[str, str, int, int]:
    return (x.device.type, str(x.dtype), int(x.shape[1]), _size_class(x))


def _fastest(times: dict[str, list[float]]) -> str:
    """The kernel of the lowest median time (ties: the lowest minimum, then the first measured)."""
    return min(times, key=lambda k: (statistics.median(times[k]), min(times[k])))


def cached_kernel(x: torch.Tensor) -> str | None:
    """:func:`choose_kernel`'s answer when it needs no measurement (forced, from the environment,
    off the CPU, or measured before in this process for ``x``'s size class), else None.

    Raises:
        ValueError: As :func:`choose_kernel`, for a forced or environment kernel that does not suit ``x``.
    """
    if _forced or os.environ.get(ENV_VAR, "").strip() or x.device.type != "cpu":
        return choose_kernel(x)
    return _cache.get(_cache_key(x))


def _default_kernels(x: torch.Tensor) -> tuple[str, ...]:
    """The kernels measured on ``x``: :func:`measured_kernels`, without ``numba`` below :data:`NUMBA_MIN_BYTES`."""
    small = x.numel() * x.element_size() < NUMBA_MIN_BYTES
    return tuple(k for k in measured_kernels(x.device) if not (small and k == "numba"))


def trial_passes(x: torch.Tensor) -> int:
    """Passes :func:`measuring_row_products` makes before it settles on a kernel for ``x``:
    one warm-up and :data:`_BURST` timed passes per candidate of :func:`choose_kernel`.
    """
    return len(_default_kernels(x)) * (1 + _BURST)


def measuring_row_products(x: torch.Tensor, out: torch.Tensor) -> Callable[[int], None]:
    """:func:`row_products` that measures the kernels with the caller's own passes.

    A sequential selection that will make at least :func:`trial_passes` passes over a CPU
    array whose kernel is not yet chosen (:func:`cached_kernel` is None) uses this instead
    of :func:`choose_kernel`'s separate measurement on a probe: its first passes go to each
    candidate in turn (one warm-up, then :data:`_BURST` timed passes back to back), every one
    of them a pick's real product; then the kernel of the lowest median pass does the rest
    and is cached for ``x``'s size class, as :func:`choose_kernel` would cache it. The first
    call per size class thus spends no extra pass on measuring (the probe's passes took
    0.12–0.17 s at 200k × 256 on the 2-core Xeon VM; docs/benchmarks.md, issue 17, session 17),
    and the times are those of whole passes over ``x`` as the selection makes them. The kernels
    compute the same products up to rounding in the last bits (as with any measured choice,
    a pick can differ from another kernel's only where two distances are that close).

    Cost: as :func:`row_products` per call, plus a clock read per pass during the trial.
    """
    kernels = _default_kernels(x)
    per = 1 + _BURST
    schedule = [k for k in kernels for _ in range(per)]
    products = {k: row_products(x, out, k) for k in kernels}
    times: dict[str, list[float]] = {k: [] for k in kernels}
    key = _cache_key(x)
    state: list[Callable[[int], None]] = []  # the chosen kernel's product, once settled
    made = [0]

    def product(j: int) -> None:
        if state:
            state[0](j)
            return
        i = made[0]
        kernel = schedule[i]
        t0 = time.perf_counter()
        products[kernel](j)
        if i % per:  # not the warm-up pass
            times[kernel].append(time.perf_counter() - t0)
        made[0] = i + 1
        if made[0] == len(schedule):
            best = _cache.setdefault(key, _fastest(times))
            state.append(products[best] if best in products else row_products(x, out, best))

    return product


# ------------------------------------------------------------------ compiled pick loops ("team")
_team: list[ModuleType] = []  # the loaded activelab.neighbors._team, once imported
_team_warm: list[bool] = []  # non-empty once the team loops are compiled or loaded in this process


def _team_module() -> ModuleType | None:
    """:mod:`._team` (importing numba), or None without numba or without ``sched_yield``."""
    if not _team:
        if not _jit.AVAILABLE:
            return None
        from . import _team as module

        _team.append(module)
    return _team[0] if _team[0].YIELD_AVAILABLE else None


def team_module() -> ModuleType:
    """:mod:`._team`, with the compiled pick loops; using it marks them loaded in this process.

    Raises:
        RuntimeError: Without numba (``pip install 'activelab[fast]'``) or without a
            ``sched_yield`` in the C library.
    """
    module = _team_module()
    if module is None:
        raise RuntimeError(
            "the compiled pick loops (matrix-vector kernel 'numba') need numba, pip install "
            "'activelab[fast]', and the C library's sched_yield; choose another kernel with "
            f"{ENV_VAR} or forced_kernel()."
        )
    if not _team_warm:
        _team_warm.append(True)
    return module


def team_available() -> bool:
    """Whether the compiled pick loops of greedy k-center and BADGE can run here (numba installed).

    False without numba (``pip install 'activelab[fast]'``). Asking imports numba (about 0.3 s).
    """
    return _jit.AVAILABLE and _team_module() is not None


def warm_compiled_loops() -> float:
    """Load (or, the first time in an environment, compile) the compiled pick loops; returns seconds spent.

    After this call, :func:`loop_kernel` chooses them at every size in this process: a
    sequential selection in an active-learning loop runs once per round, so their one-time
    start (numba's import and loading its cached code: 0.5–1 s on the 2-core VM, a few seconds
    to compile on a first run) is repaid over the rounds. Without it they are chosen from
    :data:`NUMBA_MIN_BYTES` only, where one call repays the start. Does nothing (returns 0)
    without numba.
    """
    t0 = time.perf_counter()
    module = _team_module() if _jit.AVAILABLE else None
    if module is None:
        return 0.0
    for dtype in (np.float32, np.float64):
        x = np.zeros((2, 2), dtype=dtype)
        v = np.zeros(2, dtype=dtype)
        idx = np.zeros(2, dtype=np.int64)
        f64 = np.zeros(2)
        module.kcenter_team(x, v, v.copy(), 1, 1, idx, x.copy(), idx.reshape(1, 2), idx, idx, idx, 1, 1)
        module.badge_team(x, x.copy(), v, v.copy(), 1, 1, idx, f64, f64, f64, idx, idx, idx, 1, 1)
        module.min_plus_rows(x, v, v.copy(), 0)
    xb = np.zeros((2, 2), dtype=np.uint16)
    v32 = np.zeros(2, dtype=np.float32)
    module.bf16_round_rows(np.zeros((2, 2), dtype=np.float32), xb, v32, 0, 0)
    module.kcenter_team(xb, v32, v32.copy(), 1, 1, idx, v32.reshape(1, 2), idx.reshape(1, 2), idx, idx, idx, 1, 1)
    module.badge_team(xb, v32.reshape(1, 2), v32, v32.copy(), 1, 1, idx, f64, f64, f64, idx, idx, idx, 1, 1)
    _team_warm.append(True)
    return time.perf_counter() - t0


ROUNDS_MIN_BYTES = 16 * 2**20
"""From this size, a strategy that selects round after round (``coreset``, ``badge``) loads the
compiled pick loops on its first selection (:func:`warm_for_rounds`): on the 2-core VM they
saved 1.5–2.5× per call at 10k–100k rows (docs/benchmarks.md, issue 17), and from 16 MiB a
call lasts tens of milliseconds or more, so a few rounds repay their one-time start."""


def warm_for_rounds(nbytes: int) -> None:
    """Load the compiled pick loops (:func:`warm_compiled_loops`) if a selection over ``nbytes`` of
    embeddings will be repeated round after round and is large enough to repay their start
    (:data:`ROUNDS_MIN_BYTES`). Does nothing without numba, when they are loaded already, or
    when a kernel is forced.
    """
    if _team_warm or _forced or os.environ.get(ENV_VAR, "").strip():
        return
    if nbytes >= ROUNDS_MIN_BYTES and team_available():
        warm_compiled_loops()


def loop_kernel(x: torch.Tensor) -> str:
    """The kernel of a sequential selection's pick loop over ``x`` (greedy k-center, BADGE).

    ``"numba"`` (the compiled team loops of :mod:`._team`) when it is forced, or when numba is
    installed, ``x`` is on the CPU and either ``x`` has at least :data:`NUMBA_MIN_BYTES` or the
    loops are already loaded in this process (:func:`warm_compiled_loops`); otherwise
    :func:`choose_kernel`'s choice.
    """
    kernel = loop_kernel_unmeasured(x, 0)
    return choose_kernel(x) if kernel is None else kernel


def loop_kernel_unmeasured(x: torch.Tensor, passes: int) -> str | None:
    """:func:`loop_kernel` for a selection that will make ``passes`` passes over ``x``: None when
    no kernel is chosen yet and ``passes`` exceeds :func:`trial_passes` (the caller then
    measures with its own passes, :func:`measuring_row_products`); otherwise the kernel, measured
    by :func:`choose_kernel`'s probe if need be.
    """
    if _forced or os.environ.get(ENV_VAR, "").strip():
        return choose_kernel(x)
    if x.device.type == "cpu" and _jit.AVAILABLE:
        if (_team_warm or x.numel() * x.element_size() >= NUMBA_MIN_BYTES) and team_available():
            return "numba"
    kernel = cached_kernel(x)
    if kernel is None and passes <= trial_passes(x):
        return choose_kernel(x)
    return kernel


_TEAM_CHUNK_BYTES = 2**20  # at most this much of x per claimed chunk of a team loop


def team_rows(x: np.ndarray, cap: int | None = None, parts: int | None = None) -> int:
    """Rows per chunk claimed by a team loop: ``ceil(N / parts)``, at most 1 MiB of ``x`` (and ``cap``), at least 64.

    ``parts`` defaults to 4 per core (a few chunks per thread, so the threads finish a pick
    together). A loop whose results depend on the chunks (BADGE's float64 block sums) passes
    a fixed number, so that its picks do not depend on the machine's cores.
    """
    n = int(x.shape[0])
    per = -(-n // (parts if parts is not None else 4 * (os.cpu_count() or 1)))
    rows = min(per, max(64, _TEAM_CHUNK_BYTES // max(1, int(x.shape[1]) * int(x.itemsize))))
    if cap is not None:
        rows = min(rows, cap)
    return max(64, rows)


def team_threads(n_chunks: int) -> int:
    """Threads of a team loop over ``n_chunks`` chunks: one per core, at most one per chunk."""
    return max(1, min(os.cpu_count() or 1, n_chunks))


def run_team(fn: Callable[..., None], args: tuple[Any, ...], ready: tuple[Any, ...], n_threads: int) -> None:
    """Run the compiled team loop ``fn(*args)`` on ``n_threads`` threads (:func:`team_threads`).

    The caller is one of the threads; the others are started here and joined before
    returning. ``fn(*ready)`` is called first, in the caller's thread: ``ready`` are arguments
    of the same types that make ``fn`` return at once, so a compilation or typing error is
    raised before any helper starts. An exception in a helper is raised here.
    """
    fn(*ready)
    errors: list[Exception] = []

    def one() -> None:
        try:
            fn(*args)
        except Exception as exc:  # noqa: BLE001  (re-raised in the caller below)
            errors.append(exc)

    helpers = [threading.Thread(target=one, daemon=True, name="activelab-team") for _ in range(1, n_threads)]
    for th in helpers:
        th.start()
    one()
    for th in helpers:
        th.join()
    if errors:
        raise errors[0]


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
        record(tuple(x.shape), k, time.perf_counter() - t0)
    else:
        _run(k, x, v, out)
    return out


def row_products(x: torch.Tensor, out: torch.Tensor, kernel: str | None = None) -> Callable[[int], None]:
    """A function ``j ↦ (out ← x @ x[j])``: :func:`matvec` with a row of ``x`` itself, bound once.

    The sequential selections call it once per pick; binding the arrays once saves the
    per-call tensor-to-array views (microseconds that count at small N).

    Args:
        x: ``(N, D)`` C-contiguous float tensor.
        out: ``(N,)`` C-contiguous tensor of ``x``'s dtype and device, overwritten by each call.
        kernel: One of the device's candidates; default :func:`choose_kernel`.
    """
    k = choose_kernel(x) if kernel is None else _check_kernel(kernel, x.device)
    if k not in ("numpy", "einsum"):  # einsum-threads and torch: through _run

        def torch_pass(j: int) -> None:
            if _recorders:
                matvec(x, x[j], out, k)
            else:
                _run(k, x, x[j], out)

        return torch_pass
    xa, o = x.numpy(), out.numpy()
    use_blas = k == "numpy"

    def numpy_pass(j: int) -> None:
        if _recorders:
            matvec(x, x[j], out, k)
        elif use_blas:
            np.dot(xa, xa[j], out=o)
        else:
            np.einsum("ij,j->i", xa, xa[j], out=o)

    return numpy_pass


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
