"""``activelab select``: choose the next items of a sharded pool, in this process or on Ray."""

from __future__ import annotations

import csv
import io
import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from .common import err_console, user_errors

__all__ = ["select"]


def select(
    pool: Annotated[Path, typer.Option(help="Pool directory: pool.json + .npy pairs or Parquet files (id, features).")],
    strategy: Annotated[str, typer.Option(help="margin, entropy, least_confidence, kcenter or badge.")],
    k: Annotated[int, typer.Option("--k", help="How many items to pick.")],
    model: Annotated[Path | None, typer.Option(help="Model file: a joblib/pickle of a fitted classifier with "
                                               "predict_proba, or `activelab label export`'s _model.pkl. "
                                               "kcenter without it runs on the features.")] = None,
    labelled: Annotated[Path | None, typer.Option(help="Ids already labelled (.npy, or text/CSV: first column): never "
                                                  "picked; kcenter's initial centres.")] = None,
    backend: Annotated[str, typer.Option(help="local (this process) or ray.")] = "local",
    seed: Annotated[int, typer.Option(help="Seed of kcenter's first centre and BADGE's draws.")] = 0,
    workers: Annotated[int | None, typer.Option(help="Ray: scoring actors, or shards for kcenter/badge "
                                                "(default: from the cluster's CPUs).")] = None,
    batch_size: Annotated[int, typer.Option(help="Rows per scoring batch.")] = 65536,
    ray_address: Annotated[str | None, typer.Option(help="Ray: address of a running cluster (default: a new local Ray).")] = None,
    out: Annotated[Path | None, typer.Option(help="Write the picks here as CSV (default: stdout).")] = None,
) -> None:
    """Pick K items of a sharded pool; prints CSV rows rank,id,score (score: top-k strategies only).

    Both backends pick the same ids: top-k ties go to the smaller id; kcenter and badge equal the
    single-process functions on the pool in id order with the same seed.
    """
    from ..scale import read_id_file, select_pool

    with user_errors(validation=True):
        lab = read_id_file(labelled) if labelled is not None else None
        result = select_pool(
            pool, strategy, k, model=model, labelled=lab, seed=seed, backend=backend, workers=workers,
            batch_size=batch_size, ray_address=ray_address,
        )
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["rank", "id", "score"])
    for r, item in enumerate(result.ids):
        writer.writerow([r, int(item), "" if result.scores is None else repr(float(result.scores[r]))])
    if out is None:
        sys.stdout.write(buf.getvalue())
    else:
        out = out.expanduser()
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
        tmp.write_text(buf.getvalue())
        os.replace(tmp, out)
    err_console.print(
        f"picked {len(result.ids)} items with {strategy} ({backend}) in {result.seconds:.2f} s"
        + (f"; wrote {out}" if out is not None else ""),
        highlight=False,
    )
