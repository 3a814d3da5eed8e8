"""The command line is generated from the configuration dataclasses: one declaration, no drift."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from activelab.cli import app
from activelab.cli import run as run_module
from activelab.clustering.runner import ClusterRunConfig
from activelab.clustering.runner import PROTOCOL as CLUSTER_PROTOCOL
from activelab.experiments import PROTOCOL, RunConfig
from activelab.experiments.options import cli_fields
from activelab.learned.config import TrainConfig


@pytest.mark.parametrize(
    ("config_cls", "path"), [(RunConfig, ("run",)), (ClusterRunConfig, ("cluster",)), (TrainConfig, ("policy", "train"))]
)
def test_every_declared_field_is_an_option_with_its_help_and_default(config_cls, path):
    command = typer.main.get_command(app)  # what click actually parses
    for name in path:
        command = command.commands[name]
    params = {p.name: p for p in command.params if p.name not in ("help", "out") or config_cls is not TrainConfig}
    params.pop("help", None)
    fields = cli_fields(config_cls)
    assert [f.name for f, _ in fields] == list(params)
    for f, opt in fields:
        param = params[f.name]
        assert param.help == opt.help and opt.help
        declared = tuple(x for flag in opt.flags for x in flag.split("/")) or ("--" + f.name.replace("_", "-"),)
        assert tuple(param.opts) + tuple(param.secondary_opts) == declared
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            assert param.required
        elif f.default is not dataclasses.MISSING:
            assert param.default == (opt.to_cli(f.default) if opt.to_cli else f.default)


def test_the_protocol_is_the_fields_declared_so():
    assert PROTOCOL == ("initial", "query_size", "budget", "epochs", "update", "initial_strategy", "strategy_options", "scale",
                        "stopping")
    assert CLUSTER_PROTOCOL == ("noise", "batch", "init", "budget_fraction", "n_items", "tau", "beta", "init_partition",
                                "restarts", "warm_start", "prior_weight", "merge")


def test_the_cli_builds_the_same_config_as_python(tmp_path: Path):
    seen = []
    # the same generated command as `activelab run`, around a body that keeps the config
    command = run_module.command_from_config(RunConfig, lambda c, e: seen.append(c), doc="test")
    runner = CliRunner()
    t = typer.Typer()
    t.command()(command)
    t.command("other")(lambda: None)
    args = ["--dataset", "digits,blobs", "--strategy", "margin,badge", "--models", "mlp", "--seeds", "2",
            "--initial", "0", "--query-size", "5", "--budget", "60", "--epochs", "7", "--workers", "2",
            "--update", "warm_start", "--initial-strategy", "typiclust",
            "--strategy-options", '{"typiclust": {"pca": 5}}', "--stop", "accuracy_plateau", "--out", str(tmp_path)]
    result = runner.invoke(t, ["command", *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    expected = RunConfig(("digits", "blobs"), ("margin", "badge"), models=("mlp",), seeds=2, initial=0, query_size=5,
                         budget=60, epochs=7, workers=2, update="warm_start", initial_strategy="typiclust",
                         strategy_options={"typiclust": {"pca": 5}}, stopping={"accuracy_plateau": {}}, out=tmp_path)
    assert seen == [expected]


def test_bad_json_is_one_error_line(tmp_path: Path):
    result = CliRunner().invoke(app, ["run", "--dataset", "digits", "--strategy", "margin", "--strategy-options", "{x",
                                      "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "--strategy-options must be a JSON object" in result.stderr
