"""Batch selection: choose ``k`` rows from arrays (scores, embeddings, gradient factors).

Rows are whatever the caller passes (the loop passes the unlabelled candidates and maps the
returned row indices back to absolute pool indices). Every function takes an explicit
``np.random.Generator`` and returns an ``int64`` array of ``k`` unique row indices.

Costs (N rows, D embedding width, C classes, k picks):

=================  ===============================  =================================
function           time                             extra memory
=================  ===============================  =================================
``top_k``          O(N) (partition) + O(k log k)    O(N) bytes for the tie mask
``power``          O(N) + ``top_k``                 O(N)
``softmax``        O(N) + ``top_k``                 O(N)
``kcenter_greedy`` O(N·L·D) once + k passes O(N·D)  O(N) + one chunk of (chunk × L)
``badge``          k passes over H (N·D) and A (N·C) O(N·C) for ``p - onehot``, O(N)
=================  ===============================  =================================

Greedy k-center and k-means++ seeding must read the whole pool once per pick; their pass is
one matrix-vector product (memory-bandwidth bound) by the kernel measured fastest on this
machine (:mod:`activelab.neighbors.kernels`), so they run at k × that floor.
Nothing of size N×N or N×(C·D) is ever built.

This package only re-exports; the code lives in modules by concept: :mod:`.sampling`
(``top_k``, ``power``, ``softmax``, ``rank``), :mod:`.kcenter` (``kcenter_greedy``,
``covering_radius``), :mod:`.badge`, :mod:`.projection` (``random_projection``),
:mod:`.tensors` (the torch helpers k-center and BADGE share), and :mod:`.batchbald`,
:mod:`.epig`, :mod:`.coldstart`, :mod:`.contrastive`, :mod:`.discriminative`, :mod:`.hybrid`.
"""

from .badge import badge
from .batchbald import batchbald
from .coldstart import kmeans_initial, probcover, reduce_features, typiclust
from .contrastive import cal_scores
from .discriminative import discriminative
from .epig import epig
from .hybrid import cluster_margin, mixture_scores, two_step
from .kcenter import covering_radius, kcenter_greedy
from .projection import random_projection
from .sampling import check_beta, power, rank, softmax, top_k

__all__ = [
    "badge",
    "batchbald",
    "cal_scores",
    "check_beta",
    "cluster_margin",
    "covering_radius",
    "discriminative",
    "epig",
    "kcenter_greedy",
    "kmeans_initial",
    "mixture_scores",
    "power",
    "probcover",
    "random_projection",
    "reduce_features",
    "rank",
    "softmax",
    "top_k",
    "two_step",
    "typiclust",
]
