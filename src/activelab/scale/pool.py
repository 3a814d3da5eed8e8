"""A pool stored as shards: a directory of ``.npy`` pairs or Parquet files with stable int64 ids.

Layout (``pool.json`` is the manifest; :func:`write_pool` writes all of it, :func:`write_manifest`
describes shards written by other tools)::

    DIR/pool.json                     {"format": "activelab-pool", "version": 1, "kind": "npy" | "parquet",
                                       "column": "x", "dim": D, "n_rows": N,
                                       "shards": [{"file": ..., "rows": n, "min_id": a, "max_id": b}, ...]}
    DIR/part-00000.ids.npy            kind "npy": int64 ids (n,) ...
    DIR/part-00000.x.npy              ... and the features (n, D), float32 or float64
    DIR/part-00000.parquet            kind "parquet": an int64 column ``id`` and the feature column
                                      (``column``, a fixed-size or plain list of floats of length D)

Ids are unique across the pool and need not be sorted nor contiguous; a pool's *global order*
is the order of its ids, and the distributed selections are defined on it (the single-process
functions see the rows in id order). :func:`open_pool` checks the manifest against the files and
the ids for uniqueness (O(N) ids in memory, never the features) before any work.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ActiveLabError

__all__ = ["MANIFEST", "PoolFormatError", "ShardInfo", "ShardPool", "open_pool", "write_manifest", "write_pool"]

MANIFEST = "pool.json"
_COPY_ROWS = 65536  # rows per copy from a shard into a result
_FORMAT = "activelab-pool"
_KINDS = ("npy", "parquet")


class PoolFormatError(ActiveLabError):
    """A sharded pool whose manifest, files or ids are not what the format requires."""


@dataclass(frozen=True)
class ShardInfo:
    """One shard of a pool: its file (the stem for ``npy`` pairs), rows and id range."""

    file: str
    rows: int
    min_id: int
    max_id: int


def _arrow() -> tuple[Any, Any]:
    """``pyarrow`` and ``pyarrow.parquet``, imported on first use (only Parquet pools need them)."""
    import pyarrow as pa  # type: ignore[import-untyped]
    import pyarrow.parquet as pq  # type: ignore[import-untyped]

    return pa, pq


def _is_run(idx: np.ndarray) -> bool:
    """Whether ``idx`` is ``a, a+1, ..., a+n-1``."""
    return len(idx) == 0 or (int(idx[-1]) - int(idx[0]) == len(idx) - 1 and bool((np.diff(idx) == 1).all()))


def _npy_paths(root: Path, stem: str) -> tuple[Path, Path]:
    return root / f"{stem}.ids.npy", root / f"{stem}.x.npy"


def _parquet_matrix(table: object, column: str, dim: int | None, where: str) -> np.ndarray:
    """The feature column of a Parquet table as a ``(n, D)`` array (no nulls, one length)."""
    pa, _ = _arrow()
    assert isinstance(table, pa.Table)
    if column not in table.column_names:
        raise PoolFormatError(f"{where} has no feature column {column!r} (columns: {table.column_names}).")
    col = table.column(column).combine_chunks()
    if col.null_count:
        raise PoolFormatError(f"{where}: column {column!r} holds {col.null_count} null rows; every row needs features.")
    n = len(col)
    if pa.types.is_fixed_size_list(col.type):
        width = col.type.list_size
    elif pa.types.is_list(col.type) or pa.types.is_large_list(col.type):
        lengths = np.diff(np.asarray(col.offsets))
        width = int(lengths[0]) if n else (dim or 0)
        if n and (lengths != width).any():
            bad = int(np.flatnonzero(lengths != width)[0])
            raise PoolFormatError(
                f"{where}: row {bad} of column {column!r} has {int(lengths[bad])} values, row 0 has {width}; "
                "every row needs the same number of features."
            )
    else:
        raise PoolFormatError(
            f"{where}: column {column!r} is {col.type}, not a list of floats (one list of D features per row)."
        )
    values = np.asarray(col.flatten().to_numpy(zero_copy_only=False))
    if values.dtype.kind != "f":
        raise PoolFormatError(f"{where}: column {column!r} holds {values.dtype} values; features must be floats.")
    if dim is not None and width != dim:
        raise PoolFormatError(f"{where}: column {column!r} has {width} features per row, the manifest says {dim}.")
    return values.reshape(n, width)


def _check_ids(ids: np.ndarray, where: str) -> np.ndarray:
    if ids.ndim != 1 or ids.dtype != np.int64:
        raise PoolFormatError(
            f"{where}: ids must be a 1-D int64 array, got {ids.dtype} with shape {ids.shape}; "
            "store them as int64 (e.g. np.asarray(ids, dtype=np.int64))."
        )
    return ids


class ShardPool:
    """An opened, validated sharded pool (see the module docstring for the layout).

    Memory: the ids of every shard are read once at :func:`open_pool` (8·N bytes, freed after
    the checks); features are read shard by shard, on demand.
    """

    def __init__(self, root: Path, kind: str, column: str, dim: int, shards: Sequence[ShardInfo]) -> None:
        self.root = root
        self.kind = kind
        self.column = column
        self.dim = dim
        self.shards = tuple(shards)
        self.n_rows = sum(s.rows for s in self.shards)

    def __repr__(self) -> str:
        return f"ShardPool({str(self.root)!r}, kind={self.kind!r}, n_rows={self.n_rows}, dim={self.dim}, shards={len(self.shards)})"

    def paths(self) -> list[Path]:
        """The data files (the features file of each ``npy`` pair, each Parquet file)."""
        if self.kind == "npy":
            return [_npy_paths(self.root, s.file)[1] for s in self.shards]
        return [self.root / s.file for s in self.shards]

    def read_ids(self, i: int) -> np.ndarray:
        """Shard ``i``'s ids, in file order."""
        s = self.shards[i]
        if self.kind == "npy":
            ids = np.load(_npy_paths(self.root, s.file)[0], mmap_mode="r")
            return _check_ids(np.asarray(ids), s.file)
        _, pq = _arrow()

        table = pq.read_table(self.root / s.file, columns=["id"])
        return _check_ids(np.asarray(table.column("id").to_numpy()), s.file)

    def read(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Shard ``i``'s ``(ids, features)`` in file order (features: a read-only map for ``npy``)."""
        s = self.shards[i]
        if self.kind == "npy":
            ids_path, x_path = _npy_paths(self.root, s.file)
            ids = _check_ids(np.asarray(np.load(ids_path, mmap_mode="r")), s.file)
            x = np.load(x_path, mmap_mode="r")
            if x.shape != (s.rows, self.dim):
                raise PoolFormatError(f"{x_path} has shape {x.shape}, the manifest says ({s.rows}, {self.dim}).")
            return ids, x
        _, pq = _arrow()

        table = pq.read_table(self.root / s.file, columns=["id", self.column])
        ids = _check_ids(np.asarray(table.column("id").to_numpy()), s.file)
        return ids, _parquet_matrix(table, self.column, self.dim, s.file)

    def head(self, n: int) -> np.ndarray:
        """The first ``n`` feature rows of the first shard (float32), without reading the rest."""
        s = self.shards[0]
        if self.kind == "npy":
            return np.array(self.read(0)[1][:n], dtype=np.float32)  # a copy: the map is read-only
        pa, pq = _arrow()
        batch = next(pq.ParquetFile(self.root / s.file).iter_batches(batch_size=n, columns=[self.column]))
        rows = _parquet_matrix(pa.Table.from_batches([batch]), self.column, self.dim, s.file)[:n]
        return np.array(rows, dtype=np.float32)

    def read_id_range(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows whose id lies in ``[lo, hi]``, sorted by id, as ``(ids, float32 features)``.

        Reads only the shards whose id range overlaps. The result is allocated once and each
        shard's rows are copied straight to their sorted place, 65,536 rows at a time, so the
        memory is the result plus one shard (a memory-mapped ``npy`` shard's pages, or a Parquet
        shard) at a time.
        """
        plan: list[tuple[int, np.ndarray]] = []
        picked: list[np.ndarray] = []
        for i, s in enumerate(self.shards):
            if s.max_id < lo or s.min_id > hi:
                continue
            ids = self.read_ids(i)
            where = np.flatnonzero((ids >= lo) & (ids <= hi))
            if len(where):
                plan.append((i, where))
                picked.append(np.asarray(ids[where], dtype=np.int64))
        if not plan:
            return np.empty(0, dtype=np.int64), np.empty((0, self.dim), dtype=np.float32)
        all_ids = np.concatenate(picked)
        order = np.argsort(all_ids, kind="stable")
        dest = np.empty_like(order)
        dest[order] = np.arange(len(order))
        out = np.empty((len(all_ids), self.dim), dtype=np.float32)
        pos = 0
        for i, where in plan:
            x = self.read(i)[1]
            d_all = dest[pos : pos + len(where)]
            for c in range(0, len(where), _COPY_ROWS):
                w, d = where[c : c + _COPY_ROWS], d_all[c : c + _COPY_ROWS]
                if _is_run(w) and _is_run(d):  # a contiguous block to a contiguous block
                    out[d[0] : d[0] + len(d)] = x[w[0] : w[0] + len(w)]
                else:
                    out[d] = x[w]
            pos += len(where)
            del x  # unmaps the shard
        return all_ids[order], out

    def sorted_ids(self) -> np.ndarray:
        """Every id of the pool, ascending (the global order); 8·N bytes."""
        ids = np.concatenate([self.read_ids(i) for i in range(len(self.shards))]) if self.shards else np.empty(0, np.int64)
        ids.sort()
        return ids


def _load_manifest(root: Path) -> dict[str, object]:
    path = root / MANIFEST
    if not root.is_dir():
        raise PoolFormatError(f"pool directory {root} does not exist (or is not a directory).")
    if not path.is_file():
        raise PoolFormatError(
            f"{root} has no {MANIFEST}; write one for existing shards with "
            "activelab.scale.write_manifest(DIR) or create the pool with activelab.scale.write_pool."
        )
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise PoolFormatError(f"{path} is not valid JSON ({err}).") from err
    if not isinstance(data, dict) or data.get("format") != _FORMAT or data.get("version") != 1:
        raise PoolFormatError(f"{path} is not an activelab pool manifest (format {_FORMAT!r}, version 1).")
    return data


def open_pool(path: str | os.PathLike[str], *, check_ids: bool = True) -> ShardPool:
    """Open and validate a sharded pool.

    Checks the manifest (kind, dimension, shards), that every file exists with the rows and
    features the manifest states, and (``check_ids``) that the ids are int64, inside each
    shard's stated range and unique across the pool, naming the first offender.

    Cost: reads every shard's ids (O(N) memory and an O(N log N) sort); features are only
    opened (``npy``: memory-mapped headers; Parquet: metadata).

    Raises:
        PoolFormatError: On any mismatch, naming the file and value and how to fix it.
    """
    root = Path(path).expanduser()
    data = _load_manifest(root)
    kind, column, dim = data.get("kind"), data.get("column", "x"), data.get("dim")
    if kind not in _KINDS:
        raise PoolFormatError(f"{root / MANIFEST}: kind {kind!r} is not one of {_KINDS}.")
    if not isinstance(dim, int) or dim < 1:
        raise PoolFormatError(f"{root / MANIFEST}: dim must be a positive int, got {dim!r}.")
    raw = data.get("shards")
    if not isinstance(raw, list) or not raw:
        raise PoolFormatError(f"{root / MANIFEST}: 'shards' must be a non-empty list.")
    shards = []
    for entry in raw:
        try:
            shards.append(ShardInfo(str(entry["file"]), int(entry["rows"]), int(entry["min_id"]), int(entry["max_id"])))
        except (KeyError, TypeError, ValueError) as err:
            raise PoolFormatError(f"{root / MANIFEST}: shard entry {entry!r} needs file, rows, min_id, max_id.") from err
    pool = ShardPool(root, str(kind), str(column), dim, shards)
    if kind == "parquet":  # the Ray backend reads every *.parquet file of the directory
        stray = sorted({p.name for p in root.glob("*.parquet")} - {s.file for s in shards})
        if stray:
            raise PoolFormatError(
                f"{root} holds Parquet files the manifest does not list ({', '.join(stray[:3])}); "
                "move them out or rewrite the manifest with write_manifest(DIR)."
            )
    for i in range(len(shards)):
        _check_shard_files(pool, i)
    if check_ids:
        seen = []
        for i, s in enumerate(shards):
            ids = pool.read_ids(i)
            if len(ids) != s.rows:
                raise PoolFormatError(f"{s.file} holds {len(ids)} ids, the manifest says {s.rows}.")
            if len(ids) and (int(ids.min()) < s.min_id or int(ids.max()) > s.max_id):
                raise PoolFormatError(
                    f"{s.file}: ids span [{int(ids.min())}, {int(ids.max())}], the manifest says [{s.min_id}, {s.max_id}]; "
                    "rewrite the manifest with write_manifest(DIR)."
                )
            seen.append(ids)
        all_ids = np.sort(np.concatenate(seen))
        dup = np.flatnonzero(all_ids[1:] == all_ids[:-1])
        if len(dup):
            raise PoolFormatError(
                f"id {int(all_ids[dup[0]])} appears more than once in {root} ({len(dup)} duplicate ids); "
                "every item needs one stable, unique int64 id."
            )
    return pool


def _check_shard_files(pool: ShardPool, i: int) -> None:
    s = pool.shards[i]
    if pool.kind == "npy":
        for p in _npy_paths(pool.root, s.file):
            if not p.is_file():
                raise PoolFormatError(f"shard file {p} named in the manifest does not exist.")
        x = np.load(_npy_paths(pool.root, s.file)[1], mmap_mode="r")
        if x.ndim != 2 or x.shape != (s.rows, pool.dim) or x.dtype.kind != "f":
            raise PoolFormatError(
                f"{_npy_paths(pool.root, s.file)[1]} is {x.dtype} {x.shape}; the manifest says float ({s.rows}, {pool.dim})."
            )
        return
    _, pq = _arrow()
    p = pool.root / s.file
    if not p.is_file():
        raise PoolFormatError(f"shard file {p} named in the manifest does not exist.")
    schema = pq.read_schema(p)
    for name in ("id", pool.column):
        if name not in schema.names:
            raise PoolFormatError(f"{p} has no column {name!r} (columns: {schema.names}).")
    n = pq.ParquetFile(p).metadata.num_rows
    if n != s.rows:
        raise PoolFormatError(f"{p} holds {n} rows, the manifest says {s.rows}.")


def _write_json(path: Path, data: object) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


def write_pool(
    path: str | os.PathLike[str],
    ids: np.ndarray,
    features: np.ndarray,
    *,
    shard_rows: int = 1_000_000,
    kind: str = "npy",
    overwrite: bool = False,
) -> ShardPool:
    """Write ``features`` with their ``ids`` as a sharded pool of ``kind`` ``npy`` or ``parquet``.

    Rows are written in the order given, ``shard_rows`` per shard. Cost: one pass over the
    features; a Parquet shard is built in memory (its rows · D floats) before it is written.

    Raises:
        PoolFormatError: Ids that are not unique int64, features that are not a finite-size 2-D
            float array matching the ids, or a directory that already holds a pool (unless
            ``overwrite``).
    """
    root = Path(path).expanduser()
    if kind not in _KINDS:
        raise PoolFormatError(f"kind {kind!r} is not one of {_KINDS}.")
    ids = np.asarray(ids)
    if ids.dtype.kind not in "iu":
        raise PoolFormatError(f"ids must be integers, got {ids.dtype}.")
    ids = _check_ids(ids.astype(np.int64), "ids")
    x = np.asarray(features)
    if x.ndim != 2 or x.dtype.kind != "f" or len(x) != len(ids) or len(x) == 0:
        raise PoolFormatError(
            f"features must be a float (n, D) array with one row per id ({len(ids)} ids), got {x.dtype} {x.shape}."
        )
    if not isinstance(shard_rows, int) or shard_rows < 1:
        raise PoolFormatError(f"shard_rows must be a positive int, got {shard_rows!r}.")
    s_ids = np.sort(ids)
    dup = np.flatnonzero(s_ids[1:] == s_ids[:-1])
    if len(dup):
        raise PoolFormatError(f"id {int(s_ids[dup[0]])} appears more than once; ids must be unique.")
    if (root / MANIFEST).exists() and not overwrite:
        raise PoolFormatError(f"{root} already holds a pool ({MANIFEST}); pass overwrite=True to replace it.")
    root.mkdir(parents=True, exist_ok=True)
    shards = []
    for n, start in enumerate(range(0, len(ids), shard_rows)):
        part_ids, part_x = ids[start : start + shard_rows], x[start : start + shard_rows]
        stem = f"part-{n:05d}"
        if kind == "npy":
            ids_path, x_path = _npy_paths(root, stem)
            np.save(ids_path, part_ids)
            np.save(x_path, np.ascontiguousarray(part_x))
            file = stem
        else:
            pa, pq = _arrow()
            flat = pa.array(np.ascontiguousarray(part_x).reshape(-1))
            col = pa.FixedSizeListArray.from_arrays(flat, x.shape[1])
            pq.write_table(pa.table({"id": pa.array(part_ids), "x": col}), root / f"{stem}.parquet")
            file = f"{stem}.parquet"
        shards.append({"file": file, "rows": len(part_ids), "min_id": int(part_ids.min()), "max_id": int(part_ids.max())})
    manifest = {"format": _FORMAT, "version": 1, "kind": kind, "column": "x", "dim": int(x.shape[1]),
                "n_rows": len(ids), "shards": shards}
    _write_json(root / MANIFEST, manifest)
    return open_pool(root)


def write_manifest(path: str | os.PathLike[str], *, column: str = "x") -> ShardPool:
    """Describe existing shards in ``path``: every ``*.parquet`` file (an int64 ``id`` column
    and the feature ``column``), or else every ``<stem>.ids.npy`` / ``<stem>.x.npy`` pair.

    Reads each shard's ids (and, for Parquet, one row group's width); writes ``pool.json`` and
    returns the opened, validated pool.
    """
    root = Path(path).expanduser()
    if not root.is_dir():
        raise PoolFormatError(f"pool directory {root} does not exist (or is not a directory).")
    parquet = sorted(root.glob("*.parquet"))
    shards: list[dict[str, object]] = []
    dim: int | None = None
    if parquet:
        _, pq = _arrow()

        kind = "parquet"
        for p in parquet:
            table = pq.read_table(p, columns=["id", column])
            ids = _check_ids(np.asarray(table.column("id").to_numpy()), p.name)
            width = _parquet_matrix(table.slice(0, 1), column, None, p.name).shape[1]
            if dim is not None and width != dim:
                raise PoolFormatError(f"{p.name} has {width} features per row, {parquet[0].name} has {dim}.")
            dim = width
            if len(ids):
                shards.append({"file": p.name, "rows": len(ids), "min_id": int(ids.min()), "max_id": int(ids.max())})
    else:
        kind = "npy"
        for ids_path in sorted(root.glob("*.ids.npy")):
            stem = ids_path.name[: -len(".ids.npy")]
            x_path = _npy_paths(root, stem)[1]
            if not x_path.is_file():
                raise PoolFormatError(f"{ids_path.name} has no features file {x_path.name} beside it.")
            ids = _check_ids(np.asarray(np.load(ids_path, mmap_mode="r")), ids_path.name)
            x = np.load(x_path, mmap_mode="r")
            if x.ndim != 2 or len(x) != len(ids):
                raise PoolFormatError(f"{x_path.name} has shape {x.shape}; it needs one row per id ({len(ids)}).")
            if dim is not None and x.shape[1] != dim:
                raise PoolFormatError(f"{x_path.name} has {x.shape[1]} features per row, other shards have {dim}.")
            dim = int(x.shape[1])
            if len(ids):
                shards.append({"file": stem, "rows": len(ids), "min_id": int(ids.min()), "max_id": int(ids.max())})
    if not shards or dim is None:
        raise PoolFormatError(f"{root} holds no *.parquet files and no <stem>.ids.npy / <stem>.x.npy pairs with rows.")
    manifest = {"format": _FORMAT, "version": 1, "kind": kind, "column": column, "dim": dim,
                "n_rows": sum(int(str(s["rows"])) for s in shards), "shards": shards}
    _write_json(root / MANIFEST, manifest)
    return open_pool(root)
