"""BatchBALD (Kirsch et al., 2019): greedy joint mutual information over posterior samples.

Notation: ``N`` candidate rows, ``M`` posterior draws (MC-dropout passes or ensemble members),
``C`` classes, ``k`` picks, ``S`` joint configurations of the batch labels kept at a time.

BatchBALD picks the batch ``B`` maximising ``I(y_B; θ)``. Greedily, the gain of adding row
``i`` to the current batch ``B`` is the conditional mutual information

    ``I(y_i; θ | y_B) = H(y_i | y_B) - E_θ H(y_i | θ)``

(labels are independent given ``θ``), which is what this module computes. With the
posterior represented by ``M`` equally weighted draws,
``H(y_i | y_B) = Σ_s π_s H(Σ_m w_sm p_i(·|θ_m))`` where ``s`` runs over configurations of
``y_B``, ``π_s = p̄(y_B = s)`` and ``w_sm ∝ p(y_B = s | θ_m)`` (normalised over ``m``).
The configurations are enumerated exactly while there are at most ``n_joint_samples`` of
them; afterwards ``n_joint_samples`` configurations are drawn from ``p̄(y_B)`` (sequentially:
a configuration of ``B`` is extended by ``y_j ~ Σ_m w_sm p_j(·|θ_m)``, an exact draw from the
joint) and ``π_s = 1/S``. Everything is kept in log space per configuration, so a batch of a
hundred rows does not underflow.

Two properties make the greedy loop cheap without changing its result:

* the gain never exceeds the row's BALD score (``H(y_i | y_B) ≤ H(y_i)``), and
* it never grows as ``B`` grows (conditioning reduces entropy: the objective is submodular).

So a gain computed at an earlier pick is an upper bound at every later pick, and the lazy
greedy loop (Minoux, 1978) evaluates rows in decreasing order of their bound, in chunks,
and stops as soon as the best gain found beats the largest remaining bound. With exact
enumeration this returns exactly the plain greedy picks; with sampled configurations the
bounds are themselves estimates (the same Monte-Carlo noise as the estimator), so
``lazy=False`` re-scores every row at every pick if that matters to you.

The draws must be *consistent across rows*: draw ``m`` of every row must come from the same
``θ_m`` (ensemble members, or MC dropout with the same masks for all rows). Independent
dropout masks per row make the joint meaningless.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from .._validation import check_k, check_probs

__all__ = ["batchbald"]

#: Elements of the (configurations × rows × classes) work block per chunk (16 MB in float32).
_WORK_ELEMENTS = 4_194_304
_TINY = 1e-30
_FIRST_LAZY_BLOCK = 32  # rows in the first block a lazy pick scores


_CHECK_ROWS = 65536  # rows per validation block


def check_samples(samples: object, name: str) -> np.ndarray:
    """:func:`check_probs` for ``(N, M, C)`` samples, on blocks of rows.

    Same checks and messages (the name carries the block's row range), but O(block·M·C)
    temporaries instead of several O(N·M·C) ones (a million-row pool would need ~0.6 GB).
    """
    arr = np.asarray(samples)
    if arr.ndim != 3 or arr.dtype not in (np.float32, np.float64) or len(arr) <= _CHECK_ROWS:
        return check_probs(arr, name, ndim=3)
    for start in range(0, len(arr), _CHECK_ROWS):
        check_probs(arr[start : start + _CHECK_ROWS], f"{name}[{start}:{start + _CHECK_ROWS}]", ndim=3)
    return arr


def _work_dtype(arr: np.ndarray) -> torch.dtype:
    return torch.float64 if arr.dtype == np.float64 else torch.float32


def _as_samples_tensor(arr: np.ndarray, device: str | torch.device | None) -> torch.Tensor:
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float32)
    t = torch.from_numpy(np.ascontiguousarray(arr))  # no copy for C-contiguous float input
    if device is not None and torch.device(device).type != "cpu":
        t = t.to(device)
    return t


def _entropy_terms(p: torch.Tensor, rows: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row ``H(mean_m p)`` and ``mean_m H(p_m)`` of ``p`` ``(N, M, C)``, ``rows`` rows at a time."""
    n = p.shape[0]
    total = torch.empty(n, dtype=p.dtype, device=p.device)
    expected = torch.empty(n, dtype=p.dtype, device=p.device)
    for start in range(0, n, rows):
        block = p[start : start + rows]
        mean = block.mean(dim=1)
        total[start : start + rows] = -(mean * mean.clamp(min=_TINY).log()).sum(dim=1)
        expected[start : start + rows] = -(block * block.clamp(min=_TINY).log()).sum(dim=(1, 2)) / block.shape[1]
    return total, expected


class _JointState:
    """Configurations of the labels of the batch so far: ``log p(y_B = s | θ_m)`` and ``π_s``."""

    def __init__(self, n_draws: int, max_configs: int, dtype: torch.dtype, device: torch.device) -> None:
        self.max_configs = max_configs
        self.log_joint = torch.zeros((n_draws, 1), dtype=dtype, device=device)  # (M, S): empty batch
        self.pi = torch.ones(1, dtype=dtype, device=device)  # (S,)
        self.exact = True
        self._buf: torch.Tensor | None = None
        self._refresh()

    def _refresh(self) -> None:
        # w_sm: posterior weight of draw m given configuration s, shape (S, M).
        self.weights = torch.softmax(self.log_joint, dim=0).T.contiguous()

    def gains(self, p_rows: torch.Tensor, cond_entropy: torch.Tensor) -> torch.Tensor:
        """``I(y_i; θ | y_B)`` for the rows ``p_rows`` ``(n, M, C)``; cost O(S·n·M·C), memory O(S·n·C).

        Two work buffers of ``S·n·C`` elements are kept between calls (no page faults per chunk).
        """
        n, m, c = p_rows.shape
        s = self.weights.shape[0]
        size = s * n * c
        if self._buf is None or self._buf.numel() < 2 * size or self._buf.dtype != p_rows.dtype:
            self._buf = torch.empty(2 * size, dtype=p_rows.dtype, device=p_rows.device)
        flat = p_rows.permute(1, 0, 2).reshape(m, n * c)
        q = self._buf[:size].view(s, n * c)
        torch.mm(self.weights, flat, out=q)  # p̄(y_i = c | y_B = s)
        q.clamp_(min=_TINY)  # 0·log 0 = 0 up to 1e-30·log 1e-30
        log_q = self._buf[size : 2 * size].view(s, n * c)
        torch.log(q, out=log_q)
        log_q.mul_(q)
        neg_h = torch.mv(log_q.T, self.pi).view(n, c).sum(dim=1)  # Σ_s π_s Σ_c q log q
        return -neg_h - cond_entropy

    def add(self, p_row: torch.Tensor, rng: np.random.Generator) -> None:
        """Extend the configurations by one chosen row ``p_row`` ``(M, C)``."""
        log_p = torch.log(p_row)  # -inf for zero probabilities is fine in log space
        n_cfg = self.log_joint.shape[1]
        c = p_row.shape[1]
        if self.exact and n_cfg * c <= self.max_configs:
            lj = (self.log_joint[:, :, None] + log_p[:, None, :]).reshape(log_p.shape[0], n_cfg * c)
            log_pi = torch.logsumexp(lj, dim=0) - math.log(lj.shape[0])
            keep = torch.isfinite(log_pi)  # configurations impossible under every draw are dropped
            self.log_joint = lj[:, keep].contiguous()
            self.pi = torch.exp(log_pi[keep])
            self._refresh()
            return
        if self.exact:  # switch to sampled configurations: draw S of them from π
            probs = self.pi.double().cpu().numpy()
            idx = rng.choice(n_cfg, size=self.max_configs, replace=True, p=probs / probs.sum())
            self.log_joint = self.log_joint[:, torch.from_numpy(idx).to(self.log_joint.device)].contiguous()
            self.pi = torch.full((self.max_configs,), 1.0 / self.max_configs, dtype=self.pi.dtype, device=self.pi.device)
            self.exact = False
            self._refresh()
        # y_j ~ p̄(y_j | y_B = s) = Σ_m w_sm p_j(·|θ_m), one draw per configuration (inverse CDF)
        q = (self.weights @ p_row).double().cpu().numpy()  # (S, C)
        cdf = np.cumsum(q, axis=1)
        u = rng.random(len(q)) * cdf[:, -1]
        y = np.minimum((cdf <= u[:, None]).sum(axis=1), c - 1)
        y_t = torch.from_numpy(y).to(self.log_joint.device)
        self.log_joint = self.log_joint + log_p[:, y_t]
        self._refresh()


def batchbald(
    prob_samples: np.ndarray,
    k: int,
    rng: np.random.Generator,
    *,
    n_joint_samples: int = 1000,
    chunk_size: int | None = None,
    lazy: bool = True,
    device: str | None = None,
) -> np.ndarray:
    """BatchBALD: greedily pick ``k`` rows maximising the joint mutual information ``I(y_B; θ)``.

    Exact enumeration of the label configurations of the batch while there are at most
    ``n_joint_samples`` of them (``C^b`` for a batch of ``b`` rows), sampled configurations
    afterwards; chunked over the rows in torch; lazy greedy evaluation (see the module
    docstring). ``k = 1`` is the BALD argmax.

    Args:
        prob_samples: ``(N, M, C)`` posterior samples, consistent across rows (draw ``m`` of
            every row from the same model ``θ_m``). float64 input is scored in float64,
            anything else in float32.
        k: Number of rows to pick, ``0 <= k <= N``.
        rng: Generator for the sampled configurations (unused while enumeration is exact).
        n_joint_samples: ``S``, the largest number of configurations enumerated exactly and
            the number drawn once enumeration stops. Time per scored row grows linearly in it.
        chunk_size: Largest number of rows scored per block; default keeps the
            ``(S, rows, C)`` work block near 16 MB. A lazy pick scores blocks of 32, 64, ...
            rows in decreasing order of their bound, up to this size.
        lazy: Use the lazy greedy loop (exact with enumerated configurations). ``False``
            re-scores every row at every pick.
        device: torch device for the scoring (default CPU, no copy of the input).

    Returns:
        ``(k,)`` int64 unique row indices in pick order.

    Raises:
        ValueError: If ``prob_samples`` is not ``(N, M, C)`` probabilities, or
            ``n_joint_samples``/``chunk_size`` is not a positive int.
        PoolExhaustedError: If ``k > N``.

    Cost: time O(N·M·C) for the BALD bounds plus, per pick, O(S·M·C) per scored row
    (every row with ``lazy=False``; usually far fewer with the lazy loop) — O(k·N·S·M·C)
    in the worst case. Memory: O(N) for the bounds, O(M·S) for the configurations and two
    ``(S, chunk, C)`` blocks; never O(N·C^b) or a copy of ``prob_samples``.

    Example:
        >>> split_a = [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]  # draws {0,1} vs {2,3}
        >>> split_b = [[0.9, 0.1], [0.1, 0.9], [0.9, 0.1], [0.1, 0.9]]  # draws {0,2} vs {1,3}
        >>> p = np.array([split_a, split_a, [[0.5, 0.5]] * 4, split_b])
        >>> batchbald(p, 2, np.random.default_rng(0)).tolist()  # row 1 repeats row 0: skipped
        [0, 3]
    """
    arr = check_samples(prob_samples, "prob_samples")
    n, m, c = arr.shape
    k = check_k(k, n)
    for name, value in (("n_joint_samples", n_joint_samples), ("chunk_size", chunk_size)):
        if value is not None and (not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1):
            raise ValueError(f"{name} must be a positive int, got {value!r}.")
    if k == 0:
        return np.empty(0, dtype=np.int64)
    p = _as_samples_tensor(arr, device).to(_work_dtype(arr))
    rows = int(chunk_size) if chunk_size is not None else max(1, _WORK_ELEMENTS // (int(n_joint_samples) * c))
    total, cond_entropy = _entropy_terms(p, max(rows, 4096))
    bounds = (total - cond_entropy).double().cpu().numpy()  # BALD = the gain for the empty batch
    state = _JointState(m, int(n_joint_samples), p.dtype, p.device)
    picks: list[int] = []
    taken = np.zeros(n, dtype=bool)
    while True:
        if not picks:  # first pick: the gain is BALD itself
            j = int(np.argmax(bounds))
        else:
            j = _best_row(p, cond_entropy, state, bounds, taken, rows, lazy)
        picks.append(j)
        taken[j] = True
        bounds[j] = -np.inf
        if len(picks) == k:
            break
        state.add(p[j], rng)
    return np.asarray(picks, dtype=np.int64)


def _best_row(
    p: torch.Tensor,
    cond_entropy: torch.Tensor,
    state: _JointState,
    bounds: np.ndarray,
    taken: np.ndarray,
    rows: int,
    lazy: bool,
) -> int:
    """Row with the largest gain given the current configurations; updates ``bounds`` in place."""
    free = np.flatnonzero(~taken)
    order = free[np.argsort(-bounds[free], kind="stable")] if lazy else free
    best_row, best_gain = -1, -np.inf
    start = 0
    size = min(rows, _FIRST_LAZY_BLOCK) if lazy else rows  # lazy: blocks double, most picks end early
    while start < len(order):
        if lazy and best_gain >= bounds[order[start]]:
            break  # no unscored row can beat the best gain found (bounds are upper bounds)
        block = order[start : start + size]
        start += len(block)
        size = min(rows, 2 * size)
        idx = torch.from_numpy(block).to(p.device)
        g = state.gains(p[idx], cond_entropy[idx]).double().cpu().numpy()
        bounds[block] = g
        i = int(np.argmax(g))
        if g[i] > best_gain:
            best_row, best_gain = int(block[i]), float(g[i])
    return best_row
