"""BADGE (Ash et al., 2020): k-means++ seeding on gradient embeddings that are never built.

Each pick's pass over the embeddings is one matrix-vector product by the kernel that
:func:`activelab.neighbors.kernels.choose_kernel` measured fastest on this machine; with an
``einsum`` kernel the pass joins the sweep below, block by block (one thread per core pulling
blocks for ``einsum-threads``). The CPU path fuses the O(N) work of each pick into one sweep
over cache-sized blocks of rows
(:func:`_badge_sweep_cpu`), and each D² draw is two-level: a block by the blocks' float64
sums, then a row by that block's running sum (:func:`_d2_draw`). With numba on CPU
(:func:`activelab.neighbors.kernels.loop_kernel`) every pick, its fold and its draw run in one
compiled loop instead (:func:`_team_picks`), on the embeddings as given or rounded to
bfloat16 (``precision="bf16"``).
"""

from __future__ import annotations

import threading
import time

import numpy as np
import torch

from .._validation import check_k, check_probs
from ..neighbors.kernels import (
    loop_kernel_unmeasured,
    measuring_row_products,
    record,
    recording_active,
    row_products,
    run_chunks,
    run_team,
    team_module,
    team_rows,
    team_threads,
)
from .tensors import as_tensor, bf16_rows, check_precision, first_argmax, sq_norms, sq_norms_checked

__all__ = ["badge"]

_BLOCK = 16384  # rows per block in _badge_sweep_cpu (64 KB per float32 vector)
_TEAM_PARTS = 16  # the compiled loop's blocks: N / 16 rows, at most 1 MiB of h and _BLOCK rows
_SMALL_C = 32  # up to this many classes, BADGE's a·a_j is computed inside _badge_sweep_cpu


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
    The sweep runs on one thread (a two-thread split was slower or equal: docs/benchmarks.md,
    "Selection speed (issue 2)").
    """
    for b in range(len(block_sums)):
        _sweep_block(b, g_sq, hh, min_d, block_sums, j, a_t=a_t, a_j=a_j, ah=ah, bufs=bufs)


def _sweep_block(
    b: int,
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
    """Block ``b`` of :func:`_badge_sweep_cpu` (it touches rows of that block only, and ``bufs``)."""
    n = len(min_d)
    buf, tmp = bufs
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


def badge(
    probs: np.ndarray,
    embeddings: np.ndarray,
    k: int,
    rng: np.random.Generator,
    *,
    device: str | None = None,
    precision: str = "fp32",
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
        precision: ``"fp32"`` (default), or ``"bf16"``: ``embeddings`` rounded to bfloat16
            first (a copy of half the float32 size; ``a`` stays float32), each pass reading
            half the bytes of ``h`` (CPU, compiled loops: ``pip install 'activelab[fast]'``).

    Returns:
        ``(k,)`` int64 unique row indices in pick order.

    Raises:
        ValueError: For an unknown ``precision``, or ``"bf16"`` off the CPU or without numba.

    Cost: k - 1 passes over ``embeddings`` (N·D, by the fastest matrix-vector kernel:
    :mod:`activelab.neighbors.kernels`) and ``a`` (N·C); O(N·C) extra memory for
    ``a`` and O(N) for the distances. Each draw needs only the blocks' float64 sums and one
    block's running sum, not a running sum over all N.

    Example:
        >>> p = np.array([[0.5, 0.5], [0.99, 0.01], [0.6, 0.4]])
        >>> h = np.eye(3, dtype=np.float32)
        >>> badge(p, h, 1, np.random.default_rng(0))
        array([0])
    """
    precision = check_precision(precision, device)
    p = check_probs(probs)
    h = as_tensor(embeddings, "embeddings", device)
    n = h.shape[0]
    if p.shape[0] != n:
        raise ValueError(f"probs has {p.shape[0]} rows but embeddings has {n}; they must describe the same rows.")
    k = check_k(k, n)
    if k == 0:
        return np.empty(0, dtype=np.int64)
    h_sq = sq_norms_checked(h, "embeddings")
    a_np = p.astype(h.numpy().dtype if h.device.type == "cpu" and precision == "fp32" else np.float32, copy=True)
    a_np[np.arange(n), p.argmax(axis=1)] -= 1.0
    if precision == "bf16":  # h rounded to bfloat16 with its own norms; a in float32
        bits, bits_sq = bf16_rows(h.numpy())
        g_bf16 = np.einsum("ij,ij->i", a_np, a_np) * bits_sq
        return _team_picks(bits, a_np, g_bf16, int(g_bf16.argmax()), k, rng)
    a = torch.from_numpy(a_np).to(h.device, dtype=h.dtype)
    on_cpu = h.device.type == "cpu"
    if on_cpu:  # NumPy: no torch OpenMP region left spinning on the cores the passes want
        g_sq = torch.from_numpy(sq_norms(a).numpy() * h_sq.numpy())
    else:
        g_sq = sq_norms(a) * h_sq
    first = first_argmax(g_sq)
    # the compiled pick loop, or the fastest matrix-vector pass on this device for h; None: not
    # yet measured for this size class, and enough picks to measure with their own passes
    h_kernel = loop_kernel_unmeasured(h, k - 1)
    if on_cpu and h_kernel == "numba":  # every pick in one compiled loop: both products, the fold and the draw
        return _team_picks(h.numpy(), a_np, g_sq.numpy(), first, k, rng)
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
    min_d = (
        torch.from_numpy(np.full(n, np.inf, dtype=h.numpy().dtype))
        if on_cpu
        else torch.full((n,), float("inf"), dtype=h.dtype, device=h.device)
    )
    block_sums = np.empty(n_blocks, dtype=np.float64)
    starts = np.arange(0, n, _BLOCK)
    weights = min_d.numpy() if on_cpu else np.empty(0)
    # the passes by the fastest matrix-vector kernel on this device for h (and a)
    h_dot_row = row_products(h, hh, h_kernel) if h_kernel is not None else measuring_row_products(h, hh)  # hh ← h·h_j
    a_dot_row = row_products(a, ah) if a_t is None else None  # ah ← a·a_j
    fused = on_cpu and h_kernel in ("einsum", "einsum-threads")
    h_np = h.numpy() if fused else np.empty((0, 0))
    thread_bufs: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def fused_sweep(j: int, a_j: np.ndarray | None) -> None:
        """The pass h·h_j and the sweep, block by block while the block's products are in cache."""
        h_j, hh_np, ah_np, g_sq_np = h_np[j], hh.numpy(), ah.numpy(), g_sq.numpy()

        def work(b: int) -> None:
            bufs = thread_bufs.get(threading.get_ident())
            if bufs is None:
                bufs = thread_bufs.setdefault(threading.get_ident(), (np.empty_like(scratch[0]), np.empty_like(scratch[1])))
            s, e = b * _BLOCK, min(n, (b + 1) * _BLOCK)
            np.einsum("ij,j->i", h_np[s:e], h_j, out=hh_np[s:e])
            _sweep_block(b, g_sq_np, hh_np, weights, block_sums, j, a_t=a_t, a_j=a_j, ah=ah_np, bufs=bufs)

        run_chunks(n_blocks, work, parallel=h_kernel == "einsum-threads")

    def fold(j: int) -> None:
        """min_d ← min(min_d, ‖g_i - g_j‖²), min_d[j] = 0, block sums of min_d: one pass over h."""
        nonlocal weights
        if a_dot_row is not None:
            a_dot_row(j)
        if fused:  # one sweep: the pass over the embeddings fused with the O(N) work, per block
            a_j = None if a_t is None else a_t[:, j].copy()
            if recording_active():
                t0 = time.perf_counter()
                fused_sweep(j, a_j)
                record(tuple(h.shape), h_kernel or "", time.perf_counter() - t0)
            else:
                fused_sweep(j, a_j)
            return
        h_dot_row(j)  # the pass over the embeddings
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


def _team_picks(
    h: np.ndarray, a: np.ndarray, g_sq: np.ndarray, first: int, k: int, rng: np.random.Generator
) -> np.ndarray:
    """BADGE on CPU with every pick in one compiled loop (:func:`activelab.neighbors._team.badge_team`).

    A team of threads (one per core) folds each pick into the D² weights block by block (one
    read of ``h`` and ``a`` per row) and makes every D² draw in compiled code, by the two
    levels of :func:`_d2_draw` over blocks of N / 16 rows (at most 1 MiB of ``h`` and
    :data:`_BLOCK` rows; fixed, so the picks do not depend on the number of cores). The draws' uniforms are drawn from ``rng`` ahead, one per
    pick, as the other paths draw them; when every weight is 0 the loop returns, ``rng`` is
    set back to the uniforms used so far and the next pick is ``rng.choice`` of the free rows,
    so ``rng`` gives the very stream of the other paths.

    Cost: k − 1 reads of ``h`` and ``a``; O(N) extra memory for the weights and O(N / block)
    for the block sums.
    """
    module = team_module()
    n = len(h)
    block = team_rows(h, cap=_BLOCK, parts=_TEAM_PARTS)  # blocks independent of the core count
    n_blocks = -(-n // block)
    min_d = np.full(n, np.inf, dtype=np.float32 if h.dtype == np.uint16 else h.dtype)
    block_sums = np.empty(n_blocks, dtype=np.float64)
    totals = np.empty(n_blocks, dtype=np.float64)
    picks = np.empty(k, dtype=np.int64)
    us = np.zeros(max(1, k), dtype=np.float64)  # us[p]: the uniform of the draw that follows pick p
    taken = np.zeros(n, dtype=bool)
    lanes = team_threads(n_blocks)
    p, j = 0, first
    while True:
        picks[p] = j
        state = rng.bit_generator.state
        us[p : k - 1] = rng.random(max(0, k - 1 - p))
        claims = np.zeros((k + 1) * lanes, dtype=np.int64)
        done = np.zeros(k + 1, dtype=np.int64)
        sync = np.array([p + 1, p + 1, 0], dtype=np.int64)  # picks published, picks claimed, threads numbered
        tail = (picks, us, block_sums, totals, claims, done, sync, block, lanes)
        t0 = time.perf_counter()
        run_team(module.badge_team, (h, a, g_sq, min_d, p, k, *tail), (h, a, g_sq, min_d, k, k, *tail), lanes)
        p_end = int(sync[0])  # picks[:p_end] published; the last is -1 when every weight was 0
        made = p_end if picks[p_end - 1] >= 0 else p_end - 1
        if recording_active():  # benchmarks: one record per pass, each the mean pass of this call
            folds = p_end - 1 - p
            for _ in range(folds):
                record(tuple(h.shape), "numba", (time.perf_counter() - t0) / max(1, folds))
        taken[picks[:made]] = True
        if made >= k:
            return picks
        rng.bit_generator.state = state  # only the draws of picks p + 1 … made − 1 used their uniforms
        rng.random(max(0, made - 1 - p))
        j = int(rng.choice(np.flatnonzero(~taken)))
        p = made
