"""Hybrid strategies: Cluster-Margin, two-step and mixture bind the selection functions correctly."""

from __future__ import annotations

import numpy as np
import pytest

from activelab import acquisition as acq
from activelab.models.base import Views
from activelab.pool import Pool
from activelab.selection import cluster_margin, mixture_scores, two_step
from activelab.strategies import make


@pytest.fixture(scope="module")
def views() -> Views:
    rng = np.random.default_rng(0)
    n = 90
    logits = rng.normal(size=(n, 3)) * 2
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labelled = np.zeros(n, dtype=bool)
    labelled[::9] = True
    return Views(indices=np.arange(n) * 3 + 1, labelled=labelled, probs=probs, embeddings=rng.normal(size=(n, 4)).astype(np.float32))


def _full(views: Views, cand_scores: np.ndarray) -> np.ndarray:
    full = np.zeros(len(views.indices))
    full[views.candidates] = cand_scores
    return full


def test_two_step_strategy(views: Views) -> None:
    s = make("two_step", score="entropy", factor=3)
    assert s.needs == ("probs", "embeddings") and s.needs_labelled
    got = s.select(views, Pool(300), 6, np.random.default_rng(1))
    scores = _full(views, acq.entropy(views.probs[views.candidates]))
    ref = two_step(scores, views.embeddings, views.labelled, 6, np.random.default_rng(1), factor=3)
    np.testing.assert_array_equal(got, views.indices[ref])


def test_cluster_margin_strategy(views: Views) -> None:
    s = make("cluster_margin", factor=4)
    got = s.select(views, Pool(300), 5, np.random.default_rng(2))
    scores = _full(views, acq.margin(views.probs[views.candidates]))
    ref = cluster_margin(scores, views.embeddings, views.labelled, 5, np.random.default_rng(2), factor=4)
    np.testing.assert_array_equal(got, views.indices[ref])


def test_mixture_strategy(views: Views) -> None:
    s = make("mixture", weights={"margin": 0.25, "entropy": 0.75})
    assert s.needs == ("probs",)
    cand = views.probs[views.candidates]
    ref = mixture_scores([acq.margin(cand), acq.entropy(cand)], [0.25, 0.75])
    np.testing.assert_allclose(s.scores(views), ref)
    got = s.select(views, Pool(300), 7, np.random.default_rng(0))
    expected = views.indices[views.candidates[np.argsort(-ref, kind="stable")[:7]]]
    assert set(got.tolist()) == set(expected.tolist())
    # a single-score mixture ranks exactly like that score
    one = make("mixture", weights={"margin": 1.0}).select(views, Pool(300), 7, np.random.default_rng(0))
    assert set(one.tolist()) == set(make("margin").select(views, Pool(300), 7, np.random.default_rng(0)).tolist())


def test_mixture_of_sample_scores_declares_draws() -> None:
    s = make("mixture", weights={"bald": 1.0, "margin": 1.0})
    assert set(s.needs) == {"prob_samples", "probs"} and s.n_draws == 20


def test_hybrid_errors() -> None:
    with pytest.raises(TypeError, match="'coreset' has no scores\\(views\\) method"):
        make("two_step", score="coreset")
    with pytest.raises(TypeError, match="'badge' has no scores"):
        make("mixture", weights={"badge": 1.0})
    with pytest.raises(ValueError, match="weights must be finite, >= 0 and not all 0"):
        make("mixture", weights={"margin": -1.0})
    with pytest.raises(TypeError, match="weights must be a non-empty dict"):
        make("mixture", weights={})
