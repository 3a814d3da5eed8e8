"""Meta-validation and ablations of learned acquisition policies on training-distribution tasks (issue 4).

Everything here runs on fresh tasks from the *training* distribution (``TrainConfig().sampler()``,
episode seeds 100000, 100001, ...; the policy was trained on other seeds), never on the held-out
evaluation datasets of ``learned_transfer.py``: it is the place to choose and diagnose policies
without tuning on held-out data.

The score of a policy is its episode return in ``ALEnv``: the validation learning-curve AUC minus
margin's on the same task, initial set and learner seeds, in percentage points (positive = better
than margin). Tasks are paired across variants; the table gives mean ± standard error, wins over
margin (return > 0), and the paired Wilcoxon p-value against the shipped policy.

Variants:

- ``policy``: the policy file (default: the shipped one), greedy picks;
- ``-GROUP``: the same policy with one feature group made uninformative at inference: candidate
  columns are permuted among the valid candidates of each observation (the values stay in
  distribution, their link to the candidate is cut); the global columns are replaced by their
  mean over the full policy's observations. Groups: ``FEATURE_GROUPS`` below;
- ``random``: a uniformly random valid candidate; ``min-gap``: the candidate with the smallest
  top-2 gap (margin sampling restricted to the round's candidates);
- ``--extra FILE[:LABEL]``: more policy files of any mode (pick, weights, heuristic) run in their
  own mode on the same tasks, e.g. the imitation-only scorer that ``activelab policy train``
  writes beside the policy (``<stem>.imitation.pt``), or PPO policies of the other action modes.

    python benchmarks/learned_ablation.py --tasks 30 --workers 2
    python benchmarks/learned_ablation.py --tasks 30 --extra /tmp/p.imitation.pt:imitation-only
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from activelab.learned.features import CANDIDATE_FEATURES, GLOBAL_FEATURES, N_CAND, N_FEATURES

#: Feature groups of the pick-mode observation (column names of activelab.learned.features).
FEATURE_GROUPS = {
    "uncertainty": ("top1", "gap", "entropy", "bald", "margin_rank", "entropy_rank", "bald_rank"),
    "diversity": ("dist_labelled", "dist_picked", "coreset_rank", "badge_rank"),
    "density": ("sparsity", "density_rank"),
    "class-balance": ("class_share", "pending_same_class"),
    "global": GLOBAL_FEATURES,
}
TASK_SEED0 = 100_000
MAX_CANDIDATES = 32


def _columns(group: str) -> np.ndarray:
    if group == "global":
        return np.arange(N_CAND, N_FEATURES)
    return np.array([CANDIDATE_FEATURES.index(name) for name in FEATURE_GROUPS[group]])


def _episode(env, seed: int, choose) -> tuple[float, list[np.ndarray]]:  # type: ignore[no-untyped-def]
    """Return of one episode on task ``seed`` with ``choose(obs, env) -> action``; also the observations' global rows."""
    obs, _ = env.reset(seed=seed)
    total, done, globs = 0.0, False, []
    while not done:
        if env.mode == "pick":
            globs.append(obs.reshape(-1, N_FEATURES)[0, N_CAND:].copy())
        obs, reward, done, _, _ = env.step(choose(obs, env))
        total += reward
    return total, globs


def _scorer_choice(strategy, ablate=None):  # type: ignore[no-untyped-def]
    """``choose(obs, env)`` of a pick-mode policy; ``ablate(x)`` edits the ``(K, F)`` observation first."""
    from activelab.learned.train import _policy_action

    def choose(obs: np.ndarray, env) -> int:  # type: ignore[no-untyped-def]
        x = obs.reshape(-1, N_FEATURES).copy()
        if ablate is not None:
            ablate(x)
        return _policy_action(strategy._scorer, x)

    return choose


def _permute(cols: np.ndarray, rng: np.random.Generator):  # type: ignore[no-untyped-def]
    """Ablation: permute columns ``cols`` among the valid candidate rows."""

    def ablate(x: np.ndarray) -> None:
        valid = np.flatnonzero(x[:, 0] > 0.5)
        x[np.ix_(valid, cols)] = x[np.ix_(rng.permutation(valid), cols)]

    return ablate


def _constant(cols: np.ndarray, values: np.ndarray):  # type: ignore[no-untyped-def]
    """Ablation: replace columns ``cols`` of the valid rows by ``values`` (padding rows stay 0)."""

    def ablate(x: np.ndarray) -> None:
        x[:, cols] = np.where(x[:, :1] > 0.5, values, 0.0)

    return ablate


def _worker_setup(policy_path: str):  # type: ignore[no-untyped-def]
    """One torch thread, the training task sampler's envs (one per mode) and the pick-mode policy."""
    import torch

    from activelab.learned.env import ALEnv
    from activelab.learned.strategy import PolicyStrategy
    from activelab.learned.train import TrainConfig

    torch.set_num_threads(1)
    sampler = TrainConfig(max_candidates=MAX_CANDIDATES).sampler()
    envs = {mode: ALEnv(mode, sampler=sampler, max_candidates=MAX_CANDIDATES) for mode in ("pick", "weights", "heuristic")}
    shipped = PolicyStrategy(path=policy_path)
    if shipped.kind != "pick":
        raise SystemExit(f"{policy_path} is a {shipped.kind}-mode policy; the ablations need a pick-mode one.")
    return envs, shipped


def run_task(args: tuple[int, str, list[tuple[str, str]]]) -> dict[str, float]:
    """All variants but ``-global`` on task ``TASK_SEED0 + i`` (one process; the margin reference curve is cached)."""
    from threadpoolctl import threadpool_limits

    from activelab.learned.strategy import PolicyStrategy

    i, policy_path, extras = args
    seed = TASK_SEED0 + i
    envs, shipped = _worker_setup(policy_path)
    out: dict[str, float] = {}
    with threadpool_limits(1):
        t = time.perf_counter()
        out["policy"], globs = _episode(envs["pick"], seed, _scorer_choice(shipped))
        out["_global_sum"] = np.sum(globs, axis=0) if globs else np.zeros(N_FEATURES - N_CAND)  # type: ignore[assignment]
        out["_global_n"] = len(globs)
        out["_seconds_policy"] = time.perf_counter() - t
        for g, group in enumerate(FEATURE_GROUPS):
            if group == "global":
                continue  # needs the mean global row over all tasks: second pass, _global_only
            choose = _scorer_choice(shipped, _permute(_columns(group), np.random.default_rng([seed, g])))
            out[f"-{group}"], _ = _episode(envs["pick"], seed, choose)
        rng = np.random.default_rng([seed, 99])
        out["random"], _ = _episode(envs["pick"], seed, lambda obs, env: int(rng.choice(np.flatnonzero(env.action_masks()))))
        gap = CANDIDATE_FEATURES.index("gap")

        def min_gap(obs: np.ndarray, env) -> int:  # type: ignore[no-untyped-def]
            x = obs.reshape(-1, N_FEATURES)
            return int(np.argmin(np.where(env.action_masks(), x[:, gap], np.inf)))

        out["min-gap"], _ = _episode(envs["pick"], seed, min_gap)
        for path, label in extras:
            strategy = PolicyStrategy(path=path)
            if strategy.kind == "pick":
                out[label], _ = _episode(envs["pick"], seed, _scorer_choice(strategy))
            else:
                choose = lambda obs, env, s=strategy: s._actor.predict(obs, deterministic=True)[0]  # noqa: E731
                out[label], _ = _episode(envs[strategy.kind], seed, choose)
    return out


def _global_only(args: tuple[int, str, np.ndarray]) -> float:
    """The ``-global`` ablation on one task (needs the mean global row of pass 1)."""
    from threadpoolctl import threadpool_limits

    i, policy_path, global_mean = args
    envs, shipped = _worker_setup(policy_path)
    with threadpool_limits(1):
        choose = _scorer_choice(shipped, _constant(_columns("global"), global_mean))
        return _episode(envs["pick"], TASK_SEED0 + i, choose)[0]


def main() -> None:
    from scipy.stats import wilcoxon

    from activelab.learned.strategy import DEFAULT_POLICY

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tasks", type=int, default=30, help="training-distribution tasks (episode seeds 100000, ...)")
    p.add_argument("--policy", default=str(DEFAULT_POLICY), help="pick-mode policy file (default: the shipped one)")
    p.add_argument("--extra", action="append", default=[], help="FILE[:LABEL] another policy file to score (repeatable)")
    p.add_argument("--workers", type=int, default=1)
    args = p.parse_args()
    if args.tasks < 2:
        p.error(f"--tasks must be >= 2, got {args.tasks}")
    if args.workers < 1:
        p.error(f"--workers must be >= 1, got {args.workers}")
    if not Path(args.policy).is_file():
        p.error(f"--policy {args.policy}: no such file (train one with `activelab policy train --out FILE`)")
    extras = []
    for item in args.extra:
        path, _, label = item.partition(":")
        if not Path(path).is_file():
            p.error(f"--extra {path}: no such file")
        extras.append((path, label or Path(path).stem))
    t0 = time.perf_counter()
    # Pass 1: the full policy and the candidate-group ablations; it also yields the mean global row.
    jobs = [(i, args.policy, extras) for i in range(args.tasks)]
    with ProcessPoolExecutor(max_workers=args.workers) as ex:
        first = list(ex.map(run_task, jobs))
        global_mean = sum(r["_global_sum"] for r in first) / max(1, sum(r["_global_n"] for r in first))
        second = list(ex.map(_global_only, [(i, args.policy, global_mean) for i in range(args.tasks)]))
    for r, g in zip(first, second, strict=True):
        r["-global"] = g
    names = [k for k in first[0] if not k.startswith("_")]
    names.insert(names.index("random"), names.pop(names.index("-global")))
    R = {k: np.array([r[k] for r in first]) for k in names}
    print(f"tasks: {args.tasks} (training distribution, episode seeds {TASK_SEED0}-{TASK_SEED0 + args.tasks - 1}); "
          f"policy: {args.policy}; wall time {time.perf_counter() - t0:.0f} s; "
          f"policy episode {np.mean([r['_seconds_policy'] for r in first]):.1f} s on average")
    print()
    print("| variant | return vs margin, pp (mean ± se) | wins over margin | Δ vs policy | Wilcoxon p vs policy |")
    print("|---|---|---|---|---|")
    for k in names:
        v = R[k]
        se = v.std(ddof=1) / np.sqrt(len(v))
        d = v - R["policy"]
        pv = "—" if k == "policy" or not np.any(np.abs(d) > 1e-12) else f"{wilcoxon(d).pvalue:.3g}"
        delta = "—" if k == "policy" else f"{d.mean():+.3f}"
        print(f"| {k} | {v.mean():+.3f} ± {se:.3f} | {(v > 0).sum()}/{len(v)} | {delta} | {pv} |")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
