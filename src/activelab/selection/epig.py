"""EPIG (Bickford Smith et al., 2023): expected predictive information gain on a target set.

``EPIG(x) = E_{x*}[ I(y; y* | x, x*) ]``: how much labelling ``x`` tells us about the
predictions on target inputs ``x*`` (by default a random subset of the unlabelled pool),
rather than about the parameters (BALD). With ``M`` posterior draws shared by the pool and
the target rows, ``p(y, y*) = mean_m p(y|θ_m) p(y*|θ_m)`` and

    ``I(y; y*) = H(y) + H(y*) - H(y, y*)``.

The ``(C × C)`` joints of a block of pool rows with every target row are one matrix product
``(rows·C, M) @ (M, T·C)``; nothing of size ``N × T × C²`` is ever held (baal materialises
exactly that). Like BatchBALD, EPIG needs draws that are consistent across rows (ensemble
members, or MC dropout with masks shared by all rows).
"""

from __future__ import annotations

import numpy as np
import torch

from .batchbald import check_samples

__all__ = ["epig"]

#: Elements of the (rows·C × T·C) joint block per chunk (16 MB in float32).
_WORK_ELEMENTS = 4_194_304
_TINY = 1e-30


def _tensor(arr: np.ndarray, dtype: torch.dtype, device: str | None) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(arr)).to(dtype)
    if device is not None and torch.device(device).type != "cpu":
        t = t.to(device)
    return t


def epig(
    prob_samples_pool: np.ndarray,
    prob_samples_target: np.ndarray | None = None,
    *,
    n_target: int = 100,
    rng: np.random.Generator | None = None,
    chunk_size: int | None = None,
    device: str | None = None,
) -> np.ndarray:
    """EPIG score of every pool row against a target set; higher = ask first.

    Args:
        prob_samples_pool: ``(N, M, C)`` posterior samples of the candidate rows.
        prob_samples_target: ``(T, M, C)`` samples of the target rows under the *same* ``M``
            draws. ``None``: ``n_target`` rows of ``prob_samples_pool`` drawn with ``rng``
            without replacement (all of them if ``N <= n_target``), i.e. the target
            distribution is the unlabelled pool.
        n_target: Size of the subsampled target set when ``prob_samples_target`` is None.
        rng: Generator for that subsample (required then, unused otherwise).
        chunk_size: Pool rows per block; default keeps the ``(rows·C, T·C)`` block near 16 MB.
        device: torch device for the products (default CPU).

    Returns:
        ``(N,)`` scores in ``[0, log C]`` (float64).

    Raises:
        ValueError: On malformed probabilities, a draw or class count that differs between
            pool and target, or a non-positive ``n_target``/``chunk_size``.
        TypeError: If the target must be drawn and ``rng`` is not a ``numpy.random.Generator``.

    Cost: time O(N·T·M·C²) (one GEMM) + O(N·T·C²) logarithms; memory O(N) for the result,
    O(T·M·C) for the target and two ``(chunk·C, T·C)`` blocks (16 MB each by default).

    Example:
        >>> pool = np.array([[[0.9, 0.1], [0.1, 0.9]],    # draws disagree, as on the target
        ...                  [[0.5, 0.5], [0.5, 0.5]]])   # no disagreement: tells nothing
        >>> target = np.array([[[0.99, 0.01], [0.01, 0.99]]])
        >>> epig(pool, target).round(3)
        array([0.351, 0.   ])
    """
    pool = check_samples(prob_samples_pool, "prob_samples_pool")
    n, m, c = pool.shape
    if prob_samples_target is None:
        if not isinstance(n_target, (int, np.integer)) or isinstance(n_target, bool) or n_target < 1:
            raise ValueError(f"n_target must be a positive int, got {n_target!r}.")
        if not isinstance(rng, np.random.Generator):
            raise TypeError(
                "epig draws its target set from the pool when prob_samples_target is None; "
                f"pass rng=np.random.default_rng(seed), got {type(rng).__name__}."
            )
        rows = np.sort(rng.choice(n, size=min(int(n_target), n), replace=False)) if n else np.empty(0, np.int64)
        target = pool[rows]
    else:
        target = check_samples(prob_samples_target, "prob_samples_target")
        if target.shape[1:] != (m, c):
            raise ValueError(
                f"prob_samples_target has {target.shape[1]} draws and {target.shape[2]} classes but the pool has "
                f"{m} and {c}; both must come from the same posterior draws."
            )
    if chunk_size is not None and (not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1):
        raise ValueError(f"chunk_size must be a positive int, got {chunk_size!r}.")
    t_rows = target.shape[0]
    out = np.zeros(n, dtype=np.float64)
    if n == 0 or t_rows == 0:
        return out
    dtype = torch.float64 if pool.dtype == np.float64 else torch.float32
    tgt = _tensor(target, dtype, device)
    tgt_mean = tgt.mean(dim=1)
    h_target = float(-torch.xlogy(tgt_mean, tgt_mean).sum(dim=1).mean())
    # (M, T·C) right factor, with the 1/M of the mixture folded in
    right = (tgt.permute(1, 0, 2).reshape(m, t_rows * c) / m).contiguous()
    rows_per = int(chunk_size) if chunk_size is not None else max(1, _WORK_ELEMENTS // (c * c * t_rows))
    cells = c * t_rows * c  # joint cells of one pool row with every target row
    size = min(rows_per, n) * cells
    buf = torch.empty(2 * size, dtype=dtype, device=tgt.device)  # reused: no page faults per block
    ones = torch.ones(cells, dtype=dtype, device=tgt.device)
    for start in range(0, n, rows_per):
        block = _tensor(pool[start : start + rows_per], dtype, device)  # (b, M, C)
        b = block.shape[0]
        mean = block.mean(dim=1)
        h_pool = -torch.xlogy(mean, mean).sum(dim=1)  # (b,)
        joint = buf[: b * cells].view(b * c, t_rows * c)
        torch.mm(block.permute(0, 2, 1).reshape(b * c, m), right, out=joint)  # p(y=c, y*_t=c')
        joint.clamp_(min=_TINY)  # 0·log 0 = 0 up to 1e-30·log 1e-30
        neg_h = buf[size : size + b * cells].view(b * c, t_rows * c)
        torch.log(joint, out=neg_h)
        neg_h = neg_h.mul_(joint).view(b, cells)
        h_joint = -torch.mv(neg_h, ones) / t_rows  # mean over t of Σ_{c,c'}
        score = (h_pool + h_target - h_joint).double().clamp_(min=0.0)
        out[start : start + b] = score.cpu().numpy()
    return out
