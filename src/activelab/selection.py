"""Batch selection: choose ``k`` rows from arrays (scores, embeddings, gradient factors).

Rows are whatever the caller passes (the loop passes the unlabelled candidates and maps the
returned row indices back to absolute pool indices). Every function takes an explicit
``np.random.Generator`` and returns an ``int64`` array of ``k`` unique row indices.

Costs (N rows, D embedding width, C classes, k picks):

=================  ===============================  =================================
function           time                             extra memory
=================  ===============================  =================================
``top_k``          O(N) (partition) + O(k log k)    O(N) bytes for the tie mask
``power``          O(N) + ``top_k``                 O(N)
``softmax``        O(N) + ``top_k``                 O(N)
``kcenter_greedy`` O(N·L·D) once + k passes O(N·D)  O(N) + one chunk of (chunk × L)
``badge``          k passes over H (N·D) and A (N·C) O(N·C) for ``p - onehot``, O(N)
=================  ===============================  =================================

Greedy k-center and k-means++ seeding must read the whole pool once per pick; their pass is
one matrix-vector product in torch (memory-bandwidth bound), so they run at k × that floor.
Nothing of size N×N or N×(C·D) is ever built.
"""

from __future__ import annotations

import numpy as np
import torch

from ._validation import check_k, check_mask, check_probs, check_scores

__all__ = [
    "badge",
    "covering_radius",
    "kcenter_greedy",
    "power",
    "random_projection",
    "softmax",
    "top_k",
]

_CHUNK = 65536


def top_k(scores: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of the ``k`` highest scores, ties at the cut broken uniformly at random.

    Args:
        scores: ``(N,)`` finite scores, higher = ask first.
        k: Number of rows to return, ``0 <= k <= N``.
        rng: Generator used only to break ties.

    Returns:
        ``(k,)`` int64 row indices, highest score first.

    Raises:
        PoolExhaustedError: If ``k > N``.

    Example:
        >>> top_k(np.array([0.1, 0.9, 0.5]), 2, np.random.default_rng(0))
        array([1, 2])
    """
    s = check_scores(scores)
    k = check_k(k, len(s))
    if k == 0:
        return np.empty(0, dtype=np.int64)
    n = len(s)
    if k == n:
        cut = s.min()
    else:
        cut = np.partition(s, n - k)[n - k]
    above = np.flatnonzero(s > cut)
    ties = np.flatnonzero(s == cut)
    need = k - len(above)
    chosen_ties = ties if need == len(ties) else rng.choice(ties, size=need, replace=False)
    sel = np.concatenate([above, chosen_ties]).astype(np.int64)
    return sel[np.argsort(-s[sel], kind="stable")]


def _gumbel_top_k(keys: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    perturbed = keys + rng.gumbel(size=len(keys))
    # -inf keys (zero scores under ``power``) stay -inf; map them to a finite floor so that
    # ties among them are broken at random by ``top_k``.
    floor = np.finfo(np.float64).min
    return top_k(np.where(np.isneginf(perturbed), floor, perturbed), k, rng)


def power(scores: np.ndarray, k: int, rng: np.random.Generator, beta: float = 1.0) -> np.ndarray:
    """Stochastic batch: sample ``k`` rows without replacement with probability ∝ ``scores**beta``.

    Power acquisition of Kirsch et al. (2023, "Stochastic batch acquisition"), done with the
    Gumbel-top-k trick. Rows with score 0 come last, in random order.

    Args:
        scores: ``(N,)`` non-negative scores.
        k: Batch size.
        rng: Generator.
        beta: Inverse temperature; larger concentrates on the top scores.

    Example:
        >>> power(np.array([0.0, 1.0, 2.0]), 2, np.random.default_rng(0)).tolist()
        [2, 1]
    """
    s = check_scores(scores)
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}.")
    if s.size and s.min() < 0:
        raise ValueError(f"power sampling needs non-negative scores, found {s.min():.3g}; use softmax instead.")
    k = check_k(k, len(s))
    with np.errstate(divide="ignore"):
        keys = beta * np.log(s.astype(np.float64))
    return _gumbel_top_k(keys, k, rng)


def softmax(scores: np.ndarray, k: int, rng: np.random.Generator, beta: float = 1.0) -> np.ndarray:
    """Stochastic batch: sample ``k`` rows without replacement with probability ∝ ``exp(beta·score)``.

    Example:
        >>> softmax(np.array([0.0, 10.0, 20.0]), 2, np.random.default_rng(0)).tolist()
        [2, 1]
    """
    s = check_scores(scores)
    if beta <= 0:
        raise ValueError(f"beta must be > 0, got {beta}.")
    k = check_k(k, len(s))
    return _gumbel_top_k(beta * s.astype(np.float64), k, rng)


def _as_tensor(x: np.ndarray, name: str, device: str | torch.device | None) -> torch.Tensor:
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


def _check_finite_chunked(t: torch.Tensor, name: str) -> None:
    for start in range(0, t.shape[0], _CHUNK):
        if not torch.isfinite(t[start : start + _CHUNK]).all():
            raise ValueError(f"{name} holds NaN/inf values (rows {start}..{start + _CHUNK}); check the model.")


def _sq_norms(t: torch.Tensor) -> torch.Tensor:
    out = torch.empty(t.shape[0], dtype=t.dtype, device=t.device)
    for start in range(0, t.shape[0], _CHUNK):
        chunk = t[start : start + _CHUNK]
        out[start : start + _CHUNK] = (chunk * chunk).sum(1)
    return out


def _min_sq_dist_to_set(
    x: torch.Tensor, x_sq: torch.Tensor, centres: torch.Tensor, chunk: int = 4096
) -> torch.Tensor:
    """min over ``centres`` of squared distances for every row of ``x``; O(chunk·chunk) memory."""
    c_sq = (centres * centres).sum(1)
    out = torch.full((x.shape[0],), float("inf"), dtype=x.dtype, device=x.device)
    for cs in range(0, centres.shape[0], chunk):
        c = centres[cs : cs + chunk]
        csq = c_sq[cs : cs + chunk]
        for rs in range(0, x.shape[0], chunk):
            d = x_sq[rs : rs + chunk, None] - 2.0 * (x[rs : rs + chunk] @ c.T) + csq[None, :]
            torch.minimum(out[rs : rs + chunk], d.min(1).values, out=out[rs : rs + chunk])
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
    x = _as_tensor(embeddings, "embeddings", device)
    n = x.shape[0]
    mask = check_mask(labelled, n)
    k = check_k(k, int(n - mask.sum()))
    if k == 0:
        return np.empty(0, dtype=np.int64)
    _check_finite_chunked(x, "embeddings")
    x_sq = _sq_norms(x)
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
    min_d = torch.where(taken, neg, min_d)
    d = torch.empty_like(min_d)
    while len(picks) < k:
        best = int(torch.argmax(min_d))
        if float(min_d[best]) <= 0.0:  # every remaining row coincides with a centre
            free = np.flatnonzero(~taken.cpu().numpy())
            best = int(rng.choice(free))
        picks.append(best)
        taken[best] = True
        torch.mv(x, x[best], out=d)
        d.mul_(-2.0).add_(x_sq).add_(x_sq[best])
        torch.minimum(min_d, d, out=min_d)
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
    x = _as_tensor(embeddings, "embeddings", device)
    idx = torch.from_numpy(np.asarray(centres, dtype=np.int64)).to(x.device)
    min_d = _min_sq_dist_to_set(x, _sq_norms(x), x[idx])
    return float(min_d.max().sqrt())


def random_projection(
    embeddings: np.ndarray, dim: int, rng: np.random.Generator, *, chunk: int = _CHUNK
) -> np.ndarray:
    """Gaussian random projection to ``dim`` dimensions (Johnson-Lindenstrauss), chunked.

    Used by ``kcenter_greedy`` callers that trade exactness for speed: k-center on a 64-d
    projection reads 8× fewer bytes per pick than on 512-d embeddings.

    Returns:
        ``(N, dim)`` float32 array.
    """
    arr = np.asarray(embeddings)
    if arr.ndim != 2:
        raise ValueError(f"embeddings must be 2-D, got shape {arr.shape}.")
    if dim <= 0:
        raise ValueError(f"dim must be a positive int, got {dim}.")
    if dim >= arr.shape[1]:
        return np.ascontiguousarray(arr, dtype=np.float32)
    proj = torch.from_numpy(
        (rng.standard_normal((arr.shape[1], dim)) / np.sqrt(dim)).astype(np.float32)
    )
    out = np.empty((arr.shape[0], dim), dtype=np.float32)
    for start in range(0, arr.shape[0], chunk):
        block = torch.from_numpy(np.ascontiguousarray(arr[start : start + chunk], dtype=np.float32))
        out[start : start + chunk] = (block @ proj).numpy()
    return out


def badge(
    probs: np.ndarray,
    embeddings: np.ndarray,
    k: int,
    rng: np.random.Generator,
    *,
    device: str | None = None,
) -> np.ndarray:
    """BADGE (Ash et al., 2020): k-means++ seeding on gradient embeddings, never materialised.

    The gradient of the cross-entropy loss w.r.t. the last linear layer, under the predicted
    label ŷ, is ``g_i = (p_i - onehot(ŷ_i)) ⊗ h_i`` (C·D numbers). We never build it: with
    ``a_i = p_i - onehot(ŷ_i)``,
    ``‖g_i - g_j‖² = ‖a_i‖²‖h_i‖² + ‖a_j‖²‖h_j‖² - 2 (a_i·a_j)(h_i·h_j)``.
    The first centre is the row with the largest gradient norm; later centres are drawn with
    probability ∝ squared distance to the nearest centre (D² sampling).

    Args:
        probs: ``(N, C)`` predicted class probabilities.
        embeddings: ``(N, D)`` penultimate-layer activations ``h`` (input of the last linear layer).
        k: Number of rows to pick.
        rng: Generator for the D² draws.
        device: torch device for the passes (default CPU, no copy of float32 ``embeddings``).

    Returns:
        ``(k,)`` int64 unique row indices in pick order.

    Cost: k passes over ``embeddings`` (N·D) and ``a`` (N·C); O(N·C) extra memory for ``a``.

    Example:
        >>> p = np.array([[0.5, 0.5], [0.99, 0.01], [0.6, 0.4]])
        >>> h = np.eye(3, dtype=np.float32)
        >>> badge(p, h, 1, np.random.default_rng(0))
        array([0])
    """
    p = check_probs(probs)
    h = _as_tensor(embeddings, "embeddings", device)
    n = h.shape[0]
    if p.shape[0] != n:
        raise ValueError(f"probs has {p.shape[0]} rows but embeddings has {n}; they must describe the same rows.")
    k = check_k(k, n)
    if k == 0:
        return np.empty(0, dtype=np.int64)
    _check_finite_chunked(h, "embeddings")
    a_np = p.astype(h.numpy().dtype if h.device.type == "cpu" else np.float32, copy=True)
    a_np[np.arange(n), p.argmax(axis=1)] -= 1.0
    a = torch.from_numpy(a_np).to(h.device, dtype=h.dtype)
    a_sq = (a * a).sum(1)
    h_sq = _sq_norms(h)
    g_sq = a_sq * h_sq
    first = int(torch.argmax(g_sq))
    picks = [first]
    taken = np.zeros(n, dtype=bool)
    taken[first] = True
    ah = torch.empty(n, dtype=h.dtype, device=h.device)
    hh = torch.empty(n, dtype=h.dtype, device=h.device)

    def sq_dist_to(j: int) -> torch.Tensor:
        torch.mv(a, a[j], out=ah)
        torch.mv(h, h[j], out=hh)
        return (g_sq + g_sq[j] - 2.0 * ah * hh).clamp_(min=0.0)

    min_d = sq_dist_to(first)
    min_d[first] = 0.0
    while len(picks) < k:
        weights = min_d.double().cpu().numpy()
        weights[taken] = 0.0
        cum = np.cumsum(weights)
        total = cum[-1]
        if total <= 0.0:  # every remaining row coincides with a centre
            j = int(rng.choice(np.flatnonzero(~taken)))
        else:
            # first row whose cumulative weight exceeds u: its own weight is > 0, so never taken
            j = min(int(np.searchsorted(cum, rng.random() * total, side="right")), n - 1)
        picks.append(j)
        taken[j] = True
        torch.minimum(min_d, sq_dist_to(j), out=min_d)
        min_d[j] = 0.0
    return np.asarray(picks, dtype=np.int64)
