"""Greedy k-center (Core-Set) and its objective, the covering radius.

Minimum squared distances to the centres are kept in one O(N) vector; each pick is one
matrix-vector pass over the embeddings (memory-bandwidth bound), and the distances to the
labelled rows are a chunked matmul, never an N×L matrix.
"""

from __future__ import annotations

import numpy as np
import torch

from .._validation import check_k, check_mask
from .tensors import as_tensor, first_argmax, sq_norms, sq_norms_checked

__all__ = ["covering_radius", "kcenter_greedy"]


def _fold_min_sq_dist(min_d: torch.Tensor, dot: torch.Tensor, x_sq: torch.Tensor, j: int) -> None:
    """``min_d ← min(min_d, x_sq - 2·dot + x_sq[j])`` in place; ``dot`` is overwritten.

    On CPU the O(N) steps run in numpy on the shared buffers: every torch element-wise op is
    an OpenMP region whose barrier costs milliseconds on a busy machine, k times over.
    """
    if dot.device.type == "cpu":
        d, sq, md = dot.numpy(), x_sq.numpy(), min_d.numpy()
        d *= -2.0
        d += sq
        d += sq[j]
        np.minimum(md, d, out=md)
    else:
        dot.mul_(-2.0).add_(x_sq).add_(x_sq[j])
        torch.minimum(min_d, dot, out=min_d)


def _min_sq_dist_to_set(
    x: torch.Tensor, x_sq: torch.Tensor, centres: torch.Tensor, chunk: int = 4096
) -> torch.Tensor:
    """Min over ``centres`` of squared distances for every row of ``x``; O(chunk·chunk) memory."""
    c_sq = (centres * centres).sum(1)
    out = torch.full((x.shape[0],), float("inf"), dtype=x.dtype, device=x.device)
    on_cpu = x.device.type == "cpu"
    for cs in range(0, centres.shape[0], chunk):
        c = centres[cs : cs + chunk]
        csq = c_sq[cs : cs + chunk]
        for rs in range(0, x.shape[0], chunk):
            prod = x[rs : rs + chunk] @ c.T
            if on_cpu:  # element-wise steps in place in numpy: one (chunk × chunk) block, no OpenMP regions
                d, sq, o = prod.numpy(), x_sq[rs : rs + chunk].numpy(), out[rs : rs + chunk].numpy()
                d *= 2.0
                np.subtract(sq[:, None], d, out=d)
                d += csq.numpy()[None, :]
                np.minimum(o, d.min(1), out=o)
            else:
                dt = x_sq[rs : rs + chunk, None] - 2.0 * prod + csq[None, :]
                torch.minimum(out[rs : rs + chunk], dt.min(1).values, out=out[rs : rs + chunk])
    return out.clamp_(min=0.0)


def kcenter_greedy(
    embeddings: np.ndarray,
    labelled: np.ndarray,
    k: int,
    rng: np.random.Generator,
    *,
    device: str | None = None,
) -> np.ndarray:
    """Greedy k-center (Core-Set, Sener & Savarese 2018): repeatedly pick the row farthest from
    the labelled rows and the rows picked so far.

    Minimum distances are kept incrementally (one O(N) vector), so each pick is one
    matrix-vector pass over ``embeddings``; the initial distances to ``L`` labelled rows are a
    chunked matmul, never an N×L matrix.

    Args:
        embeddings: ``(N, D)`` float array (float32 is used without a copy).
        labelled: ``(N,)`` boolean mask; labelled rows are centres and never returned.
        k: Number of rows to pick.
        rng: Used for the first pick when nothing is labelled, and when every remaining row
            already coincides with a centre.
        device: torch device for the passes (default: CPU, in place on the array).

    Returns:
        ``(k,)`` int64 row indices of unlabelled rows, in pick order.

    Cost: O(N·L·D + k·N·D) time; O(N) extra memory (plus a 4096×4096 block).

    Example:
        >>> X = np.array([[0.0], [1.0], [10.0], [11.0]], dtype=np.float32)
        >>> kcenter_greedy(X, np.array([True, False, False, False]), 1, np.random.default_rng(0))
        array([3])
    """
    x = as_tensor(embeddings, "embeddings", device)
    n = x.shape[0]
    mask = check_mask(labelled, n)
    k = check_k(k, int(n - mask.sum()))
    if k == 0:
        return np.empty(0, dtype=np.int64)
    x_sq = sq_norms_checked(x, "embeddings")
    lab_idx = np.flatnonzero(mask)
    taken = torch.from_numpy(mask.copy()).to(x.device)
    picks: list[int] = []
    if len(lab_idx):
        min_d = _min_sq_dist_to_set(x, x_sq, x[torch.from_numpy(lab_idx).to(x.device)])
    else:
        first = int(rng.choice(n))
        picks.append(first)
        taken[first] = True
        min_d = (x_sq - 2.0 * torch.mv(x, x[first]) + x_sq[first]).clamp_(min=0.0)
    neg = torch.tensor(-1.0, dtype=x.dtype, device=x.device)
    min_d = torch.where(taken, neg, min_d)  # taken rows stay at -1: never the argmax
    d = torch.empty_like(min_d)
    while len(picks) < k:
        best = first_argmax(min_d)
        if float(min_d[best]) <= 0.0:  # every remaining row coincides with a centre
            free = np.flatnonzero(~taken.cpu().numpy())
            best = int(rng.choice(free))
        picks.append(best)
        taken[best] = True
        torch.mv(x, x[best], out=d)  # the one pass over the embeddings per pick
        _fold_min_sq_dist(min_d, d, x_sq, best)
        min_d[best] = -1.0
    return np.asarray(picks, dtype=np.int64)


def covering_radius(
    embeddings: np.ndarray, centres: np.ndarray, *, device: str | None = None
) -> float:
    """Largest distance from any row to its nearest centre row (the k-center objective).

    Args:
        embeddings: ``(N, D)`` array.
        centres: int row indices (labelled ∪ picked).
    """
    x = as_tensor(embeddings, "embeddings", device)
    idx = torch.from_numpy(np.asarray(centres, dtype=np.int64)).to(x.device)
    min_d = _min_sq_dist_to_set(x, sq_norms(x), x[idx])
    return float(min_d.max().sqrt())
