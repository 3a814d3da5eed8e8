import warnings

import numpy as np
import pandas as pd
import pytest

from activelab.experiments.plots import plot_curves


def _rounds(n_strategies, n_seeds=2, n_rounds=6):
    rng = np.random.default_rng(0)
    rows = [
        ("blobs", f"s{i:02d}", "mlp", seed, r, 10 + 10 * r, 0.5 + 0.05 * r + 0.002 * i + 0.01 * rng.random())
        for i in range(n_strategies)
        for seed in range(n_seeds)
        for r in range(n_rounds)
    ]
    return pd.DataFrame(rows, columns=["dataset", "strategy", "model", "seed", "round", "n_labelled", "accuracy"])


@pytest.mark.parametrize("n_strategies", [3, 11, 35])
def test_plot_of_many_strategies_lays_out_without_warnings(tmp_path, n_strategies):
    # 35 strategies once made a legend taller than the figure (matplotlib warned that the
    # layout collapsed); the legend now moves beside the panel and the figure grows.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        path = plot_curves(_rounds(n_strategies), tmp_path / "curves.png")
    assert path.stat().st_size > 10_000
    assert not list(tmp_path.glob(".curves.png.tmp-*"))


def test_plot_validates_its_input(tmp_path):
    with pytest.raises(ValueError, match=r"missing the columns \['accuracy'\]"):
        plot_curves(_rounds(2).drop(columns="accuracy"), tmp_path / "c.png")
    with pytest.raises(ValueError, match="rounds is empty"):
        plot_curves(_rounds(2).iloc[:0], tmp_path / "c.png")
