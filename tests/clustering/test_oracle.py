"""Pair oracles: the noise model's statistics, determinism, validation."""

from __future__ import annotations

import numpy as np
import pytest

from activelab.clustering.oracle import CallbackPairOracle, NoisyPairOracle


@pytest.mark.parametrize("noise", [0.0, 0.2, 0.4])
def test_noise_statistics(noise: float) -> None:
    truth = np.arange(200) % 4
    pairs = np.random.default_rng(1).integers(0, 200, size=(40000, 2))
    pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    a = NoisyPairOracle(truth, noise).answer(pairs, np.random.default_rng(0))
    true = np.where(truth[a.pairs[:, 0]] == truth[a.pairs[:, 1]], 1.0, -1.0)
    noisy = np.abs(a.values) < 1.0
    m = len(pairs)
    assert abs(noisy.mean() - noise) < 4 * np.sqrt(noise * (1 - noise) / m) + 1e-12
    np.testing.assert_array_equal(a.values[~noisy], true[~noisy])
    if noise:
        mags = np.abs(a.values[noisy])
        assert mags.min() >= 0.15 and mags.max() <= 0.5
        assert abs(mags.mean() - 0.325) < 0.01
        assert abs((a.values[noisy] > 0).mean() - 0.5) < 0.03  # random sign, independent of truth
        agree = np.sign(a.values[noisy]) == true[noisy]
        assert abs(agree.mean() - 0.5) < 0.03
    assert a.answered.all()


def test_oracle_is_deterministic_given_rng() -> None:
    oracle = NoisyPairOracle(np.arange(10) % 2, 0.4)
    pairs = np.array([[0, 1], [2, 4], [3, 5]] * 20)
    a = oracle.answer(pairs, np.random.default_rng(3)).values
    b = oracle.answer(pairs, np.random.default_rng(3)).values
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("noise", [-0.1, 1.0, 1.5])
def test_noise_outside_unit_interval(noise: float) -> None:
    with pytest.raises(ValueError, match=r"noise must be a probability in \[0, 1\)"):
        NoisyPairOracle(np.zeros(3, dtype=int), noise)


def test_empty_truth_and_bad_pairs() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        NoisyPairOracle(np.zeros(0, dtype=int), 0.1)
    with pytest.raises(ValueError, match="two different items"):
        NoisyPairOracle(np.zeros(3, dtype=int)).answer(np.array([[2, 2]]), np.random.default_rng(0))


def test_callback_oracle_validates() -> None:
    ok = CallbackPairOracle(lambda p: [0.5] * len(p)).answer(np.array([[1, 0]]), np.random.default_rng(0))
    assert ok.pairs.tolist() == [[0, 1]] and ok.values.tolist() == [0.5]
    with pytest.raises(ValueError, match="returned 1 answers for 2 pairs"):
        CallbackPairOracle(lambda p: [1.0]).answer(np.array([[0, 1], [1, 2]]), np.random.default_rng(0))
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        CallbackPairOracle(lambda p: [2.0]).answer(np.array([[0, 1]]), np.random.default_rng(0))
    with pytest.raises(TypeError, match="callable"):
        CallbackPairOracle(3)  # type: ignore[arg-type]
