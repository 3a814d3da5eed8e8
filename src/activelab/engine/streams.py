"""The table of random streams: every random choice of a run comes from one keyed generator.

A generator is ``np.random.default_rng([seed, stream])`` for choices made once per run, or
``np.random.default_rng([seed, stream, round])`` (plus a proposal counter for the second and
later proposals from the same model) for choices made every round. Nothing else seeds a
generator inside the drivers, so:

- a run resumed from a checkpoint draws exactly what the uninterrupted run draws (no generator
  state needs saving: the key is the seed, the stream and the round);
- two runs with the same seed share every stream they both use (the initial set, each round's
  model initialisation): strategies compared with the same seed are *paired*.

The streams, by driver:

=================  ======  =========  ======================================================
name               id      per round  what draws from it
=================  ======  =========  ======================================================
``initial``        0       yes        the initial labelled set (round 0)
``model``          1       yes        model initialisation, dropout and shuffling of a fit
``views``          2       yes        posterior draws (MC dropout masks) of the views
``strategy``       3       yes        the strategy's own draws
``stop``           7       no         stopping criteria (stop set, validation hold-out)
``subsample``      7       no         active clustering: the items drawn from a dataset
``pair_solve``     10      yes        active clustering: local-search restarts
``pair_select``    11      yes        active clustering: the pair strategy
``prior``          11      no         active clustering: the k-means partition of the prior
``pair_oracle``    12      yes        active clustering: the noisy oracle's answers
``encoder``        13      yes        active clustering: fine-tuning of a deep encoder prior
=================  ======  =========  ======================================================

``stop`` and ``subsample`` share a key but never the same run (supervised vs clustering).

NumPy's ``SeedSequence`` pads its entropy with zero words, so keys that differ only by trailing
zeros are the *same* stream: ``[seed, 0, 0]`` (the initial set) equals ``default_rng(seed)``, and
``[seed, 11]`` (``prior``) equals ``[seed, 11, 0]`` (``pair_select`` in round 0). Both
coincidences predate this table and are kept, because changing a key changes every result; a new
stream must take an id that no existing key reaches with trailing zeros
(``tests/engine/test_streams.py`` checks the table).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np

__all__ = ["STREAMS", "StreamSpec", "stream_key", "stream_rng"]


@dataclass(frozen=True)
class StreamSpec:
    """One row of the stream table: the stream's id and whether it is keyed by the round."""

    id: int
    per_round: bool
    use: str


#: name -> :class:`StreamSpec`; the only place where stream ids are written down.
STREAMS = MappingProxyType({
    "initial": StreamSpec(0, True, "initial labelled set"),
    "model": StreamSpec(1, True, "model initialisation, dropout, shuffling"),
    "views": StreamSpec(2, True, "posterior draws of the views"),
    "strategy": StreamSpec(3, True, "the strategy's draws"),
    "stop": StreamSpec(7, False, "stopping criteria"),
    "subsample": StreamSpec(7, False, "clustering: items drawn from a dataset"),
    "pair_solve": StreamSpec(10, True, "clustering: local-search restarts"),
    "pair_select": StreamSpec(11, True, "clustering: pair strategy"),
    "prior": StreamSpec(11, False, "clustering: k-means partition of the prior"),
    "pair_oracle": StreamSpec(12, True, "clustering: noisy oracle answers"),
    "encoder": StreamSpec(13, True, "clustering: encoder fine-tuning"),
})


def stream_key(seed: int, stream: str, round_: int | None = None, proposal: int = 0) -> list[int]:
    """The generator key of ``stream`` for run ``seed`` (and ``round_`` for per-round streams).

    ``proposal`` counts the proposals made from one model: the first (0) has the plain key
    ``[seed, id, round]``, later ones ``[seed, id, round, proposal]``.

    Raises:
        KeyError: For a stream name not in :data:`STREAMS`.
        ValueError: If a per-round stream gets no round, a per-run stream gets one, or the
            seed, round or proposal counter is negative.

    Example:
        >>> stream_key(3, "model", 2), stream_key(3, "strategy", 2, proposal=1), stream_key(3, "stop")
        ([3, 1, 2], [3, 3, 2, 1], [3, 7])
    """
    if stream not in STREAMS:
        raise KeyError(f"unknown stream {stream!r}; the streams are {', '.join(STREAMS)}.")
    spec = STREAMS[stream]
    if seed < 0 or proposal < 0 or (round_ is not None and round_ < 0):
        raise ValueError(f"seed, round and proposal must be >= 0, got {seed}, {round_}, {proposal}.")
    if spec.per_round != (round_ is not None):
        need = "needs a round" if spec.per_round else "is drawn once per run and takes no round"
        raise ValueError(f"stream {stream!r} {need}.")
    if not spec.per_round:
        return [int(seed), spec.id]
    key = [int(seed), spec.id, int(round_ or 0)]  # round_ is not None here (checked above)
    return key + [int(proposal)] if proposal else key


def stream_rng(seed: int, stream: str, round_: int | None = None, proposal: int = 0) -> np.random.Generator:
    """A fresh generator for :func:`stream_key` ``(seed, stream, round_, proposal)``.

    Example:
        >>> a = stream_rng(0, "strategy", 4).integers(1 << 30)
        >>> b = stream_rng(0, "strategy", 4).integers(1 << 30)
        >>> bool(a == b)
        True
    """
    return np.random.default_rng(stream_key(seed, stream, round_, proposal))
