"""Row-streaming helpers on torch tensors, shared by :mod:`.kcenter` and :mod:`.badge`.

Arrays come in as numpy and are viewed as torch tensors without a copy on CPU. The O(N)
steps on CPU run in numpy on the shared buffers: every torch element-wise op is an OpenMP
region whose barrier costs milliseconds on a busy machine, once per pick.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["CHUNK", "as_tensor", "first_argmax", "sq_norms", "sq_norms_checked"]

CHUNK = 65536
"""Rows per chunk of the streaming passes (the finiteness scan, GPU norms, random projection)."""


def as_tensor(x: np.ndarray, name: str, device: str | torch.device | None) -> torch.Tensor:
    """View a 2-D array as a float torch tensor, on ``device``.

    float32/float64 C-contiguous arrays are shared, not copied, on CPU; other dtypes become
    float32 and non-contiguous arrays are made contiguous first.

    Args:
        x: ``(n_rows, n_dims)`` array.
        name: Name of the argument, for the error message.
        device: torch device; ``None`` or a CPU device keeps the tensor on CPU.

    Raises:
        ValueError: If ``x`` is not 2-D.
    """
    arr = np.asarray(x)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_rows, n_dims), got shape {arr.shape}.")
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float32)
    if not arr.flags.c_contiguous:
        arr = np.ascontiguousarray(arr)
    t = torch.from_numpy(arr)  # shares memory: no copy on CPU
    if device is not None and torch.device(device).type != "cpu":
        t = t.to(device)
    return t


def _check_finite_rows(t: torch.Tensor, rows: np.ndarray, name: str) -> None:
    """Raise naming the first of ``rows`` (ascending) that holds a NaN/inf element, with its column."""
    for row in rows:
        bad = ~torch.isfinite(t[int(row)])
        if bool(bad.any()):
            col = int(torch.nonzero(bad)[0, 0])
            value = float(t[int(row), col])
            raise ValueError(
                f"{name} holds NaN/inf values (first at row {int(row)}, column {col}: {value}); "
                "check the model's outputs (a diverged training run gives NaN) and the input features."
            )


def sq_norms(t: torch.Tensor) -> torch.Tensor:
    """Squared row norms in one streaming pass.

    On CPU this is a numpy ``einsum`` per block of rows, written straight into the result:
    no (block × D) temporary and no OpenMP region per block.
    """
    out = torch.empty(t.shape[0], dtype=t.dtype, device=t.device)
    if t.device.type == "cpu":
        arr, res = t.numpy(), out.numpy()
        step = max(1, CHUNK * 8 // max(1, t.shape[1]))  # blocks of about 2 MB (float32)
        for start in range(0, t.shape[0], step):
            block = arr[start : start + step]
            np.einsum("ij,ij->i", block, block, out=res[start : start + step])
        return out
    for start in range(0, t.shape[0], CHUNK):
        chunk = t[start : start + CHUNK]
        out[start : start + CHUNK] = (chunk * chunk).sum(1)
    return out


def sq_norms_checked(t: torch.Tensor, name: str) -> torch.Tensor:
    """Squared row norms; raises ``ValueError`` if ``t`` holds NaN/inf.

    A NaN/inf entry makes its row's squared norm NaN/inf, so the norms double as the finiteness
    check; only then are those rows scanned element-wise to name the first bad row and column. (Finite rows whose
    squared norm overflows pass, as before.)
    """
    sq = sq_norms(t)
    if sq.device.type == "cpu":  # NumPy: no torch OpenMP region before the callers' BLAS passes
        finite_np = np.isfinite(sq.numpy())
        if not finite_np.all():
            _check_finite_rows(t, np.flatnonzero(~finite_np), name)
        return sq
    finite = torch.isfinite(sq)
    if not bool(finite.all()):
        _check_finite_rows(t, np.flatnonzero(~finite.cpu().numpy()), name)
    return sq


def first_argmax(v: torch.Tensor) -> int:
    """Index of the first maximum of a 1-D tensor (numpy on CPU: no OpenMP region)."""
    return int(v.numpy().argmax()) if v.device.type == "cpu" else int(torch.argmax(v))
