"""Datasets: the :class:`Dataset` container, built-in loaders, user files and fetching.

Example:
    >>> from activelab.data import load_dataset, with_test_split
    >>> ds = with_test_split(load_dataset("digits"), seed=0)
    >>> ds.n_items + len(ds.X_test)
    1797
"""

from activelab.data.base import Dataset, with_test_split
from activelab.data.cache import cache_dir
from activelab.data.fetching import fetch, is_available
from activelab.data.files import DataFileError, load_file
from activelab.data.registry import DATASETS, list_datasets, load_dataset

__all__ = [
    "DATASETS",
    "DataFileError",
    "Dataset",
    "cache_dir",
    "fetch",
    "is_available",
    "list_datasets",
    "load_dataset",
    "load_file",
    "with_test_split",
]
