"""Cold-start strategies and the loop's initial-set selection (initial_strategy, Budget(initial=0))."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from activelab.errors import CapabilityError, UnknownNameError
from activelab.engine import input_features
from activelab.loop import ActiveLearner, Budget
from activelab.models import SklearnClassifier
from activelab.models.base import Views
from activelab.oracles import SimulatedOracle
from activelab.pool import Pool
from activelab.selection import kmeans_initial, probcover, reduce_features, typiclust
from activelab.strategies import make


@pytest.fixture(scope="module")
def blobs() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=120, centers=4, n_features=3, cluster_std=1.0, random_state=0)
    return X.astype(np.float32), y


def _views(X: np.ndarray, labelled: np.ndarray, *, extra: bool = False) -> Views:
    v = Views(indices=np.arange(100, 100 + len(X)), labelled=labelled, embeddings=X)
    if extra:
        v.extra["inputs"] = X
    return v


def test_strategies_call_the_selection_functions(blobs) -> None:
    X, _ = blobs
    lab = np.zeros(len(X), dtype=bool)
    lab[:7] = True
    pool = Pool(len(X), n_classes=4)
    v = _views(X, lab)
    got = make("typiclust").select(v, pool, 5, np.random.default_rng(0))
    np.testing.assert_array_equal(got, 100 + typiclust(X, lab, 5, np.random.default_rng(0)))
    pc = make("probcover")
    got = pc.select(v, pool, 5, np.random.default_rng(0))
    assert pc.last_delta is not None and pc.last_delta > 0
    np.testing.assert_array_equal(got, 100 + probcover(X, lab, 5, np.random.default_rng(0), pc.last_delta))
    got = make("probcover", delta=0.5).select(v, pool, 5, np.random.default_rng(0))
    np.testing.assert_array_equal(got, 100 + probcover(X, lab, 5, np.random.default_rng(0), 0.5))
    got = make("kmeans").select(v, pool, 4, np.random.default_rng(0))
    np.testing.assert_array_equal(got, 100 + kmeans_initial(X, 4, np.random.default_rng(0), labelled=lab))


def test_input_space(blobs) -> None:
    X, _ = blobs
    lab = np.zeros(len(X), dtype=bool)
    s = make("typiclust", space="input")
    assert s.needs == ("inputs",)
    with pytest.raises(CapabilityError, match="space='input' needs the 'inputs' view"):
        s.select(_views(X, lab), Pool(len(X)), 3, np.random.default_rng(0))
    a = s.select(_views(X, lab, extra=True), Pool(len(X)), 3, np.random.default_rng(0))
    b = make("typiclust").select(_views(X, lab), Pool(len(X)), 3, np.random.default_rng(0))
    np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="space must be 'embeddings' or 'input'"):
        make("kmeans", space="pixels")


@pytest.mark.parametrize("name", ["typiclust", "probcover", "kmeans"])
def test_pca_and_normalize_reshape_the_representation(blobs, name) -> None:
    """With pca/normalize the strategy picks what it picks on the reduced rows."""
    X, _ = blobs
    lab = np.zeros(len(X), dtype=bool)
    lab[:5] = True
    pool = Pool(len(X), n_classes=4)
    got = make(name, pca=2, normalize=True).select(_views(X, lab), pool, 4, np.random.default_rng(1))
    reduced = reduce_features(X, 2, True)
    ref = make(name).select(_views(reduced, lab), pool, 4, np.random.default_rng(1))
    np.testing.assert_array_equal(got, ref)
    with pytest.raises(ValueError, match="pca must be None or a number of components >= 1, got 0"):
        make(name, pca=0)
    with pytest.raises(TypeError, match="normalize must be a bool"):
        make(name, normalize="yes")


def test_probcover_builds_its_balls_once_per_representation(blobs, monkeypatch) -> None:
    """Same rows → balls reused, and the picks equal a fresh strategy's (as after a resume)."""
    import activelab.strategies.coldstart as cs

    X, _ = blobs
    calls = []
    real = cs.probcover_graph
    monkeypatch.setattr(cs, "probcover_graph", lambda *a, **kw: calls.append(1) or real(*a, **kw))
    pool = Pool(len(X), n_classes=4)
    lab = np.zeros(len(X), dtype=bool)
    s = make("probcover")
    first = s.select(_views(X, lab), pool, 5, np.random.default_rng(0))
    lab[first - 100] = True
    second = s.select(_views(X, lab), pool, 5, np.random.default_rng(1))
    assert len(calls) == 1 and not set(first) & set(second)
    fresh = make("probcover").select(_views(X, lab), pool, 5, np.random.default_rng(1))
    np.testing.assert_array_equal(second, fresh)
    s.select(_views(X + 1.0, lab), pool, 5, np.random.default_rng(1))  # other rows → rebuilt
    assert len(calls) == 3


def test_input_space_in_query_rounds(blobs) -> None:
    """The loop computes the 'inputs' view, so an input-space strategy also works after round 0."""
    X, y = blobs
    learner = _learner(X, y, strategy=make("kmeans", space="input"), budget=Budget(8, 8, 32))
    history = learner.run()
    assert history[-1].n_labelled == 32 and len(np.unique(learner.pool.labelled_indices())) == 32


def test_probcover_needs_delta_or_classes(blobs) -> None:
    X, _ = blobs
    with pytest.raises(ValueError, match="probcover needs delta, n_clusters, or a pool that knows"):
        make("probcover").select(_views(X, np.zeros(len(X), bool)), Pool(len(X)), 3, np.random.default_rng(0))


def test_probcover_knn_search_options(blobs) -> None:
    X, _ = blobs
    lab = np.zeros(len(X), dtype=bool)
    v, pool = _views(X, lab), Pool(len(X), n_classes=4)
    exact = make("probcover", delta=1.0, knn_search="exact").select(v, pool, 5, np.random.default_rng(0))
    np.testing.assert_array_equal(exact, make("probcover", delta=1.0).select(v, pool, 5, np.random.default_rng(0)))
    # probing every cell of the IVF index gives the exact balls
    ivf = make("probcover", delta=1.0, knn_search="ivf", n_probe=1000).select(v, pool, 5, np.random.default_rng(0))
    np.testing.assert_array_equal(ivf, exact)
    with pytest.raises(ValueError, match="knn_search must be 'auto', 'exact' or 'ivf', got 'kd'"):
        make("probcover", knn_search="kd")
    with pytest.raises(ValueError, match="n_probe must be an int >= 1, got 0"):
        make("probcover", n_probe=0)


# ----------------------------------------------------------------------------- the loop
def _learner(X, y, **kw):
    kw.setdefault("budget", Budget(8, 8, 24))
    return ActiveLearner(SklearnClassifier(LogisticRegression(max_iter=200), 4), kw.pop("strategy", make("margin")),
                         SimulatedOracle(y), X, seed=kw.pop("seed", 3), **kw)


def _initial_set(learner: ActiveLearner) -> np.ndarray:
    return np.flatnonzero(learner.pool.label_round == 0)


def test_random_initial_set_is_unchanged(blobs) -> None:
    X, y = blobs
    learner = _learner(X, y)
    learner.step()
    expected = np.sort(np.random.default_rng([3, 0, 0]).choice(len(X), 8, replace=False))
    np.testing.assert_array_equal(_initial_set(learner), expected)


@pytest.mark.parametrize("name", ["typiclust", "probcover", "kmeans", "coreset"])
def test_initial_strategy_runs_on_input_features_with_a_derived_rng(blobs, name) -> None:
    X, y = blobs
    learner = _learner(X, y, initial_strategy=name)
    learner.step()
    views = Views(indices=np.arange(len(X)), labelled=np.zeros(len(X), bool), embeddings=X, extra={"inputs": X})
    ref = make(name).select(views, Pool(len(X), 4), 8, np.random.default_rng([3, 0, 0]))
    np.testing.assert_array_equal(_initial_set(learner), np.sort(ref))
    # paired: another query strategy with the same seed gets the same initial set
    other = _learner(X, y, initial_strategy=name, strategy=make("entropy"))
    other.step()
    np.testing.assert_array_equal(_initial_set(other), _initial_set(learner))


def test_typiclust_initial_set_covers_the_blobs() -> None:
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=120, centers=4, n_features=3, cluster_std=0.3, random_state=0)
    learner = _learner(X, y, initial_strategy="typiclust", budget=Budget(4, 4, 8))
    learner.step()
    assert sorted(y[_initial_set(learner)].tolist()) == [0, 1, 2, 3]


def test_zero_initial_budget_cold_start(blobs) -> None:
    X, y = blobs
    learner = _learner(X, y, budget=Budget(0, 5, 20), initial_strategy="typiclust")
    history = learner.run()
    assert [r.n_labelled for r in history] == [5, 10, 15, 20]
    assert Budget(0, 5, 20).n_rounds == len(history) - 1
    first = _initial_set(learner)
    ref = typiclust(X, np.zeros(len(X), bool), 5, np.random.default_rng([3, 0, 0]))
    np.testing.assert_array_equal(first, np.sort(ref))
    assert [r.n_labelled for r in _learner(X, y, budget=Budget(0, 5, 3)).run()] == [3]


def test_input_space_strategy_picks_the_initial_set(blobs) -> None:
    """space='input' needs the 'inputs' view, which the loop provides before any model exists."""
    X, y = blobs
    picked = []
    for space in ("input", "embeddings"):
        learner = _learner(X, y, initial_strategy=make("typiclust", space=space, pca=2, normalize=True))
        learner.step()
        picked.append(np.sort(learner.pool.labelled_indices()))
    np.testing.assert_array_equal(picked[0], picked[1])


def test_initial_strategy_errors(blobs) -> None:
    X, y = blobs
    with pytest.raises(ValueError, match="initial strategy 'margin' needs the view\\(s\\) 'probs'"):
        _learner(X, y, initial_strategy="margin")
    with pytest.raises(UnknownNameError, match="Did you mean 'typiclust'"):
        _learner(X, y, initial_strategy="typiclst")
    with pytest.raises(TypeError, match="initial_strategy must be 'random'"):
        _learner(X, y, initial_strategy=3)

    class Bad:
        name = "bad"
        needs = ()

        def select(self, views, pool, k, rng):
            return np.zeros(k, dtype=np.int64)

    learner = _learner(X, y, initial_strategy=Bad())
    with pytest.raises(Exception, match="initial strategy 'bad' broke the rule"):
        learner.step()


def test_input_features_flattens_without_rescaling() -> None:
    X = np.arange(24, dtype=np.int64).reshape(3, 2, 4)
    out = input_features(X, chunk_size=2)
    assert out.dtype == np.float32 and out.shape == (3, 8)
    np.testing.assert_array_equal(out, X.reshape(3, 8))


def test_runner_initial_strategy_option(tmp_path) -> None:
    from activelab.experiments.runner import ConfigError, RunConfig, run_experiments

    with pytest.raises(ConfigError, match="initial strategy 'margin' needs"):
        RunConfig(("blobs",), ("random",), initial_strategy="margin", out=tmp_path)
    config = RunConfig(("blobs",), ("margin",), models=("logreg",), seeds=1, initial=0, query_size=5,
                       budget=10, initial_strategy="kmeans", out=tmp_path)
    rounds = run_experiments(config, progress=False)
    assert rounds["n_labelled"].tolist() == [5, 10]
    with pytest.raises(ConfigError, match="initial_strategy was 'kmeans', now 'random'"):
        run_experiments(RunConfig(("blobs",), ("margin",), models=("logreg",), seeds=1, initial=0, query_size=5,
                                  budget=10, out=tmp_path), progress=False)
