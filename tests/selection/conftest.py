"""Shared checks of the selection tests."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest


def _valid_picks(picks: np.ndarray, k: int, n: int, labelled: np.ndarray | None = None) -> None:
    assert picks.dtype == np.int64
    assert picks.shape == (k,)
    assert len(np.unique(picks)) == k
    assert ((picks >= 0) & (picks < n)).all()
    if labelled is not None:
        assert not labelled[picks].any()


@pytest.fixture
def assert_valid_picks() -> Callable[..., None]:
    """``(picks, k, n, labelled=None)``: k unique int64 rows in ``[0, n)``, none of them labelled."""
    return _valid_picks
