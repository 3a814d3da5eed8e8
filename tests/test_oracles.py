import numpy as np
import pytest

from activelab.oracles import Answers, CallbackOracle, NoisyOracle, SimulatedOracle


def test_simulated_returns_truth():
    y = np.array([2, 0, 1, 1])
    a = SimulatedOracle(y).label(np.array([3, 0]))
    assert a.labels.tolist() == [1, 2] and a.answered.all()


def test_noisy_flip_rate_and_repeatability():
    y = np.zeros(20000, dtype=np.int64)
    oracle = NoisyOracle(y, n_classes=4, flip_rate=0.2, seed=1)
    labels = oracle.label(np.arange(len(y))).labels
    assert abs((labels != 0).mean() - 0.2) < 0.01
    assert set(np.unique(labels[labels != 0])) == {1, 2, 3}  # a flip never gives the true class
    again = oracle.label(np.arange(len(y))).labels
    np.testing.assert_array_equal(labels, again)
    np.testing.assert_array_equal(labels, NoisyOracle(y, 4, 0.2, seed=1).label(np.arange(len(y))).labels)


def test_noisy_bad_rate():
    with pytest.raises(ValueError, match="flip_rate"):
        NoisyOracle(np.zeros(3, dtype=int), 2, 1.5)


def test_callback_skip():
    a = CallbackOracle(lambda idx: [None if i == 1 else 0 for i in idx]).label(np.array([0, 1, 2]))
    assert a.answered.tolist() == [True, False, True]


def test_answers_length_mismatch():
    with pytest.raises(ValueError, match="must answer every index"):
        Answers(np.arange(3), np.zeros(2), np.ones(3, bool))
