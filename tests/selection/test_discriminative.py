"""Discriminative active learning: behaviour, determinism and errors."""

from __future__ import annotations

import numpy as np
import pytest

from activelab.errors import PoolExhaustedError
from activelab.selection import discriminative


def _data() -> tuple[np.ndarray, np.ndarray]:
    gen = np.random.default_rng(0)
    near = gen.normal(0.0, 1.0, size=(80, 3))  # labelled region, half of it labelled
    far = gen.normal(8.0, 0.5, size=(12, 3))  # a region with no labelled row
    x = np.concatenate([near, far])
    labelled = np.zeros(len(x), dtype=bool)
    labelled[:40] = True
    return x, labelled


@pytest.mark.parametrize("n_steps", [1, 4])
def test_dal_picks_the_unrepresented_region_first_and_is_deterministic(n_steps: int) -> None:
    x, labelled = _data()
    picks = discriminative(x, labelled, 8, np.random.default_rng(1), n_steps=n_steps)
    assert len(set(picks.tolist())) == 8 and not labelled[picks].any()
    assert (picks >= 80).sum() >= 6  # mostly from the far region (a linear discriminator)
    again = discriminative(x, labelled, 8, np.random.default_rng(1), n_steps=n_steps)
    np.testing.assert_array_equal(picks, again)
    # with a small max_train the unlabelled rows are subsampled, and the picks still come from there
    sub = discriminative(x, labelled, 4, np.random.default_rng(2), max_train=50)
    assert (sub >= 80).sum() >= 3


def test_dal_errors() -> None:
    x, labelled = _data()
    with pytest.raises(ValueError, match="at least one labelled row"):
        discriminative(x, np.zeros(len(x), bool), 3, np.random.default_rng(0))
    with pytest.raises(PoolExhaustedError):
        discriminative(x, labelled, 100, np.random.default_rng(0))
    with pytest.raises(ValueError, match="NaN or infinite"):
        discriminative(np.full_like(x, np.nan), labelled, 3, np.random.default_rng(0))
    with pytest.raises(ValueError, match="n_steps must be an int >= 1"):
        discriminative(x, labelled, 3, np.random.default_rng(0), n_steps=0)
    assert discriminative(x, labelled, 0, np.random.default_rng(0)).shape == (0,)


def _reference_dal(x, labelled, k, rng, n_steps, max_train):  # type: ignore[no-untyped-def]
    """Whole-array DAL: standardise everything, fit, score every unlabelled row (slow, obvious)."""
    from sklearn.linear_model import LogisticRegression

    from activelab.selection import top_k

    std = x.std(axis=0)
    z = ((x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)).astype(np.float32)
    mask, picks = labelled.copy(), []
    steps = min(n_steps, k)
    for s in range(steps):
        want = k * (s + 1) // steps - len(picks)
        lab, unl = np.flatnonzero(mask), np.flatnonzero(~mask)
        room = max(1, max_train - len(lab))
        train_unl = unl if len(unl) <= room else rng.choice(unl, size=room, replace=False)
        rows = np.concatenate([lab, train_unl])
        target = np.r_[np.zeros(len(lab), int), np.ones(len(train_unl), int)]
        clf = LogisticRegression(C=1.0, class_weight="balanced", max_iter=200).fit(z[rows], target)
        chosen = unl[top_k(clf.decision_function(z[unl]), want, rng)]  # the logit orders P(unlabelled)
        picks.extend(chosen.tolist())
        mask[chosen] = True
    return np.asarray(picks)


def test_dal_blockwise_matches_whole_array_reference() -> None:
    gen = np.random.default_rng(3)
    x = np.concatenate([gen.normal(0.0, 1.0, (19_000, 4)), gen.normal(2.5, 1.0, (1_000, 4))])  # > 2 blocks of 8,192
    labelled = np.zeros(len(x), dtype=bool)
    labelled[gen.choice(19_000, 300, replace=False)] = True
    got = discriminative(x, labelled, 30, np.random.default_rng(7), n_steps=3, max_train=5_000)
    want = _reference_dal(x, labelled, 30, np.random.default_rng(7), 3, 5_000)
    np.testing.assert_array_equal(got, want)
