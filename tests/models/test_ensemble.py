"""DeepEnsemble and SklearnCommittee: seeding, draws, views, persistence and errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.tree import DecisionTreeClassifier

from activelab.errors import CapabilityError, NotFittedError
from activelab.models import DeepEnsemble, SklearnCommittee, TorchClassifier, compute_views, make_model, mlp
from activelab.models.base import SupportsProbaSamples, check_capabilities


def _ensemble(n_members: int = 3, **kw) -> DeepEnsemble:  # type: ignore[no-untyped-def]
    return DeepEnsemble(TorchClassifier(mlp((8,), 0.0), 3, lr=1e-2, epochs=8), n_members, **kw)


@pytest.fixture(scope="module")
def fitted(tiny_blobs):  # type: ignore[no-untyped-def]
    X, y = tiny_blobs
    return _ensemble().fit(X[:60], y[:60], rng=np.random.default_rng(0))


def test_same_seed_same_members_different_seed_different_members(tiny_blobs) -> None:  # type: ignore[no-untyped-def]
    X, y = tiny_blobs
    torch_state = torch.random.get_rng_state()
    a = _ensemble().fit(X[:60], y[:60], rng=np.random.default_rng(1)).predict_proba_samples(X, 3, rng=np.random.default_rng(0))
    b = _ensemble().fit(X[:60], y[:60], rng=np.random.default_rng(1)).predict_proba_samples(X, 3, rng=np.random.default_rng(9))
    c = _ensemble().fit(X[:60], y[:60], rng=np.random.default_rng(2)).predict_proba_samples(X, 3, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(a, b)  # members fixed by the fit rng; the predict rng is unused
    for m in range(3):
        assert not np.allclose(a[:, m], c[:, m])
    # members differ from one another (independent initialisations)
    assert not np.allclose(a[:, 0], a[:, 1])
    assert not np.allclose(a[:, 1], a[:, 2])
    assert torch.equal(torch_state, torch.random.get_rng_state())


def test_predictions_are_the_members(fitted, tiny_blobs) -> None:  # type: ignore[no-untyped-def]
    X, _ = tiny_blobs
    samples = fitted.predict_proba_samples(X, 3, rng=np.random.default_rng(0))
    assert samples.shape == (len(X), 3, 3)
    for m, member in enumerate(fitted.members):
        np.testing.assert_array_equal(samples[:, m], member.predict_proba(X))
    np.testing.assert_allclose(fitted.predict_proba(X), samples.mean(axis=1), atol=1e-6)
    np.testing.assert_array_equal(fitted.embed(X), fitted.members[0].embed(X))
    # fewer draws: the first members, always the same ones
    np.testing.assert_array_equal(fitted.predict_proba_samples(X, 2, rng=np.random.default_rng(5)), samples[:, :2])


def test_too_many_draws(fitted, tiny_blobs) -> None:  # type: ignore[no-untyped-def]
    X, _ = tiny_blobs
    with pytest.raises(ValueError, match=r"has 3 members.*20 were requested.*n_draws=3"):
        fitted.predict_proba_samples(X, 20, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="n_draws must be a positive int"):
        fitted.predict_proba_samples(X, 0, rng=np.random.default_rng(0))
    capped = _ensemble(cap_draws=True)
    capped.members = fitted.members
    capped.fitted_ = True
    assert capped.predict_proba_samples(X[:4], 20, rng=np.random.default_rng(0)).shape == (4, 3, 3)


def test_views_from_one_pass_match_the_methods(fitted, tiny_blobs) -> None:  # type: ignore[no-untyped-def]
    X, _ = tiny_blobs
    idx = np.arange(len(X))
    needs = ("probs", "prob_samples", "embeddings")
    small = compute_views(fitted, X, idx, np.zeros(len(X), bool), needs, n_draws=3, rng=np.random.default_rng(0), chunk_size=7)
    big = compute_views(fitted, X, idx, np.zeros(len(X), bool), needs, n_draws=3, rng=np.random.default_rng(1))
    for name in needs:  # chunking changes only float rounding (BLAS blocking)
        np.testing.assert_allclose(getattr(small, name), getattr(big, name), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(big.prob_samples, fitted.predict_proba_samples(X, 3, rng=np.random.default_rng(0)))
    np.testing.assert_allclose(big.probs, fitted.predict_proba(X), atol=1e-7)
    np.testing.assert_array_equal(big.embeddings, fitted.embed(X))
    two = compute_views(fitted, X, idx, np.zeros(len(X), bool), ("prob_samples",), n_draws=2, rng=np.random.default_rng(0))
    assert two.prob_samples.shape == (len(X), 2, 3)
    with pytest.raises(ValueError, match="unknown views"):
        fitted.predict_views(X, ("logits",))


def test_capabilities_for_bayesian_strategies(fitted) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(fitted, SupportsProbaSamples)
    for needs in (("prob_samples",), ("probs", "embeddings")):
        check_capabilities(fitted, needs, "batchbald")
    check_capabilities(_ensemble(), ("prob_samples",), "bald")  # before fitting too
    committee = SklearnCommittee(LogisticRegression(), 3)
    check_capabilities(committee, ("prob_samples",), "qbc_vote")
    with pytest.raises(CapabilityError, match="embed"):
        check_capabilities(committee, ("embeddings",), "coreset")


def test_state_dict_round_trip(fitted, tiny_blobs) -> None:  # type: ignore[no-untyped-def]
    X, _ = tiny_blobs
    restored = _ensemble()
    restored.load_state_dict(fitted.state_dict())
    np.testing.assert_array_equal(
        restored.predict_proba_samples(X, 3, rng=np.random.default_rng(0)),
        fitted.predict_proba_samples(X, 3, rng=np.random.default_rng(0)),
    )
    with pytest.raises(ValueError, match="holds 3 members but this ensemble has 4"):
        _ensemble(4).load_state_dict(fitted.state_dict())


def test_bootstrap_members_are_seeded(tiny_blobs) -> None:  # type: ignore[no-untyped-def]
    X, y = tiny_blobs
    a = _ensemble(bootstrap=True).fit(X[:60], y[:60], rng=np.random.default_rng(3)).predict_proba(X)
    b = _ensemble(bootstrap=True).fit(X[:60], y[:60], rng=np.random.default_rng(3)).predict_proba(X)
    c = _ensemble(bootstrap=False).fit(X[:60], y[:60], rng=np.random.default_rng(3)).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_errors(tiny_blobs) -> None:  # type: ignore[no-untyped-def]
    X, y = tiny_blobs
    with pytest.raises(ValueError, match="n_members must be an int >= 2"):
        _ensemble(1)
    with pytest.raises(NotFittedError, match="DeepEnsemble is not fitted"):
        _ensemble().predict_proba(X)
    fitted_template = TorchClassifier(mlp((4,), 0.0), 3, epochs=1).fit(X, y, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="already fitted"):
        DeepEnsemble(fitted_template)
    with pytest.raises(TypeError, match="template must be a model with fit"):
        DeepEnsemble(object())
    with pytest.raises(ValueError, match="X has 5 rows but y has 4"):
        _ensemble().fit(X[:5], y[:4], rng=np.random.default_rng(0))


def test_registered_ensemble_model() -> None:
    model = make_model("ensemble", 4, epochs=3)
    assert isinstance(model, DeepEnsemble)
    assert model.n_members == 5 and model.cap_draws
    assert all(m.epochs == 3 for m in model.members)
    assert make_model("ensemble", 4, n_members=3).n_members == 3


# ----------------------------------------------------------------------------- committees
def test_committee_of_one_bagged_estimator(tiny_blobs) -> None:  # type: ignore[no-untyped-def]
    X, y = tiny_blobs
    qbc = SklearnCommittee(DecisionTreeClassifier(max_depth=3), 3, n_members=4)
    assert qbc.bootstrap
    a = qbc.fit(X[:40], y[:40], rng=np.random.default_rng(0)).predict_proba_samples(X, 4, rng=np.random.default_rng(0))
    b = SklearnCommittee(DecisionTreeClassifier(max_depth=3), 3, n_members=4).fit(
        X[:40], y[:40], rng=np.random.default_rng(0)
    ).predict_proba_samples(X, 4, rng=np.random.default_rng(0))
    c = SklearnCommittee(DecisionTreeClassifier(max_depth=3), 3, n_members=4).fit(
        X[:40], y[:40], rng=np.random.default_rng(1)
    ).predict_proba_samples(X, 4, rng=np.random.default_rng(0))
    assert a.shape == (len(X), 4, 3)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert not np.array_equal(a[:, 0], a[:, 1])  # bootstrap resamples differ
    np.testing.assert_allclose(qbc.predict_proba(X), a.mean(axis=1), atol=1e-6)


def test_committee_of_a_list_and_a_missing_class(tiny_blobs) -> None:  # type: ignore[no-untyped-def]
    X, y = tiny_blobs
    two = np.flatnonzero(y < 2)[:30]  # class 2 never labelled
    qbc = SklearnCommittee([LogisticRegression(), DecisionTreeClassifier(max_depth=2, random_state=0)], 3)
    assert not qbc.bootstrap and qbc.n_members == 2
    samples = qbc.fit(X[two], y[two], rng=np.random.default_rng(0)).predict_proba_samples(X, 2, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(samples[:, :, 2], 0.0)
    np.testing.assert_allclose(samples.sum(axis=2), 1.0, atol=1e-6)
    with pytest.raises(ValueError, match="n_members=3 but 2 estimators"):
        SklearnCommittee([LogisticRegression(), LogisticRegression()], 3, n_members=3)
    with pytest.raises(NotFittedError):
        SklearnCommittee(LogisticRegression(), 3).predict_proba_samples(X, 2, rng=np.random.default_rng(0))
    with pytest.raises(ValueError, match="at most 2 draws"):
        qbc.predict_proba_samples(X, 5, rng=np.random.default_rng(0))
