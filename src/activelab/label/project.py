"""A labelling project: one directory holding its settings, the SQLite store and the cached features.

```
DIR/project.json    the settings (ProjectConfig), written once by ``activelab label init``
DIR/labels.sqlite   items, append-only answers, leases, the queue, model versions (label.store)
DIR/features.npy    (n_items, d) float32 feature rows, computed once (label.features)
DIR/worker.log      what the background trainer did (one line per refresh, errors in full)
```

``activelab label init`` (:func:`activelab.label.create.init_project`) makes one. The store is
the only source of truth for answers: the trainer rebuilds its engine from the
answers it reads, so nothing a person answered depends on a process staying alive.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ActiveLabError

__all__ = [
    "DEFAULT_N_CLUSTERS",
    "DEFAULT_PAIR_STRATEGY",
    "FEATURES_FILE",
    "PAIR_CLASSES",
    "PROJECT_FILE",
    "STORE_FILE",
    "TASKS",
    "Project",
    "ProjectConfig",
    "ProjectError",
]

PROJECT_FILE = "project.json"
STORE_FILE = "labels.sqlite"
FEATURES_FILE = "features.npy"
#: What a project asks people: a class per item, or "same group?" about pairs.
TASKS = ("classify", "pairs")
#: The classes of a pairs project (label 1 = same group, 0 = different).
PAIR_CLASSES = ("different", "same")
#: The pair strategy of a pairs project unless ``--strategy`` names another.
DEFAULT_PAIR_STRATEGY = "maxexp"
#: Clusters of the k-means prior of a pairs project without ``n_clusters`` or ``--classes``.
_FORMAT = 1
#: Clusters of a pairs project's prior when neither ``n_clusters`` nor classes were given.
DEFAULT_N_CLUSTERS = 10


class ProjectError(ActiveLabError, ValueError):
    """A labelling project cannot be created or opened as asked (the message says why and what to do)."""


@dataclass(frozen=True)
class ProjectConfig:
    """The settings of a labelling project (``DIR/project.json``).

    Attributes:
        data: Absolute path of the data (a folder of images, a CSV/JSONL text file, ``.npz``/``.csv``).
        data_kind: ``"arrays"``, ``"images"`` or ``"text"``.
        classes: The class names; answers are their indices (−1 = skip, −2 = unsure). A pairs
            project's are :data:`PAIR_CLASSES` (``different``, ``same``).
        task: ``"classify"``, or ``"pairs"``: "same group?" about pairs of items, chosen by a pair
            strategy from the current clustering (see :mod:`activelab.label.worker`).
        strategy: Registered strategy that chooses what to ask once every class has a label (a
            pairs project: a pair strategy of :func:`~activelab.clustering.make_pair_strategy`).
        cold_start: Strategy used while fewer labels than classes exist (on the feature rows).
        model: Registered model name, trained on the feature rows.
        features: How the feature rows were made (``auto``, ``pixels``, ``tfidf``, ``minilm``,
            ``module:function``).
        seed: Seed of the engine's random streams.
        batch: Items the trainer puts in the queue per refresh.
        retrain_answers: Refresh after this many new answers ...
        retrain_seconds: ... or this many seconds after the first answer the model has not seen.
        lease_seconds: How long an item given to an annotator stays theirs.
        epochs: Training epochs of torch models (``None``: the model's default).
        text_column: The text column of CSV/JSONL data, when given.
        label_column: The label column, when given.
        n_clusters: Pairs projects: the clusters of the k-means partition behind the prior of
            unasked pairs (``None``: :data:`DEFAULT_N_CLUSTERS`).
    """

    data: str
    data_kind: str
    classes: tuple[str, ...]
    task: str = "classify"
    strategy: str = "margin"
    cold_start: str = "typiclust"
    model: str = "mlp"
    features: str = "auto"
    seed: int = 0
    batch: int = 20
    retrain_answers: int = 10
    retrain_seconds: float = 20.0
    lease_seconds: float = 600.0
    epochs: int | None = None
    text_column: str | None = None
    label_column: str | None = None
    n_clusters: int | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ProjectError(f"task must be one of {', '.join(TASKS)}, got {self.task!r}.")
        if self.task == "pairs" and tuple(self.classes) != PAIR_CLASSES:
            raise ProjectError(f"a pairs project's classes are {list(PAIR_CLASSES)}, got {list(self.classes)}.")
        if self.n_clusters is not None and (
            not isinstance(self.n_clusters, int) or isinstance(self.n_clusters, bool) or self.n_clusters < 1
        ):
            raise ProjectError(f"n_clusters must be an int >= 1, got {self.n_clusters!r}.")
        if len(self.classes) < 2:
            raise ProjectError(f"a project needs at least 2 classes, got {list(self.classes)}; pass --classes a,b,...")
        if len(set(self.classes)) != len(self.classes):
            raise ProjectError(f"class names must be distinct, got {list(self.classes)}.")
        for name, value, lo in (("batch", self.batch, 1), ("retrain_answers", self.retrain_answers, 1)):
            if not isinstance(value, int) or isinstance(value, bool) or value < lo:
                raise ProjectError(f"{name} must be an int >= {lo}, got {value!r}.")
        for name, seconds in (("retrain_seconds", self.retrain_seconds), ("lease_seconds", self.lease_seconds)):
            if not isinstance(seconds, (int, float)) or not seconds > 0:
                raise ProjectError(f"{name} must be a positive number of seconds, got {seconds!r}.")

    def to_json(self) -> dict[str, Any]:
        """The settings as JSON (``classes`` as a list), with the file format."""
        d = dataclasses.asdict(self)
        d["classes"] = list(self.classes)
        return {"format": _FORMAT, **d}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> ProjectConfig:
        """Inverse of :meth:`to_json`."""
        if d.get("format") != _FORMAT:
            raise ProjectError(f"project.json of format {d.get('format')!r}; this activelab reads format {_FORMAT}.")
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - fields - {"format"})
        if unknown:
            raise ProjectError(f"project.json has unknown settings {unknown}; was it written by a newer activelab?")
        values = {k: v for k, v in d.items() if k in fields}
        values["classes"] = tuple(values["classes"])
        return cls(**values)


class Project:
    """An open labelling project: its settings, store and feature rows.

    Use :meth:`open` (an existing directory) or :func:`init_project` (a new one).
    """

    def __init__(self, directory: Path, config: ProjectConfig, store: Any, features: np.ndarray) -> None:
        self.directory = directory
        self.config = config
        self.store = store
        self.features = features

    @classmethod
    def open(cls, directory: str | os.PathLike[str]) -> Project:
        """Open the project in ``directory``.

        Raises:
            ProjectError: If the directory holds no project (run ``activelab label init``) or its
                files do not match (feature rows vs items).
        """
        from .store import Store

        path = Path(directory).expanduser()
        config_path = path / PROJECT_FILE
        if not config_path.is_file():
            raise ProjectError(f"{path} holds no labelling project (no {PROJECT_FILE}); create one with `activelab label init`.")
        try:
            config = ProjectConfig.from_json(json.loads(config_path.read_text()))
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise ProjectError(f"{config_path} is unreadable ({type(err).__name__}: {err}).") from err
        store = Store(path / STORE_FILE)
        features = np.load(path / FEATURES_FILE, mmap_mode="r")
        if len(features) != store.n_items:
            raise ProjectError(
                f"{path / FEATURES_FILE} has {len(features)} rows but the store holds {store.n_items} items; "
                "the project is damaged: create it again with `activelab label init`."
            )
        return cls(path, config, store, features)
