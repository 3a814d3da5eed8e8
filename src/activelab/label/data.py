r"""A labelling project's data: reading a folder of images, a text table or feature arrays.

:func:`read_data` turns a path into a :class:`DataSource`: one :class:`ItemRecord` per item (a
stable id, its kind, its text or file path, and its label when the data came labelled), the
final class names, and for feature arrays the features themselves. Accepted formats:

* **A folder of images** (``.png .jpg .jpeg .bmp .gif .webp``, any case, searched
  recursively, hidden files and folders skipped), items sorted by their path relative to the
  folder, which is also their id (POSIX style, e.g. ``"cat/001.png"``). An image in a
  first-level subfolder whose name is one of the classes is labelled with that class; others
  are unlabelled. With no ``classes`` given and *every* image in a first-level subfolder, the
  sorted subfolder names become the classes and every image is labelled.
* **A text table**: ``.csv`` (with a header row; comma- or semicolon-separated), ``.tsv``,
  ``.jsonl``/``.ndjson`` (one JSON object a line) or ``.json`` (a list of objects). The text column is ``text_column``, else a column
  named ``text``, else the string column with the longest mean length. The label column is
  ``label_column``, else ``label`` if present; an empty or missing label means unlabelled.
  Labels may be class names or integer class indices (a value equal to a class name is that
  class, else an integer ``0 <= i < len(classes)`` is class ``i``); with no ``classes`` given
  the sorted distinct labels become the classes (integers sorted as numbers).
* **Feature arrays**: ``.npz`` with ``X`` (``(n, ...)``, any numeric shape, flattened to
  ``(n, d)``), optional ``y`` (integer class indices, ``-1`` = unlabelled; or strings, ``""``
  = unlabelled) and optional ``classes`` (the class names, which ``y`` indexes); or a numeric
  ``.csv``/``.tsv`` (every column but the label column numeric; a header row is optional, a column named
  ``label`` or ``label_column`` holds labels like a text table's).

Item ids of tables and arrays are the row numbers as strings (``"0"``, ``"1"``, ...; blank CSV
and JSONL lines are not rows).

Example:
    >>> import tempfile, pathlib
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     table = pathlib.Path(folder) / "notes.csv"
    ...     _ = table.write_text("text,label\ngood film,pos\nawful,neg\nfine,\n")
    ...     source = read_data(table)
    >>> source.kind, source.classes, [item.given_label for item in source.items]
    ('text', ['neg', 'pos'], [1, 0, None])
"""

from __future__ import annotations

import contextvars
import csv
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np

from activelab.errors import ActiveLabError

__all__ = [
    "IMAGE_MEDIA_TYPES",
    "DataSource",
    "ImageNotFoundError",
    "ItemRecord",
    "LabelDataError",
    "UnsafePathError",
    "image_bytes",
    "read_data",
]

#: Image file extensions read from a folder, with the media type they are served as.
IMAGE_MEDIA_TYPES: dict[str, str] = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".bmp": "image/bmp",
    ".gif": "image/gif",
    ".webp": "image/webp",
}
_TEXT_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".json")
# A label column of non-integer numbers with more distinct values than this is a regression target.
_MAX_FLOAT_LABELS = 10
# How many offending values an error message lists.
_SHOW = 10


class LabelDataError(ActiveLabError, ValueError):
    """A labelling project's data cannot be read: the message names the file, column or value and the fix."""


class UnsafePathError(LabelDataError):
    """An item's path leads outside its data folder (``..``, an absolute path or a symbolic link out)."""

    #: The HTTP status a server answers with.
    status = 403


class ImageNotFoundError(LabelDataError):
    """An image item's file is missing (moved or deleted since the project was made)."""

    #: The HTTP status a server answers with.
    status = 404


@dataclass(frozen=True)
class ItemRecord:
    """One item to label.

    Attributes:
        id: Stable id: the row number as a string (``"0"``, ``"1"``, ...) for tables and arrays,
            the path relative to the data folder (POSIX style) for images.
        kind: ``"features"``, ``"image"`` or ``"text"``.
        text: The text of a ``"text"`` item, else ``None``.
        path: The file of an ``"image"`` item, relative to the data folder, else ``None``.
        given_label: Class index (or class name) if the data came labelled, else ``None``.
    """

    id: str
    kind: str
    text: str | None = None
    path: str | None = None
    given_label: int | str | None = None


@dataclass
class DataSource:
    """What :func:`read_data` read.

    Attributes:
        kind: ``"arrays"``, ``"images"`` or ``"text"``.
        root: The absolute path read: the folder for images, the file otherwise.
        items: One record per item, in a stable order.
        classes: The final class names (at least two).
        features: For ``"arrays"`` data the ``(n, d)`` float32 features, row ``i`` for
            ``items[i]``; ``None`` otherwise.
    """

    kind: str
    root: Path
    items: list[ItemRecord]
    classes: list[str]
    features: np.ndarray | None = None


def read_data(
    path: str | os.PathLike[str],
    *,
    classes: Sequence[str] | None = None,
    text_column: str | None = None,
    label_column: str | None = None,
    need_classes: bool = True,
) -> DataSource:
    """Read a folder of images, a text table or feature arrays (see the module docstring).

    Args:
        path: A folder of images, or a ``.csv``, ``.tsv``, ``.jsonl``, ``.ndjson``, ``.json`` or ``.npz`` file.
        classes: The class names, in order. Without them they come from the data (image
            subfolders, the distinct labels, the ``.npz``'s ``classes``).
        text_column: The column holding the text of a table.
        label_column: The column holding given labels (default ``label``, if present).
        need_classes: Refuse data with fewer than two classes (given or found). ``False`` for a
            pairs project, which asks "same group?" and needs no classes: the labels the data
            came with, if any, are then its known groups (loose images are unlabelled).

    Returns:
        The items, their classes and, for arrays, their features.

    Raises:
        LabelDataError: If the path is missing or of an unknown kind, a folder holds no images,
            a table has no text column, labels are not among the classes, the labels look like a
            regression target, there are fewer than two classes, or features are not finite.
    """
    token = _NEED_CLASSES.set(need_classes)
    try:
        return _read_data(Path(path).expanduser(), classes, text_column, label_column)
    finally:
        _NEED_CLASSES.reset(token)


def _read_data(
    target: Path, classes: Sequence[str] | None, text_column: str | None, label_column: str | None
) -> DataSource:
    if not target.exists():
        raise LabelDataError(f"{str(target)!r} does not exist; check the path.")
    class_list = _check_classes(classes)
    if target.is_dir():
        return _read_images(target.resolve(), class_list)
    suffix = target.suffix.lower()
    target = target.resolve()
    if suffix == ".npz":
        if text_column is not None:
            raise LabelDataError(f"{target}: an .npz file holds feature arrays, not text; drop the text column option.")
        return _read_npz(target, class_list)
    if suffix in _TEXT_SUFFIXES:
        header, rows = _read_table(target, suffix)
        return _table_source(target, header, rows, class_list, text_column, label_column)
    raise LabelDataError(
        f"{target}: unsupported data file (extension {target.suffix or 'none'}). Give a folder of images, "
        "a .csv/.tsv/.jsonl/.json table of texts, a numeric .csv of features, or an .npz with X (and y)."
    )


def image_bytes(source_root: Path, item: ItemRecord) -> tuple[bytes, str]:
    r"""The raw bytes of an image item and its media type, for serving.

    Args:
        source_root: The data folder (:attr:`DataSource.root`).
        item: An ``"image"`` item whose ``path`` is relative to ``source_root``.

    Returns:
        ``(data, media_type)``, e.g. ``(b"\x89PNG...", "image/png")``.

    Raises:
        UnsafePathError: If the item's path leads outside ``source_root`` (an absolute path,
            ``..``, or a symbolic link to elsewhere).
        ImageNotFoundError: If the file is missing.
        LabelDataError: If the item has no path or is not an image file.
    """
    if item.path is None:
        raise LabelDataError(f"Item {item.id!r} ({item.kind}) has no file to serve.")
    relative = PurePosixPath(item.path)
    if relative.is_absolute() or ".." in relative.parts or Path(item.path).is_absolute():
        raise UnsafePathError(f"Refusing item path {item.path!r}: it must be relative to the data folder.")
    root = Path(source_root).resolve()
    file = (root / relative).resolve()
    if not file.is_relative_to(root):
        raise UnsafePathError(f"Refusing item path {item.path!r}: it leads outside the data folder {root}.")
    media_type = IMAGE_MEDIA_TYPES.get(file.suffix.lower())
    if media_type is None:
        raise LabelDataError(f"Item path {item.path!r} is not an image ({', '.join(IMAGE_MEDIA_TYPES)}).")
    if not file.is_file():
        raise ImageNotFoundError(f"Image {item.path!r} is missing from {root}; was it moved or deleted?")
    return file.read_bytes(), media_type


# ---------------------------------------------------------------------------------------------
# classes and labels


def _check_classes(classes: Sequence[str] | None) -> list[str] | None:
    if classes is None:
        return None
    if isinstance(classes, str):
        raise LabelDataError(f"classes must be a list of names, got the string {classes!r}; split it (e.g. on commas).")
    names = [str(name).strip() for name in classes]
    if any(not name for name in names):
        raise LabelDataError(f"Class names must not be empty, got {list(classes)!r}.")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise LabelDataError(f"Class names must be distinct; repeated: {', '.join(duplicates)}.")
    _require_two(names, "the classes given")
    return names


_NEED_CLASSES: contextvars.ContextVar[bool] = contextvars.ContextVar("need_classes", default=True)


def _require_two(classes: Sequence[str], where: str) -> None:
    if len(classes) < 2 and _NEED_CLASSES.get():
        found = ", ".join(repr(name) for name in classes) or "none"
        raise LabelDataError(
            f"{where}: at least 2 classes are needed, found {len(classes)} ({found}). "
            "Give the class names (--classes a,b,c) or label some items with at least two classes."
        )


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value


def _label_key(value: object) -> str | None:
    """A raw label value as a class-name string, or None for 'unlabelled'."""
    if value is None or isinstance(value, bool):
        return None if value is None else str(value).lower()
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return None
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    text = str(value).strip()
    if not text:
        return None
    number = _number(text)
    if number is not None and math.isfinite(number) and number.is_integer() and text.lstrip("+-").replace(".", "").isdigit():
        return str(int(number))  # "3", "3.0", "+3" are the integer 3
    return text


def _resolve_labels(
    raw: Sequence[object],
    classes: list[str] | None,
    where: str,
    column: str,
) -> tuple[list[int | None], list[str]]:
    """Map raw label values to class indices and decide the final classes."""
    keys = [_label_key(value) for value in raw]
    texts = [None if key is None else str(value).strip() for key, value in zip(keys, raw, strict=True)]
    present = [key for key in keys if key is not None]
    numbers = [_number(key) for key in present]
    non_integer = {key for key, number in zip(present, numbers, strict=True) if number is not None and not number.is_integer()}
    if non_integer and all(number is not None for number in numbers):
        distinct = len(set(present))
        if distinct > _MAX_FLOAT_LABELS:
            raise LabelDataError(
                f"{where}: label column {column!r} holds {distinct} distinct decimal numbers (e.g. "
                f"{', '.join(sorted(non_integer)[:3])}); it looks like a regression target; activelab labels "
                "classes. Bin the values into classes, or name another column as the label column."
            )
    if classes is None:
        distinct_keys = set(present)
        if all(_is_int(key) for key in distinct_keys):
            final = [str(value) for value in sorted(int(key) for key in distinct_keys)]
        else:
            final = sorted(distinct_keys)
        _require_two(final, where)
        index = {name: position for position, name in enumerate(final)}
        return [None if key is None else index[key] for key in keys], final
    index = {name: position for position, name in enumerate(classes)}
    labels: list[int | None] = []
    unknown: list[str] = []
    for key, text in zip(keys, texts, strict=True):
        if key is None:
            labels.append(None)
        elif text is not None and text in index:  # a class named "01" matches "01", not index 1
            labels.append(index[text])
        elif key in index:
            labels.append(index[key])
        elif _is_int(key) and 0 <= int(key) < len(classes):
            labels.append(int(key))
        else:
            labels.append(None)
            if key not in unknown:
                unknown.append(key)
    if unknown:
        shown = ", ".join(repr(key) for key in unknown[:_SHOW]) + (" ..." if len(unknown) > _SHOW else "")
        raise LabelDataError(
            f"{where}: {len(unknown)} label value(s) in column {column!r} are not among the classes "
            f"({', '.join(classes)}): {shown}. Add them to the classes, or fix or empty those labels."
        )
    return labels, list(classes)


def _is_int(key: str) -> bool:
    return key.lstrip("-").isdigit()


# ---------------------------------------------------------------------------------------------
# images


def _read_images(root: Path, classes: list[str] | None) -> DataSource:
    found: list[str] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [name for name in dirs if not name.startswith(".")]
        base = Path(folder).relative_to(root)
        for name in files:
            if not name.startswith(".") and Path(name).suffix.lower() in IMAGE_MEDIA_TYPES:
                found.append((base / name).as_posix())
    if not found:
        raise LabelDataError(
            f"{root}: no images found (looked for {', '.join(sorted(set(IMAGE_MEDIA_TYPES)))} in this folder and "
            "its subfolders, skipping hidden ones). Check the folder, or give a .csv/.jsonl/.npz file instead."
        )
    found.sort()
    subfolders = [PurePosixPath(rel).parts[0] if len(PurePosixPath(rel).parts) > 1 else None for rel in found]
    if classes is None:
        if any(sub is None for sub in subfolders) and _NEED_CLASSES.get():
            loose = next(rel for rel, sub in zip(found, subfolders, strict=True) if sub is None)
            raise LabelDataError(
                f"{root}: at least 2 classes are needed, and none were given; images such as {loose!r} are not "
                "in a class subfolder. Give the class names (--classes a,b,c), or put every image in a subfolder "
                "named after its class."
            )
        classes = sorted({sub for sub in subfolders if sub is not None})
        _require_two(classes, f"{root} (class subfolders)")
    index = {name: position for position, name in enumerate(classes)}
    items = [
        ItemRecord(id=rel, kind="image", path=rel, given_label=None if sub is None else index.get(sub))
        for rel, sub in zip(found, subfolders, strict=True)
    ]
    return DataSource(kind="images", root=root, items=items, classes=list(classes))


# ---------------------------------------------------------------------------------------------
# tables (CSV, JSONL, JSON)


def _read_table(path: Path, suffix: str) -> tuple[list[str] | None, list[dict[str, object]]]:
    """Rows as dicts keyed by column; the header is None for a CSV without one (all numbers)."""
    if suffix in (".csv", ".tsv"):
        return _read_csv(path, "\t" if suffix == ".tsv" else ",")
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LabelDataError(f"{path}: not UTF-8 text ({exc}); save it as UTF-8.") from exc
    records: list[tuple[int, object]] = []
    if suffix == ".json":
        try:
            loaded = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise LabelDataError(f"{path}: invalid JSON ({exc}).") from exc
        if not isinstance(loaded, list):
            raise LabelDataError(
                f"{path}: a .json data file must hold a list of objects, got {type(loaded).__name__}; "
                "use .jsonl for one object a line."
            )
        records = list(enumerate(loaded))
        what = "element"
    else:
        for line_no, line in enumerate(raw.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                records.append((line_no, json.loads(line)))
            except json.JSONDecodeError as exc:
                raise LabelDataError(f"{path}: line {line_no} is not valid JSON ({exc}).") from exc
        what = "line"
    rows: list[dict[str, object]] = []
    header: list[str] = []
    for where, record in records:
        if not isinstance(record, dict):
            raise LabelDataError(f"{path}: {what} {where} is a {type(record).__name__}, expected an object {{...}}.")
        for key in record:
            if key not in header:
                header.append(str(key))
        rows.append({str(key): value for key, value in record.items()})
    if not rows:
        raise LabelDataError(f"{path}: no rows.")
    return header, rows


def _read_csv(path: Path, delimiter: str) -> tuple[list[str] | None, list[dict[str, object]]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, delimiter=delimiter)
            lines = [(reader.line_num, [field.strip() for field in row]) for row in reader if any(f.strip() for f in row)]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise LabelDataError(f"{path}: cannot parse as a UTF-8 CSV file ({exc}).") from exc
    if not lines:
        raise LabelDataError(f"{path}: the file is empty.")
    if delimiter == "," and len(lines[0][1]) == 1 and ";" in lines[0][1][0]:
        return _read_csv(path, ";")  # a spreadsheet's "CSV" with semicolons
    first = lines[0][1]
    has_header = any(field and _number(field) is None for field in first)
    if has_header:
        header = [name or f"column {number}" for number, name in enumerate(first, start=1)]
        repeated = sorted({name for name in header if header.count(name) > 1})
        if repeated:
            raise LabelDataError(f"{path}: the header repeats column name(s) {', '.join(repeated)}; rename them.")
        lines = lines[1:]
    else:
        header = [f"column {number}" for number in range(1, len(first) + 1)]
    if not lines:
        raise LabelDataError(f"{path}: no data rows below the header.")
    rows: list[dict[str, object]] = []
    for line_no, fields in lines:
        if len(fields) != len(header):
            raise LabelDataError(
                f"{path}: line {line_no} has {len(fields)} fields but the {'header' if has_header else 'first row'} "
                f"has {len(header)}; quote fields that contain commas."
            )
        rows.append(dict(zip(header, fields, strict=True)))
    return (header if has_header else None), rows


def _is_numeric_value(value: object) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float)):
        return True
    return isinstance(value, str) and _number(value) is not None


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _table_source(
    path: Path,
    header: list[str] | None,
    rows: list[dict[str, object]],
    classes: list[str] | None,
    text_column: str | None,
    label_column: str | None,
) -> DataSource:
    columns = header if header is not None else list(rows[0])
    shown = ", ".join(repr(name) for name in columns)
    for option, name in (("text column", text_column), ("label column", label_column)):
        if name is not None and name not in columns:
            raise LabelDataError(f"{path}: no {option} {name!r}; the columns are {shown}.")
    label = label_column if label_column is not None else ("label" if "label" in columns else None)
    others = [name for name in columns if name != label]
    numeric = {name: all(_is_blank(row.get(name)) or _is_numeric_value(row.get(name)) for row in rows) for name in others}
    if text_column is None and path.suffix.lower() in (".csv", ".tsv") and "text" not in columns and others and all(numeric.values()):
        return _csv_arrays(path, rows, others, label, classes)
    if text_column is None:
        if "text" in columns and "text" != label:
            text_column = "text"
        else:
            text_column = _guess_text_column(rows, others, numeric)
            if text_column is None:
                raise LabelDataError(
                    f"{path}: no text column found (columns: {shown}). Name one with a text column option "
                    "(--text-column NAME), or call it 'text'."
                )
    texts: list[str] = []
    for number, row in enumerate(rows):
        value = row.get(text_column)
        if value is None or isinstance(value, (dict, list)):
            raise LabelDataError(
                f"{path}: row {number} has {'no value' if value is None else 'a ' + type(value).__name__} in the "
                f"text column {text_column!r}; every row needs a text (an empty string is allowed)."
            )
        texts.append(value if isinstance(value, str) else str(value))
    given = _given_labels(path, rows, label, classes)
    final = given[1]
    items = [
        ItemRecord(id=str(number), kind="text", text=text, given_label=given[0][number]) for number, text in enumerate(texts)
    ]
    return DataSource(kind="text", root=path, items=items, classes=final)


def _guess_text_column(rows: list[dict[str, object]], candidates: list[str], numeric: dict[str, bool]) -> str | None:
    best: tuple[float, str] | None = None
    for name in candidates:
        values = [row.get(name) for row in rows]
        strings = [value for value in values if isinstance(value, str) and value.strip()]
        if not strings or numeric[name]:
            continue
        if sum(not _is_numeric_value(value) for value in strings) * 2 < len(strings):
            continue  # mostly numbers: a numeric column with a few typos, not text
        mean = sum(len(value) for value in strings) / len(values)
        if best is None or mean > best[0]:
            best = (mean, name)
    return None if best is None else best[1]


def _given_labels(
    path: Path, rows: list[dict[str, object]], label: str | None, classes: list[str] | None
) -> tuple[list[int | None], list[str]]:
    if label is None:
        final = classes if classes is not None else []
        _require_two(final, f"{path} (no label column)")
        return [None] * len(rows), final
    raw: list[object] = []
    for number, row in enumerate(rows):
        value = row.get(label)
        if isinstance(value, (dict, list)):
            raise LabelDataError(f"{path}: row {number}: the label {value!r} must be a class name or index, not a {type(value).__name__}.")
        raw.append(value)
    return _resolve_labels(raw, classes, str(path), label)


def _csv_arrays(
    path: Path, rows: list[dict[str, object]], feature_columns: list[str], label: str | None, classes: list[str] | None
) -> DataSource:
    features = np.empty((len(rows), len(feature_columns)), dtype=np.float32)
    for number, row in enumerate(rows):
        for column, name in enumerate(feature_columns):
            value = row.get(name)
            if _is_blank(value):
                raise LabelDataError(
                    f"{path}: row {number} has no value in feature column {name!r}; fill or drop the row "
                    "(feature arrays must be complete and finite)."
                )
            features[number, column] = float(str(value))
    _check_finite(features, path)
    given, final = _given_labels(path, rows, label, classes)
    items = [ItemRecord(id=str(number), kind="features", given_label=given[number]) for number in range(len(rows))]
    return DataSource(kind="arrays", root=path, items=items, classes=final, features=features)


# ---------------------------------------------------------------------------------------------
# arrays (.npz)


def _check_finite(features: np.ndarray, path: Path) -> None:
    bad_rows = np.flatnonzero(~np.isfinite(features).all(axis=1))
    if bad_rows.size:
        listed = ", ".join(str(row) for row in bad_rows[:_SHOW]) + (" ..." if bad_rows.size > _SHOW else "")
        raise LabelDataError(
            f"{path}: {bad_rows.size} row(s) hold NaN or infinite features (rows {listed}, counting from 0); "
            "impute or drop them."
        )


def _read_npz(path: Path, classes: list[str] | None) -> DataSource:
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except ValueError as exc:  # object arrays need pickle, refused for safety
        raise LabelDataError(
            f"{path}: cannot read the arrays ({exc}). Object arrays are not supported; store class names as "
            "fixed-width strings (np.array(names, dtype=str))."
        ) from exc
    except (OSError, EOFError) as exc:
        raise LabelDataError(f"{path}: not a valid .npz file ({exc}).") from exc
    if "X" not in arrays:
        raise LabelDataError(
            f"{path}: no array X; found {', '.join(sorted(arrays)) or 'none'}. Save it with "
            "np.savez(path, X=features[, y=labels, classes=names])."
        )
    X = arrays["X"]
    if X.ndim < 1 or len(X) == 0:
        raise LabelDataError(f"{path}: X must have one row per item, got shape {X.shape}.")
    if not (np.issubdtype(X.dtype, np.number) or X.dtype == np.bool_) or np.iscomplexobj(X):
        raise LabelDataError(f"{path}: X must hold real numbers, got dtype {X.dtype}.")
    features = np.ascontiguousarray(X.reshape(len(X), -1), dtype=np.float32)
    _check_finite(features, path)
    n = len(features)
    stored: list[str] | None = None
    if "classes" in arrays:
        names = arrays["classes"]
        if names.ndim != 1 or names.dtype.kind not in "USiu":
            raise LabelDataError(f"{path}: classes must be a 1-D array of names, got shape {names.shape} dtype {names.dtype}.")
        stored = [str(name.decode() if isinstance(name, bytes) else name).strip() for name in names.tolist()]
        if any(not name for name in stored) or len(set(stored)) != len(stored):
            raise LabelDataError(f"{path}: the classes array must hold distinct, non-empty names, got {stored!r}.")
    labels: list[int | None] = [None] * n
    if "y" in arrays:
        labels, final = _npz_labels(path, arrays["y"], n, classes, stored)
    else:
        final = classes if classes is not None else (stored or [])
        _require_two(final, f"{path} (no y array)")
    items = [ItemRecord(id=str(number), kind="features", given_label=labels[number]) for number in range(n)]
    return DataSource(kind="arrays", root=path, items=items, classes=list(final), features=features)


def _npz_labels(
    path: Path, y: np.ndarray, n: int, classes: list[str] | None, stored: list[str] | None
) -> tuple[list[int | None], list[str]]:
    if y.ndim != 1 or len(y) != n:
        raise LabelDataError(f"{path}: y must be 1-D with one label per row of X ({n}), got shape {y.shape}.")
    if y.dtype.kind in "US":
        values = [value.decode() if isinstance(value, bytes) else str(value) for value in y.tolist()]
        return _resolve_labels(values, classes if classes is not None else stored, str(path), "y")
    if y.dtype.kind == "f":
        finite = y[np.isfinite(y)]
        if not np.all(finite == np.round(finite)):
            return _resolve_labels(y.tolist(), classes, str(path), "y")  # raises for a regression target
        if not np.isfinite(y).all():
            raise LabelDataError(f"{path}: y holds NaN/inf; use -1 for unlabelled rows.")
    elif y.dtype.kind not in "iub":
        raise LabelDataError(f"{path}: y must hold integer class indices (-1 = unlabelled), got dtype {y.dtype}.")
    ints = y.astype(np.int64)
    if (ints < -1).any():
        bad = int(np.flatnonzero(ints < -1)[0])
        raise LabelDataError(f"{path}: y[{bad}] = {ints[bad]}; labels are class indices, -1 for unlabelled.")
    indices: list[int | None] = [None if value == -1 else int(value) for value in ints.tolist()]
    if stored is None:
        return _resolve_labels(list(indices), classes, str(path), "y")
    too_big = sorted({value for value in indices if value is not None and value >= len(stored)})
    if too_big:
        raise LabelDataError(
            f"{path}: y holds class indices {too_big[:_SHOW]} but the classes array has only {len(stored)} names "
            f"({', '.join(stored)})."
        )
    if classes is None:
        _require_two(stored, f"{path} (classes array)")
        return indices, stored
    # y indexes the file's class names; those are matched by name to the classes given
    index = {name: position for position, name in enumerate(classes)}
    named = [None if value is None else stored[value] for value in indices]
    unknown = sorted({name for name in named if name is not None and name not in index})
    if unknown:
        raise LabelDataError(
            f"{path}: labels {', '.join(repr(name) for name in unknown[:_SHOW])} (from the file's classes array) are not "
            f"among the classes given ({', '.join(classes)}). Add them, or leave the classes out to use the file's."
        )
    return [None if name is None else index[name] for name in named], classes
