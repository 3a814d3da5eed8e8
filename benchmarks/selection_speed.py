"""Selection speed benchmark (issue 2): scoring, top-k, k-center and BADGE up to N = 1,000,000.

For every pool size N the script builds seeded float32 inputs (embeddings ``(N, D)`` and
class probabilities ``(N, C)``) and measures, for each batch size k:

* margin / entropy / BALD scores + ``top_k``, and ``power`` sampling on margin;
* ``kcenter_greedy`` with 100 labelled rows, exact and on a 64-d random projection (with the
  covering radius of both pick sets measured in the original space);
* ``badge`` (k-means++ seeding on factorised gradient embeddings);
* the floor of the sequential methods: k × one fp32 ``torch.mv`` pass over the embeddings.
  The "× floor" column uses the median pass timed *inside* the run (the method's own passes
  over the embeddings), which moves with the load of a shared machine exactly as the method
  does; the notes add the pass timed alone, right before and after the method;
* the streamed inference pass (``TorchClassifier.predict_views``) that produces these views.

Time is wall-clock seconds. Memory is the peak resident set *above* the level reached once
the inputs exist (Linux ``VmHWM`` after a reset through ``/proc/self/clear_refs``; a sampling
thread on ``/proc/self/statm`` elsewhere). Results go to stdout as markdown tables.

Usage::

    python benchmarks/selection_speed.py --quick
    python benchmarks/selection_speed.py --out selection.md          # N up to 1M, k in {100, 1000}
    python benchmarks/selection_speed.py --compare --out compare.md  # D=128, k=1000, N in {100k, 1M}
    python benchmarks/selection_speed.py --catalogue bayesian,coldstart   # + the issue-3 methods

``--catalogue`` appends the tables of ``benchmarks/_speed_bayesian.py`` (BatchBALD, EPIG and the
stochastic selectors, k = 100, 20 draws) and ``benchmarks/_speed_coldstart.py`` (kNN, k-means,
TypiClust, ProbCover, Cluster-Margin, two-step) at the same pool sizes; ``--catalogue-only``
skips the core grid.
"""

from __future__ import annotations

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
from activelab.models.torch import TorchClassifier
from activelab.selection import badge, covering_radius, kcenter_greedy, power, random_projection, top_k

MB = 1024.0**2
N_LABELLED = 100
N_DRAWS = 20
BALD_MAX_N = 100_000
PROJECTION_DIM = 64
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


def mv_pass_times(emb: np.ndarray, repeats: int = 7) -> list[float]:
    """Times of single fp32 ``torch.mv`` passes over the embeddings (the per-pick floor)."""
    x = torch.from_numpy(emb)
    out = torch.empty(x.shape[0], dtype=x.dtype)
    torch.mv(x, x[0], out=out)  # warm-up
    times = []
    for r in range(repeats):
        t0 = time.perf_counter()
        torch.mv(x, x[(r * 7919) % x.shape[0]], out=out)
        times.append(time.perf_counter() - t0)
    return times


class _MvRecorder:
    """Stands in for the ``torch`` module inside ``activelab.selection``'s k-center and BADGE modules during one call.

    Every attribute is torch's own; ``mv`` is timed when its matrix has the embeddings' shape,
    so the passes the method makes over the embeddings are measured in place, under the same
    machine load as the rest of the method.
    """

    def __init__(self, shape: tuple[int, ...]) -> None:
        self.shape = shape
        self.times: list[float] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(torch, name)

    def mv(self, mat: torch.Tensor, vec: torch.Tensor, *, out: torch.Tensor | None = None) -> torch.Tensor:
        t0 = time.perf_counter()
        result = torch.mv(mat, vec) if out is None else torch.mv(mat, vec, out=out)
        if tuple(mat.shape) == self.shape:
            self.times.append(time.perf_counter() - t0)
        return result


@dataclass
class FloorTiming:
    seconds: float
    peak_mb: float
    pass_in_run: float  # median seconds of the method's own mv passes over the embeddings
    pass_alone: float  # median of standalone mv passes right before and after the method
    n_passes: int
    seconds_in_passes: float
    result: Any


def timed_against_floor(emb: np.ndarray, fn: Callable[[], Any]) -> FloorTiming:
    """Run a sequential method once and measure its floor two ways.

    The floor is k × one mv pass. On a shared machine the pass time drifts with the load, so
    the pass is timed inside the run (every ``torch.mv`` the method makes over the
    embeddings) as well as alone, right before and after the method.
    """
    import sys

    import activelab.selection  # noqa: F401  (loads the modules below)

    # the modules whose torch.mv passes are timed (sys.modules: `badge` the function shadows the module)
    modules = [sys.modules["activelab.selection.kcenter"], sys.modules["activelab.selection.badge"]]
    before = mv_pass_times(emb)
    recorder = _MvRecorder(tuple(emb.shape))
    for module in modules:
        module.torch = recorder  # type: ignore[attr-defined]
    try:
        sec, peak, result = measure(fn)
    finally:
        for module in modules:
            module.torch = torch  # type: ignore[attr-defined]
    alone = statistics.median(before + mv_pass_times(emb))
    in_run = statistics.median(recorder.times) if recorder.times else float("nan")
    return FloorTiming(sec, peak, in_run, alone, len(recorder.times), sum(recorder.times), result)


def _floor_notes(t: FloorTiming, k: int) -> str:
    return (
        f"mv pass {t.pass_in_run * 1e3:.1f} ms in the run ({t.n_passes} passes, {t.seconds_in_passes:.1f} s), "
        f"{t.pass_alone * 1e3:.1f} ms alone (floor {k * t.pass_alone:.2f} s, {t.seconds / (k * t.pass_alone):.2f}×)"
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
    notes: str = ""

    def cells(self) -> list[str]:
        def num(x: float | None, fmt: str) -> str:
            return "—" if x is None else format(x, fmt)

        return [
            f"{self.n:,}",
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
    "k",
    "method",
    "seconds",
    "floor (k × mv in run)",
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
    mv_seconds: float
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
    size_rows = [
        [
            f"{i.n:,}",
            str(i.dim),
            f"{i.emb_mb:.1f}",
            f"{i.mv_seconds * 1e3:.2f}",
            "—" if i.inference_seconds is None else f"{i.inference_seconds:.2f}",
            "—" if i.inference_peak_mb is None else f"{i.inference_peak_mb:.1f}",
        ]
        for i in infos
    ]
    parts = [
        f"### {title}",
        "",
        markdown_table(
            ["N", "D", "embedding array MB", "one mv pass ms (median)", "inference pass s", "inference peak MB"],
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
            ok_t = r.floor is not None and r.seconds <= 1.5 * r.floor
            ok_m = r.peak_mb is not None and r.emb_mb is not None and r.peak_mb < 2.0 * r.emb_mb
            if not (ok_t and ok_m):
                missed += 1
                out.append(
                    f"- MISSED: {r.method} N={r.n:,} k={r.k}: {r.seconds / (r.floor or 1):.2f}× floor "
                    f"(target ≤ 1.5), peak {r.peak_mb:.1f} MB vs 2× array {2 * (r.emb_mb or 0):.1f} MB"
                )
    biggest = max((i.n for i in infos), default=0)
    for r in rows:
        if r.n == biggest and r.inference is not None and r.seconds is not None and r.seconds >= 0.1 * r.inference:
            missed += 1
            out.append(f"- MISSED: {r.method} N={r.n:,} k={r.k}: {r.seconds / r.inference:.3f}× inference (target < 0.1)")
    if missed == 0:
        out.append("- all measured rows meet the targets (k-center/BADGE ≤ 1.5× floor and peak < 2× embedding array; "
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
    mv = statistics.median(mv_pass_times(emb))
    info = SizeInfo(n=n, dim=dim, emb_mb=emb_mb, mv_seconds=mv)
    log(f"  one mv pass: {mv * 1e3:.2f} ms; embeddings {emb_mb:.1f} MB")
    if with_inference:
        sec, peak, width = inference_pass(n, n_classes, seed)
        info.inference_seconds, info.inference_peak_mb = sec, peak
        log(f"  inference pass (MLP {INFERENCE_INPUT_DIM}-{width}-{n_classes}): {sec:.2f} s, peak {peak:.1f} MB")
    inf = info.inference_seconds
    rows: list[Row] = []

    def add(row: Row) -> None:
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
            t = timed_against_floor(emb, lambda k=k: kcenter_greedy(emb, labelled, k, rng()))
            sec, picks = t.seconds, t.result
            add(
                Row(n, k, "kcenter_greedy", sec, t.peak_mb, floor=k * t.pass_in_run, emb_mb=emb_mb,
                    notes=f"{N_LABELLED} labelled rows; " + _floor_notes(t, k))
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
            t = timed_against_floor(emb, lambda k=k: badge(probs, emb, k, rng()))
            add(Row(n, k, "badge", t.seconds, t.peak_mb, floor=k * t.pass_in_run, emb_mb=emb_mb, notes=_floor_notes(t, k)))
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
    p.add_argument("--dim", type=int, default=512, help="embedding width D (default 512)")
    p.add_argument("--classes", type=int, default=10, help="number of classes C (default 10)")
    p.add_argument("--ks", type=_ints, default=[100, 1000], help="batch sizes k (default 100,1000)")
    p.add_argument("--quick", action="store_true", help="N = 10k, 100k and k = 100 only")
    p.add_argument("--compare", action="store_true",
                   help="the issue's comparison instead of the grid: D=128, k=1000, N=100k and 1M, kcenter and badge")
    p.add_argument("--seed", type=int, default=0, help="seed of the input generator (default 0)")
    p.add_argument("--out", type=str, default=None, help="also write the markdown to this file")
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
        args.dim, args.ks = 128, [1000]
        if args.sizes == [10_000, 100_000, 1_000_000]:
            args.sizes = [100_000, 1_000_000]
        if args.quick:
            args.sizes = [10_000, 100_000]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    _configure_malloc()
    if args.compare:
        methods = {"kcenter", "badge"}
        title = f"Comparison settings: D={args.dim}, k={','.join(map(str, args.ks))}, C={args.classes}"
    else:
        methods = {"margin", "entropy", "bald", "power", "kcenter", "kcenter_proj", "badge"}
        title = f"D={args.dim}, C={args.classes}, k ∈ {{{', '.join(map(str, args.ks))}}}"

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    command = "python benchmarks/selection_speed.py " + " ".join(sys.argv[1:] if argv is None else argv)
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load0 = os.getloadavg()
    infos: list[SizeInfo] = []
    rows: list[Row] = []
    text = ""
    for n in ([] if args.catalogue_only else sorted(args.sizes)):
        info, size_rows = bench_size(
            n, args.dim, args.classes, args.ks, args.seed, methods=methods, with_inference=not args.compare, log=log
        )
        _trim()  # give this N's freed inputs back to the OS before the next N is built
        infos.append(info)
        rows += size_rows
        text = render(infos, rows, title)
        footer = (
            f"\nCommand: `{command.strip()}`; started {started}; {_machine()}; "
            f"load average at start {load0[0]:.2f}, now {os.getloadavg()[0]:.2f}.\n"
        )
        if args.out:
            with open(args.out, "w") as f:  # rewritten after every N, so a long run keeps partial results
                f.write(text + footer)
    footer = (
        f"\nCommand: `{command.strip()}`; started {started}; {_machine()}; "
        f"load average at start {load0[0]:.2f}, now {os.getloadavg()[0]:.2f}.\n"
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
