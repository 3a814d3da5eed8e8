"""The ``"numba"`` matrix-vector kernel, compiled by numba (optional).

Installed with ``pip install 'activelab[fast]'``; without numba, :data:`AVAILABLE` is False and
:mod:`.kernels` never offers the kernel. :func:`matvec_chunk` works on rows ``[s, e)`` on the
calling thread and releases the GIL (``nogil``), so :func:`.kernels.run_chunks` spreads chunks
over one thread per core; numba's own threading layers are not used (they are not safe to call
from several threads at once, and some are not fork-safe). The whole pick loops of greedy
k-center and BADGE, which fold each row into their distances in the same read, are in
:mod:`._team`.

Floating-point reassociation is allowed (``fastmath`` without the no-NaN / no-inf flags) so
that the dot products use SIMD lanes: a row's product may differ from BLAS's in the last bits,
as BLAS and ``einsum`` differ from each other; every call sums a row the same way, so results
repeat. Compiled code is cached on disk by numba (``cache=True``); the first call in a fresh
environment compiles (about a second per function and dtype).
"""

from __future__ import annotations

import numpy as np

from .._numba import AVAILABLE, lazy_njit

__all__ = ["AVAILABLE", "matvec_chunk"]

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
