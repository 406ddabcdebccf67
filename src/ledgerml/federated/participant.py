"""A participant's side of a round, without Flower: train on local data, (optionally) attack or add DP
noise, encode the update as safetensors, and sign the ``UpdateCommitted`` commitment to its digest."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .._json import loads_bounded
from ..errors import ConfigError
from ..events import Event, sign_event
from ..identity import Identity
from ..ml.models import build_model
from ..ml.serialization import Weights, flatten, from_bytes, to_bytes, unflatten, weights_digest
from ..types import Digest
from ..vocab.tasks import ParticipantJoined, UpdateCommitted
from . import attacks
from .dp import clip_and_noise

MAX_NONCES_BYTES = 1024 * 1024
"""Largest nonces table (JSON) a participant parses from the aggregator's config."""


def global_weights(global_model: bytes | Weights) -> Weights:
    """The global model as arrays in sorted name order (per-array draws depend on it): safetensors bytes are
    decoded (``MalformedEvent`` if they are not safetensors); arrays a message already carries are used as they
    are, without a round trip through bytes."""
    if isinstance(global_model, bytes | bytearray | memoryview):
        return from_bytes(bytes(global_model))
    return {name: global_model[name] for name in sorted(global_model)}


@dataclass
class Participant:
    """One organisation in a federation: its key, its data and how it trains (or attacks)."""

    identity: Identity
    X: np.ndarray = field(repr=False)
    y: np.ndarray = field(repr=False)
    n_classes: int
    datasets: list[str] = field(default_factory=list)
    attack: str = "none"
    epochs: int = 1
    lr: float = 0.1
    batch_size: int = 32
    seed: int = 0
    stake: int = 0
    attack_params: dict[str, float] = field(default_factory=dict)
    receipts: Path | None = None  # where the aggregator's signed receipts for this participant's commitments go
    colluders: list[tuple[np.ndarray, np.ndarray, int]] = field(default_factory=list, repr=False)
    """For a colluding attack (``attacks.COLLUDING``): every attacker's (X, y, seed), this one's included."""
    federation_size: int = 0
    """How many participants the federation has (ALIE's z depends on it)."""
    norm_bound: float | None = None
    """The task's ``max_update_norm`` (the adaptive attacker stays under it)."""

    def __post_init__(self) -> None:
        if self.attack not in attacks.ATTACKS:
            from ..errors import ConfigError

            raise ConfigError(f"unknown attack {self.attack!r}; known: {list(attacks.ATTACKS)}")

    @property
    def address(self) -> str:
        """The participant's address."""
        return self.identity.address

    def join(self, ledger_id: str, task_id: str, nonce: int) -> Event:
        """The signed ``ParticipantJoined`` event."""
        payload = ParticipantJoined(task_id=task_id, datasets=self.datasets, stake=self.stake)
        return sign_event(self.identity, ledger_id, payload, nonce)

    def train(
        self,
        global_model: bytes | Weights,
        config: dict[str, Any],
        spec: dict[str, Any],
        dp: dict[str, Any] | None = None,
    ) -> tuple[bytes, Event, dict[str, float]]:
        """One round on the global model (its bytes or its arrays): the update bytes, the signed commitment and
        training metrics."""
        round_ = int(config["round"])
        rng = np.random.default_rng([self.seed, round_])
        base = global_weights(global_model)
        if isinstance(global_model, bytes | bytearray | memoryview):
            digest = Digest.sha256(bytes(global_model))
        else:  # the arrays a message carries: hashed as their canonical encoding, without building it
            digest = weights_digest(base)
        if str(digest) != str(config["base"]):  # the commitment names the base: it must be this one
            raise ConfigError("the model sent is not the global model the round names; refusing to sign")
        update, loss = self.local_update(base, spec, round_, rng)
        if dp:
            update = clip_and_noise(update, base, float(dp["clip"]), float(dp["noise_multiplier"]), rng)
        data = to_bytes(update)
        nonce = (
            loads_bounded(config["nonces"], what="nonces", max_bytes=MAX_NONCES_BYTES, max_depth=2)[self.address]
            if isinstance(config["nonces"], str)
            else config["nonces"][self.address]
        )
        event = sign_event(
            self.identity,
            str(config["ledger"]),
            UpdateCommitted(
                task_id=str(config["task"]),
                round=round_,
                update_digest=str(Digest.sha256(data)),
                base_digest=str(config["base"]),
                num_examples=len(self.X),
            ),
            int(nonce),
        )
        return data, event, {"train_loss": float(loss), "num-examples": float(len(self.X))}

    def _fit(
        self, base: Weights, spec: dict[str, Any], X: np.ndarray, y: np.ndarray, rng: np.random.Generator
    ) -> tuple[Weights, float]:
        """Local training from ``base``: the new weights and the last loss."""
        model = build_model(spec)
        model.set_weights(base)
        loss = model.fit(X, y, epochs=self.epochs, lr=self.lr, batch_size=self.batch_size, rng=rng)
        return model.get_weights(), float(loss)

    def local_update(
        self, base: Weights, spec: dict[str, Any], round_: int, rng: np.random.Generator
    ) -> tuple[Weights, float]:
        """This round's weights to send (honest, or rewritten by the simulated attack) and the training loss."""
        if self.attack in attacks.COLLUDING:
            return self._colluding_update(base, spec, round_)
        y = attacks.flip_labels(self.y, self.n_classes) if self.attack in ("label_flip", "scaling") else self.y
        update, loss = self._fit(base, spec, self.X, y, rng)
        if self.attack in ("sign_flip", "sybil"):
            update = attacks.sign_flip(update, base, float(self.attack_params.get("scale", 4.0)))
        elif self.attack == "scaling":
            update = attacks.scale_update(update, base, float(self.attack_params.get("boost", 10.0)))
        elif self.attack == "gaussian_noise":
            update = attacks.gaussian_noise(base, float(self.attack_params.get("sigma", 1.0)), rng)
        elif self.attack == "free_ride":
            update = attacks.free_ride(base)
        return update, loss

    def _colluding_update(self, base: Weights, spec: dict[str, Any], round_: int) -> tuple[Weights, float]:
        """ALIE, IPM or the adaptive attack: train honestly on every colluder's data (each with its own seed, as
        it would itself), then build the malicious delta from those honest deltas."""
        colluders = self.colluders or [(self.X, self.y, self.seed)]
        flat_base = flatten(base)
        honest, own, loss = [], None, 0.0
        for X, y, seed in colluders:
            weights, fitted = self._fit(base, spec, X, y, np.random.default_rng([seed, round_]))
            honest.append(flatten(weights) - flat_base)
            if seed == self.seed and own is None:
                own, loss = honest[-1], fitted
        params = self.attack_params
        if self.attack == "alie":
            n, f = max(self.federation_size, len(colluders)), len(colluders)
            delta = attacks.alie(honest, float(params.get("z", attacks.alie_z(n, f))))
        elif self.attack == "ipm":
            delta = attacks.ipm(honest, float(params.get("epsilon", attacks.DEFAULT_IPM_EPSILON)))
        else:
            mine = honest[0] if own is None else own
            scale = float(params.get("scale", attacks.DEFAULT_ADAPTIVE_SCALE))
            delta = attacks.adaptive(mine, honest, scale, self.norm_bound)
        return unflatten(flat_base + delta, base), loss

    def evaluate(self, global_model: bytes | Weights, spec: dict[str, Any]) -> dict[str, float]:
        """Loss and accuracy of the global model (its bytes or its arrays) on local data."""
        model = build_model(spec)
        model.set_weights(global_weights(global_model))
        loss, accuracy = model.evaluate(self.X, self.y)
        return {"loss": loss, "accuracy": accuracy, "num-examples": float(len(self.X))}
