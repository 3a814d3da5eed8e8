"""Policy files: the format shared by every kind of learned acquisition policy.

A policy file (``.pt``) is read with ``torch.load(weights_only=True)``, so loading runs no code.
It holds a dict: ``format`` (:data:`POLICY_FORMAT`), ``kind`` (one of :data:`POLICY_KINDS`),
``state`` (tensors and plain values) and ``metadata`` (training command, tasks, time). The
strategy that runs them is :class:`~activelab.learned.strategy.PolicyStrategy`.
"""

from __future__ import annotations

import os
import pickle
from pathlib import Path
from typing import Any

import torch

from ..errors import ActiveLabError

__all__ = ["DEFAULT_POLICY", "POLICY_FORMAT", "POLICY_KINDS", "load_policy", "save_policy"]

#: The policy shipped with the package.
DEFAULT_POLICY = Path(__file__).parent / "policies" / "default.pt"
POLICY_FORMAT = 1
#: Policy kinds: a candidate scorer (``pick``), feature weights (``weights``), a PPO choice of a
#: heuristic per round (``heuristic``), and the round-level switch anchored to margin (``switch``,
#: :mod:`activelab.learned.switch`).
POLICY_KINDS = ("pick", "weights", "heuristic", "switch")
_ENV = "ACTIVELAB_POLICY"


def save_policy(path: str | os.PathLike[str], kind: str, state: dict[str, Any], metadata: dict[str, Any]) -> Path:
    """Write a policy file (atomically); ``state`` holds tensors and plain values only."""
    if kind not in POLICY_KINDS:
        raise ValueError(f"kind must be one of {POLICY_KINDS}, got {kind!r}.")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    torch.save({"format": POLICY_FORMAT, "kind": kind, "state": state, "metadata": metadata}, tmp)
    os.replace(tmp, path)
    return path


def load_policy(path: str | os.PathLike[str] | None = None) -> dict[str, Any]:
    """Read a policy file (``None``: ``$ACTIVELAB_POLICY`` or the shipped default).

    Raises:
        FileNotFoundError: If the file does not exist.
        ActiveLabError: If it is not an activelab policy file of a known format.
    """
    if path is None:
        path = os.environ.get(_ENV) or DEFAULT_POLICY
    path = Path(path).expanduser()
    if not path.is_file():
        hint = " (retrain it with `activelab policy train --out FILE`)" if path == DEFAULT_POLICY else ""
        raise FileNotFoundError(f"policy file {path} does not exist{hint}.")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, OSError, EOFError, ValueError, pickle.UnpicklingError) as err:
        raise ActiveLabError(f"{path} is not a readable policy file ({type(err).__name__}: {err}).") from err
    if not isinstance(blob, dict) or blob.get("format") != POLICY_FORMAT or blob.get("kind") not in POLICY_KINDS:
        raise ActiveLabError(
            f"{path} is not an activelab policy file of format {POLICY_FORMAT}; train one with `activelab policy train`."
        )
    blob["path"] = str(path)
    return blob
