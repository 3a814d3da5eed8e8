"""Selection speed benchmark (issue 2): scoring, top-k, k-center and BADGE up to N = 1,000,000.

For every pool size N the script builds seeded float32 inputs (embeddings ``(N, D)`` and
class probabilities ``(N, C)``) and measures, for each batch size k:

* margin / entropy / BALD scores + ``top_k``, and ``power`` sampling on margin;
* ``kcenter_greedy`` with 100 labelled rows, exact and on a 64-d random projection (with the
  covering radius of both pick sets measured in the original space);
* ``badge`` (k-means++ seeding on factorised gradient embeddings);
* the floor of the sequential methods (issue 17): (k + 1) passes for k-center (the labelled
  rows' GEMM counts as one), k for BADGE, each the fastest fp32 pass ``E @ v`` that any kernel
  makes (NumPy's BLAS sgemv, one-thread and threaded einsum, the compiled ``numba`` loop when
  numba is installed, ``torch.mv``; per kernel, bursts of back-to-back passes as a method makes
  them, timed right before and after the method, the fastest burst's mean pass). k-center's
  notes add its *work floor*: the fastest GEMM of the embeddings with the labelled rows (NumPy
  or torch; with 100 labelled rows it is compute-bound, 6 to 40 passes' worth) plus k passes.
  The notes also give the method's own passes (the kernel ``activelab.neighbors.kernels``
  chose, timed in the run); the size table prints each kernel's single pass and a STREAM-like
  read of the array (``torch.sum`` / NumPy ``sum``);
* the streamed inference pass (``TorchClassifier.predict_views``) that produces these views.

Time is wall-clock seconds. Memory is the peak resident set *above* the level reached once
the inputs exist (Linux ``VmHWM`` after a reset through ``/proc/self/clear_refs``; a sampling
thread on ``/proc/self/statm`` elsewhere). Results go to stdout as markdown tables.

Usage::

    python benchmarks/selection_speed.py --quick
    python benchmarks/selection_speed.py --out selection.md          # N up to 1M, k in {100, 1000}
    python benchmarks/selection_speed.py --compare --out compare.md  # D=128, k=1000, N in {100k, 1M}
    python benchmarks/selection_speed.py --floor-only --dim 64,256,512 --ks 100   # issue 17: k-center, BADGE
    python benchmarks/selection_speed.py --catalogue bayesian,coldstart   # + the issue-3 methods

``--catalogue`` appends the tables of ``benchmarks/_speed_bayesian.py`` (BatchBALD, EPIG and the
stochastic selectors, k = 100, 20 draws) and ``benchmarks/_speed_coldstart.py`` (kNN, k-means,
TypiClust, ProbCover, Cluster-Margin, two-step) at the same pool sizes; ``--catalogue-only``
skips the core grid.
"""

from __future__ import annotations

import activelab  # noqa: F401 - first, before NumPy loads OpenBLAS (activelab._env)
import argparse
import ctypes
import datetime
import gc
import os
import platform
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from activelab.acquisition import bald, entropy, margin
from activelab.models.networks import mlp
from activelab.neighbors import kernels
from activelab.models.torch import TorchClassifier
from activelab.selection import badge, covering_radius, kcenter_greedy, power, random_projection, top_k

MB = 1024.0**2
N_LABELLED = 100
N_DRAWS = 20
BALD_MAX_N = 100_000
PROJECTION_DIM = 64
TARGET = 1.3  # k-center and BADGE: at most this many times their floor (issue 17)
INFERENCE_INPUT_DIM = 64
_CHUNK = 65536


# --------------------------------------------------------------------------------- memory
def _libc() -> ctypes.CDLL | None:
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


_LIBC = _libc()


def _configure_malloc() -> None:
    """Return freed blocks of >= 64 KiB to the OS at once, so that RSS deltas are honest.

    glibc's dynamic mmap threshold would otherwise serve later medium-sized arrays (up to
    32 MiB) from memory freed by an earlier measurement, hiding them from the peak.
    """
    if _LIBC is not None:
        m_mmap_threshold = -3
        _LIBC.mallopt(m_mmap_threshold, 65536)


def _trim() -> None:
    gc.collect()
    if _LIBC is not None:
        _LIBC.malloc_trim(0)


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _hwm_bytes() -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        return False
    return True


class PeakMemory:
    """Context manager: ``peak_above`` = peak RSS during the block minus RSS at entry (bytes)."""

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval
        self.peak_above = 0
        self._use_hwm = False
        self._stop = threading.Event()
        self._max = 0
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._max = max(self._max, _rss_bytes())
            time.sleep(self.interval)

    def __enter__(self) -> PeakMemory:
        _trim()
        self.base = _rss_bytes()
        self._use_hwm = _reset_hwm() and _hwm_bytes() is not None
        if not self._use_hwm:
            self._max = self.base
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._use_hwm:
            peak = _hwm_bytes() or 0
        else:
            self._stop.set()
            assert self._thread is not None
            self._thread.join()
            peak = max(self._max, _rss_bytes())
        self.peak_above = max(0, peak - self.base)


def measure(fn: Callable[[], Any], repeats: int = 1) -> tuple[float, float, Any]:
    """(median seconds, peak MB above entry on the first run, result of the first run)."""
    times = []
    result = None
    peak = 0.0
    for r in range(repeats):
        if r == 0:
            with PeakMemory() as mem:
                t0 = time.perf_counter()
                result = fn()
                times.append(time.perf_counter() - t0)
            peak = mem.peak_above / MB
        else:
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
    return statistics.median(times), peak, result


# --------------------------------------------------------------------------------- inputs
def _softmax_rows(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=-1, keepdims=True)
    return z


def make_embeddings(n: int, dim: int, n_classes: int, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Clustered float32 embeddings with low intrinsic dimension, and matching probabilities.

    Rows are ``centre[c] + z @ W + noise`` with a 16-d latent ``z`` per row, so k-center has
    real structure to cover; logits are a noisy linear read-out of the same rows.
    """
    n_clusters = 5 * n_classes
    centres = (gen.standard_normal((n_clusters, dim)) * 2.0).astype(np.float32)
    lift = (gen.standard_normal((16, dim)) / 4.0).astype(np.float32)
    readout = (gen.standard_normal((dim, n_classes)) / np.sqrt(dim)).astype(np.float32)
    emb = np.empty((n, dim), dtype=np.float32)
    probs = np.empty((n, n_classes), dtype=np.float32)
    for start in range(0, n, _CHUNK):
        m = min(_CHUNK, n - start)
        block = centres[gen.integers(n_clusters, size=m)]
        block += gen.standard_normal((m, 16), dtype=np.float32) @ lift
        block += 0.1 * gen.standard_normal((m, dim), dtype=np.float32)
        emb[start : start + m] = block
        logits = 1.5 * (block @ readout) + gen.standard_normal((m, n_classes), dtype=np.float32)
        probs[start : start + m] = _softmax_rows(logits)
    return emb, probs


def make_prob_samples(probs: np.ndarray, n_draws: int, gen: np.random.Generator) -> np.ndarray:
    """``(N, n_draws, C)`` float32 posterior samples around ``log(probs)``."""
    n, c = probs.shape
    out = np.empty((n, n_draws, c), dtype=np.float32)
    for start in range(0, n, _CHUNK):
        logp = np.log(np.maximum(probs[start : start + _CHUNK], 1e-12))[:, None, :]
        noise = gen.standard_normal((len(logp), n_draws, c), dtype=np.float32)
        out[start : start + _CHUNK] = _softmax_rows(logp + noise)
    return out


def pass_times(emb: np.ndarray, rounds: int = 5) -> dict[str, list[float]]:
    """Seconds of single fp32 passes ``E @ v`` by every measured kernel (NumPy's BLAS sgemv,
    one-thread and threaded einsum, numba when installed, ``torch.mv``), interleaved round by
    round (``kernels.time_kernels``).
    """
    return kernels.time_kernels(torch.from_numpy(emb), rounds, kernels=kernels.measured_kernels("cpu"))


def stream_read(emb: np.ndarray, repeats: int = 5) -> float:
    """Seconds of the fastest plain read of the array (STREAM-like): ``torch.sum`` (all threads)
    or NumPy's ``sum`` (one thread), best of ``repeats`` each.
    """
    x = torch.from_numpy(emb)
    best = float("inf")
    for read in (lambda: torch.sum(x), lambda: np.add.reduce(emb, axis=None)):
        read()
        for _ in range(repeats):
            t0 = time.perf_counter()
            read()
            best = min(best, time.perf_counter() - t0)
    return best


def burst_pass_times(emb: np.ndarray, rounds: int = 2) -> dict[str, list[float]]:
    """Mean seconds of a pass in bursts of back-to-back passes, per kernel, interleaved round by round.

    A sequential method makes its passes back to back, so the floor's pass is timed the same
    way (threads awake, the array as warm as it can be): bursts of 3 to 30 passes (about 64 MiB
    × 30 read per burst at most), ``rounds`` bursts per kernel (``kernels.time_kernels``).
    """
    burst = max(3, min(30, int(30 * 64 * MB // max(1, emb.nbytes))))
    return kernels.time_kernels(torch.from_numpy(emb), rounds, kernels=kernels.measured_kernels("cpu"), burst=burst)


def gemm_time(emb: np.ndarray, rows: np.ndarray, repeats: int = 3) -> tuple[str, float]:
    """(library, seconds) of the fastest product of the embeddings with ``emb[rows]``ᵀ: NumPy's BLAS or torch."""
    c = np.ascontiguousarray(emb[rows].T)
    out = np.empty((emb.shape[0], len(rows)), dtype=emb.dtype)
    x, ct, ot = torch.from_numpy(emb), torch.from_numpy(c), torch.from_numpy(out)
    best: dict[str, float] = {}
    for name, f in (("numpy", lambda: np.dot(emb, c, out=out)), ("torch", lambda: torch.matmul(x, ct, out=ot))):
        f()
        best[name] = min(_timed(f) for _ in range(repeats))
    lib = min(best, key=lambda k: best[k])
    return lib, best[lib]


def _timed(f: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    f()
    return time.perf_counter() - t0


def fastest_pass(times: dict[str, list[float]]) -> tuple[str, float]:
    """(kernel, seconds) of the fastest pass: the kernel whose fastest burst is fastest."""
    kernel = min(times, key=lambda k: min(times[k]))
    return kernel, min(times[kernel])


@dataclass
class FloorTiming:
    seconds: float
    peak_mb: float
    fastest: float  # median seconds of the fastest kernel's pass, timed alone right before and after
    fastest_kernel: str
    pass_in_run: float  # median seconds of the method's own passes over the embeddings
    run_kernel: str  # the kernel the method used (activelab.neighbors.kernels.loop_kernel)
    n_passes: int
    seconds_in_passes: float  # per call
    result: Any


def timed_against_floor(emb: np.ndarray, fn: Callable[[], Any], repeats: int = 1) -> FloorTiming:
    """Run a sequential method (the median of ``repeats`` calls) and measure its floor.

    The floor's pass is the fastest any kernel makes over the embeddings (every candidate of
    ``kernels.time_kernels``, in bursts right before and after the method: :func:`burst_pass_times`,
    the fastest burst's mean pass). The method's own passes are recorded too
    (``kernels.recording``): on a shared machine their time moves with the load as the
    method's does.
    """
    before = burst_pass_times(emb)
    with kernels.recording() as rec:
        sec, peak, result = measure(fn, repeats=repeats)
    after = burst_pass_times(emb)
    kernel, fast = fastest_pass({k: before[k] + after[k] for k in before})
    own = [(k, t) for shape, k, t in rec if shape == tuple(emb.shape)]
    in_run = statistics.median(t for _, t in own) if own else float("nan")
    run_kernel = own[0][0] if own else "—"
    per_call = len(own) // max(1, repeats)  # the passes of one call (every call makes the same ones)
    return FloorTiming(sec, peak, fast, kernel, in_run, run_kernel, per_call, sum(t for _, t in own) / max(1, repeats), result)


def _repeats(estimate: float) -> int:
    """Calls of a method to time: the median of 3 where it should take under about 2 s (one call
    at 10k rows lasts milliseconds, and a single one is at the mercy of the moment), else one.
    """
    return 3 if estimate < 2.0 else 1


def _floor_notes(t: FloorTiming, n_floor: int) -> str:
    return (
        f"fastest pass {t.fastest * 1e3:.2f} ms ({t.fastest_kernel}) × {n_floor}; the run's {t.n_passes} passes "
        f"({t.run_kernel}): median {t.pass_in_run * 1e3:.2f} ms, {t.seconds_in_passes:.2f} s in all"
    )


# -------------------------------------------------------------------------------- results
@dataclass
class Row:
    n: int
    k: int | None
    method: str
    seconds: float | None
    peak_mb: float | None = None
    floor: float | None = None
    inference: float | None = None
    emb_mb: float | None = None
    work_floor: float | None = None  # k-center: the labelled rows' fastest GEMM + k passes
    notes: str = ""
    dim: int = 0

    def cells(self) -> list[str]:
        def num(x: float | None, fmt: str) -> str:
            return "—" if x is None else format(x, fmt)

        return [
            f"{self.n:,}",
            str(self.dim),
            "—" if self.k is None else str(self.k),
            self.method,
            "skipped" if self.seconds is None else num(self.seconds, ".3f"),
            "—" if self.floor is None else f"{self.floor:.2f} s",
            "—" if self.floor is None or self.seconds is None else f"{self.seconds / self.floor:.2f}",
            "—" if self.inference is None or self.seconds is None else f"{self.seconds / self.inference:.3f}",
            num(self.peak_mb, ".1f"),
            "—" if self.peak_mb is None or not self.emb_mb else f"{self.peak_mb / self.emb_mb:.2f}",
            self.notes,
        ]


HEADER = [
    "N",
    "D",
    "k",
    "method",
    "seconds",
    "floor (passes × fastest pass)",
    "× floor",
    "× inference",
    "peak MB above inputs",
    "× emb. array",
    "notes",
]


@dataclass
class SizeInfo:
    n: int
    dim: int
    emb_mb: float
    pass_seconds: dict[str, float]  # median single pass per kernel
    read_seconds: float  # STREAM-like read of the array
    chosen: str = "—"  # the kernel activelab.neighbors.kernels chose for the embeddings
    choose_seconds: float = 0.0  # its one-time measurement (excluded from the methods' times)
    inference_seconds: float | None = None
    inference_peak_mb: float | None = None
    extra: dict[str, str] = field(default_factory=dict)


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def method_rows_table(rows: Sequence[dict[str, Any]]) -> str:
    """The ``bench_rows`` dicts of the catalogue scripts (n, k, method, seconds, peak_mb, notes)."""
    header = ["N", "k", "method", "seconds", "peak MB above inputs", "notes"]
    body = [
        [
            f"{r['n']:,}",
            str(r["k"]),
            r["method"],
            "skipped" if r["seconds"] is None else f"{r['seconds']:.3f}",
            "—" if r["peak_mb"] is None else f"{r['peak_mb']:.1f}",
            r["notes"],
        ]
        for r in rows
    ]
    return markdown_table(header, body)


def render(infos: list[SizeInfo], rows: list[Row], title: str) -> str:
    kernel_names = list(kernels.measured_kernels("cpu"))
    size_rows = [
        [
            f"{i.n:,}",
            str(i.dim),
            f"{i.emb_mb:.1f}",
            *(f"{i.pass_seconds[k] * 1e3:.2f}" for k in kernel_names),
            f"{i.emb_mb * MB / min(i.pass_seconds.values()) / 1e9:.1f}",
            f"{i.emb_mb * MB / i.read_seconds / 1e9:.1f}",
            f"{i.chosen} ({i.choose_seconds * 1e3:.0f} ms)",
            "—" if i.inference_seconds is None else f"{i.inference_seconds:.2f}",
            "—" if i.inference_peak_mb is None else f"{i.inference_peak_mb:.1f}",
        ]
        for i in infos
    ]
    parts = [
        f"### {title}",
        "",
        markdown_table(
            ["N", "D", "embedding array MB", *(f"{k} pass ms" for k in kernel_names), "fastest pass GB/s",
             "STREAM-like read GB/s", "pick loop's kernel (choice)", "inference pass s", "inference peak MB"],
            size_rows,
        ),
        "",
        markdown_table(HEADER, [r.cells() for r in rows]),
        "",
        *check_targets(infos, rows),
    ]
    return "\n".join(parts) + "\n"


def check_targets(infos: list[SizeInfo], rows: list[Row]) -> list[str]:
    """One line per target of DESIGN.md §6 that the rows can decide."""
    out = ["Targets (DESIGN.md §6):", ""]
    missed = 0
    for r in rows:
        if r.seconds is None:
            continue
        if r.method in ("kcenter_greedy", "badge"):
            ok_t = r.floor is not None and r.seconds <= TARGET * r.floor
            ok_m = r.peak_mb is not None and r.emb_mb is not None and r.peak_mb < 2.0 * r.emb_mb
            if not (ok_t and ok_m):
                missed += 1
                work = "" if r.work_floor is None else f"; {r.seconds / r.work_floor:.2f}× its work floor (labelled GEMM + k passes)"
                out.append(
                    f"- MISSED: {r.method} N={r.n:,} D={r.dim} k={r.k}: {r.seconds / (r.floor or 1):.2f}× floor "
                    f"(target ≤ {TARGET}){work}, peak {r.peak_mb:.1f} MB vs 2× array {2 * (r.emb_mb or 0):.1f} MB"
                )
    biggest = max((i.n for i in infos), default=0)
    for r in rows:
        if r.n == biggest and r.inference is not None and r.seconds is not None and r.seconds >= 0.1 * r.inference:
            missed += 1
            out.append(f"- MISSED: {r.method} N={r.n:,} k={r.k}: {r.seconds / r.inference:.3f}× inference (target < 0.1)")
    if missed == 0:
        out.append(f"- all measured rows meet the targets (k-center/BADGE ≤ {TARGET}× floor and peak < 2× embedding array; "
                   f"scoring + top-k at N={biggest:,} < 0.1× inference).")
    return out


# ----------------------------------------------------------------------------- benchmarks
def inference_pass(n: int, n_classes: int, seed: int) -> tuple[float, float, int]:
    """Time and peak memory of the streamed views pass of an MLP 64-512-C (1 epoch on 1000 rows)."""
    gen = np.random.default_rng(seed)
    x = gen.standard_normal((n, INFERENCE_INPUT_DIM), dtype=np.float32)
    y = gen.integers(n_classes, size=min(n, 1000))
    clf = TorchClassifier(mlp((512,), 0.25), n_classes, epochs=1, batch_size=None)
    clf.fit(x[: len(y)], y, rng=np.random.default_rng(seed))
    seconds, peak, views = measure(lambda: clf.predict_views(x, ("probs", "embeddings")))
    width = int(views["embeddings"].shape[1])
    del views
    return seconds, peak, width


def bench_size(
    n: int,
    dim: int,
    n_classes: int,
    ks: Sequence[int],
    seed: int,
    *,
    methods: set[str],
    with_inference: bool,
    log: Callable[[str], None],
) -> tuple[SizeInfo, list[Row]]:
    gen = np.random.default_rng(seed)
    log(f"N={n:,}: generating inputs (D={dim}, C={n_classes})")
    emb, probs = make_embeddings(n, dim, n_classes, gen)
    samples = make_prob_samples(probs, N_DRAWS, gen) if "bald" in methods and n <= BALD_MAX_N else None
    labelled_idx = np.sort(gen.choice(n, N_LABELLED, replace=False))
    labelled = np.zeros(n, dtype=bool)
    labelled[labelled_idx] = True
    emb_mb = emb.nbytes / MB
    passes = {k: statistics.median(t) for k, t in pass_times(emb).items()}
    mv = min(passes.values())
    read = stream_read(emb)
    info = SizeInfo(n=n, dim=dim, emb_mb=emb_mb, pass_seconds=passes, read_seconds=read)
    if {"kcenter", "badge"} & methods:  # the one-time measurement of the kernel, timed on its own
        t0 = time.perf_counter()
        info.chosen = kernels.loop_kernel(torch.from_numpy(emb))
        info.choose_seconds = time.perf_counter() - t0
        log(f"  pick loop's kernel for the embeddings: {info.chosen} (chosen in {info.choose_seconds * 1e3:.0f} ms, once per process)")
    log(
        "  one pass: " + ", ".join(f"{k} {t * 1e3:.2f} ms" for k, t in passes.items())
        + f"; STREAM-like read {read * 1e3:.2f} ms ({emb.nbytes / read / 1e9:.1f} GB/s); embeddings {emb_mb:.1f} MB"
    )
    if with_inference:
        sec, peak, width = inference_pass(n, n_classes, seed)
        info.inference_seconds, info.inference_peak_mb = sec, peak
        log(f"  inference pass (MLP {INFERENCE_INPUT_DIM}-{width}-{n_classes}): {sec:.2f} s, peak {peak:.1f} MB")
    inf = info.inference_seconds
    rows: list[Row] = []

    def add(row: Row) -> None:
        row.dim = dim
        rows.append(row)
        log("  " + " | ".join(row.cells()))

    def rng() -> np.random.Generator:
        return np.random.default_rng(seed + 1)

    for k in ks:
        scorers: list[tuple[str, Callable[[], Any]]] = []
        if "margin" in methods:
            scorers.append(("margin + top_k", lambda k=k: top_k(margin(probs), k, rng())))
        if "entropy" in methods:
            scorers.append(("entropy + top_k", lambda k=k: top_k(entropy(probs), k, rng())))
        if "power" in methods:
            scorers.append(("margin + power", lambda k=k: power(margin(probs), k, rng())))
        for name, fn in scorers:
            sec, peak, _ = measure(fn, repeats=3)
            add(Row(n, k, name, sec, peak, inference=inf, emb_mb=emb_mb))
        if "bald" in methods:
            if samples is None:
                add(Row(n, k, f"bald + top_k ({N_DRAWS} draws)", None, notes=f"skipped above N={BALD_MAX_N:,}"))
            else:
                sec, peak, _ = measure(lambda k=k: top_k(bald(samples), k, rng()), repeats=3)
                add(
                    Row(n, k, f"bald + top_k ({N_DRAWS} draws)", sec, peak, inference=inf, emb_mb=emb_mb,
                        notes=f"samples array {samples.nbytes / MB:.0f} MB")
                )
        if "kcenter" in methods:
            log(f"  kcenter_greedy k={k} (about {k * mv:.0f} s at the floor)")
            gemm_lib, gemm_s = gemm_time(emb, labelled_idx)
            t = timed_against_floor(emb, lambda k=k: kcenter_greedy(emb, labelled, k, rng()), repeats=_repeats(k * mv))
            sec, picks = t.seconds, t.result
            work = gemm_s + k * t.fastest
            add(
                Row(n, k, "kcenter_greedy", sec, t.peak_mb, floor=(k + 1) * t.fastest, emb_mb=emb_mb, work_floor=work,
                    notes=(f"{N_LABELLED} labelled rows (their GEMM counts as one pass); work floor {work:.2f} s = "
                           f"labelled GEMM {gemm_s * 1e3:.1f} ms ({gemm_lib}; {gemm_s / t.fastest:.1f} passes) + "
                           f"{k} passes: {sec / work:.2f}×; " + _floor_notes(t, k + 1)))
            )
            if "kcenter_proj" in methods:

                def projected(k: int = k) -> np.ndarray:
                    z = random_projection(emb, PROJECTION_DIM, np.random.default_rng(seed + 2))
                    return kcenter_greedy(z, labelled, k, rng())

                sec_p, peak_p, picks_p = measure(projected)
                t0 = time.perf_counter()
                r_exact = covering_radius(emb, np.concatenate([labelled_idx, picks]))
                r_proj = covering_radius(emb, np.concatenate([labelled_idx, picks_p]))
                t_cov = time.perf_counter() - t0
                add(
                    Row(
                        n, k, f"kcenter_greedy on {PROJECTION_DIM}-d projection", sec_p, peak_p, emb_mb=emb_mb,
                        notes=(f"incl. projection; {sec / sec_p:.1f}× faster than exact; covering radius "
                               f"proj/exact = {r_proj / r_exact:.3f} ({r_proj:.3f}/{r_exact:.3f}, original space, "
                               f"{t_cov:.0f} s to compute)"),
                    )
                )
        if "badge" in methods:
            log(f"  badge k={k} (about {k * mv:.0f} s at the floor)")
            t = timed_against_floor(emb, lambda k=k: badge(probs, emb, k, rng()), repeats=_repeats(k * mv))
            add(Row(n, k, "badge", t.seconds, t.peak_mb, floor=k * t.fastest, emb_mb=emb_mb, notes=_floor_notes(t, k)))
    # The inputs die with this frame (the timed closures that read them run synchronously above);
    # the caller trims the heap once they are gone.
    return info, rows


def _machine() -> str:
    model = platform.processor() or "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem_gib = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3
    return f"{os.cpu_count()} cores, {model}, {mem_gib:.0f} GiB RAM, torch {torch.__version__} ({torch.get_num_threads()} threads)"


def _ints(text: str) -> list[int]:
    try:
        return [int(float(t)) for t in text.split(",") if t.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from err


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", type=_ints, default=[10_000, 100_000, 1_000_000], help="pool sizes N (default 10000,100000,1000000)")
    p.add_argument("--dim", type=_ints, default=[512], help="embedding widths D, comma-separated (default 512)")
    p.add_argument("--classes", type=int, default=10, help="number of classes C (default 10)")
    p.add_argument("--ks", type=_ints, default=[100, 1000], help="batch sizes k (default 100,1000)")
    p.add_argument("--quick", action="store_true", help="N = 10k, 100k and k = 100 only")
    p.add_argument("--floor-only", action="store_true",
                   help="k-center and BADGE only, against their floor (no scoring, projection or inference)")
    p.add_argument("--compare", action="store_true",
                   help="the issue's comparison instead of the grid: D=128, k=1000, N=100k and 1M, kcenter and badge")
    p.add_argument("--seed", type=int, default=0, help="seed of the input generator (default 0)")
    p.add_argument("--out", type=str, default=None, help="also write the markdown to this file")
    p.add_argument("--cold", action="store_true",
                   help="do not load the compiled pick loops first (kernels.warm_compiled_loops): below "
                        "256 MiB the methods then use the measured matrix-vector kernel")
    p.add_argument("--catalogue", type=str, default="",
                   help="comma-separated extra sections: bayesian, coldstart (or 'all')")
    p.add_argument("--catalogue-only", action="store_true", help="run only the --catalogue sections")
    args = p.parse_args(argv)
    known = ("bayesian", "coldstart")
    args.catalogue = list(known) if args.catalogue == "all" else [c for c in args.catalogue.split(",") if c]
    for c in args.catalogue:
        if c not in known:
            p.error(f"--catalogue: unknown section {c!r}; choose from {', '.join(known)} or 'all'")
    if args.quick:
        args.sizes, args.ks = [10_000, 100_000], [100]
    if args.compare:
        args.dim, args.ks = [128], [1000]
        if args.sizes == [10_000, 100_000, 1_000_000]:
            args.sizes = [100_000, 1_000_000]
        if args.quick:
            args.sizes = [10_000, 100_000]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    _configure_malloc()
    dims = ",".join(map(str, args.dim))
    if args.compare or args.floor_only:
        methods = {"kcenter", "badge"}
        title = f"k-center and BADGE against their floor: D={dims}, k={','.join(map(str, args.ks))}, C={args.classes}"
    else:
        methods = {"margin", "entropy", "bald", "power", "kcenter", "kcenter_proj", "badge"}
        title = f"D={dims}, C={args.classes}, k ∈ {{{', '.join(map(str, args.ks))}}}"

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    command = "python benchmarks/selection_speed.py " + " ".join(sys.argv[1:] if argv is None else argv)
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load0 = os.getloadavg()
    warm_note = "compiled pick loops not loaded first (--cold)"
    if not args.cold:  # as an active-learning loop has them after its first selection
        warm = kernels.warm_compiled_loops()
        warm_note = (
            f"compiled pick loops loaded in {warm:.2f} s before the grid (kernels.warm_compiled_loops, once per process)"
            if kernels.team_available() else "numba not installed: no compiled pick loops"
        )
        log(warm_note)
    infos: list[SizeInfo] = []
    rows: list[Row] = []
    text = ""
    grid = [(n, d) for n in sorted(args.sizes) for d in args.dim]
    for n, dim in ([] if args.catalogue_only else grid):
        info, size_rows = bench_size(
            n, dim, args.classes, args.ks, args.seed, methods=methods,
            with_inference=not (args.compare or args.floor_only), log=log,
        )
        _trim()  # give this N's freed inputs back to the OS before the next N is built
        infos.append(info)
        rows += size_rows
        text = render(infos, rows, title)
        footer = (
            f"\nCommand: `{command.strip()}`; started {started}; {_machine()}; "
            f"load average at start {load0[0]:.2f}, now {os.getloadavg()[0]:.2f}; {warm_note}; "
            f"OPENBLAS_THREAD_TIMEOUT={os.environ.get('OPENBLAS_THREAD_TIMEOUT', 'unset')}.\n"
        )
        if args.out:
            with open(args.out, "w") as f:  # rewritten after every N, so a long run keeps partial results
                f.write(text + footer)
    footer = (
        f"\nCommand: `{command.strip()}`; started {started}; {_machine()}; "
        f"load average at start {load0[0]:.2f}, now {os.getloadavg()[0]:.2f}; {warm_note}; "
        f"OPENBLAS_THREAD_TIMEOUT={os.environ.get('OPENBLAS_THREAD_TIMEOUT', 'unset')}.\n"
    )
    for section in args.catalogue:
        module = _catalogue_module(section)
        extra = module.bench_rows(sorted(args.sizes), args.quick, log=log)
        text += f"\n\n### {section}\n\n" + module.markdown(extra)
        if args.out:
            with open(args.out, "w") as f:
                f.write(text + footer)
    print(text + footer, end="")
    return 0


def _catalogue_module(section: str) -> Any:
    """Import ``benchmarks/_speed_<section>.py`` (a sibling of this script)."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).with_name(f"_speed_{section}.py")
    spec = importlib.util.spec_from_file_location(f"_speed_{section}", path)
    if spec is None or spec.loader is None:
        raise SystemExit(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if __name__ == "__main__":
    raise SystemExit(main())
