"""The one grid runner: command and protocol checks, resume with verification, executors, progress."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from activelab.experiments import ConfigError, Executor, Grid, GridJob, LocalExecutor, run_grid
from activelab.experiments.grid import CONFIG_FILE, execute_job


def _table(name: str, seed: int) -> pd.DataFrame:
    return pd.DataFrame({"name": name, "seed": seed, "round": [0, 1], "value": [seed + 0.5, seed + 1.5]})


def _grid(out: Path, command: str = "toy", protocol: dict | None = None, n: int = 3) -> Grid:
    written: list[pd.DataFrame] = []
    grid = Grid(
        command=command, out=out, settings={"n": n}, protocol=protocol or {"p": 1},
        jobs=[GridJob(f"toy/{s}", f"toy__seed{s}.csv", {"name": "toy", "seed": s}, _table, ("toy", s)) for s in range(n)],
        columns=("name", "seed", "round", "value"), finish=lambda rounds, o: written.append(rounds),
        dtypes={"name": str},
    )
    grid.written = written  # type: ignore[attr-defined]
    return grid


def test_writes_config_jobs_and_rounds_in_grid_order(tmp_path):
    grid = _grid(tmp_path)
    rounds = run_grid(grid, progress=False)
    assert json.loads((tmp_path / CONFIG_FILE).read_text()) == {"command": "toy", "n": 3, "p": 1}
    assert sorted(p.name for p in (tmp_path / "jobs").iterdir()) == [f"toy__seed{s}.csv" for s in range(3)]
    assert rounds["seed"].tolist() == [0, 0, 1, 1, 2, 2]
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "rounds.csv", dtype={"name": str}), rounds)
    assert len(grid.written) == 1  # type: ignore[attr-defined]


def test_another_command_or_protocol_is_refused_before_anything_runs(tmp_path):
    run_grid(_grid(tmp_path), progress=False)
    saved = (tmp_path / "rounds.csv").read_bytes()
    with pytest.raises(ConfigError, match="holds the results of `activelab toy`, not `activelab other`"):
        run_grid(_grid(tmp_path, command="other"), progress=False)
    with pytest.raises(ConfigError, match="another protocol \\(p was 1, now 2\\)"):
        run_grid(_grid(tmp_path, protocol={"p": 2}), progress=False)
    assert (tmp_path / "rounds.csv").read_bytes() == saved


def test_old_config_files_are_recognised_by_their_keys(tmp_path):
    (tmp_path / CONFIG_FILE).write_text(json.dumps({"models": ["mlp"], "p": 1}))
    with pytest.raises(ConfigError, match="`activelab run`, not `activelab toy`"):
        run_grid(_grid(tmp_path), progress=False)


class CountingExecutor:
    """A custom executor: runs jobs here, in reverse, counting them."""

    def __init__(self) -> None:
        self.ran: list[str] = []

    def run(self, jobs, jobs_dir, on_done):
        for job in reversed(jobs):
            self.ran.append(job.filename)
            on_done(job, execute_job(job, jobs_dir / job.filename))


def test_resume_runs_only_missing_jobs_on_any_executor(tmp_path):
    run_grid(_grid(tmp_path), progress=False)
    (tmp_path / "jobs" / "toy__seed1.csv").unlink()
    executor = CountingExecutor()
    assert isinstance(executor, Executor)
    rounds = run_grid(_grid(tmp_path), executor, progress=False)
    assert executor.ran == ["toy__seed1.csv"]
    assert rounds["seed"].tolist() == [0, 0, 1, 1, 2, 2]  # grid order, not completion order


def test_a_job_file_of_another_job_is_not_reused(tmp_path):
    run_grid(_grid(tmp_path), progress=False)
    _table("other", 1).to_csv(tmp_path / "jobs" / "toy__seed1.csv", index=False)
    with pytest.raises(ConfigError, match="holds rows of another job; delete it"):
        run_grid(_grid(tmp_path), progress=False)


def test_report_only(tmp_path):
    with pytest.raises(ConfigError, match="no finished job"):
        run_grid(_grid(tmp_path), progress=False, run_missing=False)


def test_plain_progress_lines_when_not_a_terminal(tmp_path, capsys):
    run_grid(_grid(tmp_path), progress=True)
    err = capsys.readouterr().err.splitlines()
    assert err == [f"[{i + 1}/3] done toy/{i}: 2 rounds" for i in range(3)]
    run_grid(_grid(tmp_path), progress=True)
    assert "all 3 jobs already finished" in capsys.readouterr().err


def test_local_executor_checks_workers():
    with pytest.raises(ValueError, match="workers must be an int >= 1"):
        LocalExecutor(0)
