"""Tests of activelab.neighbors.backends: backend resolution and the libraries' thread counts."""

from __future__ import annotations

import pytest

from activelab.neighbors.backends import BACKENDS, faiss_available, faiss_threads, resolve_backend, sklearn_threads


def test_resolve_backend() -> None:
    assert resolve_backend("sklearn") == "sklearn"
    assert resolve_backend("auto") == ("faiss" if faiss_available() else "sklearn")
    assert set(BACKENDS) == {"auto", "faiss", "sklearn"}
    with pytest.raises(ValueError, match="backend must be one of 'auto', 'faiss', 'sklearn', got 'annoy'"):
        resolve_backend("annoy")
    with pytest.raises(ValueError, match="backend='torch' no longer exists: .* use backend='sklearn'"):
        resolve_backend("torch")
    if not faiss_available():
        with pytest.raises(ImportError, match="pip install faiss-cpu"):
            resolve_backend("faiss")


@pytest.mark.skipif(not faiss_available(), reason="faiss not installed")
def test_faiss_threads_follows_torch_and_restores() -> None:
    import faiss
    import torch

    before = faiss.omp_get_max_threads()
    with faiss_threads():
        assert faiss.omp_get_max_threads() == max(1, torch.get_num_threads())
    assert faiss.omp_get_max_threads() == before


def test_sklearn_threads_follows_torch_and_restores() -> None:
    import torch
    from threadpoolctl import threadpool_info

    def openmp_threads() -> list[int]:
        return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "openmp"]

    before = openmp_threads()
    with sklearn_threads():
        assert all(n == max(1, torch.get_num_threads()) for n in openmp_threads())
    assert openmp_threads() == before
