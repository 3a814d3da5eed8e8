import numpy as np
import pytest
import torch

from activelab.errors import ActiveLabError, CapabilityError, PoolExhaustedError
from activelab.learned.features import N_FEATURES
from activelab.learned.proxy import LogisticProxy
from activelab.learned.scorer import CandidateScorer
from activelab.learned.strategy import DEFAULT_POLICY, PolicyStrategy, load_policy, save_policy
from activelab.loop import ActiveLearner, Budget
from activelab.models import TorchClassifier, compute_views, mlp
from activelab.oracles import SimulatedOracle
from activelab.pool import Pool
from activelab.strategies import make


@pytest.fixture(scope="module")
def blobs():
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=300, centers=4, n_features=6, cluster_std=3.0, random_state=0)
    return X.astype(np.float32), y


def _views(strategy, model, X, pool):
    rows = np.arange(len(X))
    return compute_views(model, X, rows, pool.labelled_mask, strategy.needs, rng=np.random.default_rng(0))


def _pool(y, n=20):
    pool = Pool(len(y), 4)
    pool.add_labels(np.arange(0, len(y), len(y) // n), y[:: len(y) // n], round_=0)
    return pool


def test_shipped_policy_loads_with_metadata():
    blob = load_policy(DEFAULT_POLICY)
    assert blob["kind"] == "pick"
    strategy = make("policy")
    assert strategy.policy_path == str(DEFAULT_POLICY)
    meta = strategy.metadata
    assert meta["reproduce"].startswith("activelab policy train")
    assert set(meta["config"]["sources"]).isdisjoint({"digits", "mnist1d", "mnist", "fashion-mnist", "newsgroups"})


def test_policy_on_proxy_and_torch_models(blobs):
    X, y = blobs
    pool = _pool(y)
    lab = pool.labelled_indices()
    strategy = make("policy")
    for model in (
        LogisticProxy(4).fit(X[lab], y[lab]),
        TorchClassifier(mlp((16,), 0.2), 4, epochs=5).fit(X[lab], y[lab], rng=np.random.default_rng(0)),
    ):
        views = _views(strategy, model, X, pool)
        a = strategy.select(views, pool, 7, np.random.default_rng(3))
        b = strategy.select(views, pool, 7, np.random.default_rng(3))
        np.testing.assert_array_equal(a, b)
        assert len(np.unique(a)) == 7 and pool.unlabelled_mask[a].all()
    with pytest.raises(PoolExhaustedError):
        strategy.select(views, pool, 281, np.random.default_rng(0))


def test_policy_follows_its_scorer(tmp_path, blobs):
    """A hand-made scorer whose logit is the margin rank must pick the smallest-margin candidates."""
    X, y = blobs
    net = CandidateScorer(N_FEATURES, hidden=4)
    with torch.no_grad():
        for p in net.parameters():
            p.zero_()
        net.row[0].weight[0, 5] = 1.0  # hidden unit 0 = margin_rank (percentile of 1 - gap)
        net.mix[0].weight[0, 0] = 1.0
        net.out.weight[0, 0] = 1.0
    path = save_policy(tmp_path / "p.pt", "pick", {"n_features": N_FEATURES, "hidden": 4, "weights": net.state_dict()}, {})
    pool = _pool(y)
    lab = pool.labelled_indices()
    model = LogisticProxy(4).fit(X[lab], y[lab])
    strategy = PolicyStrategy(path=path, n_candidates=1000)  # every unlabelled item is a candidate
    chosen = strategy.select(_views(strategy, model, X, pool), pool, 5, np.random.default_rng(0))
    p = np.sort(model.predict_proba(X[pool.unlabelled_indices()]), axis=1)
    expected = pool.unlabelled_indices()[np.argsort(p[:, -1] - p[:, -2])[:5]]
    assert set(chosen.tolist()) == set(expected.tolist())


def test_runs_in_the_loop_and_needs_embeddings(blobs):
    from activelab.models import SklearnClassifier
    from sklearn.linear_model import LogisticRegression

    X, y = blobs
    learner = ActiveLearner(LogisticProxy(4), make("policy"), SimulatedOracle(y), X, budget=Budget(10, 5, 25), seed=0)
    assert [r.n_labelled for r in learner.run()] == [10, 15, 20, 25]
    with pytest.raises(CapabilityError, match="embed"):
        ActiveLearner(SklearnClassifier(LogisticRegression(), 4), make("policy"), SimulatedOracle(y), X, budget=Budget(10, 5, 25))


def test_weights_and_heuristic_policy_files(tmp_path, blobs):
    from gymnasium import spaces
    from stable_baselines3.common.policies import ActorCriticPolicy

    X, y = blobs
    pool = _pool(y)
    lab = pool.labelled_indices()
    model = LogisticProxy(4).fit(X[lab], y[lab])
    obs = spaces.Box(-1.0, 5.0, (N_FEATURES,), np.float32)
    for kind, act, extra in (
        ("weights", spaces.Box(-1.0, 1.0, (12,), np.float32), {"n_weights": 12}),
        ("heuristic", spaces.Discrete(2), {"heuristics": ["margin", "entropy"]}),
    ):
        pol = ActorCriticPolicy(obs, act, lambda _: 1e-3, net_arch=[8])
        path = save_policy(tmp_path / f"{kind}.pt", kind, {"net_arch": [8], "weights": pol.state_dict(), **extra}, {})
        strategy = make("policy", path=path)
        chosen = strategy.select(_views(strategy, model, X, pool), pool, 6, np.random.default_rng(0))
        assert len(np.unique(chosen)) == 6 and pool.unlabelled_mask[chosen].all()


def test_file_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        make("policy", path=tmp_path / "missing.pt")
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a policy")
    with pytest.raises(ActiveLabError, match="not a readable policy file"):
        load_policy(bad)
    torch.save({"format": 99}, tmp_path / "other.pt")
    with pytest.raises(ActiveLabError, match="not an activelab policy file"):
        load_policy(tmp_path / "other.pt")
    with pytest.raises(ValueError, match="n_candidates must be >= 2"):
        PolicyStrategy(n_candidates=1)


def test_environment_variable_selects_the_default(tmp_path, monkeypatch):
    blob = load_policy(DEFAULT_POLICY)
    path = save_policy(tmp_path / "copy.pt", "pick", blob["state"], {"marker": 1})
    monkeypatch.setenv("ACTIVELAB_POLICY", str(path))
    assert make("policy").metadata == {"marker": 1}
