"""Hand-written numerics against the library that does the same (issue item 8).

Five comparisons, one markdown table each (stdout; progress goes to stderr):

* ``knn``: exact 20-NN of every row among the others, and 16-NN of 100,000 query rows among
  632 rows (the shape of ``IVFIndex``'s probe search): ``activelab.neighbors.knn`` on each of
  its backends (and the torch kernel that ``IVFIndex`` keeps for rows whose probed cells are
  too small) against scikit-learn's ``NearestNeighbors(algorithm="brute").kneighbors()``.
  Agreement: rows whose neighbour set equals that of a float64 brute-force reference, and the
  largest squared-distance difference to it.
* ``kmeans``: ``activelab.neighbors.kmeans`` (20 iterations on a subsample of 256 rows per
  cluster, then every row assigned) on each backend, against ``sklearn.cluster.KMeans`` on the
  same subsample, once with its own k-means++ and default tolerance (the library as it comes)
  and once from activelab's seeds with ``tol=0`` (the same algorithm). Agreement: inertia over
  all rows relative to the first row.
* ``ivf_radius``: ``IVFIndex.radius_neighbors`` (cells = k-means, 16 probed) against faiss
  ``IndexIVFFlat.range_search``, once on activelab's cells with the same exact float64 decision
  for pairs near the radius (a drop-in replacement: the same pairs are expected), once with
  faiss's own cells and float32 decisions. Radius: the median distance to the 20th neighbour.
  Agreement: identical CSR to activelab's, and recall of the exact balls of 1000 query rows.
* ``proxies``: ``LogisticProxy`` / ``MLPProxy`` (``activelab.learned.proxy``) against warm-started
  ``LogisticRegression`` / ``MLPClassifier`` (lbfgs, same penalty), refitted on a growing
  labelled set as the learned-acquisition environment does (tasks of ``n_items=1000`` rows:
  pool 600, validation 200; labels from 2·C random rows up to 300, 10 per round). The
  scikit-learn estimators need a fresh start whenever a new class appears and give unseen
  classes probability 0; the wrapper here does both. Agreement: validation accuracy and
  log-loss after the last fit and averaged over the rounds.
* ``kappa``: ``activelab.stopping.cohen_kappa`` against ``sklearn.metrics.cohen_kappa_score``
  on stop sets of 1000 and 2000 items (``StabilizingPredictions`` uses 2000 by default), 10
  classes. Agreement: largest absolute difference over 200 random pairs, and the value for two
  identical constant vectors.

Time: median of ``--repeats`` runs (at least 5 for ``proxies`` and ``kappa``, which take under
a second) after one untimed warm-up call per method on a small input: wall seconds
(``time.perf_counter``) and the process's CPU seconds (``time.process_time``, all threads),
which barely move when other jobs load a shared machine. Memory: for ``knn``, ``kmeans`` and ``ivf_radius`` the peak resident set
during the first timed run minus the resident set at its start ("peak RSS MB": Linux ``VmHWM``
after a reset through ``/proc/self/clear_refs``, else a 2 ms sampling thread), which counts the
torch, faiss and OpenMP buffers that ``tracemalloc`` cannot see; for ``proxies`` and ``kappa``,
where both sides are numpy/scipy/scikit-learn, the ``tracemalloc`` peak ("peak traced KB").
Threads: every library is limited to ``--threads`` (torch, the OpenMP and BLAS pools through
threadpoolctl, faiss through ``activelab.neighbors.backends.faiss_threads``).

Usage::

    python benchmarks/numerics_vs_libraries.py                 # full sizes, a few minutes on 2 cores
    python benchmarks/numerics_vs_libraries.py --quick         # tiny sizes (seconds), a smoke test
    python benchmarks/numerics_vs_libraries.py --only kmeans,kappa --repeats 5
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import sys
import time
import tracemalloc
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import threadpoolctl
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import selection_speed as ss  # the sibling script: memory measurement

from activelab.learned.proxy import LogisticProxy, MLPProxy
from activelab.neighbors import IVFIndex, assign_nearest, faiss_available, kmeans, knn, radius_neighbors
from activelab.neighbors import backends as nb_backends
from activelab.neighbors import exact as nb_exact
from activelab.stopping import cohen_kappa

SECTIONS = ("knn", "kmeans", "ivf_radius", "proxies", "kappa")
MB = 1024.0**2
KNN_K = 20


def say(msg: str) -> None:
    """Progress line on stderr."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------- measuring
# Peak resident-set measurement is the sibling script's (kernel high-water mark, or sampling).
PeakRSS = ss.PeakMemory


@dataclass
class Measured:
    """Median wall and CPU seconds over the repeats, peak memory (MB or KB), the first run's result."""

    seconds: float
    cpu: float
    peak: float
    result: Any


def measure(fn: Callable[[], Any], repeats: int, memory: str) -> Measured:
    """Time ``fn`` ``repeats`` times (wall: ``time.perf_counter``; CPU: ``time.process_time``) and measure its memory.

    The CPU seconds of the process (all its threads) barely move with the load other processes
    put on a shared machine; the wall seconds do. ``memory="rss"``: peak RSS of the first timed
    run (MB; the kernel's high-water mark costs nothing). ``memory="traced"``: the ``tracemalloc``
    peak (KB) of one extra, untimed run, since tracing slows Python-level code down several times.
    """
    times: list[float] = []
    cpus: list[float] = []
    result: Any = None
    peak = 0.0
    for r in range(repeats):
        probe = PeakRSS() if r == 0 and memory == "rss" else None
        if probe is not None:
            probe.__enter__()
        c0, t0 = time.process_time(), time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
        if probe is not None:
            probe.__exit__(None, None, None)
            peak = probe.peak_above / MB
        result = out if r == 0 else result
    if memory == "traced":
        gc.collect()
        tracemalloc.start()
        fn()
        peak = tracemalloc.get_traced_memory()[1] / 1024.0
        tracemalloc.stop()
    return Measured(statistics.median(times), statistics.median(cpus), peak, result)


def table(title: str, command: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A markdown table under a ``###`` title, with the command that produced it."""
    lines = [f"### {title}", "", f"`{command}`", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def _f(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}f}"


# --------------------------------------------------------------------------------- inputs
def make_embeddings(n: int, dim: int, gen: np.random.Generator) -> np.ndarray:
    """Clustered float32 rows ``(n, dim)``: 50 centres + a 16-d latent lift + small noise."""
    centres = (gen.standard_normal((50, dim)) * 2.0).astype(np.float32)
    lift = (gen.standard_normal((16, dim)) / 4.0).astype(np.float32)
    out = np.empty((n, dim), dtype=np.float32)
    for s in range(0, n, 65536):
        m = min(65536, n - s)
        block = centres[gen.integers(50, size=m)]
        block += gen.standard_normal((m, 16), dtype=np.float32) @ lift
        block += 0.1 * gen.standard_normal((m, dim), dtype=np.float32)
        out[s : s + m] = block
    return out


def activelab_backends() -> list[str]:
    """The backends ``activelab.neighbors`` accepts, without ``"auto"`` (faiss only when installed)."""
    return [b for b in nb_backends.BACKENDS if b != "auto" and (b != "faiss" or faiss_available())]


def faiss_limited() -> Any:
    """A context that runs faiss with torch's thread count."""
    return nb_backends.faiss_threads()


# --------------------------------------------------------------------------------- kNN
KnnFn = Callable[[np.ndarray, int, "np.ndarray | None"], tuple[np.ndarray, np.ndarray]]


def brute_knn64(x: np.ndarray, k: int, queries: np.ndarray | None = None, chunk: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """Reference kNN (self excluded when ``queries`` is None): float64 block distances, then the
    kept ones recomputed exactly and sorted by (distance, index).
    """
    x64 = x.astype(np.float64)
    q64 = x64 if queries is None else queries.astype(np.float64)
    sq = np.einsum("ij,ij->i", x64, x64)
    q_sq = np.einsum("ij,ij->i", q64, q64)
    idx = np.empty((len(q64), k), dtype=np.int64)
    for s in range(0, len(q64), chunk):
        d = q_sq[s : s + chunk, None] - 2.0 * (q64[s : s + chunk] @ x64.T) + sq[None, :]
        if queries is None:
            r = np.arange(s, min(s + chunk, len(q64)))
            d[r - s, r] = np.inf
        idx[s : s + chunk] = np.argpartition(d, k - 1, axis=1)[:, :k]
    dist = np.empty(idx.shape)
    for j in range(k):
        diff = q64 - x64[idx[:, j]]
        dist[:, j] = np.einsum("ij,ij->i", diff, diff)
    order = np.lexsort((idx, dist), axis=-1)
    return np.take_along_axis(dist, order, 1), np.take_along_axis(idx, order, 1)


def sklearn_knn(x: np.ndarray, k: int, queries: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn as it comes: brute force; without queries every row's k neighbours among the others."""
    from sklearn.neighbors import NearestNeighbors

    d, i = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(x).kneighbors(queries)
    return d**2, i


def knn_methods() -> list[tuple[str, KnnFn]]:
    """(label, fn(X, k, queries)) for every kNN implementation compared."""
    out: list[tuple[str, KnnFn]] = []
    for b in activelab_backends():
        out.append((f"activelab `knn(backend={b!r})`", lambda x, k, q, b=b: knn(x, k, queries=q, backend=b)))
    knn_torch = getattr(nb_exact, "knn_torch", None)
    if knn_torch is not None:  # the torch kernel (backend="torch" until 2026-12-07) that IVFIndex keeps
        out.append(("activelab `knn_torch` (IVFIndex's exact rows)", lambda x, k, q: knn_torch(x, k, queries=q)))
    out.append(("scikit-learn `NearestNeighbors(algorithm='brute')`", sklearn_knn))
    return out


def bench_knn(configs: Sequence[tuple[int, int, int, int]], repeats: int, command: str) -> str:
    """Exact kNN table; a config is (database rows, query rows or 0 for the rows themselves, D, k)."""
    methods = knn_methods()
    warm = make_embeddings(500, 8, np.random.default_rng(99))
    for _, fn in methods:
        fn(warm, 5, None)
    rows = []
    for n, n_queries, dim, k in configs:
        x = make_embeddings(n + n_queries, dim, np.random.default_rng(0))
        q = x[n:] if n_queries else None
        x = x[:n]
        shape = f"{n:,} × {dim}" + (f", {n_queries:,} queries" if n_queries else "")
        say(f"knn {shape}, k={k}: float64 reference")
        ref_d, ref_i = brute_knn64(x, k, q)
        ref_sets = [set(r) for r in ref_i.tolist()]
        for label, fn in methods:
            m = measure(lambda fn=fn, x=x, k=k, q=q: fn(x, k, q), repeats, "rss")
            d, i = m.result
            same = np.mean([set(a) == b for a, b in zip(i.tolist(), ref_sets, strict=True)])
            dd = float(np.abs(np.sort(d, axis=1) - ref_d).max())
            say(f"  {label}: {m.seconds:.3f} s, {m.peak:.1f} MB, same sets {same:.4f}")
            rows.append([shape, k, label, _f(m.seconds), _f(m.cpu), _f(m.peak, 1), f"{same:.4f}", f"{dd:.1e}"])
    header = [
        "rows × D", "k", "method", "seconds", "CPU s", "peak RSS MB", "rows with the reference's neighbour set",
        "max abs Δ sq. distance",
    ]
    return table("Exact k-NN (self excluded when the rows query themselves)", command, header, rows)


# --------------------------------------------------------------------------------- k-means
def kmeans_methods(n_iter: int) -> list[tuple[str, Callable[[np.ndarray, int], np.ndarray]]]:
    """(label, fn(X, c) -> centroids) for every k-means compared; all share the subsample rule."""
    from sklearn.cluster import KMeans

    def subsample(x: np.ndarray, c: int, rng: np.random.Generator) -> np.ndarray:
        cap = 256 * c  # activelab's max_points_per_centroid rule, same first draw of the same rng
        return x[np.sort(rng.choice(len(x), size=cap, replace=False))] if cap < len(x) else x

    def sk_own(x: np.ndarray, c: int) -> np.ndarray:
        xs = subsample(x, c, np.random.default_rng(1))
        return KMeans(c, n_init=1, max_iter=n_iter, random_state=0).fit(xs).cluster_centers_

    def sk_seeded(x: np.ndarray, c: int) -> np.ndarray:
        _, seeds = kmeans(x, c, rng=np.random.default_rng(1), n_iter=0, backend=activelab_backends()[0])
        xs = subsample(x, c, np.random.default_rng(1))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "fewer distinct points than clusters" on tiny inputs
            return KMeans(c, init=seeds, n_init=1, max_iter=n_iter, tol=0.0).fit(xs).cluster_centers_

    out: list[tuple[str, Callable[[np.ndarray, int], np.ndarray]]] = []
    for b in activelab_backends():
        def ours(x: np.ndarray, c: int, b: str = b) -> np.ndarray:
            return kmeans(x, c, rng=np.random.default_rng(1), n_iter=n_iter, backend=b)[1]

        out.append((f"activelab `kmeans(backend={b!r})`", ours))
    out.append(("scikit-learn `KMeans` (own k-means++, tol 1e-4)", sk_own))
    out.append(("scikit-learn `KMeans` from activelab's seeds, tol 0", sk_seeded))
    return out


def bench_kmeans(sizes: Sequence[tuple[int, int, int]], repeats: int, command: str, n_iter: int = 20) -> str:
    """k-means table."""
    methods = kmeans_methods(n_iter)
    warm = make_embeddings(600, 8, np.random.default_rng(99))
    for _, fn in methods:
        fn(warm, 4)
    rows = []
    for n, dim, c in sizes:
        x = make_embeddings(n, dim, np.random.default_rng(0))
        ref = None
        for label, fn in methods:
            say(f"kmeans N={n:,} D={dim} c={c}: {label}")
            m = measure(lambda fn=fn, x=x, c=c: fn(x, c), repeats, "rss")
            inertia = float(assign_nearest(x, m.result)[1].sum())
            ref = inertia if ref is None else ref
            say(f"  {m.seconds:.3f} s, {m.peak:.1f} MB, inertia {inertia:.6g}")
            rows.append([f"{n:,} × {dim}", c, label, _f(m.seconds), _f(m.cpu), _f(m.peak, 1), f"{inertia / ref:.4f}"])
    header = ["N × D", "c", "method", "seconds", "CPU s", "peak RSS MB", "inertia / first row's"]
    return table(f"k-means, {n_iter} iterations on ≤ 256·c rows, then every row assigned", command, header, rows)


# --------------------------------------------------------------------------------- IVF radius
def faiss_ivf_flat(x: np.ndarray, centroids: np.ndarray | None, n_lists: int, n_probe: int) -> Any:
    """An ``IndexIVFFlat`` of faiss over ``x``: on the given cells (no training) or trained by faiss."""
    import faiss

    quantizer = faiss.IndexFlatL2(x.shape[1])
    index = faiss.IndexIVFFlat(quantizer, x.shape[1], n_lists)
    with faiss_limited():
        if centroids is None:
            index.train(x)
        else:
            quantizer.add(np.ascontiguousarray(centroids, dtype=np.float32))
            index.is_trained = True
        index.add(x)
    index.nprobe = n_probe
    return index


def faiss_radius_exact(
    index: Any, x: np.ndarray, x_sq: np.ndarray, radius: float, rows: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """A faiss range search of the rows ``rows`` (default all) with activelab's boundary rule: pairs
    within a float margin of the radius are decided on the float64 distance; CSR, columns ascending.
    """
    rows = np.arange(len(x)) if rows is None else rows
    r2 = radius**2
    slack = nb_exact.radius_slack(r2, x_sq)
    with faiss_limited():
        lims, dist, cols = index.range_search(x[rows], r2 + slack)
    lims = lims.astype(np.int64)
    place = np.repeat(np.arange(len(rows)), np.diff(lims))
    cols = cols.astype(np.int64)
    keep = np.ones(len(cols), dtype=bool)
    near = dist > r2 - slack
    keep[near] = nb_exact.exact_sq_pairs(x, rows[place[near]], cols[near]) <= r2
    place, cols = place[keep], cols[keep]
    order = np.lexsort((cols, place))
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(np.bincount(place, minlength=len(rows)), out=indptr[1:])
    return indptr, cols[order]


def faiss_radius_plain(index: Any, x: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """A faiss range search as it comes (float32 distances, ``d < r²``), columns sorted per row."""
    with faiss_limited():
        lims, _, cols = index.range_search(x, radius**2)
    lims = lims.astype(np.int64)
    rows = np.repeat(np.arange(len(x)), np.diff(lims))
    order = np.lexsort((cols, rows))
    return lims, cols[order].astype(np.int64)


def _pairs_of(indptr: np.ndarray, cols: np.ndarray, rows: np.ndarray) -> list[set[int]]:
    return [set(cols[indptr[r] : indptr[r + 1]].tolist()) for r in rows]


def bench_ivf_radius(sizes: Sequence[tuple[int, int]], repeats: int, command: str, n_probe: int = 16) -> str:
    """IVF radius-search table."""
    rows_out = []
    for n, dim in sizes:
        x = make_embeddings(n, dim, np.random.default_rng(0))
        gen = np.random.default_rng(5)
        sample = np.sort(gen.choice(n, size=min(n, 1000), replace=False))
        d20, _ = knn(x, KNN_K, queries=x[sample])
        radius = float(np.sqrt(np.median(d20[:, -1])))
        ref_ptr, ref_cols = radius_neighbors(x, radius, query_rows=sample)
        ref = [set(ref_cols[ref_ptr[i] : ref_ptr[i + 1]].tolist()) for i in range(len(sample))]
        ref_total = sum(len(s) for s in ref)
        x_sq = np.einsum("ij,ij->i", x.astype(np.float64), x.astype(np.float64))
        say(f"ivf_radius N={n:,} D={dim}: radius {radius:.3f}")

        build = measure(lambda x=x, n_probe=n_probe: IVFIndex(x, seed=0, n_probe=n_probe), repeats, "rss")
        ours_index = build.result
        n_lists = ours_index.n_lists
        ours_index.radius_neighbors(radius, query_rows=sample[:10])  # warm-up
        ours = measure(lambda idx=ours_index, radius=radius: idx.radius_neighbors(radius), repeats, "rss")
        same_build = measure(lambda x=x, idx=ours_index, n_lists=n_lists, n_probe=n_probe: faiss_ivf_flat(x, idx.centroids, n_lists, n_probe), repeats, "rss")
        faiss_radius_exact(same_build.result, x, x_sq, radius, sample[:10])  # warm-up
        same = measure(lambda b=same_build, x=x, x_sq=x_sq, radius=radius: faiss_radius_exact(b.result, x, x_sq, radius), repeats, "rss")
        own_build = measure(lambda x=x, n_lists=n_lists, n_probe=n_probe: faiss_ivf_flat(x, None, n_lists, n_probe), repeats, "rss")
        own = measure(lambda b=own_build, x=x, radius=radius: faiss_radius_plain(b.result, x, radius), repeats, "rss")

        for label, b, s in [
            (f"activelab `IVFIndex.radius_neighbors` ({n_lists} cells)", build, ours),
            ("faiss `IndexIVFFlat.range_search`, activelab's cells + exact boundary", same_build, same),
            ("faiss `IndexIVFFlat.range_search`, faiss's cells, as it comes", own_build, own),
        ]:
            ptr, cols = s.result
            found = _pairs_of(ptr, cols, sample)
            recall = sum(len(a & r) for a, r in zip(found, ref, strict=True)) / max(1, ref_total)
            identical = bool(np.array_equal(ptr, ours.result[0]) and np.array_equal(cols, ours.result[1]))
            say(f"  {label}: build {b.seconds:.3f} s, search {s.seconds:.3f} s, {s.peak:.1f} MB, "
                f"pairs {len(cols):,}, recall {recall:.4f}")
            rows_out.append([
                f"{n:,} × {dim}", label, _f(b.seconds), _f(s.seconds), _f(s.cpu), _f(s.peak, 1), f"{len(cols):,}",
                "yes" if identical else "no", f"{recall:.4f}",
            ])
    header = [
        "N × D", "method", "build s", "search s", "search CPU s", "search peak RSS MB", "pairs", "same pairs as activelab",
        "recall of exact balls (1000 rows)",
    ]
    return table(f"Radius search over IVF cells, {n_probe} probed, every row queried", command, header, rows_out)


# --------------------------------------------------------------------------------- proxies
class SklearnProxy:
    """A warm-started scikit-learn estimator behind the proxy interface (benchmark only).

    Warm-starts while the set of classes seen stays the same and starts afresh when it grows
    (scikit-learn refuses a warm start on other classes); unseen classes get probability 0.
    """

    def __init__(self, kind: str, n_classes: int, *, tol: float | None = None, seed: int = 0) -> None:
        self.kind, self.n_classes, self.tol, self.seed = kind, n_classes, tol, seed
        self.model: Any = None
        self.classes: np.ndarray | None = None
        self.n_iter = 0

    def _new(self) -> Any:
        from sklearn.linear_model import LogisticRegression
        from sklearn.neural_network import MLPClassifier

        if self.kind == "logreg":
            return LogisticRegression(max_iter=50, warm_start=True)
        extra = {} if self.tol is None else {"tol": self.tol}
        return MLPClassifier((32,), activation="tanh", solver="lbfgs", max_iter=60, warm_start=True, random_state=self.seed, **extra)

    def fit(self, X: np.ndarray, y: np.ndarray) -> SklearnProxy:
        from sklearn.exceptions import ConvergenceWarning

        classes = np.unique(y)
        if self.model is None or self.classes is None or not np.array_equal(classes, self.classes):
            self.model, self.classes = self._new(), classes
        if self.kind == "logreg":  # activelab: mean loss + l2/2 ||W||², l2 = 1e-2
            self.model.set_params(C=1.0 / (1e-2 * len(X)))
        else:  # activelab: mean loss + l2/2 ||w||², l2 = 1e-3 (scikit-learn: alpha/(2n) ||W||², biases free)
            self.model.set_params(alpha=1e-3 * len(X))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model.fit(X, y)
        self.n_iter += int(np.max(self.model.n_iter_))
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        out = np.zeros((len(X), self.n_classes))
        out[:, self.classes] = self.model.predict_proba(X)
        return out


class CountingProxy:
    """An activelab proxy that sums the L-BFGS iterations of its fits (``scipy`` result ``nit``)."""

    def __init__(self, model: Any) -> None:
        self.model, self.n_iter = model, 0

    def fit(self, X: np.ndarray, y: np.ndarray) -> CountingProxy:
        import activelab.learned.proxy as proxy_module

        original = proxy_module.minimize

        def counted(*args: Any, **kwargs: Any) -> Any:
            res = original(*args, **kwargs)
            self.n_iter += int(res.nit)
            return res

        proxy_module.minimize = counted
        try:
            self.model.fit(X, y, rng=np.random.default_rng(0))
        finally:
            proxy_module.minimize = original
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        return self.model.predict_proba(X)


def proxy_task(name: str, n_items: int, seed: int) -> dict[str, Any]:
    """A task split as ``TaskSampler`` splits it: val 20 %, test 20 %, pool the rest; standardised."""
    from activelab.learned.tasks import load_source

    rng = np.random.default_rng(seed)
    if name == "digits":
        from sklearn.datasets import load_digits

        X, y = load_digits(return_X_y=True)
        keep = np.sort(rng.choice(len(X), size=min(n_items, len(X)), replace=False))
        X, y = X[keep].astype(np.float64), y[keep]
    else:
        X, y = load_source(name, rng, n_items)
    order = rng.permutation(len(X))
    n_val = max(20, len(X) // 5)
    val, train = order[:n_val], order[2 * n_val :]
    mu, sd = X[train].mean(0), X[train].std(0)
    sd[sd == 0] = 1.0
    X = (X - mu) / sd
    n_classes = int(y.max()) + 1
    seq = rng.permutation(train)
    return {"X": X, "y": y, "val": val, "seq": seq, "n_classes": n_classes}


def run_proxy(task: dict[str, Any], model: Any, sizes: Sequence[int]) -> dict[str, float]:
    """Refit on the growing labelled prefixes; validation accuracy / log-loss after each fit."""
    from sklearn.metrics import log_loss

    X, y, val, seq, c = task["X"], task["y"], task["val"], task["seq"], task["n_classes"]
    accs, losses = [], []
    for s in sizes:
        lab = seq[:s]
        model.fit(X[lab], y[lab])
        p = np.clip(model.predict_proba(X[val]), 1e-15, 1.0)
        accs.append(float((p.argmax(1) == y[val]).mean()))
        losses.append(float(log_loss(y[val], p / p.sum(1, keepdims=True), labels=np.arange(c))))
    return {
        "acc": accs[-1], "acc_mean": float(np.mean(accs)), "loss": losses[-1], "loss_mean": float(np.mean(losses)),
        "iters": model.n_iter,
    }


def bench_proxies(tasks: Sequence[tuple[str, int]], budget: int, repeats: int, command: str) -> str:
    """Proxy-learner table."""
    rows = []
    for name, seed in tasks:
        task = proxy_task(name, 1000, seed)
        c = task["n_classes"]
        sizes = list(range(2 * c, min(budget, len(task["seq"]) // 2) + 1, 10))
        learners: list[tuple[str, Callable[[], Any]]] = [
            ("activelab `LogisticProxy`", lambda c=c: CountingProxy(LogisticProxy(c))),
            ("scikit-learn `LogisticRegression` (lbfgs, warm start)", lambda c=c: SklearnProxy("logreg", c)),
            ("activelab `MLPProxy` (32 tanh)", lambda c=c: CountingProxy(MLPProxy(c))),
            ("scikit-learn `MLPClassifier` (lbfgs, warm start, tol 1e-4)", lambda c=c: SklearnProxy("mlp", c)),
            ("scikit-learn `MLPClassifier` (lbfgs, warm start, tol 1e-5)", lambda c=c: SklearnProxy("mlp", c, tol=1e-5)),
        ]
        for label, make in learners:
            run_proxy(task, make(), sizes[:2])  # warm-up
            m = measure(lambda make=make, task=task, sizes=sizes: run_proxy(task, make(), sizes), repeats, "traced")
            r = m.result
            say(f"proxies {name}: {label}: {m.seconds:.3f} s, {m.peak:.0f} KB, acc {r['acc']:.3f}, loss {r['loss']:.3f}")
            rows.append([
                f"{name} (C = {c}, D = {task['X'].shape[1]})", label, len(sizes), _f(m.seconds), _f(m.cpu),
                _f(1000 * m.cpu / len(sizes), 2),
                r["iters"], f"{m.peak:.0f}", f"{r['acc']:.3f} / {r['acc_mean']:.3f}", f"{r['loss']:.3f} / {r['loss_mean']:.3f}",
            ])
    header = [
        "task", "learner", "fits", "seconds (all fits)", "CPU s", "CPU ms per fit", "L-BFGS iterations", "peak traced KB",
        "val. accuracy last / mean", "val. log-loss last / mean",
    ]
    return table(f"Proxy learners refitted on 2·C, 2·C + 10, ..., {budget} labels", command, header, rows)


# --------------------------------------------------------------------------------- kappa
def bench_kappa(sizes: Sequence[int], calls: int, repeats: int, command: str) -> str:
    """Cohen's kappa table."""
    from sklearn.metrics import cohen_kappa_score

    rows = []
    for n in sizes:
        gen = np.random.default_rng(n)
        a = gen.integers(0, 10, size=n)
        b = np.where(gen.random(n) < 0.9, a, gen.integers(0, 10, size=n))
        diffs = []
        for _ in range(200):
            p = gen.integers(0, 10, size=n)
            q = np.where(gen.random(n) < gen.random(), p, gen.integers(0, 10, size=n))
            diffs.append(abs(cohen_kappa(p, q) - cohen_kappa_score(p, q)))
        for label, fn in [("activelab `cohen_kappa`", cohen_kappa), ("scikit-learn `cohen_kappa_score`", cohen_kappa_score)]:
            fn(a, b)  # warm-up
            m = measure(lambda fn=fn, a=a, b=b: [fn(a, b) for _ in range(calls)], repeats, "traced")
            one = measure(lambda fn=fn, a=a, b=b: fn(a, b), 1, "traced")
            say(f"kappa n={n}: {label}: {1e6 * m.seconds / calls:.1f} µs per call")
            rows.append([n, label, _f(1e6 * m.seconds / calls, 1), _f(1e6 * m.cpu / calls, 1), f"{one.peak:.1f}", f"{max(diffs):.1e}"])
    const = np.full(50, 3)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sk_const = cohen_kappa_score(const, const)
    header = ["stop set n", "method", "µs per call", "CPU µs per call", "peak traced KB", "max abs Δ over 200 pairs"]
    note = (
        f"\nTwo identical constant vectors: activelab {cohen_kappa(const, const)}, scikit-learn {sk_const} "
        f"with {len(caught)} warning(s) (`replace_undefined_by=1.0` gives 1.0 and still warns).\n"
    )
    return table("Cohen's kappa between two label vectors, 10 classes", command, header, rows) + note


# --------------------------------------------------------------------------------- main
def main(argv: Sequence[str] | None = None) -> None:
    """Parse the options, run the selected comparisons and print their tables."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="tiny sizes, one repeat (a smoke test)")
    p.add_argument("--only", type=str, default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)}")
    p.add_argument("--repeats", type=int, default=None, help="timed runs per method (default 3; --quick 1)")
    p.add_argument("--threads", type=int, default=1, help="threads of every library (default 1)")
    args = p.parse_args(argv)
    only = [s.strip() for s in args.only.split(",") if s.strip()]
    bad = sorted(set(only) - set(SECTIONS))
    if bad:
        p.error(f"unknown section(s) {', '.join(bad)}; choose from {', '.join(SECTIONS)}")
    repeats = args.repeats or (1 if args.quick else 3)
    torch.set_num_threads(args.threads)
    threadpoolctl.threadpool_limits(args.threads)
    ss._configure_malloc()  # freed blocks >= 64 KiB go back to the OS (honest RSS deltas)
    command = "python benchmarks/numerics_vs_libraries.py" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
    print(f"threads per library: {args.threads}; repeats: {repeats}; load average at start: {os.getloadavg()[0]:.2f}\n")
    q = args.quick
    if "knn" in only:
        # the rows among themselves (typicality, ProbCover), and many queries against few rows
        # (IVFIndex's probe search: 16 of 2·√N centroids; CAL: candidates against the labelled rows)
        configs = [(2000, 0, 16, KNN_K), (60, 3000, 16, 16)] if q else [
            (20_000, 0, 32, KNN_K), (20_000, 0, 64, KNN_K), (632, 100_000, 32, 16)
        ]
        print(bench_knn(configs, repeats, command))
    if "kmeans" in only:
        sizes = [(3000, 16, 10), (3000, 16, 50)] if q else [
            (20_000, 32, 100), (20_000, 32, 1000), (100_000, 32, 100), (100_000, 32, 1000)
        ]
        print(bench_kmeans(sizes, repeats, command))
    if "ivf_radius" in only and not faiss_available():
        print("### Radius search over IVF cells\n\nskipped: faiss is not installed (pip install faiss-cpu).\n")
    elif "ivf_radius" in only:
        print(bench_ivf_radius([(3000, 16)] if q else [(20_000, 32), (100_000, 32)], repeats, command))
    if "proxies" in only:
        tasks = [("digits", 0)] if q else [("digits", 0), ("generated", 1), ("generated", 2)]
        print(bench_proxies(tasks, 60 if q else 300, repeats if q else max(repeats, 5), command))
    if "kappa" in only:
        print(bench_kappa([1000] if q else [1000, 2000], 20 if q else 500, repeats if q else max(repeats, 5), command))
    print(f"load average at the end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
