"""Small, fast tasks for the learned-acquisition tests."""

from __future__ import annotations

import numpy as np
import pytest

from activelab.learned.tasks import TaskSampler


@pytest.fixture(scope="session")
def small_sampler() -> TaskSampler:
    """Generated tasks only, logistic proxy, 200 rows, 2-3 rounds of 1-4 picks, K <= 12."""
    return TaskSampler(
        sources=("generated",), learners=("logreg",), query_sizes=(1, 2, 4), rounds=(2, 3),
        max_candidates=12, n_items=200,
    )


@pytest.fixture(scope="session")
def small_task(small_sampler):
    return small_sampler.sample(np.random.default_rng(3))
