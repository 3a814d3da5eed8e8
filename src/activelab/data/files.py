"""User data files: loading and validating ``.npz``/``.csv`` datasets, and :class:`DataFileError`."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np

from activelab.data.base import Dataset
from activelab.errors import ActiveLabError

__all__ = ["DataFileError", "load_file"]


class DataFileError(ActiveLabError, ValueError):
    """A data file given by path is missing, of an unsupported kind, or malformed."""


def load_file(path: str | os.PathLike[str]) -> Dataset:
    """Load a dataset from a ``.npz`` or ``.csv`` file.

    * ``.npz``: arrays ``X`` (at least 2-D, numeric) and ``y`` (1-D), optionally ``X_test`` and
      ``y_test`` (both or neither).
    * ``.csv``: comma-separated, one item per row, the last column is the label, all other
      columns numeric features. A first row whose feature fields are not all numbers is taken
      as a header and skipped. A CSV file has no test split.

    Labels may be any values (ints, strings, ...): they are mapped to ``0..C-1`` in the sorted
    order of the distinct values of ``y`` and ``y_test`` together, and the original values are
    kept (as strings) in ``class_names``. CSV labels that all parse as integers are sorted as
    numbers (``"2"`` before ``"10"``).

    Args:
        path: Path of the file.

    Returns:
        The dataset, named after the file name, with float32 features and int64 labels.

    Raises:
        DataFileError: If the file is missing, has another extension, or its content is
            invalid (missing arrays, wrong shapes, non-numeric or non-finite features, fewer
            than two classes); the message names the file and the problem.
    """
    path = Path(path).expanduser()
    suffix = path.suffix.lower()
    if suffix not in (".npz", ".csv"):
        raise DataFileError(
            f"Unsupported data file {str(path)!r}: the extension must be .npz or .csv, "
            f"got {path.suffix or 'none'}."
        )
    if not path.exists():
        raise DataFileError(f"Data file {str(path)!r} does not exist; check the path.")
    if not path.is_file():
        raise DataFileError(f"Data file {str(path)!r} is not a regular file.")
    if suffix == ".npz":
        X, y, X_test, y_test = _read_npz(path)
    else:
        X, y = _read_csv(path)
        X_test = y_test = None
    return _build_file_dataset(path, X, y, X_test, y_test)


def _read_npz(path: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = set(npz.files)
            missing = [key for key in ("X", "y") if key not in keys]
            if missing:
                raise DataFileError(
                    f"{path}: missing array(s) {', '.join(missing)}; found "
                    f"{', '.join(sorted(keys)) or 'no arrays'}. Save it with "
                    "np.savez(path, X=features, y=labels[, X_test=..., y_test=...])."
                )
            if ("X_test" in keys) != ("y_test" in keys):
                raise DataFileError(
                    f"{path}: has {'X_test' if 'X_test' in keys else 'y_test'} but not "
                    f"{'y_test' if 'X_test' in keys else 'X_test'}; give both or neither."
                )
            X, y = npz["X"], npz["y"]
            X_test = npz["X_test"] if "X_test" in keys else None
            y_test = npz["y_test"] if "y_test" in keys else None
    except DataFileError:
        raise
    except ValueError as exc:  # object arrays need pickle, which is refused for safety
        raise DataFileError(
            f"{path}: cannot read the arrays ({exc}). Object arrays are not supported; store "
            "labels as numbers or fixed-width strings (e.g. y.astype(str))."
        ) from exc
    except (OSError, EOFError) as exc:
        raise DataFileError(f"{path}: not a valid .npz file ({exc}).") from exc
    return X, y, X_test, y_test


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_csv(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = [
                (line_no, [field.strip() for field in row])
                for line_no, row in enumerate(csv.reader(handle), start=1)
                if any(field.strip() for field in row)
            ]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataFileError(f"{path}: cannot parse as UTF-8 CSV ({exc}).") from exc
    if rows and not all(_is_number(field) for field in rows[0][1][:-1]):
        rows = rows[1:]  # header
    if not rows:
        raise DataFileError(f"{path}: no data rows.")
    width = len(rows[0][1])
    if width < 2:
        raise DataFileError(
            f"{path}: rows need at least 2 columns (features..., label), line {rows[0][0]} has {width}."
        )
    for line_no, fields in rows:
        if len(fields) != width:
            raise DataFileError(
                f"{path}: line {line_no} has {len(fields)} columns, expected {width} like the first row."
            )
    features = [fields[:-1] for _, fields in rows]
    try:
        X = np.array(features, dtype=np.float64)
    except ValueError as exc:
        for line_no, fields in rows:
            for column, field in enumerate(fields[:-1], start=1):
                if not _is_number(field):
                    raise DataFileError(
                        f"{path}: line {line_no}, column {column}: {field!r} is not a number "
                        "(all columns but the last must be numeric features)."
                    ) from None
        raise DataFileError(f"{path}: cannot convert the features to numbers ({exc}).") from exc
    labels = [fields[-1] for _, fields in rows]
    if any(label == "" for label in labels):
        line_no = next(line for line, fields in rows if fields[-1] == "")
        raise DataFileError(f"{path}: line {line_no} has an empty label (last column).")
    try:
        y: np.ndarray = np.array([int(label) for label in labels], dtype=np.int64)
    except ValueError:
        y = np.array(labels, dtype=str)
    return X, y


def _as_features(array: np.ndarray, part: str, path: Path) -> np.ndarray:
    if array.ndim < 2:
        raise DataFileError(
            f"{path}: {part} must be at least 2-D (n_items, n_features...), got shape {array.shape}. "
            "For a single feature use X.reshape(-1, 1)."
        )
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise DataFileError(f"{path}: {part} must be numeric, got dtype {array.dtype}.")
    if np.iscomplexobj(array):
        raise DataFileError(f"{path}: {part} must be real-valued, got dtype {array.dtype}.")
    out = np.asarray(array, dtype=np.float32)
    n_bad = int(np.count_nonzero(~np.isfinite(out)))
    if n_bad:
        raise DataFileError(
            f"{path}: {part} holds {n_bad} NaN/inf value(s) (after conversion to float32); "
            "impute or drop them before loading."
        )
    return out


def _as_labels(array: np.ndarray, part: str, path: Path, n_rows: int) -> np.ndarray:
    if array.ndim != 1:
        raise DataFileError(f"{path}: {part} must be 1-D (one label per item), got shape {array.shape}.")
    if len(array) != n_rows:
        x_part = "X" if part == "y" else "X_test"
        raise DataFileError(f"{path}: {x_part} has {n_rows} rows but {part} has {len(array)} labels.")
    if array.dtype.kind == "f" and not np.isfinite(array).all():
        raise DataFileError(f"{path}: {part} holds NaN/inf labels.")
    if array.dtype.kind not in "biufUS":
        raise DataFileError(f"{path}: {part} must hold numbers or strings, got dtype {array.dtype}.")
    if array.dtype.kind == "S":
        array = np.char.decode(array, "utf-8", errors="replace")
    return array


def _class_name(value: object) -> str:
    if isinstance(value, (np.floating, float)) and float(value).is_integer():
        return str(int(value))
    return str(value)


def _build_file_dataset(
    path: Path,
    X_raw: np.ndarray,
    y_raw: np.ndarray,
    X_test_raw: np.ndarray | None,
    y_test_raw: np.ndarray | None,
) -> Dataset:
    X = _as_features(X_raw, "X", path)
    if len(X) == 0:
        raise DataFileError(f"{path}: X has no rows.")
    y_raw = _as_labels(y_raw, "y", path, len(X))
    parts: list[np.ndarray] = [y_raw]
    X_test = y_test_raw_checked = None
    if X_test_raw is not None and y_test_raw is not None:
        X_test = _as_features(X_test_raw, "X_test", path)
        if X_test.shape[1:] != X.shape[1:]:
            raise DataFileError(
                f"{path}: X_test items have shape {X_test.shape[1:]} but X items have {X.shape[1:]}."
            )
        y_test_raw_checked = _as_labels(y_test_raw, "y_test", path, len(X_test))
        parts = [y_raw, y_test_raw_checked]
    is_text = [p.dtype.kind == "U" for p in parts]
    if any(is_text) and not all(is_text):
        raise DataFileError(
            f"{path}: y and y_test must both be strings or both be numbers, got dtypes "
            f"{', '.join(str(p.dtype) for p in parts)}."
        )
    classes = np.unique(np.concatenate(parts))
    if len(classes) < 2:
        found = _class_name(classes[0]) if len(classes) else "none"
        raise DataFileError(f"{path}: needs at least 2 classes, found 1 ({found!r}).")
    y = np.searchsorted(classes, y_raw).astype(np.int64)
    y_test = (
        None
        if y_test_raw_checked is None
        else np.searchsorted(classes, y_test_raw_checked).astype(np.int64)
    )
    return Dataset(
        name=path.name,
        X=X,
        y=y,
        X_test=X_test,
        y_test=y_test,
        n_classes=len(classes),
        class_names=tuple(_class_name(value) for value in classes),
    )
