"""Client-side differential privacy: clip the update's change, add Gaussian noise, account (epsilon, delta).

Each participant clips its change to L2 norm ``clip`` and adds N(0, (noise_multiplier * clip)^2) noise before
signing it, so neither the aggregator nor the ledger ever sees an un-noised update and the round can still be
replayed bit for bit. Neighbouring inputs are any two datasets of one participant, so the sensitivity of the
released change is ``2 * clip``. The budget composes over rounds with Renyi DP of the Gaussian mechanism
(Mironov 2017): RDP(alpha) = rounds * alpha * (2 clip)^2 / (2 sigma^2), converted with
epsilon = RDP(alpha) + log(1/delta) / (alpha - 1) at the best alpha (closed form).
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import ConfigError
from ..ml.serialization import Weights, flatten, unflatten


def clip_and_noise(
    update: Weights, base: Weights, clip: float, noise_multiplier: float, rng: np.random.Generator
) -> Weights:
    """The update with its change clipped to ``clip`` and Gaussian noise of std ``noise_multiplier * clip``."""
    if clip <= 0 or noise_multiplier < 0:
        raise ConfigError("DP needs clip > 0 and noise_multiplier >= 0")
    change = flatten(update) - flatten(base)
    norm = float(np.sqrt((change * change).sum()))
    change = change * min(1.0, clip / max(norm, 1e-300))
    change = change + rng.normal(0.0, noise_multiplier * clip, size=change.shape)
    return unflatten(flatten(base) + change, base)


def gaussian_epsilon(noise_multiplier: float, rounds: int, delta: float) -> float:
    """(epsilon, delta)-DP of ``rounds`` releases of a change clipped to C with noise std ``z * C``.

    ``math.inf`` when no finite budget exists (``z = 0``, or so small that the arithmetic overflows); setups
    refuse such settings (``config.check_dp``) so that every recorded ``dp_epsilon`` is finite."""
    if not 0 < delta < 1:
        raise ConfigError("delta must be in (0, 1)")
    if not math.isfinite(noise_multiplier) or noise_multiplier <= 0:
        return math.inf
    try:
        a = rounds * 2.0 / noise_multiplier**2  # RDP(alpha) = a * alpha, sensitivity 2C, sigma = zC
        b = math.log(1.0 / delta)
        epsilon = a + 2.0 * math.sqrt(a * b)  # min over alpha > 1 of a*alpha + b/(alpha-1), at 1 + sqrt(b/a)
    except (ZeroDivisionError, OverflowError):
        return math.inf
    return epsilon if math.isfinite(epsilon) else math.inf


def check_dp_settings(dp: dict[str, object], rounds: int) -> None:
    """``ConfigError`` unless ``dp`` is exactly clip > 0, noise_multiplier > 0 and delta in (0, 1), all finite,
    with a finite epsilon after ``rounds`` rounds (``noise_multiplier = 0`` would record epsilon = infinity)."""
    if set(dp) != {"clip", "noise_multiplier", "delta"}:
        raise ConfigError("dp needs exactly clip, noise_multiplier and delta")
    values = {}
    for key in ("clip", "noise_multiplier", "delta"):
        value = dp[key]
        if type(value) not in (int, float) or not math.isfinite(value):  # type: ignore[arg-type]
            raise ConfigError(f"dp.{key} must be a finite number, got {value!r}")
        values[key] = float(value)  # type: ignore[arg-type]
    if values["clip"] <= 0 or values["noise_multiplier"] <= 0 or not 0 < values["delta"] < 1:
        raise ConfigError("dp needs clip > 0, noise_multiplier > 0 and 0 < delta < 1")
    if not math.isfinite(gaussian_epsilon(values["noise_multiplier"], rounds, values["delta"])):
        raise ConfigError(f"dp.noise_multiplier {values['noise_multiplier']!r} gives no finite epsilon")
