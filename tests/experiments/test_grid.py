"""The one grid runner: command and protocol checks, resume with verification, executors, progress."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import pandas as pd
import pytest

from activelab.experiments import ConfigError, Executor, Grid, GridJob, LocalExecutor, run_grid
from activelab.experiments import grid as grid_module
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
    assert sorted(p.name for p in (tmp_path / "jobs").iterdir()) == sorted(
        f"toy__seed{s}.{ext}" for s in range(3) for ext in ("csv", "json")
    )
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


def test_a_job_file_of_another_job_is_not_reused(tmp_path, capsys):
    run_grid(_grid(tmp_path), progress=False)
    clean = (tmp_path / "rounds.csv").read_bytes()
    _table("other", 1).to_csv(tmp_path / "jobs" / "toy__seed1.csv", index=False)
    run_grid(_grid(tmp_path), progress=True)
    assert "redoing 1 job (toy/1): file toy__seed1.csv was changed after it was written" in capsys.readouterr().err
    assert (tmp_path / "rounds.csv").read_bytes() == clean


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


# ------------------------------------------------------------- integrity of reruns (issue 19)
def _data_grid(out: Path, content: str = "v1", **kw) -> Grid:
    grid = _grid(out, **kw)
    grid.jobs = [dataclasses.replace(j, data={"toy": {"shape": {"X": [2]}, "sha256": content * 32}}) for j in grid.jobs]
    return grid


def _redo_lines(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith(("redoing", "discarding", "resuming"))]


def _truncate(path: Path) -> None:
    path.write_text("".join(path.read_text().splitlines(keepends=True)[:2]))  # the header and one of two rows


def _empty(path: Path) -> None:
    path.write_text("")


def _garble(path: Path) -> None:
    path.write_bytes(b"\x00\xff not, a\n csv \" file")


def _edit_value(path: Path) -> None:
    path.write_text(path.read_text().replace("1.5", "9.5"))


def _drop_manifest(path: Path) -> None:
    path.with_suffix(".json").unlink()


def _corrupt_manifest(path: Path) -> None:
    path.with_suffix(".json").write_text("{not json")


@pytest.mark.parametrize(("damage", "reason"), [
    (_truncate, "file toy__seed1.csv is truncated (1 rows, manifest says 2)"),
    (_empty, "file toy__seed1.csv is unreadable (EmptyDataError)"),
    (_garble, "file toy__seed1.csv "),
    (_edit_value, "file toy__seed1.csv was changed after it was written"),
    (lambda p: p.unlink(), "file toy__seed1.csv is missing"),
    (_drop_manifest, "no manifest beside its file (written by an older version, or interrupted while writing)"),
    (_corrupt_manifest, "its manifest is unreadable (JSONDecodeError)"),
])
def test_a_damaged_job_file_is_redone_and_says_why(tmp_path, capsys, damage, reason):
    run_grid(_grid(tmp_path), progress=False)
    clean = (tmp_path / "rounds.csv").read_bytes()
    damage(tmp_path / "jobs" / "toy__seed1.csv")
    executor = CountingExecutor()
    run_grid(_grid(tmp_path), executor, progress=True)
    lines = _redo_lines(capsys)
    assert executor.ran == ["toy__seed1.csv"]
    assert lines[0].startswith("redoing 1 job (toy/1): " + reason), lines
    assert (tmp_path / "rounds.csv").read_bytes() == clean
    run_grid(_grid(tmp_path), CountingExecutor(), progress=True)  # now whole again: nothing to redo
    assert _redo_lines(capsys) == []


def test_changed_data_redo_every_job_that_read_them(tmp_path, capsys):
    run_grid(_data_grid(tmp_path, "a"), progress=False)
    executor = CountingExecutor()
    run_grid(_data_grid(tmp_path, "b"), executor, progress=True)
    assert sorted(executor.ran) == [f"toy__seed{s}.csv" for s in range(3)]
    assert _redo_lines(capsys) == [
        "redoing 3 jobs (toy/0, toy/1, toy/2): dataset 'toy' changed since they ran "
        "(fingerprint shape {'X': [2]} sha256 aaaaaaaaaaaa, now shape {'X': [2]} sha256 bbbbbbbbbbbb)"
    ]
    manifest = json.loads((tmp_path / "jobs" / "toy__seed0.json").read_text())
    assert manifest["fingerprint"]["data"]["toy"]["sha256"] == "b" * 32
    assert manifest["files"]["rounds"]["rows"] == 2 and len(manifest["files"]["rounds"]["sha256"]) == 64


def test_another_activelab_version_redoes_the_jobs(tmp_path, capsys, monkeypatch):
    run_grid(_grid(tmp_path), progress=False)
    monkeypatch.setattr(grid_module, "_version", lambda: "99.0")
    run_grid(_grid(tmp_path), CountingExecutor(), progress=True)
    assert _redo_lines(capsys)[0].endswith("they ran with activelab 0.1.0, this is 99.0")


def test_an_unwritable_out_is_refused_before_anything_runs(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match=r"out \(.*file/sub\) is not writable \(.*\); choose another directory"):
        run_grid(_grid(tmp_path / "file" / "sub"), progress=False)


def test_extra_tables_are_written_per_job_and_combined(tmp_path):
    grid = _grid(tmp_path)
    grid.tables = ("queries",)
    grid.jobs = [dataclasses.replace(j, fn=_two_tables) for j in grid.jobs]
    run_grid(grid, progress=False)
    assert (tmp_path / "jobs" / "toy__seed2.queries.csv").is_file()
    assert pd.read_csv(tmp_path / "queries.csv")["seed"].tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    (tmp_path / "jobs" / "toy__seed2.queries.csv").unlink()
    executor = CountingExecutor()
    run_grid(grid, executor, progress=False)
    assert executor.ran == ["toy__seed2.csv"]


def _two_tables(name: str, seed: int) -> dict[str, pd.DataFrame]:
    return {"rounds": _table(name, seed), "queries": pd.DataFrame({"seed": seed, "index": [3, 1, 2]})}


class _Interrupt(Exception):
    pass


def _resumable(name: str, seed: int, *, checkpoint_dir: Path, fail: bool = False) -> pd.DataFrame:
    """Two 'rounds'; the first is checkpointed into checkpoint_dir, and a run with fail=True stops after it."""
    state = checkpoint_dir / "checkpoint.npz"  # the name the grid looks for (its content is the job's own)
    done = json.loads(state.read_text()) if state.is_file() else []
    for r in range(len(done), 2):
        done.append(seed + r + 0.5)
        state.write_text(json.dumps(done))
        if fail:
            raise _Interrupt
    return pd.DataFrame({"name": name, "seed": seed, "round": [0, 1], "value": done, "resumed": state.is_file()})


def test_a_resumable_job_continues_from_its_checkpoint(tmp_path, capsys):
    grid = _grid(tmp_path, n=1)
    job = dataclasses.replace(grid.jobs[0], fn=_resumable, args=("toy", 0, ), resumable=True)
    grid.jobs = [dataclasses.replace(job, fn=partial(_resumable, fail=True))]
    with pytest.raises(_Interrupt):
        run_grid(grid, progress=False)
    ckpt = tmp_path / "jobs" / "toy__seed0.ckpt"
    assert json.loads((ckpt / "checkpoint.npz").read_text()) == [0.5]
    assert json.loads((ckpt / "job.json").read_text())["fingerprint"]["protocol"] == {"p": 1}
    grid.jobs = [job]
    rounds = run_grid(grid, progress=True)
    assert "resuming 1 job from its last checkpointed round" in _redo_lines(capsys)
    assert rounds["value"].tolist() == [0.5, 1.5] and not ckpt.exists()  # removed once the files are written


def test_a_checkpoint_of_other_data_is_discarded(tmp_path, capsys):
    grid = _data_grid(tmp_path, "a", n=1)
    job = dataclasses.replace(grid.jobs[0], fn=_resumable, resumable=True)
    grid.jobs = [dataclasses.replace(job, fn=partial(_resumable, fail=True))]
    with pytest.raises(_Interrupt):
        run_grid(grid, progress=False)
    grid = _data_grid(tmp_path, "b", n=1)
    grid.jobs = [dataclasses.replace(grid.jobs[0], fn=_resumable, resumable=True)]
    rounds = run_grid(grid, progress=True)
    assert _redo_lines(capsys)[0].startswith("discarding the checkpoint of 1 job (toy/0): dataset 'toy' changed since it ran")
    assert rounds["value"].tolist() == [0.5, 1.5]


def test_temporary_files_of_killed_writers_are_removed(tmp_path):
    run_grid(_grid(tmp_path), progress=False)
    dead = tmp_path / "jobs" / ".toy__seed0.csv.tmp-999999999"
    alive = tmp_path / "jobs" / f".toy__seed0.csv.tmp-{os.getpid()}"
    dead.write_text("half")
    alive.write_text("half")
    run_grid(_grid(tmp_path), progress=False)
    assert not dead.exists() and alive.exists()


_CHILD = """
import os, sys, time
from activelab.experiments.grid import die_with_parent
die_with_parent(int(sys.argv[1]), interval=0.05)
print(os.getpid(), flush=True)
time.sleep(60)
"""
_PARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1], str(__import__("os").getpid())], stdout=sys.stdout)
time.sleep(60)
"""


def test_a_worker_dies_with_its_parent_even_after_sigkill(tmp_path):
    parent = subprocess.Popen([sys.executable, "-c", _PARENT, _CHILD], stdout=subprocess.PIPE, text=True)
    try:
        child = int(parent.stdout.readline())
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 5
        while grid_module._pid_alive(child) and _state(child) not in ("Z", "X") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not grid_module._pid_alive(child) or _state(child) in ("Z", "X")
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "X"


def test_a_checkpoint_directory_without_a_checkpoint_is_removed_silently(tmp_path, capsys):
    grid = _grid(tmp_path, n=1)
    grid.jobs = [dataclasses.replace(grid.jobs[0], fn=_resumable, resumable=True)]
    (tmp_path / "jobs" / "toy__seed0.ckpt").mkdir(parents=True)  # killed between mkdir and the first round
    assert run_grid(grid, progress=True)["value"].tolist() == [0.5, 1.5]
    assert _redo_lines(capsys) == []


_SLOW_JOBS = """
import time
import pandas as pd

def slow(seed):
    time.sleep(60)
    return pd.DataFrame({"name": "toy", "seed": seed, "round": [0], "value": [0.0]})
"""
_GRID_PARENT = """
import sys
from pathlib import Path
from slow_jobs import slow
from activelab.experiments import Grid, GridJob, LocalExecutor, run_grid
out = Path(sys.argv[1])
jobs = [GridJob(f"toy/{s}", f"toy__seed{s}.csv", {"name": "toy", "seed": s}, slow, (s,)) for s in range(2)]
grid = Grid("toy", out, {}, {"p": 1}, jobs, ("name", "seed", "round", "value"), finish=lambda r, o: None)
run_grid(grid, LocalExecutor(2), progress=False)
"""


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
                out.append(int(entry.name))
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_local_executor_workers_die_when_the_parent_is_killed(tmp_path):
    (tmp_path / "slow_jobs.py").write_text(_SLOW_JOBS)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])}
    parent = subprocess.Popen([sys.executable, "-c", _GRID_PARENT, str(tmp_path / "out")], env=env)
    try:
        deadline = time.monotonic() + 120
        while len(_children(parent.pid)) < 2 and time.monotonic() < deadline:  # the workers (and a resource tracker)
            time.sleep(0.1)
        workers = _children(parent.pid)
        assert len(workers) >= 2
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 5
        while any(_state(w) not in ("Z", "X") for w in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert [w for w in workers if _state(w) not in ("Z", "X")] == []
        assert not any((tmp_path / "out" / "jobs").glob("*.csv"))  # nothing written after the parent died
    finally:
        parent.kill()
        parent.wait()


def _strip_protocol_key(out: Path, key: str) -> None:
    """Make ``out`` look written before ``key`` joined the protocol (config.json and every manifest)."""
    config = json.loads((out / CONFIG_FILE).read_text())
    del config[key]
    (out / CONFIG_FILE).write_text(json.dumps(config))
    for manifest_path in (out / "jobs").glob("*.json"):
        manifest = json.loads(manifest_path.read_text())
        del manifest["fingerprint"]["protocol"][key]
        manifest_path.write_text(json.dumps(manifest))


def test_jobs_written_before_a_protocol_key_existed_are_reused_when_its_default_applies(tmp_path, capsys):
    grid = _grid(tmp_path, protocol={"p": 1, "added": None})
    grid.protocol_defaults = {"added": None}
    run_grid(grid, progress=False)
    _strip_protocol_key(tmp_path, "added")
    executor = CountingExecutor()
    run_grid(grid, executor, progress=True)
    assert executor.ran == [] and _redo_lines(capsys) == []
    # without the declared default, the same files are redone, and the reason names the new key
    bare = _grid(tmp_path, protocol={"p": 1, "added": None})
    executor = CountingExecutor()
    run_grid(bare, executor, progress=True)
    assert len(executor.ran) == 3
    assert _redo_lines(capsys)[0].endswith("the protocol changed (added was absent, now None)")


def test_jobs_written_before_a_protocol_key_existed_are_redone_when_the_value_differs(tmp_path, capsys):
    grid = _grid(tmp_path, protocol={"p": 1, "added": None})
    grid.protocol_defaults = {"added": None}
    run_grid(grid, progress=False)
    _strip_protocol_key(tmp_path, "added")
    changed = _grid(tmp_path, protocol={"p": 1, "added": 0.5})
    changed.protocol_defaults = {"added": None}
    with pytest.raises(ConfigError, match=r"another protocol \(added was None, now 0.5\)"):
        run_grid(changed, CountingExecutor(), progress=False)
