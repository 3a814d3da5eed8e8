"""Inference speed of the registered networks through TorchClassifier: microseconds per row.

For image networks (``cnn``, ``cnn_small``) it compares the memory layouts and inference batch
sizes, because on a CPU the elementwise layers (BatchNorm, ReLU, max-pool) of a large NCHW batch
are memory-bound: small channels-last batches keep the activations in cache.

    python benchmarks/inference_speed.py                 # cnn, cnn_small and mlp, 1 thread
    python benchmarks/inference_speed.py --rows 8192 --threads 2

Prints a markdown table: network, layout, inference batch, µs per row (best of ``--repeats``).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch

from activelab.models.registry import make_model


def per_row_us(model: object, X: np.ndarray, repeats: int) -> float:
    """Best wall time of ``model.predict_proba(X)`` over ``repeats`` calls, in µs per row."""
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        model.predict_proba(X)  # type: ignore[attr-defined]
        best = min(best, time.perf_counter() - t)
    return best * 1e6 / len(X)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=4096)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    gen = np.random.default_rng(0)
    images = gen.random((args.rows, 1, 28, 28), dtype=np.float32)
    y = gen.integers(0, 10, args.rows)
    settings = [
        ("cnn", "NCHW", False, 4096), ("cnn", "NCHW", False, 128), ("cnn", "channels-last", None, 4096),
        ("cnn", "channels-last", None, None),
        ("cnn_small", "NCHW", False, 4096), ("cnn_small", "channels-last", None, None),
        ("mlp", "flat", None, None),
    ]
    print("| network | layout | inference batch | µs per row |")
    print("|---|---|---|---|")
    for name, layout, channels_last, batch in settings:
        X = images.reshape(args.rows, -1) if name == "mlp" else images
        model = make_model(name, 10, epochs=1)
        model.channels_last = channels_last
        model.inference_batch_size = batch
        model.fit(X[:64], y[:64], rng=np.random.default_rng(0))
        shown = batch if batch is not None else f"auto ({model._inference_rows})"
        print(f"| {name} | {layout} | {shown} | {per_row_us(model, X, args.repeats):.0f} |", flush=True)
    print(f"\n{args.rows} rows of 1×28×28, {args.threads} thread(s), torch {torch.__version__}; "
          f"load average {os.getloadavg()[0]:.2f}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")


if __name__ == "__main__":
    main()
