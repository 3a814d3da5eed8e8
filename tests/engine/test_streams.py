import numpy as np
import pytest

from activelab.engine import STREAMS, stream_key, stream_rng


def test_the_table_keys_are_distinct_where_they_can_meet():
    supervised = ("initial", "model", "views", "strategy", "stop")
    clustering = ("subsample", "pair_solve", "pair_select", "prior", "pair_oracle", "encoder")
    for group in (supervised, clustering):
        keys = [(STREAMS[n].id, STREAMS[n].per_round) for n in group]
        assert len(set(keys)) == len(keys)


def test_keys_match_the_historical_layout():
    # these keys fix today's learning curves: changing one changes every result
    assert stream_key(3, "initial", 0) == [3, 0, 0]
    assert stream_key(3, "model", 5) == [3, 1, 5]
    assert stream_key(3, "views", 5) == [3, 2, 5]
    assert stream_key(3, "strategy", 5) == [3, 3, 5]
    assert stream_key(3, "stop") == [3, 7]
    assert stream_key(3, "strategy", 5, proposal=2) == [3, 3, 5, 2]
    assert stream_rng(3, "model", 5).integers(1 << 30) == np.random.default_rng([3, 1, 5]).integers(1 << 30)


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((0, "modle", 1), KeyError, "unknown stream 'modle'"),
        ((0, "model"), ValueError, "needs a round"),
        ((0, "stop", 1), ValueError, "takes no round"),
        ((-1, "model", 1), ValueError, ">= 0"),
    ],
)
def test_errors(args, error, match):
    with pytest.raises(error, match=match):
        stream_key(*args)


def _draw(key):
    return np.random.default_rng(key).integers(1 << 62, size=4).tolist()


def test_the_only_coinciding_streams_are_the_documented_ones():
    """SeedSequence pads with zeros: list every pair of table keys (rounds 0-2) that give one stream."""
    keys = {}
    for name, spec in STREAMS.items():
        for r in ((0, 1, 2) if spec.per_round else (None,)):
            keys[(name, r)] = _draw(stream_key(5, name, r))
    same = sorted(
        (a, b) for a in keys for b in keys if a < b and keys[a] == keys[b]
    )
    assert same == [(("pair_select", 0), ("prior", None)), (("stop", None), ("subsample", None))]
    assert keys[("initial", 0)] == _draw(5)  # the initial set's stream is default_rng(seed)
