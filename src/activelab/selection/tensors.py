"""Row-streaming helpers on torch tensors, shared by :mod:`.kcenter` and :mod:`.badge`.

Arrays come in as numpy and are viewed as torch tensors without a copy on CPU. The O(N)
steps on CPU run in numpy on the shared buffers: every torch element-wise op is an OpenMP
region whose barrier costs milliseconds on a busy machine, once per pick.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = [
    "CHUNK",
    "PRECISIONS",
    "as_tensor",
    "bf16_decode",
    "bf16_rows",
    "check_precision",
    "first_argmax",
    "sq_norms",
    "sq_norms_checked",
]

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


PRECISIONS = ("fp32", "bf16")
"""Storage of the embeddings during greedy k-center and BADGE: as given, or rounded to bfloat16."""

_BF16_BLOCK = 1 << 20  # elements per block of bf16_rows (4 MiB of float32 temporaries)


def check_precision(precision: object, device: str | torch.device | None) -> str:
    """``precision`` if it is one of :data:`PRECISIONS` and can run on ``device``.

    Raises:
        ValueError: For an unknown value, or ``"bf16"`` off the CPU or without numba.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(map(repr, PRECISIONS))}, got {precision!r}.")
    if precision == "bf16":
        from ..neighbors.kernels import team_available

        if device is not None and torch.device(device).type != "cpu":
            raise ValueError(f"precision='bf16' runs on the CPU only, got device={device!r}; use precision='fp32' there.")
        if not team_available():
            raise ValueError("precision='bf16' needs the compiled pick loops: pip install 'activelab[fast]' (numba).")
    return str(precision)


def bf16_rows(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows of ``x`` rounded to bfloat16 (round to nearest, ties to even) and their squared norms.

    Returns ``(bits, sq)``: ``bits`` is ``(N, D)`` uint16 (the upper half of each float32),
    ``sq`` the float32 squared norms of the *rounded* rows, so that distances computed from
    ``bits`` and ``sq`` are those of one set of points. Values beyond bfloat16's range
    (about ±3.4·10³⁸) round to ±inf.

    Cost: one read of ``x``, ``N·D·2`` bytes out (compiled with numba, one thread per core;
    else NumPy per block with O(block) temporaries of 4 MiB).
    """
    xa = np.ascontiguousarray(x, dtype=np.float32)
    n, d = xa.shape
    bits = np.empty((n, d), dtype=np.uint16)
    sq = np.empty(n, dtype=np.float32)
    rows = max(1, _BF16_BLOCK // max(1, d))
    from ..neighbors import kernels

    if kernels.team_available():  # one compiled read, blocks pulled by one thread per core
        module = kernels.team_module()
        kernels.run_chunks(-(-n // rows), lambda c: module.bf16_round_rows(xa, bits, sq, c * rows, min(n, (c + 1) * rows)))
        return bits, sq
    for s in range(0, n, rows):
        u = xa[s : s + rows].view(np.uint32)
        r = (u + (np.uint32(0x7FFF) + ((u >> np.uint32(16)) & np.uint32(1)))) >> np.uint32(16)
        bits[s : s + rows] = r
        back = bf16_decode(bits[s : s + rows])
        np.einsum("ij,ij->i", back, back, out=sq[s : s + rows])
    return bits, sq


def bf16_decode(bits: np.ndarray) -> np.ndarray:
    """float32 values of bfloat16 ``bits`` (uint16): exact."""
    out: np.ndarray = (bits.astype(np.uint32) << np.uint32(16)).view(np.float32)
    return out
