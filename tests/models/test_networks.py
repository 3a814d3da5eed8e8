import math

import numpy as np
import pytest
import torch
from torch import nn

from activelab.models import TorchClassifier, mlp
from activelab.models.networks import MLP_INITS
from activelab.models.registry import make_model


def _linears(net):
    return [m for m in net.modules() if isinstance(m, nn.Linear)]


def _build(init, seed=0, hidden=(400,), n_in=300, n_out=200):
    torch.manual_seed(seed)
    return mlp(hidden, 0.25, init=init)((n_in,), n_out)


@pytest.mark.parametrize(
    "init, bound, bias_zero",
    [
        ("he", lambda fi, fo: math.sqrt(6.0 / fi), True),
        ("glorot", lambda fi, fo: math.sqrt(6.0 / (fi + fo)), True),
        ("torch", lambda fi, fo: 1.0 / math.sqrt(fi), False),
    ],
)
def test_init_draws_uniform_weights_with_the_stated_bound(init, bound, bias_zero):
    # Uniform on [-b, b]: every weight inside, the extremes near b, the variance b^2 / 3.
    for layer in _linears(_build(init)):
        fan_out, fan_in = layer.weight.shape
        b = bound(fan_in, fan_out)
        w = layer.weight.detach().double()
        assert float(w.abs().max()) <= b * (1 + 1e-6)
        assert float(w.abs().max()) > 0.99 * b
        assert float(w.var()) == pytest.approx(b * b / 3.0, rel=0.05)
        assert float(w.mean()) == pytest.approx(0.0, abs=0.05 * b)
        if bias_zero:
            assert torch.count_nonzero(layer.bias) == 0
        else:
            assert float(layer.bias.detach().abs().max()) <= (1 + 1e-6) / math.sqrt(fan_in)
            assert torch.count_nonzero(layer.bias) == layer.bias.numel()


def test_he_weights_have_sqrt6_times_the_spread_of_torch_default():
    he = _linears(_build("he"))[0].weight.detach().double().std()
    default = _linears(_build("torch"))[0].weight.detach().double().std()
    assert float(he / default) == pytest.approx(math.sqrt(6.0), rel=0.02)


def test_torch_init_is_pytorchs_own_default():
    torch.manual_seed(3)
    plain = nn.Sequential(nn.Flatten(), nn.Linear(8, 5), nn.ReLU(), nn.Dropout(0.25), nn.Linear(5, 3))
    torch.manual_seed(3)
    ours = mlp((5,), 0.25, init="torch")((8,), 3)
    for a, b in zip(plain.parameters(), ours.parameters(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("init", MLP_INITS)
def test_init_is_fixed_by_the_seed(init):
    a, b, c = _build(init, seed=1), _build(init, seed=1), _build(init, seed=2)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert not torch.equal(_linears(a)[0].weight, _linears(c)[0].weight)


def test_unknown_init_is_a_clear_error():
    with pytest.raises(ValueError, match=r"init must be one of \['he', 'glorot', 'torch'\], got 'kaiming'"):
        mlp((8,), init="kaiming")


def test_fitted_classifier_retrains_from_the_chosen_init(tiny_blobs):
    # Each "retrain" fit rebuilds the network through the factory, so the init applies every
    # round; one step at a negligible learning rate leaves the initial draw in place.
    X, y = tiny_blobs
    clf = TorchClassifier(mlp((16,), 0.25, init="he"), 3, epochs=1, lr=1e-9)
    for seed in (0, 1):
        clf.fit(X, y, rng=np.random.default_rng(seed))
        first, last = _linears(clf.module_)
        assert float(first.bias.detach().abs().max()) < 1e-6 and float(last.bias.detach().abs().max()) < 1e-6
        assert float(first.weight.detach().abs().max()) <= math.sqrt(6.0 / X.shape[1]) + 1e-6


def test_registry_mlp_uses_he_and_mlp_torch_init_the_old_default(tiny_blobs):
    X, y = tiny_blobs
    new = make_model("mlp", 3, epochs=1, lr=1e-9).fit(X, y, rng=np.random.default_rng(0))
    old = make_model("mlp_torch_init", 3, epochs=1, lr=1e-9).fit(X, y, rng=np.random.default_rng(0))
    assert float(_linears(new.module_)[0].bias.detach().abs().max()) < 1e-6
    assert float(_linears(old.module_)[0].bias.detach().abs().max()) > 1e-2
