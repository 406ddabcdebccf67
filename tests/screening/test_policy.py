"""The screening policy's settings: checked, recorded with every key, and ``slash`` wired to ``slash_on``."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledgerml.errors import ConfigError
from ledgerml.federated.config import FederationConfig
from ledgerml.screening.policy import SCREENING_REASON, Policy, check_policy


def test_bad_policies_are_one_line_config_errors() -> None:
    for bad, key in [
        ({"action": "ban"}, "screening.action"),
        ({"threshold": 1.5}, "screening.threshold"),
        ({"threshold": "x"}, "screening.threshold"),
        ({"detector": "magic"}, "screening.detector"),
        ({"extra": 1}, "screening"),
    ]:
        with pytest.raises(ConfigError, match=key):
            check_policy(bad)
    with pytest.raises(ConfigError, match="screening"):
        FederationConfig(screening={"action": "ban"})


def test_slash_policy_names_the_screening_reason_in_slash_on() -> None:
    settings = FederationConfig(screening={"action": "slash"}, slash_amount=1).task_settings()
    assert SCREENING_REASON in settings["slash_on"] and settings["screening"]["action"] == "slash"
    assert FederationConfig().task_settings()["screening"] == {}


def test_screening_table_in_a_config_file(tmp_path: Path) -> None:
    path = tmp_path / "f.toml"
    path.write_text('[federation]\nparticipants = 5\n[screening]\naction = "exclude"\nthreshold = 0.6\n')
    settings = FederationConfig.from_toml(path).task_settings()["screening"]
    assert settings == {"detector": "separation", "threshold": 0.6, "action": "exclude"}
    path.write_text('[screening]\ndetector = "history"\n')  # version 1 stays declarable
    assert FederationConfig.from_toml(path).task_settings()["screening"]["detector"] == "history"
    path.write_text('[screening]\ndetector = "magic"\n')
    with pytest.raises(ConfigError, match=r"screening\.detector"):
        FederationConfig.from_toml(path)
    path.write_text('[screening]\naction = "ban"\n')
    with pytest.raises(ConfigError, match=r"screening\.action"):
        FederationConfig.from_toml(path)


def test_screening_is_refused_with_secure_aggregation() -> None:
    with pytest.raises(ConfigError, match="secure"):
        FederationConfig(rule="norm_clipped_mean", secure=True, screening={"action": "flag"})


def test_the_default_detector_is_version_four_and_earlier_versions_are_accepted() -> None:
    assert Policy().detector == check_policy({"action": "flag"}).detector == "separation"
    assert check_policy({"detector": "alignment"}).to_dict()["detector"] == "alignment"
    assert check_policy({"detector": "history"}).to_dict()["detector"] == "history"
    assert check_policy({"detector": "consensus"}).to_dict()["detector"] == "consensus"


def test_decisions() -> None:
    assert Policy().decision(0.7) == "flag" and Policy().decision(0.2) == "ok"
    active = check_policy({"action": "exclude", "threshold": 0.6})
    assert active.decision(0.6) == "exclude" and active.decision(0.59) == "ok"
    assert check_policy({"action": "flag"}).decision(0.9) == "flag"
    assert check_policy({"action": "slash"}).decision(0.9) == "exclude"
