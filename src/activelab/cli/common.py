"""Helpers every command shares: consoles, user errors, the table style, commands built from configs."""

from __future__ import annotations

import contextlib
import dataclasses
import inspect
import os
import typing
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.console import Console, JustifyMethod
from rich.markup import escape
from rich.table import Table

from ..errors import ActiveLabError, ActiveLabWarning
from ..experiments.options import cli_fields

__all__ = ["command_from_config", "console", "print_table", "print_written", "user_errors"]

err_console = Console(stderr=True)


def console() -> Console:
    """Stdout console; when piped (no terminal, no $COLUMNS) wide enough that tables do not wrap."""
    out = Console()
    if not out.is_terminal and not os.environ.get("COLUMNS"):
        out = Console(width=120)
    return out


@contextlib.contextmanager
def user_errors(validation: bool = False) -> Iterator[None]:
    """Turn user errors into one ``error: ...`` line on stderr and exit code 2.

    ``validation=True`` also catches ``ValueError``/``TypeError`` (raised while checking the
    command's arguments); outside validation those are bugs and keep their traceback.
    activelab's own warnings (:class:`~activelab.errors.ActiveLabWarning`, e.g. stray label
    values) are printed as one ``warning: ...`` line each, as they happen.
    """
    caught: tuple[type[BaseException], ...] = (ActiveLabError, FileNotFoundError)
    if validation:
        caught += (ValueError, TypeError)
    with warnings.catch_warnings():  # restores showwarning afterwards
        shown = warnings.showwarning

        def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                 file: typing.TextIO | None = None, line: str | None = None) -> None:
            if issubclass(category, ActiveLabWarning):
                err_console.print(f"[bold yellow]warning:[/] {escape(str(message))}", markup=True, highlight=False, soft_wrap=True)
            else:
                shown(message, category, filename, lineno, file, line)

        warnings.showwarning = show
        warnings.simplefilter("default", ActiveLabWarning)  # shown, even where warnings are errors (e.g. under pytest)
        try:
            yield
        except caught as err:
            err_console.print(f"[bold red]error:[/] {escape(str(err))}", markup=True, highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from err


def print_table(title: str, columns: Sequence[tuple[str, JustifyMethod]], rows: Sequence[Sequence[str]],
                bold: Sequence[bool] | None = None) -> None:
    """The results table of ``run`` and ``cluster``: one style for both (bold rows are the best)."""
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
                  collapse_padding=True)
    for name, justify in columns:
        table.add_column(name, justify=justify)
    for i, row in enumerate(rows):
        table.add_row(*row, style="bold" if bold is not None and bold[i] else None)
    console().print(table)


def print_written(out: Path) -> None:
    """The files a grid wrote."""
    c = console()
    c.print("wrote:", highlight=False)
    for name in ("rounds.csv", "queries.csv", "summary.csv", "curves.png", "jobs/"):
        if (out / name).exists():
            c.print(f"  {out / name}", highlight=False)


def command_from_config(
    config_cls: type,
    body: Callable[[Any, dict[str, Any]], None],
    *,
    doc: str,
    only: Sequence[str] | None = None,
    extra: Sequence[inspect.Parameter] = (),
    prepare: Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]] | None = None,
) -> Callable[..., None]:
    """A typer command whose options are the fields of ``config_cls``, declared once there.

    Each field declared with :func:`~activelab.experiments.options.option` becomes an option
    with its flags, help and default; the command parses the values, builds ``config_cls``
    (errors become one ``error:`` line and exit code 2) and calls ``body(config, extras)``.

    Args:
        config_cls: A dataclass whose fields carry :class:`~activelab.experiments.options.Opt`.
        body: Runs the command.
        doc: The command's help text.
        only: The fields to offer (default: all CLI fields).
        extra: More typer parameters; their values reach ``body`` (and ``prepare``) in ``extras``.
        prepare: ``(field values, extras) -> field values`` before the config is built (e.g. to
            derive fields from ``extras``).
    """
    hints = typing.get_type_hints(config_cls)
    specs = {}
    params = []
    for f, opt in cli_fields(config_cls):
        if only is not None and f.name not in only:
            continue
        if f.default is not dataclasses.MISSING:
            default: Any = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = inspect.Parameter.empty
        if default is not inspect.Parameter.empty and opt.to_cli is not None:
            default = opt.to_cli(default)
        flags = opt.flags or ("--" + f.name.replace("_", "-"),)
        cli_type = opt.cli_type if opt.cli_type is not None else hints[f.name]
        params.append(inspect.Parameter(
            f.name, inspect.Parameter.KEYWORD_ONLY, default=default,
            annotation=Annotated[cli_type, typer.Option(*flags, help=opt.help)],
        ))
        specs[f.name] = opt
    positional = [p for p in extra if p.kind is not inspect.Parameter.KEYWORD_ONLY]
    params = positional + params + [p for p in extra if p.kind is inspect.Parameter.KEYWORD_ONLY]

    def command(**kwargs: Any) -> None:
        extras = {k: v for k, v in kwargs.items() if k not in specs}
        with user_errors(validation=True):
            values = {k: (parse(v) if (parse := specs[k].parse) is not None else v) for k, v in kwargs.items() if k in specs}
            if prepare is not None:
                values = prepare(values, extras)
            config = config_cls(**values)
        body(config, extras)

    command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]  # read by typer
    command.__annotations__ = {p.name: p.annotation for p in params}
    command.__doc__ = doc
    return command
