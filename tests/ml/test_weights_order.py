"""Decoded weights come back in one order, so per-array random draws (simulated noise, DP noise) repeat."""

from __future__ import annotations

import hashlib

import numpy as np

from ledgerml.federated import attacks
from ledgerml.ml.models import build_model
from ledgerml.ml.serialization import from_bytes, to_bytes


def test_from_bytes_names_are_sorted_every_time() -> None:
    weights = build_model({"type": "mlp_regressor", "n_features": 3, "n_classes": 1, "hidden": 2}).get_weights()
    data = to_bytes(weights)
    for _ in range(20):
        assert list(from_bytes(data)) == sorted(weights)


def test_gaussian_noise_attack_repeats_from_decoded_weights() -> None:
    weights = build_model({"type": "mlp", "n_features": 3, "n_classes": 2, "hidden": 2}).get_weights()
    data = to_bytes(weights)
    digests = {
        hashlib.sha256(to_bytes(attacks.gaussian_noise(from_bytes(data), 1.0, np.random.default_rng(7)))).hexdigest()
        for _ in range(20)
    }
    assert len(digests) == 1
