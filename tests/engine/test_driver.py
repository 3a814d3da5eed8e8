import pytest

from activelab.checks import CheckModel
from activelab.engine import Callback
from activelab.loop import ActiveLearner, Budget
from activelab.oracles import SimulatedOracle
from activelab.strategies import make


class Recorder(Callback):
    def __init__(self):
        self.events = []

    def on_run_start(self, learner):
        self.events.append("start")

    def on_round_start(self, learner, round_):
        self.events.append(f"r{round_}")

    def on_round_end(self, learner, record):
        self.events.append(f"e{record.round_}")
        return record.round_ < 1

    def on_run_end(self, learner):
        self.events.append("end")


def test_hooks_in_order_and_early_stop(tiny_blobs):
    X, y = tiny_blobs
    cb = Recorder()
    learner = ActiveLearner(CheckModel(3), make("margin"), SimulatedOracle(y), X, budget=Budget(10, 5, 40), callbacks=[cb])
    history = learner.run()
    assert cb.events == ["start", "r0", "e0", "r1", "e1", "end"]
    assert len(history) == 2 and not learner.done


def test_checkpoint_dir_must_be_a_directory(tiny_blobs, tmp_path):
    X, y = tiny_blobs
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ValueError, match="is not a directory"):
        ActiveLearner(CheckModel(3), make("margin"), SimulatedOracle(y), X, budget=Budget(10, 5, 40), checkpoint_dir=f)
    with pytest.raises(TypeError, match="callbacks must be Callback"):
        ActiveLearner(CheckModel(3), make("margin"), SimulatedOracle(y), X, budget=Budget(10, 5, 40), callbacks=[object()])
