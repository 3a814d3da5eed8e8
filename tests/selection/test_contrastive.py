"""CAL scores against a slow, obviously correct reference."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import entropy

from activelab.selection import cal_scores


def naive_cal(probs: np.ndarray, emb: np.ndarray, labelled: np.ndarray, k: int) -> np.ndarray:
    lab = np.flatnonzero(labelled)
    out = []
    for i in np.flatnonzero(~labelled):
        d = ((emb[lab] - emb[i]) ** 2).sum(axis=1)
        nearest = lab[np.lexsort((lab, d))[: min(k, len(lab))]]
        out.append(np.mean([entropy(probs[j], probs[i]) for j in nearest]))  # scipy: KL(p_j || p_i)
    return np.array(out)


@pytest.mark.parametrize(("n_lab", "k"), [(1, 3), (7, 3), (20, 10)])
def test_cal_matches_the_definition(n_lab: int, k: int) -> None:
    gen = np.random.default_rng(n_lab)
    probs = gen.dirichlet(np.ones(4), size=60)
    emb = gen.normal(size=(60, 5)).astype(np.float32)
    labelled = np.zeros(60, dtype=bool)
    labelled[gen.choice(60, n_lab, replace=False)] = True
    got = cal_scores(probs, emb, labelled, k, chunk_size=16)  # several blocks
    np.testing.assert_allclose(got, naive_cal(probs, emb, labelled, k), rtol=1e-6)


def test_cal_is_zero_when_neighbours_agree_and_checks_input() -> None:
    probs = np.tile([0.7, 0.3], (5, 1))
    emb = np.arange(5, dtype=np.float32)[:, None]
    lab = np.array([True, False, False, True, False])
    np.testing.assert_allclose(cal_scores(probs, emb, lab, 2), 0.0, atol=1e-12)
    with pytest.raises(ValueError, match="at least one labelled row"):
        cal_scores(probs, emb, np.zeros(5, bool))
    with pytest.raises(ValueError, match="embeddings must be"):
        cal_scores(probs, emb[:4], lab)
    with pytest.raises(ValueError, match="n_neighbors must be an int >= 1"):
        cal_scores(probs, emb, lab, 0)
    with pytest.raises(ValueError):
        cal_scores(np.full((5, 2), np.nan), emb, lab)
