"""The ``activelab`` command line: run experiment grids, list what is registered, fetch data.

User errors (unknown names, invalid settings, missing files) print one red ``error: ...`` line to
stderr and exit with code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from .errors import ActiveLabError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["app", "main"]

#: Protocol of ``activelab demo`` (the reference protocol on digits).
DEMO_STRATEGIES = ("random", "margin", "entropy", "bald", "badge", "coreset")

app = typer.Typer(
    name="activelab",
    help="Active learning for deep models: run strategy comparisons, list components, fetch data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(help="Fetch and list datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")

_err = Console(stderr=True)


def _console() -> Console:
    """Stdout console; when piped (no terminal, no $COLUMNS) wide enough that tables do not wrap."""
    console = Console()
    if not console.is_terminal and not os.environ.get("COLUMNS"):
        console = Console(width=120)
    return console


@contextlib.contextmanager
def _user_errors(validation: bool = False) -> Iterator[None]:
    """Turn user errors into ``error: ...`` on stderr and exit code 2.

    ``validation=True`` also catches ``ValueError``/``TypeError`` (raised while checking the
    command's arguments); outside validation those are bugs and propagate with a traceback.
    """
    caught: tuple[type[BaseException], ...] = (ActiveLabError, FileNotFoundError)
    if validation:
        caught += (ValueError, TypeError)
    try:
        yield
    except caught as err:
        _err.print(f"[bold red]error:[/] {err}", markup=True, highlight=False, soft_wrap=True)
        raise typer.Exit(code=2) from err


def _split(option: str, value: str) -> tuple[str, ...]:
    """``"a,b , c"`` -> ``("a", "b", "c")``."""
    names = tuple(part.strip() for part in value.split(",") if part.strip())
    if not names:
        raise ValueError(f"{option} needs at least one name, got {value!r}.")
    return names


def _fmt(mean: float, std: float) -> str:
    return f"{mean:.4f} ± {std:.4f}"


def _print_summary(summary: pd.DataFrame, out: Path) -> None:
    """The summary as a rich table (best AUC of each dataset/model in bold), then the paths."""
    table = Table(
        title="Test accuracy over seeds (AUC = mean over rounds)",
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
    )
    for col, justify in (
        ("dataset", "left"),
        ("model", "left"),
        ("strategy", "left"),
        ("AUC mean ± std", "right"),
        ("final acc ± std", "right"),
        ("seeds", "right"),
        ("s/round", "right"),
    ):
        table.add_column(col, justify=justify)  # type: ignore[arg-type]
    best = summary.groupby(["dataset", "model"], sort=False)["auc_mean"].transform("max")
    for (_, row), top in zip(summary.iterrows(), summary["auc_mean"] == best):
        style = "bold" if top and len(summary) > 1 else None
        table.add_row(
            str(row["dataset"]),
            str(row["model"]),
            str(row["strategy"]),
            _fmt(row["auc_mean"], row["auc_std"]),
            _fmt(row["final_accuracy_mean"], row["final_accuracy_std"]),
            str(int(row["n_seeds"])),
            f"{row['seconds_per_round']:.3f}",
            style=style,
        )
    console = _console()
    console.print(table)
    console.print("wrote:", highlight=False)
    for name in ("rounds.csv", "summary.csv", "curves.png", "jobs/"):
        console.print(f"  {out / name}", highlight=False)


def _run(config_kwargs: dict[str, object]) -> None:
    from .experiments import RunConfig, run_experiments, summarise

    with _user_errors(validation=True):
        config = RunConfig(**config_kwargs)  # type: ignore[arg-type]
    # Names, data and the budget are checked before any job starts (ConfigError, UnknownNameError).
    with _user_errors():
        rounds = run_experiments(config, progress=True)
    _print_summary(summarise(rounds), config.out)


@app.command()
def run(
    dataset: Annotated[str, typer.Option(help="Dataset name(s) or .npz/.csv file(s), comma-separated.")],
    strategy: Annotated[str, typer.Option(help="Strategy name(s), comma-separated, e.g. random,margin,badge.")],
    out: Annotated[Path, typer.Option(help="Output directory (rerunning into it resumes).")],
    model: Annotated[str, typer.Option(help="Model name(s), comma-separated.")] = "mlp",
    seeds: Annotated[int, typer.Option(help="Number of seeds (0..N-1), paired across strategies.")] = 3,
    initial: Annotated[int, typer.Option(help="Size of the random initial labelled set.")] = 20,
    query_size: Annotated[int, typer.Option(help="Labels acquired per round.")] = 10,
    budget: Annotated[int, typer.Option(help="Total labels, including the initial set.")] = 320,
    epochs: Annotated[int | None, typer.Option(help="Training epochs per fit (default: the model's).")] = None,
    workers: Annotated[int, typer.Option(help="Parallel worker processes.")] = 1,
    device: Annotated[str, typer.Option(help="cpu or cuda.")] = "cpu",
    update: Annotated[
        str | None,
        typer.Option(help="Update policy of torch models: retrain, warm_start or finetune."),
    ] = None,
    initial_strategy: Annotated[
        str,
        typer.Option(help="How the initial set is chosen, on the input features: random, kmeans, typiclust or probcover."),
    ] = "random",
    strategy_options: Annotated[
        str | None,
        typer.Option(
            help='Keyword arguments per strategy as JSON, e.g. \'{"typiclust": {"space": "input", "pca": 50, '
            '"normalize": true}}\'; also applies to --initial-strategy.'
        ),
    ] = None,
    stop: Annotated[
        str | None,
        typer.Option(
            help="Stopping criteria: names (stabilizing_predictions,accuracy_plateau) or JSON with their "
            'arguments, e.g. \'{"max_uncertainty": {"threshold": 0.1}}\'. The budget always stops a run.'
        ),
    ] = None,
) -> None:
    """Compare strategies on datasets and models over paired seeds; write rounds, summary and curves."""
    with _user_errors(validation=True):
        options = _json_option("--strategy-options", strategy_options)
        stopping = (
            _json_option("--stop", stop) if stop is not None and stop.lstrip().startswith("{")
            else {name: {} for name in _split("--stop", stop)} if stop is not None else {}
        )
        kwargs: dict[str, object] = {
            "datasets": _split("--dataset", dataset),
            "strategies": _split("--strategy", strategy),
            "models": _split("--model", model),
            "seeds": seeds,
            "initial": initial,
            "query_size": query_size,
            "budget": budget,
            "epochs": epochs,
            "workers": workers,
            "device": device,
            "update": update,
            "initial_strategy": initial_strategy,
            "strategy_options": options,
            "stopping": stopping,
            "out": out,
        }
    _run(kwargs)


def _json_option(flag: str, text: str | None) -> dict[str, Any]:
    """Parse a JSON object given on the command line (``None`` → empty)."""
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ValueError(f"{flag} must be a JSON object, e.g. '{{\"typiclust\": {{\"pca\": 50}}}}'; got {text!r} ({err.msg}).") from err
    if not isinstance(value, dict):
        raise ValueError(f"{flag} must be a JSON object mapping strategy names to keyword arguments; got {text!r}.")
    return value


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Output directory.")] = Path("demo-out"),
) -> None:
    """Digits, six strategies, 3 seeds, the reference protocol (20 + 10/round to 320), 2 workers."""
    _run({
        "datasets": ("digits",),
        "strategies": DEMO_STRATEGIES,
        "models": ("mlp",),
        "seeds": 3,
        "initial": 20,
        "query_size": 10,
        "budget": 320,
        "workers": 2,
        "out": out,
    })


def _listing(title: str, rows: list[tuple[str, ...]], columns: tuple[str, ...]) -> None:
    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*row)
    _console().print(table)


def _list_datasets() -> None:
    from .data import cache_dir, list_datasets

    rows = [(n, d, "yes" if ok else "no (activelab data fetch " + n + ")") for n, d, ok in list_datasets()]
    _listing("Datasets (or pass a .npz/.csv file)", rows, ("name", "description", "available"))
    _console().print(f"cache: {cache_dir()}", highlight=False)


def _list_strategies() -> None:
    from .strategies.registry import list_strategies

    _listing("Strategies", list_strategies(), ("name", "description"))


def _list_models() -> None:
    from .models.registry import list_models

    _listing("Models", list_models(), ("name", "description"))


_LISTINGS = {"strategies": _list_strategies, "datasets": _list_datasets, "models": _list_models}


@app.command("list")
def list_(
    what: Annotated[str, typer.Argument(help="strategies, datasets or models.", metavar="strategies|datasets|models")],
) -> None:
    """List the registered strategies, datasets or models with a one-line description."""
    from ._registry import lookup

    with _user_errors():
        show = lookup("listing", what, _LISTINGS)
    show()


@data_app.command("fetch")
def data_fetch(
    name: Annotated[str, typer.Argument(help="Dataset to download: mnist, fashion-mnist or newsgroups.")],
) -> None:
    """Download a dataset into the cache (verified by SHA-256) and print where it is."""
    from .data import fetch

    with _user_errors():
        path = fetch(name)
    _console().print(f"{name}: {path}", highlight=False)


@data_app.command("list")
def data_list() -> None:
    """List the datasets and whether each is available locally."""
    _list_datasets()


from .clustering.cli import cluster_command  # noqa: E402  (active clustering, issue 5)

app.command("cluster")(cluster_command)


# ------------------------------------------------------------------------- learned policies
policy_app = typer.Typer(help="Train and evaluate learned acquisition policies.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")


@policy_app.command("train")
def policy_train(
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

    from .learned.train import TrainConfig, train_policy

    command = shlex.join([
        "activelab", "policy", "train", "--mode", mode, "--timesteps", str(timesteps),
        "--dagger-iterations", str(dagger_iterations), "--episodes", str(episodes),
        "--max-candidates", str(max_candidates), "--seed", str(seed), "--out", str(out),
    ])
    with _user_errors(validation=True):
        config = TrainConfig(
            mode=mode, timesteps=timesteps, dagger_iterations=dagger_iterations, episodes_per_iteration=episodes,
            max_candidates=max_candidates, seed=seed, command=command,
        )
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    with _user_errors():
        path = train_policy(config, out)
    _console().print(f"wrote {path}", highlight=False)


@policy_app.command("evaluate")
def policy_evaluate(
    file: Annotated[Path, typer.Argument(help="Policy file from `activelab policy train`.")],
    datasets: Annotated[str, typer.Option(help="Dataset name(s) or file(s), comma-separated.")],
    out: Annotated[Path, typer.Option(help="Output directory (same files as `activelab run`).")],
    baselines: Annotated[str, typer.Option(help="Strategies run beside the policy, comma-separated.")] = "random,margin",
    model: Annotated[str, typer.Option(help="Model name(s), comma-separated.")] = "mlp",
    seeds: Annotated[int, typer.Option(help="Number of paired seeds.")] = 3,
    initial: Annotated[int, typer.Option(help="Size of the random initial labelled set.")] = 20,
    query_size: Annotated[int, typer.Option(help="Labels acquired per round.")] = 10,
    budget: Annotated[int, typer.Option(help="Total labels, including the initial set.")] = 320,
    epochs: Annotated[int | None, typer.Option(help="Training epochs per fit (default: the model's).")] = None,
    workers: Annotated[int, typer.Option(help="Parallel worker processes.")] = 1,
) -> None:
    """Run the policy (as strategy `policy`) and baselines on datasets; writes rounds, summary, curves."""
    from .learned.strategy import load_policy

    with _user_errors(validation=True):
        load_policy(file)
        strategies = ("policy", *(b for b in _split("--baselines", baselines) if b != "policy"))
        kwargs: dict[str, object] = {
            "datasets": _split("--datasets", datasets), "strategies": strategies, "models": _split("--model", model),
            "seeds": seeds, "initial": initial, "query_size": query_size, "budget": budget, "epochs": epochs,
            "workers": workers, "out": out,
            "strategy_options": {"policy": {"path": str(file.expanduser().resolve())}},
        }
    _run(kwargs)


def main() -> None:
    """Entry point of the ``activelab`` command."""
    app(prog_name="activelab")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
