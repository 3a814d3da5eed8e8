"""Checkpoint files: one ``.npz`` written atomically, checked against the run before it is used.

A checkpoint holds plain arrays (the label store), a JSON ``meta`` record (the run's fingerprint,
the round, the history) and pickled objects (model weights, strategy and criterion states)
stored as uint8 blobs. :func:`write_checkpoint` writes it through a synced temporary file and
:func:`os.replace`, so a crash mid-write leaves the previous checkpoint intact;
:func:`read_checkpoint` refuses a file that is corrupt or belongs to another run and never
modifies it.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CheckpointError

__all__ = ["CHECKPOINT_FILE", "read_checkpoint", "write_checkpoint", "write_npz_atomic"]

#: File name of a driver's checkpoint inside its checkpoint directory.
CHECKPOINT_FILE = "checkpoint.npz"
_OBJECT = "object__"


def _object_blob(obj: Any) -> np.ndarray:
    buf = io.BytesIO()
    np.save(buf, np.array([obj], dtype=object), allow_pickle=True)
    return np.frombuffer(buf.getvalue(), dtype=np.uint8)


def write_npz_atomic(path: Path, arrays: Mapping[str, np.ndarray]) -> Path:
    """Write ``arrays`` to ``path`` through a synced temporary file and :func:`os.replace`.

    A crash mid-write leaves the previous file intact, never a half-written one.
    """
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        # mypy matches **arrays against savez's keyword `allow_pickle: bool` too (a mypy limitation)
        np.savez(fh, **arrays)  # type: ignore[arg-type]
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return path


def write_checkpoint(
    path: str | os.PathLike[str],
    meta: Mapping[str, Any],
    arrays: Mapping[str, np.ndarray],
    objects: Mapping[str, Any] | None = None,
) -> Path:
    """Write a checkpoint atomically.

    Args:
        path: The ``.npz`` file (its directory is created).
        meta: JSON-serialisable record: the fingerprint plus anything small.
        arrays: Plain numpy arrays (no object dtype).
        objects: Anything picklable (model weights, strategy states); ``None`` values are skipped.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = {k: np.asarray(v) for k, v in arrays.items()}
    clash = [k for k in out if k == "meta" or k.startswith(_OBJECT)]
    if clash:
        raise ValueError(f"array names {clash} are reserved for the checkpoint's own entries.")
    out["meta"] = np.frombuffer(json.dumps(dict(meta)).encode(), dtype=np.uint8)
    for key, obj in (objects or {}).items():
        if obj is not None:
            out[_OBJECT + key] = _object_blob(obj)
    return write_npz_atomic(path, out)


def read_checkpoint(
    path: str | os.PathLike[str], expected: Mapping[str, Any], defaults: Mapping[str, Any] | None = None
) -> tuple[dict[str, np.ndarray], dict[str, Any], dict[str, Any]]:
    """Read a checkpoint written by :func:`write_checkpoint` and check it belongs to this run.

    Returns ``(arrays, meta, objects)``. ``meta`` must equal ``expected`` on every key of
    ``expected`` (after ``defaults`` fill keys that older files lack). Nothing on disk is modified.

    Raises:
        CheckpointError: If the file is missing, corrupt or from another run (the message names
            each differing key with both values).
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"no checkpoint at {path}.")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files if not k.startswith(_OBJECT)}
            raw = {k[len(_OBJECT):]: data[k].tobytes() for k in data.files if k.startswith(_OBJECT)}
        meta = json.loads(arrays.pop("meta").tobytes().decode())
        objects = {k: np.load(io.BytesIO(v), allow_pickle=True)[0] for k, v in raw.items()}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, json.JSONDecodeError, EOFError) as err:
        raise CheckpointError(
            f"checkpoint {path} is corrupt or unreadable ({type(err).__name__}: {err}); "
            "delete it to start the run afresh."
        ) from err
    for key, value in (defaults or {}).items():
        meta.setdefault(key, value)
    diff = {k: (meta.get(k), v) for k, v in expected.items() if meta.get(k) != v}
    if diff:
        detail = "; ".join(f"{k}: checkpoint {_short(a)} vs run {_short(b)}" for k, (a, b) in diff.items())
        hint = ""
        if "data" in diff or "labels" in diff:
            hint = " The data differ from the checkpoint's (same size, other content): it cannot be resumed on them."
        raise CheckpointError(f"checkpoint {path} belongs to another run ({detail}).{hint} Use another directory.")
    return arrays, meta, objects


def _short(value: Any) -> str:
    """A fingerprint as shape and the first 12 hex digits of its hash; anything else as its repr."""
    if isinstance(value, Mapping) and "sha256" in value:
        return f"shape {value.get('shape')} sha256 {str(value['sha256'])[:12]}"
    if isinstance(value, str) and len(value) == 64 and all(c in "0123456789abcdef" for c in value):
        return f"sha256 {value[:12]}"
    return repr(value)
