"""The learned pair policy (``learned``): its features, network, capped selection, file and training."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from activelab.clustering import NoisyPairOracle, make_pair_strategy, partition_prior
from activelab.clustering.candidates import all_pairs, violations
from activelab.clustering.runner import ClusterRunConfig, grid_of
from activelab.clustering.solvers import same_cluster_prob
from activelab.clustering.store import SimilarityStore
from activelab.clustering.strategies import Anchor, ClusterState, MaxTriangle
from activelab.clustering.strategies.learned import (
    NEG,
    POLICY_FEATURES,
    PairPolicy,
    PairScorer,
    capped_top_k,
    default_pair_policy_path,
    load_pair_policy,
    policy_features,
    save_pair_policy,
)
from activelab.errors import ActiveLabError


def _state(n: int = 30, seed: int = 0) -> ClusterState:
    rng = np.random.default_rng(seed)
    truth = np.arange(n) % 3
    store = SimilarityStore(partition_prior(rng.integers(0, 3, n), 0.1), tau=3)
    pairs = all_pairs(n)[rng.random(n * (n - 1) // 2) < 0.25]
    store.add(pairs, NoisyPairOracle(truth, 0.3).answer(pairs, rng).values)
    return ClusterState(store, rng.integers(0, 3, n), noise=0.3)


def test_features_match_a_pair_by_pair_reference() -> None:
    state = _state()
    pairs = all_pairs(state.n_items)
    f = policy_features(state, pairs, np.random.default_rng(0))
    assert f.shape == (len(pairs), len(POLICY_FEATURES)) and f.dtype == np.float32
    col = {name: f[:, i] for i, name in enumerate(POLICY_FEATURES)}
    store, labels, n = state.store, state.labels, state.n_items
    s = store.similarity(pairs)
    np.testing.assert_allclose(col["s"], s, rtol=1e-6)
    np.testing.assert_allclose(col["answers_over_tau"], store.counts_of(pairs) / 3, rtol=1e-6)
    np.testing.assert_array_equal(col["violates"], violations(store, labels, pairs))
    np.testing.assert_allclose(col["p_same"], same_cluster_prob(state.soft_assignments(), pairs), rtol=1e-5)
    # the triangle columns are maxexp's own edge scores, looked up pair by pair
    edges, score = MaxTriangle("maxexp", eps=0.0).edge_scores(_state(), np.random.default_rng(0))
    table = {(int(a), int(b)): float(c) for (a, b), c in zip(edges, score, strict=True)}
    ev = Anchor().evidence(state).toarray()
    deg = np.bincount(store.queried_pairs().ravel(), minlength=n)
    for r, (u, v) in enumerate(pairs.tolist()):
        assert col["triangle_edge"][r] == float((u, v) in table)
        assert col["triangle_cost"][r] == pytest.approx(table.get((u, v), 0.0), rel=1e-5)
        cu, cv = np.tanh(ev[u, labels[u]] / 3), np.tanh(ev[v, labels[v]] / 3)
        assert col["confidence_low"][r] == pytest.approx(min(cu, cv), abs=1e-6)
        assert col["confidence_high"][r] == pytest.approx(max(cu, cv), abs=1e-6)
        du, dv = np.log1p(deg[u]) / np.log1p(n), np.log1p(deg[v]) / np.log1p(n)
        assert col["answered_low"][r] == pytest.approx(min(du, dv), abs=1e-6)
        xu, xv = np.tanh(ev[u, labels[v]] / 3), np.tanh(ev[v, labels[u]] / 3)
        assert col["cross_evidence_low"][r] == pytest.approx(min(xu, xv), abs=1e-6)
        assert col["cross_evidence_high"][r] == pytest.approx(max(xu, xv), abs=1e-6)
        ou = max(0.0, max((np.tanh(ev[u, c] / 3) for c in range(ev.shape[1]) if c != labels[u]), default=0.0))
        ov = max(0.0, max((np.tanh(ev[v, c] / 3) for c in range(ev.shape[1]) if c != labels[v]), default=0.0))
        assert col["other_evidence_low"][r] == pytest.approx(min(ou, ov), abs=1e-6)
        assert col["other_evidence_high"][r] == pytest.approx(max(ou, ov), abs=1e-6)
        sizes = np.bincount(labels) / n
        assert col["size_small"][r] == pytest.approx(min(sizes[labels[u]], sizes[labels[v]]), abs=1e-6)
    assert (col["valid"] == 1).all() and np.allclose(col["noise"], 0.3)
    assert np.allclose(col["fraction_asked"], 10 * store.n_queries / (n * (n - 1) // 2))


def test_scorer_rows_are_independent_and_invalid_rows_are_never_picked() -> None:
    torch.manual_seed(0)
    net = PairScorer(len(POLICY_FEATURES), hidden=16)
    x = torch.rand(3, 7, len(POLICY_FEATURES))
    x[..., 0] = 1.0
    x[1, 2, 0] = 0.0
    logits, pooled = net(x)
    assert logits.shape == (3, 7) and pooled.shape == (3, 0)
    assert logits[1, 2] == NEG
    alone = net.score_rows(x[0].numpy(), chunk=2)
    np.testing.assert_allclose(alone, logits[0].detach().double().numpy(), rtol=1e-5)


def _capped_reference(pairs: np.ndarray, scores: np.ndarray, noise: np.ndarray, k: int, cap: int) -> list[int]:
    order = sorted(range(len(pairs)), key=lambda r: (-scores[r], noise[r]))
    used: dict[int, int] = {}
    keep: list[int] = []
    for r in order:
        a, b = pairs[r]
        if len(keep) < k and used.get(a, 0) < cap and used.get(b, 0) < cap:
            keep.append(r)
            used[a] = used.get(a, 0) + 1
            used[b] = used.get(b, 0) + 1
    return keep + [r for r in order if r not in keep][: k - len(keep)]


@pytest.mark.parametrize(("k", "cap"), [(5, 1), (12, 2), (40, 1), (66, 3)])
def test_capped_top_k_matches_a_plain_reference(k: int, cap: int) -> None:
    pairs = all_pairs(12)
    scores = np.random.default_rng(k).integers(0, 5, len(pairs)).astype(float)  # many ties
    got = capped_top_k(pairs, scores, k, cap, np.random.default_rng(3))
    noise = np.random.default_rng(3).random(len(pairs))
    want = pairs[_capped_reference(pairs, scores, noise, k, cap)]
    np.testing.assert_array_equal(got, want)
    counts = np.bincount(got[: min(k, 6)].ravel(), minlength=12)
    if k * 2 <= 12 * cap:
        assert counts.max() <= cap


def _save(tmp_path, features=None, **kw):  # type: ignore[no-untyped-def]
    torch.manual_seed(1)
    net = PairScorer(len(POLICY_FEATURES), hidden=8)
    path = save_pair_policy(net, tmp_path / "p.pt", max_per_item=kw.get("cap", 2), solver={"prior_weight": 0.3},
                            meta={"command": "test"})
    if features is not None:
        blob = torch.load(path, weights_only=True)
        blob["features"] = features
        torch.save(blob, path)
    return path, net


def test_policy_file_round_trip_and_contract(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path, net = _save(tmp_path)
    scorer, blob = load_pair_policy(path)
    for a, b in zip(net.state_dict().values(), scorer.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    policy = PairPolicy(path)
    assert policy.solver == {"prior_weight": 0.3} and policy.max_per_item == 2 and blob["meta"]["command"] == "test"
    a = policy.select(_state(), 20, np.random.default_rng(4))
    b = PairPolicy(path).select(_state(), 20, np.random.default_rng(4))
    np.testing.assert_array_equal(a, b)
    assert a.shape == (20, 2) and a.dtype == np.int64 and (a[:, 0] < a[:, 1]).all()
    assert len({tuple(p) for p in a.tolist()}) == 20 and (_state().store.counts_of(a) < 3).all()
    assert np.bincount(a.ravel()).max() <= 2  # 20 pairs among 30 items fit under the cap
    assert PairPolicy(path, max_per_item=1).max_per_item == 1


def test_policy_file_errors_name_the_fix(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ActiveLabError, match="not found; train one with `activelab policy train-pairs`"):
        PairPolicy(tmp_path / "missing.pt")
    path, _ = _save(tmp_path, features=["valid", "abs_s"])
    with pytest.raises(ActiveLabError, match="retrain it"):
        PairPolicy(path)
    torch.save({"weights": 1}, tmp_path / "other.pt")
    with pytest.raises(ActiveLabError, match="not a pair policy file"):
        PairPolicy(tmp_path / "other.pt")
    path, _ = _save(tmp_path)
    with pytest.raises(ValueError, match="max_per_item must be an int >= 1, got 0"):
        PairPolicy(path, max_per_item=0)


def test_the_shipped_policy_is_registered_and_its_hash_is_part_of_a_grid_job(tmp_path) -> None:  # type: ignore[no-untyped-def]
    policy = make_pair_strategy("learned")
    assert policy.path == default_pair_policy_path() and policy.solver
    assert "train-pairs" in policy.meta["command"]
    config = ClusterRunConfig(datasets=("blobs10",), strategies=("learned",), n_items=30, seeds=1, out=tmp_path)
    job = grid_of(config).jobs[0]
    meaning = job.data["pair strategy learned"]
    assert meaning["policy_sha256"] == policy.meaning()["policy_sha256"] and len(meaning["policy_sha256"]) == 64
    assert meaning["prior_weight"] == policy.solver["prior_weight"]
    json.dumps(job.data)  # the fingerprint stays plain JSON


def test_imitation_learns_the_expert_on_pair_features() -> None:
    """The trainer fits the listwise targets: an expert that wants violated pairs is imitated."""
    from activelab.learned.imitation import behaviour_clone

    states = [_state(seed=s) for s in range(6)]
    obs, scores = [], []
    for st in states:
        pairs = all_pairs(st.n_items)[::3]
        obs.append(policy_features(st, pairs, np.random.default_rng(0)))
        scores.append(violations(st.store, st.labels, pairs).astype(float))
    torch.manual_seed(0)
    net = PairScorer(len(POLICY_FEATURES), hidden=16)
    behaviour_clone(net, np.stack(obs[:5]), np.stack(scores[:5]), epochs=60, temperature=0.1,
                    rng=np.random.default_rng(0), lr=1e-2)
    held = net.score_rows(obs[5])
    top = np.argsort(-held)[: int(scores[5].sum())]
    assert scores[5][top].mean() > 0.9  # the held-out state's top scores are its violated pairs


def test_training_is_deterministic_and_records_its_episodes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from activelab.learned.pairs import PairTrainConfig, train_pair_policy

    config = PairTrainConfig(iterations=2, episodes=1, n_items=(40, 50), epochs=2, sample=64, picks=8, budget_fraction=0.05,
                             sources=("blobs", "digits"))
    a = train_pair_policy(config, tmp_path / "a.pt", command="c")
    b = train_pair_policy(config, tmp_path / "b.pt", command="c")
    sa, blob = load_pair_policy(a)
    sb, _ = load_pair_policy(b)
    for x, y in zip(sa.state_dict().values(), sb.state_dict().values(), strict=True):
        assert torch.equal(x, y)
    eps = blob["meta"]["episodes"]
    assert [e["iteration"] for e in eps] == [0, 1] and eps[1]["rollin"] == "learned"
    assert all(not any(p in e["task"] for p in ("ecoli", "yeast", "mushrooms", "cifar")) for e in eps)
    assert blob["solver"] == {"prior_weight": 0.3, "merge": "answers"}


@pytest.mark.parametrize(("field", "value", "message"), [
    ("episodes", 0, "episodes must be an int >= 1, got 0"),
    ("n_items", (2, 10), "3 <= lo <= hi"),
    ("picks", 900, r"picks must lie in \[0, sample=512\], got 900"),
    ("temperature", 0.0, "temperature must be > 0"),
    ("sources", ("mnist",), "sources must be a non-empty subset of"),
])
def test_train_config_errors(field: str, value: object, message: str) -> None:
    from activelab.learned.pairs import PairTrainConfig

    with pytest.raises(ValueError, match=message):
        PairTrainConfig(**{field: value})  # type: ignore[arg-type]


def test_cli_rejects_bad_settings_before_any_work() -> None:
    from typer.testing import CliRunner

    from activelab.cli.app import app

    result = CliRunner().invoke(app, ["policy", "train-pairs", "--out", "x.pt", "--episodes", "0"])
    assert result.exit_code == 2
    assert "episodes must be an int >= 1, got 0" in result.output

