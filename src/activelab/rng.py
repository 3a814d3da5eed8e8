"""Random-number helpers: every random choice in activelab takes an explicit generator.

No function here (or anywhere in the package) touches NumPy's or torch's global RNG.
"""

from __future__ import annotations

import numbers
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import torch

__all__ = ["as_generator", "derive_seed", "spawn", "torch_generator"]


def as_generator(seed: int | np.random.Generator | None) -> np.random.Generator:
    """Turn ``seed`` into a :class:`numpy.random.Generator`.

    Args:
        seed: An int (>= 0), an existing generator (returned as is) or ``None``
            (fresh OS entropy; not reproducible).

    Raises:
        TypeError: If ``seed`` is of another type.
        ValueError: If ``seed`` is a negative int.

    Example:
        >>> int(as_generator(0).integers(10)) == int(as_generator(0).integers(10))
        True
    """
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng()
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        if int(seed) < 0:
            raise ValueError(f"seed must be a non-negative int, got {seed}.")
        return np.random.default_rng(int(seed))
    raise TypeError(
        f"seed must be an int, a numpy.random.Generator or None, got {type(seed).__name__}."
    )


def derive_seed(rng: np.random.Generator) -> int:
    """Draw a 63-bit integer seed from ``rng`` (to seed torch or a child stream)."""
    return int(rng.integers(0, 2**63 - 1))


def spawn(rng: np.random.Generator, n: int) -> list[np.random.Generator]:
    """Return ``n`` independent child generators of ``rng`` (``rng`` advances)."""
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}.")
    return list(rng.spawn(n))


def torch_generator(rng: np.random.Generator, device: str = "cpu") -> torch.Generator:
    """A ``torch.Generator`` on ``device`` seeded from ``rng``."""
    import torch

    gen = torch.Generator(device=device)
    gen.manual_seed(derive_seed(rng))
    return gen
