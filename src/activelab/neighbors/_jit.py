"""Fused per-chunk kernels compiled by numba: the ``"numba"`` matrix-vector kernel (optional).

Installed with ``pip install 'activelab[fast]'``; without numba, :data:`AVAILABLE` is False and
:mod:`.kernels` never offers the kernel. Each function works on rows ``[s, e)`` of its arrays on
the calling thread and releases the GIL (``nogil``), so :func:`.kernels.run_chunks` spreads
chunks over one thread per core; numba's own threading layers are not used (they are not
safe to call from several threads at once, and some are not fork-safe).

What they fuse: greedy k-center's pick is one read of each row (its product with the new
centre, the fold into the minimum distances and the running first maximum), where the NumPy
path makes a BLAS pass and then three O(N) steps; BADGE's is one read of ``h`` and ``a`` per
row (both products, the distance, the fold and the block's float64 sum). Floating-point
reassociation is allowed (``fastmath`` without the no-NaN / no-inf flags) so that the dot
products use SIMD lanes: a row's product may differ from BLAS's in the last bits, as BLAS and
``einsum`` differ from each other; every call sums a row the same way, so results repeat.

Compiled code is cached on disk by numba (``cache=True``); the first call in a fresh
environment compiles (about a second per function and dtype).
"""

from __future__ import annotations

import numpy as np

from .._numba import AVAILABLE, lazy_njit

__all__ = ["AVAILABLE", "badge_chunk", "kcenter_chunk", "matvec_chunk"]

_FLAGS = {"reassoc", "contract", "nsz", "arcp"}  # SIMD sums; inf and NaN keep their meaning
_jit = lazy_njit(_FLAGS)


# Inside the kernels, ``x[s, 0] * np.float32(0.0)`` is a zero of the array's dtype (float32 stays
# float32, float64 stays float64); a plain ``0.0`` would make float32 sums float64 ones.


@_jit
def matvec_chunk(x: np.ndarray, v: np.ndarray, out: np.ndarray, s: int, e: int) -> None:  # pragma: no cover - compiled
    """``out[s:e] ← x[s:e] @ v`` (``s < e``)."""
    d = x.shape[1]
    zero = x[s, 0] * np.float32(0.0)
    for i in range(s, e):
        acc = zero
        for t in range(d):
            acc += x[i, t] * v[t]
        out[i] = acc


@_jit
def kcenter_chunk(x: np.ndarray, half_sq: np.ndarray, m: np.ndarray, j: int, s: int, e: int) -> tuple[float, int]:  # pragma: no cover - compiled
    """Fold centre ``j`` into rows ``[s, e)`` of ``m`` (``s < e``) and return their first maximum.

    ``m[i] ← min(m[i], (half_sq[i] − x_i·x_j) + half_sq[j])``, then ``m[j] ← −1`` when ``j`` is
    in the chunk (a taken row is never the maximum); returns ``(max, first row holding it)``.
    The steps of :func:`activelab.selection.kcenter._greedy_cpu`, in its order.
    """
    d = x.shape[1]
    zero = x[s, 0] * np.float32(0.0)
    hj = half_sq[j]
    best = m[s]
    arg = s
    for i in range(s, e):
        acc = zero
        for t in range(d):
            acc += x[i, t] * x[j, t]
        v = (half_sq[i] - acc) + hj
        mi = m[i]
        if v < mi:
            mi = v
        if i == j:
            mi = zero - np.float32(1.0)
        m[i] = mi
        if i == s or mi > best:
            best = mi
            arg = i
    return best, arg


@_jit
def badge_chunk(
    h: np.ndarray, a: np.ndarray, g_sq: np.ndarray, min_d: np.ndarray, j: int, s: int, e: int, block: int,
    sums: np.ndarray,
) -> None:  # pragma: no cover - compiled
    """Fold gradient embedding ``j`` into rows ``[s, e)`` of BADGE's ``min_d``; per-block float64 sums.

    ``d = max((g_sq[i] + g_sq[j]) − ((a_i·a_j · 2)·(h_i·h_j)), 0)``, ``min_d[i] ← min(min_d[i], d)``,
    then ``min_d[j] ← 0``: the steps of :func:`activelab.selection.badge._sweep_block`, in its
    order and in the arrays' dtype (``h``, ``a``, ``g_sq`` and ``min_d`` share one). ``s`` is a
    multiple of ``block``; ``sums[b]`` receives the float64 sum of ``min_d`` over block ``b``
    (rows ``[b·block, (b+1)·block)``) for every block the range covers.
    """
    dh = h.shape[1]
    dc = a.shape[1]
    zero = h[s, 0] * np.float32(0.0)
    gj = g_sq[j]
    for bs in range(s, e, block):
        be = min(e, bs + block)
        total = 0.0
        for i in range(bs, be):
            hh = zero
            for t in range(dh):
                hh += h[i, t] * h[j, t]
            ah = zero
            for c in range(dc):
                ah += a[i, c] * a[j, c]
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
        sums[bs // block] = total
