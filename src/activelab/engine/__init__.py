"""The engine: the round as explicit steps, and what every driver shares.

- :mod:`.core`: :class:`Engine` (``propose`` / ``teach`` / ``refit`` / ``state_dict``).
- :mod:`.streams`: the table of random streams keyed by (seed, stream, round).
- :mod:`.records`: :class:`RoundRecord`, :class:`History`, :class:`Callback`.
- :mod:`.checkpoint`: atomic checkpoint files checked against the run.
- :mod:`.driver`: :class:`RoundLoop`, the base of the round-based drivers (``run()``, resume).

Drivers: :class:`activelab.loop.ActiveLearner` (simulation), :class:`activelab.learned.ALEnv`
(reinforcement learning), :class:`activelab.clustering.ActiveClusterer` (pair queries).
"""

from .checkpoint import CHECKPOINT_FILE, read_checkpoint, write_checkpoint, write_npz_atomic
from .core import ENGINE_FORMAT, OWN_INITIAL, Engine, OpenRound, input_features, own_initial_strategy, resolve_initial_strategy
from .driver import RoundLoop
from .records import COUNT_UNITS, Callback, History, RoundRecord
from .streams import STREAMS, StreamSpec, stream_key, stream_rng

__all__ = [
    "CHECKPOINT_FILE",
    "COUNT_UNITS",
    "ENGINE_FORMAT",
    "OWN_INITIAL",
    "STREAMS",
    "Callback",
    "Engine",
    "History",
    "OpenRound",
    "RoundLoop",
    "RoundRecord",
    "StreamSpec",
    "input_features",
    "own_initial_strategy",
    "read_checkpoint",
    "resolve_initial_strategy",
    "stream_key",
    "stream_rng",
    "write_checkpoint",
    "write_npz_atomic",
]
