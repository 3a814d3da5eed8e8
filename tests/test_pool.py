import numpy as np
import pytest

from activelab.errors import CheckpointError
from activelab.pool import Pool


def test_add_labels_and_views():
    pool = Pool(10, n_classes=3)
    pool.add_labels([4, 2], [1, 0], round_=0)
    pool.add_labels(np.array([7]), np.array([2]), round_=1)
    assert pool.labelled_indices().tolist() == [2, 4, 7]
    assert pool.unlabelled_indices().tolist() == [0, 1, 3, 5, 6, 8, 9]
    assert pool.labelled_in_round(1).tolist() == [7]
    assert pool.labels[[2, 4, 7]].tolist() == [0, 1, 2]
    assert pool.n_labelled == 3 and pool.n_unlabelled == 7
    assert [(e.round_, e.index, e.label) for e in pool.events] == [(0, 4, 1), (0, 2, 0), (1, 7, 2)]


def test_skip_removes_from_candidates_and_logs():
    pool = Pool(5)
    pool.skip([1], round_=0)
    assert 1 not in pool.unlabelled_indices()
    assert pool.events[-1].label == -1
    with pytest.raises(ValueError, match="skipped"):
        pool.add_labels([1], [0], round_=1)


@pytest.mark.parametrize(
    ("indices", "labels", "exc", "match"),
    [
        ([3, 3], [0, 1], ValueError, "duplicates"),
        ([10], [0], IndexError, "outside the pool"),
        ([-1], [0], IndexError, "outside the pool"),
        ([1, 2], [0], ValueError, "got 2 indices"),
        ([1], [5], ValueError, "outside the classes"),
        ([1.5], [0], TypeError, "integers"),
    ],
)
def test_bad_input_changes_nothing(indices, labels, exc, match):
    pool = Pool(10, n_classes=3)
    pool.add_labels([0], [0], round_=0)
    before = pool.state_dict()
    with pytest.raises(exc, match=match):
        pool.add_labels(indices, labels, round_=1)
    after = pool.state_dict()
    for key in ("label_round", "labels", "skipped", "event_index"):
        np.testing.assert_array_equal(before[key], after[key])


def test_relabel_rejected():
    pool = Pool(4, n_classes=2)
    pool.add_labels([1], [0], round_=0)
    with pytest.raises(ValueError, match="already labelled"):
        pool.add_labels([1], [1], round_=1)


def test_state_dict_round_trip():
    pool = Pool(6, n_classes=2)
    pool.add_labels([0, 5], [1, 0], round_=0)
    pool.skip([3], round_=1)
    other = Pool(6)
    other.load_state_dict(pool.state_dict())
    assert other.labelled_indices().tolist() == [0, 5]
    assert other.skipped.tolist() == pool.skipped.tolist()
    assert other.events == pool.events
    assert other.n_classes == 2


def test_state_dict_mismatch_is_clear():
    pool = Pool(6)
    with pytest.raises(CheckpointError, match="6 items"):
        Pool(7).load_state_dict(pool.state_dict())
    state = pool.state_dict()
    del state["labels"]
    with pytest.raises(CheckpointError, match="incomplete or corrupt"):
        Pool(6).load_state_dict(state)


def test_copy_is_independent():
    pool = Pool(3)
    twin = pool.copy()
    twin.add_labels([0], [0], round_=0)
    assert pool.n_labelled == 0 and twin.n_labelled == 1


def test_bad_size():
    with pytest.raises(ValueError, match="positive int"):
        Pool(0)
