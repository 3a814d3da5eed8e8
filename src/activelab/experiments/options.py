"""Run options declared once: a dataclass field carries its help, flags, CLI parsing and protocol role.

A configuration dataclass (:class:`~activelab.experiments.config.RunConfig`,
:class:`~activelab.clustering.runner.ClusterRunConfig`) declares each field with :func:`option`.
The command line is built from those declarations (:mod:`activelab.cli`), and the grid's protocol
(the settings a rerun into the same output directory must repeat) is the set of fields declared
with ``protocol=True``. Nothing about an option is written twice.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from dataclasses import MISSING, dataclass
from typing import Any

from ..errors import ActiveLabError

__all__ = ["ConfigError", "Opt", "cli_fields", "json_object", "names", "names_or_json", "option", "protocol_fields"]

_KEY = "activelab"


class ConfigError(ActiveLabError, ValueError):
    """An experiment configuration is invalid; the message names the setting and the fix."""


def names(flag: str) -> Callable[[str], tuple[str, ...]]:
    """Parser of a comma-separated list: ``"a, b,c"`` -> ``("a", "b", "c")``."""

    def parse(text: str) -> tuple[str, ...]:
        out = tuple(part.strip() for part in str(text).split(",") if part.strip())
        if not out:
            raise ValueError(f"{flag} needs at least one name, got {text!r}.")
        return out

    return parse


def json_object(flag: str) -> Callable[[str | None], dict[str, Any]]:
    """Parser of a JSON object given on the command line (``None`` -> ``{}``)."""

    def parse(text: str | None) -> dict[str, Any]:
        if text is None:
            return {}
        try:
            value = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(
                f"{flag} must be a JSON object, e.g. '{{\"typiclust\": {{\"pca\": 50}}}}'; got {text!r} ({err.msg})."
            ) from err
        if not isinstance(value, dict):
            raise ValueError(f"{flag} must be a JSON object mapping names to keyword arguments; got {text!r}.")
        return value

    return parse


def names_or_json(flag: str) -> Callable[[str | None], dict[str, Any]]:
    """Parser of ``"a,b"`` (each with no arguments) or a JSON object ``{"a": {...}}``."""
    as_json, as_names = json_object(flag), names(flag)

    def parse(text: str | None) -> dict[str, Any]:
        if text is None:
            return {}
        if text.lstrip().startswith("{"):
            return as_json(text)
        return {name: {} for name in as_names(text)}

    return parse


@dataclass(frozen=True)
class Opt:
    """How one configuration field appears on the command line and in the protocol.

    Attributes:
        help: One line for ``--help``.
        flags: Option names (default ``--<field-name-with-dashes>``).
        cli_type: The type typer parses (``str`` for lists and JSON; ``None`` = the field's own).
        parse: CLI value -> field value (``None``: taken as it is).
        to_cli: Field default -> the default shown on the command line (``None``: as it is).
        protocol: The setting changes the results, so a rerun into the same ``OUT`` must repeat it.
        cli: False keeps the field off the command line.
    """

    help: str
    flags: tuple[str, ...] = ()
    cli_type: Any = None
    parse: Callable[[Any], Any] | None = None
    to_cli: Callable[[Any], Any] | None = None
    protocol: bool = False
    cli: bool = True


def option(
    default: Any = MISSING,
    *,
    help: str,  # shadows the builtin on purpose: the word users see in --help
    flags: tuple[str, ...] = (),
    cli_type: Any = None,
    parse: Callable[[Any], Any] | None = None,
    to_cli: Callable[[Any], Any] | None = None,
    protocol: bool = False,
    cli: bool = True,
    default_factory: Any = MISSING,
    kw_only: bool = False,
) -> Any:
    """A dataclass field declared with its :class:`Opt` (help, flags, parsing, protocol role)."""
    meta = {_KEY: Opt(help, flags, cli_type, parse, to_cli, protocol, cli)}
    if default_factory is not MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=meta, kw_only=kw_only)
    return dataclasses.field(default=default, metadata=meta, kw_only=kw_only)


def cli_fields(cls: type) -> list[tuple[dataclasses.Field[Any], Opt]]:
    """The fields of ``cls`` that appear on the command line, with their :class:`Opt`, in order."""
    out = []
    for f in dataclasses.fields(cls):
        opt = f.metadata.get(_KEY)
        if isinstance(opt, Opt) and opt.cli:
            out.append((f, opt))
    return out


def protocol_fields(cls: type) -> tuple[str, ...]:
    """Names of the fields declared with ``protocol=True``, in declaration order."""
    return tuple(
        f.name for f in dataclasses.fields(cls) if isinstance(f.metadata.get(_KEY), Opt) and f.metadata[_KEY].protocol
    )
