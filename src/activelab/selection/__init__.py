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

from .._validation import check_k, check_mask, check_probs, check_scores

__all__ = [
    "badge",
    "batchbald",
    "cal_scores",
    "cluster_margin",
    "covering_radius",
    "discriminative",
    "epig",
    "kcenter_greedy",
    "kmeans_initial",
    "mixture_scores",
    "power",
    "probcover",
    "random_projection",
    "reduce_features",
    "rank",
    "softmax",
    "top_k",
    "two_step",
    "typiclust",
]

_CHUNK = 65536
_BLOCK = 16384  # rows per block in _badge_sweep_cpu (64 KB per float32 vector)
_SMALL_C = 32  # up to this many classes, BADGE's a·a_j is computed inside _badge_sweep_cpu


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
    """Squared row norms in one streaming pass.

    On CPU this is a numpy ``einsum`` per block of rows, written straight into the result:
    no (block × D) temporary and no OpenMP region per block.
    """
    out = torch.empty(t.shape[0], dtype=t.dtype, device=t.device)
    if t.device.type == "cpu":
        arr, res = t.numpy(), out.numpy()
        step = max(1, _CHUNK * 8 // max(1, t.shape[1]))  # blocks of about 2 MB (float32)
        for start in range(0, t.shape[0], step):
            block = arr[start : start + step]
            np.einsum("ij,ij->i", block, block, out=res[start : start + step])
        return out
    for start in range(0, t.shape[0], _CHUNK):
        chunk = t[start : start + _CHUNK]
        out[start : start + _CHUNK] = (chunk * chunk).sum(1)
    return out


def _sq_norms_checked(t: torch.Tensor, name: str) -> torch.Tensor:
    """Squared row norms; raises ``ValueError`` if ``t`` holds NaN/inf.

    A NaN/inf entry makes its row's squared norm NaN/inf, so the norms double as the finiteness
    check; only then is the array scanned element-wise to report where. (Finite rows whose
    squared norm overflows pass, as before.)
    """
    sq = _sq_norms(t)
    if not bool(torch.isfinite(sq).all()):
        _check_finite_chunked(t, name)
    return sq


def _argmax(v: torch.Tensor) -> int:
    """Index of the first maximum of a 1-D tensor (numpy on CPU: no OpenMP region)."""
    return int(v.numpy().argmax()) if v.device.type == "cpu" else int(torch.argmax(v))


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


def _badge_sweep_cpu(
    g_sq: np.ndarray,
    hh: np.ndarray,
    min_d: np.ndarray,
    block_sums: np.ndarray,
    j: int,
    *,
    a_t: np.ndarray | None,
    a_j: np.ndarray | None,
    ah: np.ndarray,
    bufs: tuple[np.ndarray, np.ndarray],
) -> None:
    """BADGE's O(N) work after the pass ``hh = h·h_j``, fused over cache-sized blocks of rows.

    Per block: ``ah = a·a_j`` (from the class-major ``a_t`` when given, else read from ``ah``),
    ``d = max(g_sq + g_sq[j] - (2·ah)·hh, 0)``, ``min_d = min(min_d, d)`` with ``min_d[j] = 0``,
    and the block's float64 sum of ``min_d`` into ``block_sums`` (what a D² draw needs; see
    :func:`_d2_draw`). Intermediates stay in cache, and no OpenMP region is entered (the
    wake-up of one costs milliseconds per pick on a busy machine). ``hh`` is overwritten.
    (Splitting the blocks over two threads was measured and gained nothing on 2 cores.)
    """
    n = len(min_d)
    buf, tmp = bufs
    for b in range(len(block_sums)):
        s, e = b * _BLOCK, min(n, (b + 1) * _BLOCK)
        if a_t is not None and a_j is not None:
            o = buf[: e - s]
            t = tmp[: e - s]
            np.multiply(a_t[0, s:e], a_j[0], out=o)
            for c in range(1, a_t.shape[0]):
                np.multiply(a_t[c, s:e], a_j[c], out=t)
                o += t
        else:
            o = ah[s:e]
        o *= 2.0
        d = hh[s:e]
        o *= d
        np.add(g_sq[s:e], g_sq[j], out=d)
        d -= o
        np.maximum(d, 0.0, out=d)
        block = min_d[s:e]
        np.minimum(block, d, out=block)
        if s <= j < e:
            min_d[j] = 0.0
        block_sums[b] = np.add.reduce(block, dtype=np.float64)


def _d2_draw(min_d: np.ndarray, block_sums: np.ndarray, totals: np.ndarray, u: float) -> int:
    """The row where the running sum of the D² weights ``min_d`` first exceeds ``u``.

    Two levels: the block whose running total (``totals``, the running sum of
    ``block_sums``) first exceeds ``u``, then the row inside it by a float64 running sum of
    that block alone: O(n_blocks + block) per pick instead of a running sum over all N. The
    row found has a positive weight, so it is never a taken row (their weight is 0).
    """
    b = min(int(np.searchsorted(totals, u, side="right")), len(block_sums) - 1)
    while block_sums[b] <= 0.0:  # u at the very top of the range: the last block with weight
        b -= 1
    s = b * _BLOCK
    weights = min_d[s : s + _BLOCK]
    local = np.cumsum(weights, dtype=np.float64)
    i = int(np.searchsorted(local, u - (totals[b - 1] if b else 0.0), side="right"))
    if i >= len(weights):  # u above the block's running total, by rounding against its sum
        i = int(np.flatnonzero(weights > 0.0)[-1])
    return s + i


def _min_sq_dist_to_set(
    x: torch.Tensor, x_sq: torch.Tensor, centres: torch.Tensor, chunk: int = 4096
) -> torch.Tensor:
    """min over ``centres`` of squared distances for every row of ``x``; O(chunk·chunk) memory."""
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
                d = x_sq[rs : rs + chunk, None] - 2.0 * prod + csq[None, :]
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
    x_sq = _sq_norms_checked(x, "embeddings")
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
        best = _argmax(min_d)
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

    Cost: k - 1 passes over ``embeddings`` (N·D) and ``a`` (N·C); O(N·C) extra memory for
    ``a`` and O(N) for the distances. Each draw needs only the blocks' float64 sums and one
    block's running sum, not a running sum over all N.

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
    h_sq = _sq_norms_checked(h, "embeddings")
    a_np = p.astype(h.numpy().dtype if h.device.type == "cpu" else np.float32, copy=True)
    a_np[np.arange(n), p.argmax(axis=1)] -= 1.0
    a = torch.from_numpy(a_np).to(h.device, dtype=h.dtype)
    g_sq = _sq_norms(a) * h_sq
    first = _argmax(g_sq)
    on_cpu = h.device.type == "cpu"
    n_blocks = -(-n // _BLOCK)
    scratch = (np.empty(min(n, _BLOCK), dtype=a_np.dtype), np.empty(min(n, _BLOCK), dtype=a_np.dtype))
    # Few classes on CPU: a·a_j is computed inside the fused sweep from a class-major copy of
    # a (the row-major one is dropped); otherwise it is one torch mv over a per pick.
    a_t = np.ascontiguousarray(a_np.T) if on_cpu and a_np.shape[1] <= _SMALL_C else None
    if a_t is not None:
        del a, a_np
    picks = [first]
    taken = np.zeros(n, dtype=bool)
    taken[first] = True
    ah = torch.empty(n, dtype=h.dtype, device=h.device)
    hh = torch.empty(n, dtype=h.dtype, device=h.device)
    # min_d of taken rows is 0 and stays 0 (distances are clamped at 0), so min_d itself is
    # the D² weight vector and ``block_sums`` its float64 sums per block: no masked copy per pick.
    min_d = torch.full((n,), float("inf"), dtype=h.dtype, device=h.device)
    block_sums = np.empty(n_blocks, dtype=np.float64)
    starts = np.arange(0, n, _BLOCK)
    weights = min_d.numpy() if on_cpu else np.empty(0)

    def fold(j: int) -> None:
        """min_d ← min(min_d, ‖g_i - g_j‖²), min_d[j] = 0, block sums of min_d: one pass over h."""
        nonlocal weights
        if a_t is None:
            torch.mv(a, a[j], out=ah)
        torch.mv(h, h[j], out=hh)  # the pass over the embeddings
        if on_cpu:
            a_j = None if a_t is None else a_t[:, j].copy()
            _badge_sweep_cpu(
                g_sq.numpy(), hh.numpy(), weights, block_sums, j, a_t=a_t, a_j=a_j, ah=ah.numpy(), bufs=scratch
            )
        else:
            torch.minimum(min_d, (g_sq + g_sq[j] - 2.0 * ah * hh).clamp_(min=0.0), out=min_d)
            min_d[j] = 0.0
            weights = min_d.cpu().numpy()
            block_sums[:] = np.add.reduceat(weights, starts, dtype=np.float64)

    fold(first)
    while len(picks) < k:
        totals = np.cumsum(block_sums)
        if totals[-1] <= 0.0:  # every remaining row coincides with a centre
            j = int(rng.choice(np.flatnonzero(~taken)))
        else:
            j = _d2_draw(weights, block_sums, totals, rng.random() * totals[-1])
        picks.append(j)
        taken[j] = True
        if len(picks) < k:  # the distances to the last pick are never used
            fold(j)
    return np.asarray(picks, dtype=np.int64)
from .batchbald import batchbald  # noqa: E402
from .epig import epig  # noqa: E402
from .stochastic import rank  # noqa: E402
from .coldstart import kmeans_initial, probcover, reduce_features, typiclust  # noqa: E402
from .contrastive import cal_scores  # noqa: E402
from .discriminative import discriminative  # noqa: E402
from .hybrid import cluster_margin, mixture_scores, two_step  # noqa: E402
