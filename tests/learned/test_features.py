import numpy as np
import pytest
from scipy.stats import rankdata

from activelab.learned.features import (
    CANDIDATE_FEATURES,
    GLOBAL_FEATURES,
    N_FEATURES,
    RoundFeatures,
    global_features,
    min_distances,
    percentile,
    sample_candidates,
)


def _brute_knn(A, B, k):
    d = np.sqrt(((A[:, None, :] - B[None, :, :]) ** 2).sum(-1))
    return np.sort(d, axis=1)[:, :k].mean(axis=1)


def test_min_distances_matches_brute_force():
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(30, 4)), rng.normal(size=(17, 4))
    for k in (1, 3, 17, 50):
        np.testing.assert_allclose(min_distances(A, B, k), _brute_knn(A, B, min(k, 17)), rtol=1e-9, atol=1e-9)
    assert np.isinf(min_distances(A, B[:0])).all()


def test_percentile_matches_rankdata():
    x = np.array([5.0, 1.0, 1.0, 3.0, 9.0])
    np.testing.assert_allclose(percentile(x), (rankdata(x) - 1) / 4)
    np.testing.assert_array_equal(percentile(np.array([2.0])), [0.5])


def _features(rng, k=20, c=4, d=6, scale=1.0):
    probs = rng.dirichlet(np.ones(c) * 0.5, size=k)
    emb = rng.normal(size=(k, d)) * scale
    lab = rng.normal(size=(8, d)) * scale
    ref = rng.normal(size=(40, d)) * scale
    glob = np.zeros(len(GLOBAL_FEATURES), np.float32)
    return probs, emb, lab, rng.integers(0, c, 8), ref, glob


def test_round_features_reference_values():
    rng = np.random.default_rng(1)
    probs, emb, lab, lab_y, ref, glob = _features(rng)
    f = RoundFeatures(probs, emb, lab, lab_y, ref, glob, 3)
    F = f.observe()
    assert F.shape == (20, N_FEATURES) and F.dtype == np.float32
    col = {n: i for i, n in enumerate(CANDIDATE_FEATURES)}
    srt = np.sort(probs, axis=1)
    np.testing.assert_allclose(F[:, col["gap"]], srt[:, -1] - srt[:, -2], rtol=1e-6)
    ent = -(probs * np.log(probs)).sum(1) / np.log(4)
    np.testing.assert_allclose(F[:, col["entropy"]], ent, rtol=1e-5)
    nn_ref = np.median(np.sort(np.sqrt(((ref[:, None] - ref[None]) ** 2).sum(-1)), axis=1)[:, 1])
    np.testing.assert_allclose(F[:, col["dist_labelled"]], np.clip(_brute_knn(emb, lab, 1) / nn_ref, 0, 5), rtol=1e-5)
    share = np.bincount(lab_y, minlength=4)[probs.argmax(1)] / 8 * 4
    np.testing.assert_allclose(F[:, col["class_share"]], np.clip(share, 0, 5), rtol=1e-6)
    assert F[:, col["valid"]].all() and (F[:, col["dist_picked"]] == 5).all()


def test_pick_updates_batch_aware_columns():
    rng = np.random.default_rng(2)
    f = RoundFeatures(*_features(rng), 4)
    col = {n: i for i, n in enumerate(CANDIDATE_FEATURES)}
    f.pick(5)
    F = f.observe()
    assert F[5, col["valid"]] == 0 and F[:, col["valid"]].sum() == 19
    assert F[5, col["dist_picked"]] == 0
    assert F[0, len(CANDIDATE_FEATURES) + GLOBAL_FEATURES.index("batch_fill")] == pytest.approx(0.25)
    same = f.pred == f.pred[5]
    np.testing.assert_allclose(F[same, col["pending_same_class"]], 0.25)
    with pytest.raises(ValueError, match="already picked"):
        f.pick(5)


def test_scale_free_and_permutation_equivariant():
    probs, emb, lab, lab_y, ref, glob = _features(np.random.default_rng(3))
    a = RoundFeatures(probs, emb, lab, lab_y, ref, glob, 2).observe()
    b = RoundFeatures(probs, emb * 37.0, lab * 37.0, lab_y, ref * 37.0, glob, 2).observe()
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    perm = np.random.default_rng(0).permutation(20)
    c = RoundFeatures(probs[perm], emb[perm], lab, lab_y, ref, glob, 2).observe()
    np.testing.assert_allclose(c, a[perm], rtol=1e-5, atol=1e-6)


def test_global_features_reference():
    probs = np.array([[0.5, 0.5, 0.0], [1.0, 0.0, 0.0]])
    g = global_features(probs, np.array([0, 0, 1, 1]), 3, 10, previous_expected_accuracy=0.6)
    assert g.shape == (len(GLOBAL_FEATURES),)
    named = dict(zip(GLOBAL_FEATURES, g, strict=True))
    assert named["expected_accuracy"] == pytest.approx(0.75)
    assert named["expected_accuracy_change"] == pytest.approx(0.15)
    assert named["label_entropy"] == pytest.approx(np.log(2) / np.log(3))
    assert named["labelled_fraction"] == pytest.approx(0.4)
    assert named["margin_hist_3"] == pytest.approx(0.5) and named["margin_hist_0"] == pytest.approx(0.5)


def test_sample_candidates_half_top_margin_half_uniform():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(3), size=100)
    cand = sample_candidates(probs, 20, np.random.default_rng(1))
    assert len(np.unique(cand)) == 20
    gap = np.sort(probs, 1)[:, -1] - np.sort(probs, 1)[:, -2]
    assert set(np.argsort(gap)[:10]) <= set(cand)
    np.testing.assert_array_equal(cand, sample_candidates(probs, 20, np.random.default_rng(1)))
    np.testing.assert_array_equal(sample_candidates(probs, 500, rng), np.arange(100))
