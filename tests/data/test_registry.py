"""Tests of the dataset registry and its single entry point ``load_dataset``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from activelab.data import DATASETS, DataFileError, list_datasets, load_dataset
from activelab.errors import UnknownNameError


def test_names_and_descriptions() -> None:
    assert sorted(DATASETS) == ["blobs", "digits", "fashion-mnist", "mnist", "mnist1d", "newsgroups"]
    for loader, description in DATASETS.values():
        assert callable(loader)
        assert description and "\n" not in description


def test_did_you_mean() -> None:
    expected = (
        "Unknown dataset 'digts'. Did you mean 'digits'? Available: blobs, digits, fashion-mnist, "
        "mnist, mnist1d, newsgroups. A file path must end in .npz or .csv."
    )
    with pytest.raises(UnknownNameError) as info:
        load_dataset("digts")
    assert str(info.value) == expected


@pytest.mark.parametrize(("typo", "suggestion"), [("MNIST", "mnist"), ("fashion_mnist", "fashion-mnist"), ("blob", "blobs")])
def test_suggestions(typo: str, suggestion: str) -> None:
    with pytest.raises(UnknownNameError, match=f"Did you mean '{suggestion}'"):
        load_dataset(typo)


def test_no_suggestion_for_far_names() -> None:
    with pytest.raises(UnknownNameError) as info:
        load_dataset("imagenet")
    assert "Did you mean" not in str(info.value) and "Available: blobs" in str(info.value)


def test_unknown_name_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        load_dataset("nope")


def test_blobs_uses_seed() -> None:
    a, b = load_dataset("blobs", seed=0), load_dataset("blobs", seed=1)
    assert a.X.shape == (3000, 10) and not np.array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.X, load_dataset("blobs", seed=0).X)


def test_digits_ignores_seed() -> None:
    np.testing.assert_array_equal(load_dataset("digits", seed=0).X, load_dataset("digits", seed=9).X)


def test_paths_go_to_load_file(tmp_path: Path) -> None:
    path = tmp_path / "tiny.csv"
    path.write_text("1,2,a\n3,4,b\n")
    assert load_dataset(str(path)).name == "tiny.csv"
    assert load_dataset(path).class_names == ("a", "b")


def test_missing_path_reports_the_file(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="does not exist"):
        load_dataset(str(tmp_path / "nothing.npz"))


def test_existing_file_with_other_extension(tmp_path: Path) -> None:
    path = tmp_path / "data.txt"
    path.write_text("1,2,a\n")
    with pytest.raises(DataFileError, match=r"must be \.npz or \.csv, got \.txt"):
        load_dataset(str(path))


def test_bad_type() -> None:
    with pytest.raises(TypeError, match="got int"):
        load_dataset(3)  # type: ignore[arg-type]


def test_list_datasets() -> None:
    rows = list_datasets()
    assert [name for name, _, _ in rows] == sorted(DATASETS)
    by_name = {name: (description, available) for name, description, available in rows}
    assert by_name["digits"] == (DATASETS["digits"][1], True)
    assert all(isinstance(available, bool) for _, _, available in rows)
