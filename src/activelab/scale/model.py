"""The model of a sharded selection: a file that turns features into probabilities and embeddings.

Two formats are read (both pickles, loaded with :func:`joblib.load`; open only files you trust):

- the ``<stem>_model.pkl`` that ``activelab label export`` writes (a registry model rebuilt from its
  name and state, e.g. an ``mlp``: probabilities and penultimate-layer embeddings);
- any pickled or ``joblib.dump``-ed object with ``predict_proba(X)``: a fitted scikit-learn
  classifier, an activelab model (``SklearnClassifier``, ``TorchClassifier``). Embeddings come from
  its ``embed(X)`` when it has one (activelab's torch models do; scikit-learn's do not).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import CapabilityError
from .pool import PoolFormatError

__all__ = ["PoolModel", "load_pool_model"]

_CHUNK = 65536  # rows per inference call


def _writable(x: np.ndarray) -> np.ndarray:
    """``x``, copied if read-only (memory maps, Arrow buffers, Ray arguments): torch models warn on those."""
    return x if x.flags.writeable else np.array(x)


class PoolModel:
    """A loaded model: chunked ``probs`` and ``embeddings`` over feature rows.

    Cost: the model's own per row; rows are passed ``_CHUNK`` at a time, so memory is one chunk
    of outputs beyond the result.
    """

    def __init__(self, obj: Any, source: str) -> None:
        self.obj = obj
        self.source = source
        self.has_embeddings = callable(getattr(obj, "embed", None))

    def _chunked(self, fn: Any, x: np.ndarray, what: str) -> np.ndarray:
        outs = [np.asarray(fn(_writable(x[s : s + _CHUNK]))) for s in range(0, len(x), _CHUNK)]
        if not outs:
            raise ValueError("no rows to run the model on.")
        out = np.concatenate(outs) if len(outs) > 1 else outs[0]
        if out.ndim != 2 or len(out) != len(x):
            raise ValueError(f"{self.source}: {what} returned shape {out.shape} for {len(x)} rows; expected (rows, n).")
        return out

    def probs(self, x: np.ndarray) -> np.ndarray:
        """``(n, C)`` class probabilities of the rows ``x``."""
        return self._chunked(self.obj.predict_proba, x, "predict_proba")

    def embeddings(self, x: np.ndarray) -> np.ndarray:
        """``(n, D')`` float32 embeddings of the rows ``x`` (the model's ``embed``)."""
        if not self.has_embeddings:
            raise CapabilityError(
                f"the model in {self.source} ({type(self.obj).__name__}) has no embed(X); k-center and BADGE need "
                "embeddings: use an activelab torch model (e.g. `activelab label export`'s mlp), or run k-center "
                "without --model on the pool's features."
            )
        return np.ascontiguousarray(self._chunked(self.obj.embed, x, "embed"), dtype=np.float32)


def load_pool_model(path: str | os.PathLike[str]) -> PoolModel:
    """Load a model file (see the module docstring for the formats).

    Raises:
        FileNotFoundError: If ``path`` does not exist.
        PoolFormatError: If the file is not a pickle of a model with ``predict_proba``.
    """
    import joblib  # type: ignore[import-untyped]

    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"model file {p} does not exist.")
    try:
        obj = joblib.load(p)
    except Exception as err:  # any unpickling failure is a bad file
        raise PoolFormatError(
            f"{p} could not be loaded as a pickle/joblib file ({type(err).__name__}: {err}); save a fitted "
            "scikit-learn classifier with joblib.dump(clf, path) or export one with `activelab label export`."
        ) from err
    if isinstance(obj, dict) and obj.get("format") == 1 and "model" in obj:  # `activelab label export`
        if obj.get("object") is not None:
            obj = obj["object"]
        else:
            from ..models.registry import make_model

            model = make_model(obj["model"], len(obj["classes"]), epochs=obj.get("epochs"))
            model.load_state_dict(obj["state"])  # type: ignore[attr-defined]  # registry models with state only
            obj = model
    if not callable(getattr(obj, "predict_proba", None)):
        raise PoolFormatError(
            f"{p} holds a {type(obj).__name__}, not a model with predict_proba(X); save a fitted scikit-learn "
            "classifier with joblib.dump(clf, path) or export one with `activelab label export`."
        )
    return PoolModel(obj, str(p))
