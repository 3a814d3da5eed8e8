"""The Ray executor (``--backend ray``): same files as the local backend, resume, retries, clear errors.

Every test that runs jobs shares one local Ray per session (the ``ray_local`` fixture in
tests/conftest.py: 2 CPUs, no dashboard, token auth off). Job functions defined here reach Ray's
workers by value (pytest imports this module under a name the workers cannot import).
"""

from __future__ import annotations

import dataclasses
import json
import sys
from functools import partial
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from activelab.cli import app
from activelab.clustering.runner import ClusterRunConfig, run_clustering
from activelab.experiments import ConfigError, Grid, GridJob, LocalExecutor, RunConfig, make_executor, run_experiments, run_grid
from activelab.experiments.ray_backend import RayExecutor, _run_task

ENV = {"COLUMNS": "200", "NO_COLOR": "1"}


@pytest.fixture
def ray(ray_local):  # type: ignore[no-untyped-def]
    ray_local.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    return ray_local


def without_timing(path: Path) -> pd.DataFrame:
    df = pd.read_csv(path)
    return df.drop(columns=[c for c in df.columns if c.startswith("seconds")])


def run_config(out: Path, **changes: object) -> RunConfig:
    params: dict[str, object] = {"datasets": ("blobs",), "strategies": ("random", "margin"), "models": ("mlp",),
                                 "seeds": 2, "initial": 10, "query_size": 10, "budget": 30, "epochs": 5, "out": out}
    return RunConfig(**{**params, **changes})  # type: ignore[arg-type]


# ------------------------------------------------------------------- same results as local
def test_run_on_ray_gives_the_local_files_and_resumes_a_partial_run(ray, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    run_experiments(run_config(tmp_path / "local"), progress=False)
    # a partial run (one strategy) on the local backend, finished on Ray: backend is not protocol
    run_experiments(run_config(tmp_path / "ray", strategies=("random",)), progress=False)
    jobs = tmp_path / "ray" / "jobs"
    kept = {p.name: p.read_bytes() for p in jobs.iterdir()}
    capsys.readouterr()
    run_experiments(run_config(tmp_path / "ray", backend="ray"), progress=True)
    err = capsys.readouterr().err
    assert "resuming: 2 of 4 jobs already finished" in err
    done = sorted(line.split(" done ")[1].split(":")[0] for line in err.splitlines() if " done " in line)
    assert done == ["blobs/margin/mlp/seed0", "blobs/margin/mlp/seed1"]  # the progress lines, only the missing jobs
    assert {name: (jobs / name).read_bytes() for name in kept} == kept  # finished jobs untouched
    local, remote = tmp_path / "local", tmp_path / "ray"
    assert sorted(p.name for p in (local / "jobs").iterdir()) == sorted(p.name for p in jobs.iterdir())
    assert sorted(p.name for p in local.iterdir()) == sorted(p.name for p in remote.iterdir())
    for table in ("rounds.csv", "queries.csv", "summary.csv"):
        pd.testing.assert_frame_equal(without_timing(local / table), without_timing(remote / table))
    for manifest in (local / "jobs").glob("*.json"):
        a, b = json.loads(manifest.read_text()), json.loads((jobs / manifest.name).read_text())
        assert (a["fingerprint"], a["keys"]) == (b["fingerprint"], b["keys"])
        assert {t: f["rows"] for t, f in a["files"].items()} == {t: f["rows"] for t, f in b["files"].items()}
    assert not list(jobs.glob(".*")) and not list(jobs.glob("*.ckpt"))  # no token, no checkpoint left


def test_cluster_on_ray_gives_the_local_rounds(ray, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    def config(out: Path, **kw: object) -> ClusterRunConfig:
        return ClusterRunConfig(("blobs10",), ("uniform", "maxmin"), batch=30, seeds=2, n_items=30,
                                budget_fraction=0.2, out=out, **kw)  # type: ignore[arg-type]

    run_clustering(config(tmp_path / "local"), progress=False)
    run_clustering(config(tmp_path / "ray", backend="ray"), progress=False)
    pd.testing.assert_frame_equal(without_timing(tmp_path / "local" / "rounds.csv"), without_timing(tmp_path / "ray" / "rounds.csv"))


# --------------------------------------------------------------- toy grids: retries, resume
def _flaky(name: str, seed: int, log: str, *, checkpoint_dir: Path | None = None, fail_once: bool = True) -> pd.DataFrame:
    """Two 'rounds' checkpointed into checkpoint_dir; the first attempt of a job dies after round 0."""
    attempts = Path(log)
    with attempts.open("a") as fh:
        fh.write(f"{seed} {checkpoint_dir is not None}\n")
    state = None if checkpoint_dir is None else checkpoint_dir / "checkpoint.npz"
    done = json.loads(state.read_text()) if state is not None and state.is_file() else []
    for r in range(len(done), 2):
        done.append(seed + r + 0.5)
        if state is not None:
            state.write_text(json.dumps(done))
        if fail_once and attempts.read_text().splitlines().count(f"{seed} {checkpoint_dir is not None}") == 1:
            raise RuntimeError(f"worker lost during job {seed}")
    return pd.DataFrame({"name": name, "seed": seed, "round": [0, 1], "value": done})


def _toy_grid(out: Path, fn, n: int = 3, resumable: bool = True) -> Grid:  # type: ignore[no-untyped-def]
    log = str(out.parent / f"{out.name}.attempts")
    return Grid(
        command="toy", out=out, settings={"n": n}, protocol={"p": 1},
        jobs=[GridJob(f"toy/{s}", f"toy__seed{s}.csv", {"name": "toy", "seed": s}, fn, ("toy", s, log),
                      resumable=resumable) for s in range(n)],
        columns=("name", "seed", "round", "value"), finish=lambda rounds, o: None, dtypes={"name": str},
    )


def test_a_task_that_fails_once_is_retried_from_its_checkpoint(ray, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rounds = run_grid(_toy_grid(tmp_path / "out", _flaky), RayExecutor(), progress=False)
    assert rounds["value"].tolist() == [0.5, 1.5, 1.5, 2.5, 2.5, 3.5]
    attempts = sorted((tmp_path / "out.attempts").read_text().splitlines())
    assert attempts == ["0 True", "0 True", "1 True", "1 True", "2 True", "2 True"]  # each retried once, with its checkpoint
    assert not list((tmp_path / "out" / "jobs").glob("*.ckpt"))


def test_a_task_that_keeps_failing_fails_the_grid_after_its_retries(ray, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    grid = _toy_grid(tmp_path / "out", _flaky, n=1, resumable=False)
    with pytest.raises(RuntimeError, match="worker lost during job 0"):
        run_grid(grid, RayExecutor(retries=0), progress=False)
    assert not list((tmp_path / "out" / "jobs").glob("toy__seed0.*"))  # nothing written for it
    assert (tmp_path / "out.attempts").read_text().splitlines() == ["0 False"]


def test_resume_on_ray_skips_finished_jobs(ray, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    fn = partial(_flaky, fail_once=False)
    run_grid(_toy_grid(tmp_path / "out", fn, n=4), RayExecutor(), progress=False)
    (tmp_path / "out" / "jobs" / "toy__seed2.json").unlink()  # as if interrupted while writing job 2
    (tmp_path / "out.attempts").unlink()
    rounds = run_grid(_toy_grid(tmp_path / "out", fn, n=4), RayExecutor(), progress=False)
    assert (tmp_path / "out.attempts").read_text().splitlines() == ["2 True"]
    assert rounds["seed"].tolist() == [0, 0, 1, 1, 2, 2, 3, 3]


def test_a_task_checkpoints_only_where_it_sees_the_drivers_token(tmp_path: Path) -> None:
    ckpt = tmp_path / "jobs" / "toy__seed0.ckpt"
    ckpt.mkdir(parents=True)
    token = tmp_path / "jobs" / ".ray-driver-x.tmp-1"
    job = _toy_grid(tmp_path / "out", partial(_flaky, fail_once=False), n=1).jobs[0]
    _run_task(job, str(ckpt), str(token), 1)  # another node: no token, so no checkpoint
    assert not (ckpt / "checkpoint.npz").exists()
    token.touch()
    _run_task(job, str(ckpt), str(token), 1)
    assert (ckpt / "checkpoint.npz").is_file()
    assert (tmp_path / "out.attempts").read_text().splitlines() == ["0 False", "0 True"]


# ------------------------------------------------------------------------------ errors
def test_a_bad_address_is_a_clear_error_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no Ray cluster answers at --address 127\.0\.0\.1:1 \(.*\).*ray start --head"):
        RayExecutor("127.0.0.1:1", probe_timeout=2)
    with pytest.raises(ConfigError, match=r"--address\) must be auto, host:port .* got 'head-node'"):
        run_config(tmp_path, backend="ray", address="head-node")
    with pytest.raises(ConfigError, match="it needs --backend ray"):
        run_config(tmp_path, address="10.0.0.5:6379")
    with pytest.raises(ConfigError, match="backend \\(--backend\\) must be one of local, ray; got 'dask'"):
        ClusterRunConfig(("blobs10",), ("uniform",), backend="dask", out=tmp_path)
    result = CliRunner(env=ENV).invoke(app, [
        "run", "--dataset", "blobs", "--strategy", "random", "--backend", "ray", "--address", "127.0.0.1:1",
        "--out", str(tmp_path / "out")], catch_exceptions=False)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: no Ray cluster answers at --address 127.0.0.1:1"), result.stderr
    assert not (tmp_path / "out").exists()


def test_an_address_cannot_replace_a_connection_already_made(ray, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    executor = RayExecutor("auto")
    with pytest.raises(ConfigError, match="already initialised in this process"):
        run_grid(_toy_grid(tmp_path / "out", _flaky, n=1), executor, progress=False)


def test_missing_ray_names_the_extra(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(ConfigError, match=r"needs Ray, which is not installed .*pip install 'activelab\[ray\]'"):
        make_executor("ray")
    assert isinstance(make_executor("local", workers=2), LocalExecutor)
    result = CliRunner(env=ENV).invoke(app, [
        "cluster", "--dataset", "blobs10", "--strategy", "uniform", "--backend", "ray", "--out", str(tmp_path)],
        catch_exceptions=False)
    assert result.exit_code == 2 and "pip install 'activelab[ray]'" in result.stderr, result.output


@pytest.mark.parametrize("command", [["run"], ["cluster"], ["policy", "evaluate"]])
def test_every_grid_command_offers_the_backend(command: list[str]) -> None:
    result = CliRunner(env=ENV).invoke(app, [*command, "--help"], catch_exceptions=False)
    assert result.exit_code == 0 and "--backend" in result.output and "--address" in result.output


def test_backend_and_address_are_not_protocol() -> None:
    from activelab.clustering.runner import PROTOCOL as CLUSTER_PROTOCOL
    from activelab.experiments import PROTOCOL

    assert not {"backend", "address"} & (set(PROTOCOL) | set(CLUSTER_PROTOCOL))
    assert dataclasses.fields(RunConfig)[-1].name == "out"
