"""User data files: loading and validating ``.npz``/``.csv`` datasets, and :class:`DataFileError`."""

from __future__ import annotations

import csv
import os
import warnings
from pathlib import Path

import numpy as np

from activelab.data.base import Dataset
from activelab.errors import ActiveLabError, DataWarning

__all__ = ["DataFileError", "check_label_values", "load_file"]

#: A float label column with more distinct non-integer values than this is a continuous target.
MAX_FLOAT_CLASSES = 20


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
    numbers (``"2"`` before ``"10"``). The labels are checked first
    (:func:`check_label_values`): a continuous target is refused, stray values are named in a
    :class:`~activelab.errors.DataWarning`.

    Args:
        path: Path of the file.

    Returns:
        The dataset, named after the file name, with float32 features and int64 labels.

    Raises:
        DataFileError: If the file is missing, has another extension, or its content is
            invalid (missing arrays, wrong shapes, non-numeric or non-finite features, fewer
            than two classes, a continuous target); the message names the file and the problem.

    Warns:
        DataWarning: For stray label values (negative ones next to non-negative classes, or
            values held by very few items, e.g. ``10**12`` once among 0, 1, 2).
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
    check_label_values(parts, str(path))
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


def _listed(values: np.ndarray, limit: int = 5) -> str:
    shown = ", ".join(f"{v:.4g}" if isinstance(v, np.floating) and not float(v).is_integer() else _class_name(v)
                      for v in values[:limit])
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")


def check_label_values(parts: list[np.ndarray], source: str) -> None:
    """Refuse a label column that is not class labels; warn about stray values.

    ``parts`` are the label arrays (``y``, then ``y_test`` if given), ``source`` names the data
    in messages.

    Raises:
        DataFileError: For a continuous target: float labels with more than
            :data:`MAX_FLOAT_CLASSES` distinct non-integer values, or more distinct values than
            half the items (most classes would hold one item, e.g. an ID column). Regression is
            not supported yet.

    Warns:
        DataWarning: Naming stray values, each with its count and first rows: negative labels
            (e.g. ``-1``, often a missing-label marker) next to non-negative ones, and values held
            by fewer items than 5 % of the median class size (e.g. ``10**12`` once among
            classes of 200 items). They stay classes of their own.
    """
    y = np.concatenate(parts)
    values, counts = np.unique(y, return_counts=True)
    numeric = y.dtype.kind in "biuf"
    if y.dtype.kind == "f":
        fractional = values[values != np.round(values)]
        if len(fractional) > MAX_FLOAT_CLASSES:
            raise DataFileError(
                f"{source}: the labels look like a continuous target ({len(values)} distinct float values such as "
                f"{_listed(fractional, 3)}): activelab does classification, and regression is not supported yet. "
                "If these are class codes, store them as integers or strings."
            )
    if len(values) > max(MAX_FLOAT_CLASSES, len(y) // 2):
        raise DataFileError(
            f"{source}: the labels have {len(values)} distinct values for {len(y)} items, so most classes would hold "
            "a single item: this looks like a continuous target or an ID column, not class labels "
            "(regression is not supported yet). Check which column holds the labels (the last one in a .csv)."
        )
    negative = (values < 0) & (values >= 0).any() if numeric else np.zeros(len(values), dtype=bool)
    rare = counts * 20 < np.median(counts)
    stray = negative | rare
    if not stray.any() or stray.all():
        return
    details = []
    for value, count in zip(values[stray], counts[stray], strict=True):
        rows = np.flatnonzero(parts[0] == value)[:3].tolist()
        where = f"row{'s' if len(rows) > 1 else ''} {', '.join(map(str, rows))} of y" if rows else "y_test only"
        details.append(f"{_class_name(value)} ({count} item{'s' if count > 1 else ''}: {where})")
    warnings.warn(
        f"{source}: stray label value(s) {'; '.join(details)} next to the classes {_listed(values[~stray])}; "
        "each is used as a class of its own. Fix or drop those rows if they are mistakes "
        "(-1 often marks a missing label).",
        DataWarning, stacklevel=2,
    )
