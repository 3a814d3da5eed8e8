"""Fixtures shared by the data tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest


def _encode_idx(array: np.ndarray, type_code: int) -> bytes:
    header = bytes([0, 0, type_code, array.ndim])
    header += b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.tobytes()


@pytest.fixture
def idx_bytes() -> Callable[[np.ndarray, int], bytes]:
    """Encoder of an array as an IDX file with the given type code (``array`` must match it)."""
    return _encode_idx
