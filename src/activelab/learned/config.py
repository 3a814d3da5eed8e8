"""``TrainConfig``: the settings of policy training, each declared once (``activelab policy train`` is built from it).

Light on purpose: importing it needs neither gymnasium nor stable-baselines3, so the command line
can show ``activelab policy train --help`` without the ``rl`` extra.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..experiments.options import address_option, backend_option, check_backend, names, option
from .tasks import TRAIN_SOURCES, TaskSampler

__all__ = ["TrainConfig"]


@dataclass(frozen=True)
class TrainConfig:
    """Settings of :func:`train_policy` (all of them are stored in the policy file).

    The recipe, the fields that determine the weights, is the set declared ``protocol=True``;
    ``workers``, ``backend`` and ``address`` only say where the DAgger rollouts run (the same
    configuration gives identical weights on any of them) and are stored apart, under
    ``metadata["execution"]``.

    Attributes:
        mode: ``"pick"``, ``"weights"`` or ``"heuristic"``.
        timesteps: RL environment steps (after imitation in ``pick`` mode; 0 = imitation only); the
            default is the shipped policy's recipe.
        dagger_iterations: DAgger iterations (``pick``; the first is behaviour cloning).
        episodes_per_iteration: Episodes collected per DAgger iteration.
        max_candidates: ``K_max`` of the environment.
        hidden: Width of the candidate scorer.
        epochs: Imitation training epochs after each iteration.
        temperature: Softness of the expert targets (in validation-accuracy units).
        expert_max_iter: Optimiser iterations of the expert's look-ahead fits.
        sources: Training task sources (never the held-out evaluation datasets).
        n_items: Rows per training task.
        seed: Root seed.
        workers: Rollout worker processes of the local backend (1 = this process); ``pick``
            mode's DAgger episodes run in parallel, PPO in this process.
        backend: Where the rollouts run: ``"local"`` (``workers`` processes here) or ``"ray"``
            (one Ray task per episode, see :class:`~activelab.learned.rollouts.RolloutRunner`).
        address: With ``backend="ray"``: the cluster (``"host:port"``, ``"ray://host:port"``
            or ``"auto"``); ``None`` starts a local Ray for the rollouts.
        command: The command line that produced the policy (for the metadata).

    Raises:
        ValueError: For an unknown mode, a count below 1, a temperature <= 0, or workers that is
            not an int >= 1.
        ConfigError: For an unknown backend or a malformed address, or an address without
            ``backend="ray"`` (no connection is made here).
    """

    mode: str = option("pick", help="Action mode: pick, weights or heuristic.", protocol=True)
    timesteps: int = option(30000, help="RL steps (pick: MaskablePPO after imitation, 0 = imitation only).", protocol=True)
    dagger_iterations: int = option(3, help="DAgger iterations (pick mode; the first is behaviour cloning).", protocol=True)
    episodes_per_iteration: int = option(
        8, help="Episodes per DAgger iteration (pick mode).", flags=("--episodes",), protocol=True
    )
    max_candidates: int = option(32, help="Candidates per round shown to the policy (K_max).", protocol=True)
    hidden: int = option(64, help="Width of the candidate scorer.", protocol=True)
    epochs: int = option(40, help="Imitation training epochs after each DAgger iteration.", protocol=True)
    temperature: float = option(0.01, help="Softness of the expert targets (validation-accuracy units).", protocol=True)
    expert_max_iter: int = option(15, help="Optimiser iterations of the expert's look-ahead fits.", protocol=True)
    sources: tuple[str, ...] = option(
        TRAIN_SOURCES, help="Training task sources, comma-separated (never the held-out evaluation datasets).",
        cli_type=str, parse=names("--sources"), to_cli=",".join, protocol=True,
    )
    n_items: int = option(800, help="Rows per training task.", protocol=True)
    seed: int = option(0, help="Root seed.", protocol=True)
    workers: int = option(1, help="Rollout worker processes (--backend local; pick mode's DAgger episodes).")
    backend: str = backend_option(
        help="Where the DAgger rollouts run: local (--workers processes on this machine) or ray (one Ray task per "
        "episode; needs pip install 'activelab[ray]'). The weights are the same on either."
    )
    address: str | None = address_option()
    command: str = option("", help="The command line that produced the policy (metadata).", cli=False)

    def __post_init__(self) -> None:
        if self.mode not in ("pick", "weights", "heuristic"):
            raise ValueError(f"mode must be pick, weights or heuristic, got {self.mode!r}.")
        if self.timesteps < 0:
            raise ValueError(f"timesteps must be >= 0, got {self.timesteps}.")
        if self.mode != "pick" and self.timesteps == 0:
            raise ValueError(f"mode {self.mode!r} is trained by PPO only; give --timesteps > 0.")
        for name in ("dagger_iterations", "episodes_per_iteration", "max_candidates", "hidden", "epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}.")
        if not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}.")
        if not isinstance(self.workers, int) or isinstance(self.workers, bool) or self.workers < 1:
            raise ValueError(f"workers (--workers) must be an int >= 1, got {self.workers!r}.")
        check_backend(self.backend, self.address)

    def sampler(self) -> TaskSampler:
        """The training task sampler."""
        return TaskSampler(
            sources=self.sources, max_candidates=self.max_candidates, n_items=self.n_items,
            query_sizes=tuple(b for b in (1, 2, 4, 5, 8, 10) if b <= self.max_candidates),
        )
