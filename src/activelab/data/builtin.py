"""Loaders of the built-in datasets: blobs, digits, MNIST-1D, MNIST and Fashion-MNIST.

Every loader returns a :class:`~activelab.data.base.Dataset` with float32 features and int64
labels in ``[0, n_classes)``. Nothing here downloads: MNIST and Fashion-MNIST are read from files
that ``activelab data fetch NAME`` (see :mod:`activelab.data.fetching`) put in the cache directory
(see :mod:`activelab.data.cache`).
"""

from __future__ import annotations

import gzip
import os
import random
import tarfile
import zlib

import numpy as np

from activelab.data.base import Dataset
from activelab.data.cache import (
    FASHION_MNIST_FILES,
    fashion_mnist_dir,
    fashion_mnist_search_dirs,
    mnist_tarball_path,
)
from activelab.data.files import DataFileError
from activelab.data.idx import parse_idx
from activelab.errors import DataUnavailableError

__all__ = [
    "load_blobs",
    "load_digits",
    "load_fashion_mnist",
    "load_mnist",
    "load_mnist1d",
]

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
    np_state = np.random.get_state()  # noqa: NPY002  (mnist1d seeds the global generators; restored below)
    py_state = random.getstate()
    try:
        raw = make_dataset(args)
    finally:
        np.random.set_state(np_state)  # noqa: NPY002  (gives the caller its global state back)
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
        cache: Cache directory (default :func:`~activelab.data.cache.cache_dir`).

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
        cache: Cache directory (default :func:`~activelab.data.cache.cache_dir`).

    Raises:
        DataUnavailableError: If the files are missing or unreadable; the message gives the
            command that fetches them.
    """
    directory = fashion_mnist_dir(cache)
    if directory is None:
        system_dir, cache_copy_dir = fashion_mnist_search_dirs(cache)
        raise DataUnavailableError(
            "Fashion-MNIST is not available (looked in "
            f"{system_dir} and {cache_copy_dir}). "
            "Fetch it with: activelab data fetch fashion-mnist"
        )
    arrays: dict[str, np.ndarray] = {}
    try:
        for key, file_name in zip(("X", "y", "X_test", "y_test"), FASHION_MNIST_FILES, strict=True):
            file_path = directory / file_name
            with gzip.open(file_path, "rb") as handle:
                arrays[key] = parse_idx(handle.read(), str(file_path))
    except (OSError, EOFError, zlib.error, DataFileError) as exc:
        raise DataUnavailableError(
            f"Cannot read Fashion-MNIST from {directory} ({type(exc).__name__}: {exc}). "
            "Fetch it again with: activelab data fetch fashion-mnist"
        ) from exc
    return _idx_dataset("fashion-mnist", arrays, _FASHION_CLASSES)


def _images_to_float(images: np.ndarray) -> np.ndarray:
    """uint8 images ``(n, h, w)`` -> float32 ``(n, 1, h, w)`` in ``[0, 1]``."""
    out = images.astype(np.float32)
    np.divide(out, 255.0, out=out)
    return out.reshape(images.shape[0], 1, *images.shape[1:])


def _idx_dataset(name: str, arrays: dict[str, np.ndarray], class_names: tuple[str, ...]) -> Dataset:
    """The dataset of the IDX arrays ``X``, ``y``, ``X_test``, ``y_test`` (images scaled to [0, 1])."""
    return Dataset(
        name=name,
        X=_images_to_float(arrays["X"]),
        y=arrays["y"].astype(np.int64),
        X_test=_images_to_float(arrays["X_test"]),
        y_test=arrays["y_test"].astype(np.int64),
        n_classes=len(class_names),
        class_names=class_names,
    )
