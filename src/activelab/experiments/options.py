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

__all__ = [
    "BACKENDS",
    "ConfigError",
    "Opt",
    "address_option",
    "backend_option",
    "check_backend",
    "cli_fields",
    "json_object",
    "names",
    "names_or_json",
    "option",
    "protocol_fields",
]

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


#: Where a grid's jobs run (``--backend``); neither changes the results.
BACKENDS = {
    "local": "worker processes on this machine (--workers of them)",
    "ray": "Ray tasks on a local or remote Ray cluster (pip install 'activelab[ray]')",
}


def backend_option(help: str | None = None) -> Any:  # shadows the builtin, as option() does
    """The ``--backend`` field of a grid command's configuration (not part of the protocol).

    ``help`` replaces the grid's help text (e.g. for policy training, whose rollouts are the work).
    """
    return option(
        "local", help=help or "Where the jobs run: local (--workers processes on this machine) or ray (Ray tasks, one "
        "per CPU of the cluster; needs pip install 'activelab[ray]'). Results are the same; a run may resume on the other.",
    )


def address_option() -> Any:
    """The ``--address`` field: the Ray cluster of ``--backend ray`` (not part of the protocol)."""
    return option(
        None, help="With --backend ray: the cluster to connect to (host:port of its head, ray://host:port for Ray "
        "Client, or auto); default: start a local Ray on this machine.", cli_type=str | None,
    )


def check_backend(backend: Any, address: Any) -> None:
    """Check a ``backend``/``address`` pair before any work (no connection is made here).

    ``address`` must be ``None``, ``"auto"``, ``"host:port"`` or ``"ray://host:port"`` (port
    1-65535), and is only meaningful with ``backend="ray"``.

    Raises:
        ConfigError: Naming the bad value and the accepted ones.
    """
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ConfigError(f"backend (--backend) must be one of {', '.join(BACKENDS)}; got {backend!r}.")
    if address is None:
        return
    if backend != "ray":
        raise ConfigError(f"address (--address {address!r}) is a Ray cluster's address; it needs --backend ray.")
    if not isinstance(address, str) or not _valid_address(address):
        raise ConfigError(
            f"address (--address) must be auto, host:port (a Ray head's GCS port, e.g. 10.0.0.5:6379) or "
            f"ray://host:port (Ray Client, e.g. ray://10.0.0.5:10001); got {address!r}."
        )


def _valid_address(address: str) -> bool:
    if address == "auto":
        return True
    rest = address[len("ray://"):] if address.startswith("ray://") else address
    host, sep, port = rest.rpartition(":")
    return bool(sep and host.strip("[]") and " " not in host and "/" not in host and port.isdigit() and 0 < int(port) < 65536)
