"""The participant takes the global model as the arrays a message carries or as safetensors bytes: the same update,
commitment and evaluation either way, and a model that is not the task's is still refused."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from ledgerml.errors import ConfigError, MalformedEvent
from ledgerml.federated.participant import Participant
from ledgerml.ml.models import build_model
from ledgerml.ml.serialization import Weights, to_bytes
from ledgerml.types import Digest

from ..conftest import make_identity

SPEC = {"type": "softmax", "n_features": 4, "n_classes": 3, "seed": 0}


def _participant(attack: str) -> Participant:
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(30, 4)), rng.integers(0, 3, size=30)
    return Participant(make_identity("p", 9300), X, y, 3, attack=attack, seed=3)


def _config(p: Participant, base: Weights | None = None) -> dict[str, Any]:
    digest = str(Digest.sha256(to_bytes(_global() if base is None else base)))
    return {"round": 2, "task": "t", "base": digest, "ledger": "l", "nonces": {p.address: 0}}


def _global() -> Weights:
    return build_model(SPEC).get_weights()


@pytest.mark.parametrize("attack", ["none", "gaussian_noise"])
def test_arrays_and_bytes_give_the_same_update_commitment_and_evaluation(attack: str) -> None:
    p = _participant(attack)
    weights = _global()
    reordered = {name: weights[name] for name in sorted(weights, reverse=True)}  # per-array draws: sorted order
    dp = {"clip": 1.0, "noise_multiplier": 0.5}
    from_bytes_ = p.train(to_bytes(weights), _config(p), dict(SPEC), dp)
    from_arrays = p.train(reordered, _config(p), dict(SPEC), dp)
    assert from_arrays[0] == from_bytes_[0]
    signed = [(e.actor, e.nonce, e.kind, e.payload) for e in (from_arrays[1], from_bytes_[1])]  # not the time
    assert signed[0] == signed[1]
    assert from_arrays[2] == from_bytes_[2]
    assert p.evaluate(reordered, dict(SPEC)) == p.evaluate(to_bytes(weights), dict(SPEC))
    assert all(np.array_equal(reordered[k], weights[k]) for k in weights)  # the message's arrays are left alone


def test_a_message_with_a_different_model_is_still_refused() -> None:
    p = _participant("none")
    other = build_model({"type": "softmax", "n_features": 5, "n_classes": 3, "seed": 0}).get_weights()
    renamed = {f"x{name}": array for name, array in _global().items()}
    for model in (other, to_bytes(other)):
        with pytest.raises((ConfigError, ValueError)):
            p.train(model, _config(p, other), dict(SPEC))
    for model in (renamed, to_bytes(renamed)):
        with pytest.raises(ConfigError, match="do not fit model arrays"):
            p.train(model, _config(p, renamed), dict(SPEC))
        with pytest.raises(ConfigError, match="do not fit model arrays"):
            p.evaluate(model, dict(SPEC))
    with pytest.raises(MalformedEvent):
        p.train(b"not safetensors", _config(p), dict(SPEC))


def test_a_model_that_is_not_the_rounds_global_model_is_not_signed() -> None:
    p = _participant("none")
    weights = _global()
    other = {name: array + 1.0 for name, array in weights.items()}  # same arrays, other values
    for model in (other, to_bytes(other)):
        with pytest.raises(ConfigError, match="not the global model the round names"):
            p.train(model, _config(p, weights), dict(SPEC))
