import numpy as np
import pytest
import torch
from scipy.stats import spearmanr
from torch import nn

from activelab.models import TorchClassifier, cnn, compute_views, make_model, mlp
from activelab.models.base import check_capabilities
from activelab.models.lossnet import LossNetModule, LossPredictionClassifier, ranking_loss


def _naive_ranking_loss(pred, target, margin):
    half = len(pred) // 2
    if half == 0:
        return 0.0
    total = 0.0
    for i in range(half):
        j = i + half
        sign = 1.0 if target[i] > target[j] else -1.0
        total += max(0.0, -sign * (pred[i] - pred[j]) + margin)
    return total / half


@pytest.mark.parametrize("b", [0, 1, 2, 7, 16])
@pytest.mark.parametrize("margin", [1.0, 0.3])
def test_ranking_loss_matches_per_pair_formula(b, margin):
    gen = np.random.default_rng(b)
    pred = gen.normal(size=b)
    target = gen.integers(0, 3, size=b).astype(float)  # ties on purpose
    got = float(ranking_loss(torch.tensor(pred), torch.tensor(target), margin))
    assert got == pytest.approx(_naive_ranking_loss(pred.tolist(), target.tolist(), margin), abs=1e-12)


def test_ranking_loss_no_gradient_into_target_and_checks_shapes():
    pred = torch.tensor([0.0, 1.0, 2.0, 0.5], requires_grad=True)
    target = torch.tensor([1.0, 0.0, 0.0, 2.0], requires_grad=True)
    ranking_loss(pred, target).backward()
    assert target.grad is None
    # pair (0, 2): s=+1, 1 - (0 - 2) = 3 > 0 → d/dp0 = -1/2, d/dp2 = +1/2; pair (1, 3): s=-1, 1 + (1 - 0.5) > 0
    np.testing.assert_allclose(pred.grad.numpy(), [-0.5, 0.5, 0.5, -0.5])
    with pytest.raises(ValueError, match="1-D of equal length"):
        ranking_loss(torch.zeros(4), torch.zeros(3))


def _toy(n=400, seed=0):
    gen = np.random.default_rng(seed)
    X = gen.normal(size=(n, 2)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)
    flip = gen.random(n) < 0.1  # label noise: some items keep a large loss
    y[flip] = 1 - y[flip]
    return X, y


def test_loss_head_learns_to_rank_true_losses():
    """On held-out items the predicted loss ranks the true cross-entropy losses (Spearman > 0.5)."""
    X, y = _toy()
    train, held = np.arange(200), np.arange(200, 400)
    clf = LossPredictionClassifier(mlp((16,), 0.0), 2, lr=1e-2, epochs=80, head_width=16).fit(
        X[train], y[train], rng=np.random.default_rng(0)
    )
    p = clf.predict_proba(X[held])
    true_loss = -np.log(p[np.arange(len(held)), y[held]] + 1e-12)
    rho = spearmanr(clf.predict_loss(X[held]), true_loss).statistic
    assert rho > 0.5, rho  # measured 0.80
    # without the ranking loss the head is untrained: no such ranking
    untrained = LossPredictionClassifier(mlp((16,), 0.0), 2, lr=1e-2, epochs=80, head_width=16, loss_weight=0.0).fit(
        X[train], y[train], rng=np.random.default_rng(0)
    )
    assert spearmanr(untrained.predict_loss(X[held]), true_loss).statistic < rho


def test_detached_head_leaves_the_classifier_as_plain_training():
    """detach_epoch=0: the backbone is trained by cross-entropy alone, weight for weight."""
    X, y = _toy(120)
    kw = {"lr": 1e-2, "epochs": 15}
    plain = TorchClassifier(mlp((8,), 0.0), 2, **kw).fit(X, y, rng=np.random.default_rng(3))
    detached = LossPredictionClassifier(mlp((8,), 0.0), 2, detach_epoch=0, head_width=4, **kw).fit(
        X, y, rng=np.random.default_rng(3)
    )
    joint = LossPredictionClassifier(mlp((8,), 0.0), 2, head_width=4, **kw).fit(X, y, rng=np.random.default_rng(3))
    np.testing.assert_allclose(detached.predict_proba(X), plain.predict_proba(X), rtol=1e-5, atol=1e-6)
    assert not np.allclose(joint.predict_proba(X), plain.predict_proba(X), atol=1e-4)


def test_views_determinism_and_state(tiny_blobs):
    X, y = tiny_blobs
    a = LossPredictionClassifier(mlp((16,), 0.25), 3, epochs=10, head_width=8).fit(X, y, rng=np.random.default_rng(1))
    b = LossPredictionClassifier(mlp((16,), 0.25), 3, epochs=10, head_width=8).fit(X, y, rng=np.random.default_rng(1))
    np.testing.assert_array_equal(a.predict_loss(X), b.predict_loss(X))
    check_capabilities(a, ("probs", "prob_samples", "embeddings", "predicted_loss"))
    with pytest.raises(Exception, match="predict_loss"):
        check_capabilities(TorchClassifier(mlp(), 3), ("predicted_loss",), "learning_loss")
    # embeddings are still the input of the classifier's output layer, not of the head
    with torch.no_grad():
        expected = a.module_.backbone[:-1](torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(a.embed(X), expected, rtol=1e-6)
    views = compute_views(a, X, np.arange(len(X)), np.zeros(len(X), bool), ("probs", "predicted_loss"),
                          rng=np.random.default_rng(0), chunk_size=64)
    np.testing.assert_allclose(views.predicted_loss, a.predict_loss(X), rtol=1e-6)
    np.testing.assert_allclose(views.probs, a.predict_proba(X), rtol=1e-5)
    c = LossPredictionClassifier(mlp((16,), 0.25), 3, epochs=10, head_width=8)
    c.load_state_dict(a.state_dict())
    np.testing.assert_array_equal(c.predict_loss(X), a.predict_loss(X))


def test_default_taps_and_cnn():
    net = LossNetModule(mlp((8, 6), 0.1)((5,), 3), None, (5,), 4)
    assert net.taps == (2, 4)  # the two ReLUs
    conv = LossNetModule(cnn((4,), hidden=8)((1, 8, 8), 3), None, (1, 8, 8), 4)
    logits, pred = conv.forward_with_loss(torch.zeros(3, 1, 8, 8))
    assert logits.shape == (3, 3) and pred.shape == (3,)
    assert LossNetModule(mlp((8,), 0.0)((5,), 3), [-3], (5,), 4).taps == (1,)


def test_errors():
    with pytest.raises(TypeError, match="nn.Sequential"):
        LossNetModule(nn.Linear(3, 2), None, (3,), 4)
    with pytest.raises(ValueError, match="taps must be indices"):
        LossNetModule(mlp((8,), 0.0)((5,), 3), [3], (5,), 4)
    with pytest.raises(ValueError, match="no top-level activation"):
        LossNetModule(nn.Sequential(nn.Linear(3, 2)), None, (3,), 4)
    with pytest.raises(ValueError, match="margin must be > 0"):
        LossPredictionClassifier(mlp(), 3, margin=0.0)
    with pytest.raises(ValueError, match="detach_epoch"):
        LossPredictionClassifier(mlp(), 3, detach_epoch=-1)


def test_registered_model():
    model = make_model("mlp_lossnet", 10, epochs=3)
    assert isinstance(model, LossPredictionClassifier) and model.epochs == 3
