"""SB3 policies built on the permutation-equivariant candidate scorer.

:class:`~activelab.learned.scorer.CandidateScorer` applies one shared network to every candidate row (DeepSets style:
row MLP, masked mean pooling, a second row layer that also reads the pooled context), so
permuting the candidates permutes the logits, and a scorer trained on K candidates runs on any
number. The SB3 policies replace the default ``Linear(latent, n_actions)`` action head (which
is not permutation-equivariant) by the scorer's per-candidate logits:

- :class:`EquivariantActorCriticPolicy` for ``PPO`` / ``A2C``;
- :class:`MaskableEquivariantPolicy` for sb3-contrib's ``MaskablePPO``;
- :class:`EquivariantDQNPolicy` for ``DQN`` (masked candidates get Q = −1e8 inside the network).

Observations are flat ``(batch, K·F)`` rows of K candidates whose column 0 is the validity flag (1 = may be
picked); invalid rows get logit −1e8 and are excluded from pooling. The value head reads the
pooled (mean and max) hidden representation.

Cost of a forward pass: O(batch · K · (F·H + H²)) time, O(batch · K · H) memory.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

import torch
from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy
from stable_baselines3.common.policies import ActorCriticPolicy
from stable_baselines3.dqn.policies import DQNPolicy, QNetwork
from torch import nn

from .features import N_FEATURES
from .scorer import CandidateScorer

__all__ = [
    "EquivariantActorCriticPolicy",
    "EquivariantDQNPolicy",
    "MaskableEquivariantPolicy",
]


if TYPE_CHECKING:  # the mixin is typed as the SB3 policy it is mixed into (at run time it derives from object)
    _PolicyBase = ActorCriticPolicy
else:
    _PolicyBase = object


def _n_candidates(space: Any, n_features: int) -> int:
    """K from a flat ``Box(K·F,)`` observation space."""
    shape = getattr(space, "shape", None)
    if shape is None or len(shape) != 1 or shape[0] % n_features:
        raise ValueError(
            f"equivariant policies need a flat Box(K*{n_features},) observation of candidate rows, got shape {shape}."
        )
    return int(shape[0] // n_features)


class _ScorerExtractor(nn.Module):
    """SB3 ``mlp_extractor``: flat features → (per-candidate logits, pooled value latent)."""

    def __init__(self, n_candidates: int, n_features: int, hidden: int) -> None:
        super().__init__()
        self.n_candidates = n_candidates
        self.n_features = n_features
        self.scorer = CandidateScorer(n_features, hidden)
        self.value = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.Tanh())
        self.latent_dim_pi = n_candidates
        self.latent_dim_vf = hidden

    def _rows(self, features: torch.Tensor) -> torch.Tensor:
        return features.reshape(features.shape[0], self.n_candidates, self.n_features)

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        logits, pooled = self.scorer(self._rows(features))
        return logits, self.value(pooled)

    def forward_actor(self, features: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.scorer(self._rows(features))[0]
        return logits

    def forward_critic(self, features: torch.Tensor) -> torch.Tensor:
        value: torch.Tensor = self.value(self.scorer(self._rows(features))[1])
        return value


class _EquivariantMixin(_PolicyBase):
    """Swaps SB3's MLP extractor and action head for the candidate scorer."""

    scorer_hidden: int
    scorer_features: int

    def _build_mlp_extractor(self) -> None:
        k = _n_candidates(self.observation_space, self.scorer_features)
        # SB3 types the extractor as its MlpExtractor; it only needs latent_dim_pi/vf and forward_actor/critic
        self.mlp_extractor = _ScorerExtractor(k, self.scorer_features, self.scorer_hidden)  # type: ignore[assignment]

    def _build(self, lr_schedule: Any) -> None:
        super()._build(lr_schedule)
        self.action_net = nn.Identity()
        # Rebuild the optimiser: the swapped-out Linear head's parameters must not be in it.
        # SB3 types optimizer_class as type[Optimizer], whose base __init__ has no lr
        self.optimizer = self.optimizer_class(
            self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs  # type: ignore[call-arg]
        )

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data["hidden"] = self.scorer_hidden
        data["n_features"] = self.scorer_features
        return data

    @property
    def scorer(self) -> CandidateScorer:
        """The shared candidate scorer (load behaviour-cloned weights into it)."""
        return cast(_ScorerExtractor, self.mlp_extractor).scorer  # _build_mlp_extractor put it there


class _QHead(nn.Module):
    def __init__(self, n_candidates: int, n_features: int, hidden: int) -> None:
        super().__init__()
        self.n_candidates, self.n_features = n_candidates, n_features
        self.scorer = CandidateScorer(n_features, hidden)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.scorer(features.reshape(features.shape[0], self.n_candidates, self.n_features))[0]
        return logits


class EquivariantActorCriticPolicy(_EquivariantMixin, ActorCriticPolicy):
    """``PPO``/``A2C`` policy over candidates (``policy_kwargs={"hidden": 64}``)."""

    def __init__(self, *args: Any, hidden: int = 64, n_features: int = N_FEATURES, **kwargs: Any) -> None:
        self.scorer_hidden = int(hidden)
        self.scorer_features = int(n_features)
        kwargs.setdefault("ortho_init", False)
        super().__init__(*args, **kwargs)


# The mixin is typed as an ActorCriticPolicy, whose methods sb3-contrib's policy redefines with
# other signatures; at run time the mixin derives from object and nothing clashes.
class MaskableEquivariantPolicy(_EquivariantMixin, MaskableActorCriticPolicy):  # type: ignore[misc]
    """``MaskablePPO`` policy over candidates (``policy_kwargs={"hidden": 64}``)."""

    def __init__(self, *args: Any, hidden: int = 64, n_features: int = N_FEATURES, **kwargs: Any) -> None:
        self.scorer_hidden = int(hidden)
        self.scorer_features = int(n_features)
        kwargs.setdefault("ortho_init", False)
        super().__init__(*args, **kwargs)


class _EquivariantQNetwork(QNetwork):
    def __init__(self, *args: Any, hidden: int = 64, n_features: int = N_FEATURES, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        k = _n_candidates(self.observation_space, n_features)
        # SB3 types q_net as the nn.Sequential it builds; any module mapping features to Q-values works
        self.q_net = _QHead(k, n_features, hidden)  # type: ignore[assignment]


class EquivariantDQNPolicy(DQNPolicy):
    """``DQN`` policy: Q(s, candidate) from the shared scorer; masked candidates get −1e8."""

    def __init__(self, *args: Any, hidden: int = 64, n_features: int = N_FEATURES, **kwargs: Any) -> None:
        self.scorer_hidden = int(hidden)
        self.scorer_features = int(n_features)
        super().__init__(*args, **kwargs)

    def make_q_net(self) -> QNetwork:
        """The Q-network (stable-baselines3 hook): the shared candidate scorer as its head."""
        net_args = self._update_features_extractor(self.net_args, features_extractor=None)
        return _EquivariantQNetwork(**net_args, hidden=self.scorer_hidden, n_features=self.scorer_features).to(self.device)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        data = super()._get_constructor_parameters()
        data["hidden"] = self.scorer_hidden
        data["n_features"] = self.scorer_features
        return data
