"""Functions compiled by numba on first use, when numba is installed (``pip install 'activelab[fast]'``).

:data:`AVAILABLE` says whether numba can be imported; it is imported on the first call of a
compiled function only (about half a second). Compiled code is cached on disk (``cache=True``).
Every compiled function releases the GIL (``nogil``); numba's own threading layers are not used.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

__all__ = ["AVAILABLE", "lazy_njit"]

AVAILABLE = importlib.util.find_spec("numba") is not None
"""Whether numba is installed; it is imported on first use only."""

_compiled: dict[str, Callable[..., Any]] = {}


def lazy_njit(fastmath: bool | set[str] = False) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator: the function compiled with ``numba.njit(nogil=True, fastmath=..., cache=True)`` on its first call.

    ``fastmath=False`` keeps IEEE semantics: every operation is rounded as written, in the
    order written, so a compiled loop gives the very bits of NumPy code doing the same
    operations in the same order. Calling without numba installed raises ``RuntimeError``.
    """

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        key = f"{fn.__module__}.{fn.__qualname__}"

        def call(*args: Any) -> Any:
            f = _compiled.get(key)
            if f is None:
                if not AVAILABLE:
                    raise RuntimeError(f"{fn.__name__} needs numba: pip install 'activelab[fast]'")
                import numba

                f = _compiled[key] = numba.njit(nogil=True, fastmath=fastmath, cache=True)(fn)
            return f(*args)

        call.__doc__ = fn.__doc__
        call.__name__ = fn.__name__
        call.__qualname__ = fn.__qualname__
        call.__module__ = fn.__module__
        return call

    return wrap
