"""Fraud-score alerts carry TreeSHAP values and re-derive from the stored model files and table; a changed table
or an unregistered model is caught."""

from __future__ import annotations

from pathlib import Path

import pytest

from ledgerml.alerts.audit import audit_alert
from ledgerml.alerts.documents import alert_detail
from ledgerml.alerts.fraud import raise_fraud_alerts
from ledgerml.alerts.html import alert_page
from ledgerml.errors import NotFound, Unauthorized

from ..analytics.test_analytics import _trainer_home, labelled_accounts


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from ledgerml.analytics.workflows import train_fraud_detector

    root = tmp_path_factory.mktemp("fraud")
    home = _trainer_home(root / "home")
    table = root / "accounts.csv"
    labelled_accounts(13).to_csv(table, index=False)
    train_fraud_detector(table, root / "model", folds=2, home=home)
    return home, table, root / "model"


@pytest.mark.slow
def test_fraud_alerts_carry_shap_values_and_re_derive(trained) -> None:  # type: ignore[no-untyped-def]
    home, table, model = trained
    rows = raise_fraud_alerts(home, table, model, top=5, limit=3)
    assert 1 <= len(rows) <= 3
    with home.open_ledger() as ledger:
        state = ledger.state()
        detail = alert_detail(state, home.store(), rows[0]["alert_id"])
        shap = detail["explanation"]["shap"]
        assert detail["subject"] == {"type": "account", "id": rows[0]["address"]}
        assert len(shap["contributions"]) == 5 and {"feature", "value", "contribution"} <= set(shap["contributions"][0])
        assert "SHAP contributions" in alert_page(detail) and "<svg" in alert_page(detail)
        audit = audit_alert(state, home.store(), rows[0]["alert_id"], home=home)
        assert audit.ok, audit.problems
    # the scored table changes in the store: caught
    data_digest = detail["explanation"]["input"]["digest"]
    path = home.store().path_of(data_digest)
    text = path.read_bytes()
    path.write_bytes(text[: len(text) // 2])
    with home.open_ledger() as ledger:
        audit = audit_alert(ledger.state(), home.store(), rows[0]["alert_id"], home=home)
    assert not audit.ok and "corrupted" in " ".join(audit.problems)


def test_unregistered_model_or_outsider_raises_nothing(trained, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    home, table, model = trained
    other = tmp_path / "other"
    shutil.copytree(model, other)
    (other / "detector.json").write_text((other / "detector.json").read_text().replace("{", '{"x": 1, ', 1))
    with home.open_ledger() as ledger:
        size = ledger.size
    with pytest.raises(NotFound):
        raise_fraud_alerts(home, table, other)
    home.keys.create("mallory", None, unencrypted=True)
    with pytest.raises(Unauthorized):
        raise_fraud_alerts(home, table, model, acting="mallory")
    with home.open_ledger() as ledger:
        assert ledger.size == size
