"""TypiClust, ProbCover and the k-means initial set against slow, obviously correct references."""

from __future__ import annotations

import numpy as np
import pytest

from activelab.errors import PoolExhaustedError
from activelab.neighbors import kmeans
from activelab.selection import kmeans_initial, probcover, reduce_features, typiclust
from activelab.selection.coldstart import probcover_delta, typicality


def _dist(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    return np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))


def _blobs(n: int = 120, centers: int = 5, seed: int = 0, std: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_blobs

    X, y = make_blobs(n_samples=n, centers=centers, n_features=3, cluster_std=std, random_state=seed)
    return X.astype(np.float32), y


# ----------------------------------------------------------------------------- typicality
def naive_typicality(x: np.ndarray, k: int) -> np.ndarray:
    d = _dist(x)
    np.fill_diagonal(d, np.inf)
    return 1.0 / np.sort(d, axis=1)[:, :k].mean(1)


@pytest.mark.parametrize("k", [1, 5, 20])
def test_typicality_matches_naive(k: int) -> None:
    x = np.random.default_rng(0).standard_normal((40, 4))
    np.testing.assert_allclose(typicality(x, k, backend="sklearn"), naive_typicality(x, k), rtol=1e-5)


# ----------------------------------------------------------------------------- TypiClust
def naive_typiclust(x, labelled, k, labels, n_neighbors=20, min_cluster_size=5):
    """The paper's loop written out plainly on given k-means labels (exact typicality)."""
    c = labels.max() + 1
    taken = labelled.copy()
    picks = []
    for _ in range(k):
        best = None
        for prefer_big in (True, False):
            for cl in range(c):
                members = np.flatnonzero(labels == cl)
                if not (~taken[members]).any() or (prefer_big and len(members) < min_cluster_size):
                    continue
                key = (int(taken[members].sum()), -len(members), cl)
                if best is None or key < best[0]:
                    best = (key, cl)
            if best is not None:
                break
        members = np.flatnonzero(labels == best[1])
        if len(members) < 3:
            j = members[~taken[members]][0]
        else:
            d = _dist(x[members])
            np.fill_diagonal(d, np.inf)
            mean = np.sort(d, axis=1)[:, : min(n_neighbors, len(members) // 2)].mean(1)
            mean[taken[members]] = np.inf
            j = members[np.argmin(mean)]
        picks.append(int(j))
        taken[j] = True
    return picks


@pytest.mark.parametrize(("n_lab", "k"), [(0, 8), (6, 5), (0, 30)])
def test_typiclust_matches_naive(n_lab: int, k: int) -> None:
    x, _ = _blobs(150, seed=1, std=2.0)
    labelled = np.zeros(len(x), dtype=bool)
    labelled[np.random.default_rng(1).choice(len(x), n_lab, replace=False)] = True
    got = typiclust(x, labelled, k, np.random.default_rng(3), max_cluster_points=None, backend="sklearn")
    labels, _ = kmeans(x, n_lab + k, rng=np.random.default_rng(3), n_iter=20, backend="sklearn")
    assert got.tolist() == naive_typiclust(x, labelled, k, labels)


def test_typiclust_covers_unlabelled_blobs_first() -> None:
    x, y = _blobs(200, centers=5, seed=2, std=0.5)
    labelled = np.zeros(200, dtype=bool)
    labelled[np.flatnonzero(y == 0)[:1]] = True
    labelled[np.flatnonzero(y == 1)[:1]] = True
    picks = typiclust(x, labelled, 3, np.random.default_rng(0))  # L + k = 5 clusters = the 5 blobs
    assert sorted(y[picks].tolist()) == [2, 3, 4]
    assert not labelled[picks].any() and len(set(picks.tolist())) == 3


def test_typiclust_subsampled_clusters_and_determinism() -> None:
    x, _ = _blobs(400, centers=2, seed=3)
    lab = np.zeros(400, dtype=bool)
    a = typiclust(x, lab, 4, np.random.default_rng(5), max_cluster_points=30)
    b = typiclust(x, lab, 4, np.random.default_rng(5), max_cluster_points=30)
    np.testing.assert_array_equal(a, b)
    assert a.dtype == np.int64 and len(set(a.tolist())) == 4


def test_typiclust_all_candidates_and_errors() -> None:
    x, _ = _blobs(30)
    lab = np.zeros(30, dtype=bool)
    lab[:5] = True
    assert sorted(typiclust(x, lab, 25, np.random.default_rng(0)).tolist()) == list(range(5, 30))
    with pytest.raises(PoolExhaustedError, match="only 25 unlabelled"):
        typiclust(x, lab, 26, np.random.default_rng(0))
    with pytest.raises(ValueError, match="must be 2-D"):
        typiclust(x[:, 0], lab, 2, np.random.default_rng(0))


# ----------------------------------------------------------------------------- ProbCover
def naive_probcover(x, labelled, k, delta):
    """Greedy max coverage with the full distance matrix and Python sets."""
    d = _dist(x)
    balls = [set(np.flatnonzero(d[i] <= delta).tolist()) for i in range(len(x))]
    covered = set().union(*[balls[i] for i in np.flatnonzero(labelled)])
    picks = []
    for _ in range(k):
        gains = [(-1 if (labelled[i] or i in picks) else len(balls[i] - covered)) for i in range(len(x))]
        best = int(np.argmax(gains))
        if gains[best] <= 0:
            return picks, None  # the rest is random
        picks.append(best)
        covered |= balls[best]
    return picks, covered


@pytest.mark.parametrize(("n_lab", "delta", "max_degree"), [(0, 1.0, 99), (5, 1.5, 99), (10, 0.7, 99), (0, 1.5, 3), (5, 2.5, 8)])
def test_probcover_matches_brute_force(n_lab: int, delta: float, max_degree: int) -> None:
    # max_degree < ball sizes exercises the radius search that completes full kNN lists
    x, _ = _blobs(100, seed=4, std=1.5)
    labelled = np.zeros(100, dtype=bool)
    labelled[np.random.default_rng(2).choice(100, n_lab, replace=False)] = True
    k = 6
    got = probcover(x, labelled, k, np.random.default_rng(0), delta, max_degree=max_degree, backend="sklearn")
    ref, covered = naive_probcover(x, labelled, k, delta)
    assert got[: len(ref)].tolist() == ref
    assert covered is not None
    # coverage of labelled ∪ picks, recomputed by brute force
    d = _dist(x)
    centres = np.concatenate([np.flatnonzero(labelled), got])
    assert int((d[centres] <= delta).any(0).sum()) == len(covered)


def test_probcover_random_after_full_coverage() -> None:
    x, _ = _blobs(40, centers=2, seed=5, std=0.3)
    lab = np.zeros(40, dtype=bool)
    a = probcover(x, lab, 10, np.random.default_rng(1), delta=100.0)
    b = probcover(x, lab, 10, np.random.default_rng(1), delta=100.0)
    np.testing.assert_array_equal(a, b)
    assert a[0] == 0  # every ball covers everything: the first pick is the lowest row
    assert len(set(a.tolist())) == 10


def test_probcover_small_knn_lists_give_the_same_picks_and_edge_cap() -> None:
    x, _ = _blobs(300, seed=6)
    lab = np.zeros(300, dtype=bool)
    lab[:20] = True
    picks = probcover(x, lab, 15, np.random.default_rng(0), delta=2.0, max_degree=5)
    np.testing.assert_array_equal(picks, probcover(x, lab, 15, np.random.default_rng(0), delta=2.0, max_degree=299))
    assert len(set(picks.tolist())) == 15 and not lab[picks].any()
    with pytest.raises(ValueError, match="balls hold more than max_edges="):
        probcover(x, lab, 15, np.random.default_rng(0), delta=2.0, max_degree=5, max_edges=500)


def test_probcover_delta_meets_the_purity_target() -> None:
    x, _ = _blobs(150, seed=7, std=2.5)
    n = len(x)
    for purity in (0.95, 0.8):
        delta = probcover_delta(x, 5, np.random.default_rng(0), purity=purity, max_degree=n - 1, backend="sklearn")
        labels, _ = kmeans(x, 5, rng=np.random.default_rng(0), backend="sklearn")
        d = _dist(x)
        other = labels[None, :] != labels[:, None]

        def pure_fraction(r: float, d: np.ndarray = d, other: np.ndarray = other) -> float:
            return float((~((d <= r) & other).any(1)).mean())

        assert pure_fraction(delta) >= purity
        # the next impurity radius above delta breaks the target: delta is the largest such radius
        r_imp = np.where(other, d, np.inf).min(1)
        nxt = r_imp[r_imp > delta].min()
        assert pure_fraction(nxt) < purity


def test_probcover_errors() -> None:
    x, _ = _blobs(20)
    lab = np.zeros(20, dtype=bool)
    with pytest.raises(ValueError, match="needs delta or n_clusters"):
        probcover(x, lab, 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="delta must be a finite distance"):
        probcover(x, lab, 2, np.random.default_rng(0), delta=-1.0)
    with pytest.raises(ValueError, match="purity must be in"):
        probcover(x, lab, 2, np.random.default_rng(0), n_clusters=3, purity=1.5)
    with pytest.raises(PoolExhaustedError):
        probcover(x, lab, 21, np.random.default_rng(0), delta=1.0)


# ----------------------------------------------------------------------------- k-means initial
def test_kmeans_initial_one_per_blob_and_nearest_to_centroid() -> None:
    x, y = _blobs(100, centers=4, seed=8, std=0.3)
    picks = kmeans_initial(x, 4, np.random.default_rng(0), backend="sklearn")
    assert sorted(y[picks].tolist()) == [0, 1, 2, 3]
    labels, cent = kmeans(x, 4, rng=np.random.default_rng(0), backend="sklearn")
    d = ((x[:, None, :] - cent[None]) ** 2).sum(-1)
    assert set(picks.tolist()) == set(d.argmin(0).tolist())


def test_kmeans_initial_unique_with_duplicates_and_labelled() -> None:
    x = np.repeat(np.arange(3, dtype=np.float32)[:, None], 5, axis=0)  # 3 distinct points, 5 copies each
    lab = np.zeros(15, dtype=bool)
    lab[:2] = True
    picks = kmeans_initial(x, 6, np.random.default_rng(0), labelled=lab, backend="sklearn")
    assert len(set(picks.tolist())) == 6 and not lab[picks].any()
    assert sorted(kmeans_initial(x, 13, np.random.default_rng(0), labelled=lab).tolist()) == list(range(2, 15))


# ----------------------------------------------------------------------------- reduce_features
def test_reduce_features_matches_an_explicit_pca_and_normalisation() -> None:
    """Against sklearn's PCA (same subspace; signs may differ) and a direct row normalisation."""
    from sklearn.decomposition import PCA

    gen = np.random.default_rng(0)
    x = (gen.normal(size=(300, 12)) * np.linspace(5, 0.1, 12)).astype(np.float32)
    ours = reduce_features(x, pca=4, chunk_size=64)  # several chunks
    ref = PCA(4, svd_solver="full").fit_transform(x.astype(np.float64))
    np.testing.assert_allclose(np.abs(ours), np.abs(ref), rtol=1e-4, atol=1e-4)
    both = reduce_features(x, pca=4, normalize=True)
    np.testing.assert_allclose(both, ours / np.linalg.norm(ours, axis=1, keepdims=True), rtol=1e-5, atol=1e-6)
    # fitted on an evenly spaced subsample: deterministic, and the projection keeps all rows
    sub = reduce_features(x, pca=4, max_fit_rows=100)
    assert sub.shape == (300, 4) and np.array_equal(sub, reduce_features(x, pca=4, max_fit_rows=100))
    assert reduce_features(x, pca=50).shape == (300, 12)  # no projection when pca >= D
    zero = reduce_features(np.zeros((2, 3)), normalize=True)
    assert zero.dtype == np.float32 and not zero.any()  # zero rows stay zero, no NaN


def test_reduce_features_errors() -> None:
    with pytest.raises(ValueError, match="NaN or infinite"):
        reduce_features(np.array([[np.nan, 1.0], [0.0, 1.0]]), pca=1)
    with pytest.raises(ValueError, match="pca must be >= 1"):
        reduce_features(np.ones((3, 2)), pca=0)
    with pytest.raises(TypeError, match="normalize must be a bool"):
        reduce_features(np.ones((3, 2)), normalize=1)


def test_probcover_with_a_precomputed_graph_matches_and_checks_it() -> None:
    from activelab.selection.coldstart import probcover_graph

    X, _ = _blobs()
    lab = np.zeros(len(X), dtype=bool)
    lab[:4] = True
    delta, indptr, cols = probcover_graph(X, np.random.default_rng(0), n_clusters=5)
    assert delta == pytest.approx(probcover_delta(X, 5, np.random.default_rng(0)))
    direct = probcover(X, lab, 6, np.random.default_rng(2), delta)
    np.testing.assert_array_equal(probcover(X, lab, 6, np.random.default_rng(2), graph=(indptr, cols)), direct)
    with pytest.raises(ValueError, match="graph must be the"):
        probcover(X, lab, 6, np.random.default_rng(2), graph=(indptr[:-1], cols))


def test_probcover_ivf_graph_probing_every_cell_equals_the_exact_graph() -> None:
    from activelab.selection.coldstart import probcover_graph

    X, _ = _blobs(400, seed=9, std=1.5)
    exact = probcover_graph(X, np.random.default_rng(0), 1.5, max_degree=10, knn_search="exact")
    every = probcover_graph(X, np.random.default_rng(0), 1.5, max_degree=10, knn_search="ivf", n_probe=10_000)
    for a, b in zip(exact[1:], every[1:], strict=True):
        np.testing.assert_array_equal(a, b)
    # probing a few cells finds a subset of each ball (its own row always included)
    few = probcover_graph(X, np.random.default_rng(0), 1.5, max_degree=10, knn_search="ivf", n_probe=1)
    for r in range(len(X)):
        ball = set(few[2][few[1][r] : few[1][r + 1]].tolist())
        assert r in ball and ball <= set(exact[2][exact[1][r] : exact[1][r + 1]].tolist())
    lab = np.zeros(len(X), dtype=bool)
    picks = probcover(X, lab, 8, np.random.default_rng(1), 1.5, knn_search="ivf", n_probe=1, max_degree=10)
    assert len(set(picks.tolist())) == 8
    with pytest.raises(ValueError, match="knn_search must be"):
        probcover(X, lab, 8, np.random.default_rng(1), 1.5, knn_search="annoy")
