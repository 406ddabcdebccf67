"""The colluding attacks (ALIE, IPM, adaptive): their maths, the participant side, and the config names."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ledgerml.errors import ConfigError
from ledgerml.federated import attacks
from ledgerml.federated.config import FederationConfig
from ledgerml.federated.participant import Participant
from ledgerml.ml.models import build_model
from ledgerml.ml.serialization import flatten, from_bytes, to_bytes
from ledgerml.types import Digest

from ..conftest import make_identity


def test_alie_z_follows_baruch_et_al() -> None:
    from statistics import NormalDist

    # n = 50, f = 24 (the paper's example): s = 26 - 24 = 2, z = Phi^-1(48 / 50) ~ 1.75
    assert attacks.alie_z(50, 24) == pytest.approx(NormalDist().inv_cdf(48 / 50))
    assert attacks.alie_z(10, 2) == pytest.approx(NormalDist().inv_cdf(6 / 10))
    assert attacks.alie_z(10, 0) == pytest.approx(NormalDist().inv_cdf(4 / 10)) or attacks.alie_z(10, 0) == 0.0
    assert 0 <= attacks.alie_z(3, 3) <= 3


def test_alie_and_ipm_maths() -> None:
    honest = [np.array([1.0, 2.0]), np.array([3.0, 2.0])]
    np.testing.assert_allclose(attacks.alie(honest, 1.5), [2.0 - 1.5 * 1.0, 2.0])
    np.testing.assert_allclose(attacks.ipm(honest, 0.5), [-1.0, -1.0])


def test_adaptive_stays_under_the_norm_bound_and_points_against_the_mean() -> None:
    rng = np.random.default_rng(0)
    honest = [np.ones(20) + 0.1 * rng.normal(size=20) for _ in range(4)]
    mean = np.mean(honest, axis=0)
    free = attacks.adaptive(honest[0], honest, 1.0, None)
    assert free @ mean < honest[0] @ mean
    bounded = attacks.adaptive(honest[0], honest, 5.0, 1.0)
    assert np.linalg.norm(bounded) <= attacks.NORM_MARGIN * 1.0 + 1e-12


def _participant(attack: str, colluders: list, seed: int, **params: float) -> Participant:  # type: ignore[type-arg]
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(40, 4)), rng.integers(0, 3, size=40)
    return Participant(
        make_identity(f"p{seed}", 9100 + seed),
        X,
        y,
        3,
        attack=attack,
        seed=seed,
        colluders=colluders,
        federation_size=5,
        norm_bound=100.0,
        attack_params=params,
    )


def _update(p: Participant) -> np.ndarray:
    model = build_model({"type": "softmax", "n_features": 4, "n_classes": 3, "seed": 0})
    base = to_bytes(model.get_weights())
    cfg = {"round": 1, "task": "t", "base": str(Digest.sha256(base)), "ledger": "l", "nonces": {p.address: 0}}
    data, _, _ = p.train(base, cfg, dict(model.spec))
    return flatten(from_bytes(data)) - flatten(model.get_weights())


def test_colluders_send_one_alie_update_and_ipm_reverses_their_mean() -> None:
    a, b = _participant("none", [], 0), _participant("none", [], 1)
    pool = [(a.X, a.y, 0), (b.X, b.y, 1)]
    honest = [_update(a), _update(b)]
    alie_a, alie_b = _update(_participant("alie", pool, 0)), _update(_participant("alie", pool, 1))
    np.testing.assert_array_equal(alie_a, alie_b)
    np.testing.assert_allclose(alie_a, attacks.alie(honest, attacks.alie_z(5, 2)), atol=1e-6)
    ipm = _update(_participant("ipm", pool, 0, epsilon=2.0))
    np.testing.assert_allclose(ipm, -2.0 * np.mean(honest, axis=0), atol=1e-6)
    adaptive = _update(_participant("adaptive", pool, 0))
    assert adaptive @ np.mean(honest, axis=0) < honest[0] @ np.mean(honest, axis=0)


def test_config_accepts_the_new_attacks_by_name_with_their_params(tmp_path: Path) -> None:
    path = tmp_path / "f.toml"
    path.write_text('[federation]\nparticipants = 5\n[attack]\nkind = "alie"\nfraction = 0.4\nparams = { z = 1.0 }\n')
    config = FederationConfig.from_toml(path)
    assert config.attack == "alie" and config.attack_params == {"z": 1.0} and config.attacker_indices() == [0, 1]
    path.write_text('[attack]\nkind = "ipm"\nparams = { epsilon = 0.1 }\n')
    assert FederationConfig.from_toml(path).attack_params == {"epsilon": 0.1}
    path.write_text('[attack]\nkind = "ipm"\nparams = { eps = 0.1 }\n')
    with pytest.raises(ConfigError, match=r"attack\.params\.eps"):
        FederationConfig.from_toml(path)
    with pytest.raises(ConfigError, match="attack"):
        FederationConfig(attack="alie2")
