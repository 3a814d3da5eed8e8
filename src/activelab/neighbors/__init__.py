"""Exact and approximate nearest neighbours and k-means on row embeddings, chunked (never N×N).

Modules: :mod:`~activelab.neighbors.backends` (faiss or scikit-learn),
:mod:`~activelab.neighbors.exact` (kNN, radius balls, nearest centroid),
:mod:`~activelab.neighbors.kmeans` (k-means) and :mod:`~activelab.neighbors.ivf`
(approximate search by an inverted file).
"""

from .backends import Backend, faiss_available
from .exact import assign_nearest, knn, radius_neighbors
from .ivf import EXACT_KNN_BUDGET, IVFIndex, KnnSearch, ivf_knn, resolve_knn_search
from .kmeans import kmeans

__all__ = [
    "EXACT_KNN_BUDGET",
    "Backend",
    "IVFIndex",
    "KnnSearch",
    "assign_nearest",
    "faiss_available",
    "ivf_knn",
    "kmeans",
    "knn",
    "radius_neighbors",
    "resolve_knn_search",
]
