import numpy as np
import pytest

from activelab.errors import NotFittedError, UnknownNameError
from activelab.learned.proxy import LogisticProxy, MLPProxy, make_proxy


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 5))
    y = (X[:, 0] + 0.5 * X[:, 1] + rng.normal(scale=0.5, size=120) > 0).astype(int) + (X[:, 2] > 1)
    return X, y


def test_logistic_matches_sklearn(data):
    from sklearn.linear_model import LogisticRegression

    X, y = data
    l2 = 0.05
    ours = LogisticProxy(3, l2=l2, max_iter=2000, warm_start=False).fit(X, y)
    ref = LogisticRegression(C=1.0 / (l2 * len(X)), max_iter=5000, tol=1e-10).fit(X, y)
    np.testing.assert_allclose(ours.predict_proba(X), ref.predict_proba(X), atol=2e-3)


def test_logistic_unseen_class_columns_and_embed(data):
    X, y = data
    m = LogisticProxy(5).fit(X, y)
    p = m.predict_proba(X)
    assert p.shape == (120, 5)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    assert p[:, 3:].max() < p[:, :3].max()
    np.testing.assert_array_equal(m.embed(X), X)


def test_warm_start_continues_from_previous_weights(data):
    X, y = data
    warm = LogisticProxy(3, max_iter=1).fit(X, y)
    w1 = warm.coef_.copy()
    warm.fit(X, y)
    cold = LogisticProxy(3, max_iter=1, warm_start=False).fit(X, y).fit(X, y)
    np.testing.assert_allclose(cold.coef_, w1)  # cold restarts: same single step
    assert not np.allclose(warm.coef_, w1)


def test_mlp_gradient_matches_finite_differences(data):
    X, y = data
    m = MLPProxy(3, hidden=4)
    rng = np.random.default_rng(1)
    w = rng.normal(scale=0.3, size=5 * 4 + 4 + 4 * 3 + 3)
    Y = np.eye(3)[y]
    _, g = m._objective(w, X, Y)
    eps = 1e-6
    num = np.array([(m._objective(w + eps * e, X, Y)[0] - m._objective(w - eps * e, X, Y)[0]) / (2 * eps) for e in np.eye(len(w))])
    np.testing.assert_allclose(g, num, rtol=1e-4, atol=1e-7)


def test_mlp_deterministic_and_fits(data):
    X, y = data
    a = MLPProxy(3).fit(X, y, rng=np.random.default_rng(5)).predict_proba(X)
    b = MLPProxy(3).fit(X, y, rng=np.random.default_rng(5)).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert (a.argmax(axis=1) == y).mean() > 0.8
    assert MLPProxy(3, hidden=7).fit(X, y, rng=np.random.default_rng(0)).embed(X).shape == (120, 7)


def test_errors(data):
    X, y = data
    with pytest.raises(NotFittedError):
        LogisticProxy(2).predict_proba(X)
    with pytest.raises(NotFittedError):
        MLPProxy(2).embed(X)
    with pytest.raises(ValueError, match=r"labels must be in \[0, 2\)"):
        LogisticProxy(2).fit(X, y)
    with pytest.raises(ValueError, match="n_classes must be an int >= 2"):
        LogisticProxy(1)
    with pytest.raises(UnknownNameError, match="Did you mean 'logreg'"):
        make_proxy("logre", 2)
