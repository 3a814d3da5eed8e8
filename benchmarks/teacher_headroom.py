"""How much a teacher could gain over margin on training tasks (issue 16, item 3: "first measure").

Before a policy imitates a teacher, the teacher must be worth imitating. This script runs, on
tasks drawn by :class:`activelab.learned.tasks.TaskSampler` from the training sources only
(never an evaluation set of ``benchmarks/learned_transfer.py``), with the task's proxy learner:

* ``margin`` (the reference: every other curve is measured against it on the same task, seed
  and initial set, so the comparison uses common random numbers);
* each **fixed action** alone (every round the same heuristic, e.g. ``badge`` or ``typiclust``);
* the **rollout teacher** over those actions: each round, for every action, a copy of the
  environment takes that action and then ``--horizon`` rounds of margin; the action whose copy
  ends with the most validation accuracy gained over margin's reference curve (summed over
  those rounds) is taken for real. Ties go to margin. This is the teacher a round-level policy
  anchored to margin would imitate (issue 16, items 2-3);
* optionally (``--switch FILE``) a trained **switch policy** (:mod:`activelab.learned.switch`),
  deciding from the environment's observation each round; give another ``--seed`` than its
  training's so that it meets other tasks;
* optionally (``--lookahead``) the **candidate-level look-ahead expert** of the shipped policy's
  training (``ALEnv.expert_scores``: one proxy refit per candidate per pick, the costliest).

The figure per run is ``Δ AUC``: the mean over the task's rounds of (accuracy − margin's
accuracy on the same task and seed), in percentage points; the curves share round 0 (the
initial set). The teacher chooses on the validation split, so its validation Δ is biased
upwards (it picks the luckiest branch); the **test** Δ, on a split nothing reads, is the
unbiased one and is printed first. Printed: per source, the mean Δ AUC of each runner with its
standard error and win/tie/loss against margin (|Δ| <= 0.05 pp is a tie), and which action
the rollout teacher took by the number of labels per class when it chose.

    python benchmarks/teacher_headroom.py --episodes 12 --horizon 2
    python benchmarks/teacher_headroom.py --episodes 4 --lookahead     # + the look-ahead expert
    python benchmarks/teacher_headroom.py --seed 1 --switch FILE.pt    # + a trained switch policy

Cost: the rollout teacher makes ``len(actions) × (horizon + 1)`` proxy fits per round; the
look-ahead expert ``K`` fits per pick.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from activelab.learned.env import ALEnv
from activelab.learned.policy_file import load_policy
from activelab.learned.switch import SwitchPolicy, env_anchor, teacher_values
from activelab.learned.tasks import TRAIN_SOURCES, Task, TaskSampler

#: The round-level actions: margin first (ties go to it), then the proven alternatives.
ACTIONS = ("margin", "badge", "typiclust", "probcover", "random")
TIE_PP = 0.05


def delta_auc(curve: list[float], reference: list[float]) -> float:
    """Mean over the rounds of (accuracy − reference accuracy), in percentage points.

    Both curves start at the same round 0; a curve shorter than the reference (the pool ran
    out) is compared on its own rounds.
    """
    n = min(len(curve), len(reference))
    if n == 0:
        raise ValueError("empty learning curve")
    return 100.0 * float(np.mean(np.asarray(curve[:n]) - np.asarray(reference[:n])))


Curves = tuple[list[float], list[float]]


def _heuristic_env(task: Task, actions: tuple[str, ...]) -> ALEnv:
    return ALEnv("heuristic", task=task, heuristics=actions, max_candidates=max(64, task.n_candidates))


def _play(env: ALEnv, seed: int, choose: Callable[[ALEnv, np.ndarray], int]) -> Curves:
    """One episode of ``env`` from ``reset(seed)``, each step's action from ``choose(env, obs)``.

    Returns the validation curve and the test accuracy at the same rounds (in pick mode a
    round ends after several steps).
    """
    obs, info = env.reset(seed=seed)
    test, done = [info["test_accuracy"]], False
    while not done:
        obs, _, done, _, info = env.step(choose(env, obs))
        if len(env.curve) > len(test):  # a round ended
            test.append(info["test_accuracy"])
    return env.curve, test


def run_fixed(task: Task, action: str, seed: int, actions: tuple[str, ...]) -> Curves:
    """The validation and test curves of ``action`` taken every round on ``task``."""
    a = actions.index(action)
    return _play(_heuristic_env(task, actions), seed, lambda env, obs: a)


def run_tcm(task: Task, seed: int, actions: tuple[str, ...]) -> Curves:
    """The curves of the TCM rule (TypiClust below 3 labels per class, then margin) on ``task``."""
    return _play(_heuristic_env(task, actions), seed, lambda env, obs: env_anchor(env, "tcm"))


def run_rollout_teacher(task: Task, seed: int, actions: tuple[str, ...], horizon: int,
                        anchor: str = "margin") -> tuple[Curves, list[tuple[float, str]]]:
    """The rollout teacher's curves and its choices as (labels per class when chosen, action).

    Each round :func:`~activelab.learned.switch.teacher_values` tries every action on a deep
    copy of the environment (its engine, model and random generator included, so the copies
    draw the same random numbers), followed by up to ``horizon`` rounds of the ``anchor`` rule,
    and the best action is taken. Strictly better only: a tie keeps the anchor's action.
    """
    choices: list[tuple[float, str]] = []

    def choose(env: ALEnv, obs: np.ndarray) -> int:
        assert env.engine is not None  # reset() built it
        values = teacher_values(env, horizon, anchor)
        best = env_anchor(env, anchor)
        for i in range(len(actions)):
            if values[i] > values[best] + 1e-12:
                best = i
        choices.append((env.engine.pool.n_labelled / task.n_classes, actions[best]))
        return best

    return _play(_heuristic_env(task, actions), seed, choose), choices


def run_lookahead(task: Task, seed: int) -> Curves:
    """The candidate-level look-ahead expert's curves (``ALEnv.expert_scores``' best pick, every pick)."""
    env = ALEnv("pick", task=task, max_candidates=max(64, task.n_candidates))
    return _play(env, seed, lambda env, obs: int(np.argmax(env.expert_scores())))


def run_switch(task: Task, seed: int, path: str) -> Curves:
    """The curves of a ``switch`` policy file deciding every round from the environment's observation."""
    policy = SwitchPolicy.from_state(load_policy(path)["state"])

    def choose(env: ALEnv, obs: np.ndarray) -> int:
        assert env.engine is not None  # reset() built it
        return policy.choose(obs, env.engine.pool.n_labelled, task.n_classes)

    return _play(_heuristic_env(task, policy.actions), seed, choose)


def _cell(v: np.ndarray) -> str:
    se = v.std(ddof=1) / np.sqrt(len(v)) if len(v) > 1 else float("nan")
    w, t, lo = int((v > TIE_PP).sum()), int((np.abs(v) <= TIE_PP).sum()), int((v < -TIE_PP).sum())
    return f"{v.mean():+.2f} ± {se:.2f} ({w}/{t}/{lo})"


def _bin(per_class: float) -> str:
    for hi, name in ((2, "< 2"), (5, "2-5"), (10, "5-10"), (20, "10-20")):
        if per_class < hi:
            return name
    return ">= 20"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--episodes", type=int, default=12, help="tasks drawn (one run of each runner per task)")
    parser.add_argument("--sources", default=",".join(TRAIN_SOURCES), help="training sources (TaskSampler)")
    parser.add_argument("--actions", default=",".join(ACTIONS), help="round-level actions; must include margin")
    parser.add_argument("--horizon", type=int, default=2, help="rounds of the anchor rule after the tried action")
    parser.add_argument("--anchor", default="margin", choices=("margin", "tcm"),
                        help="the rule the teacher's rollouts follow after the tried action (and keeps on ties)")
    parser.add_argument("--lookahead", action="store_true", help="also the candidate-level look-ahead expert")
    parser.add_argument("--switch", default=None,
                        help="also switch policy files, comma-separated (activelab policy train-switch); one file is "
                             "shown as 'switch', several by their file names")
    parser.add_argument("--no-teacher", action="store_true", help="skip the rollout teacher (the costliest runner)")
    parser.add_argument("--learners", default="logreg,mlp", help="proxy learners of the tasks (TaskSampler)")
    parser.add_argument("--protocol", default="random", choices=("random", "deployment"),
                        help="task protocol (TaskSampler): deployment is the declared evaluation's")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    actions = tuple(args.actions.split(","))
    if "margin" not in actions:
        raise SystemExit(f"error: --actions must include margin (the reference and the tie-break), got {args.actions!r}.")
    if args.horizon < 0:
        raise SystemExit(f"error: --horizon must be >= 0, got {args.horizon}.")
    sampler = TaskSampler(sources=tuple(args.sources.split(",")), learners=tuple(args.learners.split(",")), rounds=(6, 10),
                          protocol=args.protocol)
    rng = np.random.default_rng(args.seed)
    runners = ([] if args.no_teacher else ["teacher"]) + [a for a in actions if a != "margin"]
    runners += ["tcm"] if "typiclust" in actions else []
    runners += ["lookahead"] if args.lookahead else []
    switch_files = {}
    if args.switch:
        paths = args.switch.split(",")
        switch_files = {("switch" if len(paths) == 1 else Path(p).stem): p for p in paths}
    runners += list(switch_files)
    rows: list[dict[str, Any]] = []
    choices: Counter[tuple[str, str]] = Counter()
    t0 = time.perf_counter()
    for episode in range(args.episodes):
        task = sampler.sample(rng)
        seed = int(rng.integers(0, 2**31 - 1))
        reference = run_fixed(task, "margin", seed, actions)
        row: dict[str, Any] = {"source": task.name, "learner": task.learner, "C": task.n_classes,
                               "b": task.query_size, "initial": task.initial, "rounds": len(reference[0]) - 1}
        for name in runners:
            if name == "teacher":
                (val, test), taken = run_rollout_teacher(task, seed, actions, args.horizon, args.anchor)
                choices.update((_bin(pc), a) for pc, a in taken)
            elif name == "lookahead":
                val, test = run_lookahead(task, seed)
            elif name in switch_files:
                val, test = run_switch(task, seed, switch_files[name])
            elif name == "tcm":
                val, test = run_tcm(task, seed, actions)
            else:
                val, test = run_fixed(task, name, seed, actions)
            row[name] = delta_auc(test, reference[1])
            row[f"{name}_val"] = delta_auc(val, reference[0])
        rows.append(row)
        shown = "  ".join(f"{n} {row[n]:+.2f} (val {row[n + '_val']:+.2f})" for n in runners)
        print(f"[{episode + 1}/{args.episodes}] {task.name} ({task.learner}, C={task.n_classes}, b={task.query_size}, "
              f"initial {task.initial}): Δ AUC pp vs margin, test (validation): {shown}  "
              f"({time.perf_counter() - t0:.0f} s)", flush=True)

    for split, suffix in (("test", ""), ("validation", "_val")):
        print(f"\nΔ AUC over margin in pp on the {split} split (mean ± s.e.; W/T/L, tie |Δ| < {TIE_PP} pp), "
              f"{len(rows)} tasks, horizon {args.horizon}, actions {', '.join(actions)}:\n")
        print("| source | tasks | " + " | ".join(runners) + " |")
        print("|---|---|" + "---|" * len(runners))
        for g in sorted({r["source"] for r in rows}) + ["all"]:
            sel = [r for r in rows if g == "all" or r["source"] == g]
            print(f"| {g} | {len(sel)} | " + " | ".join(_cell(np.array([r[n + suffix] for r in sel])) for n in runners) + " |")
    print("\nThe teacher chooses on the validation split; the test split is what it would gain.")
    if args.no_teacher:
        print(f"\n{time.perf_counter() - t0:.0f} s in all")
        return
    print("\nThe rollout teacher's choices by labels per class when it chose (rounds):\n")
    bins = ["< 2", "2-5", "5-10", "10-20", ">= 20"]
    print("| labels per class | " + " | ".join(actions) + " |")
    print("|---|" + "---|" * len(actions))
    for b in bins:
        if any(choices[(b, a)] for a in actions):
            print(f"| {b} | " + " | ".join(str(choices[(b, a)]) for a in actions) + " |")
    print(f"\n{time.perf_counter() - t0:.0f} s in all")


if __name__ == "__main__":
    main()
