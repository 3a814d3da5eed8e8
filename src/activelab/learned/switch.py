"""A round-level policy anchored to a proven rule, trained on a rollout teacher (issue 16, items 2-3).

Each round the **switch policy** hands the whole batch to one of a few proven heuristics
(margin, BADGE, TypiClust, ProbCover by default). It follows its **anchor** rule unless it
expects to gain by leaving it:

* **The anchor.** ``"margin"``: margin every round. ``"tcm"``: the TCM rule (TypiClust while
  fewer than ``switch_per_class`` labels per class are known, margin from then on), and
  TypiClust also picks the first batch from zero labels (the policy's ``cold_start``).

* **What it sees.** The round's summary observation of the ``heuristic`` mode (30 values:
  mean candidate features and the global regime features: labels per class, expected accuracy
  and its change, label entropy, labelled fraction, margin and entropy histograms).
* **What it predicts.** For each action ``a``, its *advantage* over the anchor's action in
  that state: the rollout teacher's value of ``a`` minus that of the anchor's action (below).
  An ensemble of small networks (bootstrap resamples of the tasks, one seed each) predicts it.
* **How it decides.** It takes the action with the highest lower bound (ensemble mean minus
  one ensemble standard deviation) when that bound is above zero, and the anchor's action
  otherwise: where the members disagree, the anchor. The last layer of every member starts at
  zero, so an untrained policy predicts no advantage anywhere and reproduces its anchor exactly
  (margin, or TCM).
* **The teacher.** :func:`teacher_values`: from the current state, a deep copy of the
  environment (engine, model and random generator included: common random numbers) takes
  each action and then ``horizon`` rounds of the anchor rule; the value is the sum of its
  rewards, validation accuracy over margin's reference curve per round (:class:`ALEnv`). Only
  the validation split is read; the test split stays unused.
* **Roll-in.** States come from episodes that follow the teacher's best action with
  probability ``p_teacher`` each round and the anchor otherwise, so both the states the anchor
  visits and those a switching policy visits are in the data.

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
from ..strategies.switching import TCMStrategy, tcm_phase
from .env import ALEnv
from .features import N_FEATURES
from .policy_file import save_policy
from .proxy import PROXIES
from .tasks import EVALUATION_SETS, PROTOCOLS, TRAIN_SOURCES, TaskSampler

__all__ = [
    "ANCHORS",
    "SWITCH_ACTIONS",
    "AdvantageNet",
    "anchor_action",
    "SwitchData",
    "SwitchPolicy",
    "SwitchTrainConfig",
    "collect_switch_data",
    "decide",
    "env_anchor",
    "fit_switch",
    "teacher_values",
    "train_switch_policy",
]

log = logging.getLogger(__name__)

#: The default actions: margin first, then the proven alternatives.
SWITCH_ACTIONS = ("margin", "badge", "typiclust", "probcover")

#: The rules a switch policy falls back to (module docstring).
ANCHORS = ("margin", "tcm")

#: TCM's switch point in labels per class: the default of ``make("tcm")``.
TCM_SWITCH_PER_CLASS = float(TCMStrategy.switch_per_class)


def anchor_action(actions: tuple[str, ...], anchor: str, n_labelled: int, n_classes: int,
                  switch_per_class: float = TCM_SWITCH_PER_CLASS) -> int:
    """Index in ``actions`` of the anchor rule's heuristic for a round that starts with ``n_labelled`` labels.

    ``"margin"``: margin. ``"tcm"``: TypiClust while ``n_labelled < switch_per_class x
    n_classes``, margin from then on (the rule of ``make("tcm")``).

    Raises:
        ValueError: For an unknown anchor, or an anchor whose heuristics are not in ``actions``.

    Example:
        >>> acts = ("margin", "badge", "typiclust")
        >>> anchor_action(acts, "tcm", 10, 5), anchor_action(acts, "tcm", 15, 5), anchor_action(acts, "margin", 0, 5)
        (2, 0, 0)
    """
    if anchor not in ANCHORS:
        raise ValueError(f"anchor must be one of {ANCHORS}, got {anchor!r}.")
    needed = ("margin", "typiclust") if anchor == "tcm" else ("margin",)
    missing = [h for h in needed if h not in actions]
    if missing:
        raise ValueError(f"the {anchor!r} anchor needs the action(s) {missing} among the actions {tuple(actions)}.")
    low = anchor == "tcm" and tcm_phase(n_labelled, n_classes, switch_per_class) == "low"
    return actions.index("typiclust" if low else "margin")


class AdvantageNet(nn.Module):
    """``(B, F) -> (B, A)``: each action's predicted advantage over the anchor's action.

    Two hidden layers of ``hidden`` tanh units; the output layer starts at zero (weights and
    bias), so a new net predicts 0 for every action and the policy follows its anchor.
    """

    def __init__(self, n_features: int, n_actions: int, hidden: int = 32) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_features, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh())
        self.head = nn.Linear(hidden, n_actions)
        nn.init.zeros_(self.head.weight)
        nn.init.zeros_(self.head.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, F)`` observations to ``(B, A)`` advantages."""
        out: torch.Tensor = self.head(self.body(x))
        return out


def decide(advantages: np.ndarray, anchor: int = 0, caution: float = 1.0) -> int:
    """The action index from the members' predicted advantages ``(members, A)`` over the anchor's action.

    ``anchor`` (the anchor rule's action in this state) unless some other action's mean minus
    ``caution`` standard deviations over the members is above zero; then the action with the
    highest such bound (the first on ties). The anchor's own column is ignored (its advantage
    is 0). ``caution=0`` follows the ensemble's mean.

    Example:
        >>> decide(np.zeros((2, 3)))
        0
        >>> decide(np.array([[0.0, 1.0, 3.0], [0.0, 1.2, -1.0]]))     # the last is larger but unsure
        1
        >>> decide(np.array([[0.0, -1.0, 0.0]]), anchor=2)
        2
    """
    adv = np.asarray(advantages, dtype=np.float64)
    if adv.ndim != 2 or adv.shape[1] < 2:
        raise ValueError(f"advantages must be (members, actions) with at least two actions, got {adv.shape}.")
    if not 0 <= anchor < adv.shape[1]:
        raise ValueError(f"anchor must index one of the {adv.shape[1]} actions, got {anchor}.")
    if not caution >= 0:
        raise ValueError(f"caution must be a number of standard deviations >= 0, got {caution!r}.")
    lower = adv.mean(axis=0) - caution * (adv.std(axis=0) if len(adv) > 1 else 0.0)
    lower[anchor] = 0.0
    best = int(np.argmax(lower))
    return best if lower[best] > 0 else int(anchor)


def env_anchor(env: ALEnv, anchor: str) -> int:
    """The anchor rule's action for ``env``'s current round (:func:`anchor_action`)."""
    if env.engine is None or env.task is None:
        raise RuntimeError("call reset() before asking for the anchor's action.")
    return anchor_action(env.heuristics, anchor, env.engine.pool.n_labelled, env.task.n_classes)


def teacher_values(env: ALEnv, horizon: int, anchor: str = "margin") -> np.ndarray:
    """The rollout teacher's value of every action of ``env`` (heuristic mode) from its current state.

    For each action a deep copy of ``env`` takes it, then up to ``horizon`` rounds of the
    ``anchor`` rule (fewer when the budget ends); the value is the sum of the copy's rewards.
    ``env`` itself is not changed. Cost: ``len(actions) x (horizon + 1)`` rounds (proxy fits).

    Raises:
        ValueError: If ``env`` is not in heuristic mode or lacks the anchor's actions.
    """
    if env.mode != "heuristic" or "margin" not in env.heuristics:
        raise ValueError(f"teacher_values needs a heuristic-mode ALEnv with a 'margin' action, got mode {env.mode!r} "
                         f"and actions {env.heuristics}.")
    env_anchor(env, anchor)  # the anchor's actions are there, before any rollout
    values = np.empty(len(env.heuristics))
    for i in range(len(env.heuristics)):
        branch = copy.deepcopy(env)
        _, total, end, _, _ = branch.step(i)
        for _ in range(horizon):
            if end:
                break
            _, reward, end, _, _ = branch.step(env_anchor(branch, anchor))
            total += reward
        values[i] = total
    return values


@dataclass
class SwitchData:
    """Teacher data: one row per visited state.

    Attributes:
        obs: ``(n, F)`` observations.
        values: ``(n, A)`` the teacher's value of every action.
        task: ``(n,)`` index of the training task the state came from.
        per_class: ``(n,)`` labelled items per class at the state.
        anchor: ``(n,)`` the anchor rule's action at the state (``None``: action 0 everywhere).
    """

    obs: np.ndarray
    values: np.ndarray
    task: np.ndarray
    per_class: np.ndarray
    anchor: np.ndarray | None = None

    @property
    def advantages(self) -> np.ndarray:
        """``(n, A)`` each action's value minus that of the anchor's action (0 in the anchor's column)."""
        anchor = np.zeros(len(self.values), dtype=np.int64) if self.anchor is None else self.anchor
        adv: np.ndarray = self.values - self.values[np.arange(len(self.values)), anchor][:, None]
        return adv


@dataclass(frozen=True)
class SwitchTrainConfig:
    """Settings of :func:`train_switch_policy` (every random choice comes from ``seed``).

    Attributes:
        seed: Seed of the task draws, the roll-in coin flips and the fits.
        tasks: Training tasks (episodes).
        horizon: Rounds of the anchor rule after the tried action in the teacher's rollouts.
        actions: Round-level actions; the first must be ``"margin"``.
        anchor: The rule the policy falls back to (:data:`ANCHORS`); ``"tcm"`` needs ``"typiclust"``.
        caution: Ensemble standard deviations subtracted from the mean advantage before it must
            be above zero to leave the anchor (:func:`decide`); stored in the policy file.
        sources: Task sources (:class:`TaskSampler`); none may be an evaluation dataset.
        learners: Proxy learner families of the tasks (:class:`TaskSampler`).
        protocol: ``"random"`` or ``"deployment"`` tasks (:class:`TaskSampler`).
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
    anchor: str = "margin"
    caution: float = 1.0
    sources: tuple[str, ...] = TRAIN_SOURCES
    learners: tuple[str, ...] = ("logreg", "mlp")
    protocol: str = "random"
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
        anchor_action(self.actions, self.anchor, 0, 2)  # a known anchor whose actions are there
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {self.protocol!r}.")
        if not self.learners or any(name not in PROXIES for name in self.learners):
            raise ValueError(f"learners must be a non-empty subset of {tuple(PROXIES)}, got {self.learners}.")
        if not self.sources:
            raise ValueError("sources is empty; give at least one training source, e.g. ('generated',).")
        held_out = [s for s in self.sources if s in EVALUATION_SETS]
        if held_out:
            raise ValueError(f"sources {held_out} are evaluation sets of benchmarks/learned_transfer.py; train on "
                             f"other data (e.g. {', '.join(TRAIN_SOURCES)}, wine, iris).")
        for name, value, low in (("tasks", self.tasks, 1), ("members", self.members, 1), ("hidden", self.hidden, 1),
                                 ("epochs", self.epochs, 1), ("horizon", self.horizon, 0)):
            if not isinstance(value, int) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}.")
        if isinstance(self.caution, bool) or not isinstance(self.caution, (int, float)) or not self.caution >= 0:
            raise ValueError(f"caution must be a number of standard deviations >= 0, got {self.caution!r}.")
        if not 0.0 <= self.p_teacher <= 1.0:
            raise ValueError(f"p_teacher must lie in [0, 1], got {self.p_teacher}.")
        from ..strategies.registry import make

        for name in self.actions:
            make(name)  # an unknown name fails here (with its did-you-mean), before any work


def collect_switch_data(config: SwitchTrainConfig, rng: np.random.Generator) -> SwitchData:
    """Roll in on ``config.tasks`` sampled training tasks and record the teacher's values at every state."""
    sampler = TaskSampler(sources=config.sources, learners=config.learners, rounds=config.rounds,
                          n_items=config.n_items, protocol=config.protocol)
    obs_rows: list[np.ndarray] = []
    value_rows: list[np.ndarray] = []
    task_rows: list[int] = []
    anchors: list[int] = []
    per_class: list[float] = []
    for t in range(config.tasks):
        task = sampler.sample(rng)
        env = ALEnv("heuristic", task=task, heuristics=config.actions, max_candidates=max(64, task.n_candidates))
        obs, _ = env.reset(seed=int(rng.integers(0, 2**31 - 1)))
        first, done = len(obs_rows), False
        while not done:
            assert env.engine is not None  # reset() built it
            values = teacher_values(env, config.horizon, config.anchor)
            here = env_anchor(env, config.anchor)
            obs_rows.append(obs)
            value_rows.append(values)
            task_rows.append(t)
            anchors.append(here)
            per_class.append(env.engine.pool.n_labelled / task.n_classes)
            best = int(np.argmax(values))  # first on ties
            action = best if rng.random() < config.p_teacher else here
            obs, _, done, _, _ = env.step(action)
        log.info("task %d/%d (%s, C=%d, b=%d): %d states", t + 1, config.tasks, task.name, task.n_classes,
                 task.query_size, len(obs_rows) - first)
    return SwitchData(
        np.asarray(obs_rows, dtype=np.float32), np.asarray(value_rows, dtype=np.float64),
        np.asarray(task_rows, dtype=np.int64), np.asarray(per_class, dtype=np.float64),
        np.asarray(anchors, dtype=np.int64),
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
    """``(members, A)`` predicted advantages over the anchor's action for one observation ``(F,)``."""
    x = torch.as_tensor(np.clip(np.asarray(obs, dtype=np.float32), -1.0, 5.0)).reshape(1, -1)
    with torch.no_grad():
        return np.stack([m(x)[0].numpy() for m in members]).astype(np.float64)


def switch_state(members: list[AdvantageNet], config: SwitchTrainConfig) -> dict[str, Any]:
    """The ``state`` of a ``switch`` policy file (tensors and plain values only)."""
    return {
        "actions": list(config.actions),
        "anchor": config.anchor,
        "caution": float(config.caution),
        "switch_per_class": TCM_SWITCH_PER_CLASS,
        "n_features": N_FEATURES,
        "hidden": config.hidden,
        "members": [m.state_dict() for m in members],
    }


def load_switch_members(state: dict[str, Any]) -> list[AdvantageNet]:
    """Rebuild the ensemble of a ``switch`` policy file's ``state``.

    Files written before the anchor existed (no ``"anchor"`` key) predict the ``A - 1``
    alternatives' advantages over margin; their heads gain a zero row for margin itself, so
    every ensemble predicts all ``A`` actions.
    """
    n_actions = len(state["actions"])
    members = []
    for weights in state["members"]:
        net = AdvantageNet(int(state["n_features"]), n_actions, int(state["hidden"]))
        if "anchor" not in state:  # margin-anchored file: prepend margin's zero advantage
            weights = dict(weights)
            w, b = weights["head.weight"], weights["head.bias"]
            weights["head.weight"] = torch.cat([torch.zeros_like(w[:1]), w])
            weights["head.bias"] = torch.cat([torch.zeros_like(b[:1]), b])
        net.load_state_dict(weights)
        net.eval()
        members.append(net)
    return members


@dataclass(frozen=True)
class SwitchPolicy:
    """A ``switch`` policy file's decision rule: its ensemble, actions, anchor and caution.

    Built by :meth:`from_state`, the one reader of a file's ``state`` (files written before the
    anchor existed are margin-anchored with caution 1); :class:`~activelab.learned.strategy.
    PolicyStrategy` and the benchmarks decide through :meth:`choose`.
    """

    actions: tuple[str, ...]
    members: list[AdvantageNet]
    anchor: str = "margin"
    caution: float = 1.0
    switch_per_class: float = TCM_SWITCH_PER_CLASS

    @classmethod
    def from_state(cls, state: dict[str, Any]) -> SwitchPolicy:
        """The rule of a ``switch`` file's ``state``."""
        return cls(tuple(state["actions"]), load_switch_members(state), str(state.get("anchor", "margin")),
                   float(state.get("caution", 1.0)), float(state.get("switch_per_class", TCM_SWITCH_PER_CLASS)))

    def choose(self, obs: np.ndarray, n_labelled: int, n_classes: int) -> int:
        """The action index for a round that starts with ``n_labelled`` labels and observation ``obs``."""
        here = anchor_action(self.actions, self.anchor, n_labelled, n_classes, self.switch_per_class)
        return decide(predict_advantages(self.members, obs), here, self.caution)


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
        "mean_advantage": {a: float(v) for a, v in zip(config.actions, adv.mean(axis=0), strict=True)},
        "anchor_counts": {a: int(c) for a, c in zip(
            config.actions, np.bincount(np.asarray(data.anchor), minlength=len(config.actions)), strict=True)},
    }
    return save_policy(out, "switch", switch_state(members, config), metadata)
