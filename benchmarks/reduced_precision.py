"""Greedy k-center with the embeddings stored in fp16 or bf16 (issue 17, optional item): speed and covering radius.

The library keeps float32 embeddings; this script measures what half-width storage would give
before any of it is built. Each pick's pass is ``torch.mv`` over the half-width copy (torch
accumulates in fp32 on CPU and rounds the product to the storage type); the squared norms and
the running minimum stay float32. Both pick sets are scored by the covering radius in the
original float32 space (``activelab.selection.covering_radius``), against the library's own
float32 ``kcenter_greedy`` on the same inputs (``selection_speed.make_embeddings``).

Usage::

    python benchmarks/reduced_precision.py --n 100000 --dim 256 --k 100
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).parent))
import selection_speed as ss

from activelab.selection import covering_radius, kcenter_greedy


def kcenter_half(emb: np.ndarray, labelled: np.ndarray, k: int, dtype: torch.dtype) -> tuple[np.ndarray, float]:
    """Greedy k-center with passes over a ``dtype`` copy of ``emb``; (picks, seconds of the picks alone)."""
    x = torch.from_numpy(emb).to(dtype)
    x_sq = (x.float() ** 2).sum(1)  # norms of the stored (rounded) rows
    lab = torch.from_numpy(np.flatnonzero(labelled))
    min_d = torch.full((len(emb),), float("inf"))
    for start in range(0, len(lab), 32):  # labelled rows: fp32 matmul of the rounded rows
        c = x[lab[start : start + 32]].float()
        d = x_sq[:, None] - 2.0 * (x.float() @ c.T if len(emb) <= 200_000 else _blocked(x, c)) + (c * c).sum(1)[None, :]
        min_d = torch.minimum(min_d, d.min(1).values)
    min_d[lab] = -1.0
    out = torch.empty(len(emb), dtype=dtype)
    picks: list[int] = []
    t0 = time.perf_counter()
    for _ in range(k):
        j = int(torch.argmax(min_d))
        picks.append(j)
        torch.mv(x, x[j], out=out)  # the half-width pass
        d = x_sq - 2.0 * out.float() + x_sq[j]
        torch.minimum(min_d, d, out=min_d)
        min_d[j] = -1.0
    return np.asarray(picks), time.perf_counter() - t0


def _blocked(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    return torch.cat([x[s : s + 65536].float() @ c.T for s in range(0, x.shape[0], 65536)])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=100_000)
    p.add_argument("--dim", type=int, default=256)
    p.add_argument("--k", type=int, default=100)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    gen = np.random.default_rng(args.seed)
    emb, _ = ss.make_embeddings(args.n, args.dim, 10, gen)
    labelled = np.zeros(args.n, dtype=bool)
    labelled[gen.choice(args.n, 100, replace=False)] = True
    lab_idx = np.flatnonzero(labelled)
    t0 = time.perf_counter()
    ref = kcenter_greedy(emb, labelled, args.k, np.random.default_rng(1))
    t_ref = time.perf_counter() - t0
    r_ref = covering_radius(emb, np.concatenate([lab_idx, ref]))
    print(f"N={args.n:,} D={args.dim} k={args.k}, 100 labelled; {torch.get_num_threads()} torch threads")
    print("| storage | torch.mv pass ms (median of 7) | picks s | covering radius | radius / library's | picks shared with the library's |")
    print("|---|---|---|---|---|---|")
    x32 = torch.from_numpy(emb)
    print(f"| library kcenter_greedy (float32) | — | {t_ref:.2f} (all of it) | {r_ref:.4f} | 1.0000 | {args.k}/{args.k} |")
    for name, dtype in (("float32", torch.float32), ("float16", torch.float16), ("bfloat16", torch.bfloat16)):
        x = x32.to(dtype)
        out = torch.empty(args.n, dtype=dtype)
        torch.mv(x, x[0], out=out)
        ts = []
        for r in range(7):
            t = time.perf_counter()
            torch.mv(x, x[r], out=out)
            ts.append(time.perf_counter() - t)
        del x
        picks, secs = kcenter_half(emb, labelled, args.k, dtype)  # the same loop for every storage
        r = covering_radius(emb, np.concatenate([lab_idx, picks]))
        shared = len(set(picks.tolist()) & set(ref.tolist()))
        print(f"| {name} | {np.median(ts) * 1e3:.2f} | {secs:.2f} | {r:.4f} | {r / r_ref:.4f} | {shared}/{args.k} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
