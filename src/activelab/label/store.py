"""The labelling app's store: one SQLite file holding items, append-only answers, leases, the queue and models.

The browser server (request threads) and the background trainer (another process) share this
file. Every write is one ``BEGIN IMMEDIATE`` transaction, committed before the method returns
(``synchronous=FULL`` in WAL mode: a returned write survives a crash or power loss), so the two
processes serialise on SQLite's own write lock; readers never block and see committed data only.

Schema (format version 2; version 1 files, classify stores without pair columns, are read too;
``PRAGMA application_id`` marks the file as an activelab store)::

    meta(key TEXT PK, value TEXT)             JSON values: format, format_version, classes, created,
                                              seed, task, queue_version, queue_time
    items(idx INTEGER PK, id TEXT UNIQUE NOT NULL,
          kind TEXT NOT NULL                  'features' | 'image' | 'text' (base items) | 'pair'
          text TEXT, path TEXT, given_label INTEGER,
          fallback_rank INTEGER UNIQUE NOT NULL,   a seeded random permutation: the order used
                                                   once the queue is used up (a pair item: its idx)
          a INTEGER -> items, b INTEGER -> items)  a pair item's two base items, a < b; NULL otherwise
    answers(seq INTEGER PK AUTOINCREMENT,     append-only (triggers refuse UPDATE and DELETE)
            uid TEXT UNIQUE NOT NULL,         the client's id of the event: retries are no-ops
            idx INTEGER NOT NULL -> items,
            label INTEGER NOT NULL,           class index >= 0, -1 = skip, -2 = unsure
            kind TEXT NOT NULL                'label' | 'skip' | 'unsure' | 'undo'
            target TEXT -> answers(uid)       the answer an undo cancels (unique: undone once)
            annotator TEXT NOT NULL, time REAL NOT NULL)
        an undo row repeats the idx and label of the answer it cancels
        labels the data came with are answers of annotator "import", uid "import:<id>"
    state(idx INTEGER PK -> items, label, kind, seq -> answers)
        each item's effective answer: its latest label/skip/unsure that no undo cancelled;
        kept in the same transaction as the answer or undo that changes it
    leases(idx INTEGER PK -> items, annotator TEXT, until REAL, granted REAL, pos INTEGER)
        granted/pos: when and where in its batch the item was first leased to this annotator,
        so a reload returns the same items in the same order
    queue(idx INTEGER PK -> items, rank INTEGER UNIQUE, score REAL, version INTEGER)
    models(version INTEGER PK, time REAL, n_labelled INTEGER, n_answers INTEGER,
           metrics TEXT JSON, info TEXT JSON)

Semantics:

- Answers are events. A second answer for an item that already has one (from anyone) is stored
  as a new event and becomes the item's effective answer: the latest wins. An undo cancels the
  annotator's own latest not-undone answer; the item falls back to its previous not-undone
  answer, or to none (and is then leased back to that annotator to answer again).
- A lease is a claim until ``until``; an expired lease stops blocking others, and is returned
  to its annotator on the next :meth:`Store.lease` unless someone else took the item meanwhile.
- Times are ``time.time()`` floats; every method that depends on the clock takes ``now`` so
  tests can inject it.

Tasks (``meta.task``):

- ``"classify"``: every item is asked for a class; the queue comes first, then every other item
  in its fallback order.
- ``"pairs"``: "same group?" about pairs of the base items. The classes are ``("different",
  "same")`` (label 1 = same group, 0 = different). Pair questions are items of kind ``"pair"``
  with the id ``"<id_a>~<id_b>"`` (base ids in index order, ``a < b``), appended as the trainer
  proposes them (:meth:`Store.add_pair_items`), so leases, answers, undo, export and retries work
  on them as on any item. Only pair items are leased, and only from the queue (no fallback:
  most pairs never exist as items); base items are never leased nor answered. The labels the
  data came with are the base items' ``given_label`` (group indices, for evaluation only),
  never answers. :attr:`Store.n_items` counts the base items only.

Threads and processes: each thread gets its own connection (made on first use). In-process
writers also queue on one lock per file, so threads wait on each other without SQLite's
polling busy handler; other processes wait on SQLite's lock for up to ``BUSY_TIMEOUT_S``.
Open a :class:`Store` in each process; one opened before ``fork`` is reopened by the child.
"""

from __future__ import annotations

import json
import math
import numbers
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from activelab.errors import ActiveLabError
from activelab.label.data import ItemRecord

__all__ = [
    "AnswerIn",
    "BadLabelError",
    "BadRequestError",
    "LeasedError",
    "PAIR_CLASSES",
    "Store",
    "StoreError",
    "StoreFormatError",
    "UidConflictError",
    "UnknownItemError",
]

FORMAT = "activelab-label-store"
FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)  # 1: classify stores made before pair items (no a, b columns)
APPLICATION_ID = 0x414C4C53  # "ALLS": PRAGMA application_id of every store file
BUSY_TIMEOUT_S = 10.0
IMPORT_ANNOTATOR = "import"
MAX_LEASE = 1000
MAX_BATCH = 1000
MAX_ANNOTATOR_CHARS = 100
MAX_UID_CHARS = 200
MAX_LEASE_SECONDS = 7 * 24 * 3600.0
ITEM_KINDS = ("features", "image", "text")
PAIR_KIND = "pair"
TASKS = ("classify", "pairs")
#: The classes of a pairs store: label 0 = different groups, 1 = the same group.
PAIR_CLASSES = ("different", "same")
PAIR_SEPARATOR = "~"
SKIP, UNSURE = -1, -2
_ANSWER_KIND = {SKIP: "skip", UNSURE: "unsure"}
_SQL_CHUNK = 500  # bound parameters per IN (...) list

_SCHEMA = (
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE items(
        idx INTEGER PRIMARY KEY,
        id TEXT UNIQUE NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('features', 'image', 'text', 'pair')),
        text TEXT,
        path TEXT,
        given_label INTEGER,
        fallback_rank INTEGER UNIQUE NOT NULL,
        a INTEGER REFERENCES items(idx),
        b INTEGER REFERENCES items(idx),
        CHECK ((kind = 'pair') = (a IS NOT NULL AND b IS NOT NULL AND a < b)))""",
    "CREATE UNIQUE INDEX items_by_pair ON items(a, b) WHERE a IS NOT NULL",
    """CREATE TABLE answers(
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        uid TEXT UNIQUE NOT NULL,
        idx INTEGER NOT NULL REFERENCES items(idx),
        label INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (
            (kind = 'label' AND label >= 0) OR (kind = 'skip' AND label = -1)
            OR (kind = 'unsure' AND label = -2) OR (kind = 'undo' AND target IS NOT NULL)),
        target TEXT REFERENCES answers(uid),
        annotator TEXT NOT NULL,
        time REAL NOT NULL)""",
    "CREATE INDEX answers_by_annotator ON answers(annotator, seq)",
    "CREATE INDEX answers_by_item ON answers(idx, seq)",
    "CREATE UNIQUE INDEX answers_by_target ON answers(target) WHERE target IS NOT NULL",
    """CREATE TRIGGER answers_no_update BEFORE UPDATE ON answers
        BEGIN SELECT RAISE(ABORT, 'answers are append-only'); END""",
    """CREATE TRIGGER answers_no_delete BEFORE DELETE ON answers
        BEGIN SELECT RAISE(ABORT, 'answers are append-only'); END""",
    """CREATE TABLE state(
        idx INTEGER PRIMARY KEY REFERENCES items(idx),
        label INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('label', 'skip', 'unsure')),
        seq INTEGER NOT NULL REFERENCES answers(seq))""",
    """CREATE TABLE leases(
        idx INTEGER PRIMARY KEY REFERENCES items(idx),
        annotator TEXT NOT NULL,
        until REAL NOT NULL,
        granted REAL NOT NULL,
        pos INTEGER NOT NULL)""",
    "CREATE INDEX leases_by_annotator ON leases(annotator, granted, pos)",
    """CREATE TABLE queue(
        idx INTEGER PRIMARY KEY REFERENCES items(idx),
        rank INTEGER UNIQUE NOT NULL,
        score REAL,
        version INTEGER NOT NULL)""",
    """CREATE TABLE models(
        version INTEGER PRIMARY KEY,
        time REAL NOT NULL,
        n_labelled INTEGER NOT NULL,
        n_answers INTEGER NOT NULL,
        metrics TEXT NOT NULL,
        info TEXT NOT NULL)""",
)

_LABELS_HINT = "(or -1 = skip, -2 = unsure)"


# --------------------------------------------------------------------------- errors


class StoreError(ActiveLabError):
    """A request the store refused; ``status`` is the HTTP status to answer, ``field`` the bad input.

    Attributes:
        field: The request field at fault (``"id"``, ``"label"``, ``"uid"``, ...) or ``None``.
        status: 400 bad request, 404 unknown item, 409 leased / uid conflict, 422 bad label,
            500 for a store that cannot be used (closed, damaged, another format).
    """

    status: int = 400

    def __init__(self, message: str, *, field: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.field = field
        if status is not None:
            self.status = status

    def __str__(self) -> str:  # KeyError (a mixin below) would quote the message
        return str(self.args[0]) if self.args else ""


class BadRequestError(StoreError, ValueError):
    """A malformed argument (annotator, n, uid, seconds, indices, ...): HTTP 400."""

    status = 400


class UnknownItemError(StoreError, KeyError):
    """An item id or index the store does not hold: HTTP 404."""

    status = 404


class LeasedError(StoreError):
    """The item is leased to another annotator and the lease has not expired: HTTP 409."""

    status = 409


class UidConflictError(StoreError):
    """The uid is already stored with other content (another item, label, annotator or kind): HTTP 409."""

    status = 409


class BadLabelError(StoreError, ValueError):
    """A label that is not an integer class index, -1 (skip) or -2 (unsure): HTTP 422."""

    status = 422


class StoreFormatError(StoreError):
    """The file is not an activelab label store, or one of another format version: HTTP 500."""

    status = 500


# --------------------------------------------------------------------------- inputs


class AnswerIn(NamedTuple):
    """One answer sent by an annotator: item ``id``, ``label`` (class index, -1 skip, -2 unsure), client ``uid``."""

    id: str
    label: int
    uid: str


# --------------------------------------------------------------------------- helpers


def _now(now: float | None) -> float:
    if now is None:
        return time.time()
    t = float(now)
    if not math.isfinite(t):
        raise BadRequestError(f"now must be a finite time.time() value, got {now!r}.", field="now")
    return t


def _check_annotator(annotator: object) -> str:
    if not isinstance(annotator, str) or not annotator:
        raise BadRequestError(f"annotator must be a non-empty string (your name), got {annotator!r}.", field="annotator")
    if len(annotator) > MAX_ANNOTATOR_CHARS:
        raise BadRequestError(
            f"annotator {annotator[:20]!r}... has {len(annotator)} characters; use at most {MAX_ANNOTATOR_CHARS}.",
            field="annotator",
        )
    if not annotator.isprintable():
        raise BadRequestError(
            f"annotator {annotator!r} holds control characters (newline, tab, ...); use printable characters only.",
            field="annotator",
        )
    if annotator == IMPORT_ANNOTATOR:
        raise BadRequestError(
            f"annotator {IMPORT_ANNOTATOR!r} is reserved for the labels the data came with; choose another name.",
            field="annotator",
        )
    return annotator


def _check_uid(uid: object, where: str) -> str:
    if not isinstance(uid, str) or not uid:
        raise BadRequestError(f"{where}uid must be a non-empty string (a fresh id per event), got {uid!r}.", field="uid")
    if len(uid) > MAX_UID_CHARS:
        raise BadRequestError(
            f"{where}uid {uid[:20]!r}... has {len(uid)} characters; use at most {MAX_UID_CHARS} (a UUID is 36).",
            field="uid",
        )
    if not uid.isprintable():
        raise BadRequestError(f"{where}uid {uid!r} holds control characters; use printable characters only.", field="uid")
    return uid


def _check_int(value: object, field: str, lo: int, hi: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise BadRequestError(f"{field} must be an integer, got {value!r}.", field=field)
    v = int(value)
    if v < lo or (hi is not None and v > hi):
        bounds = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise BadRequestError(f"{field} must be {bounds}, got {v}.", field=field)
    return v


def _check_seconds(seconds: object) -> float:
    try:
        secs = float(seconds)  # type: ignore[arg-type]  # anything float() takes; refused below otherwise
    except (TypeError, ValueError):
        secs = math.nan
    if isinstance(seconds, bool) or not 0 < secs <= MAX_LEASE_SECONDS:
        raise BadRequestError(f"seconds must be a number in (0, {MAX_LEASE_SECONDS:.0f}], got {seconds!r}.", field="seconds")
    return secs


def _answer_kind(label: int) -> str:
    return _ANSWER_KIND.get(label, "label")


def _chunks(values: Sequence[int], size: int = _SQL_CHUNK) -> Iterator[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _dumps(value: object, field: str) -> str:
    try:
        return json.dumps(value, default=_json_default, sort_keys=True)
    except (TypeError, ValueError) as err:
        raise BadRequestError(f"{field} must be JSON serialisable: {err}.", field=field) from err


_WRITE_LOCKS: dict[str, threading.Lock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


def _write_lock(path: Path) -> threading.Lock:
    """One lock per store file and process: in-process writers queue here, not in SQLite's busy handler."""
    key = os.path.realpath(path)
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(key, threading.Lock())


def _connect(path: Path) -> sqlite3.Connection:
    """A connection to an existing file (never creates one), with the store's per-connection pragmas.

    ``check_same_thread=False`` only so that :meth:`Store.close` can close every thread's connection;
    each connection is still used by the one thread that made it.
    """
    uri = path.resolve().as_uri() + "?mode=rw"
    con = sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False)
    try:
        con.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        con.execute("PRAGMA foreign_keys = ON")
        con.execute("PRAGMA synchronous = FULL")
    except BaseException:
        con.close()
        raise
    return con


# --------------------------------------------------------------------------- the store


class Store:
    """An open labelling store (see the module docstring for the schema and the guarantees).

    Args:
        path: The store file, made by :meth:`Store.create`.

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        StoreFormatError: If ``path`` is not an activelab label store, or of another format version.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = Path(path)
        if not self._path.is_file():
            raise FileNotFoundError(
                f"no activelab label store at {self._path}: create one with `activelab label init` (Store.create)."
            )
        self._local = threading.local()
        self._pid = os.getpid()
        self._conns: list[tuple[threading.Thread, sqlite3.Connection]] = []
        self._conns_guard = threading.Lock()
        self._inherited: list[sqlite3.Connection] = []
        self._closed = False
        self._wlock = _write_lock(self._path)
        self._ids: list[str] | None = None
        self._index: dict[str, int] | None = None
        self._ids_guard = threading.Lock()
        try:
            con = self._conn()
            (app_id,) = con.execute("PRAGMA application_id").fetchone()
            if int(app_id) != APPLICATION_ID:
                raise StoreFormatError(
                    f"{self._path} is an SQLite file but not an activelab label store; "
                    "give the store of a project made with `activelab label init`."
                )
            meta = {str(k): json.loads(v) for k, v in con.execute("SELECT key, value FROM meta")}
            mode = str(con.execute("PRAGMA journal_mode").fetchone()[0]).lower()
            if mode != "wal":
                con.execute("PRAGMA journal_mode = WAL")
            (n_items,) = con.execute("SELECT COUNT(*) FROM items WHERE kind != 'pair'").fetchone()
        except StoreError:
            self.close()
            raise
        except sqlite3.DatabaseError as err:
            self.close()
            raise StoreFormatError(f"{self._path} is not an activelab label store (SQLite: {err}).") from err
        if meta.get("format") != FORMAT or meta.get("format_version") not in READABLE_VERSIONS:
            self.close()
            raise StoreFormatError(
                f"{self._path} is a label store of format {meta.get('format')!r} version {meta.get('format_version')!r}; "
                f"this activelab reads {FORMAT!r} version {FORMAT_VERSION}: upgrade activelab or create the project again."
            )
        self._classes: tuple[str, ...] = tuple(str(c) for c in meta["classes"])
        self._task = str(meta.get("task", "classify"))
        if self._task not in TASKS:
            self.close()
            raise StoreFormatError(f"{self._path} holds a store of task {self._task!r}; this activelab knows {list(TASKS)}.")
        self._seed = int(meta["seed"])
        self._created = float(meta["created"])
        self._n_items = int(n_items)

    # ----------------------------------------------------------------- creation

    @classmethod
    def create(
        cls,
        path: str | os.PathLike[str],
        classes: Sequence[str],
        items: Sequence[ItemRecord],
        *,
        seed: int = 0,
        now: float | None = None,
        task: str = "classify",
    ) -> Store:
        """Create a store file holding ``items`` (and, as answers of annotator ``"import"``, their given labels).

        Every input is checked before the file is made; the file is filled in one transaction.
        Cost: O(N log N) for N items.

        Args:
            path: The new file; it must not exist.
            classes: The class names (unique, non-empty); labels are indices into them.
            items: Unique ids; ``kind`` one of ``features``, ``image``, ``text``.
            seed: Seeds the fallback order (a random permutation of the items).
            now: Creation time (default ``time.time()``).
            task: ``"classify"``, or ``"pairs"``: ``classes`` must then be :data:`PAIR_CLASSES`,
                ``items`` are the base items, and a given label is a group index (int >= 0) kept
                on the item for evaluation, not an answer.

        Raises:
            FileExistsError: If ``path`` exists (nothing is changed).
            BadRequestError: For bad classes, item ids or kinds, seed or task.
            BadLabelError: For a given label outside the classes (a pairs store: not an int >= 0).
        """
        target = Path(path)
        if task not in TASKS:
            raise BadRequestError(f"task must be one of {list(TASKS)}, got {task!r}.", field="task")
        names = cls._check_classes(classes)
        if task == "pairs" and names != PAIR_CLASSES:
            raise BadRequestError(f"a pairs store has the classes {list(PAIR_CLASSES)}, got {list(names)}.", field="classes")
        seed = _check_int(seed, "seed", 0)
        created = _now(now)
        rows, given = cls._check_items(items, names, groups=task == "pairs")
        ranks = np.random.default_rng(seed).permutation(len(rows))
        try:
            with open(target, "xb"):
                pass
        except FileExistsError:
            raise FileExistsError(
                f"{target} already exists; Store.create makes a new store only: open it with Store(path), "
                "or choose another path."
            ) from None
        con: sqlite3.Connection | None = None
        try:
            con = _connect(target)
            mode = str(con.execute("PRAGMA journal_mode = WAL").fetchone()[0]).lower()
            if mode != "wal":
                raise StoreFormatError(f"{target}: SQLite refused WAL mode (journal_mode is {mode!r}); use a local disk.")
            con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            con.execute(f"PRAGMA user_version = {FORMAT_VERSION}")
            con.execute("BEGIN IMMEDIATE")
            for statement in _SCHEMA:
                con.execute(statement)
            meta = {
                "format": FORMAT, "format_version": FORMAT_VERSION, "classes": list(names), "created": created,
                "seed": seed, "task": task, "queue_version": None, "queue_time": None,
            }
            con.executemany("INSERT INTO meta(key, value) VALUES (?, ?)", [(k, json.dumps(v)) for k, v in meta.items()])
            con.executemany(
                "INSERT INTO items(idx, id, kind, text, path, given_label, fallback_rank) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(i, *row, int(ranks[i])) for i, row in enumerate(rows)],
            )
            for idx, item_id, label in given if task == "classify" else ():
                cur = con.execute(
                    "INSERT INTO answers(uid, idx, label, kind, target, annotator, time) VALUES (?, ?, ?, 'label', NULL, ?, ?)",
                    (f"{IMPORT_ANNOTATOR}:{item_id}", idx, label, IMPORT_ANNOTATOR, created),
                )
                con.execute("INSERT INTO state(idx, label, kind, seq) VALUES (?, ?, 'label', ?)", (idx, label, cur.lastrowid))
            con.execute("COMMIT")
        except BaseException:
            if con is not None:
                con.close()
            for leftover in (target, Path(f"{target}-wal"), Path(f"{target}-shm"), Path(f"{target}-journal")):
                leftover.unlink(missing_ok=True)
            raise
        con.close()
        return cls(target)

    @staticmethod
    def _check_classes(classes: Sequence[str]) -> tuple[str, ...]:
        if isinstance(classes, str) or not isinstance(classes, Iterable):
            raise BadRequestError(f"classes must be a list of class names, got {classes!r}.", field="classes")
        names = tuple(classes)
        if not names:
            raise BadRequestError("classes is empty: give at least one class name.", field="classes")
        for name in names:
            if not isinstance(name, str) or not name:
                raise BadRequestError(f"every class name must be a non-empty string, got {name!r}.", field="classes")
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise BadRequestError(f"class names must be unique; repeated: {dup}.", field="classes")
        return names

    @staticmethod
    def _check_items(
        items: Sequence[ItemRecord], classes: tuple[str, ...], *, groups: bool = False
    ) -> tuple[list[tuple[str, str, str | None, str | None, int | None]], list[tuple[int, str, int]]]:
        rows: list[tuple[str, str, str | None, str | None, int | None]] = []
        given: list[tuple[int, str, int]] = []
        seen: set[str] = set()
        by_name = {name: i for i, name in enumerate(classes)}
        for i, item in enumerate(items):
            item_id, kind = item.id, item.kind
            if not isinstance(item_id, str) or not item_id:
                raise BadRequestError(f"items[{i}].id must be a non-empty string, got {item_id!r}.", field="id")
            if item_id in seen:
                raise BadRequestError(f"item id {item_id!r} appears twice; ids must be unique.", field="id")
            seen.add(item_id)
            if kind not in ITEM_KINDS:
                raise BadRequestError(f"item {item_id!r} has kind {kind!r}; use one of {list(ITEM_KINDS)}.", field="kind")
            text = item.text
            if text is not None and not isinstance(text, str):
                raise BadRequestError(f"item {item_id!r}: text must be a string or None, got {type(text).__name__}.", field="text")
            path = None if item.path is None else os.fspath(item.path)
            label: int | None = None
            raw = item.given_label
            if raw is not None and groups:  # a pairs store: the item's group, for evaluation only
                if isinstance(raw, bool) or not isinstance(raw, numbers.Integral) or int(raw) < 0:
                    raise BadLabelError(f"item {item_id!r} came labelled {raw!r}; in a pairs store a given label is "
                                        "a group index (an int >= 0).", field="label")
                label = int(raw)
            elif raw is not None:
                if isinstance(raw, str):
                    if raw not in by_name:
                        raise BadLabelError(f"item {item_id!r} came labelled {raw!r}, not one of the classes {list(classes)}.",
                                            field="label")
                    label = by_name[raw]
                elif isinstance(raw, numbers.Integral) and not isinstance(raw, bool) and 0 <= int(raw) < len(classes):
                    label = int(raw)
                else:
                    raise BadLabelError(
                        f"item {item_id!r} came labelled {raw!r}, outside the classes 0..{len(classes) - 1}.", field="label"
                    )
                given.append((i, item_id, label))
            rows.append((item_id, kind, text, path, label))
        if not rows:
            raise BadRequestError("items is empty: a store needs at least one item.", field="items")
        return rows, given

    # ----------------------------------------------------------------- connections and transactions

    def _conn(self) -> sqlite3.Connection:
        """This thread's connection (made on first use)."""
        if self._closed:
            raise StoreError(f"the store {self._path} is closed; open it again with Store(path).", status=500)
        if os.getpid() != self._pid:  # forked: never touch the parent's connections (kept, not closed)
            with self._conns_guard:
                self._inherited.extend(c for _, c in self._conns)
                self._conns = []
                self._local = threading.local()
                self._pid = os.getpid()
        con: sqlite3.Connection | None = getattr(self._local, "con", None)
        if con is None:
            con = _connect(self._path)
            self._local.con = con
            with self._conns_guard:
                alive = []
                for thread, other in self._conns:
                    if thread.is_alive():
                        alive.append((thread, other))
                    else:
                        other.close()  # its thread has ended: nobody else uses it
                alive.append((threading.current_thread(), con))
                self._conns = alive
        return con

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction: ``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back on any error)."""
        con = self._conn()
        with self._wlock:
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                if con.in_transaction:
                    con.execute("ROLLBACK")
                raise

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """One read snapshot across several statements."""
        con = self._conn()
        con.execute("BEGIN")
        try:
            yield con
        finally:
            if con.in_transaction:
                con.execute("COMMIT")

    def close(self) -> None:
        """Close every thread's connection; call it once no thread uses the store any more."""
        self._closed = True
        with self._conns_guard:
            conns, self._conns = self._conns, []
        for _, con in conns:
            con.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Store({str(self._path)!r}, n_items={self._n_items}, classes={len(self._classes)})"

    # ----------------------------------------------------------------- items

    @property
    def path(self) -> Path:
        """The store file."""
        return self._path

    @property
    def classes(self) -> tuple[str, ...]:
        """The class names; a label is an index into them."""
        return self._classes

    @property
    def n_classes(self) -> int:
        """The number of classes."""
        return len(self._classes)

    @property
    def n_items(self) -> int:
        """The number of items (fixed at creation); in a pairs store the base items, not the pair items."""
        return self._n_items

    @property
    def task(self) -> str:
        """``"classify"`` or ``"pairs"`` (see the module docstring)."""
        return self._task

    @property
    def seed(self) -> int:
        """The seed of the fallback order."""
        return self._seed

    @property
    def created(self) -> float:
        """The creation time (``time.time()``)."""
        return self._created

    def _id_index(self, refresh: bool = False) -> tuple[list[str], dict[str, int]]:
        """Every id by index and the reverse map, read once; ``refresh`` reads the pair items added since.

        Items are never changed or removed; a pairs store only appends pair items (idx n, n+1, ...),
        possibly from another process, so a look-up that misses refreshes once before failing.
        """
        with self._ids_guard:
            if self._ids is None or self._index is None:
                ids = [str(r[0]) for r in self._conn().execute("SELECT id FROM items ORDER BY idx")]
                self._ids, self._index = ids, {item_id: i for i, item_id in enumerate(ids)}
            elif refresh and self._task == "pairs":
                rows = self._conn().execute("SELECT idx, id FROM items WHERE idx >= ? ORDER BY idx",
                                            (len(self._ids),)).fetchall()
                for idx, item_id in rows:
                    if int(idx) != len(self._ids):  # never: pair items are appended with idx = MAX(idx) + 1
                        raise StoreFormatError(f"{self._path}: item indices are not contiguous at {idx}.")
                    self._index[str(item_id)] = len(self._ids)
                    self._ids.append(str(item_id))
            return self._ids, self._index

    def _lookup(self, item_id: object) -> int | None:
        """The index of ``item_id``, or ``None`` (a pairs store first reads the pair items added since)."""
        _, index = self._id_index()
        i = index.get(str(item_id))
        if i is None and self._task == "pairs":
            _, index = self._id_index(refresh=True)
            i = index.get(str(item_id))
        return i

    @staticmethod
    def _item_dict(row: Sequence[Any]) -> dict[str, Any]:
        idx, item_id, kind, text, path, given = row
        return {"id": item_id, "idx": int(idx), "kind": kind, "text": text, "path": path,
                "given_label": None if given is None else int(given)}

    _ITEM_COLUMNS = "idx, id, kind, text, path, given_label"

    def _add_pair_ends(self, con: sqlite3.Connection, items: Iterable[dict[str, Any]]) -> None:
        """Give each pair item among ``items`` its base indices ``a`` and ``b`` (in place)."""
        pairs = {int(d["idx"]): d for d in items if d["kind"] == PAIR_KIND}
        for chunk in _chunks(sorted(pairs)):
            marks = ",".join("?" * len(chunk))
            for idx, a, b in con.execute(f"SELECT idx, a, b FROM items WHERE idx IN ({marks})", tuple(chunk)):
                pairs[int(idx)].update(a=int(a), b=int(b))

    def item(self, item_id: str) -> dict[str, Any]:
        """The item ``item_id``: ``{id, idx, kind, text, path, given_label}`` (a pair item also ``a``, ``b``:
        its base items' indices). Cost: one indexed lookup.

        Raises:
            UnknownItemError: If no item has this id.
        """
        con = self._conn()
        row = con.execute(f"SELECT {self._ITEM_COLUMNS} FROM items WHERE id = ?", (str(item_id),)).fetchone()
        if row is None:
            raise UnknownItemError(f"no item has id {item_id!r}; use the ids the store was created with.", field="id")
        out = self._item_dict(row)
        self._add_pair_ends(con, [out])
        return out

    def items_by_index(self, indices: Iterable[int] | npt.ArrayLike) -> list[dict[str, Any]]:
        """The items at ``indices``, in that order (as :meth:`item`). Cost: O(k log N).

        Raises:
            UnknownItemError: For an index outside 0..n_items-1 (a pairs store: outside every item, pairs included).
        """
        wanted = self._check_indices(indices, "idx")
        rows: dict[int, dict[str, Any]] = {}
        con = self._conn()
        unique = sorted(set(wanted))
        for chunk in _chunks(unique):
            marks = ",".join("?" * len(chunk))
            for row in con.execute(f"SELECT {self._ITEM_COLUMNS} FROM items WHERE idx IN ({marks})", tuple(chunk)):
                rows[int(row[0])] = self._item_dict(row)
        self._add_pair_ends(con, rows.values())
        return [dict(rows[i]) for i in wanted]

    def index_of(self, ids: Iterable[str]) -> npt.NDArray[np.int64]:
        """The indices of ``ids`` (an int64 array). Cost: O(k) after the first call reads every id once.

        Raises:
            UnknownItemError: Naming the first unknown id.
        """
        if isinstance(ids, str):
            raise BadRequestError(f"ids must be a list of ids, not the string {ids!r}: wrap it as [{ids!r}].", field="id")
        out = []
        for item_id in ids:
            i = self._lookup(item_id)
            if i is None:
                raise UnknownItemError(f"no item has id {item_id!r}; use the ids the store was created with.", field="id")
            out.append(i)
        return np.asarray(out, dtype=np.int64)

    def id_of(self, indices: Iterable[int] | npt.ArrayLike) -> list[str]:
        """The ids of ``indices``, in order. Cost: O(k) after the first call.

        Raises:
            UnknownItemError: For an index outside 0..n_items-1.
        """
        wanted = self._check_indices(indices, "idx")
        ids, _ = self._id_index()
        return [ids[i] for i in wanted]

    def _check_indices(self, indices: Iterable[int] | npt.ArrayLike, field: str) -> list[int]:
        arr = np.asarray(indices)
        if arr.ndim != 1 or (arr.size and not np.issubdtype(arr.dtype, np.integer)):
            raise BadRequestError(f"{field} must be a 1-D list of integer item indices, got shape {arr.shape} "
                                  f"of {arr.dtype}.", field=field)
        out = [int(i) for i in arr]
        total = self._n_items
        if self._task == "pairs" and out and max(out) >= total:  # pair items: every item so far
            total = len(self._id_index(refresh=True)[0])
        bad = [i for i in out if not 0 <= i < total]
        if bad:
            raise UnknownItemError(f"item index {bad[0]} is outside 0..{total - 1}.", field=field)
        return out

    # ----------------------------------------------------------------- pair items

    def _require_pairs(self, what: str) -> None:
        if self._task != "pairs":
            raise BadRequestError(f"{what} needs a pairs store; this one is a {self._task} store.", field="task")

    def add_pair_items(self, pairs: Iterable[Sequence[int]] | npt.ArrayLike) -> list[str]:
        """Make the pair questions ``pairs`` (rows of two base indices) items; returns their ids, in order.

        Each pair is put in canonical order (``a < b``); a pair already present keeps its item and id
        (idempotent), a new one gets the next index and the id ``"<id_a>~<id_b>"`` (with ``~<k>``
        appended in the unlikely case that this id is taken, e.g. by base ids holding ``~``).
        Cost: one ``BEGIN IMMEDIATE`` transaction; O(m log N).

        Raises:
            BadRequestError: Not a pairs store, not an ``(m, 2)`` array of ints, or a pair of one item twice.
            UnknownItemError: An index that is not a base item.
        """
        self._require_pairs("add_pair_items")
        arr = np.asarray(pairs)
        if arr.size == 0:
            return []
        if arr.ndim != 2 or arr.shape[1] != 2 or not np.issubdtype(arr.dtype, np.integer):
            raise BadRequestError(f"pairs must be an (m, 2) array of base item indices, got shape {arr.shape} of {arr.dtype}.",
                                  field="pairs")
        canon = np.sort(arr.astype(np.int64), axis=1)
        bad = np.flatnonzero((canon < 0).any(axis=1) | (canon >= self._n_items).any(axis=1))
        if len(bad):
            a, b = canon[bad[0]]
            raise UnknownItemError(f"pair ({a}, {b}): base item indices lie in 0..{self._n_items - 1}.", field="pairs")
        same = np.flatnonzero(canon[:, 0] == canon[:, 1])
        if len(same):
            raise BadRequestError(f"pair ({canon[same[0], 0]}, {canon[same[0], 1]}) asks about one item twice; "
                                  "a pair needs two different items.", field="pairs")
        base_ids, _ = self._id_index()
        out: list[str] = []
        with self._write() as con:
            made: dict[tuple[int, int], str] = {}
            for a, b in canon.tolist():
                if (a, b) in made:
                    out.append(made[(a, b)])
                    continue
                row = con.execute("SELECT id FROM items WHERE a = ? AND b = ?", (a, b)).fetchone()
                if row is None:
                    idx = int(con.execute("SELECT COALESCE(MAX(idx), -1) + 1 FROM items").fetchone()[0])
                    item_id = stem = f"{base_ids[a]}{PAIR_SEPARATOR}{base_ids[b]}"
                    k = 1
                    while con.execute("SELECT 1 FROM items WHERE id = ?", (item_id,)).fetchone() is not None:
                        k += 1
                        item_id = f"{stem}{PAIR_SEPARATOR}{k}"
                    con.execute(
                        "INSERT INTO items(idx, id, kind, text, path, given_label, fallback_rank, a, b) "
                        "VALUES (?, ?, 'pair', NULL, NULL, NULL, ?, ?, ?)",
                        (idx, item_id, idx, a, b),
                    )
                else:
                    item_id = str(row[0])
                made[(a, b)] = item_id
                out.append(item_id)
        self._id_index(refresh=True)
        return out

    def pair_items(self) -> list[dict[str, Any]]:
        """Every pair item ``{id, idx, a, b, a_id, b_id}`` in the order added. Cost: O(P)."""
        self._require_pairs("pair_items")
        rows = self._conn().execute(
            "SELECT p.id, p.idx, p.a, p.b, x.id, y.id FROM items p JOIN items x ON x.idx = p.a JOIN items y ON y.idx = p.b "
            "WHERE p.kind = 'pair' ORDER BY p.idx"
        ).fetchall()
        return [{"id": r[0], "idx": int(r[1]), "a": int(r[2]), "b": int(r[3]), "a_id": r[4], "b_id": r[5]} for r in rows]

    def n_pair_items(self) -> int:
        """How many pair items exist (0 in a classify store). Cost: O(P)."""
        return int(self._conn().execute("SELECT COUNT(*) FROM items WHERE kind = 'pair'").fetchone()[0])

    def pair_answers(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.str_]]:
        """Every answered pair's current answer: ``(pairs (m, 2) of base indices, labels, kinds)``.

        ``labels``: 1 = same, 0 = different, -1 skip, -2 unsure; ``kinds`` as in
        :meth:`effective_answers`. One consistent snapshot. Cost: O(A).
        """
        self._require_pairs("pair_answers")
        rows = self._conn().execute(
            "SELECT i.a, i.b, s.label, s.kind FROM state s JOIN items i ON i.idx = s.idx WHERE i.kind = 'pair' ORDER BY s.idx"
        ).fetchall()
        pairs = np.asarray([(r[0], r[1]) for r in rows], dtype=np.int64).reshape(len(rows), 2)
        labels = np.fromiter((r[2] for r in rows), dtype=np.int64, count=len(rows))
        kinds = np.asarray([str(r[3]) for r in rows], dtype="<U6")
        return pairs, labels, kinds

    def given_labels(self) -> npt.NDArray[np.int64]:
        """The label each base item came with (a class, or in a pairs store a group index), -1 for none. Cost: O(N)."""
        rows = self._conn().execute("SELECT idx, given_label FROM items WHERE kind != 'pair' ORDER BY idx").fetchall()
        return np.asarray([-1 if r[1] is None else int(r[1]) for r in rows], dtype=np.int64)

    # ----------------------------------------------------------------- leases

    def lease(self, annotator: str, n: int, *, seconds: float = 600.0, now: float | None = None) -> list[dict[str, Any]]:
        """Lease up to ``n`` unanswered items to ``annotator`` for ``seconds``, atomically.

        In order: the items already leased to this annotator and still unanswered (expired or
        not, so a reload gets the same items back, in the same order), then the queue by rank,
        then every other item by its fallback rank; always skipping answered items (label, skip
        or unsure) and items leased to someone else until after ``now``. Leases returned are
        (re)written to end at ``now + seconds``. Fewer than ``n`` items (or none) when the rest
        are answered or leased. A pairs store leases pair items from the queue only (no fallback).

        Cost: one ``BEGIN IMMEDIATE`` transaction; O((n + m + p) log N) indexed lookups, with m
        this annotator's leases and p the queue / fallback entries passed over (answered or leased).

        Returns:
            Dicts ``{id, idx, kind, text, path, lease_until, score}`` (score: the queue score, else
            ``None``); a pair item also has ``a`` and ``b``, its base items' indices.

        Raises:
            BadRequestError: For ``annotator`` (a non-empty printable string <= 100 characters),
                ``n`` (1..1000) or ``seconds`` (> 0, at most a week).
        """
        annotator = _check_annotator(annotator)
        n = _check_int(n, "n", 1, MAX_LEASE)
        secs = _check_seconds(seconds)
        t = _now(now)
        until = t + secs
        with self._write() as con:
            picked = [
                int(r[0]) for r in con.execute(
                    "SELECT l.idx FROM leases l WHERE l.annotator = ? "
                    "AND NOT EXISTS (SELECT 1 FROM state s WHERE s.idx = l.idx) "
                    "ORDER BY l.granted, l.pos, l.idx LIMIT ?",
                    (annotator, n),
                )
            ]
            taken = set(picked)
            n_mine = len(picked)
            free = (
                "NOT EXISTS (SELECT 1 FROM state s WHERE s.idx = {t}.idx) AND NOT EXISTS "
                "(SELECT 1 FROM leases l WHERE l.idx = {t}.idx AND l.until > :now AND l.annotator != :me)"
            )
            sources = [f"SELECT q.idx FROM queue q WHERE {free.format(t='q')} ORDER BY q.rank"]
            if self._task == "classify":  # a pairs store asks only what its trainer queued
                sources.append(f"SELECT i.idx FROM items i WHERE {free.format(t='i')} ORDER BY i.fallback_rank")
            for sql in sources:
                if len(picked) >= n:
                    break
                cur = con.execute(sql, {"now": t, "me": annotator})
                try:
                    for (i,) in cur:
                        if i not in taken:
                            picked.append(int(i))
                            taken.add(int(i))
                            if len(picked) >= n:
                                break
                finally:
                    cur.close()
            if n_mine:
                con.executemany("UPDATE leases SET until = ? WHERE idx = ?", [(until, i) for i in picked[:n_mine]])
            con.executemany(
                "INSERT INTO leases(idx, annotator, until, granted, pos) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(idx) DO UPDATE SET annotator = excluded.annotator, until = excluded.until, "
                "granted = excluded.granted, pos = excluded.pos",
                [(i, annotator, until, t, pos) for pos, i in enumerate(picked[n_mine:])],
            )
            rows = {}
            for chunk in _chunks(picked):
                marks = ",".join("?" * len(chunk))
                for row in con.execute(
                    f"SELECT i.idx, i.id, i.kind, i.text, i.path, q.score FROM items i "
                    f"LEFT JOIN queue q ON q.idx = i.idx WHERE i.idx IN ({marks})",
                    tuple(chunk),
                ):
                    rows[int(row[0])] = row
            out = []
            for i in picked:
                idx, item_id, kind, text, path, score = rows[i]
                out.append({"id": item_id, "idx": int(idx), "kind": kind, "text": text, "path": path,
                            "lease_until": until, "score": None if score is None else float(score)})
            self._add_pair_ends(con, out)
        return out

    def release(self, annotator: str, ids: Iterable[str]) -> int:
        """Give back ``annotator``'s leases on ``ids`` (others' leases are left alone); returns how many.

        Cost: one transaction, O(k log N).

        Raises:
            UnknownItemError: Naming the first unknown id.
        """
        annotator = _check_annotator(annotator)
        indices = self.index_of(ids).tolist()
        released = 0
        with self._write() as con:
            for chunk in _chunks(indices):
                marks = ",".join("?" * len(chunk))
                cur = con.execute(f"DELETE FROM leases WHERE annotator = ? AND idx IN ({marks})", (annotator, *chunk))
                released += cur.rowcount
        return released

    def expire_leases(self, now: float | None = None) -> int:
        """Delete the leases that ended at or before ``now``; returns how many. Cost: O(L) for L leases.

        Optional housekeeping: an expired lease already stops blocking other annotators.
        """
        t = _now(now)
        with self._write() as con:
            return int(con.execute("DELETE FROM leases WHERE until <= ?", (t,)).rowcount)

    def leased_items(self, now: float | None = None) -> list[dict[str, Any]]:
        """The unexpired leases: ``{id, idx, annotator, until}`` by index. Cost: O(L)."""
        t = _now(now)
        rows = self._conn().execute(
            "SELECT i.id, l.idx, l.annotator, l.until FROM leases l JOIN items i ON i.idx = l.idx "
            "WHERE l.until > ? ORDER BY l.idx",
            (t,),
        ).fetchall()
        return [{"id": r[0], "idx": int(r[1]), "annotator": r[2], "until": float(r[3])} for r in rows]

    # ----------------------------------------------------------------- answers

    def add_answers(
        self, annotator: str, answers: Sequence[AnswerIn | tuple[str, int, str]], *, now: float | None = None
    ) -> list[dict[str, Any]]:
        """Store ``annotator``'s answers, all or none, committed to disk before this returns.

        The whole batch is checked first; nothing is stored if any answer is refused. An answer
        whose uid is already stored with the same item, label and annotator is a retry: nothing
        is stored for it and it is reported ``"duplicate": True``. Another answer for an item that
        already has one is stored and becomes the item's answer (the latest wins). Answered items'
        leases are released.

        Cost: one ``BEGIN IMMEDIATE`` transaction; O(k log N) for k answers.

        Args:
            annotator: Who answers.
            answers: ``(id, label, uid)`` triples (:class:`AnswerIn`); label a class index,
                -1 = skip, -2 = unsure; uid the client's unique id of this answer (at most 1000).
            now: The answers' time (default ``time.time()``).

        Returns:
            One dict per answer, in order: ``{id, uid, label, kind, seq, stored, duplicate}``
            (``seq`` of the stored event, or of the original one for a duplicate).

        Raises:
            BadRequestError: A bad annotator, batch or uid (field ``annotator``, ``answers``, ``uid``).
            UnknownItemError: An unknown item id (field ``id``).
            BadLabelError: A label that is not an integer in -2..n_classes-1 (field ``label``).
            LeasedError: The item is leased to another annotator, unexpired (field ``id``).
            UidConflictError: The uid is stored with other content (field ``uid``).
        """
        annotator = _check_annotator(annotator)
        if isinstance(answers, (str, bytes)) or not isinstance(answers, Sequence):
            raise BadRequestError(f"answers must be a list of (id, label, uid), got {type(answers).__name__}.",
                                  field="answers")
        if len(answers) > MAX_BATCH:
            raise BadRequestError(f"{len(answers)} answers in one batch; send at most {MAX_BATCH}.", field="answers")
        t = _now(now)
        k = self.n_classes
        parsed: list[tuple[int, str, int, str]] = []
        for pos, answer in enumerate(answers):
            where = f"answers[{pos}]: " if len(answers) > 1 else ""
            try:
                if isinstance(answer, (str, bytes, Mapping)):
                    raise TypeError  # would unpack into characters or keys
                item_id, label, uid = answer
            except (TypeError, ValueError):
                raise BadRequestError(f"{where}an answer is (id, label, uid), got {answer!r}.", field="answers") from None
            uid = _check_uid(uid, where)
            idx_of = self._lookup(item_id) if isinstance(item_id, str) else None
            if idx_of is None:
                raise UnknownItemError(f"{where}no item has id {item_id!r}; answer the items you were given.", field="id")
            if self._task == "pairs" and idx_of < self._n_items:
                raise BadRequestError(f"{where}item {item_id!r} is one of the items being grouped; in a pairs project "
                                      "answer the pair items (same group or not) you were given.", field="id")
            if isinstance(label, bool) or not isinstance(label, numbers.Integral):
                raise BadLabelError(f"{where}label {label!r} is not an integer: send a class index 0..{k - 1} "
                                    f"{_LABELS_HINT}.", field="label")
            if not UNSURE <= int(label) < k:
                raise BadLabelError(f"{where}label {int(label)} is outside the classes 0..{k - 1} {_LABELS_HINT}.",
                                    field="label")
            parsed.append((idx_of, item_id, int(label), uid))

        results: list[dict[str, Any]] = []
        with self._write() as con:
            in_batch: dict[str, tuple[int, int, dict[str, Any]]] = {}
            new: list[tuple[int, int, str, str, dict[str, Any]]] = []
            for pos, (idx, item_id, label, uid) in enumerate(parsed):
                where = f"answers[{pos}]: " if len(parsed) > 1 else ""
                kind = _answer_kind(label)
                res: dict[str, Any] = {"id": item_id, "uid": uid, "label": label, "kind": kind, "seq": None,
                                       "stored": False, "duplicate": False}
                results.append(res)
                earlier = in_batch.get(uid)
                if earlier is not None:
                    if (earlier[0], earlier[1]) != (idx, label):
                        raise UidConflictError(f"{where}uid {uid!r} is used twice in this batch for different answers; "
                                               "give every answer its own uid.", field="uid")
                    res["duplicate"] = True
                    res["_same_as"] = earlier[2]
                    continue
                row = con.execute("SELECT seq, idx, label, kind, annotator FROM answers WHERE uid = ?", (uid,)).fetchone()
                if row is not None:
                    if row[3] == "undo" or (int(row[1]), int(row[2]), row[4]) != (idx, label, annotator):
                        raise UidConflictError(
                            f"{where}uid {uid!r} is already stored for another answer; give every answer a fresh uid "
                            "(a retry must resend the same id, label and uid).", field="uid")
                    res.update(seq=int(row[0]), duplicate=True)
                    continue
                lease = con.execute("SELECT annotator, until FROM leases WHERE idx = ?", (idx,)).fetchone()
                if lease is not None and lease[0] != annotator and float(lease[1]) > t:
                    raise LeasedError(
                        f"{where}item {item_id!r} is leased to another annotator for {float(lease[1]) - t:.0f} s more; "
                        "answer the items you were given (it returns to the queue if its lease expires).", field="id")
                in_batch[uid] = (idx, label, res)
                new.append((idx, label, kind, uid, res))
            for idx, label, kind, uid, res in new:
                cur = con.execute(
                    "INSERT INTO answers(uid, idx, label, kind, target, annotator, time) VALUES (?, ?, ?, ?, NULL, ?, ?)",
                    (uid, idx, label, kind, annotator, t),
                )
                res.update(seq=int(cur.lastrowid or 0), stored=True)
                con.execute(
                    "INSERT INTO state(idx, label, kind, seq) VALUES (?, ?, ?, ?) ON CONFLICT(idx) DO UPDATE SET "
                    "label = excluded.label, kind = excluded.kind, seq = excluded.seq",
                    (idx, label, kind, res["seq"]),
                )
                con.execute("DELETE FROM leases WHERE idx = ?", (idx,))
        for res in results:
            same = res.pop("_same_as", None)
            if same is not None:
                res["seq"] = same["seq"]
        return results

    def undo_last(
        self, annotator: str, uid: str, *, seconds: float = 600.0, now: float | None = None
    ) -> dict[str, Any] | None:
        """Cancel ``annotator``'s latest answer that is not undone yet, by appending an undo event ``uid``.

        The item's answer falls back to its previous not-undone answer (anyone's), or to none; in
        that case the item is leased back to ``annotator`` for ``seconds`` (unless someone else
        holds it) so they can answer it again. Repeated undos walk back through earlier answers.
        Resending the same ``uid`` is a no-op that reports the same undone answer.

        Cost: one ``BEGIN IMMEDIATE`` transaction; O(u + log N) with u the annotator's latest
        undo events and undone answers passed over.

        Returns:
            The undone answer ``{id, idx, label, kind, uid, annotator, time, seq, duplicate,
            lease_until}``, or ``None`` if the annotator has nothing left to undo (nothing is stored).

        Raises:
            BadRequestError: A bad annotator or uid.
            UidConflictError: The uid is already stored for another event.
        """
        annotator = _check_annotator(annotator)
        uid = _check_uid(uid, "")
        secs = _check_seconds(seconds)
        t = _now(now)
        columns = "a.seq, a.uid, a.idx, a.label, a.kind, a.annotator, a.time, i.id"
        with self._write() as con:
            row = con.execute("SELECT kind, annotator, target FROM answers WHERE uid = ?", (uid,)).fetchone()
            if row is not None:
                if row[0] != "undo" or row[1] != annotator:
                    raise UidConflictError(f"uid {uid!r} is already stored for another event; give every undo a fresh uid.",
                                           field="uid")
                done = con.execute(f"SELECT {columns} FROM answers a JOIN items i ON i.idx = a.idx WHERE a.uid = ?",
                                   (row[2],)).fetchone()
                lease = con.execute("SELECT until FROM leases WHERE idx = ? AND annotator = ?", (done[2], annotator)).fetchone()
                return self._undone_dict(done, duplicate=True, lease_until=None if lease is None else float(lease[0]))
            done = con.execute(
                f"SELECT {columns} FROM answers a JOIN items i ON i.idx = a.idx "
                "WHERE a.annotator = ? AND a.kind != 'undo' "
                "AND NOT EXISTS (SELECT 1 FROM answers u WHERE u.target = a.uid) ORDER BY a.seq DESC LIMIT 1",
                (annotator,),
            ).fetchone()
            if done is None:
                return None
            idx = int(done[2])
            con.execute(
                "INSERT INTO answers(uid, idx, label, kind, target, annotator, time) VALUES (?, ?, ?, 'undo', ?, ?, ?)",
                (uid, idx, int(done[3]), done[1], annotator, t),
            )
            previous = con.execute(
                "SELECT a.seq, a.label, a.kind FROM answers a WHERE a.idx = ? AND a.kind != 'undo' "
                "AND NOT EXISTS (SELECT 1 FROM answers u WHERE u.target = a.uid) ORDER BY a.seq DESC LIMIT 1",
                (idx,),
            ).fetchone()
            lease_until: float | None = None
            if previous is None:
                con.execute("DELETE FROM state WHERE idx = ?", (idx,))
                other = con.execute("SELECT annotator, until FROM leases WHERE idx = ?", (idx,)).fetchone()
                if other is None or other[0] == annotator or float(other[1]) <= t:
                    lease_until = t + secs
                    con.execute(
                        "INSERT INTO leases(idx, annotator, until, granted, pos) VALUES (?, ?, ?, ?, 0) "
                        "ON CONFLICT(idx) DO UPDATE SET annotator = excluded.annotator, until = excluded.until, "
                        "granted = excluded.granted, pos = excluded.pos",
                        (idx, annotator, lease_until, t),
                    )
            else:
                con.execute(
                    "INSERT INTO state(idx, label, kind, seq) VALUES (?, ?, ?, ?) ON CONFLICT(idx) DO UPDATE SET "
                    "label = excluded.label, kind = excluded.kind, seq = excluded.seq",
                    (idx, int(previous[1]), previous[2], int(previous[0])),
                )
        return self._undone_dict(done, duplicate=False, lease_until=lease_until)

    @staticmethod
    def _undone_dict(row: Sequence[Any], *, duplicate: bool, lease_until: float | None) -> dict[str, Any]:
        seq, uid, idx, label, kind, annotator, t, item_id = row
        return {"id": item_id, "idx": int(idx), "label": int(label), "kind": kind, "uid": uid, "annotator": annotator,
                "time": float(t), "seq": int(seq), "duplicate": duplicate, "lease_until": lease_until}

    # ----------------------------------------------------------------- reading answers

    def effective_answers(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.str_]]:
        """Every answered item's current answer, by index: ``(indices, labels, kinds)``.

        ``labels`` holds class indices, -1 (skip) and -2 (unsure); ``kinds`` the strings
        ``"label"``, ``"skip"``, ``"unsure"``. One consistent snapshot; read :meth:`last_seq`
        *before* it to know which events it includes at least. Cost: O(A) for A answered items.
        """
        rows = self._conn().execute("SELECT idx, label, kind FROM state ORDER BY idx").fetchall()
        idx = np.fromiter((r[0] for r in rows), dtype=np.int64, count=len(rows))
        labels = np.fromiter((r[1] for r in rows), dtype=np.int64, count=len(rows))
        kinds = np.asarray([str(r[2]) for r in rows], dtype="<U6")
        return idx, labels, kinds

    def answer_count(self) -> int:
        """How many items have an answer (label, skip or unsure). Cost: O(A)."""
        return int(self._conn().execute("SELECT COUNT(*) FROM state").fetchone()[0])

    def answer_kind_counts(self) -> dict[str, int]:
        """How many items are answered per kind, and unanswered: ``{label, skip, unsure, none}``.

        A pairs store counts its pair items. Cost: O(A).
        """
        counts = {"label": 0, "skip": 0, "unsure": 0}
        for kind, count in self._conn().execute("SELECT kind, COUNT(*) FROM state GROUP BY kind"):
            counts[str(kind)] = int(count)
        total = self.n_pair_items() if self._task == "pairs" else self._n_items
        counts["none"] = total - sum(counts.values())
        return counts

    def per_class_counts(self) -> dict[str, int]:
        """How many items currently hold each class (every class listed, in order). Cost: O(A)."""
        counts = dict.fromkeys(self._classes, 0)
        for label, count in self._conn().execute("SELECT label, COUNT(*) FROM state WHERE kind = 'label' GROUP BY label"):
            counts[self._classes[int(label)]] = int(count)
        return counts

    def last_seq(self) -> int:
        """The sequence number of the latest event (answer or undo), 0 if none: changes whenever answers do."""
        return int(self._conn().execute("SELECT COALESCE(MAX(seq), 0) FROM answers").fetchone()[0])

    def answers_since(self, seq: int) -> int:
        """How many events (answers and undos, imports included) were stored after ``seq``. Cost: O(log E + new)."""
        seq = _check_int(seq, "seq", 0)
        return int(self._conn().execute("SELECT COUNT(*) FROM answers WHERE seq > ?", (seq,)).fetchone()[0])

    def export(self, *, include_undone: bool = False) -> list[dict[str, Any]]:
        """Every stored answer (label, skip, unsure; never undo events), in the order stored.

        Returns:
            Dicts ``{id, label, kind, annotator, uid, time}`` (label -1 = skip, -2 = unsure);
            undone answers are left out unless ``include_undone``, which adds the key ``undone``.
            The last entry per item is its current answer. Cost: O(E) for E events.
        """
        where = "a.kind != 'undo'" + ("" if include_undone else " AND u.uid IS NULL")
        rows = self._conn().execute(
            "SELECT i.id, a.label, a.kind, a.annotator, a.uid, a.time, u.uid IS NOT NULL FROM answers a "
            "JOIN items i ON i.idx = a.idx LEFT JOIN answers u ON u.target = a.uid "
            f"WHERE {where} ORDER BY a.seq"
        ).fetchall()
        out = []
        for item_id, label, kind, annotator, uid, t, undone in rows:
            entry: dict[str, Any] = {"id": item_id, "label": int(label), "kind": kind, "annotator": annotator, "uid": uid,
                                     "time": float(t)}
            if include_undone:
                entry["undone"] = bool(undone)
            out.append(entry)
        return out

    # ----------------------------------------------------------------- queue

    def replace_queue(
        self,
        indices: Iterable[int] | npt.ArrayLike,
        scores: Iterable[float] | npt.ArrayLike,
        version: int,
        *,
        now: float | None = None,
    ) -> None:
        """Replace the whole queue atomically: item ``indices[r]`` gets rank ``r`` and ``scores[r]``.

        Cost: one ``BEGIN IMMEDIATE`` transaction; O(q log q) for q entries (old and new).

        Raises:
            BadRequestError: Indices repeated, scores of another length or not numbers, version < 0,
                a base item in a pairs store's queue.
            UnknownItemError: An index outside 0..n_items-1 (a pairs store: outside its items).
        """
        order = self._check_indices(indices, "indices")
        if len(set(order)) != len(order):
            raise BadRequestError("indices repeat an item; a queue holds each item once.", field="indices")
        if self._task == "pairs" and order and min(order) < self._n_items:
            raise BadRequestError(f"index {min(order)} is a base item; a pairs store queues pair items only "
                                  "(add_pair_items).", field="indices")
        try:
            values = np.asarray(scores, dtype=np.float64)
        except (TypeError, ValueError) as err:
            raise BadRequestError(f"scores must be numbers: {err}.", field="scores") from err
        if values.shape != (len(order),):
            raise BadRequestError(f"scores has shape {values.shape}; give one score per index ({len(order)}).",
                                  field="scores")
        version = _check_int(version, "version", 0)
        t = _now(now)
        with self._write() as con:
            con.execute("DELETE FROM queue")
            con.executemany(
                "INSERT INTO queue(idx, rank, score, version) VALUES (?, ?, ?, ?)",
                [(i, r, None if math.isnan(s) else s, version) for r, (i, s) in enumerate(zip(order, values.tolist(), strict=True))],
            )
            con.executemany(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [("queue_version", json.dumps(version)), ("queue_time", json.dumps(t))],
            )

    def free_queue_size(self, now: float | None = None) -> int:
        """How many queue items are unanswered and not leased (unexpired). Cost: O(q log N)."""
        t = _now(now)
        return int(self._conn().execute(
            "SELECT COUNT(*) FROM queue q WHERE NOT EXISTS (SELECT 1 FROM state s WHERE s.idx = q.idx) "
            "AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.idx = q.idx AND l.until > ?)",
            (t,),
        ).fetchone()[0])

    def queue_info(self, now: float | None = None) -> dict[str, Any]:
        """``{size, free, version, time}`` of the queue (version and time ``None`` before the first). Cost: O(q log N)."""
        t = _now(now)
        with self._read() as con:
            size = int(con.execute("SELECT COUNT(*) FROM queue").fetchone()[0])
            meta = {str(k): json.loads(v) for k, v in
                    con.execute("SELECT key, value FROM meta WHERE key IN ('queue_version', 'queue_time')")}
            free = int(con.execute(
                "SELECT COUNT(*) FROM queue q WHERE NOT EXISTS (SELECT 1 FROM state s WHERE s.idx = q.idx) "
                "AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.idx = q.idx AND l.until > ?)",
                (t,),
            ).fetchone()[0])
        return {"size": size, "free": free, "version": meta.get("queue_version"), "time": meta.get("queue_time")}

    def queue_scores(self) -> dict[str, float | None]:
        """The queue as ``{item id: score}`` in rank order. Cost: O(q log N)."""
        rows = self._conn().execute(
            "SELECT i.id, q.score FROM queue q JOIN items i ON i.idx = q.idx ORDER BY q.rank"
        ).fetchall()
        return {str(r[0]): None if r[1] is None else float(r[1]) for r in rows}

    # ----------------------------------------------------------------- models

    def add_model(
        self, n_labelled: int, n_answers: int, metrics: dict[str, Any], info: dict[str, Any], *, now: float | None = None
    ) -> int:
        """Record a new model version (1, 2, ...) and return it. Cost: one transaction, O(log V).

        Raises:
            BadRequestError: Negative counts, or metrics / info that are not JSON serialisable dicts.
        """
        n_labelled = _check_int(n_labelled, "n_labelled", 0)
        n_answers = _check_int(n_answers, "n_answers", 0)
        for field, value in (("metrics", metrics), ("info", info)):
            if not isinstance(value, dict):
                raise BadRequestError(f"{field} must be a dict, got {type(value).__name__}.", field=field)
        metrics_json, info_json = _dumps(metrics, "metrics"), _dumps(info, "info")
        t = _now(now)
        with self._write() as con:
            version = int(con.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM models").fetchone()[0])
            con.execute(
                "INSERT INTO models(version, time, n_labelled, n_answers, metrics, info) VALUES (?, ?, ?, ?, ?, ?)",
                (version, t, n_labelled, n_answers, metrics_json, info_json),
            )
        return version

    _MODEL_COLUMNS = "version, time, n_labelled, n_answers, metrics, info"

    @staticmethod
    def _model_dict(row: Sequence[Any]) -> dict[str, Any]:
        version, t, n_labelled, n_answers, metrics, info = row
        return {"version": int(version), "time": float(t), "n_labelled": int(n_labelled), "n_answers": int(n_answers),
                "metrics": json.loads(metrics), "info": json.loads(info)}

    def models(self) -> list[dict[str, Any]]:
        """Every model version ``{version, time, n_labelled, n_answers, metrics, info}``, oldest first. Cost: O(V)."""
        rows = self._conn().execute(f"SELECT {self._MODEL_COLUMNS} FROM models ORDER BY version").fetchall()
        return [self._model_dict(r) for r in rows]

    def latest_model(self) -> dict[str, Any] | None:
        """The newest model version (as in :meth:`models`), or ``None`` before the first. Cost: O(log V)."""
        row = self._conn().execute(f"SELECT {self._MODEL_COLUMNS} FROM models ORDER BY version DESC LIMIT 1").fetchone()
        return None if row is None else self._model_dict(row)
