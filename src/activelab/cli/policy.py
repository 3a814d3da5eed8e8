"""``activelab policy train|evaluate``: learned acquisition policies."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated, Any

import typer

from ..experiments.config import RunConfig
from .common import command_from_config, console, user_errors
from .run import run_config

__all__ = ["evaluate", "train"]


def train(
    out: Annotated[Path, typer.Option(help="Policy file to write (.pt).")],
    mode: Annotated[str, typer.Option(help="Action mode: pick, weights or heuristic.")] = "pick",
    timesteps: Annotated[int, typer.Option(help="RL steps (pick: MaskablePPO after imitation, 0 = imitation only).")] = 30000,
    dagger_iterations: Annotated[int, typer.Option(help="DAgger iterations (pick mode; the first is behaviour cloning).")] = 3,
    episodes: Annotated[int, typer.Option(help="Episodes per DAgger iteration (pick mode).")] = 8,
    max_candidates: Annotated[int, typer.Option(help="Candidates per round shown to the policy (K_max).")] = 32,
    seed: Annotated[int, typer.Option(help="Root seed.")] = 0,
) -> None:
    """Train a policy on generated and registry training tasks (never the held-out datasets)."""
    import logging
    import shlex

    from ..learned.train import TrainConfig, train_policy

    command = shlex.join([
        "activelab", "policy", "train", "--mode", mode, "--timesteps", str(timesteps),
        "--dagger-iterations", str(dagger_iterations), "--episodes", str(episodes),
        "--max-candidates", str(max_candidates), "--seed", str(seed), "--out", str(out),
    ])
    with user_errors(validation=True):
        config = TrainConfig(
            mode=mode, timesteps=timesteps, dagger_iterations=dagger_iterations, episodes_per_iteration=episodes,
            max_candidates=max_candidates, seed=seed, command=command,
        )
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


evaluate = command_from_config(
    RunConfig, run_config,
    doc="Run the policy (as strategy `policy`) and baselines on datasets; writes rounds, summary, curves.",
    only=("datasets", "models", "seeds", "initial", "query_size", "budget", "epochs", "workers", "out"),
    extra=(
        inspect.Parameter("file", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Annotated[
            Path, typer.Argument(help="Policy file from `activelab policy train`.")]),
        inspect.Parameter("baselines", inspect.Parameter.KEYWORD_ONLY, default="random,margin", annotation=Annotated[
            str, typer.Option(help="Strategies run beside the policy, comma-separated.")]),
    ),
    prepare=_prepare,
)
