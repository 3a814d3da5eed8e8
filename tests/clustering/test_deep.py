"""Deep prior: the encoder is fine-tuned on answers, deterministically, without touching global RNG."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from activelab.clustering import ActiveClusterer, NoisyPairOracle, SimilarityStore, make_pair_strategy
from activelab.clustering.candidates import all_pairs
from activelab.clustering.deep import DeepPrior


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = np.arange(40) % 2
    X = rng.normal(size=(40, 6)).astype(np.float32)
    X[:, 0] += 2.0 * y
    return X, y


def encoder() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 4))


def test_update_fits_answers_and_is_deterministic() -> None:
    X, y = data()
    pairs = all_pairs(40)[::3]
    store_losses = []
    states = []
    for _ in range(2):
        deep = DeepPrior(encoder(), X, epochs=30, lr=1e-2)
        store = SimilarityStore(deep.prior(), tau=1)
        store.add(pairs, np.where(y[pairs[:, 0]] == y[pairs[:, 1]], 1.0, -1.0))
        before = torch.get_rng_state().clone()
        first = deep.update(store, np.random.default_rng(1))
        assert torch.equal(before, torch.get_rng_state())  # global torch RNG untouched
        last = deep.update(store, np.random.default_rng(2))
        store_losses.append((first, last))
        states.append(deep.prior().phi.copy())
    assert store_losses[0] == store_losses[1]
    np.testing.assert_array_equal(states[0], states[1])
    assert store_losses[0][1] < store_losses[0][0]
    # the fine-tuned prior separates the two classes better than chance
    phi = states[0]
    cos = phi @ phi.T
    same = y[:, None] == y[None, :]
    assert cos[same].mean() > cos[~same].mean()


def test_clusterer_with_encoder_runs_and_checkpoints(tmp_path) -> None:  # type: ignore[no-untyped-def]
    X, y = data()
    deep = DeepPrior(encoder(), X, epochs=2)
    ac = ActiveClusterer(make_pair_strategy("uncertainty"), NoisyPairOracle(y, 0.1), deep.prior(),
                         batch_size=20, budget=40, seed=0, truth=y, encoder=deep, checkpoint_dir=tmp_path)
    history = ac.run()
    assert len(history) == 3 and history[0].seconds["update"] > 0
    deep2 = DeepPrior(encoder(), X, epochs=2)
    ac2 = ActiveClusterer(make_pair_strategy("uncertainty"), NoisyPairOracle(y, 0.1), deep2.prior(),
                          batch_size=20, budget=40, seed=0, truth=y, encoder=deep2, checkpoint_dir=tmp_path)
    ac2.load_checkpoint(tmp_path)
    np.testing.assert_allclose(deep2.prior().phi, deep.prior().phi)


def test_errors() -> None:
    with pytest.raises(TypeError, match="torch.nn.Module"):
        DeepPrior(lambda x: x, np.zeros((3, 2), np.float32))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="epochs must be an int >= 1"):
        DeepPrior(nn.Linear(2, 2), np.zeros((3, 2), np.float32), epochs=0)
