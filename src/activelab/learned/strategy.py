"""A trained acquisition policy as an ordinary strategy (``strategies.make("policy")``).

The strategy computes the same features as :class:`~activelab.learned.env.ALEnv` from the
:class:`~activelab.models.base.Views` of any model that provides probabilities and embeddings
(``TorchClassifier``, the proxies), so a policy trained on proxy learners runs with deep models.

Policy files (``.pt``, read with ``torch.load(weights_only=True)``, so loading runs no code)
hold a dict: ``format``, ``kind`` (one of :data:`POLICY_KINDS`), the network
weights and a ``metadata`` dict (training command, tasks, time). The default policy ships in
``activelab/learned/policies/default.pt``; the environment variable ``ACTIVELAB_POLICY`` names
another default file (used by ``activelab policy evaluate`` so that worker processes see it).
"""

from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch

from .._validation import check_k
from ..models.base import Views
from ..pool import Pool
from .features import N_FEATURES, RoundFeatures, global_features, sample_candidates, summary_observation, weighted_greedy
from .policy_file import DEFAULT_POLICY, POLICY_FORMAT, POLICY_KINDS, load_policy, save_policy
from .scorer import CandidateScorer

__all__ = ["DEFAULT_POLICY", "POLICY_FORMAT", "POLICY_KINDS", "PolicyStrategy", "load_policy", "save_policy"]

def _actor_critic(state: dict[str, Any], n_actions: int | None, box_dim: int | None) -> Any:
    """Rebuild an SB3 ``ActorCriticPolicy`` (weights / heuristic modes) from its state dict."""
    from gymnasium import spaces
    from stable_baselines3.common.policies import ActorCriticPolicy

    obs = spaces.Box(-1.0, 5.0, (N_FEATURES,), np.float32)
    act: spaces.Space[Any]
    if n_actions is not None:
        act = spaces.Discrete(n_actions)
    elif box_dim is not None:
        act = spaces.Box(-1.0, 1.0, (box_dim,), np.float32)
    else:
        raise TypeError("_actor_critic needs n_actions (heuristic mode) or box_dim (weights mode).")
    policy = ActorCriticPolicy(obs, act, lambda _: 0.0, net_arch=list(state["net_arch"]))
    policy.load_state_dict(state["weights"])
    policy.set_training_mode(False)
    return policy


@dataclass
class PolicyStrategy:
    """Select with a trained acquisition policy.

    Args:
        path: Policy file (``None``: ``$ACTIVELAB_POLICY`` or the shipped default).
        n_candidates: Candidates shown to the policy per round (at least ``2·k`` are used, at
            most the unlabelled count): half top-margin, half uniform, as in training.

    Cost per call (N unlabelled, K candidates, k picks): O(N·C) for the pool statistics and the
    candidate draw, O(K·(L + 256)·D) for the distances, then k forward passes of the scorer over
    K rows, O(k·K·H·(F + H)). Needs ``probs`` and ``embeddings`` (labelled rows included).

    The feature "change of the expected accuracy since the last round" is read from earlier
    calls with fewer labelled items (0 in the first call), so ``select`` stays a function of its
    arguments for a given sequence of rounds (same views, pool and ``rng`` → same result). That
    memory is the strategy's state: :meth:`state_dict` / :meth:`load_state_dict` carry it through
    a checkpoint, so a resumed run proposes what the uninterrupted one does.

    Example:
        >>> PolicyStrategy().needs
        ('probs', 'embeddings')
    """

    path: str | os.PathLike[str] | None = None
    n_candidates: int = 64
    name: str = "policy"
    needs: tuple[str, ...] = ("probs", "embeddings")
    needs_labelled: ClassVar[bool] = True
    n_draws: int = 0
    _blob: dict[str, Any] = field(init=False, repr=False)
    _history: dict[int, float] = field(init=False, repr=False, default_factory=dict)
    #: The heuristic of the last round (``heuristic`` and ``switch`` kinds; ``None`` before one).
    last_action: str | None = field(init=False, repr=False, default=None)

    def __post_init__(self) -> None:
        if self.n_candidates < 2:
            raise ValueError(f"n_candidates must be >= 2, got {self.n_candidates}.")
        self._blob = load_policy(self.path)
        state = self._blob["state"]
        kind = self._blob["kind"]
        self.kind = kind
        if kind == "pick":
            self._scorer = CandidateScorer(int(state["n_features"]), int(state["hidden"]))
            self._scorer.load_state_dict(state["weights"])
            self._scorer.eval()
        elif kind == "weights":
            self._actor = _actor_critic(state, None, int(state["n_weights"]))
        elif kind == "switch":
            from ..strategies.registry import make
            from .switch import SwitchPolicy

            self._switch = SwitchPolicy.from_state(state)
            self.heuristics = self._switch.actions
            self._heuristics = [make(h) for h in self.heuristics]
            self.anchor = self._switch.anchor
        else:
            from ..strategies.registry import make

            self.heuristics = tuple(state["heuristics"])
            self._heuristics = [make(h) for h in self.heuristics]
            self._actor = _actor_critic(state, len(self.heuristics), None)

    def state_dict(self) -> dict[str, Any]:
        """The expected accuracy seen at each labelled count so far (the only state across rounds)."""
        return {"history": {int(n): float(v) for n, v in self._history.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict` output."""
        self._history = {int(n): float(v) for n, v in state["history"].items()}

    @property
    def cold_start(self) -> Any:
        """The first batch from zero labels (``initial_strategy="own"``): TypiClust for a switch
        policy anchored to TCM, ``None`` (the engine's uniform draw) for every other policy.
        """
        if self.kind == "switch" and self.anchor == "tcm":
            return self._heuristics[self.heuristics.index("typiclust")]
        return None

    @property
    def policy_path(self) -> str:
        """The policy file that was loaded."""
        return str(self._blob["path"])

    @property
    def metadata(self) -> dict[str, Any]:
        """The policy file's metadata (training command, sources, timings)."""
        return dict(self._blob.get("metadata", {}))

    def _features(self, views: Views, pool: Pool, k: int, rng: np.random.Generator) -> tuple[RoundFeatures, np.ndarray]:
        rows = views.candidates
        probs = views.require("probs")
        emb = views.require("embeddings")
        probs_unl = probs[rows]
        lab_rows = np.flatnonzero(views.labelled)
        labels = pool.labels[views.indices[lab_rows]]
        n_classes = probs.shape[1]
        n_lab = pool.n_labelled
        earlier = [n for n in self._history if n < n_lab]
        prev = self._history[max(earlier)] if earlier else None
        glob = global_features(probs_unl, labels, n_classes, pool.n_items, prev)
        self._history[n_lab] = float(glob[1])
        n_cand = min(len(rows), max(self.n_candidates, 2 * k))
        cand = sample_candidates(probs_unl, n_cand, rng)
        ref = rng.choice(len(views.indices), size=min(256, len(views.indices)), replace=False)
        feats = RoundFeatures(probs_unl[cand], emb[rows[cand]], emb[lab_rows], labels, emb[ref], glob, k)
        return feats, rows[cand]

    def select(self, views: Views, pool: Pool, k: int, rng: np.random.Generator) -> np.ndarray:
        """``k`` unlabelled absolute indices chosen by the policy (picks made one at a time)."""
        check_k(k, views.n_candidates)
        if k == 0:
            return np.empty(0, dtype=np.int64)
        if self.kind in ("heuristic", "switch"):  # the whole batch from one heuristic
            # a switch policy draws its features from a copy of rng, so that the heuristic it
            # hands the batch to sees the stream it would see alone (the anchor reproduced exactly)
            obs = self._global_obs(views, pool, k, copy.deepcopy(rng) if self.kind == "switch" else rng)
            if self.kind == "heuristic":
                action = int(self._actor.predict(obs, deterministic=True)[0])
            else:
                from ..strategies.switching import n_classes_of

                action = self._switch.choose(obs, pool.n_labelled, n_classes_of(views, pool))
            self.last_action = self.heuristics[action]
            return np.asarray(self._heuristics[action].select(views, pool, k, rng), dtype=np.int64)
        feats, cand_rows = self._features(views, pool, k, rng)
        if self.kind == "weights":
            obs = summary_observation(feats)
            w = np.asarray(self._actor.predict(obs, deterministic=True)[0], dtype=np.float64)
            chosen = weighted_greedy(feats, np.clip(w, -1, 1), k)
        else:
            chosen = np.empty(k, dtype=np.int64)
            with torch.no_grad():
                for i in range(k):
                    x = torch.as_tensor(np.clip(feats.observe(), -1.0, 5.0)).unsqueeze(0)
                    logits = self._scorer(x)[0][0].numpy()
                    row = int(np.argmax(logits))
                    feats.pick(row)
                    chosen[i] = row
        picked: np.ndarray = views.indices[cand_rows[chosen]]
        return picked

    def _global_obs(self, views: Views, pool: Pool, k: int, rng: np.random.Generator) -> np.ndarray:
        feats, _ = self._features(views, pool, k, rng)
        return summary_observation(feats)
