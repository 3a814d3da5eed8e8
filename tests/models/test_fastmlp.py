"""The autograd-free MLP trainer (``TorchClassifier(trainer="auto")``) against autograd."""

import numpy as np
import pytest
import torch
from torch import nn

from activelab.models import TorchClassifier, cnn, mlp
from activelab.models._fastmlp import ManualMLPTrainer, plain_mlp_layers
from activelab.models.lossnet import LossPredictionClassifier


@pytest.fixture
def data():
    gen = np.random.default_rng(0)
    centres = gen.normal(scale=3.0, size=(4, 12))
    y = gen.integers(0, 4, 120)
    X = (centres[y] + gen.normal(size=(120, 12))).astype(np.float32)
    return X, y


def _pair(X, y, seed=1, **kw):
    kw.setdefault("epochs", 25)
    kw.setdefault("lr", 1e-2)
    fast = TorchClassifier(mlp((32, 16), 0.0), 4, trainer="auto", **kw).fit(X, y, rng=np.random.default_rng(seed))
    ref = TorchClassifier(mlp((32, 16), 0.0), 4, trainer="autograd", **kw).fit(X, y, rng=np.random.default_rng(seed))
    return fast, ref


def test_eligibility():
    X = torch.zeros(3, 12)
    assert plain_mlp_layers(mlp((8,), 0.25)((12,), 3), X) is not None
    assert plain_mlp_layers(nn.Sequential(nn.Linear(12, 8, bias=False), nn.ReLU(), nn.Linear(8, 3)), X) is not None
    assert plain_mlp_layers(cnn()((1, 28, 28), 10), torch.zeros(2, 1, 28, 28)) is None
    assert plain_mlp_layers(nn.Sequential(nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 3)), X) is None
    assert plain_mlp_layers(nn.Sequential(nn.Linear(12, 8), nn.ReLU()), X) is None  # must end in Linear
    frozen = mlp((8,), 0.0)((12,), 3)
    frozen[1].weight.requires_grad_(False)
    assert plain_mlp_layers(frozen, X) is None
    hooked = mlp((8,), 0.0)((12,), 3)
    hooked[2].register_forward_hook(lambda *a: None)
    assert plain_mlp_layers(hooked, X) is None
    assert plain_mlp_layers(mlp((8,), 0.0)((12,), 3), X.double()) is None
    assert plain_mlp_layers(nn.Sequential(nn.Linear(12, 8), nn.Dropout(1.0), nn.Linear(8, 3)), X) is None
    assert plain_mlp_layers(nn.Sequential(nn.Linear(12, 3)), torch.zeros(3, 2, 6)) is None  # no Flatten, 3-D input


def test_subclass_losses_keep_autograd(data):
    X, _ = data
    module = mlp((8,), 0.0)((12,), 4)
    clf = TorchClassifier(mlp((8,), 0.0), 4)
    assert clf._manual_trainer(module, torch.from_numpy(X), 1e-2, 0) is not None
    assert TorchClassifier(mlp((8,), 0.0), 4, trainer="autograd")._manual_trainer(module, torch.from_numpy(X), 1e-2, 0) is None
    lossnet = LossPredictionClassifier(mlp((8,), 0.0), 4)
    assert lossnet._manual_trainer(module, torch.from_numpy(X), 1e-2, 0) is None


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd"])
@pytest.mark.parametrize("weight_decay", [0.0, 1e-2])
@pytest.mark.parametrize("batch_size", [None, 16])
def test_same_model_as_autograd_without_dropout(data, optimizer, weight_decay, batch_size):
    X, y = data
    fast, ref = _pair(X, y, optimizer=optimizer, weight_decay=weight_decay, batch_size=batch_size)
    # Adam normalises near-zero gradients to ±lr steps, so single weights of near-dead units can
    # differ by rounding; the functions the two networks compute must agree.
    np.testing.assert_allclose(fast.predict_proba(X), ref.predict_proba(X), atol=1e-4)
    changed = [float((p - q).detach().abs().max()) for p, q in zip(fast.module_.parameters(), ref.module_.parameters(), strict=True)]
    assert max(changed) < 0.05


def test_gradient_with_dropout_mask_matches_autograd():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Flatten(), nn.Linear(6, 9), nn.ReLU(), nn.Dropout(0.3), nn.Linear(9, 7), nn.ReLU(), nn.Dropout(0.5), nn.Linear(7, 3))
    X = torch.randn(11, 2, 3)
    y = torch.randint(0, 3, (11,))
    trainer = ManualMLPTrainer(plain_mlp_layers(net, X), optimizer="sgd", lr=0.1, weight_decay=0.0, rng=np.random.default_rng(5))
    masks = {}
    draw = trainer._dropout_mask

    def remember(index, shape, p):
        masks[index] = draw(index, shape, p).clone()
        return masks[index]

    trainer._dropout_mask = remember
    with torch.no_grad():
        trainer._gradients(X, y)
    manual = trainer.grad.clone()
    # Reference: the same network by autograd, dropout replaced by the recorded masks.
    a = X.reshape(11, -1)
    for index, layer in enumerate(list(net)[1:]):
        a = a * masks[index] if isinstance(layer, nn.Dropout) else layer(a)
    nn.functional.cross_entropy(a, y).backward()
    reference = torch.cat([p.grad.reshape(-1) for p in net.parameters()])
    torch.testing.assert_close(manual, reference, rtol=1e-5, atol=1e-6)
    for index, mask in masks.items():
        p = net[index + 1].p
        assert set(np.unique(mask.numpy())) <= {0.0, np.float32(1 / (1 - p))}


def test_dropout_mask_statistics():
    trainer = ManualMLPTrainer(mlp((8,), 0.25)((4,), 2)[1:], optimizer="adam", lr=1e-3, weight_decay=0.0, rng=np.random.default_rng(0))
    mask = trainer._dropout_mask(0, (400, 500), 0.25).numpy()
    dropped = np.mean(mask == 0)
    assert abs(dropped - 0.25) < 0.005  # 200,000 Bernoulli draws: std 0.001
    assert abs(mask.mean() - 1.0) < 0.01  # inverted dropout keeps the expectation


def test_dropout_training_is_seeded_and_differs_between_seeds(data):
    X, y = data

    def weights(seed, trainer="auto"):
        clf = TorchClassifier(mlp((32,), 0.25), 4, epochs=10, lr=1e-2, trainer=trainer).fit(X, y, rng=np.random.default_rng(seed))
        return torch.cat([p.detach().reshape(-1) for p in clf.module_.parameters()])

    assert torch.equal(weights(3), weights(3))
    assert not torch.equal(weights(3), weights(4))
    # Dropout on: the masks come from another stream than nn.Dropout's, so the runs differ.
    assert not torch.equal(weights(3), weights(3, "autograd"))


def test_parameters_own_their_storage_after_fit_and_early_stopping(data):
    X, y = data
    clf = TorchClassifier(mlp((16,), 0.25), 4, epochs=40, lr=1e-2, early_stopping=3).fit(X, y, rng=np.random.default_rng(0))
    for p in clf.module_.parameters():
        assert p.data._base is None and p.requires_grad
    before = clf.predict_proba(X)
    clf.fit(X, y, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(clf.predict_proba(X), before)  # refitting with the same seed: same model


def test_learns_with_dropout_like_autograd(data):
    X, y = data
    accs = {}
    for trainer in ("auto", "autograd"):
        clf = TorchClassifier(mlp((32,), 0.25), 4, epochs=60, lr=1e-2, trainer=trainer).fit(X[:80], y[:80], rng=np.random.default_rng(0))
        accs[trainer] = float(np.mean(clf.predict_proba(X[80:]).argmax(1) == y[80:]))
    assert accs["auto"] > 0.9 and abs(accs["auto"] - accs["autograd"]) < 0.1


def test_trainer_is_validated(data):
    X, y = data
    with pytest.raises(ValueError, match="trainer must be one of .*'fast'"):
        TorchClassifier(mlp((8,), 0.0), 4, trainer="fast").fit(X, y, rng=np.random.default_rng(0))
