"""Whole pick loops of greedy k-center and BADGE, compiled by numba and run by a team of threads.

Imported only when numba is installed (:func:`activelab.neighbors.kernels.team_available`).

Why a whole loop: at 10k–100k rows a pass over the embeddings takes 0.02–1 ms, and the other
paths pay Python per pick (a kernel call, handing chunks to a thread pool, the argmax or the
D² draw in NumPy), which measured 1.5–12× the pass (docs/benchmarks.md, issue 17). Here every
pick of a call runs in compiled code. One thread per core (the caller and helpers it starts
once per call) claims chunks of rows from per-pick atomic counters, its own share of the
rows first (they stay in its core's cache from pick to pick), and folds each row into
the minimum distances in the same read as its product, keeping the chunk's first maximum
(k-center) or float64 sum of D² weights (BADGE). When the last chunk of a pick is done, the
waiting threads each reduce the chunks' results in chunk order (so the next pick is the first
maximum, as ``argmax`` gives, or the D² draw) and one of them publishes it by a
compare-and-swap. There is no barrier: a thread that lost its core (to another process, or
to a BLAS or OpenMP thread still spinning after its last call) and holds no chunk delays no
one; when it runs again it finds the old pick's chunks all taken and joins the newest pick.
Waiting threads spin, then yield the core (``sched_yield``).

The counters use LLVM atomic instructions with sequentially consistent ordering, emitted
through numba's documented extension API (:func:`numba.extending.intrinsic`), since numba has
no atomics of its own; its threading layers (``parallel=True``) are not used (not all are
thread- or fork-safe).

A row's product and fold do not depend on which thread or chunk computes them, and the
reductions run in chunk order, so the picks do not depend on the threads' timing; k-center's
do not depend on the chunks either, and BADGE's blocks (the order of its float64 sums) are
fixed by the caller independently of the core count.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils as _cgutils
from numba.extending import intrinsic, overload

cgutils: Any = _cgutils  # untyped numba helpers

__all__ = ["YIELD_AVAILABLE", "badge_team", "bf16_round_rows", "kcenter_team", "min_plus_rows"]

_FLAGS = {"reassoc", "contract", "nsz", "arcp"}  # SIMD sums; inf and NaN keep their meaning
# BADGE's distance (g_i + g_j) − 2(a_i·a_j)(h_i·h_j) must not become one fused multiply-add: as on
# the NumPy path, the rounded terms of two identical rows can then cancel to exactly 0 (a duplicate
# is not drawn), which an unrounded product would spoil. Its dot products keep every flag (:func:`_row_dot`).
_FLAGS_NO_FMA = {"reassoc", "nsz", "arcp"}
_SPINS = 2000  # a waiting thread busy-waits this many checks before yielding its core


def _int64_ptr(context: Any, builder: Any, sig: Any, args: Any) -> Any:
    aryty = sig.args[0]
    ary = context.make_array(aryty)(context, builder, value=args[0])
    return cgutils.get_item_pointer(context, builder, aryty, ary, [args[1]])


def _int64_array(arr: Any) -> bool:
    return isinstance(arr, types.Array) and arr.dtype == types.int64 and arr.ndim == 1


def _atomic_add_typer(typingctx: Any, arr: Any, idx: Any, val: Any) -> Any:
    """``old = arr[idx]; arr[idx] += val`` as one atomic step; returns ``old``."""
    if not (_int64_array(arr) and isinstance(idx, types.Integer) and isinstance(val, types.Integer)):
        return None
    sig = types.int64(arr, idx, val)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        ptr = _int64_ptr(context, builder, sig, args)
        v = context.cast(builder, args[2], sig.args[2], types.int64)
        return builder.atomic_rmw("add", ptr, v, "seq_cst")

    return sig, codegen


_atomic_add: Any = intrinsic(_atomic_add_typer)


def _atomic_load_typer(typingctx: Any, arr: Any, idx: Any) -> Any:
    """``arr[idx]`` read atomically (never hoisted out of a waiting loop)."""
    if not (_int64_array(arr) and isinstance(idx, types.Integer)):
        return None
    sig = types.int64(arr, idx)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.load_atomic(_int64_ptr(context, builder, sig, args), "seq_cst", 8)

    return sig, codegen


_atomic_load: Any = intrinsic(_atomic_load_typer)


def _atomic_cas_typer(typingctx: Any, arr: Any, idx: Any, expected: Any, new: Any) -> Any:
    """``if arr[idx] == expected: arr[idx] = new`` as one atomic step; returns whether it did."""
    if not (_int64_array(arr) and all(isinstance(v, types.Integer) for v in (idx, expected, new))):
        return None
    sig = types.boolean(arr, idx, expected, new)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        ptr = _int64_ptr(context, builder, sig, args)
        old = context.cast(builder, args[2], sig.args[2], types.int64)
        new_v = context.cast(builder, args[3], sig.args[3], types.int64)
        pair = builder.cmpxchg(ptr, old, new_v, "seq_cst", "seq_cst")
        return builder.extract_value(pair, 1)

    return sig, codegen


_atomic_cas: Any = intrinsic(_atomic_cas_typer)


def _atomic_store_typer(typingctx: Any, arr: Any, idx: Any, val: Any) -> Any:
    """``arr[idx] = val`` written atomically."""
    if not (_int64_array(arr) and isinstance(idx, types.Integer) and isinstance(val, types.Integer)):
        return None
    sig = types.void(arr, idx, val)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        v = context.cast(builder, args[2], sig.args[2], types.int64)
        builder.store_atomic(v, _int64_ptr(context, builder, sig, args), "seq_cst", 8)
        return context.get_dummy_value()

    return sig, codegen


_atomic_store: Any = intrinsic(_atomic_store_typer)


def _bf16_bits_typer(typingctx: Any, u: Any) -> Any:
    """The float32 whose upper 16 bits are the bfloat16 ``u`` (a uint16) and lower 16 are zero: exact."""
    if u != types.uint16:
        return None
    sig = types.float32(u)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        wide = builder.shl(builder.zext(args[0], ir.IntType(32)), ir.Constant(ir.IntType(32), 16))
        return builder.bitcast(wide, ir.FloatType())

    return sig, codegen


_bf16_to_f32: Any = intrinsic(_bf16_bits_typer)


def _f32_bits_typer(typingctx: Any, f: Any) -> Any:
    """The bits of the float32 ``f`` as a uint32."""
    if f != types.float32:
        return None
    sig = types.uint32(f)

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        return builder.bitcast(args[0], ir.IntType(32))

    return sig, codegen


_f32_bits: Any = intrinsic(_f32_bits_typer)


def _val(x: np.ndarray, i: int, t: int) -> Any:
    """``x[i, t]`` as a number: float arrays as they are, uint16 arrays as bfloat16 (compiled code only)."""
    raise NotImplementedError("compiled code only")  # pragma: no cover


def _zero(x: np.ndarray) -> Any:
    """0 in the type the loops compute in for ``x``: float64 for float64, else float32 (compiled code only)."""
    raise NotImplementedError("compiled code only")  # pragma: no cover


@overload(_val, jit_options={"fastmath": _FLAGS})
def _val_impl(x: Any, i: Any, t: Any) -> Any:
    if isinstance(x, types.Array) and x.dtype == types.uint16:

        def bf16(x: Any, i: Any, t: Any) -> Any:
            return _bf16_to_f32(x[i, t])

        return bf16

    def plain(x: Any, i: Any, t: Any) -> Any:
        return x[i, t]

    return plain


@overload(_zero)
def _zero_impl(x: Any) -> Any:
    if isinstance(x, types.Array) and x.dtype == types.float64:

        def zero64(x: Any) -> Any:
            return np.float64(0.0)

        return zero64

    def zero32(x: Any) -> Any:
        return np.float32(0.0)

    return zero32


def _find_yield() -> bool:
    """Whether the C library loaded in this process has ``sched_yield`` (Linux, macOS; not Windows)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        return hasattr(ctypes.CDLL(name), "sched_yield")
    except OSError:
        return False


YIELD_AVAILABLE = _find_yield()
"""Whether the C library's ``sched_yield`` was found. The team loops are offered only then
(:func:`activelab.neighbors.kernels.team_available`): a waiting thread must give its core back
on a busy machine."""


def _sched_yield_typer(typingctx: Any) -> Any:
    """A call of the C library's ``sched_yield()`` (linked by name, so the compiled code can be cached)."""
    sig = types.int32()

    def codegen(context: Any, builder: Any, sig: Any, args: Any) -> Any:
        fnty = ir.FunctionType(ir.IntType(32), [])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "sched_yield")
        return builder.call(fn, [])

    return sig, codegen


_sched_yield: Any = intrinsic(_sched_yield_typer)


@numba.njit(nogil=True, fastmath=_FLAGS_NO_FMA, cache=True)
def min_plus_rows(prod: np.ndarray, csq: np.ndarray, out: np.ndarray, s: int) -> None:  # pragma: no cover - compiled
    """``out[s + i] = min_c(prod[i, c] + csq[c])`` for every row ``i`` of ``prod``: one read of the block.

    The values of NumPy's ``prod += csq`` then ``prod.min(axis=1)`` (each sum is one rounded
    addition and a minimum is exact whatever the order), without writing the block back:
    k-center's labelled GEMM spends 10–25 % less time (docs/benchmarks.md, issue 17).
    """
    r, width = prod.shape
    for i in range(r):
        best = prod[i, 0] + csq[0]
        for c in range(1, width):
            v = prod[i, c] + csq[c]
            if v < best:
                best = v
        out[s + i] = best


@numba.njit(nogil=True, fastmath=_FLAGS, cache=True)
def bf16_round_rows(x: np.ndarray, bits: np.ndarray, sq: np.ndarray, s: int, e: int) -> None:  # pragma: no cover - compiled
    """Rows ``[s, e)`` of float32 ``x`` rounded to bfloat16 (to nearest, ties to even) into ``bits``, and the squared norms of the rounded rows into ``sq``."""
    d = x.shape[1]
    for i in range(s, e):
        for t in range(d):
            u = _f32_bits(x[i, t])
            bits[i, t] = np.uint16((u + (np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1)))) >> np.uint32(16))
        acc = np.float32(0.0)
        for t in range(d):  # the row's bits are in cache: a second, vectorised loop for the norm
            v = _bf16_to_f32(bits[i, t])
            acc += v * v
        sq[i] = acc


@numba.njit(nogil=True, cache=True)
def _claim(claims: np.ndarray, p: int, lanes: int, home: int, tried: int, n_chunks: int) -> tuple[int, int]:  # pragma: no cover - compiled
    """The next unclaimed chunk of pick ``p``, home lane first: ``(chunk, lanes tried)``, or ``(−1, lanes)``.

    The chunks are cut into ``lanes`` contiguous lanes, one per thread, each with its own
    counter ``claims[p · lanes + lane]``. A thread takes its home lane's chunks first, so while
    every thread runs each one reads the same rows at every pick (they stay in its core's
    cache); then it takes the other lanes' remaining chunks, so a thread that lost its core
    delays only the chunk it holds.
    """
    while tried < lanes:
        lane = (home + tried) % lanes
        lo = lane * n_chunks // lanes
        hi = (lane + 1) * n_chunks // lanes
        c = lo + _atomic_add(claims, p * lanes + lane, 1)
        if c < hi:
            return c, tried
        tried += 1
    return -1, tried


@numba.njit(nogil=True, cache=True)
def _wait_chunks(done: np.ndarray, p: int, n_chunks: int, sync: np.ndarray, published: int) -> bool:  # pragma: no cover - compiled
    """Wait until every chunk of pick ``p`` is folded (True), or until another thread has published a newer pick (False)."""
    spins = 0
    while _atomic_load(done, p) < n_chunks:
        if _atomic_load(sync, 0) != published:
            return False
        spins += 1
        if spins >= _SPINS:
            _sched_yield()
    return True


@numba.njit(nogil=True, cache=True)
def _publish(picks: np.ndarray, sync: np.ndarray, published: int, nxt: int) -> None:  # pragma: no cover - compiled
    """Make ``nxt`` pick number ``published`` if no other thread has (``sync[1]``: claims, ``sync[0]``: picks published).

    The claim is a compare-and-swap, so exactly one thread writes ``picks[published]``; a
    thread whose reduction read results already overwritten by a later pick always loses it
    (a later pick exists only once this one is claimed).
    """
    if _atomic_cas(sync, 1, published, published + 1):
        _atomic_store(picks, published, nxt)
        _atomic_store(sync, 0, published + 1)


@numba.njit(nogil=True, cache=True)
def _next_pick(picks: np.ndarray, sync: np.ndarray, k: int) -> tuple[int, int]:  # pragma: no cover - compiled
    """``(published, current pick)``: the newest published pick, or ``(published, −1)`` when the loop is over."""
    spins = 0
    while True:
        published: int = _atomic_load(sync, 0)
        if _atomic_load(sync, 1) == published:  # no claim in flight: picks[published − 1] is written
            break
        spins += 1
        if spins >= _SPINS:
            _sched_yield()
    if published >= k:
        return published, -1
    return published, _atomic_load(picks, published - 1)


@numba.njit(nogil=True, fastmath=_FLAGS, inline="always")
def _fold_four(
    x: np.ndarray, half_sq: np.ndarray, m: np.ndarray, xj: np.ndarray, hj: Any, i0: int, i1: int, i2: int, i3: int,
    zero: Any,
) -> tuple[Any, Any, Any, Any]:  # pragma: no cover - compiled
    """Fold rows ``i0..i3`` into ``m`` (``m[i] ← min(m[i], (half_sq[i] − x_i·x_j) + hj)``); returns their new values.

    The four dot products share one loop over the columns, so four rows' loads are in flight
    at once (a lone row's dot product waits on its own loads and its sum). Every row, whichever
    chunk or thread folds it, goes through this same code, so its value does not depend on the
    chunking; the distances were bit for bit those of the earlier one-row loop on the sizes of
    docs/benchmarks.md (issue 17, session 17). A row may be repeated (the tail of a chunk): it
    gets the same value each time.
    """
    a0 = zero
    a1 = zero
    a2 = zero
    a3 = zero
    for t in range(x.shape[1]):
        v = xj[t]
        a0 += _val(x, i0, t) * v
        a1 += _val(x, i1, t) * v
        a2 += _val(x, i2, t) * v
        a3 += _val(x, i3, t) * v
    m0 = min(m[i0], (half_sq[i0] - a0) + hj)
    m1 = min(m[i1], (half_sq[i1] - a1) + hj)
    m2 = min(m[i2], (half_sq[i2] - a2) + hj)
    m3 = min(m[i3], (half_sq[i3] - a3) + hj)
    m[i3] = m3
    m[i2] = m2
    m[i1] = m1
    m[i0] = m0
    return m0, m1, m2, m3


@numba.njit(nogil=True, fastmath=_FLAGS, inline="always")
def _first_max_of_four(
    best: Any, arg: int, m0: Any, m1: Any, m2: Any, m3: Any, i0: int, i1: int, i2: int, i3: int
) -> tuple[Any, int]:  # pragma: no cover - compiled
    """``(best, arg)`` updated by the values ``m0..m3`` of rows ``i0..i3``, in that order: a tie keeps the earlier row."""
    if m0 > best:
        best = m0
        arg = i0
    if m1 > best:
        best = m1
        arg = i1
    if m2 > best:
        best = m2
        arg = i2
    if m3 > best:
        best = m3
        arg = i3
    return best, arg


@numba.njit(nogil=True, fastmath=_FLAGS, cache=True)
def _fold_chunk(
    x: np.ndarray, half_sq: np.ndarray, m: np.ndarray, xj: np.ndarray, hj: Any, s: int, e: int, zero: Any
) -> tuple[Any, int]:  # pragma: no cover - compiled
    """k-center's fold of rows ``[s, e)`` four at a time (:func:`_fold_four`): ``(first maximum of m there, its row)``.

    Branch-free but for a new maximum (rare). Four rows in flight read 5–25 % faster than one
    at 100k–200k rows on the 2-core Xeon VM (docs/benchmarks.md, issue 17, session 17). The
    last group of a chunk repeats its last row to fill four; the first maximum is kept by
    testing the rows in order with ``>``.
    """
    best = zero - np.float32(np.inf)
    arg = s
    full = s + (e - s) // 4 * 4
    for i in range(s, full, 4):
        m0, m1, m2, m3 = _fold_four(x, half_sq, m, xj, hj, i, i + 1, i + 2, i + 3, zero)
        if max(max(m0, m1), max(m2, m3)) > best:
            best, arg = _first_max_of_four(best, arg, m0, m1, m2, m3, i, i + 1, i + 2, i + 3)
    if full < e:
        i1 = min(full + 1, e - 1)
        i2 = min(full + 2, e - 1)
        i3 = min(full + 3, e - 1)
        m0, m1, m2, m3 = _fold_four(x, half_sq, m, xj, hj, full, i1, i2, i3, zero)
        best, arg = _first_max_of_four(best, arg, m0, m1, m2, m3, full, i1, i2, i3)
    return best, arg


@numba.njit(nogil=True, fastmath=_FLAGS, cache=True)
def kcenter_team(
    x: np.ndarray, half_sq: np.ndarray, m: np.ndarray, p0: int, k: int, picks: np.ndarray,
    cmax: np.ndarray, carg: np.ndarray, claims: np.ndarray, done: np.ndarray, sync: np.ndarray, step: int,
    lanes: int,
) -> None:  # pragma: no cover - compiled
    """Greedy k-center picks after ``picks[:p0 + 1]`` (``picks[p0]`` is the pick to fold first), up to ``k``.

    Every thread of the team (``lanes`` threads) calls it with the same arguments. Before the
    call ``sync[0] = sync[1] = p0 + 1`` (picks published, picks claimed), ``sync[2] = 0``
    (it numbers the threads) and ``claims`` (``(k + 1) · lanes``) and ``done`` (``k + 1``) are
    zero. Per pick ``p`` with row ``j``: chunks of rows ``[s, s + step)`` are claimed by
    :func:`_claim`; each
    row is folded (four at a time, :func:`_fold_chunk`) as ``m[i] ← min(m[i], (half_sq[i] − x_i·x_j) + half_sq[j])`` with ``m[j] ← −1``,
    the chunk's first maximum goes to ``cmax``/``carg`` (slot ``p & 1``) and ``done[p]`` counts
    the chunk. Once every chunk is done, each waiting thread takes the first maximum over the
    chunks in chunk order (so ``argmax``'s first maximum) and :func:`_publish` makes it pick
    ``p + 1``, or −1 when the maximum is ≤ 0 (every free row coincides with a centre: the
    caller draws the next pick at random). A thread that was descheduled meanwhile finds
    every chunk of the old pick taken and goes on from the newest published pick, so only a
    thread holding a chunk can delay the others. The last pick is not folded (its distances
    are never used). ``p0 + 1 >= k`` returns at once (compilation).
    """
    if p0 + 1 >= k:
        return
    n, d = x.shape
    nch = (n + step - 1) // step
    zero = _zero(x)
    xj = np.full(d, zero)
    home = _atomic_add(sync, 2, 1) % lanes
    while True:
        published, j = _next_pick(picks, sync, k)
        if j < 0:
            return
        p = published - 1
        slot = p & 1
        hj = half_sq[j]
        for t in range(d):  # row j once, in the type of the sums (decoded when stored as bfloat16)
            xj[t] = _val(x, j, t)
        tried = 0
        while True:
            c, tried = _claim(claims, p, lanes, home, tried, nch)
            if c < 0:
                break
            s = c * step
            e = min(n, s + step)
            best, arg = _fold_chunk(x, half_sq, m, xj, hj, s, e, zero)
            if s <= j < e:  # the new centre: never a maximum again
                m[j] = zero - np.float32(1.0)
                if arg == j:
                    best = m[s]
                    arg = s
                    for i in range(s + 1, e):
                        if m[i] > best:
                            best = m[i]
                            arg = i
            cmax[slot, c] = best
            carg[slot, c] = arg
            _atomic_add(done, p, 1)
        if not _wait_chunks(done, p, nch, sync, published):
            continue
        best = cmax[slot, 0]
        arg = carg[slot, 0]
        for c in range(1, nch):
            if cmax[slot, c] > best:
                best = cmax[slot, c]
                arg = carg[slot, c]
        _publish(picks, sync, published, arg if best > zero else -1)


@numba.njit(nogil=True, fastmath=_FLAGS, cache=True)
def _row_dot(x: np.ndarray, i: int, v: np.ndarray, zero: Any) -> Any:  # pragma: no cover - compiled
    """``x_i · v`` in the type of ``zero`` (``x`` decoded when stored as bfloat16), by SIMD lanes."""
    acc = zero
    for t in range(x.shape[1]):
        acc += _val(x, i, t) * v[t]
    return acc


@numba.njit(nogil=True, fastmath=_FLAGS_NO_FMA, cache=True)
def badge_team(
    h: np.ndarray, a: np.ndarray, g_sq: np.ndarray, min_d: np.ndarray, p0: int, k: int, picks: np.ndarray,
    us: np.ndarray, block_sums: np.ndarray, totals: np.ndarray, claims: np.ndarray, done: np.ndarray,
    sync: np.ndarray, block: int, lanes: int,
) -> None:  # pragma: no cover - compiled
    """BADGE's k-means++ picks after ``picks[:p0 + 1]`` (``picks[p0]`` is the pick to fold first), up to ``k``.

    Every thread of the team calls it with the same arguments; ``sync``, ``claims`` and
    ``done`` as for :func:`kcenter_team`. Per pick ``p`` with row ``j``: blocks of ``block``
    rows are claimed by :func:`_claim`; each row is folded as
    ``d = max((g_sq[i] + g_sq[j]) − ((a_i·a_j · 2)·(h_i·h_j)), 0)``, ``min_d[i] ← min(min_d[i], d)``
    with ``min_d[j] ← 0``, and the block's float64 sum of ``min_d`` goes to ``block_sums``.
    Once every block is done, each waiting thread makes the D² draw with ``u = us[p] · total``
    (:func:`activelab.selection.badge._d2_draw`'s two levels: the block by the running sum of
    block sums, the row by that block's float64 running sum) and :func:`_publish` makes it pick
    ``p + 1``, or −1 when every weight is 0 (the caller draws the next pick at random; ``us[p]``
    is then unused). The last pick is not folded. ``p0 + 1 >= k`` returns at once (compilation).
    """
    if p0 + 1 >= k:
        return
    n = h.shape[0]
    nb = (n + block - 1) // block
    zero = _zero(h)
    dh = h.shape[1]
    dc = a.shape[1]
    hj = np.full(dh, zero)
    aj = np.full(dc, zero)
    home = _atomic_add(sync, 2, 1) % lanes
    while True:
        published, j = _next_pick(picks, sync, k)
        if j < 0:
            return
        p = published - 1
        gj = g_sq[j]
        for t in range(dh):  # rows j of h and a once, in the type of the sums
            hj[t] = _val(h, j, t)
        for t in range(dc):
            aj[t] = a[j, t]
        tried = 0
        while True:
            b, tried = _claim(claims, p, lanes, home, tried, nb)
            if b < 0:
                break
            s = b * block
            e = min(n, s + block)
            total = 0.0
            for i in range(s, e):
                hh = _row_dot(h, i, hj, zero)
                ah = _row_dot(a, i, aj, zero)
                dist = (g_sq[i] + gj) - (ah * np.float32(2.0)) * hh
                if dist < zero:
                    dist = zero
                md = min_d[i]
                if dist < md:
                    md = dist
                if i == j:
                    md = zero
                min_d[i] = md
                total += np.float64(md)
            block_sums[b] = total
            _atomic_add(done, p, 1)
        if not _wait_chunks(done, p, nb, sync, published):
            continue
        run = 0.0
        for b in range(nb):
            run += block_sums[b]
            totals[b] = run  # np.cumsum's running sums, in its order
        last = totals[nb - 1]
        if last <= 0.0:  # every remaining row coincides with a centre
            _publish(picks, sync, published, -1)
            continue
        u = us[p] * last
        b = 0  # the first block whose running total exceeds u (searchsorted, side="right"), at most the last
        while b < nb - 1 and totals[b] <= u:
            b += 1
        while block_sums[b] <= 0.0:  # u at the very top of the range: the last block with weight
            b -= 1
        s = b * block
        e = min(n, s + block)
        rest = u - (totals[b - 1] if b > 0 else 0.0)
        local = 0.0
        nxt = -1
        for i in range(s, e):
            local += np.float64(min_d[i])
            if local > rest:
                nxt = i
                break
        if nxt < 0:  # u above the block's running total, by rounding against its sum
            for i in range(e - 1, s - 1, -1):
                if min_d[i] > zero:
                    nxt = i
                    break
        _publish(picks, sync, published, nxt)
