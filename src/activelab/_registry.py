"""Did-you-mean lookup shared by the registries (strategies, models, datasets)."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import TypeVar

from .errors import UnknownNameError

T = TypeVar("T")


def lookup(kind: str, name: str, table: Mapping[str, T], hint: str = "") -> T:
    """Return ``table[name]`` or raise :class:`UnknownNameError` with close matches.

    Example:
        >>> lookup("strategy", "entopy", {"entropy": 1, "margin": 2})
        Traceback (most recent call last):
        ...
        activelab.errors.UnknownNameError: Unknown strategy 'entopy'. Did you mean 'entropy'? Available: entropy, margin.
    """
    if name in table:
        return table[name]
    lowered = {str(key).lower(): key for key in table}
    close = difflib.get_close_matches(str(name).lower(), list(lowered), n=1, cutoff=0.5)
    suggestion = f" Did you mean '{lowered[close[0]]}'?" if close else ""
    raise UnknownNameError(
        f"Unknown {kind} '{name}'.{suggestion} Available: {', '.join(sorted(table))}.{hint}"
    )
