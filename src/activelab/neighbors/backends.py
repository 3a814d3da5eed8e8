"""Which library computes the neighbours and k-means: faiss when it is importable, scikit-learn otherwise.

``backend="auto"`` resolves to ``"faiss"`` when ``import faiss`` works and to ``"sklearn"``
otherwise; ``"faiss"`` and ``"sklearn"`` force one. faiss is the optional ``faiss`` extra
(``pip install activelab[faiss]``); scikit-learn is a required dependency and the fallback
(``docs/benchmarks.md``, "Hand-written numerics against the libraries", compares it with the
torch code it replaced). Both libraries run with torch's intra-op thread count
(:func:`faiss_threads`, :func:`sklearn_threads`), so ``torch.set_num_threads`` limits them all.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import torch

__all__ = ["BACKENDS", "Backend", "faiss_available", "faiss_threads", "resolve_backend", "sklearn_threads"]

Backend = Literal["auto", "faiss", "sklearn"]
BACKENDS: tuple[str, ...] = ("auto", "faiss", "sklearn")
"""The accepted ``backend`` option values."""


def faiss_available() -> bool:
    """Whether ``import faiss`` works (the ``"auto"`` backend then uses it).

    Cost: the first call imports faiss (about 0.1 s); later calls are a dictionary lookup.
    """
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


@contextmanager
def faiss_threads() -> Iterator[None]:
    """Run faiss with torch's intra-op thread count (restored afterwards).

    faiss's OpenMP pool otherwise takes every core; on a shared machine (or inside workers
    that already split the cores) its spinning threads slow it down many times over.

    Cost: O(1) time and memory.

    Raises:
        ImportError: If faiss is not installed (check :func:`faiss_available` first).
    """
    import faiss

    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(max(1, torch.get_num_threads()))
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)


@contextmanager
def sklearn_threads() -> Iterator[None]:
    """Run scikit-learn's OpenMP and BLAS pools with torch's intra-op thread count (restored afterwards).

    scikit-learn's own default is every core, for the same reason as :func:`faiss_threads`.

    Cost: one scan of the loaded native libraries (about a millisecond), O(1) memory.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=max(1, torch.get_num_threads())):
        yield


def resolve_backend(backend: str) -> str:
    """The backend that runs for a ``backend`` option: ``"faiss"`` or ``"sklearn"``.

    Args:
        backend: ``"auto"`` (faiss if importable, else scikit-learn), ``"faiss"`` or ``"sklearn"``.

    Returns:
        ``"faiss"`` or ``"sklearn"``.

    Raises:
        ValueError: For a name outside :data:`BACKENDS` (``"torch"`` names its replacement).
        ImportError: For ``"faiss"`` when faiss is not installed.

    Cost: O(1) time and memory (plus the first faiss import).

    Example:
        >>> resolve_backend("sklearn")
        'sklearn'
    """
    if backend == "torch":
        raise ValueError(
            "backend='torch' no longer exists: scikit-learn does the same faster and leaner; "
            "use backend='sklearn' (or 'auto': faiss when installed, else scikit-learn)."
        )
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(map(repr, BACKENDS))}, got {backend!r}.")
    if backend == "auto":
        return "faiss" if faiss_available() else "sklearn"
    if backend == "faiss" and not faiss_available():
        raise ImportError("backend='faiss' needs the faiss package: pip install faiss-cpu, or use backend='sklearn'.")
    return backend
