"""The registry knows no plugin: lazy "module:attribute" entries, register(), resolve()."""

import subprocess
import sys

import pytest

from activelab.checks import check_strategy
from activelab.strategies import STRATEGIES, make, register
from activelab.strategies.registry import resolve


def test_importing_the_registry_imports_no_family_module_or_plugin():
    code = (
        "import sys; import activelab.strategies.registry as r; "
        "print(sorted(m for m in sys.modules if m.startswith('activelab.strategies.') or m.startswith('activelab.learned') "
        "or m in ('gymnasium', 'stable_baselines3')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    # the package re-exports the basic classes (builtin); no family module, no plugin, no RL library
    assert out.strip() == "['activelab.strategies.base', 'activelab.strategies.builtin', 'activelab.strategies.registry']"


def test_a_users_strategy_registered_lazily(tmp_path, monkeypatch):
    (tmp_path / "my_plugin.py").write_text(
        "from activelab.strategies.builtin import RandomStrategy\n"
        "class Mine(RandomStrategy):\n"
        "    name = 'mine'\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    register("mine", "my_plugin:Mine", "a user's strategy")
    try:
        assert "my_plugin" not in sys.modules
        strategy = make("mine")
        assert type(strategy).__name__ == "Mine" and "my_plugin" in sys.modules
        check_strategy(strategy)
    finally:
        del STRATEGIES["mine"]


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        (("margin", lambda: None, "x"), ValueError, "already registered"),
        (("power_x", lambda: None, "x"), ValueError, "sampling prefix"),
        (("x", "no_colon", "x"), ValueError, "module:attribute"),
        (("x", 3, "x"), TypeError, "callable or a 'module:attribute'"),
    ],
)
def test_register_errors(args, error, match):
    with pytest.raises(error, match=match):
        register(*args)


def test_resolve_errors():
    with pytest.raises(ImportError, match="cannot load the strategy entry 'no_such_module:X'"):
        resolve("no_such_module:X")
    with pytest.raises(AttributeError, match="has no attribute 'Nope'"):
        resolve("activelab.strategies.builtin:Nope")
