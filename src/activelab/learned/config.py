"""``TrainConfig``: the settings of policy training, each declared once (``activelab policy train`` is built from it).

Light on purpose: importing it needs neither gymnasium nor stable-baselines3, so the command line
can show ``activelab policy train --help`` without the ``rl`` extra.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..experiments.options import names, option
from .tasks import TRAIN_SOURCES, TaskSampler

__all__ = ["TrainConfig"]


@dataclass(frozen=True)
class TrainConfig:
    """Settings of :func:`train_policy` (all of them are stored in the policy file).

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
        command: The command line that produced the policy (for the metadata).
    """

    mode: str = option("pick", help="Action mode: pick, weights or heuristic.")
    timesteps: int = option(30000, help="RL steps (pick: MaskablePPO after imitation, 0 = imitation only).")
    dagger_iterations: int = option(3, help="DAgger iterations (pick mode; the first is behaviour cloning).")
    episodes_per_iteration: int = option(8, help="Episodes per DAgger iteration (pick mode).", flags=("--episodes",))
    max_candidates: int = option(32, help="Candidates per round shown to the policy (K_max).")
    hidden: int = option(64, help="Width of the candidate scorer.")
    epochs: int = option(40, help="Imitation training epochs after each DAgger iteration.")
    temperature: float = option(0.01, help="Softness of the expert targets (validation-accuracy units).")
    expert_max_iter: int = option(15, help="Optimiser iterations of the expert's look-ahead fits.")
    sources: tuple[str, ...] = option(
        TRAIN_SOURCES, help="Training task sources, comma-separated (never the held-out evaluation datasets).",
        cli_type=str, parse=names("--sources"), to_cli=",".join,
    )
    n_items: int = option(800, help="Rows per training task.")
    seed: int = option(0, help="Root seed.")
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

    def sampler(self) -> TaskSampler:
        """The training task sampler."""
        return TaskSampler(
            sources=self.sources, max_candidates=self.max_candidates, n_items=self.n_items,
            query_sizes=tuple(b for b in (1, 2, 4, 5, 8, 10) if b <= self.max_candidates),
        )
