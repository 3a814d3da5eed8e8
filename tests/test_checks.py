"""The public conformance checks: every registered strategy and model passes; broken ones are named."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from activelab.checks import MODEL_RULES, STRATEGY_RULES, CheckModel, ModelContractError, check_model, check_strategy
from activelab.errors import StrategyContractError
from activelab.models import DeepEnsemble, SklearnClassifier, TorchClassifier, mlp
from activelab.strategies import STRATEGIES, make
from activelab.strategies.base import candidate_rows
from activelab.strategies.registry import _SAMPLINGS, _accepts_sampling

REGISTERED = sorted(STRATEGIES)
#: power_/softmax_/rank_ + every sampleable base, as make() derives them
GENERATED = sorted(
    f"{prefix}_{base}" for base in REGISTERED if _accepts_sampling(base) and base.partition("_")[0] not in _SAMPLINGS
    for prefix in _SAMPLINGS if f"{prefix}_{base}" not in STRATEGIES
)


def test_the_generated_variants_are_many():
    assert len(GENERATED) >= 20 and "rank_variation_ratio" in GENERATED and "power_epig" not in GENERATED


@pytest.mark.parametrize("name", REGISTERED + GENERATED)
def test_every_registered_and_generated_strategy_passes(name):
    check_strategy(make(name))


class _Base:
    name, needs, needs_labelled, n_draws = "broken", ("probs",), False, 0


class Labelled(_Base):
    def select(self, views, pool, k, rng):
        return np.asarray(pool.labelled_indices()[:k])


class Dupes(_Base):
    def select(self, views, pool, k, rng):
        return np.repeat(pool.unlabelled_indices()[:1], k)


class WrongCount(_Base):
    def select(self, views, pool, k, rng):
        return pool.unlabelled_indices()[: k - 1]


class Floats(_Base):
    def select(self, views, pool, k, rng):
        return pool.unlabelled_indices()[:k].astype(float)


class GlobalRandom(_Base):
    def select(self, views, pool, k, rng):
        return np.random.choice(pool.unlabelled_indices(), k, replace=False)  # noqa: NPY002


class TouchesThePool(_Base):
    def select(self, views, pool, k, rng):
        pool.skipped[pool.unlabelled_indices()[-1]] = True
        return pool.unlabelled_indices()[:k]


class NeverExhausted(_Base):
    def select(self, views, pool, k, rng):
        return pool.unlabelled_indices()[:k]


class HiddenState(_Base):
    """Rotates its picks by the number of earlier calls, and checkpoints nothing."""

    def __init__(self):
        self.calls = 0

    def select(self, views, pool, k, rng):
        rows = candidate_rows(views, k)
        self.calls += 1
        return views.indices[np.roll(rows, -self.calls)[:k]]


class MissingNeeds:
    name, needs_labelled = "no_needs", False

    def select(self, views, pool, k, rng):
        return pool.unlabelled_indices()[:k]


@pytest.mark.parametrize(
    ("strategy", "rule"),
    [
        (Labelled(), "indices are unlabelled items"),
        (Dupes(), "indices are unique"),
        (WrongCount(), "exactly k indices"),
        (Floats(), "indices are integers"),
        (GlobalRandom(), STRATEGY_RULES[2]),
        (TouchesThePool(), STRATEGY_RULES[3]),
        (NeverExhausted(), "raises PoolExhaustedError"),
        (HiddenState(), STRATEGY_RULES[5]),
        (MissingNeeds(), STRATEGY_RULES[0]),
    ],
)
def test_a_broken_strategy_gets_the_rule_it_broke(strategy, rule):
    with pytest.raises(StrategyContractError, match=rule.replace("(", r"\(").replace(")", r"\)")):
        check_strategy(strategy)


def test_the_policy_without_its_state_fails_the_checkpoint_rule(monkeypatch):
    import activelab.learned.strategy as policy

    monkeypatch.delattr(policy.PolicyStrategy, "state_dict")
    with pytest.raises(StrategyContractError, match="restored after round"):
        check_strategy(make("policy"))


def test_check_strategy_leaves_the_object_alone():
    albl = make("albl")
    before = albl.state_dict()
    check_strategy(albl)
    assert albl.state_dict() == before


@pytest.mark.parametrize(
    "model",
    [
        CheckModel(3),
        SklearnClassifier(LogisticRegression(max_iter=200), 3),
        TorchClassifier(mlp((8,), 0.25), 3, epochs=3),
        DeepEnsemble(TorchClassifier(mlp((8,), 0.0), 3, epochs=2), n_members=2),
    ],
    ids=["check_model", "sklearn", "torch", "ensemble"],
)
def test_models_pass(model):
    check_model(model)



class Unnormalised(CheckModel):
    def predict_proba(self, X):
        return super().predict_proba(X) * 2


class GlobalSeeded(CheckModel):
    def fit(self, X, y, *, rng):
        return super().fit(X, y, rng=np.random.default_rng(np.random.randint(1 << 30)))  # noqa: NPY002


class FlatEmbeddings(CheckModel):
    def embed(self, X):
        return super().embed(X).ravel()


class ForgetfulState(CheckModel):
    def state_dict(self):
        return {"weights": self.weights_, "centroids": np.zeros_like(self.centroids_)}


@pytest.mark.parametrize(
    ("model", "rule"),
    [
        (Unnormalised(3), MODEL_RULES[1]),
        (GlobalSeeded(3), MODEL_RULES[2]),
        (FlatEmbeddings(3), MODEL_RULES[3]),
        (ForgetfulState(3), MODEL_RULES[4]),
    ],
)
def test_a_broken_model_gets_the_rule_it_broke(model, rule):
    with pytest.raises(ModelContractError, match=rule.replace("(", r"\(").replace(")", r"\)")):
        check_model(model)


def test_model_without_classes():
    class NoClasses:
        def fit(self, X, y, *, rng):
            return self

        def predict_proba(self, X):
            return np.full((len(X), 2), 0.5)

    with pytest.raises(ModelContractError, match="n_classes must be an int"):
        check_model(NoClasses())
