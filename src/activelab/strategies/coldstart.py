"""Cold-start strategies: TypiClust, ProbCover and k-means (representative rows, no uncertainty).

They read one row representation, chosen by ``space``:

* ``"embeddings"`` (default): the ``embeddings`` view. In query rounds that is the model's
  penultimate layer; when the strategy chooses the *initial set* (``ActiveLearner(...,
  initial_strategy="typiclust")``), no model exists yet and the loop passes the flattened
  input features as the ``embeddings`` view instead.
* ``"input"``: the flattened input features, the ``inputs`` view (read from the data by the
  streamed pass, no model needed; during initial-set selection the loop passes them directly).

Then ``pca`` (number of principal components) and ``normalize`` (unit-length rows, i.e. cosine
geometry) optionally reshape that representation (:func:`activelab.selection.reduce_features`).
On raw MNIST pixels, ``space="input", pca=50, normalize=True`` is what lets TypiClust and
ProbCover beat random in the low-budget protocol (docs/benchmarks.md).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..errors import CapabilityError
from ..models.base import Views
from ..neighbors import Backend, KnnSearch, resolve_knn_search
from ..pool import Pool
from ..selection.coldstart import kmeans_initial, probcover, probcover_graph, reduce_features, typiclust
from .base import candidate_rows

__all__ = ["KMeansStrategy", "ProbCoverStrategy", "TypiClustStrategy", "representation"]

_SPACES = ("embeddings", "input")


def _check_space(space: str) -> None:
    if space not in _SPACES:
        raise ValueError(f"space must be 'embeddings' or 'input', got {space!r}.")


def _needs(space: str) -> tuple[str, ...]:
    _check_space(space)
    return ("embeddings",) if space == "embeddings" else ("inputs",)


def representation(views: Views, space: str, name: str) -> np.ndarray:
    """The ``(n_rows, d)`` rows a cold-start strategy works on (see the module docstring)."""
    _check_space(space)
    if space == "embeddings":
        return views.require("embeddings")
    inputs = views.inputs if views.inputs is not None else views.extra.get("inputs")
    if inputs is None:
        raise CapabilityError(
            f"strategy {name!r} with space='input' needs the 'inputs' view (the rows' input features); "
            "declare it in the strategy's needs so the loop computes it."
        )
    return np.asarray(inputs)


@dataclass
class _InSpace:
    """Settings shared by the cold-start strategies: the representation and the kNN backend.

    ``space`` decides the view needed; ``pca`` and ``normalize`` reshape it (module docstring).
    """

    space: str = "embeddings"
    pca: int | None = None
    normalize: bool = False
    backend: Backend = "auto"
    n_draws: int = 0

    def __post_init__(self) -> None:
        _check_space(self.space)
        if self.pca is not None and (not isinstance(self.pca, (int, np.integer)) or isinstance(self.pca, bool) or self.pca < 1):
            raise ValueError(f"pca must be None or a number of components >= 1, got {self.pca!r}.")
        if not isinstance(self.normalize, (bool, np.bool_)):
            raise TypeError(f"normalize must be a bool, got {type(self.normalize).__name__}.")

    def _rows(self, views: Views) -> np.ndarray:
        """The representation the strategy works on, after the optional PCA and normalisation."""
        x = representation(views, self.space, getattr(self, "name", type(self).__name__))
        if self.pca is None and not self.normalize:
            return x
        return reduce_features(x.reshape(len(x), -1), self.pca, self.normalize)

    @property
    def needs(self) -> tuple[str, ...]:
        """``("embeddings",)``, or ``("inputs",)`` for ``space="input"``."""
        return _needs(self.space)


@dataclass
class TypiClustStrategy(_InSpace):
    """TypiClust (Hacohen et al. 2022): most typical row of the largest uncovered k-means clusters.

    Args: see :func:`activelab.selection.typiclust` (``space`` as in the module docstring).

    Cost: k-means into L + k (≤ 500) clusters plus one within-cluster kNN per pick
    (O(min(n_c, 5000)²·D)); O(N) extra memory.
    """

    name: str = "typiclust"
    n_neighbors: int = 20
    max_clusters: int = 500
    min_cluster_size: int = 5
    max_cluster_points: int | None = 5000
    needs_labelled: ClassVar[bool] = True

    def select(self, views: Views, pool: Pool, k: int, rng: np.random.Generator) -> np.ndarray:
        """``k`` typical rows from uncovered clusters, as absolute indices."""
        candidate_rows(views, k)
        x = self._rows(views)
        rows = typiclust(
            x, views.labelled, k, rng, n_neighbors=self.n_neighbors, max_clusters=self.max_clusters,
            min_cluster_size=self.min_cluster_size, max_cluster_points=self.max_cluster_points, backend=self.backend,
        )
        picked: np.ndarray = views.indices[rows]
        return picked


@dataclass
class ProbCoverStrategy(_InSpace):
    """ProbCover (Yehuda et al. 2022): greedy max coverage of δ-balls.

    Args:
        delta: Ball radius; ``None`` picks it each call by the purity heuristic with
            ``n_clusters`` k-means clusters (default: the pool's number of classes).
        purity: Target fraction of pure balls (default 0.5, not the paper's 0.95: see
            :func:`activelab.selection.probcover`).
        max_degree, max_edges, backend, knn_search, n_probe: see
            :func:`activelab.selection.probcover` (``knn_search="auto"``: exact kNN while N²·D
            is at most 2·10¹², e.g. 62,000 rows at D = 512; approximate IVF search above).

    Cost: one kNN over the rows (exact O(N²·D), chunked; IVF about O(N^1.5·D·n_probe/2)), a
    radius search for the rows with full kNN lists, k-means for δ; O(N·K + E) memory for E
    ball pairs. The balls are kept
    (keyed by a hash of the rows, O(N·D) per call) and rebuilt only when the representation
    changes, so with ``space="input"`` they are built once per run and each later round
    costs the greedy, O(k·N + E).
    """

    name: str = "probcover"
    delta: float | None = None
    n_clusters: int | None = None
    purity: float = 0.5
    max_degree: int = 100
    max_edges: int = 50_000_000
    knn_search: KnnSearch = "auto"
    n_probe: int = 16
    needs_labelled: ClassVar[bool] = True
    _graph: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        resolve_knn_search(self.knn_search, 0)  # a clear error for an unknown name, at construction
        if not isinstance(self.n_probe, (int, np.integer)) or isinstance(self.n_probe, bool) or self.n_probe < 1:
            raise ValueError(f"n_probe must be an int >= 1, got {self.n_probe!r}.")

    def select(self, views: Views, pool: Pool, k: int, rng: np.random.Generator) -> np.ndarray:
        """``k`` rows covering the most uncovered rows, as absolute indices."""
        candidate_rows(views, k)
        x = np.ascontiguousarray(self._rows(views))
        n_clusters = self.n_clusters if self.n_clusters is not None else pool.n_classes
        if self.delta is None and n_clusters is None:
            raise ValueError(
                "probcover needs delta, n_clusters, or a pool that knows its number of classes "
                "(Pool(n_items, n_classes)) to choose delta by the purity heuristic."
            )
        digest = hashlib.blake2b(x.data, digest_size=16)  # the buffer itself: no copy of the rows
        digest.update(repr((
            x.shape, x.dtype.str, self.delta, n_clusters, self.purity, self.max_degree, self.knn_search, self.n_probe
        )).encode())
        key = digest.hexdigest()
        if self._graph is None or self._graph[0] != key:
            # δ's k-means draws from a generator seeded by the rows themselves, so the balls are
            # a function of the representation: reused while it is unchanged (fixed input
            # features), and the same after a resume, whatever the cache held.
            graph_rng = np.random.default_rng(int(key[:16], 16))
            delta, indptr, cols = probcover_graph(
                x, graph_rng, self.delta, n_clusters=n_clusters, purity=self.purity,
                max_degree=self.max_degree, max_edges=self.max_edges, backend=self.backend,
                knn_search=self.knn_search, n_probe=self.n_probe,
            )
            self._graph = (key, delta, indptr, cols)
        rows = probcover(x, views.labelled, k, rng, graph=(self._graph[2], self._graph[3]))
        picked: np.ndarray = views.indices[rows]
        return picked

    @property
    def last_delta(self) -> float | None:
        """δ of the balls used by the last call (``None`` before the first)."""
        return None if self._graph is None else self._graph[1]


@dataclass
class KMeansStrategy(_InSpace):
    """k-means on the unlabelled rows into k clusters; the row nearest each centroid.

    Cost: k-means with k clusters (O(k·N·D) per iteration) and a kNN of k centroids.
    """

    name: str = "kmeans"
    needs_labelled: ClassVar[bool] = False

    def select(self, views: Views, pool: Pool, k: int, rng: np.random.Generator) -> np.ndarray:
        """The candidate nearest each of ``k`` centroids, as absolute indices."""
        candidate_rows(views, k)
        x = self._rows(views)
        rows = kmeans_initial(x, k, rng, labelled=views.labelled, backend=self.backend)
        picked: np.ndarray = views.indices[rows]
        return picked
