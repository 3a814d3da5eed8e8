"""Listwise imitation: fit a candidate scorer to an expert's soft targets (torch only).

Shared by the supervised ``pick`` policy (:mod:`activelab.learned.train`) and the active
clustering pair policy (:mod:`activelab.learned.pairs`); it needs neither gymnasium nor
stable-baselines3.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

__all__ = ["behaviour_clone"]


def behaviour_clone(
    scorer: nn.Module,
    obs: np.ndarray,
    scores: np.ndarray,
    *,
    epochs: int,
    temperature: float,
    rng: np.random.Generator,
    lr: float = 3e-3,
    batch_size: int = 128,
) -> float:
    """Fit ``scorer`` to the expert's soft targets ``softmax(scores / temperature)``.

    ``scorer`` maps ``(B, K, F)`` rows to ``(logits (B, K), anything)``: the supervised
    :class:`~activelab.learned.scorer.CandidateScorer` or the pair policy's
    :class:`~activelab.clustering.strategies.learned.PairScorer`. ``scores`` is ``(n, K)``,
    ``-inf`` on padding rows; ``obs`` is ``(n, K, F)`` or ``(n, K * F)``.

    Returns the final epoch's mean loss. Cost: O(epochs · n · K · H · (F + H)).
    """
    n = len(obs)
    if n == 0:
        raise ValueError("no imitation data; run collect_expert_data first.")
    x = torch.as_tensor(obs.reshape(n, scores.shape[1], -1))
    s = torch.as_tensor(scores, dtype=torch.float32)
    finite = torch.isfinite(s)
    best = torch.where(finite, s, torch.full_like(s, -1e30)).amax(dim=1, keepdim=True)
    z = torch.where(finite, (s - best) / temperature, torch.full_like(s, -1e30))
    target = torch.softmax(z, dim=1)
    opt = torch.optim.Adam(scorer.parameters(), lr=lr)
    gen = torch.Generator().manual_seed(int(rng.integers(0, 2**63 - 1)))
    loss_value = float("nan")
    scorer.train()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        total = 0.0
        for start in range(0, n, batch_size):
            idx = perm[start : start + batch_size]
            logits, _ = scorer(x[idx])
            logp = torch.log_softmax(logits, dim=1)
            loss = -(target[idx] * torch.where(target[idx] > 0, logp, torch.zeros_like(logp))).sum(dim=1).mean()
            opt.zero_grad()
            loss.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
            opt.step()
            total += loss.item() * len(idx)
        loss_value = total / n
    scorer.eval()
    return loss_value
