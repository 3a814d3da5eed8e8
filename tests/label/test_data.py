"""Tests of activelab.label.data: reading image folders, text tables and feature arrays, and serving images."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from activelab.errors import ActiveLabError
from activelab.label.data import (
    ImageNotFoundError,
    ItemRecord,
    LabelDataError,
    UnsafePathError,
    image_bytes,
    read_data,
)


def write_png(path: Path, color: tuple[int, int, int] = (255, 0, 0), size: tuple[int, int] = (4, 3)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)
    return path


def write_text(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def save_npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)  # type: ignore[arg-type]  # numpy types allow_pickle among the kwargs
    return path


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    return write_text(path, "".join(json.dumps(row) + "\n" for row in rows))


# --- images ----------------------------------------------------------------------------------


def test_image_folder_with_class_subfolders_is_labelled(tmp_path: Path) -> None:
    for rel in ["dog/b.png", "cat/a.PNG", "cat/sub/c.jpg", "dog/.hidden.png", ".cache/x.png", "cat/notes.txt"]:
        write_png(tmp_path / rel) if not rel.endswith(".txt") else write_text(tmp_path / rel, "x")
    source = read_data(tmp_path)
    assert source.kind == "images" and source.root == tmp_path.resolve() and source.features is None
    assert source.classes == ["cat", "dog"]
    assert [item.id for item in source.items] == ["cat/a.PNG", "cat/sub/c.jpg", "dog/b.png"]
    assert [item.given_label for item in source.items] == [0, 0, 1]
    assert all(item.kind == "image" and item.path == item.id and item.text is None for item in source.items)


def test_image_folder_with_classes_given_labels_only_matching_subfolders(tmp_path: Path) -> None:
    for rel in ["loose.png", "cat/a.png", "other/b.webp", "nested/cat/c.bmp", "dog/d.gif"]:
        write_png(tmp_path / rel)
    source = read_data(tmp_path, classes=["dog", "cat"])
    assert source.classes == ["dog", "cat"]
    labels = {item.id: item.given_label for item in source.items}
    assert labels == {"cat/a.png": 1, "dog/d.gif": 0, "loose.png": None, "nested/cat/c.bmp": None, "other/b.webp": None}


def test_image_folder_all_loose_with_classes_is_unlabelled(tmp_path: Path) -> None:
    write_png(tmp_path / "b.jpeg")
    write_png(tmp_path / "a.png")
    source = read_data(str(tmp_path), classes=("x", "y"))
    assert [(item.id, item.given_label) for item in source.items] == [("a.png", None), ("b.jpeg", None)]


def test_image_bytes_serves_the_file_and_its_media_type(tmp_path: Path) -> None:
    write_png(tmp_path / "cat" / "a.png")
    write_png(tmp_path / "dog" / "b.png")
    Image.new("RGB", (2, 2)).save(tmp_path / "dog" / "c.jpg")
    source = read_data(tmp_path)
    served = [image_bytes(source.root, item) for item in source.items]
    assert [media for _, media in served] == ["image/png", "image/png", "image/jpeg"]
    assert served[0][0] == (tmp_path / "cat" / "a.png").read_bytes()


@pytest.mark.parametrize("bad_path", ["../secret.png", "/etc/passwd.png", "cat/../../secret.png", "link/secret.png"])
def test_image_bytes_refuses_paths_outside_the_root(tmp_path: Path, bad_path: str) -> None:
    root = tmp_path / "root"
    write_png(root / "cat" / "a.png")
    write_png(tmp_path / "secret.png")
    os.symlink(tmp_path, root / "link")
    with pytest.raises(UnsafePathError, match="Refusing") as info:
        image_bytes(root, ItemRecord(id=bad_path, kind="image", path=bad_path))
    assert info.value.status == 403


def test_image_bytes_missing_file_and_non_image(tmp_path: Path) -> None:
    with pytest.raises(ImageNotFoundError, match="gone.png") as info:
        image_bytes(tmp_path, ItemRecord(id="gone.png", kind="image", path="gone.png"))
    assert info.value.status == 404
    write_text(tmp_path / "x.txt", "x")
    with pytest.raises(LabelDataError, match="not an image"):
        image_bytes(tmp_path, ItemRecord(id="x.txt", kind="image", path="x.txt"))
    with pytest.raises(LabelDataError, match="no file"):
        image_bytes(tmp_path, ItemRecord(id="0", kind="text", text="t"))


# --- text tables -----------------------------------------------------------------------------


def test_csv_text_with_named_labels(tmp_path: Path) -> None:
    path = write_text(tmp_path / "reviews.csv", 'id,text,label\n7,"great, really",pos\n8,bad,neg\n\n9,meh,\n')
    source = read_data(path)
    assert source.kind == "text" and source.root == path.resolve() and source.features is None
    assert source.classes == ["neg", "pos"]
    assert source.items == [
        ItemRecord(id="0", kind="text", text="great, really", given_label=1),
        ItemRecord(id="1", kind="text", text="bad", given_label=0),
        ItemRecord(id="2", kind="text", text="meh", given_label=None),
    ]


def test_csv_text_column_guessed_as_longest_string_column(tmp_path: Path) -> None:
    path = write_text(tmp_path / "t.csv", "tag,body,n\nab,a long sentence here,1\ncd,another long one,2\n")
    source = read_data(path, classes=["a", "b"])
    assert [item.text for item in source.items] == ["a long sentence here", "another long one"]
    assert all(item.given_label is None for item in source.items)


def test_explicit_text_and_label_columns(tmp_path: Path) -> None:
    path = write_text(tmp_path / "t.csv", "title,body,y\nshort,a much longer body,spam\nhi,ham body,ham\n")
    source = read_data(path, text_column="title", label_column="y")
    assert [item.text for item in source.items] == ["short", "hi"]
    assert source.classes == ["ham", "spam"] and [item.given_label for item in source.items] == [1, 0]


def test_integer_labels_map_through_classes_and_sort_numerically(tmp_path: Path) -> None:
    rows: list[dict[str, object]] = [{"text": f"t{i}", "label": value} for i, value in enumerate([2, "10", None, "", 2.0, "1"])]
    path = write_jsonl(tmp_path / "t.jsonl", rows)
    source = read_data(path)
    assert source.classes == ["1", "2", "10"]
    assert [item.given_label for item in source.items] == [1, 2, None, None, 1, 0]
    named = read_data(path, classes=["a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"])
    assert [item.given_label for item in named.items] == [2, 10, None, None, 2, 1]


def test_label_names_take_precedence_over_indices(tmp_path: Path) -> None:
    path = write_text(tmp_path / "t.csv", "text,label\na,01\nb,1\nc,0\n")
    source = read_data(path, classes=["01", "x"])
    assert [item.given_label for item in source.items] == [0, 1, 0]


def test_tsv_and_semicolon_csv(tmp_path: Path) -> None:
    tsv = read_data(write_text(tmp_path / "t.tsv", "label\ttext\nb\tone, two\na\tthree\n"))
    semicolons = read_data(write_text(tmp_path / "s.csv", "\ufefftext;label\r\none, two;b\r\nthree;a\r\n"))
    for source in (tsv, semicolons):
        assert [(item.text, item.given_label) for item in source.items] == [("one, two", 1), ("three", 0)]


def test_jsonl_and_json_tables(tmp_path: Path) -> None:
    rows: list[dict[str, object]] = [{"text": "hello", "label": "a", "extra": 1}, {"text": 42}, {"text": "bye", "label": "b"}]
    for path in (write_jsonl(tmp_path / "t.jsonl", rows), write_text(tmp_path / "t.json", json.dumps(rows))):
        source = read_data(path)
        assert [item.text for item in source.items] == ["hello", "42", "bye"]
        assert [item.given_label for item in source.items] == [0, None, 1] and source.classes == ["a", "b"]
        assert [item.id for item in source.items] == ["0", "1", "2"]


# --- arrays ----------------------------------------------------------------------------------


def test_npz_features_labels_and_class_names(tmp_path: Path) -> None:
    X = np.arange(4 * 2 * 3, dtype=np.float64).reshape(4, 2, 3)
    path = tmp_path / "a.npz"
    np.savez(path, X=X, y=np.array([1, -1, 0, 2]), classes=np.array(["cat", "dog", "emu"]))
    source = read_data(path)
    assert source.kind == "arrays" and source.classes == ["cat", "dog", "emu"]
    assert source.features is not None and source.features.dtype == np.float32 and source.features.shape == (4, 6)
    np.testing.assert_array_equal(source.features, X.reshape(4, 6))
    assert source.items[1] == ItemRecord(id="1", kind="features", given_label=None)
    assert [item.given_label for item in source.items] == [1, None, 0, 2]
    # classes given: the file's names are matched by name
    reordered = read_data(path, classes=["emu", "dog", "cat"])
    assert [item.given_label for item in reordered.items] == [1, None, 2, 0]


def test_npz_without_y_or_names(tmp_path: Path) -> None:
    path = tmp_path / "a.npz"
    np.savez(path, X=np.ones((3, 2)))
    source = read_data(path, classes=["a", "b"])
    assert [item.given_label for item in source.items] == [None] * 3
    np.savez(path, X=np.ones((3, 1)), y=np.array([5, 7, -1]))
    source = read_data(path)
    assert source.classes == ["5", "7"] and [item.given_label for item in source.items] == [0, 1, None]


def test_numeric_csv_with_and_without_header(tmp_path: Path) -> None:
    path = write_text(tmp_path / "f.csv", "a,b,label\n1,2.5,x\n3,-4,\n5e-1,0,y\n")
    source = read_data(path)
    assert source.kind == "arrays" and source.classes == ["x", "y"]
    assert source.features is not None
    np.testing.assert_allclose(source.features, np.array([[1, 2.5], [3, -4], [0.5, 0]]))
    assert [item.given_label for item in source.items] == [0, None, 1]
    bare = read_data(write_text(tmp_path / "g.csv", "1,2\n3,4\n"), classes=["p", "q"])
    assert bare.features is not None and bare.features.shape == (2, 2)
    assert [item.id for item in bare.items] == ["0", "1"]


# --- errors ----------------------------------------------------------------------------------


def _images_loose(tmp_path: Path) -> Path:
    write_png(tmp_path / "a.png")
    write_png(tmp_path / "cat" / "b.png")
    return tmp_path


def _regression(tmp_path: Path) -> Path:
    values = "".join(f"text {i},{i * 1.37:.2f}\n" for i in range(30))
    return write_text(tmp_path / "r.csv", "text,label\n" + values)


def _nan_npz(tmp_path: Path) -> Path:
    X = np.zeros((5, 2))
    X[3, 1] = np.nan
    np.savez(tmp_path / "n.npz", X=X, y=np.array([0, 1, 0, 1, 0]))
    return tmp_path / "n.npz"


CASES: list[tuple[str, Callable[[Path], Path], dict[str, object], str]] = [
    ("missing path", lambda p: p / "nope.csv", {}, "does not exist"),
    ("empty folder", lambda p: p, {}, "no images found"),
    ("folder of non-images", lambda p: write_text(p / "a.txt", "x").parent, {}, "no images found"),
    ("unsupported file", lambda p: write_text(p / "a.xlsx", "x"), {}, r"unsupported data file \(extension .xlsx\)"),
    ("no text column", lambda p: write_jsonl(p / "t.jsonl", [{"a": 1, "label": "x"}, {"a": 2, "label": "y"}]), {}, "no text column"),
    ("text column missing", lambda p: write_text(p / "t.csv", "text,label\na,b\n"), {"text_column": "body"}, "no text column 'body'"),
    ("label column missing", lambda p: write_text(p / "t.csv", "text\na\n"), {"label_column": "y"}, "no label column 'y'"),
    ("labels not among classes", lambda p: write_text(p / "t.csv", "text,label\na,cat\nb,cow\nc,7\n"),
     {"classes": ["cat", "dog"]}, r"2 label value\(s\) in column 'label' are not among the classes \(cat, dog\): 'cow', '7'"),
    ("regression target", _regression, {}, "looks like a regression target; activelab labels classes"),
    ("one class from labels", lambda p: write_text(p / "t.csv", "text,label\na,x\nb,x\nc,\n"), {}, r"at least 2 classes.*'x'"),
    ("no labels no classes", lambda p: write_text(p / "t.csv", "text\na\nb\n"), {}, "at least 2 classes are needed, found 0"),
    ("one class given", lambda p: write_text(p / "t.csv", "text\na\n"), {"classes": ["only"]}, "at least 2 classes"),
    ("duplicate classes", lambda p: write_text(p / "t.csv", "text\na\n"), {"classes": ["a", "a"]}, "repeated: a"),
    ("classes as a string", lambda p: write_text(p / "t.csv", "text\na\n"), {"classes": "a,b"}, "split it"),
    ("loose images without classes", _images_loose, {}, "'a.png' are not in a class subfolder"),
    ("one class subfolder", lambda p: write_png(p / "cat" / "a.png").parent.parent, {}, "at least 2 classes"),
    ("nan features", _nan_npz, {}, r"1 row\(s\) hold NaN or infinite features \(rows 3"),
    ("nan in numeric csv", lambda p: write_text(p / "f.csv", "a,b\n1,2\n3,nan\n"), {"classes": ["x", "y"]}, r"rows 1,"),
    ("empty feature cell", lambda p: write_text(p / "f.csv", "a,b\n1,2\n3,\n"), {"classes": ["x", "y"]}, "row 1 has no value"),
    ("npz without X", lambda p: save_npz(p / "a.npz", y=np.zeros(2)), {}, "no array X"),
    ("npz y beyond classes", lambda p: save_npz(p / "a.npz", X=np.ones((2, 1)), y=np.array([0, 3]), classes=np.array(["a", "b"])), {}, r"class indices \[3\]"),
    ("npz y below -1", lambda p: save_npz(p / "a.npz", X=np.ones((2, 1)), y=np.array([0, -2])), {}, r"y\[1\] = -2"),
    ("npz y length", lambda p: save_npz(p / "a.npz", X=np.ones((2, 1)), y=np.array([0, 1, 1])), {}, "one label per row"),
    ("ragged csv", lambda p: write_text(p / "t.csv", "text,label\na,b,c\n"), {}, "line 2 has 3 fields"),
    ("invalid jsonl", lambda p: write_text(p / "t.jsonl", '{"text": "a"}\n{oops\n'), {}, "line 2 is not valid JSON"),
    ("jsonl row without text", lambda p: write_jsonl(p / "t.jsonl", [{"text": "a", "label": "x"}, {"label": "y"}]), {},
     "row 1 has no value in the text column 'text'"),
]


@pytest.mark.parametrize(("make", "kwargs", "message"), [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_read_data_errors(tmp_path: Path, make: Callable[[Path], Path], kwargs: dict[str, object], message: str) -> None:
    path = make(tmp_path)
    with pytest.raises(LabelDataError, match=message) as info:
        read_data(path, **kwargs)
    assert isinstance(info.value, ActiveLabError) and isinstance(info.value, ValueError)


def test_error_messages_name_the_file(tmp_path: Path) -> None:
    path = _regression(tmp_path)
    with pytest.raises(LabelDataError) as info:
        read_data(path)
    assert str(path.resolve()) in str(info.value) and "'label'" in str(info.value)


def test_a_few_decimal_labels_are_class_names(tmp_path: Path) -> None:
    path = write_text(tmp_path / "t.csv", "text,label\na,0.5\nb,1.5\nc,0.5\n")
    source = read_data(path)
    assert source.classes == ["0.5", "1.5"] and [item.given_label for item in source.items] == [0, 1, 0]
