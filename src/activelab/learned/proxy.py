"""Cheap proxy learners for training acquisition policies: heads on fixed features, warm-started.

Both follow the :class:`~activelab.models.base.Model` protocol (``fit``, ``predict_proba``,
``n_classes``) and provide ``embed`` (the input of their last linear layer), so every
strategy that needs probabilities or embeddings (margin, entropy, coreset, BADGE, the learned
policy) runs on them unchanged.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import minimize

from ..errors import NotFittedError

__all__ = ["LogisticProxy", "MLPProxy", "make_proxy"]


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: np.ndarray = e / e.sum(axis=1, keepdims=True)
    return out


def _check_xy(X: np.ndarray, y: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
    y = np.asarray(y, dtype=np.int64)
    if len(X) != len(y) or len(y) == 0:
        raise ValueError(f"need the same non-zero number of rows in X and y, got {len(X)} and {len(y)}.")
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"labels must be in [0, {n_classes}), got min {y.min()} max {y.max()}.")
    return X, y


class LogisticProxy:
    """Multinomial logistic regression (L2), fitted by L-BFGS and warm-started between rounds.

    Args:
        n_classes: Number of classes ``C``.
        l2: L2 penalty on the weights (not the bias), scaled by the number of rows.
        max_iter: L-BFGS iterations per ``fit``.
        warm_start: Continue from the previous weights (True) or start from zero each fit.

    Cost: ``fit`` is O(max_iter · n · D · C) time and O(n · C + D · C) memory for ``n`` labelled
    rows of width ``D``; ``predict_proba`` is O(m · D · C) for ``m`` rows. Deterministic (the
    ``rng`` argument is accepted for the protocol and unused).

    Example:
        >>> X = np.array([[0.0], [1.0], [4.0], [5.0]]); y = np.array([0, 0, 1, 1])
        >>> m = LogisticProxy(2).fit(X, y, rng=np.random.default_rng(0))
        >>> m.predict_proba(np.array([[0.0], [5.0]])).argmax(axis=1)
        array([0, 1])
    """

    def __init__(self, n_classes: int, *, l2: float = 1e-2, max_iter: int = 50, warm_start: bool = True) -> None:
        if not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
            raise ValueError(f"n_classes must be an int >= 2, got {n_classes!r}.")
        if not l2 > 0:
            raise ValueError(f"l2 must be > 0, got {l2!r}.")
        self.n_classes = int(n_classes)
        self.l2 = float(l2)
        self.max_iter = int(max_iter)
        self.warm_start = warm_start
        self.coef_: np.ndarray | None = None  # (D + 1, C), last row = bias

    def _objective(self, w: np.ndarray, Xb: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
        W = w.reshape(Xb.shape[1], self.n_classes)
        P = _softmax(Xb @ W)
        n = len(Xb)
        loss = -float(np.log(np.maximum((P * Y).sum(axis=1), 1e-300)).mean())
        grad = Xb.T @ (P - Y) / n
        reg = W[:-1]
        loss += 0.5 * self.l2 * float((reg * reg).sum())
        grad[:-1] += self.l2 * reg
        return loss, grad.ravel()

    def fit(self, X: np.ndarray, y: np.ndarray, *, rng: np.random.Generator | None = None) -> LogisticProxy:
        """Fit on ``X (n, D)``, ``y (n,)``; warm-started from the previous fit when enabled."""
        X, y = _check_xy(X, y, self.n_classes)
        Xb = np.hstack([X, np.ones((len(X), 1))])
        Y = np.zeros((len(y), self.n_classes))
        Y[np.arange(len(y)), y] = 1.0
        if self.warm_start and self.coef_ is not None and self.coef_.shape[0] == Xb.shape[1]:
            w0 = self.coef_.ravel()
        else:
            w0 = np.zeros(Xb.shape[1] * self.n_classes)
        res = minimize(
            self._objective, w0, args=(Xb, Y), jac=True, method="L-BFGS-B",
            options={"maxiter": self.max_iter},
        )
        if not np.all(np.isfinite(res.x)):
            raise FloatingPointError("LogisticProxy diverged (non-finite weights); standardise the features.")
        self.coef_ = res.x.reshape(Xb.shape[1], self.n_classes)
        return self

    def _coef(self) -> np.ndarray:
        if self.coef_ is None:
            raise NotFittedError("This LogisticProxy is not fitted yet; call fit() first.")
        return self.coef_

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probabilities ``(m, C)``."""
        W = self._coef()
        X = np.asarray(X, dtype=np.float64).reshape(len(X), -1)
        return _softmax(X @ W[:-1] + W[-1])

    def embed(self, X: np.ndarray) -> np.ndarray:
        """The input of the (only) linear layer: the features themselves, ``(m, D)``."""
        self._coef()
        return np.asarray(X, dtype=np.float64).reshape(len(X), -1)

    def state_dict(self) -> dict[str, Any]:
        """Weights for checkpoints."""
        return {"coef": None if self.coef_ is None else self.coef_.copy()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.coef_ = None if state["coef"] is None else np.array(state["coef"])


class MLPProxy:
    """One-hidden-layer tanh MLP head, full-batch L-BFGS, warm-started between rounds.

    Args:
        n_classes: Number of classes ``C``.
        hidden: Hidden width ``H``.
        l2: L2 penalty on all weights.
        max_iter: L-BFGS iterations per ``fit``.

    The first ``fit`` draws the initial weights from its ``rng``; later fits continue from the
    previous weights. Cost: ``fit`` O(max_iter · n · H · (D + C)); ``predict_proba``
    O(m · H · (D + C)); memory O(n · H).

    Example:
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(40, 2)); y = (X[:, 0] * X[:, 1] > 0).astype(int)
        >>> m = MLPProxy(2, hidden=16, max_iter=200).fit(X, y, rng=rng)
        >>> float((m.predict_proba(X).argmax(axis=1) == y).mean()) > 0.8
        True
    """

    def __init__(self, n_classes: int, *, hidden: int = 32, l2: float = 1e-3, max_iter: int = 60) -> None:
        if not isinstance(n_classes, (int, np.integer)) or n_classes < 2:
            raise ValueError(f"n_classes must be an int >= 2, got {n_classes!r}.")
        if hidden < 1:
            raise ValueError(f"hidden must be >= 1, got {hidden}.")
        self.n_classes = int(n_classes)
        self.hidden = int(hidden)
        self.l2 = float(l2)
        self.max_iter = int(max_iter)
        self.params_: np.ndarray | None = None
        self._d: int | None = None

    def _unpack(self, w: np.ndarray, d: int) -> tuple[np.ndarray, ...]:
        h, c = self.hidden, self.n_classes
        i = 0
        W1 = w[i : i + d * h].reshape(d, h); i += d * h  # noqa: E702
        b1 = w[i : i + h]; i += h  # noqa: E702
        W2 = w[i : i + h * c].reshape(h, c); i += h * c  # noqa: E702
        b2 = w[i : i + c]
        return W1, b1, W2, b2

    def _objective(self, w: np.ndarray, X: np.ndarray, Y: np.ndarray) -> tuple[float, np.ndarray]:
        W1, b1, W2, b2 = self._unpack(w, X.shape[1])
        H = np.tanh(X @ W1 + b1)
        P = _softmax(H @ W2 + b2)
        n = len(X)
        loss = -float(np.log(np.maximum((P * Y).sum(axis=1), 1e-300)).mean()) + 0.5 * self.l2 * float(w @ w)
        G = (P - Y) / n
        gW2 = H.T @ G
        gb2 = G.sum(axis=0)
        dH = (G @ W2.T) * (1 - H * H)
        gW1 = X.T @ dH
        gb1 = dH.sum(axis=0)
        grad = np.concatenate([gW1.ravel(), gb1, gW2.ravel(), gb2]) + self.l2 * w
        return loss, grad

    def fit(self, X: np.ndarray, y: np.ndarray, *, rng: np.random.Generator) -> MLPProxy:
        """Fit on ``X (n, D)``, ``y (n,)``; the first fit initialises from ``rng``."""
        X, y = _check_xy(X, y, self.n_classes)
        d = X.shape[1]
        Y = np.zeros((len(y), self.n_classes))
        Y[np.arange(len(y)), y] = 1.0
        if self.params_ is None or self._d != d:
            h, c = self.hidden, self.n_classes
            w0 = np.concatenate([
                rng.normal(0, 1 / np.sqrt(d), d * h), np.zeros(h), rng.normal(0, 1 / np.sqrt(h), h * c), np.zeros(c)
            ])
        else:
            w0 = self.params_
        res = minimize(self._objective, w0, args=(X, Y), jac=True, method="L-BFGS-B", options={"maxiter": self.max_iter})
        if not np.all(np.isfinite(res.x)):
            raise FloatingPointError("MLPProxy diverged (non-finite weights); standardise the features.")
        self.params_, self._d = res.x, d
        return self

    def _params(self) -> tuple[np.ndarray, ...]:
        if self.params_ is None or self._d is None:
            raise NotFittedError("This MLPProxy is not fitted yet; call fit() first.")
        return self._unpack(self.params_, self._d)

    def embed(self, X: np.ndarray) -> np.ndarray:
        """Hidden activations ``(m, H)`` (the input of the last linear layer)."""
        W1, b1, _, _ = self._params()
        out: np.ndarray = np.tanh(np.asarray(X, dtype=np.float64).reshape(len(X), -1) @ W1 + b1)
        return out

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Probabilities ``(m, C)``."""
        _, _, W2, b2 = self._params()
        return _softmax(self.embed(X) @ W2 + b2)

    def state_dict(self) -> dict[str, Any]:
        """Weights for checkpoints."""
        return {"params": None if self.params_ is None else self.params_.copy(), "d": self._d}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.params_ = None if state["params"] is None else np.array(state["params"])
        self._d = state["d"]


#: Proxy learner families by name.
PROXIES: dict[str, type[LogisticProxy] | type[MLPProxy]] = {"logreg": LogisticProxy, "mlp": MLPProxy}


def make_proxy(name: str, n_classes: int) -> LogisticProxy | MLPProxy:
    """A proxy learner by name (``"logreg"`` or ``"mlp"``).

    Example:
        >>> type(make_proxy("logreg", 3)).__name__
        'LogisticProxy'
    """
    from .._registry import lookup

    return lookup("proxy learner", name, PROXIES)(n_classes)
