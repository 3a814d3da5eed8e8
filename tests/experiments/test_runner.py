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
    assert jobs == sorted(f"blobs__{s}__mlp__seed{k}.csv" for s in STRATEGIES for k in range(N_SEEDS))
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
        "final_accuracy_std", "n_seeds", "seconds_per_round",
    ]
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
    before = {p.name: p.stat().st_mtime_ns for p in (out / "jobs").iterdir()}
    ran: list[str] = []
    real = runner_module.run_job

    def counting(job, *args, **kwargs):  # type: ignore[no-untyped-def]
        ran.append(job.filename)
        return real(job, *args, **kwargs)

    monkeypatch.setattr(runner_module, "run_job", counting)
    run_experiments(dataclasses.replace(config, out=out), progress=False)
    assert ran == [missing.name]
    assert missing.is_file()
    after = {p.name: p.stat().st_mtime_ns for p in (out / "jobs").iterdir() if p.name != missing.name}
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
