"""The permutation-equivariant candidate scorer (torch only; the SB3 policies wrap it).

Cost of a forward pass: O(batch · K · (F·H + H²)) time, O(batch · K · H) memory.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["NEG", "CandidateScorer"]

#: Logit of candidates that may not be picked.
NEG = -1e8


class CandidateScorer(nn.Module):
    """Shared per-candidate scorer with a pooled context.

    Args:
        n_features: Columns ``F`` of a candidate row (column 0 = validity flag).
        hidden: Hidden width ``H``.

    Example:
        >>> net = CandidateScorer(4, hidden=8)
        >>> x = torch.rand(2, 5, 4); x[..., 0] = 1.0
        >>> logits, pooled = net(x)
        >>> logits.shape, pooled.shape
        (torch.Size([2, 5]), torch.Size([2, 16]))
        >>> perm = torch.tensor([4, 2, 0, 1, 3])
        >>> torch.allclose(net(x[:, perm])[0], logits[:, perm], atol=1e-6)
        True
    """

    def __init__(self, n_features: int, hidden: int = 64) -> None:
        super().__init__()
        self.n_features = int(n_features)
        self.hidden = int(hidden)
        self.row = nn.Sequential(nn.Linear(n_features, hidden), nn.ReLU())
        self.mix = nn.Sequential(nn.Linear(3 * hidden, hidden), nn.ReLU())
        self.out = nn.Linear(hidden, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``(B, K)`` (−1e8 on invalid rows) and pooled context ``(B, 2H)``."""
        valid = x[..., 0] > 0.5
        h = self.row(x)
        w = valid.unsqueeze(-1).to(h.dtype)
        count = w.sum(dim=1).clamp(min=1.0)
        mean = (h * w).sum(dim=1) / count
        mx = torch.where(valid.unsqueeze(-1), h, torch.zeros_like(h)).amax(dim=1)
        pooled = torch.cat([mean, mx], dim=-1)
        ctx = pooled.unsqueeze(1).expand(-1, h.shape[1], -1)
        z = self.mix(torch.cat([h, ctx], dim=-1))
        logits = self.out(z).squeeze(-1)
        logits = torch.where(valid, logits, torch.full_like(logits, NEG))
        return logits, pooled
