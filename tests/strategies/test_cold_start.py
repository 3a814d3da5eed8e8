"""Every registered strategy runs from zero labels (``Budget(initial=0)``, ``activelab run --initial 0``).

A strategy that needs no model view (``needs`` within ``embeddings``/``inputs``) may pick the
first batch itself, as the initial strategy, on the input features; the others cannot choose
before a model exists, are refused as initial strategies with a message naming the view, and
run with the declared fallback: the run's initial strategy (``random`` by default).
"""

from __future__ import annotations

import numpy as np
import pytest

from activelab.checks import CheckModel, _toy_data
from activelab.engine import resolve_initial_strategy
from activelab.loop import ActiveLearner, Budget
from activelab.models.base import Views
from activelab.oracles import SimulatedOracle
from activelab.strategies import STRATEGIES, make

X, Y = _toy_data(150, 6, 3, 0)
SELF_STARTING = {"coreset", "dal", "kmeans", "probcover", "random", "typiclust"}


def _run(name: str, initial_strategy: str) -> list[int]:
    learner = ActiveLearner(
        CheckModel(3), make(name), SimulatedOracle(Y), X, budget=Budget(0, 8, 32), seed=0,
        initial_strategy=initial_strategy,
    )
    history = learner.run()
    assert learner.pool.n_labelled == 32
    return [r.n_labelled for r in history]


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_registered_strategy_runs_from_zero_labels(name: str) -> None:
    needs_model = [v for v in make(name).needs if v not in ("embeddings", "inputs")]
    if needs_model:
        with pytest.raises(ValueError, match=f"needs the view\\(s\\) '{needs_model[0]}'"):
            resolve_initial_strategy(name)
        assert name not in SELF_STARTING
        assert _run(name, "random") == [8, 16, 24, 32]  # the fallback: the run's initial strategy
    else:
        assert name in SELF_STARTING, f"{name} needs no model: add it to SELF_STARTING"
        assert _run(name, name) == [8, 16, 24, 32]  # it picks its own first batch too


@pytest.mark.parametrize("name", sorted(SELF_STARTING - {"random"}))
def test_a_self_starting_strategy_picks_the_first_batch_from_no_labels(name: str) -> None:
    views = Views(indices=np.arange(len(X)), labelled=np.zeros(len(X), bool), embeddings=X, inputs=X)
    from activelab.pool import Pool

    picked = make(name).select(views, Pool(len(X), 3), 9, np.random.default_rng(4))
    assert len(np.unique(picked)) == 9
    assert len(set(Y[picked].tolist())) == 3  # representative picks reach all three blobs


def test_dal_cold_start_is_kmeans_seeds_then_dal() -> None:
    from activelab.selection import discriminative
    from activelab.selection.coldstart import kmeans_initial

    views = Views(indices=np.arange(len(X)) + 7, labelled=np.zeros(len(X), bool), embeddings=X)
    got = make("dal", n_steps=5).select(views, None, 10, np.random.default_rng(1))  # type: ignore[arg-type]
    rng = np.random.default_rng(1)
    seeds = kmeans_initial(X, 2, rng)
    labelled = np.zeros(len(X), bool)
    labelled[seeds] = True
    rest = discriminative(X, labelled, 8, rng, n_steps=4)
    np.testing.assert_array_equal(got, np.concatenate([seeds, rest]) + 7)


@pytest.mark.parametrize("name", ["tcm", "selectal", "dal"])
def test_strategies_with_a_cold_start_rule_document_it(name: str) -> None:
    doc = type(make(name)).__doc__ or ""
    assert "initial strategy" in doc.lower() or "cold start" in doc.lower()
