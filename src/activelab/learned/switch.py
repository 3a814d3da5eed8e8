"""A round-level policy anchored to margin, trained on a rollout teacher (issue 16, items 2-3).

Each round the **switch policy** hands the whole batch to margin or to one proven alternative
(BADGE, TypiClust, ProbCover by default), and it leaves margin only where it expects to gain:

* **What it sees.** The round's summary observation of the ``heuristic`` mode (30 values:
  mean candidate features and the global regime features: labels per class, expected accuracy
  and its change, label entropy, labelled fraction, margin and entropy histograms).
* **What it predicts.** For each alternative ``a``, its *advantage* over margin: the rollout
  teacher's value of ``a`` minus that of margin (below). An ensemble of small networks
  (bootstrap resamples of the data, one seed each) predicts it.
* **How it decides.** It takes the alternative with the highest lower bound (ensemble mean
  minus one ensemble standard deviation) when that bound is above zero, and margin otherwise:
  where the members disagree, margin. The last layer of every member starts at zero, so an
  untrained policy predicts no advantage anywhere and reproduces margin exactly.
* **The teacher.** :func:`teacher_values`: from the current state, a deep copy of the
  environment (engine, model and random generator included: common random numbers) takes
  each action and then ``horizon`` rounds of margin; the value is the sum of its rewards,
  validation accuracy over margin's reference curve per round (:class:`ALEnv`). Only the
  validation split is read; the test split stays unused.
* **Roll-in.** States come from episodes that follow the teacher's best action with
  probability ``p_teacher`` each round and margin otherwise, so both the states margin visits
  and those a switching policy visits are in the data.

Cost: collection makes ``len(actions) x (horizon + 1)`` proxy fits per state (one per round of
each training task); the fit is ``members x epochs`` passes over the states. Selection adds one
forward pass of each member to the chosen heuristic's own cost.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..models.torch import torch_threads
from .env import ALEnv
from .features import N_FEATURES
from .policy_file import save_policy
from .tasks import TRAIN_SOURCES, TaskSampler

__all__ = [
    "SWITCH_ACTIONS",
    "AdvantageNet",
    "SwitchData",
    "SwitchTrainConfig",
    "collect_switch_data",
    "decide",
    "fit_switch",
    "teacher_values",
    "train_switch_policy",
]

log = logging.getLogger(__name__)

#: The default actions: margin first (the anchor), then the proven alternatives.
SWITCH_ACTIONS = ("margin", "badge", "typiclust", "probcover")


class AdvantageNet(nn.Module):
    """``(B, F) -> (B, A - 1)``: each alternative's predicted advantage over margin.

    Two hidden layers of ``hidden`` tanh units; the output layer starts at zero (weights and
    bias), so a new net predicts 0 for every alternative and the policy chooses margin.
    """

    def __init__(self, n_features: int, n_alternatives: int, hidden: int = 32) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_features, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh())
        self.head = nn.Linear(hidden, n_alternatives)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, F)`` observations to ``(B, A - 1)`` advantages."""
        out: torch.Tensor = self.head(self.body(x))
        return out


def decide(advantages: np.ndarray) -> int:
    """The action index from the members' predicted advantages ``(members, A - 1)``.

    0 (margin) unless some alternative's mean minus standard deviation over the members is
    above zero; then ``1 +`` the alternative with the highest such bound (the first on ties).

    Example:
        >>> decide(np.array([[0.0, 0.0], [0.0, 0.0]]))
        0
        >>> decide(np.array([[1.0, 3.0], [1.2, -1.0]]))     # the second is larger but unsure
        1
    """
    adv = np.asarray(advantages, dtype=np.float64)
    if adv.ndim != 2 or adv.shape[1] == 0:
        raise ValueError(f"advantages must be (members, alternatives) with at least one alternative, got {adv.shape}.")
    lower = adv.mean(axis=0) - (adv.std(axis=0) if len(adv) > 1 else 0.0)
    best = int(np.argmax(lower))
    return 1 + best if lower[best] > 0 else 0


def teacher_values(env: ALEnv, horizon: int) -> np.ndarray:
    """The rollout teacher's value of every action of ``env`` (heuristic mode) from its current state.

    For each action a deep copy of ``env`` takes it, then up to ``horizon`` rounds of margin
    (fewer when the budget ends); the value is the sum of the copy's rewards. ``env`` itself is
    not changed. Cost: ``len(actions) x (horizon + 1)`` rounds (proxy fits).

    Raises:
        ValueError: If ``env`` is not in heuristic mode or has no ``"margin"`` action.
    """
    if env.mode != "heuristic" or "margin" not in env.heuristics:
        raise ValueError(f"teacher_values needs a heuristic-mode ALEnv with a 'margin' action, got mode {env.mode!r} "
                         f"and actions {env.heuristics}.")
    margin = env.heuristics.index("margin")
    values = np.empty(len(env.heuristics))
    for i in range(len(env.heuristics)):
        branch = copy.deepcopy(env)
        _, total, end, _, _ = branch.step(i)
        for _ in range(horizon):
            if end:
                break
            _, reward, end, _, _ = branch.step(margin)
            total += reward
        values[i] = total
    return values


@dataclass
class SwitchData:
    """Teacher data: one row per visited state.

    Attributes:
        obs: ``(n, F)`` observations.
        values: ``(n, A)`` the teacher's value of every action (column 0: margin).
        task: ``(n,)`` index of the training task the state came from.
        per_class: ``(n,)`` labelled items per class at the state.
    """

    obs: np.ndarray
    values: np.ndarray
    task: np.ndarray
    per_class: np.ndarray

    @property
    def advantages(self) -> np.ndarray:
        """``(n, A - 1)`` each alternative's value minus margin's."""
        adv: np.ndarray = self.values[:, 1:] - self.values[:, :1]
        return adv


@dataclass(frozen=True)
class SwitchTrainConfig:
    """Settings of :func:`train_switch_policy` (every random choice comes from ``seed``).

    Attributes:
        seed: Seed of the task draws, the roll-in coin flips and the fits.
        tasks: Training tasks (episodes).
        horizon: Rounds of margin after the tried action in the teacher's rollouts.
        actions: Round-level actions; the first must be ``"margin"``.
        sources: Task sources (:class:`TaskSampler`); none may be an evaluation dataset.
        n_items: Rows per task before the split (:class:`TaskSampler`).
        rounds: Inclusive range of query rounds per task (:class:`TaskSampler`).
        p_teacher: Probability that the roll-in follows the teacher's best action in a round.
        members: Ensemble size.
        hidden: Hidden units per layer.
        epochs: Passes of each member over its bootstrap sample.
        lr: Adam's learning rate.
        weight_decay: Adam's weight decay.
    """

    seed: int = 0
    tasks: int = 60
    horizon: int = 2
    actions: tuple[str, ...] = SWITCH_ACTIONS
    sources: tuple[str, ...] = TRAIN_SOURCES
    n_items: int = 1000
    rounds: tuple[int, int] = (6, 14)
    p_teacher: float = 0.5
    members: int = 5
    hidden: int = 32
    epochs: int = 300
    lr: float = 3e-3
    weight_decay: float = 1e-4

    def __post_init__(self) -> None:
        if not self.actions or self.actions[0] != "margin" or len(set(self.actions)) != len(self.actions):
            raise ValueError(f"actions must start with 'margin' and hold no repeats, got {self.actions}.")
        if len(self.actions) < 2:
            raise ValueError("actions must hold margin and at least one alternative.")
        for name, value, low in (("tasks", self.tasks, 1), ("members", self.members, 1), ("hidden", self.hidden, 1),
                                 ("epochs", self.epochs, 1), ("horizon", self.horizon, 0)):
            if not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}.")
        if not 0.0 <= self.p_teacher <= 1.0:
            raise ValueError(f"p_teacher must lie in [0, 1], got {self.p_teacher}.")
        from ..strategies.registry import make

        for name in self.actions:
            make(name)  # an unknown name fails here (with its did-you-mean), before any work


def collect_switch_data(config: SwitchTrainConfig, rng: np.random.Generator) -> SwitchData:
    """Roll in on ``config.tasks`` sampled training tasks and record the teacher's values at every state."""
    sampler = TaskSampler(sources=config.sources, rounds=config.rounds, n_items=config.n_items)
    obs_rows: list[np.ndarray] = []
    value_rows: list[np.ndarray] = []
    task_rows: list[int] = []
    per_class: list[float] = []
    for t in range(config.tasks):
        task = sampler.sample(rng)
        env = ALEnv("heuristic", task=task, heuristics=config.actions, max_candidates=max(64, task.n_candidates))
        obs, _ = env.reset(seed=int(rng.integers(0, 2**31 - 1)))
        first, done = len(obs_rows), False
        while not done:
            assert env.engine is not None  # reset() built it
            values = teacher_values(env, config.horizon)
            obs_rows.append(obs)
            value_rows.append(values)
            task_rows.append(t)
            per_class.append(env.engine.pool.n_labelled / task.n_classes)
            best = int(np.argmax(values))  # first on ties: margin
            action = best if rng.random() < config.p_teacher else 0
            obs, _, done, _, _ = env.step(action)
        log.info("task %d/%d (%s, C=%d, b=%d): %d states", t + 1, config.tasks, task.name, task.n_classes,
                 task.query_size, len(obs_rows) - first)
    return SwitchData(
        np.asarray(obs_rows, dtype=np.float32), np.asarray(value_rows, dtype=np.float64),
        np.asarray(task_rows, dtype=np.int64), np.asarray(per_class, dtype=np.float64),
    )


def fit_switch(data: SwitchData, config: SwitchTrainConfig) -> list[AdvantageNet]:
    """Fit ``config.members`` nets to the advantages, each on a bootstrap resample of the *tasks*.

    Resampling whole tasks (not states) keeps a task's correlated rounds together, so the
    members' spread reflects how much the advantage varies between tasks. Mean squared error,
    full-batch Adam. Cost O(members x epochs x n x hidden x (F + hidden)).
    """
    x_all = torch.as_tensor(np.clip(data.obs, -1.0, 5.0), dtype=torch.float32)
    y_all = torch.as_tensor(data.advantages, dtype=torch.float32)
    tasks = np.unique(data.task)
    rng = np.random.default_rng(config.seed)
    members = []
    with torch_threads(1):
        for m in range(config.members):
            drawn = rng.choice(tasks, size=len(tasks), replace=True)
            rows = np.concatenate([np.flatnonzero(data.task == t) for t in drawn])
            torch.manual_seed(config.seed * 1000 + m)
            net = AdvantageNet(x_all.shape[1], y_all.shape[1], config.hidden)
            opt = torch.optim.Adam(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
            x, y = x_all[rows], y_all[rows]
            for _ in range(config.epochs):
                opt.zero_grad()
                loss = torch.mean((net(x) - y) ** 2)
                loss.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
                opt.step()
            net.eval()
            members.append(net)
    return members


def predict_advantages(members: list[AdvantageNet], obs: np.ndarray) -> np.ndarray:
    """``(members, A - 1)`` predicted advantages for one observation ``(F,)``."""
    x = torch.as_tensor(np.clip(np.asarray(obs, dtype=np.float32), -1.0, 5.0)).reshape(1, -1)
    with torch.no_grad():
        return np.stack([m(x)[0].numpy() for m in members]).astype(np.float64)


def switch_state(members: list[AdvantageNet], config: SwitchTrainConfig) -> dict[str, Any]:
    """The ``state`` of a ``switch`` policy file (tensors and plain values only)."""
    return {
        "actions": list(config.actions),
        "n_features": N_FEATURES,
        "hidden": config.hidden,
        "members": [m.state_dict() for m in members],
    }


def load_switch_members(state: dict[str, Any]) -> list[AdvantageNet]:
    """Rebuild the ensemble of a ``switch`` policy file's ``state``."""
    members = []
    for weights in state["members"]:
        net = AdvantageNet(int(state["n_features"]), len(state["actions"]) - 1, int(state["hidden"]))
        net.load_state_dict(weights)
        net.eval()
        members.append(net)
    return members


def train_switch_policy(config: SwitchTrainConfig, out: str | Path, *, command: str = "") -> Path:
    """Collect the teacher's data, fit the ensemble and write a ``switch`` policy file to ``out``."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(config.seed)
    with torch_threads(1):
        data = collect_switch_data(config, rng)
    t_collect = time.perf_counter() - t0
    members = fit_switch(data, config)
    adv = data.advantages
    metadata = {
        "command": command,
        "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(config).items()},
        "states": len(data.obs),
        "collect_seconds": round(t_collect, 1),
        "fit_seconds": round(time.perf_counter() - t0 - t_collect, 1),
        "teacher_best_counts": {a: int(c) for a, c in zip(
            config.actions, np.bincount(np.argmax(data.values, axis=1), minlength=len(config.actions)), strict=True)},
        "mean_advantage": {a: float(v) for a, v in zip(config.actions[1:], adv.mean(axis=0), strict=True)},
    }
    return save_policy(out, "switch", switch_state(members, config), metadata)
