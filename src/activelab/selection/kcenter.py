"""Greedy k-center (Core-Set) and its objective, the covering radius.

Minimum squared distances to the centres are kept in one O(N) vector; each pick is one
matrix-vector pass over the embeddings (memory-bandwidth bound) by the kernel that
:func:`activelab.neighbors.kernels.choose_kernel` measured fastest on this machine (NumPy's
BLAS ``sgemv`` or torch), and the distances to the labelled rows are one blocked GEMM pass,
never an N×L matrix. With numba on CPU (:func:`activelab.neighbors.kernels.loop_kernel`)
every pick runs in one compiled loop instead (:func:`_team_picks`), on the embeddings as
given or rounded to bfloat16 (``precision="bf16"``).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np
import torch

from .._validation import check_k, check_mask
from ..neighbors.kernels import (
    chunk_rows,
    loop_kernel_unmeasured,
    matvec,
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
from .tensors import as_tensor, bf16_decode, bf16_rows, check_precision, first_argmax, sq_norms, sq_norms_checked

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


_BLOCK_ELEMS = 2**18  # (rows × centres) per block of _min_sq_dist_to_set on CPU: 1 MiB of float32


def _min_sq_dist_to_set(
    x: torch.Tensor, x_sq: torch.Tensor, centres: torch.Tensor, chunk: int = 4096
) -> torch.Tensor:
    """Min over ``centres`` of squared distances for every row of ``x``: one blocked GEMM pass.

    ``‖x‖² + min_c (‖c‖² − 2 x·c)`` per block of rows: the block's product with up to
    ``chunk`` centres is one matmul (NumPy's BLAS on CPU, torch elsewhere), reduced at once,
    so ``x`` is read once per ``chunk`` centres and never an N×L matrix is built. On CPU the
    work is NumPy's alone (:func:`_min_sq_dist_to_set_np`).

    Cost: O(N·L·D) time, ⌈L/chunk⌉ passes over ``x``; O(N) extra memory plus one block of
    products (1 MiB on CPU).
    """
    if x.device.type == "cpu":
        return torch.from_numpy(_min_sq_dist_to_set_np(x.numpy(), x_sq.numpy(), centres.numpy(), chunk))
    n = x.shape[0]
    c_sq = (centres * centres).sum(1)
    out = torch.full((n,), float("inf"), dtype=x.dtype, device=x.device)
    rows_per = max(256, min(2**21 // max(1, min(chunk, centres.shape[0])), n // 4))
    for cs in range(0, centres.shape[0], chunk):
        c = centres[cs : cs + chunk]
        csq = c_sq[cs : cs + chunk]
        for rs in range(0, n, rows_per):
            dt = csq[None, :] - 2.0 * (x[rs : rs + rows_per] @ c.T)
            m = dt.min(1).values + x_sq[rs : rs + rows_per]
            torch.minimum(out[rs : rs + rows_per], m, out=out[rs : rs + rows_per])
    return out.clamp_(min=0.0)


def _rows(x: torch.Tensor, idx: np.ndarray) -> torch.Tensor:
    """``x[idx]``: gathered by NumPy on CPU (no torch op before the BLAS calls that follow), by torch elsewhere."""
    if x.device.type == "cpu":
        return torch.from_numpy(x.numpy()[idx])
    return x[torch.from_numpy(idx).to(x.device)]


def _min_sq_dist_to_set_np(
    xa: np.ndarray,
    sq: np.ndarray,
    centres: np.ndarray,
    chunk: int = 4096,
    row_min: Callable[[np.ndarray, np.ndarray, np.ndarray, int], None] | None = None,
) -> np.ndarray:
    """:func:`_min_sq_dist_to_set` on CPU, in NumPy alone: one BLAS GEMM per block of rows.

    The centres are stored once as ``−2·cᵀ`` (scaling by −2 is exact, so each product is
    exactly ``−2·(x·c)``); per block, the GEMM writes into one preallocated buffer of about
    1 MiB (it stays in cache for the ``+‖c‖²`` and the row minimum), and the row minima go
    straight into the result. No torch operation runs here: a torch element-wise op before
    a BLAS call leaves torch's OpenMP threads spinning on the cores BLAS wants, which
    doubled this step's time at 10k rows on the 2-core VM (docs/benchmarks.md, issue 17).

    ``xa`` may hold bfloat16 bits (uint16; ``centres`` too): each block is then decoded to
    float32 before its GEMM. ``row_min(prod, csq, out, rs)``, when given (the compiled
    :func:`activelab.neighbors._team.min_plus_rows`), does ``out[rs + i] = min_c(prod[i, c] +
    csq[c])`` for the first chunk of centres in one read of the block, with the same values.

    Cost: O(N·L·D) time, ⌈L/chunk⌉ passes over ``xa``; O(N) extra memory plus a block of
    about 2¹⁸ products.
    """
    n = xa.shape[0]
    bf16 = xa.dtype == np.uint16  # bfloat16 bits: each block is decoded to float32 first
    dt = np.dtype(np.float32) if bf16 else xa.dtype
    if bf16:
        centres = bf16_decode(centres)
    out = np.full(n, np.inf, dtype=dt)
    for cs in range(0, centres.shape[0], chunk):
        c = centres[cs : cs + chunk]
        cn = np.ascontiguousarray(c.T) * dt.type(-2.0)  # (D, L'): −2·cᵀ
        csq = np.einsum("ij,ij->i", c, c)
        rows = max(64, min(n, _BLOCK_ELEMS // c.shape[0]))
        buf = np.empty((rows, c.shape[0]), dtype=dt)
        part = np.empty(rows, dtype=dt)
        for rs in range(0, n, rows):
            re_ = min(n, rs + rows)
            prod = buf[: re_ - rs]
            np.dot(bf16_decode(xa[rs:re_]) if bf16 else xa[rs:re_], cn, out=prod)
            if cs == 0 and row_min is not None:
                row_min(prod, csq, out, rs)
                continue
            prod += csq
            if cs == 0:
                np.min(prod, axis=1, out=out[rs:re_])
            else:
                m = part[: re_ - rs]
                np.min(prod, axis=1, out=m)
                np.minimum(out[rs:re_], m, out=out[rs:re_])
    out += sq
    np.maximum(out, 0.0, out=out)
    return out


def kcenter_greedy(
    embeddings: np.ndarray,
    labelled: np.ndarray,
    k: int,
    rng: np.random.Generator,
    *,
    device: str | None = None,
    precision: str = "fp32",
) -> np.ndarray:
    """Greedy k-center (Core-Set, Sener & Savarese 2018): repeatedly pick the row farthest from
    the labelled rows and the rows picked so far.

    Minimum distances are kept incrementally (one O(N) vector), so each pick is one
    matrix-vector pass over ``embeddings`` (by the fastest kernel on this device:
    :mod:`activelab.neighbors.kernels`) and an in-place fold into the distances, or, with
    numba on CPU (:func:`~activelab.neighbors.kernels.loop_kernel`), every pick in one
    compiled loop run by one thread per core (:func:`_team_picks`); the initial
    distances to ``L`` labelled rows are one blocked GEMM pass
    (``‖x‖² + min_c(‖c‖² − 2x·c)``), never an N×L matrix.

    Args:
        embeddings: ``(N, D)`` float array (float32 is used without a copy).
        labelled: ``(N,)`` boolean mask; labelled rows are centres and never returned.
        k: Number of rows to pick.
        rng: Used for the first pick when nothing is labelled, and when every remaining row
            already coincides with a centre.
        device: torch device for the passes (default: CPU, in place on the array).
        precision: ``"fp32"`` (default) computes on the array as given; ``"bf16"`` first
            rounds the rows to bfloat16 (a copy of half the float32 size) and runs greedy
            k-center exactly on the rounded points, each pass reading half the bytes (CPU,
            compiled loops: ``pip install 'activelab[fast]'``; the picks can differ from
            fp32's where distances are within bfloat16's rounding, about 0.4 %).

    Returns:
        ``(k,)`` int64 row indices of unlabelled rows, in pick order.

    Raises:
        ValueError: For an unknown ``precision``, or ``"bf16"`` off the CPU or without numba.

    Cost: O(N·L·D + k·N·D) time: about k + 1 reads of ``embeddings`` for L ≤ 4096 (plus one
    for the norms and, once per process and size class, the kernel measurement); O(N) extra
    memory plus a block of 2²¹ products (8 MiB).

    Example:
        >>> X = np.array([[0.0], [1.0], [10.0], [11.0]], dtype=np.float32)
        >>> kcenter_greedy(X, np.array([True, False, False, False]), 1, np.random.default_rng(0))
        array([3])
    """
    precision = check_precision(precision, device)
    x = as_tensor(embeddings, "embeddings", device)
    n = x.shape[0]
    mask = check_mask(labelled, n)
    k = check_k(k, int(n - mask.sum()))
    if k == 0:
        return np.empty(0, dtype=np.int64)
    x_sq = sq_norms_checked(x, "embeddings")
    lab_idx = np.flatnonzero(mask)
    if precision == "bf16":  # the rounded rows and their own norms, then the compiled loop
        bits, bits_sq = bf16_rows(x.numpy())
        return _team_picks(bits, bits_sq, lab_idx, mask.copy(), k, rng)
    # the compiled pick loop, or the fastest matrix-vector pass on this device; None: not yet
    # measured for this size class, and enough picks to measure with their own passes
    kernel = loop_kernel_unmeasured(x, k)
    if kernel == "numba" and x.device.type == "cpu":
        return _team_picks(x.numpy(), x_sq.numpy(), lab_idx, mask.copy(), k, rng)
    taken = torch.from_numpy(mask.copy()).to(x.device)
    picks: list[int] = []
    if len(lab_idx):
        min_d = _min_sq_dist_to_set(x, x_sq, _rows(x, lab_idx))
    else:
        first = int(rng.choice(n))
        picks.append(first)
        taken[first] = True
        min_d = torch.full_like(x_sq, float("inf"))
        first_kernel = "numpy" if kernel is None else kernel  # one pass: the measurement starts with the picks
        _fold_min_sq_dist(min_d, matvec(x, x[first], torch.empty_like(x_sq), first_kernel), x_sq, first)
        min_d.clamp_(min=0.0)
    if x.device.type == "cpu":
        return _greedy_cpu(x, x_sq, min_d, taken.numpy(), picks, k, kernel, rng)
    assert kernel is not None  # off the CPU the kernel needs no measurement
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
        matvec(x, x[best], d, kernel)  # the one pass over the embeddings per pick
        _fold_min_sq_dist(min_d, d, x_sq, best)
        min_d[best] = -1.0
    return np.asarray(picks, dtype=np.int64)


def _greedy_cpu(
    x: torch.Tensor,
    x_sq: torch.Tensor,
    min_d: torch.Tensor,
    taken: np.ndarray,
    picks: list[int],
    k: int,
    kernel: str | None,
    rng: np.random.Generator,
) -> np.ndarray:
    """The pick loop on CPU, in NumPy on the shared buffers: per pick one pass and three O(N) steps.

    It keeps half the squared distances, ``m = min_d / 2``, and folds a new centre ``j`` as
    ``m ← min(m, (‖x‖²/2 − x·x_j) + ‖x_j‖²/2)``: halving is exact in binary floating point, so
    every value is exactly half of ``min(min_d, (‖x‖² − 2x·x_j) + ‖x_j‖²)`` and the picks are
    those of the full formula, with one O(N) step fewer per pick. ``taken`` is updated in place.
    With an ``einsum`` kernel the pass, the fold and the argmax are fused per chunk of rows
    (:func:`_fused_picks`); the ``numba`` kernel never comes here (:func:`_team_picks`).
    ``kernel=None`` (no kernel chosen yet for this size class): the first picks' passes
    measure the candidates (:func:`~activelab.neighbors.kernels.measuring_row_products`).
    """
    half_sq = x_sq.numpy() * 0.5
    m = min_d.numpy()
    m *= 0.5
    m[taken] = -1.0  # taken rows stay at -1: never the argmax
    if kernel in ("einsum", "einsum-threads"):
        return _fused_picks(x.numpy(), half_sq, m, taken, picks, k, kernel, rng)
    dot = np.empty_like(m)
    if kernel is None:  # the first picks measure the kernels (kernels.measuring_row_products)
        product_with_row = measuring_row_products(x, torch.from_numpy(dot))
    else:
        product_with_row = row_products(x, torch.from_numpy(dot), kernel)  # dot ← x @ x[j]
    while len(picks) < k:
        best = int(m.argmax())
        if m[best] <= 0.0:  # every remaining row coincides with a centre
            best = int(rng.choice(np.flatnonzero(~taken)))
        picks.append(best)
        taken[best] = True
        product_with_row(best)  # the one pass over the embeddings per pick
        np.subtract(half_sq, dot, out=dot)
        dot += half_sq[best]
        np.minimum(m, dot, out=m)
        m[best] = -1.0
    return np.asarray(picks, dtype=np.int64)


def _fused_picks(
    xa: np.ndarray,
    half_sq: np.ndarray,
    m: np.ndarray,
    taken: np.ndarray,
    picks: list[int],
    k: int,
    kernel: str,
    rng: np.random.Generator,
) -> np.ndarray:
    """:func:`_greedy_cpu`'s loop with each pick one fused sweep over chunks of about 1 MiB of rows.

    Per chunk, in one thread: ``x·x_j`` by ``einsum`` into a chunk-sized buffer, the fold into
    ``m`` while that buffer is in cache, and the chunk's first maximum of ``m``; the next pick
    is the first chunk maximum (so the first maximum of ``m``, as ``m.argmax()``). With
    ``einsum-threads`` one thread per core pulls chunks (:func:`~activelab.neighbors.kernels.run_chunks`).
    Every value equals the unfused loop's with ``einsum`` (the same per-row sums and steps),
    so the picks do too. Extra memory: one chunk-sized buffer per thread, O(N / chunk).
    """
    n = len(m)
    step = chunk_rows(xa)
    n_chunks = -(-n // step)
    chunk_max = np.empty(n_chunks, dtype=m.dtype)
    chunk_arg = np.empty(n_chunks, dtype=np.int64)
    for c in range(n_chunks):
        block = m[c * step : (c + 1) * step]
        i = int(block.argmax())
        chunk_arg[c], chunk_max[c] = c * step + i, block[i]
    bufs: dict[int, np.ndarray] = {}
    parallel = kernel == "einsum-threads"
    shape = tuple(xa.shape)

    def sweep(j: int) -> None:
        centre, half_j = xa[j], half_sq[j]

        def work(c: int) -> None:
            s, e = c * step, min(n, (c + 1) * step)
            buf = bufs.get(threading.get_ident())
            if buf is None:
                buf = bufs.setdefault(threading.get_ident(), np.empty(step, dtype=m.dtype))
            d = buf[: e - s]
            np.einsum("ij,j->i", xa[s:e], centre, out=d)
            np.subtract(half_sq[s:e], d, out=d)
            d += half_j
            block = m[s:e]
            np.minimum(block, d, out=block)
            if s <= j < e:
                block[j - s] = -1.0
            i = int(block.argmax())
            chunk_arg[c], chunk_max[c] = s + i, block[i]

        run_chunks(n_chunks, work, parallel=parallel)

    while len(picks) < k:
        c = int(chunk_max.argmax())
        best = int(chunk_arg[c])
        if chunk_max[c] <= 0.0:  # every remaining row coincides with a centre
            best = int(rng.choice(np.flatnonzero(~taken)))
        picks.append(best)
        taken[best] = True
        if recording_active():  # benchmarks: the fused sweep is this pick's pass
            t0 = time.perf_counter()
            sweep(best)
            record(shape, kernel, time.perf_counter() - t0)
        else:
            sweep(best)
    return np.asarray(picks, dtype=np.int64)


def _team_picks(
    xa: np.ndarray, sq: np.ndarray, lab_idx: np.ndarray, taken: np.ndarray, k: int, rng: np.random.Generator
) -> np.ndarray:
    """Greedy k-center on CPU with every pick in one compiled loop (:func:`activelab.neighbors._team.kcenter_team`).

    ``xa`` is float32 or float64, or bfloat16 bits (uint16) with ``sq`` the float32 squared
    norms of the rounded rows.

    The labelled rows' distances are :func:`_min_sq_dist_to_set_np`'s GEMM; then the team of
    threads (one per core) makes the picks, each one read of ``xa`` that folds every row into
    half the squared distances (``m ← min(m, (‖x‖²/2 − x·x_j) + ‖x_j‖²/2)``, exact halving, as
    :func:`_greedy_cpu`) and finds the first maximum; the last pick is not folded. When every
    free row coincides with a centre the loop returns, and the next pick is drawn here by
    ``rng`` as in :func:`_greedy_cpu`. ``taken`` is updated in place.

    Cost: the GEMM, then k − 1 reads of ``xa``; O(N) extra memory (``m``, ``‖x‖²/2``) and
    O(N / chunk) for the chunks' maxima.
    """
    module = team_module()
    n = len(xa)
    half_sq = np.ascontiguousarray(sq * sq.dtype.type(0.5))
    if len(lab_idx):
        m = _min_sq_dist_to_set_np(xa, sq, xa[lab_idx], row_min=module.min_plus_rows)
        m *= 0.5
        m[taken] = -1.0  # taken rows stay at -1: never the maximum
        j = int(m.argmax())
        if m[j] <= 0.0:  # every remaining row coincides with a centre
            j = int(rng.choice(np.flatnonzero(~taken)))
    else:
        m = np.full(n, np.inf, dtype=np.float32 if xa.dtype == np.uint16 else xa.dtype)
        j = int(rng.choice(n))
    step = team_rows(xa)
    n_chunks = -(-n // step)
    picks = np.empty(k, dtype=np.int64)
    cmax = np.empty((2, n_chunks), dtype=m.dtype)
    carg = np.empty((2, n_chunks), dtype=np.int64)
    lanes = team_threads(n_chunks)
    p = 0
    while True:
        picks[p] = j
        claims = np.zeros((k + 1) * lanes, dtype=np.int64)
        done = np.zeros(k + 1, dtype=np.int64)
        sync = np.array([p + 1, p + 1, 0], dtype=np.int64)  # picks published, picks claimed, threads numbered
        tail = (picks, cmax, carg, claims, done, sync, step, lanes)
        t0 = time.perf_counter()
        run_team(module.kcenter_team, (xa, half_sq, m, p, k, *tail), (xa, half_sq, m, k, k, *tail), lanes)
        p_end = int(sync[0])  # picks[:p_end] published; the last is -1 when the distances ran out
        made = p_end if picks[p_end - 1] >= 0 else p_end - 1
        if recording_active():  # benchmarks: one record per pass, each the mean pass of this call
            folds = p_end - 1 - p
            for _ in range(folds):
                record(tuple(xa.shape), "numba", (time.perf_counter() - t0) / max(1, folds))
        taken[picks[:made]] = True
        if made >= k:
            return picks
        j = int(rng.choice(np.flatnonzero(~taken)))
        p = made


def covering_radius(
    embeddings: np.ndarray, centres: np.ndarray, *, device: str | None = None
) -> float:
    """Largest distance from any row to its nearest centre row (the k-center objective).

    Args:
        embeddings: ``(N, D)`` array.
        centres: int row indices (labelled ∪ picked).
    """
    x = as_tensor(embeddings, "embeddings", device)
    min_d = _min_sq_dist_to_set(x, sq_norms(x), _rows(x, np.asarray(centres, dtype=np.int64)))
    return float(min_d.max().sqrt())
