"""``activelab policy train|evaluate``: learned acquisition policies."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated, Any

import typer

from ..experiments.config import RunConfig
from ..learned.config import TrainConfig
from .common import command_from_config, console, user_errors
from .run import run_config

__all__ = ["evaluate", "train", "train_pairs", "train_switch"]


def _train(config: TrainConfig, extras: dict[str, Any]) -> None:
    """Train a policy on generated and registry training tasks (never the held-out datasets)."""
    import dataclasses
    import logging
    import shlex

    from ..experiments.options import cli_fields
    from ..learned.train import train_policy

    out: Path = extras["out"]
    argv = ["activelab", "policy", "train"]
    for f, opt in cli_fields(type(config)):
        value = getattr(config, f.name)
        if value is None:  # an option left out (--address without --backend ray)
            continue
        argv += [(opt.flags or ("--" + f.name.replace("_", "-"),))[0], str(opt.to_cli(value) if opt.to_cli else value)]
    config = dataclasses.replace(config, command=shlex.join([*argv, "--out", str(out)]))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    with user_errors():
        path = train_policy(config, out)
    console().print(f"wrote {path}", highlight=False)


def _prepare(values: dict[str, Any], extras: dict[str, Any]) -> dict[str, Any]:
    """The policy (as strategy ``policy``, with its file) and the baselines become the run's strategies."""
    from ..experiments.options import names
    from ..learned.strategy import load_policy

    file: Path = extras["file"]
    load_policy(file)
    baselines = names("--baselines")(extras["baselines"])
    return {
        **values,
        "strategies": ("policy", *(b for b in baselines if b != "policy")),
        "strategy_options": {"policy": {"path": str(file.expanduser().resolve())}},
    }


train = command_from_config(
    TrainConfig, _train,
    doc="Train a policy on generated and registry training tasks (never the held-out datasets).",
    extra=(inspect.Parameter("out", inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[
        Path, typer.Option(help="Policy file to write (.pt).")]),),
)


evaluate = command_from_config(
    RunConfig, run_config,
    doc="Run the policy (as strategy `policy`) and baselines on datasets; writes rounds, summary, curves.",
    only=("datasets", "models", "seeds", "initial", "query_size", "budget", "epochs", "workers", "backend", "address",
          "out"),
    extra=(
        inspect.Parameter("file", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Annotated[
            Path, typer.Argument(help="Policy file from `activelab policy train`.")]),
        inspect.Parameter("baselines", inspect.Parameter.KEYWORD_ONLY, default="random,margin", annotation=Annotated[
            str, typer.Option(help="Strategies run beside the policy, comma-separated.")]),
    ),
    prepare=_prepare,
)


def train_pairs(
    out: Annotated[Path, typer.Option(help="Pair policy file to write (.pt).")],
    seed: Annotated[int, typer.Option(help="Seed of every random choice.")] = 0,
    iterations: Annotated[int, typer.Option(help="DAgger iterations.")] = 3,
    episodes: Annotated[int, typer.Option(help="Clustering runs per iteration.")] = 12,
    max_per_item: Annotated[int, typer.Option(help="Pairs per item per batch before the top-up.")] = 2,
) -> None:
    """Train the active-clustering pair policy (`cluster --strategy learned`) by imitation, on tasks outside the TMLR pack."""
    import logging
    import shlex

    from ..learned.pairs import PairTrainConfig, train_pair_policy

    with user_errors(validation=True):
        config = PairTrainConfig(seed=seed, iterations=iterations, episodes=episodes, max_per_item=max_per_item)
    command = shlex.join(["activelab", "policy", "train-pairs", "--out", str(out), "--seed", str(seed),
                          "--iterations", str(iterations), "--episodes", str(episodes),
                          "--max-per-item", str(max_per_item)])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    with user_errors():
        path = train_pair_policy(config, out, command=command)
    console().print(f"wrote {path}", highlight=False)


def train_switch(
    out: Annotated[Path, typer.Option(help="Switch policy file to write (.pt).")],
    seed: Annotated[int, typer.Option(help="Seed of every random choice.")] = 0,
    tasks: Annotated[int, typer.Option(help="Training tasks (episodes) of the rollout teacher.")] = 60,
    horizon: Annotated[int, typer.Option(help="Rounds of the anchor rule after the tried action in the teacher's rollouts.")] = 2,
    actions: Annotated[str, typer.Option(help="Round-level actions, comma-separated, margin first.")] = "margin,badge,typiclust,probcover",
    members: Annotated[int, typer.Option(help="Ensemble size (the policy leaves its anchor only where all agree).")] = 5,
    anchor: Annotated[str, typer.Option(help="The rule the policy falls back to: margin, or tcm (TypiClust below 3 labels "
                                             "per class and for the first batch, then margin).")] = "margin",
    caution: Annotated[float, typer.Option(help="Ensemble standard deviations below the mean advantage that must still be "
                                                "above zero to leave the anchor (0: follow the mean).")] = 1.0,
    sources: Annotated[str, typer.Option(help="Training task sources, comma-separated (generated, blobs, breast_cancer, "
                                              "wine, iris or a registered dataset that is no evaluation set).")]
    = "generated,blobs,breast_cancer",
    learners: Annotated[str, typer.Option(help="Proxy learners of the training tasks, comma-separated (logreg, mlp).")]
    = "logreg,mlp",
    protocol: Annotated[str, typer.Option(help="Training tasks: random (query sizes 1-10, C-3C random initial labels) or "
                                               "deployment (10 per round from 10 or 20 TypiClust labels to 100 or 120).")]
    = "random",
) -> None:
    """Train the round-level switch policy (`--strategy policy` with its file) on training tasks."""
    import logging
    import shlex

    from ..learned.switch import SwitchTrainConfig, train_switch_policy

    with user_errors(validation=True):
        config = SwitchTrainConfig(seed=seed, tasks=tasks, horizon=horizon, actions=tuple(actions.split(",")),
                                   members=members, anchor=anchor, caution=caution,
                                   sources=tuple(sources.split(",")), learners=tuple(learners.split(",")),
                                   protocol=protocol)
    command = shlex.join(["activelab", "policy", "train-switch", "--out", str(out), "--seed", str(seed),
                          "--tasks", str(tasks), "--horizon", str(horizon), "--actions", actions,
                          "--members", str(members), "--anchor", anchor, "--caution", str(caution),
                          "--sources", sources, "--learners", learners, "--protocol", protocol])
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    with user_errors():
        path = train_switch_policy(config, out, command=command)
    console().print(f"wrote {path}", highlight=False)
