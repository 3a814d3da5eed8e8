"""Dataset registry: names of the built-in datasets, and one entry point for names and files."""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from pathlib import Path

from activelab.data.base import Dataset
from activelab.data.builtin import (
    load_blobs,
    load_digits,
    load_fashion_mnist,
    load_mnist,
    load_mnist1d,
)
from activelab.data.fetching import is_available
from activelab.data.files import load_file
from activelab.data.text import load_newsgroups
from activelab._registry import lookup

__all__ = ["DATASETS", "FILE_SUFFIXES", "list_datasets", "load_dataset"]

#: Name -> (loader, one-line description).
DATASETS: dict[str, tuple[Callable[..., Dataset], str]] = {
    "blobs": (load_blobs, "Synthetic Gaussian clusters: 3,000 x 10 features, 5 classes (seeded)."),
    "digits": (load_digits, "scikit-learn 8x8 handwritten digits: 1,797 x 64, 10 classes."),
    "mnist1d": (load_mnist1d, "MNIST-1D signals, generated locally: 4,000 + 1,000 test x 40, 10 classes."),
    "mnist": (load_mnist, "MNIST handwritten digits: 60,000 + 10,000 test, 1x28x28, 10 classes."),
    "fashion-mnist": (
        load_fashion_mnist,
        "Fashion-MNIST clothing images: 60,000 + 10,000 test, 1x28x28, 10 classes.",
    ),
    "newsgroups": (
        load_newsgroups,
        "20 Newsgroups posts as TF-IDF + SVD features: 11,293 + 7,528 test x 100, 20 classes.",
    ),
}
#: File extensions that :func:`load_dataset` treats as paths.
FILE_SUFFIXES = (".npz", ".csv")
# Datasets whose content depends on ``seed`` (the others are fixed benchmarks).
_SEEDED = frozenset({"blobs"})


def load_dataset(name_or_path: str | os.PathLike[str], seed: int = 0) -> Dataset:
    """Load a registered dataset by name, or a ``.npz``/``.csv`` file by path.

    Args:
        name_or_path: A name from :data:`DATASETS`, or the path of a data file (see
            :func:`~activelab.data.files.load_file`). A ``PathLike``, a string ending in
            ``.npz``/``.csv`` or the path of an existing file is treated as a path.
        seed: Seed of synthetic datasets (``blobs``). Fixed benchmarks (``digits``, ``mnist1d``
            with its published seed, ``mnist``, ``fashion-mnist``) and files ignore it. The
            held-out split is made separately, per seed, by
            :func:`~activelab.data.base.with_test_split`.

    Raises:
        UnknownNameError: If the name is not registered (with a did-you-mean suggestion).
        DataUnavailableError: If the dataset's files have not been fetched.
        DataFileError: If a data file is missing or malformed.

    Example:
        >>> load_dataset("digits").X.shape
        (1797, 64)
        >>> load_dataset("digts")
        Traceback (most recent call last):
        ...
        activelab.errors.UnknownNameError: Unknown dataset 'digts'. Did you mean 'digits'? Available: blobs, digits, fashion-mnist, mnist, mnist1d, newsgroups. A file path must end in .npz or .csv.
    """
    if isinstance(name_or_path, os.PathLike):
        return load_file(name_or_path)
    if not isinstance(name_or_path, str):
        raise TypeError(
            f"name_or_path must be a dataset name or a path, got {type(name_or_path).__name__}."
        )
    if name_or_path not in DATASETS and (
        name_or_path.lower().endswith(FILE_SUFFIXES) or Path(name_or_path).is_file()
    ):
        return load_file(name_or_path)
    hint = f" A file path must end in {' or '.join(FILE_SUFFIXES)}."
    loader = lookup("dataset", name_or_path, DATASETS, hint)[0]
    if name_or_path in _SEEDED and "seed" in inspect.signature(loader).parameters:
        return loader(seed=seed)
    return loader()


def list_datasets() -> list[tuple[str, str, bool]]:
    """``(name, description, available)`` for each registered dataset, sorted by name.

    ``available`` is false for datasets that must be fetched first (``activelab data fetch NAME``).

    Example:
        >>> [name for name, _, _ in list_datasets()]
        ['blobs', 'digits', 'fashion-mnist', 'mnist', 'mnist1d', 'newsgroups']
    """
    return [(name, DATASETS[name][1], is_available(name)) for name in sorted(DATASETS)]
