"""Process settings that must be made before NumPy loads its BLAS: imported first by :mod:`activelab`.

``OPENBLAS_THREAD_TIMEOUT`` (default here ``20``, unless already set): after each threaded
call, OpenBLAS's worker threads busy-wait for new work for 2^n CPU cycles before they sleep.
At OpenBLAS's own default (n = 28, about 0.1 s) a worker woken by one NumPy product keeps a
core busy long after it: on the 2-core VM, the compiled k-center pick loop
(:mod:`activelab.neighbors._team`, two threads) took 18.6 ms for 100 picks at 10k × 256 when
it followed a NumPy matrix-vector product, and 10.4–10.7 ms with n = 20 (2^20 cycles, a few
tenths of a millisecond) or with no product before it (docs/benchmarks.md, issue 17). Back-to-back
BLAS calls keep their threads awake at n = 20 as at 28.

It takes effect only if NumPy (or another user of OpenBLAS) is not yet imported when
:mod:`activelab` is, as in the ``activelab`` command and scripts that import activelab
first; set the variable yourself to choose another value.
"""

from __future__ import annotations

import os

OPENBLAS_THREAD_TIMEOUT = "20"
"""The value set when the environment has none (2^20 cycles of busy-waiting)."""

os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", OPENBLAS_THREAD_TIMEOUT)
