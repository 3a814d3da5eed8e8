"""Property, reference and error-message tests for ``activelab.acquisition``."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from activelab.acquisition import bald, entropy, expected_gradient_length, information_density, least_confidence, margin

POINT_SCORES = {"entropy": entropy, "margin": margin, "least_confidence": least_confidence}
ALL_SCORES = {**POINT_SCORES, "bald": bald}

_logits = st.floats(min_value=-8.0, max_value=8.0, allow_nan=False, allow_infinity=False)


def _softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


@st.composite
def prob_rows(draw: st.DrawFn, max_items: int = 12, max_classes: int = 6) -> np.ndarray:
    """``(n, c)`` probability rows: softmax of bounded logits."""
    n = draw(st.integers(1, max_items))
    c = draw(st.integers(2, max_classes))
    return _softmax(draw(arrays(np.float64, (n, c), elements=_logits)))


@st.composite
def prob_samples(draw: st.DrawFn, max_items: int = 8, max_draws: int = 5, max_classes: int = 5) -> np.ndarray:
    """``(n, k, c)`` posterior samples: softmax of bounded logits."""
    n = draw(st.integers(1, max_items))
    k = draw(st.integers(1, max_draws))
    c = draw(st.integers(2, max_classes))
    return _softmax(draw(arrays(np.float64, (n, k, c), elements=_logits)))


# ---------------------------------------------------------------------------- properties
@pytest.mark.parametrize("name", sorted(POINT_SCORES))
@settings(max_examples=50, deadline=None)
@given(p=prob_rows())
def test_point_scores_shape_and_finite(name: str, p: np.ndarray) -> None:
    s = POINT_SCORES[name](p)
    assert s.shape == (len(p),)
    assert np.isfinite(s).all()
    assert (s >= -1e-12).all()


@settings(max_examples=50, deadline=None)
@given(samples=prob_samples())
def test_bald_shape_finite_and_non_negative(samples: np.ndarray) -> None:
    s = bald(samples)
    assert s.shape == (len(samples),)
    assert np.isfinite(s).all()
    assert (s >= 0).all()
    assert (s <= np.log(samples.shape[2]) + 1e-9).all()


@pytest.mark.parametrize("name", sorted(ALL_SCORES))
@settings(max_examples=50, deadline=None)
@given(samples=prob_samples(), data=st.data())
def test_permuting_items_permutes_scores(name: str, samples: np.ndarray, data: st.DataObject) -> None:
    perm = np.asarray(data.draw(st.permutations(range(len(samples)))), dtype=np.intp)
    fn = ALL_SCORES[name]
    np.testing.assert_allclose(fn(samples[perm]), fn(samples)[perm], rtol=0, atol=1e-12)
    if name != "bald":  # 2-D input too
        p = samples[:, 0]
        np.testing.assert_allclose(fn(p[perm]), fn(p)[perm], rtol=0, atol=1e-12)


@pytest.mark.parametrize("n_classes", [2, 3, 7, 100])
def test_uniform_row_is_maximal(n_classes: int) -> None:
    p = np.full((3, n_classes), 1.0 / n_classes)
    np.testing.assert_allclose(entropy(p), np.log(n_classes), rtol=1e-12)
    np.testing.assert_allclose(margin(p), 1.0, rtol=1e-12)
    np.testing.assert_allclose(least_confidence(p), 1.0 - 1.0 / n_classes, rtol=1e-12)


@settings(max_examples=50, deadline=None)
@given(p=prob_rows())
def test_scores_bounded_by_uniform_value(p: np.ndarray) -> None:
    c = p.shape[1]
    assert (entropy(p) <= np.log(c) + 1e-9).all()
    assert (margin(p) <= 1.0 + 1e-12).all()
    assert (least_confidence(p) <= 1.0 - 1.0 / c + 1e-12).all()


@pytest.mark.parametrize("name", sorted(ALL_SCORES))
@settings(max_examples=50, deadline=None)
@given(labels=arrays(np.int64, st.integers(1, 10), elements=st.integers(0, 4)), n_classes=st.integers(5, 8))
def test_one_hot_rows_score_zero(name: str, labels: np.ndarray, n_classes: int) -> None:
    p = np.eye(n_classes)[labels]
    samples = np.repeat(p[:, None, :], 3, axis=1)
    np.testing.assert_array_equal(ALL_SCORES[name](samples), 0.0)
    if name != "bald":
        np.testing.assert_array_equal(ALL_SCORES[name](p), 0.0)


@settings(max_examples=50, deadline=None)
@given(p=prob_rows(), n_draws=st.integers(1, 6))
def test_bald_is_zero_when_all_draws_agree(p: np.ndarray, n_draws: int) -> None:
    samples = np.repeat(p[:, None, :], n_draws, axis=1)
    np.testing.assert_allclose(bald(samples), 0.0, atol=1e-12)


def test_bald_of_point_probabilities_is_zero() -> None:
    np.testing.assert_array_equal(bald(np.array([[0.3, 0.7], [0.5, 0.5]])), 0.0)


def test_bald_positive_when_draws_disagree() -> None:
    samples = np.array([[[1.0, 0.0], [0.0, 1.0]]])
    np.testing.assert_allclose(bald(samples), np.log(2))


# ---------------------------------------------------------------------------- references
@settings(max_examples=50, deadline=None)
@given(p=prob_rows())
def test_entropy_matches_scipy(p: np.ndarray) -> None:
    np.testing.assert_allclose(entropy(p), scipy.stats.entropy(p, axis=1), rtol=1e-9, atol=1e-12)


@settings(max_examples=50, deadline=None)
@given(samples=prob_samples())
def test_bald_matches_definition(samples: np.ndarray) -> None:
    mean = samples.mean(axis=1)
    expected = scipy.stats.entropy(mean, axis=1) - scipy.stats.entropy(samples, axis=2).mean(axis=1)
    np.testing.assert_allclose(bald(samples), np.maximum(expected, 0.0), atol=1e-9)


@pytest.mark.parametrize("name", sorted(POINT_SCORES))
@settings(max_examples=50, deadline=None)
@given(samples=prob_samples())
def test_samples_are_averaged_first(name: str, samples: np.ndarray) -> None:
    fn = POINT_SCORES[name]
    np.testing.assert_allclose(fn(samples), fn(samples.mean(axis=1)), rtol=0, atol=1e-12)


def test_margin_and_least_confidence_examples() -> None:
    p = np.array([[0.6, 0.3, 0.1], [0.2, 0.2, 0.6]])
    np.testing.assert_allclose(margin(p), [0.7, 0.6])
    np.testing.assert_allclose(least_confidence(p), [0.4, 0.4])


@pytest.mark.parametrize("name", sorted(ALL_SCORES))
def test_float32_input_is_accepted(name: str) -> None:
    p = _softmax(np.random.default_rng(0).normal(size=(20, 2, 4))).astype(np.float32)
    s = ALL_SCORES[name](p)
    assert s.shape == (20,)
    assert np.isfinite(s).all()


@pytest.mark.parametrize("name", sorted(ALL_SCORES))
def test_empty_input_gives_empty_scores(name: str) -> None:
    assert ALL_SCORES[name](np.empty((0, 3))).shape == (0,)


# -------------------------------------------------------------------------------- errors
@pytest.mark.parametrize("name", sorted(ALL_SCORES))
def test_nan_is_rejected(name: str) -> None:
    p = np.array([[0.5, 0.5], [np.nan, 0.5]])
    with pytest.raises(ValueError, match=r"NaN/inf values \(first in item 1\)"):
        ALL_SCORES[name](p)


@pytest.mark.parametrize("name", sorted(ALL_SCORES))
def test_inf_is_rejected(name: str) -> None:
    with pytest.raises(ValueError, match="NaN/inf"):
        ALL_SCORES[name](np.array([[np.inf, 0.0]]))


@pytest.mark.parametrize("name", sorted(ALL_SCORES))
def test_negative_is_rejected(name: str) -> None:
    with pytest.raises(ValueError, match="must be non-negative.*not logits"):
        ALL_SCORES[name](np.array([[1.2, -0.2], [0.5, 0.5]]))


@pytest.mark.parametrize("name", sorted(ALL_SCORES))
def test_rows_not_summing_to_one_are_rejected(name: str) -> None:
    with pytest.raises(ValueError, match="rows must sum to 1.*item 1 sums to 0.9"):
        ALL_SCORES[name](np.array([[0.5, 0.5], [0.6, 0.3]]))


@pytest.mark.parametrize("name", sorted(ALL_SCORES))
def test_rows_not_summing_to_one_are_rejected_in_samples(name: str) -> None:
    samples = np.full((2, 3, 2), 0.5)
    samples[1, 2] = [0.9, 0.9]
    with pytest.raises(ValueError, match="rows must sum to 1"):
        ALL_SCORES[name](samples)


@pytest.mark.parametrize("name", sorted(ALL_SCORES))
@pytest.mark.parametrize("shape", [(4,), (2, 2, 2, 2)])
def test_wrong_ndim_is_rejected(name: str, shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"must have shape \(n_items, n_classes\) or \(n_items, n_draws, n_classes\)"):
        ALL_SCORES[name](np.full(shape, 0.5))


@pytest.mark.parametrize("name", sorted(ALL_SCORES))
def test_fewer_than_two_classes_is_rejected(name: str) -> None:
    with pytest.raises(ValueError, match="at least 2 classes"):
        ALL_SCORES[name](np.ones((3, 1)))


@pytest.mark.parametrize("name", sorted(ALL_SCORES))
def test_non_numeric_is_rejected(name: str) -> None:
    with pytest.raises(TypeError, match="must be numeric"):
        ALL_SCORES[name](np.array([["a", "b"]]))


def test_expected_gradient_length_matches_autograd_of_a_linear_softmax_layer() -> None:
    """EGL = sum_c p_c ||d CE(Wh + b, c) / d(W, b)||, with the gradient from torch autograd."""
    import torch

    gen = np.random.default_rng(0)
    W = torch.tensor(gen.normal(size=(4, 6)), dtype=torch.float64, requires_grad=True)
    b = torch.tensor(gen.normal(size=4), dtype=torch.float64, requires_grad=True)
    h = gen.normal(size=(9, 6))
    probs = torch.softmax(torch.from_numpy(h) @ W.T + b, dim=1).detach().numpy()
    ref = []
    for i in range(len(h)):
        total = 0.0
        for c in range(4):
            loss = torch.nn.functional.cross_entropy((W @ torch.from_numpy(h[i]) + b)[None], torch.tensor([c]))
            gw, gb = torch.autograd.grad(loss, (W, b))
            total += probs[i, c] * float(torch.sqrt((gw**2).sum() + (gb**2).sum()))
        ref.append(total)
    got = expected_gradient_length(probs, h, chunk_size=4)  # several chunks
    np.testing.assert_allclose(got, ref, rtol=1e-9)
    with pytest.raises(ValueError, match="embeddings must be"):
        expected_gradient_length(probs, h[:3])
    with pytest.raises(ValueError, match="NaN or infinite"):
        expected_gradient_length(probs, np.full_like(h, np.nan))


@pytest.mark.parametrize("uncertainty", ["entropy", "margin", "least_confidence"])
def test_information_density_matches_the_explicit_similarity_matrix(uncertainty: str) -> None:
    gen = np.random.default_rng(3)
    probs = gen.dirichlet(np.ones(3), size=30)
    emb = np.abs(gen.normal(size=(30, 5)))  # ReLU-like, so every cosine is >= 0
    emb[4] = 0.0  # a zero row is similar to nothing
    unit = emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-300)
    sim = unit @ unit.T
    np.fill_diagonal(sim, 0.0)
    u = {"entropy": entropy, "margin": margin, "least_confidence": least_confidence}[uncertainty](probs)
    for beta in (0.0, 1.0, 2.5):
        ref = u * (sim.sum(axis=1) / 29) ** beta
        got = information_density(probs, emb, beta=beta, uncertainty=uncertainty, chunk_size=7)
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-15)
    assert information_density(probs, emb, uncertainty=uncertainty)[4] == 0.0
    with pytest.raises(ValueError, match="uncertainty must be one of"):
        information_density(probs, emb, uncertainty="bald")
    with pytest.raises(ValueError, match="beta must be a finite number >= 0"):
        information_density(probs, emb, beta=-1.0)
