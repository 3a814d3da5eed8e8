"""Deep active clustering: an encoder's embeddings give the prior, answers fine-tune the encoder.

Unqueried pairs take ``scale * cos(f(x_u), f(x_v))``; queried pairs keep the running mean of
their answers (:class:`~.store.SimilarityStore`). After every round :meth:`DeepPrior.update`
fine-tunes ``f`` on all answered pairs with a binary cross-entropy loss on
``sigmoid(temperature * cos + bias)`` against "same cluster" (``S > 0``), weighted by ``|S|``,
so confident answers count more. This is the "update" step of active learning for deep models.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ..models.torch import seeded_torch
from ..rng import derive_seed, torch_generator
from .store import LowRankPrior, SimilarityStore, feature_prior

__all__ = ["DeepPrior"]


class DeepPrior:
    """An encoder ``nn.Module`` as the prior of a similarity store.

    Args:
        module: Maps a float32 batch ``(b, *feature_shape)`` to embeddings ``(b, e)``.
        X: Item features ``(n_items, *feature_shape)``.
        scale: Prior magnitude: ``scale * cosine`` (centred embeddings).
        epochs: Passes over the answered pairs per update.
        lr: Adam learning rate.
        batch_size: Pairs per gradient step.
        temperature: Multiplies the cosine in the logit.
        chunk_size: Items per forward pass when embedding the pool.

    Time per update: ``O(epochs * q)`` forward/backward passes of pairs plus one embedding pass
    over the ``N`` items; memory ``O(N e)`` for the embeddings.

    Example:
        >>> X = np.random.default_rng(0).normal(size=(20, 4)).astype(np.float32)
        >>> deep = DeepPrior(nn.Linear(4, 3), X, epochs=1)
        >>> deep.prior().phi.shape
        (20, 3)
    """

    def __init__(
        self,
        module: nn.Module,
        X: np.ndarray,
        *,
        scale: float = 0.1,
        epochs: int = 5,
        lr: float = 1e-3,
        batch_size: int = 256,
        temperature: float = 5.0,
        chunk_size: int = 4096,
    ) -> None:
        if not isinstance(module, nn.Module):
            raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}.")
        if len(X) < 2:
            raise ValueError(f"X needs at least 2 items, got {len(X)}.")
        for name, v in (("epochs", epochs), ("batch_size", batch_size), ("chunk_size", chunk_size)):
            if not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be an int >= 1, got {v!r}.")
        self.module = module
        self.X = X
        self.scale = scale
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.temperature = temperature
        self.chunk_size = chunk_size
        self.bias = nn.Parameter(torch.zeros(()))
        self._prior: LowRankPrior | None = None

    def embed(self) -> np.ndarray:
        """Embeddings of all items ``(n_items, e)`` float32, in chunks, eval mode."""
        was = self.module.training
        self.module.eval()
        out = []
        with torch.no_grad():
            for s in range(0, len(self.X), self.chunk_size):
                xb = torch.as_tensor(np.asarray(self.X[s:s + self.chunk_size], dtype=np.float32))
                out.append(self.module(xb).reshape(len(xb), -1).numpy())
        self.module.train(was)
        return np.concatenate(out).astype(np.float32)

    def prior(self) -> LowRankPrior:
        """The current prior (recomputed after each :meth:`update`)."""
        if self._prior is None:
            self._prior = feature_prior(self.embed(), self.scale)
        return self._prior

    def update(self, store: SimilarityStore, rng: np.random.Generator) -> float:
        """Fine-tune on the answered pairs of ``store``; returns the last epoch's mean loss.

        Dropout and initialisation draws use a torch RNG forked from ``rng``; shuffling uses a
        ``torch.Generator`` seeded from ``rng``. The global torch RNG is left untouched.
        """
        pairs = store.queried_pairs()
        if not len(pairs):
            return float("nan")
        s = store.similarity(pairs)
        target = torch.as_tensor((s > 0).astype(np.float32))
        weight = torch.as_tensor(np.abs(s).astype(np.float32))
        params = [*self.module.parameters(), self.bias]
        opt = torch.optim.Adam(params, lr=self.lr)
        gen = torch_generator(rng)
        loss_fn = nn.BCEWithLogitsLoss(reduction="none")
        last = float("nan")
        self.module.train()
        with seeded_torch(derive_seed(rng), torch.device("cpu")):
            for _ in range(self.epochs):
                order = torch.randperm(len(pairs), generator=gen).numpy()
                total, count = 0.0, 0
                for b in range(0, len(order), self.batch_size):
                    idx = order[b:b + self.batch_size]
                    u, v = pairs[idx, 0], pairs[idx, 1]
                    items, inv = np.unique(np.concatenate([u, v]), return_inverse=True)
                    emb = self.module(torch.as_tensor(np.asarray(self.X[items], dtype=np.float32)))
                    emb = nn.functional.normalize(emb.reshape(len(items), -1), dim=1)
                    cos = (emb[inv[: len(idx)]] * emb[inv[len(idx):]]).sum(dim=1)
                    logit = self.temperature * cos + self.bias
                    loss = (loss_fn(logit, target[idx]) * weight[idx]).mean()
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    total += float(loss.detach()) * len(idx)
                    count += len(idx)
                last = total / count
        self.module.eval()
        self._prior = None
        return last

    def state_dict(self) -> dict[str, Any]:
        """Encoder weights and the logit bias."""
        return {"module": self.module.state_dict(), "bias": self.bias.detach().clone()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.module.load_state_dict(state["module"])
        with torch.no_grad():
            self.bias.copy_(state["bias"])
        self._prior = None
