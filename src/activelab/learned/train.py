"""Training acquisition policies: DAgger from a one-step look-ahead expert, then (Maskable)PPO.

``pick`` mode (the shipped policy): DAgger iterations on :class:`~activelab.learned.env.ALEnv`
(iteration 0 rolls in with the expert = behaviour cloning; later iterations roll in with the
current policy and label every visited state with the expert's look-ahead scores); the scorer is
trained with a listwise cross-entropy towards ``softmax(expert_scores / temperature)``; then
``timesteps`` of MaskablePPO fine-tuning start from the cloned scorer (``timesteps=0``:
imitation only). ``weights`` and ``heuristic`` modes train SB3's PPO with an MLP policy for
``timesteps`` steps.

The episodes of each DAgger iteration are independent rollouts
(:mod:`activelab.learned.rollouts`): their seeds are drawn up front, and they run in this
process, in ``TrainConfig.workers`` processes or as Ray tasks (``backend="ray"``); only this
process trains and writes files. Workers and backend do not change the result: the same
configuration gives identical imitation data and weights on any of them. (This order of draws
is not that of the sequential collector that trained the shipped policy, so a seed now gives
other weights than it did then.)

Every random choice comes from ``TrainConfig.seed``; numpy/BLAS and torch run on one thread
(in each rollout worker too).
"""

from __future__ import annotations

import contextlib
import logging
import platform
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, cast

import numpy as np
import torch

from ..experiments.options import cli_fields, protocol_fields
from ..models.torch import torch_threads
from .env import ALEnv, WEIGHT_FEATURES
from .features import CANDIDATE_FEATURES, GLOBAL_FEATURES, N_FEATURES
from .rollouts import RolloutRunner, collect_expert_data
from .rollouts import _policy_action as _policy_action  # still importable from here (benchmarks/learned_ablation.py)
from .imitation import behaviour_clone
from .scorer import CandidateScorer
from .strategy import save_policy
from .config import TrainConfig

__all__ = ["TrainConfig", "behaviour_clone", "collect_expert_data", "train_policy"]

log = logging.getLogger(__name__)


def _execution_fields() -> tuple[str, ...]:
    """The options that only say where the work runs (not protocol): ``workers``, ``backend``, ``address``."""
    protocol = protocol_fields(TrainConfig)
    return tuple(f.name for f, _ in cli_fields(TrainConfig) if f.name not in protocol)


def _metadata(config: TrainConfig, seconds: float, extra: dict[str, Any]) -> dict[str, Any]:
    execution = _execution_fields()
    values = {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(config).items()}
    return {
        "config": {k: v for k, v in values.items() if k not in execution},
        "execution": {k: values[k] for k in execution},
        "reproduce": config.command,
        "train_seconds": round(seconds, 1),
        "candidate_features": list(CANDIDATE_FEATURES),
        "global_features": list(GLOBAL_FEATURES),
        "torch": str(torch.__version__),
        "python": platform.python_version(),
        **extra,
    }


def _train_pick(
    config: TrainConfig, rng: np.random.Generator, runner: RolloutRunner
) -> tuple[dict[str, Any], dict[str, Any]]:
    env = ALEnv("pick", sampler=config.sampler(), max_candidates=config.max_candidates)
    torch_gen_seed = int(rng.integers(0, 2**31 - 1))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(torch_gen_seed)
        scorer = CandidateScorer(N_FEATURES, config.hidden)
    all_obs: list[np.ndarray] = []
    all_scores: list[np.ndarray] = []
    history = []
    for it in range(config.dagger_iterations):
        beta = 1.0 if it == 0 else 0.5 ** it
        t = time.perf_counter()
        obs, scores, returns = collect_expert_data(
            env, config.episodes_per_iteration, rng, None if it == 0 else scorer, beta, config.expert_max_iter,
            runner=runner,
        )
        all_obs.append(obs)
        all_scores.append(scores)
        loss = behaviour_clone(
            scorer, np.concatenate(all_obs), np.concatenate(all_scores),
            epochs=config.epochs, temperature=config.temperature, rng=rng,
        )
        row = {
            "iteration": it, "beta": beta, "states": int(sum(len(o) for o in all_obs)),
            "rollin_return_mean": float(np.mean(returns)), "loss": loss, "seconds": round(time.perf_counter() - t, 1),
        }
        history.append(row)
        log.info("DAgger %s", row)
    runner.close()  # the rollout workers (or a Ray started for them) are not needed for PPO
    extra: dict[str, Any] = {"dagger": history}
    imitation_state = {k: v.clone() for k, v in scorer.state_dict().items()}
    extra["imitation_weights"] = imitation_state
    if config.timesteps:
        from sb3_contrib import MaskablePPO

        from .networks import MaskableEquivariantPolicy

        model = MaskablePPO(
            MaskableEquivariantPolicy, env, n_steps=256, batch_size=64, n_epochs=4, learning_rate=1e-4,
            ent_coef=0.0, gamma=1.0, seed=int(rng.integers(0, 2**31 - 1)), policy_kwargs={"hidden": config.hidden},
            device="cpu",
        )
        # model.policy is an instance of the policy class given above
        cast(MaskableEquivariantPolicy, model.policy).scorer.load_state_dict(scorer.state_dict())
        model.set_logger(quiet_sb3_logger())
        t = time.perf_counter()
        model.learn(config.timesteps)
        scorer.load_state_dict(cast(MaskableEquivariantPolicy, model.policy).scorer.state_dict())
        extra["ppo_seconds"] = round(time.perf_counter() - t, 1)
        log.info("MaskablePPO fine-tune: %d steps in %.0f s", config.timesteps, extra["ppo_seconds"])
    state = {"n_features": N_FEATURES, "hidden": config.hidden, "weights": scorer.state_dict()}
    return state, extra


def quiet_sb3_logger() -> Any:
    """An SB3 logger that writes nothing: SB3's default makes a ``/tmp/SB3-<time>`` folder per run.

    Progress is reported through :mod:`logging` instead.
    """
    from stable_baselines3.common.logger import Logger

    return Logger(folder=None, output_formats=[])


def _train_ppo(config: TrainConfig, rng: np.random.Generator) -> tuple[dict[str, Any], dict[str, Any]]:
    from stable_baselines3 import PPO

    env = ALEnv(config.mode, sampler=config.sampler(), max_candidates=config.max_candidates)
    net_arch = [64, 64]
    model = PPO(
        "MlpPolicy", env, n_steps=128, batch_size=32, n_epochs=4, learning_rate=3e-4, gamma=1.0,
        seed=int(rng.integers(0, 2**31 - 1)), policy_kwargs={"net_arch": net_arch}, device="cpu",
    )
    model.set_logger(quiet_sb3_logger())
    model.learn(config.timesteps)
    state: dict[str, Any] = {"net_arch": net_arch, "weights": model.policy.state_dict()}
    if config.mode == "weights":
        state["n_weights"] = len(WEIGHT_FEATURES) + 1
    else:
        state["heuristics"] = list(env.heuristics)
    return state, {}


def train_policy(config: TrainConfig, out: str | Path) -> Path:
    """Train a policy as configured and write it to ``out`` (a ``.pt`` policy file).

    In ``pick`` mode with ``timesteps > 0`` the imitation-only scorer (before RL fine-tuning) is
    also written, next to ``out`` as ``<stem>.imitation.pt``, for the imitation vs imitation+RL
    ablation. Returns the path written. Runs numpy/BLAS and torch on one thread.

    In ``pick`` mode the DAgger rollouts run where ``config.workers``, ``config.backend`` and
    ``config.address`` say (see :class:`~activelab.learned.rollouts.RolloutRunner`; Ray is
    imported and the address probed before any work); PPO runs in this process. The policy's
    metadata stores those three under ``execution``, apart from the recipe (``config``).

    Raises:
        ConfigError: For a missing Ray or an address where no cluster answers (before any work).
    """
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(config.seed)
    t = time.perf_counter()
    with contextlib.ExitStack() as stack:
        runner = None
        if config.mode == "pick":
            runner = stack.enter_context(RolloutRunner(config.workers, config.backend, config.address))
        stack.enter_context(threadpool_limits(1))
        stack.enter_context(torch_threads(1))
        state, extra = _train_pick(config, rng, runner) if runner is not None else _train_ppo(config, rng)
    imitation = extra.pop("imitation_weights", None)
    meta = _metadata(config, time.perf_counter() - t, extra)
    out = Path(out)
    if imitation is not None and config.timesteps:
        side = out.with_name(out.stem + ".imitation" + out.suffix)
        save_policy(side, "pick", dict(state, weights=imitation), dict(meta, stage="imitation only (before RL)"))
    return save_policy(out, config.mode, state, meta)
