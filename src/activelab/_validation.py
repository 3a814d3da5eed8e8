"""Input checks shared by the functional layers (acquisition, selection)."""

from __future__ import annotations

import numbers

import numpy as np

PROB_ATOL = 1e-4


def check_probs(probs: object, name: str = "probs", *, ndim: int | tuple[int, ...] = 2) -> np.ndarray:
    """Validate class probabilities: finite, non-negative, rows summing to 1 over the last axis.

    Returns the input as an array (float32/float64 kept, other dtypes cast to float64).
    """
    arr = np.asarray(probs)
    dims = (ndim,) if isinstance(ndim, int) else ndim
    if arr.ndim not in dims:
        shapes = " or ".join({2: "(n_items, n_classes)", 3: "(n_items, n_draws, n_classes)"}[d] for d in dims)
        raise ValueError(f"{name} must have shape {shapes}, got an array of shape {arr.shape}.")
    if arr.dtype not in (np.float32, np.float64):
        if not np.issubdtype(arr.dtype, np.number):
            raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}.")
        arr = arr.astype(np.float64)
    if arr.shape[-1] < 2:
        raise ValueError(f"{name} needs at least 2 classes on its last axis, got shape {arr.shape}.")
    if arr.size == 0:
        return arr
    bad = ~np.isfinite(arr)
    if bad.any():
        row = int(np.argwhere(bad)[0][0])
        raise ValueError(
            f"{name} holds {int(bad.sum())} NaN/inf values (first in item {row}); "
            "check the model's outputs (a diverged training run gives NaN)."
        )
    if arr.min() < 0:
        raise ValueError(f"{name} must be non-negative, found {arr.min():.3g}; pass probabilities, not logits.")
    sums = arr.sum(axis=-1, dtype=np.float64)
    off = np.abs(sums - 1.0) > PROB_ATOL * max(1, arr.shape[-1] / 100) + (1e-3 if arr.dtype == np.float32 else 0)
    if off.any():
        row = int(np.argwhere(off)[0][0])
        raise ValueError(
            f"{name} rows must sum to 1 over the classes; item {row} sums to {float(sums.flat[np.argmax(off)]):.6g}. "
            "Apply softmax to logits before scoring."
        )
    return arr


def check_scores(scores: object, name: str = "scores") -> np.ndarray:
    """Validate a 1-D array of finite scores (higher = ask first)."""
    arr = np.asarray(scores)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (one score per item), got shape {arr.shape}.")
    if not np.issubdtype(arr.dtype, np.number):
        raise TypeError(f"{name} must be numeric, got dtype {arr.dtype}.")
    if arr.size and not np.isfinite(arr).all():
        n_bad = int((~np.isfinite(arr)).sum())
        raise ValueError(f"{name} holds {n_bad} NaN/inf values; scores must be finite.")
    return arr


def check_k(k: object, n_available: int, what: str = "unlabelled items") -> int:
    """Validate a batch size ``k`` against the number of candidates."""
    from .errors import PoolExhaustedError

    if not isinstance(k, numbers.Integral) or isinstance(k, bool):
        raise TypeError(f"k must be an int, got {type(k).__name__}.")
    k = int(k)
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}.")
    if k > n_available:
        raise PoolExhaustedError(
            f"Requested {k} items but only {n_available} {what} remain; lower the query size or the budget."
        )
    return k


def check_mask(mask: object, n: int, name: str = "labelled") -> np.ndarray:
    """Validate a boolean mask of length ``n``."""
    arr = np.asarray(mask)
    if arr.dtype != np.bool_:
        raise TypeError(f"{name} must be a boolean mask, got dtype {arr.dtype}.")
    if arr.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) to match the rows, got {arr.shape}.")
    return arr


def check_rows(x: object, name: str = "embeddings", *, n_rows: int | None = None) -> np.ndarray:
    """``x`` as a finite 2-D array ``(n, D)`` (no copy), with ``n == n_rows`` when given.

    Raises:
        ValueError: On another shape (naming the expected rows) or NaN / infinite values.
    """
    arr = np.asarray(x)
    if n_rows is None and arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_rows, n_dims), got shape {arr.shape}.")
    if n_rows is not None and (arr.ndim != 2 or len(arr) != n_rows):
        raise ValueError(f"{name} must be (n, D) with n = {n_rows} rows like probs, got shape {arr.shape}.")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contain NaN or infinite values.")
    return arr


def check_pool_features(X: object, name: str = "X", *, chunk_size: int = 8192) -> tuple[int, ...]:
    """Check a pool's features before any work: an array ``(n_items, ...)``, numeric and finite.

    ``X`` may be a numpy array, a memmap or another array with ``shape`` that an int array
    indexes (rows are read in chunks of ``chunk_size``, once, so a memmap is not loaded whole).

    Returns:
        ``X.shape`` as a tuple.

    Raises:
        TypeError: If ``X`` is a list or has no ``shape`` (convert it with ``np.asarray``), or is
            not numeric.
        ValueError: If ``X`` is not at least 2-D, or holds NaN/inf (the message names the first
            row and column, the column counted over the flattened features).
    """
    if isinstance(X, (list, tuple)) or not hasattr(X, "shape") or not hasattr(X, "__getitem__"):
        raise TypeError(
            f"{name} must be an array of shape (n_items, n_features...) (a numpy array or memmap), got "
            f"{type(X).__name__}; convert it with np.asarray({name}, dtype=np.float32)."
        )
    shape = tuple(int(s) for s in X.shape)
    if len(shape) < 2:
        raise ValueError(
            f"{name} must be at least 2-D (n_items, n_features...), got shape {shape}; "
            f"for a single feature use {name}.reshape(-1, 1)."
        )
    n = shape[0]
    for start in range(0, n, chunk_size):
        block = np.asarray(X[np.arange(start, min(n, start + chunk_size))])
        if block.dtype.kind in "biu":
            return shape  # integers and booleans are finite
        if block.dtype.kind not in "fc":
            raise TypeError(f"{name} must be numeric, got dtype {block.dtype}.")
        bad = ~np.isfinite(block.reshape(len(block), -1))
        if bad.any():
            row, col = (int(v) for v in np.argwhere(bad)[0])
            value = block.reshape(len(block), -1)[row, col]
            raise ValueError(
                f"{name} holds NaN/inf values (first at row {start + row}, column {col}: {value}); "
                "impute or drop those rows before active learning."
            )
    return shape


def fingerprint_arrays(arrays: dict[str, object], *, chunk_rows: int = 8192) -> dict[str, object]:
    """Shapes and one SHA-256 of the content of named arrays (``None`` entries are left out).

    The hash covers each array's name, dtype, shape and bytes (C order), read in chunks of rows,
    so two fingerprints are equal only for equal data. Cost: one pass over the arrays.

    Example:
        >>> fp = fingerprint_arrays({"X": np.zeros((2, 3), dtype=np.float32), "y": np.array([0, 1])})
        >>> fp["shape"], len(fp["sha256"])
        ({'X': [2, 3], 'y': [2]}, 64)
    """
    import hashlib

    digest = hashlib.sha256()
    shapes: dict[str, list[int]] = {}
    for name, a in arrays.items():
        if a is None:
            continue
        shape = [int(s) for s in a.shape]  # type: ignore[attr-defined]  # any array with a shape
        shapes[name] = shape
        n = shape[0] if shape else 1
        first = True
        for start in range(0, max(n, 1), chunk_rows):
            block = np.ascontiguousarray(
                np.asarray(a[np.arange(start, min(n, start + chunk_rows))] if shape else a)  # type: ignore[index]
            )
            if first:
                digest.update(f"{name}:{block.dtype.str}:{shape};".encode())
                first = False
            if block.size:
                digest.update(block.data)
    return {"shape": shapes, "sha256": digest.hexdigest()}
