"""Registry contract: descriptions, did-you-mean, and the public checks with a real network."""

import numpy as np
import pytest

from activelab.errors import PoolExhaustedError, UnknownNameError
from activelab.models import TorchClassifier, compute_views, mlp
from activelab.pool import Pool
from activelab.strategies import STRATEGIES, make

NAMES = sorted(STRATEGIES)


@pytest.fixture(scope="module")
def setting():
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=150, centers=3, n_features=4, cluster_std=3.0, random_state=1)
    X = X.astype(np.float32)
    pool = Pool(len(X), n_classes=3)
    pool.add_labels(np.arange(0, 150, 10), y[::10], round_=0)
    model = TorchClassifier(mlp((8,), 0.3), 3, lr=1e-2, epochs=10).fit(
        X[pool.labelled_indices()], y[pool.labelled_indices()], rng=np.random.default_rng(0)
    )
    return X, y, pool, model


_LOSSNET = {}


def _model_for(strategy, X, pool, model):
    """The plain MLP feeds every strategy except those needing the view ``predicted_loss``."""
    if "predicted_loss" not in strategy.needs:
        return model
    if "model" not in _LOSSNET:
        from activelab.models.lossnet import LossPredictionClassifier

        lab = pool.labelled_indices()
        _LOSSNET["model"] = LossPredictionClassifier(mlp((8,), 0.3), 3, lr=1e-2, epochs=10, head_width=8).fit(
            X[lab], pool.labels[lab], rng=np.random.default_rng(0)
        )
    return _LOSSNET["model"]


def _views(strategy, X, pool, model, rng_seed=0):
    model = _model_for(strategy, X, pool, model)
    unl = pool.unlabelled_mask
    rows_mask = unl | pool.labelled_mask if strategy.needs_labelled else unl
    rows = np.flatnonzero(rows_mask)
    return compute_views(model, X, rows, ~unl[rows], strategy.needs, n_draws=5, rng=np.random.default_rng(rng_seed))


@pytest.mark.parametrize("name", ["bald", "badge", "batchbald", "coreset", "typiclust", "albl", "policy", "learning_loss"])
def test_the_public_checks_pass_with_a_real_network(name):
    """tests/test_checks.py runs check_strategy on every name with its cheap CheckModel; here a real MLP."""
    from activelab.checks import check_strategy
    from activelab.models.lossnet import LossPredictionClassifier

    kw = {"lr": 1e-2, "epochs": 5}
    model = (LossPredictionClassifier(mlp((8,), 0.3), 3, head_width=8, **kw) if name == "learning_loss"
             else TorchClassifier(mlp((8,), 0.3), 3, **kw))
    check_strategy(make(name), model=model, rounds=3)


def test_exhausted_pool_message(setting):
    X, _, pool, model = setting
    strategy = make("margin")
    views = _views(strategy, X, pool, model)
    with pytest.raises(PoolExhaustedError, match="only 135 unlabelled"):
        strategy.select(views, pool, 136, np.random.default_rng(0))


@pytest.mark.parametrize("name", NAMES)
def test_described(name):
    assert STRATEGIES[name][1]


def test_did_you_mean():
    with pytest.raises(UnknownNameError, match="Did you mean 'entropy'"):
        make("entopy")


def test_margin_picks_the_smallest_margins(setting):
    X, _, pool, model = setting
    strategy = make("margin")
    views = _views(strategy, X, pool, model)
    chosen = strategy.select(views, pool, 5, np.random.default_rng(0))
    p = np.sort(model.predict_proba(X[pool.unlabelled_indices()]), axis=1)
    gaps = p[:, -1] - p[:, -2]
    expected = pool.unlabelled_indices()[np.argsort(gaps)[:5]]
    assert set(chosen.tolist()) == set(expected.tolist())


def test_beta_only_for_stochastic():
    assert make("power_bald", beta=2.0).name == "power_bald"
    with pytest.raises(TypeError, match="takes no 'beta'"):
        make("margin", beta=2.0)
