"""The experiment runner: outputs, summary numbers, pairing, determinism, resume, parallel workers."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from activelab.errors import CapabilityError, UnknownNameError
from activelab.experiments import ConfigError, RunConfig, learning_curve_auc, run_experiments, summarise
from activelab.experiments import runner as runner_module
from activelab.experiments.runner import ROUND_COLUMNS

STRATEGIES = ("random", "margin", "badge")
N_SEEDS = 2
N_ROUNDS = 3  # 10, 20, 30 labels


def tiny_config(out: Path, **changes: object) -> RunConfig:
    """blobs, three strategies, two seeds, three rounds of a 5-epoch MLP: about a second."""
    params: dict[str, object] = {
        "datasets": ("blobs",),
        "strategies": STRATEGIES,
        "models": ("mlp",),
        "seeds": N_SEEDS,
        "initial": 10,
        "query_size": 10,
        "budget": 30,
        "epochs": 5,
        "out": out,
    }
    params.update(changes)
    return RunConfig(**params)  # type: ignore[arg-type]


def results(out: Path) -> pd.DataFrame:
    """rounds.csv without the wall-time columns."""
    rounds = pd.read_csv(out / "rounds.csv")
    return rounds.drop(columns=[c for c in rounds.columns if c.startswith("seconds_")])


@pytest.fixture(scope="module")
def base_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[RunConfig, pd.DataFrame]:
    config = tiny_config(tmp_path_factory.mktemp("base") / "out")
    return config, run_experiments(config, progress=False)


def test_writes_files_with_the_contract_columns(base_run: tuple[RunConfig, pd.DataFrame]) -> None:
    config, rounds = base_run
    out = config.out
    for name in ("rounds.csv", "summary.csv", "curves.png"):
        assert (out / name).is_file(), name
    jobs = sorted(p.name for p in (out / "jobs").iterdir())
    assert jobs == sorted(
        f"blobs__{s}__mlp__seed{k}.{ext}" for s in STRATEGIES for k in range(N_SEEDS) for ext in ("csv", "queries.csv", "json")
    )  # no checkpoint directory is left
    on_disk = pd.read_csv(out / "rounds.csv")
    assert list(on_disk.columns[: len(ROUND_COLUMNS)]) == list(ROUND_COLUMNS)
    assert len(on_disk) == len(STRATEGIES) * N_SEEDS * N_ROUNDS
    assert on_disk.groupby(["strategy", "seed"])["n_labelled"].apply(list).map(tuple).unique().tolist() == [
        (10, 20, 30)
    ]
    pd.testing.assert_frame_equal(on_disk, rounds, check_dtype=False)
    summary = pd.read_csv(out / "summary.csv")
    assert list(summary.columns) == [
        "dataset", "strategy", "model", "auc_mean", "auc_std", "final_accuracy_mean",
        "final_accuracy_std", "n_seeds", "labels_mean", "n_stopped_early", "stop_reasons", "seconds_per_round",
    ]
    assert (summary["labels_mean"] == 30).all() and (summary["n_stopped_early"] == 0).all()
    assert summary["strategy"].tolist() == list(STRATEGIES)
    assert (summary["n_seeds"] == N_SEEDS).all()
    assert ((on_disk["accuracy"] > 0) & (on_disk["accuracy"] <= 1)).all()
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_summary_equals_recomputation_from_rounds(base_run: tuple[RunConfig, pd.DataFrame]) -> None:
    config, _ = base_run
    rounds = pd.read_csv(config.out / "rounds.csv")
    summary = pd.read_csv(config.out / "summary.csv").set_index("strategy")
    for strategy, group in rounds.groupby("strategy"):
        curves = [g.sort_values("round")["accuracy"].to_numpy() for _, g in group.groupby("seed")]
        aucs = np.array([c.mean() for c in curves])
        finals = np.array([c[-1] for c in curves])
        row = summary.loc[strategy]
        assert row["auc_mean"] == pytest.approx(aucs.mean(), abs=1e-12)
        assert row["auc_std"] == pytest.approx(aucs.std(ddof=1), abs=1e-12)
        assert row["final_accuracy_mean"] == pytest.approx(finals.mean(), abs=1e-12)
        assert row["final_accuracy_std"] == pytest.approx(finals.std(ddof=1), abs=1e-12)
        seconds = group.filter(like="seconds_").sum(axis=1).mean()
        assert row["seconds_per_round"] == pytest.approx(seconds)


def test_round_zero_is_paired_across_strategies(base_run: tuple[RunConfig, pd.DataFrame]) -> None:
    _, rounds = base_run
    first = rounds[rounds["round"] == 0]
    per_seed = first.groupby("seed")["accuracy"].nunique()
    assert (per_seed == 1).all(), first
    # ... and seeds really differ (split, initial set and init all depend on the seed).
    assert first.groupby("seed")["accuracy"].first().nunique() == N_SEEDS


def test_same_config_gives_identical_results(base_run: tuple[RunConfig, pd.DataFrame], tmp_path: Path) -> None:
    config, _ = base_run
    run_experiments(dataclasses.replace(config, out=tmp_path / "again"), progress=False)
    pd.testing.assert_frame_equal(results(config.out), results(tmp_path / "again"))


def test_resume_recomputes_only_missing_jobs(
    base_run: tuple[RunConfig, pd.DataFrame], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config, _ = base_run
    out = tmp_path / "copy"
    shutil.copytree(config.out, out)
    missing = out / "jobs" / "blobs__margin__mlp__seed1.csv"
    missing.unlink()
    rewritten = {missing.name, "blobs__margin__mlp__seed1.queries.csv", "blobs__margin__mlp__seed1.json"}
    before = {p.name: p.stat().st_mtime_ns for p in (out / "jobs").iterdir() if p.name not in rewritten}
    ran: list[str] = []
    real = runner_module.run_job

    def counting(job, *args, **kwargs):  # type: ignore[no-untyped-def]
        ran.append(job.filename)
        return real(job, *args, **kwargs)

    monkeypatch.setattr(runner_module, "run_job", counting)
    run_experiments(dataclasses.replace(config, out=out), progress=False)
    assert ran == [missing.name]
    assert missing.is_file()
    after = {p.name: p.stat().st_mtime_ns for p in (out / "jobs").iterdir() if p.name not in rewritten}
    assert after == before
    pd.testing.assert_frame_equal(results(config.out), results(out))


def test_two_workers_match_one(base_run: tuple[RunConfig, pd.DataFrame], tmp_path: Path) -> None:
    config, _ = base_run
    run_experiments(dataclasses.replace(config, workers=2, out=tmp_path / "par"), progress=False)
    pd.testing.assert_frame_equal(results(config.out), results(tmp_path / "par"))


def test_file_dataset_is_named_by_its_stem(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(90, 3)).astype(np.float32)
    y = np.repeat(np.arange(3), 30)
    X[np.arange(90), y] += 4.0
    path = tmp_path / "my data.npz"
    np.savez(path, X=X, y=y)
    config = RunConfig((str(path),), ("random",), models=("logreg",), seeds=1, initial=6, query_size=6,
                       budget=18, out=tmp_path / "out")
    rounds = run_experiments(config, progress=False)
    assert set(rounds["dataset"]) == {"my_data"}
    assert (tmp_path / "out" / "jobs" / "my_data__random__logreg__seed0.csv").is_file()


# ---------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    ("changes", "error", "match"),
    [
        ({"strategies": ("random", "entopy")}, UnknownNameError, "Did you mean 'entropy'"),
        ({"models": ("mpl",)}, UnknownNameError, "Did you mean 'mlp'"),
        ({"datasets": ("blob",)}, UnknownNameError, "Did you mean 'blobs'"),
        ({"budget": 5000}, ConfigError, r"exceeds the pool of dataset 'blobs' \(2000 items"),
        ({"models": ("logreg",), "epochs": None, "strategies": ("bald",)}, CapabilityError, "bald"),
        ({"update": "warm"}, UnknownNameError, "Did you mean 'warm_start'"),
    ],
)
def test_invalid_names_and_budget_fail_before_any_work(
    tmp_path: Path, changes: dict[str, object], error: type[Exception], match: str
) -> None:
    out = tmp_path / "out"
    with pytest.raises(error, match=match):
        run_experiments(tiny_config(out, **changes), progress=False)
    assert not out.exists()


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"budget": 5}, r"budget \(--budget 5\) is smaller than the initial set \(--initial 10\)"),
        ({"workers": 0}, r"workers \(--workers\) must be an int >= 1, got 0"),
        ({"seeds": 0}, r"seeds \(--seeds\) must be an int >= 1, got 0"),
        ({"strategies": ("random", "random")}, "more than once"),
        ({"strategies": ()}, "strategies is empty"),
        ({"device": "gpu"}, "'cpu' or 'cuda'"),
        ({"strategy_options": {"bald": {"beta": 2.0}}}, "names strategy 'bald', which is neither among"),
        ({"strategy_options": {"margin": {"x": object()}}}, "not JSON-serialisable"),
    ],
)
def test_config_values_are_checked(tmp_path: Path, changes: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        tiny_config(tmp_path, **changes)


def test_config_types_are_checked(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="seeds .* must be an int, got float"):
        tiny_config(tmp_path, seeds=2.0)


def test_another_protocol_in_the_same_out_is_refused(base_run: tuple[RunConfig, pd.DataFrame]) -> None:
    config, _ = base_run
    with pytest.raises(ConfigError, match="another protocol .*budget was 30, now 40"):
        run_experiments(dataclasses.replace(config, budget=40), progress=False)


def test_strategy_options_reach_the_strategy_and_the_protocol(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Options build the strategy of every job, are checked before any work and are part of the protocol."""
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match="strategy_options .*strategy 'margin'.*bogus"):
        run_experiments(tiny_config(out, strategies=("margin",), strategy_options={"margin": {"bogus": 1}}), progress=False)
    assert not out.exists()
    init = tiny_config(out, strategies=("margin",), initial_strategy="typiclust", strategy_options={"typiclust": {"pca": 0}})
    with pytest.raises(ConfigError, match="pca must be None or a number of components >= 1, got 0"):
        run_experiments(init, progress=False)
    assert not out.exists()
    built: list[tuple[str, dict[str, object]]] = []
    real_make = runner_module.make

    def recording_make(name: str, **kwargs: object) -> object:
        built.append((name, kwargs))
        return real_make(name, **kwargs)

    monkeypatch.setattr(runner_module, "make", recording_make)
    opts = {"margin": {"sampling": "power", "beta": 1.0}}
    config = tiny_config(out, strategies=("margin", "random"), seeds=1, strategy_options=opts)
    run_experiments(config, progress=False)
    assert ("margin", opts["margin"]) in built and ("random", {}) in built
    assert all(kw == opts["margin"] for name, kw in built if name == "margin")
    assert json.loads((out / "config.json").read_text())["strategy_options"] == opts
    built.clear()
    cold = {"typiclust": {"space": "input", "pca": 2, "normalize": True}}
    run_experiments(tiny_config(tmp_path / "cold", strategies=("margin",), seeds=1, initial=10,
                                initial_strategy="typiclust", strategy_options=cold), progress=False)
    assert ("typiclust", cold["typiclust"]) in built  # the initial strategy is built with its options
    with pytest.raises(ConfigError, match="another protocol .*strategy_options was"):
        run_experiments(dataclasses.replace(config, strategy_options={"margin": {"sampling": "power", "beta": 2.0}}), progress=False)


def test_stopping_criteria_end_jobs_and_are_recorded(tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(UnknownNameError, match="Did you mean 'max_uncertainty'"):
        tiny_config(out, stopping={"max_uncertain": {}})
    with pytest.raises(ConfigError, match=r"stopping \(--stop\).*threshold"):
        run_experiments(tiny_config(out, stopping={"max_uncertainty": {}}), progress=False)  # threshold is required
    assert not out.exists()
    # least confidence is at most 1 - 1/C < 10: the criterion fires after the first fit
    config = tiny_config(out, strategies=("margin",), seeds=1, stopping={"max_uncertainty": {"threshold": 10.0}})
    rows = run_experiments(config, progress=False)
    assert len(rows) == 1 and rows["stop_reason"].iloc[-1].startswith("max_uncertainty:")
    assert json.loads((out / "config.json").read_text())["stopping"] == {"max_uncertainty": {"threshold": 10.0}}
    plain = run_experiments(tiny_config(tmp_path / "plain", strategies=("margin",), seeds=1), progress=False)
    assert len(plain) == N_ROUNDS and "stop_reason" not in plain


# ------------------------------------------------------------------------------- metrics
def test_learning_curve_auc_is_the_mean_and_validates() -> None:
    assert learning_curve_auc([0.2, 0.4, 0.9]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="empty"):
        learning_curve_auc([])
    with pytest.raises(ValueError, match="NaN"):
        learning_curve_auc([0.5, float("nan")])


def test_summarise_single_seed_has_zero_std_and_names_missing_columns() -> None:
    df = pd.DataFrame({"dataset": "d", "strategy": "s", "model": "m", "seed": 0, "round": [1, 0],
                       "accuracy": [0.9, 0.5], "seconds_fit": [1.0, 3.0]})
    row = summarise(df).iloc[0]
    assert row["auc_mean"] == pytest.approx(0.7)
    assert (row["auc_std"], row["final_accuracy_mean"], row["n_seeds"]) == (0.0, 0.9, 1)
    assert row["seconds_per_round"] == 2.0
    with pytest.raises(ValueError, match=r"missing the columns \['accuracy'\]"):
        summarise(df.drop(columns="accuracy"))



# ---------------------------------------------------------------------- issue 19: reliability
def _npz(path: Path, seed: int = 0, shuffle: bool = False, scale: float = 1.0) -> Path:
    rng = np.random.default_rng(seed)
    y = np.arange(150) % 3
    X = rng.normal(size=(150, 4))
    X[np.arange(150), y] += 3.0
    X[:, 3] = X[:, 3] * 1000.0 * scale + 5000.0  # an unscaled feature
    if shuffle:
        y = np.random.default_rng(1).permutation(y)
    np.savez(path, X=X.astype(np.float32), y=y)
    return path


def _file_config(tmp_path: Path, out: str = "out", **changes: object) -> RunConfig:
    params: dict[str, object] = {"datasets": (str(tmp_path / "d.npz"),), "strategies": ("margin",), "models": ("logreg",),
                                 "seeds": 2, "initial": 9, "query_size": 6, "budget": 33, "epochs": None,
                                 "out": tmp_path / out}
    params.update(changes)
    return RunConfig(**params)  # type: ignore[arg-type]


def test_queries_csv_names_every_labelled_item_with_its_round_and_row(tmp_path: Path) -> None:
    _npz(tmp_path / "d.npz")
    config = _file_config(tmp_path, scale="none")
    rounds = run_experiments(config, progress=False)
    queries = pd.read_csv(config.out / "queries.csv")
    assert list(queries.columns) == list(runner_module.QUERY_COLUMNS)
    for seed, q in queries.groupby("seed"):
        curve = rounds[rounds["seed"] == seed]
        per_round = q.groupby("round").size().cumsum()
        assert per_round.tolist() == curve["n_labelled"].tolist()  # round r's model saw exactly those labels
        assert q["index"].is_unique and (q["label"] >= 0).all()
        data = np.load(tmp_path / "d.npz")
        ds, rows = runner_module.load_job_data(runner_module.plan_jobs(config)[seed], config)
        np.testing.assert_array_equal(data["X"][q["row"]], ds.X[q["index"]])  # row = the file's row
        np.testing.assert_array_equal(data["y"][q["row"]], q["label"])
    assert len(pd.read_csv(config.out / "jobs" / "d__margin__logreg__seed1.queries.csv")) == 33


def test_user_files_are_standardised_on_the_pool_by_default(tmp_path: Path) -> None:
    _npz(tmp_path / "d.npz")
    config = _file_config(tmp_path)
    assert config.scale == "standard"
    ds, _ = runner_module.load_job_data(runner_module.plan_jobs(config)[0], config)
    np.testing.assert_allclose(ds.X.mean(0), 0.0, atol=1e-4)
    assert abs(float(ds.X_test[:, 3].mean())) < 1.0  # transformed with the pool's statistics
    raw, _ = runner_module.load_job_data(runner_module.plan_jobs(dataclasses.replace(config, scale="none"))[0],
                                          dataclasses.replace(config, scale="none"))
    assert raw.X[:, 3].mean() > 1000
    run_experiments(config, progress=False)
    assert json.loads((config.out / "config.json").read_text())["scale"] == "standard"
    with pytest.raises(ConfigError, match="another protocol .*scale was 'standard', now 'minmax'"):
        run_experiments(dataclasses.replace(config, scale="minmax"), progress=False)
    digits = tiny_config(tmp_path / "b", seeds=1, strategies=("margin",), scale="minmax")
    blobs_raw = runner_module.load_job_data(runner_module.plan_jobs(digits)[0], digits)[0]
    np.testing.assert_array_equal(blobs_raw.X, runner_module.load_job_data(
        runner_module.plan_jobs(dataclasses.replace(digits, scale="none"))[0], dataclasses.replace(digits, scale="none"))[0].X)


def test_edited_data_are_detected_and_the_jobs_redone(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _npz(tmp_path / "d.npz")
    config = _file_config(tmp_path)
    before = results(config.out) if run_experiments(config, progress=False) is not None else None
    _npz(tmp_path / "d.npz", shuffle=True)  # same shape, labels shuffled
    run_experiments(config, progress=True)
    err = capsys.readouterr().err
    assert "redoing 2 jobs (d/margin/logreg/seed0, d/margin/logreg/seed1): dataset 'd' changed since they ran" in err
    assert not results(config.out).equals(before)


def test_a_truncated_job_file_is_redone_not_reused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _npz(tmp_path / "d.npz")
    config = _file_config(tmp_path)
    run_experiments(config, progress=False)
    clean = results(config.out)
    job = config.out / "jobs" / "d__margin__logreg__seed0.csv"
    job.write_text("".join(job.read_text().splitlines(keepends=True)[:4]))
    run_experiments(config, progress=True)
    assert "file d__margin__logreg__seed0.csv is truncated (3 rows, manifest says 5)" in capsys.readouterr().err
    pd.testing.assert_frame_equal(results(config.out), clean)


class _Killed(Exception):
    """Stands for a kill -9 in the middle of a job."""


def test_a_job_resumes_from_its_last_checkpointed_round(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    config = tiny_config(tmp_path / "out", strategies=("margin",), seeds=1, budget=50)
    uninterrupted = run_experiments(dataclasses.replace(config, out=tmp_path / "whole"), progress=False)
    steps: list[int] = []
    armed = [True]
    real_step = runner_module.ActiveLearner.step

    def dying_step(self):  # type: ignore[no-untyped-def]
        steps.append(self.round_)
        if armed[0] and len(steps) == 3:
            raise _Killed
        return real_step(self)

    monkeypatch.setattr(runner_module.ActiveLearner, "step", dying_step)
    with pytest.raises(_Killed):
        run_experiments(config, progress=False)
    assert (config.out / "jobs" / "blobs__margin__mlp__seed0.ckpt" / "checkpoint.npz").is_file()
    steps.clear()
    armed[0] = False
    resumed = run_experiments(config, progress=True)
    assert steps[0] == 2  # rounds 0 and 1 were not run again
    assert "resuming 1 job from its last checkpointed round" in capsys.readouterr().err
    cols = [c for c in resumed.columns if not c.startswith("seconds_")]
    pd.testing.assert_frame_equal(resumed[cols], uninterrupted[cols])
    assert not (config.out / "jobs" / "blobs__margin__mlp__seed0.ckpt").exists()


@pytest.mark.parametrize(("changes", "match"), [
    ({"strategies": ("power_margin",), "strategy_options": {"power_margin": {"beta": "high"}}},
     "beta must be a positive finite number .*got str 'high'"),
    ({"strategies": ("power_margin",), "strategy_options": {"power_margin": {"beta": -1}}},
     "beta must be a positive finite number .*got -1"),
    ({"strategies": ("dal",), "strategy_options": {"dal": {"n_steps": 0}}},
     r"strategy 'dal' with --strategy-options \{'dal': \{'n_steps': 0\}\} failed a dry run .*n_steps must be an int >= 1"),
    ({"models": ("cnn",)}, r"model 'cnn' cannot take the items of dataset 'blobs' \(each of shape \(10,\)\): "
                           r"ValueError: cnn expects image items of shape \(channels, height, width\)"),
])
def test_bad_options_and_shapes_fail_before_any_training(tmp_path: Path, changes: dict[str, object], match: str) -> None:
    out = tmp_path / "out"
    with pytest.raises(ConfigError, match=match):
        run_experiments(tiny_config(out, **changes), progress=False)
    assert not out.exists()


@pytest.mark.parametrize(("labels", "outcome"), [
    ("continuous", r"look like a continuous target .*regression is not supported yet"),
    ("stray", r"stray label value\(s\) 1000000000000 \(1 item: row 7 of y\)"),
])
def test_label_sanity_of_user_files(tmp_path: Path, labels: str, outcome: str) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 5))
    y = X @ rng.normal(size=5) if labels == "continuous" else rng.integers(0, 3, 600)
    if labels == "stray":
        y[7] = 10**12
    np.savez(tmp_path / "d.npz", X=X, y=y)
    config = _file_config(tmp_path, seeds=1, budget=21)
    if labels == "continuous":
        from activelab.data import DataFileError

        with pytest.raises(DataFileError, match=outcome):
            run_experiments(config, progress=False)
        assert not config.out.exists()
    else:
        from activelab.errors import DataWarning

        with pytest.warns(DataWarning, match=outcome):
            run_experiments(config, progress=False)


def test_an_unwritable_out_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="is not writable"):
        run_experiments(tiny_config(tmp_path / "file" / "out", seeds=1, strategies=("random",)), progress=False)


def test_summary_counts_early_stops_and_labels_reached() -> None:
    df = pd.DataFrame({"dataset": "d", "strategy": "s", "model": "m", "seed": [0, 0, 1, 1, 1], "round": [0, 1, 0, 1, 2],
                       "n_labelled": [10, 20, 10, 20, 30], "accuracy": 0.5,
                       "stop_reason": ["", "accuracy_plateau: flat", "", "", "budget: 30 labels"]})
    row = summarise(df).iloc[0]
    assert (row["labels_mean"], row["n_stopped_early"], row["stop_reasons"]) == (25.0, 1, "accuracy_plateau: 1")


def test_own_initial_strategy_gives_each_strategy_its_cold_start(tmp_path: Path) -> None:
    """--initial-strategy own: typiclust and tcm pick their first batch by TypiClust, margin by a uniform draw."""
    import pandas as pd

    from activelab.engine import own_initial_strategy
    from activelab.strategies import make

    assert own_initial_strategy(make("margin")) == "random"
    assert strategy_name_of(own_initial_strategy(make("tcm"))) == "typiclust"
    typi = make("typiclust")
    assert own_initial_strategy(typi) is typi

    def first_batches(initial_strategy: str, out: Path) -> dict[str, list[int]]:
        run_experiments(tiny_config(out, strategies=("typiclust", "tcm", "margin"), seeds=1, initial=0, budget=20,
                                    initial_strategy=initial_strategy), progress=False)
        q = pd.read_csv(out / "queries.csv")
        first = q[q["round"] == q["round"].min()]
        return {s: sorted(g["index"].tolist()) for s, g in first.groupby("strategy")}

    own = first_batches("own", tmp_path / "own")
    typiclust = first_batches("typiclust", tmp_path / "typiclust")
    uniform = first_batches("random", tmp_path / "random")
    assert own["typiclust"] == typiclust["typiclust"] and own["tcm"] == typiclust["tcm"] == own["typiclust"]
    assert own["margin"] == uniform["margin"] != own["typiclust"]
    assert json.loads((tmp_path / "own" / "config.json").read_text())["initial_strategy"] == "own"


def strategy_name_of(spec: object) -> str:
    from activelab.strategies.base import strategy_name

    return spec if isinstance(spec, str) else strategy_name(spec)
