"""The configuration of ``activelab run``: :class:`RunConfig`, every option declared once.

Each field carries its help text, command-line flags and parsing, and whether it belongs to the
protocol (see :mod:`activelab.experiments.options`); ``activelab run`` and ``activelab policy
evaluate`` are generated from these declarations.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._registry import lookup
from ..data.base import SCALES
from ..engine import OWN_INITIAL, resolve_initial_strategy
from ..models.torch import UPDATE_POLICIES
from ..stopping import STOPPING
from .options import (
    ConfigError,
    address_option,
    backend_option,
    check_backend,
    json_object,
    names,
    names_or_json,
    option,
    protocol_fields,
)

__all__ = ["PROTOCOL", "ConfigError", "RunConfig"]


def _joined(value: Any) -> str:
    return ",".join(value)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _names(name: str, value: Any) -> tuple[str, ...]:
    """Normalise a list of names (a single str or path is one name)."""
    if isinstance(value, (str, os.PathLike)):
        value = (value,)
    try:
        items = tuple(value)
    except TypeError as err:
        raise TypeError(f"{name} must be a sequence of names, got {type(value).__name__}.") from err
    out = []
    for item in items:
        if isinstance(item, os.PathLike):
            item = os.fspath(item)
        if not isinstance(item, str) or not item.strip():
            raise TypeError(f"{name} must hold non-empty strings, got {item!r}.")
        out.append(item.strip())
    if not out:
        raise ConfigError(f"{name} is empty; give at least one (see `activelab list {name}`).")
    dupes = sorted({n for n in out if out.count(n) > 1})
    if dupes:
        raise ConfigError(f"{name} lists {', '.join(map(repr, dupes))} more than once; give each once.")
    return tuple(out)


def _int(name: str, value: Any, minimum: int) -> None:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{name} ({_flag(name)}) must be an int, got {type(value).__name__} {value!r}.")
    if value < minimum:
        raise ConfigError(f"{name} ({_flag(name)}) must be an int >= {minimum}, got {value}.")


def _json_kwargs(setting: str, name: str, kwargs: Any) -> dict[str, Any]:
    """``kwargs`` as a plain dict that survives a JSON round trip (paths become strings)."""
    if not isinstance(kwargs, Mapping) or not all(isinstance(k, str) for k in kwargs):
        raise TypeError(f"{setting}[{name!r}] must be a dict of keyword arguments, got {kwargs!r}.")
    clean = {k: os.fspath(v) if isinstance(v, os.PathLike) else v for k, v in kwargs.items()}
    try:
        same = json.loads(json.dumps(clean)) == clean
    except (TypeError, ValueError):
        same = False
    if not same:
        raise ConfigError(
            f"{setting}[{name!r}] = {kwargs!r} is not JSON-serialisable as given (use str, int, float, "
            "bool, None, lists and dicts); it is stored in config.json."
        )
    return clean


def _keyword_table(setting: str, value: Any, known: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Check ``{name: {kwarg: value}}`` against the registered ``known`` names."""
    if not isinstance(value, Mapping):
        raise TypeError(f"{setting} must map names to keyword dicts, got {type(value).__name__}.")
    for name in value:
        lookup(setting.replace("_", " "), name, known)
    return {name: _json_kwargs(setting, name, kwargs) for name, kwargs in value.items()}


def _strategy_options(value: Any, strategies: tuple[str, ...], initial_strategy: str) -> dict[str, dict[str, Any]]:
    """Check and normalise ``strategy_options`` to a JSON-round-trippable ``{name: {kwarg: value}}``."""
    if not isinstance(value, Mapping):
        raise TypeError(f"strategy_options must map strategy names to keyword dicts, got {type(value).__name__}.")
    out: dict[str, dict[str, Any]] = {}
    for name, kwargs in value.items():
        if name not in strategies and name != initial_strategy:
            raise ConfigError(
                f"strategy_options names strategy {name!r}, which is neither among the strategies {list(strategies)} "
                "nor the initial strategy; add it or drop its options."
            )
        out[name] = _json_kwargs("strategy_options", name, kwargs)
    return out


@dataclass(frozen=True)
class RunConfig:
    """A grid of active-learning runs and the protocol they share.

    Attributes:
        datasets: Registered dataset names (``activelab list datasets``) or ``.npz``/``.csv``
            paths; a single string is one dataset.
        strategies: Registered strategy names (``activelab list strategies``).
        models: Registered model names (``activelab list models``).
        seeds: Number of seeds; runs use seeds ``0 .. seeds-1``.
        initial: Size of the initial labelled set; 0 = no labels to start with (the initial
            strategy picks the first ``query_size`` items before any model exists).
        query_size: Labels acquired per round.
        budget: Total labels, including the initial set.
        epochs: Training epochs per fit (``None``: the model's default).
        workers: Parallel worker processes of the local backend (1 = run in this process).
        device: ``"cpu"`` or ``"cuda"`` (``"cuda:N"``).
        update: Update policy of torch models (``retrain``, ``warm_start``, ``finetune``;
            ``None``: the model's default).
        initial_strategy: How the initial set is chosen (``--initial-strategy``): ``random``
            (default), ``kmeans``, ``typiclust``, ``probcover`` (or another strategy that needs
            at most embeddings), run on the input features; the same for every strategy of a seed.
        strategy_options: Keyword arguments per strategy name, e.g.
            ``{"policy": {"path": "my_policy.pt"}}`` or ``{"power_bald": {"beta": 2.0}}``;
            values must be JSON-serialisable (they are stored in ``config.json`` and a rerun
            into the same ``out`` must use the same ones). Names must be among ``strategies``
            or be the ``initial_strategy``, which is then built with its options too.
        scale: Feature scaling of user files (``.npz``/``.csv``, tabular features):
            ``standard`` (default: zero mean, unit variance), ``minmax`` or ``none``, fitted on
            each seed's pool rows only (never the test split). Registry datasets are used as
            they are (their loaders already scale them).
        stopping: Stopping criteria by name with their keyword arguments (``--stop``), e.g.
            ``{"stabilizing_predictions": {"threshold": 0.99}}``; see
            :data:`activelab.stopping.STOPPING`. A run also stops when the budget is spent; job
            files then get a ``stop_reason`` column (empty until the round that stopped).
        backend: Where the jobs run: ``"local"`` (``workers`` processes here) or ``"ray"``
            (Ray tasks, see :class:`~activelab.experiments.ray_backend.RayExecutor`). Not part of
            the protocol: the results are the same, and a run started on one resumes on the other.
        address: With ``backend="ray"``: the cluster (``"host:port"``, ``"ray://host:port"``
            or ``"auto"``); ``None`` starts a local Ray.
        out: Output directory (keyword-only).

    Raises:
        TypeError: If a setting has the wrong type.
        ConfigError: If a value is out of range (e.g. ``budget < initial``).
    """

    datasets: tuple[str, ...] = option(
        help="Dataset name(s) or .npz/.csv file(s), comma-separated.", flags=("--dataset", "--datasets"),
        cli_type=str, parse=names("--dataset"), to_cli=_joined,
    )
    strategies: tuple[str, ...] = option(
        help="Strategy name(s), comma-separated, e.g. random,margin,badge.", flags=("--strategy", "--strategies"),
        cli_type=str, parse=names("--strategy"), to_cli=_joined,
    )
    models: tuple[str, ...] = option(
        ("mlp",), help="Model name(s), comma-separated.", cli_type=str, flags=("--model", "--models"),
        parse=names("--model"), to_cli=_joined,
    )
    seeds: int = option(3, help="Number of seeds (0..N-1), paired across strategies.")
    initial: int = option(
        20, help="Size of the initial labelled set (0: the initial strategy picks the first batch).", protocol=True
    )
    query_size: int = option(10, help="Labels acquired per round.", protocol=True)
    budget: int = option(320, help="Total labels, including the initial set.", protocol=True)
    epochs: int | None = option(None, help="Training epochs per fit (default: the model's).", protocol=True)
    workers: int = option(1, help="Parallel worker processes (--backend local).")
    device: str = option("cpu", help="cpu or cuda (cuda:N).")
    update: str | None = option(
        None, help="Update policy of torch models: retrain, warm_start or finetune (default: the model's).", protocol=True
    )
    initial_strategy: str = option(
        "random", help="How the initial set is chosen, on the input features: random, kmeans, typiclust, probcover, "
        "or own (each strategy's own cold start: itself if it needs no model, a switch's low-budget side, else random).",
        protocol=True,
    )
    strategy_options: Mapping[str, Mapping[str, Any]] = option(
        help='Keyword arguments per strategy as JSON, e.g. \'{"typiclust": {"pca": 50, "normalize": true}}\'; '
        "also applies to --initial-strategy.",
        cli_type=str | None, parse=json_object("--strategy-options"), to_cli=lambda v: None, protocol=True,
        default_factory=dict,
    )
    scale: str = option(
        "standard", help="Feature scaling of .npz/.csv files, fitted on the pool rows only: standard, minmax or none "
        "(registry datasets are used as they are).", protocol=True,
    )
    stopping: Mapping[str, Mapping[str, Any]] = option(
        help="Stopping criteria: names (stabilizing_predictions,accuracy_plateau) or JSON with their arguments, "
        'e.g. \'{"max_uncertainty": {"threshold": 0.1}}\'. The budget always stops a run.',
        flags=("--stop",), cli_type=str | None, parse=names_or_json("--stop"), to_cli=lambda v: None, protocol=True,
        default_factory=dict,
    )
    backend: str = backend_option()
    address: str | None = address_option()
    out: Path = option(help="Output directory (rerunning into it resumes).", kw_only=True)

    def __post_init__(self) -> None:
        for name in ("datasets", "strategies", "models"):
            object.__setattr__(self, name, _names(name, getattr(self, name)))
        if not isinstance(self.out, (str, os.PathLike)):
            raise TypeError(f"out must be a directory path, got {type(self.out).__name__}.")
        object.__setattr__(self, "out", Path(self.out).expanduser())
        _int("seeds", self.seeds, 1)
        _int("initial", self.initial, 0)
        _int("query_size", self.query_size, 1)
        _int("budget", self.budget, 1)
        _int("workers", self.workers, 1)
        check_backend(self.backend, self.address)
        if self.epochs is not None:
            _int("epochs", self.epochs, 1)
        if self.budget < self.initial:
            raise ConfigError(
                f"budget (--budget {self.budget}) is smaller than the initial set (--initial {self.initial}); "
                f"the budget counts the initial labels, so raise --budget to at least {self.initial} "
                "or lower --initial."
            )
        if not isinstance(self.device, str) or not re.fullmatch(r"cpu|cuda(:\d+)?", self.device):
            raise ConfigError(f"device (--device) must be 'cpu' or 'cuda' (or 'cuda:N'), got {self.device!r}.")
        if self.update is not None:
            lookup("update policy", self.update, UPDATE_POLICIES)
        if not isinstance(self.scale, str):
            raise TypeError(f"scale (--scale) must be a name, got {type(self.scale).__name__}.")
        lookup("scale (--scale)", self.scale, SCALES)
        if not isinstance(self.initial_strategy, str):
            raise TypeError(f"initial_strategy (--initial-strategy) must be a name, got {type(self.initial_strategy).__name__}.")
        try:
            if self.initial_strategy != OWN_INITIAL:
                resolve_initial_strategy(self.initial_strategy)
        except ValueError as err:
            raise ConfigError(f"initial_strategy (--initial-strategy): {err}") from err
        object.__setattr__(self, "strategy_options", _strategy_options(self.strategy_options, self.strategies, self.initial_strategy))
        object.__setattr__(self, "stopping", _keyword_table("stopping", self.stopping, STOPPING))

    @property
    def seed_list(self) -> tuple[int, ...]:
        """The seeds used: ``0 .. seeds-1``."""
        return tuple(range(self.seeds))


#: Settings that change the results of a job: a rerun into the same ``out`` must repeat them.
PROTOCOL = protocol_fields(RunConfig)
