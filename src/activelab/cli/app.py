"""The ``activelab`` command line: the typer app and where each command comes from.

User errors (unknown names, invalid settings, missing files) print one red ``error: ...`` line to
stderr and exit with code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

import typer
from rich.table import Table

from . import cluster as cluster_command
from . import label as label_commands
from . import policy as policy_commands
from . import run as run_commands
from . import select as select_command
from .common import console, user_errors

__all__ = ["app", "main"]

app = typer.Typer(
    name="activelab",
    help="Active learning for deep models: run strategy comparisons, list components, fetch data.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("run")(run_commands.run)
app.command("demo")(run_commands.demo)
app.command("cluster")(cluster_command.cluster)
app.command("select")(select_command.select)

data_app = typer.Typer(help="Fetch and list datasets.", no_args_is_help=True)
app.add_typer(data_app, name="data")
policy_app = typer.Typer(help="Train and evaluate learned acquisition policies.", no_args_is_help=True)
app.add_typer(policy_app, name="policy")
policy_app.command("train")(policy_commands.train)
policy_app.command("evaluate")(policy_commands.evaluate)
policy_app.command("train-pairs")(policy_commands.train_pairs)
policy_app.command("train-switch")(policy_commands.train_switch)
app.add_typer(label_commands.label_app, name="label")


def _listing(title: str, rows: Sequence[tuple[str, ...]], columns: tuple[str, ...]) -> None:
    table = Table(title=title, title_justify="left")
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in rows:
        table.add_row(*row)
    console().print(table)


def _list_datasets() -> None:
    from ..data import cache_dir, list_datasets

    rows = [(n, d, "yes" if ok else "no (activelab data fetch " + n + ")") for n, d, ok in list_datasets()]
    _listing("Datasets (or pass a .npz/.csv file)", rows, ("name", "description", "available"))
    console().print(f"cache: {cache_dir()}", highlight=False)


def _list_strategies() -> None:
    from ..strategies.registry import list_strategies

    _listing("Strategies", list_strategies(), ("name", "description"))


def _list_models() -> None:
    from ..models.registry import list_models

    _listing("Models", list_models(), ("name", "description"))


_LISTINGS = {"strategies": _list_strategies, "datasets": _list_datasets, "models": _list_models}


@app.command("list")
def list_(
    what: Annotated[str, typer.Argument(help="strategies, datasets or models.", metavar="strategies|datasets|models")],
) -> None:
    """List the registered strategies, datasets or models with a one-line description."""
    from .._registry import lookup

    with user_errors():
        show = lookup("listing", what, _LISTINGS)
    show()


@data_app.command("fetch")
def data_fetch(
    name: Annotated[str, typer.Argument(help="Dataset to download: mnist, fashion-mnist or newsgroups.")],
) -> None:
    """Download a dataset into the cache (verified by SHA-256) and print where it is."""
    from ..data import fetch

    with user_errors():
        path = fetch(name)
    console().print(f"{name}: {path}", highlight=False)


@data_app.command("list")
def data_list() -> None:
    """List the datasets and whether each is available locally."""
    _list_datasets()


def main() -> None:
    """Entry point of the ``activelab`` command."""
    app(prog_name="activelab")
