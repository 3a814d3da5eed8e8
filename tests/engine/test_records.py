import numpy as np
import pytest

from activelab.engine import History, RoundRecord


def test_supervised_and_pair_records_round_trip():
    item = RoundRecord(2, 40, np.array([5, 9]), {"accuracy": 0.8}, {"fit": 0.1}, "budget: spent")
    pair = RoundRecord(1, 125, np.array([[0, 3], [2, 7]]), {"ari": 0.5}, {"solve": 0.2}, unit="n_queries")
    for record in (item, pair):
        back = RoundRecord.from_dict(record.to_dict())
        assert back.to_dict() == record.to_dict() and back.unit == record.unit
    assert pair.to_dict()["n_queries"] == 125 and "n_labelled" not in pair.to_dict()
    assert RoundRecord.from_dict(pair.to_dict()).queried.shape == (2, 2)


def test_no_alias_between_units():
    pair = RoundRecord(0, 10, np.empty((0, 2), dtype=np.int64), {}, {}, unit="n_queries")
    assert pair.n_queries == 10
    with pytest.raises(AttributeError, match="counts 'n_queries'"):
        _ = pair.n_labelled
    with pytest.raises(AttributeError, match="counts 'n_labelled'"):
        _ = RoundRecord(0, 10, np.array([1]), {}, {}).n_queries
    with pytest.raises(ValueError, match="unit must be one of"):
        RoundRecord(0, 1, np.array([1]), {}, {}, unit="pairs")


def test_history_rows_use_the_unit():
    h = History([RoundRecord(0, 10, np.array([1]), {"ari": 0.2}, {"solve": 1.0}, unit="n_queries"),
                 RoundRecord(1, 20, np.empty((0, 2), dtype=np.int64), {"ari": 0.6}, {"solve": 2.0}, unit="n_queries")])
    assert h.to_rows()[0] == {"round": 0, "n_queries": 10, "ari": 0.2, "seconds_solve": 1.0}
    assert h.column("n_queries").tolist() == [10, 20] and h.auc("ari") == pytest.approx(0.4)
