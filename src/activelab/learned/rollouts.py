"""DAgger rollouts as independent episodes: in this process, in worker processes or as Ray tasks.

One episode of expert-data collection is a pure function of an :class:`EpisodeSpec`: the seed
of ``ALEnv.reset`` (which draws the task and every candidate set), the seed of the episode's
own generator of expert-vs-policy coin flips, the environment's settings, the current scorer's
weights (or ``None``: always the expert), ``beta`` and the expert's ``max_iter``.
:func:`collect_expert_data` draws both seeds of every episode of an iteration up front from the
trainer's generator, runs the episodes on a :class:`RolloutRunner` and concatenates their
results in episode order, so the imitation data do not depend on how many workers there are or
on the backend: ``workers=1``, ``workers=2`` and ``backend="ray"`` give identical arrays.

Each episode runs on one numpy/BLAS and one torch thread, on a fresh ``ALEnv`` built from the
spec (the reference curve is recomputed for it; with sampled tasks the cache rarely hit anyway).

This order of random draws differs from that of the sequential collector used before the
rollouts were parallel (one seed per episode drawn as each episode started, the coin flips
interleaved in the trainer's generator), so a seed now gives other imitation data and other
weights than it did then; the shipped policy was trained with that earlier collector.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..experiments.options import check_backend
from ..models.torch import torch_threads
from .env import ALEnv
from .features import N_FEATURES
from .scorer import CandidateScorer
from .tasks import Task, TaskSampler

if TYPE_CHECKING:
    from ..experiments.ray_backend import RayExecutor

__all__ = ["EpisodeSpec", "Rollout", "RolloutRunner", "collect_expert_data", "rollout_episode", "run_episode"]


def _policy_action(scorer: CandidateScorer, obs: np.ndarray, n_features: int = N_FEATURES) -> int:
    with torch.no_grad():
        x = torch.as_tensor(obs.reshape(1, -1, n_features))
        return int(torch.argmax(scorer(x)[0][0]))


@dataclass(frozen=True)
class EpisodeSpec:
    """Everything one rollout depends on (it is sent to the worker that runs it).

    Attributes:
        seed: Seed of ``ALEnv.reset`` (the task and every candidate draw).
        coin_seed: Seed of the episode's generator of expert-vs-policy coin flips.
        sampler: The environment's task sampler (unused when ``task`` is given).
        task: A fixed task instead of sampling one.
        max_candidates: ``K_max`` of the environment.
        reference: The strategy the reward is measured against.
        policy: The current scorer's ``state_dict`` (``None``: always follow the expert).
        beta: Probability of following the expert at each step (with a policy).
        expert_max_iter: See :meth:`ALEnv.expert_scores`.
    """

    seed: int
    coin_seed: int
    sampler: TaskSampler
    task: Task | None
    max_candidates: int
    reference: str
    policy: Mapping[str, torch.Tensor] | None
    beta: float
    expert_max_iter: int | None


@dataclass(frozen=True)
class Rollout:
    """One episode's imitation data.

    Attributes:
        obs: ``(steps, K_max·F)`` float32 observations.
        scores: ``(steps, K_max)`` the expert's look-ahead scores (−inf on masked candidates).
        episode_return: The episode's return.
    """

    obs: np.ndarray
    scores: np.ndarray
    episode_return: float


def run_episode(
    env: ALEnv, seed: int, coin: np.random.Generator, scorer: CandidateScorer | None, beta: float,
    expert_max_iter: int | None,
) -> Rollout:
    """Run one episode on ``env`` and label every visited state with the expert's scores.

    At each step the expert's action is taken when ``scorer`` is ``None`` or ``coin.random() <
    beta``, the scorer's otherwise. ``env.reset(seed=seed)`` restarts everything the episode
    reads, so the result does not depend on what ``env`` ran before. Cost: K look-ahead fits per
    step.
    """
    obs_list, score_list = [], []
    obs, _ = env.reset(seed=seed)
    done, total = False, 0.0
    while not done:
        scores = env.expert_scores(max_iter=expert_max_iter)
        obs_list.append(obs)
        score_list.append(scores)
        if scorer is None or coin.random() < beta:
            action = int(np.argmax(scores))
        else:
            action = _policy_action(scorer, obs)
        obs, reward, done, _, _ = env.step(action)
        total += reward
    return Rollout(np.asarray(obs_list, dtype=np.float32), np.asarray(score_list), float(total))


def rollout_episode(spec: EpisodeSpec) -> Rollout:
    """The rollout of ``spec``, on a fresh environment, one numpy/BLAS and one torch thread.

    A pure function of ``spec``: the same spec gives the same arrays in any process.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1), torch_threads(1):
        env = ALEnv("pick", sampler=spec.sampler, task=spec.task, max_candidates=spec.max_candidates,
                    reference=spec.reference)
        scorer = None
        if spec.policy is not None:
            hidden, n_features = spec.policy["row.0.weight"].shape
            with torch.random.fork_rng(devices=[]):  # its initial weights are replaced at once
                scorer = CandidateScorer(int(n_features), int(hidden))
            scorer.load_state_dict(spec.policy)
            scorer.eval()
        return run_episode(env, spec.seed, np.random.default_rng(spec.coin_seed), scorer, spec.beta, spec.expert_max_iter)


class RolloutRunner:
    """Where the episodes of :func:`collect_expert_data` run; the results never depend on it.

    ``backend="local"`` runs them in this process (``workers=1``) or in ``workers`` spawned
    processes that die with this one (:func:`~activelab.experiments.grid.worker_pool`, started
    at the first batch of more than one episode and kept until :meth:`close`). ``backend="ray"``
    runs one Ray task per episode (1 CPU, retried twice on an exception or a dead worker) on the
    cluster at ``address`` (``None``: a local Ray started at the first batch and shut down by
    :meth:`close`; a Ray this process already joined is used and left open); ``workers`` is then
    unused. Ray is imported, and ``address`` probed, here, before any work. Use it as a context
    manager, or call :meth:`close`.

    Raises:
        ConfigError: For an unknown backend, an address without ``backend="ray"``, a missing
            Ray (naming ``pip install 'activelab[ray]'``) or an address where no cluster answers.
        ValueError: If ``workers`` is not an int >= 1.
    """

    def __init__(self, workers: int = 1, backend: str = "local", address: str | None = None) -> None:
        check_backend(backend, address)
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 1:
            raise ValueError(f"workers must be an int >= 1, got {workers!r}.")
        self.workers = workers
        self.backend = backend
        self._ray_executor: RayExecutor | None = None
        if backend == "ray":
            from ..experiments.ray_backend import RayExecutor

            self._ray_executor = RayExecutor(address)
        self._stack = contextlib.ExitStack()
        self._pool: ProcessPoolExecutor | None = None
        self._ray: ModuleType | None = None

    def __enter__(self) -> RolloutRunner:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker processes, or leave Ray (shutting down a local Ray started here)."""
        self._stack.close()
        self._pool = None
        self._ray = None

    def map(self, specs: Sequence[EpisodeSpec]) -> list[Rollout]:
        """The rollouts of ``specs``, in their order."""
        if self._ray_executor is not None:
            return self._map_ray(specs, self._ray_executor)
        if self.workers == 1 or len(specs) <= 1:
            return [rollout_episode(spec) for spec in specs]
        if self._pool is None:
            from ..experiments.grid import worker_pool

            self._pool = worker_pool(min(self.workers, len(specs)), threads=1)
            self._stack.callback(self._pool.shutdown, wait=True, cancel_futures=True)
        futures: list[Future[Rollout]] = [self._pool.submit(rollout_episode, spec) for spec in specs]
        try:
            return [future.result() for future in futures]
        except BaseException:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
            raise

    def _map_ray(self, specs: Sequence[EpisodeSpec], executor: RayExecutor) -> list[Rollout]:
        if self._ray is None:
            self._ray = self._stack.enter_context(executor.connected())
        ray = self._ray
        task = ray.remote(num_cpus=executor.cpus_per_job, max_retries=executor.retries, retry_exceptions=True)(rollout_episode)
        refs: list[Any] = [task.options(name=f"activelab:rollout-{i}").remote(spec) for i, spec in enumerate(specs)]
        try:
            return list(ray.get(refs))
        except BaseException:
            for ref in refs:
                ray.cancel(ref, force=True)
            raise


def collect_expert_data(
    env: ALEnv,
    n_episodes: int,
    rng: np.random.Generator,
    scorer: CandidateScorer | None = None,
    beta: float = 1.0,
    expert_max_iter: int | None = None,
    *,
    runner: RolloutRunner | None = None,
) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """Roll in and label every visited state with the expert's look-ahead scores.

    The seeds of all ``n_episodes`` episodes (the reset seed and the coin-flip seed of each) are
    drawn from ``rng`` first; then each episode is :func:`rollout_episode` of its
    :class:`EpisodeSpec`, on a fresh environment with ``env``'s settings (its sampler or fixed
    task, ``max_candidates``, reference). The result is the same on any ``runner``.

    Args:
        env: A ``pick``-mode environment (a template: it is not stepped).
        n_episodes: Episodes to run.
        rng: Seeds the episodes (two integers drawn per episode).
        scorer: Current policy (None: always the expert); its weights are copied now.
        beta: Probability of following the expert at each step (with a scorer).
        expert_max_iter: See :meth:`ALEnv.expert_scores`.
        runner: Where the episodes run (default: one after another in this process).

    Returns:
        ``obs (n, K_max·F)`` float32, ``scores (n, K_max)`` (−inf on masked candidates) and the
        episode returns, in episode order. Cost: K look-ahead fits per step.
    """
    if env.mode != "pick":
        raise ValueError(f"collect_expert_data needs a pick-mode env, got mode {env.mode!r}.")
    if not isinstance(n_episodes, (int, np.integer)) or isinstance(n_episodes, bool) or n_episodes < 1:
        raise ValueError(f"n_episodes must be an int >= 1, got {n_episodes!r}.")
    if not 0.0 <= beta <= 1.0:
        raise ValueError(f"beta must lie in [0, 1], got {beta!r}.")
    seeds = rng.integers(0, 2**31 - 1, size=(int(n_episodes), 2))
    policy = None if scorer is None else {k: v.detach().clone() for k, v in scorer.state_dict().items()}
    specs = [
        EpisodeSpec(int(seed), int(coin), env.sampler, env.fixed_task, env.max_candidates, env.reference, policy,
                    float(beta), expert_max_iter)
        for seed, coin in seeds
    ]
    if runner is None:
        with RolloutRunner() as local:
            rollouts = local.map(specs)
    else:
        rollouts = runner.map(specs)
    obs = np.concatenate([r.obs for r in rollouts])
    scores = np.concatenate([r.scores for r in rollouts])
    return obs, scores, [r.episode_return for r in rollouts]
