import numpy as np
import pytest

from activelab.engine import read_checkpoint, write_checkpoint
from activelab.errors import CheckpointError


def test_round_trip_and_fingerprint(tmp_path):
    path = tmp_path / "c.npz"
    write_checkpoint(path, {"seed": 1, "round": 3}, {"a": np.arange(4)}, {"state": {"w": [1, 2]}, "skip": None})
    arrays, meta, objects = read_checkpoint(path, {"seed": 1})
    np.testing.assert_array_equal(arrays["a"], np.arange(4))
    assert meta["round"] == 3 and objects == {"state": {"w": [1, 2]}}
    saved = path.read_bytes()
    with pytest.raises(CheckpointError, match="seed: checkpoint 1 vs run 2"):
        read_checkpoint(path, {"seed": 2})
    assert path.read_bytes() == saved


def test_defaults_fill_older_files(tmp_path):
    path = write_checkpoint(tmp_path / "c.npz", {"seed": 1}, {})
    _, meta, _ = read_checkpoint(path, {"seed": 1, "beta": 1.0}, defaults={"beta": 1.0})
    assert meta["beta"] == 1.0


def test_corrupt_and_missing(tmp_path):
    path = tmp_path / "c.npz"
    path.write_bytes(b"garbage")
    with pytest.raises(CheckpointError, match="corrupt"):
        read_checkpoint(path, {})
    assert path.read_bytes() == b"garbage"
    with pytest.raises(CheckpointError, match="no checkpoint"):
        read_checkpoint(tmp_path / "none.npz", {})
    with pytest.raises(ValueError, match="reserved"):
        write_checkpoint(tmp_path / "d.npz", {}, {"meta": np.zeros(1)})
