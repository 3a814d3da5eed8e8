"""ActiveClusterer: rounds, determinism, checkpoint/resume, callbacks, errors; the runner's outputs."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from activelab.clustering import (
    ActiveClusterer,
    CallbackPairOracle,
    NoisyPairOracle,
    make_pair_strategy,
    partition_prior,
    zero_prior,
)
from activelab.clustering.runner import ClusterConfigError, ClusterRunConfig, load_items, run_clustering
from activelab.experiments import ConfigError
from activelab.errors import ActiveLabError, CheckpointError
from activelab.loop import Callback

TRUTH = np.repeat([0, 1, 2], 12)
INIT = np.repeat([0, 1], 18)


def make(strategy: str = "maxexp", **kw: object) -> ActiveClusterer:
    args: dict[str, object] = dict(batch_size=15, budget=90, seed=3, truth=TRUTH, initial_labels=INIT)
    args.update(kw)
    return ActiveClusterer(make_pair_strategy(strategy), NoisyPairOracle(TRUTH, 0.2), partition_prior(INIT), **args)  # type: ignore[arg-type]


def test_rounds_and_records() -> None:
    history = make().run()
    assert [r.n_queries for r in history] == [0, 15, 30, 45, 60, 75, 90]
    assert history[-1].queried.shape == (0, 2) and history[0].queried.shape == (15, 2)
    frac = history.column("fraction_queried")
    np.testing.assert_allclose(frac, np.array([0, 15, 30, 45, 60, 75, 90]) / (36 * 35 / 2))
    assert {"ari", "ami", "n_clusters", "objective"} <= set(history[0].metrics)
    assert {"solve", "select", "label", "evaluate", "update"} == set(history[0].seconds)
    rows = history.to_rows()
    assert rows[2]["n_queries"] == 30 and "seconds_solve" in rows[2]
    assert history.auc("ari") == pytest.approx(np.mean(history.column("ari")))


def test_same_seed_same_run_different_seed_differs() -> None:
    a, b, c = make().run(), make().run(), make(seed=4).run()
    for ra, rb in zip(a, b, strict=True):
        np.testing.assert_array_equal(ra.queried, rb.queried)
        assert ra.metrics == rb.metrics
    assert any(not np.array_equal(ra.queried, rc.queried) for ra, rc in zip(a, c, strict=True))


class StopAfter(Callback):
    def __init__(self, n: int) -> None:
        self.n, self.seen = n, []

    def on_round_end(self, learner, record):  # type: ignore[no-untyped-def]
        self.seen.append(record.round_)
        return False if len(self.seen) >= self.n else None


def test_checkpoint_resume_is_exact(tmp_path) -> None:  # type: ignore[no-untyped-def]
    full = make().run()
    stop = StopAfter(3)
    first = make(checkpoint_dir=tmp_path, callbacks=[stop])
    first.run()
    assert stop.seen == [0, 1, 2]
    resumed = make(checkpoint_dir=tmp_path).run()
    assert len(resumed) == len(full)
    for ra, rb in zip(full, resumed, strict=True):
        np.testing.assert_array_equal(ra.queried, rb.queried)
        assert ra.metrics == rb.metrics
    with pytest.raises(CheckpointError, match="belongs to another run"):
        make(seed=9, checkpoint_dir=tmp_path).run()
    (tmp_path / "checkpoint.npz").write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="corrupt"):
        make(checkpoint_dir=tmp_path).run()


def _rewrite_checkpoint(path, edit) -> None:  # type: ignore[no-untyped-def]
    """Apply ``edit(arrays, meta)`` to the checkpoint at ``path`` (meta is the JSON record)."""
    import json

    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    meta = json.loads(arrays["meta"].tobytes().decode())
    edit(arrays, meta)
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **arrays)


def test_checkpoint_keeps_the_asked_pairs_in_an_array_and_reads_the_older_layout(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Pairs in ``history_queried`` (not the JSON); a file with them in each record still resumes exactly."""
    full = make().run()
    make(checkpoint_dir=tmp_path, callbacks=[StopAfter(3)]).run()
    path = tmp_path / "checkpoint.npz"
    with np.load(path) as data:
        assert data["history_queried"].shape == (45, 2)  # rounds 0-2, 15 pairs each
        assert b'"queried"' not in data["meta"].tobytes()
    saved = path.read_bytes()

    def older_layout(arrays, meta):  # type: ignore[no-untyped-def]
        parts = np.split(arrays.pop("history_queried"), np.cumsum(meta.pop("history_queried_rows"))[:-1])
        meta["history"] = [dict(d, queried=q.tolist()) for d, q in zip(meta["history"], parts, strict=True)]

    _rewrite_checkpoint(path, older_layout)
    resumed = make(checkpoint_dir=tmp_path).run()
    for ra, rb in zip(full, resumed, strict=True):
        np.testing.assert_array_equal(ra.queried, rb.queried)
        assert ra.metrics == rb.metrics
    path.write_bytes(saved)
    _rewrite_checkpoint(path, lambda arrays, meta: meta.update(history_queried_rows=[15, 15, 14]))
    with pytest.raises(CheckpointError, match="rounds' pairs do not add up"):
        make(checkpoint_dir=tmp_path).run()


def test_human_oracle_may_skip() -> None:
    oracle = CallbackPairOracle(lambda pairs: [None if p[0] % 2 else 1.0 for p in pairs])
    ac = ActiveClusterer(make_pair_strategy("uniform"), oracle, zero_prior(10), batch_size=5, budget=10, seed=0)
    history = ac.run()
    assert ac.store.n_queries <= 10 and len(history) >= 2


def test_errors() -> None:
    with pytest.raises(ValueError, match="budget .* exceeds the 135 answers"):
        ActiveClusterer(make_pair_strategy("uniform"), NoisyPairOracle(np.zeros(10, int)), zero_prior(10),
                        batch_size=5, budget=1000, tau=3)
    with pytest.raises(ValueError, match="batch_size must be an int >= 1"):
        make(batch_size=0)
    with pytest.raises(ValueError, match=r"truth must have shape \(36,\)"):
        make(truth=np.zeros(5, dtype=int))
    with pytest.raises(ValueError, match="at least 2 items"):
        ActiveClusterer(make_pair_strategy("uniform"), NoisyPairOracle(np.zeros(1, int)), zero_prior(1),
                        batch_size=1, budget=0)

    class Bad:
        name = "bad"

        def select(self, state, k, rng):  # type: ignore[no-untyped-def]
            return np.tile([[0, 0]], (k, 1))

    with pytest.raises(ActiveLabError, match="two different items"):
        ActiveClusterer(Bad(), NoisyPairOracle(TRUTH), partition_prior(INIT), batch_size=3, budget=3).run()


def test_runner_outputs_and_validation(tmp_path) -> None:  # type: ignore[no-untyped-def]
    config = ClusterRunConfig(("blobs10",), ("uniform", "maxexp"), batch=30, seeds=1, n_items=30,
                              budget_fraction=0.2, out=tmp_path)
    rounds = run_clustering(config)
    assert {"rounds.csv", "summary.csv", "curves.png", "jobs", "config.json"} <= {p.name for p in tmp_path.iterdir()}
    assert {"n_queries", "fraction_queried", "ari", "ami"} <= set(rounds.columns)
    summary = pd.read_csv(tmp_path / "summary.csv")
    assert list(summary["strategy"]) == ["uniform", "maxexp"]
    again = run_clustering(config)  # resumes: every job file exists
    pd.testing.assert_frame_equal(rounds, again)
    with pytest.raises(ConfigError, match="another protocol"):
        run_clustering(ClusterRunConfig(("blobs10",), ("uniform",), batch=10, seeds=1, n_items=30, out=tmp_path))
    with pytest.raises(ClusterConfigError, match=r"noise \(--noise\) must lie in \[0, 1\)"):
        ClusterRunConfig(("blobs10",), ("uniform",), noise=1.0, out=tmp_path)
    with pytest.raises(ClusterConfigError, match="budget_fraction"):
        ClusterRunConfig(("blobs10",), ("uniform",), budget_fraction=0.0, out=tmp_path)
    with pytest.raises(ClusterConfigError, match=r"beta \(--beta\) must be a positive finite"):
        ClusterRunConfig(("blobs10",), ("uniform",), beta=0.0, out=tmp_path)
    with pytest.raises(ConfigError, match="another protocol .*beta was 1.0, now 3.0"):
        run_clustering(dataclasses.replace(config, beta=3.0))
    # a config file written before beta existed counts as the default beta
    stored = json.loads((tmp_path / "config.json").read_text())
    del stored["beta"]
    (tmp_path / "config.json").write_text(json.dumps(stored))
    pd.testing.assert_frame_equal(run_clustering(config), rounds)


def test_runner_report_only_summarises_finished_jobs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    grid = ClusterRunConfig(("blobs10",), ("uniform", "maxmin"), batch=30, seeds=2, n_items=30, out=tmp_path)
    with pytest.raises(ConfigError, match="no finished job"):
        run_clustering(grid, run_missing=False)
    run_clustering(dataclasses.replace(grid, strategies=("uniform",), seeds=1))  # one job finished
    rounds = run_clustering(grid, run_missing=False)  # runs nothing
    assert set(rounds["strategy"]) == {"uniform"} and set(rounds["seed"]) == {0}
    assert sorted(p.name for p in (tmp_path / "jobs").iterdir()) == ["blobs10__uniform__seed0.csv", "blobs10__uniform__seed0.json"]
    assert pd.read_csv(tmp_path / "summary.csv")["n_seeds"].tolist() == [1]


def test_runner_beta_reaches_the_mean_field(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """eig's picks depend on beta, so two betas give two different histories."""
    runs = []
    for beta in (1.0, 5.0):
        config = ClusterRunConfig(("blobs10",), ("eig",), batch=20, seeds=1, n_items=40, budget_fraction=0.3,
                                  beta=beta, out=tmp_path / str(beta))
        runs.append(run_clustering(config)["ari"].to_numpy())
    assert not np.array_equal(runs[0], runs[1])


def test_empty_dataset_file_is_rejected(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "empty.npz"
    np.savez(path, X=np.zeros((0, 3), np.float32), y=np.zeros(0, np.int64))
    with pytest.raises((ValueError, ActiveLabError), match="empty|0 rows|at least"):
        load_items(str(path), 0, None)


class _Killed(Exception):
    """Stands for a kill -9 in the middle of a job."""


def test_runner_resumes_a_job_from_its_last_checkpointed_round(tmp_path, monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    from activelab.clustering import runner as runner_module

    config = ClusterRunConfig(("blobs10",), ("maxmin",), batch=20, seeds=1, n_items=30, budget_fraction=0.3, out=tmp_path / "o")
    whole = run_clustering(dataclasses.replace(config, out=tmp_path / "whole"), progress=False)
    steps: list[int] = []
    armed = [True]
    real_step = runner_module.ActiveClusterer.step

    def dying_step(self):  # type: ignore[no-untyped-def]
        steps.append(self.round_)
        if armed[0] and len(steps) == 4:
            raise _Killed
        return real_step(self)

    monkeypatch.setattr(runner_module.ActiveClusterer, "step", dying_step)
    with pytest.raises(_Killed):
        run_clustering(config, progress=False)
    steps.clear()
    armed[0] = False
    resumed = run_clustering(config, progress=True)
    assert steps[0] == 3 and "resuming 1 job from its last checkpointed round" in capsys.readouterr().err
    cols = [c for c in whole.columns if not c.startswith("seconds_")]
    pd.testing.assert_frame_equal(resumed[cols], whole[cols])


def test_metrics_count_clusters_of_any_label_dtype() -> None:
    from activelab.clustering import clustering_metrics

    truth = np.array([0, 0, 1, 1])
    assert clustering_metrics(truth, np.array([7, 7, 3, 9]), ami=False)["n_clusters"] == 3.0
    assert clustering_metrics(truth, np.array(["b", "b", "a", "c"]), ami=False)["n_clusters"] == 3.0
