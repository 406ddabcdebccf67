"""Each organisation seals its own partition before the federation registers it (``ledgerml.access``): the rows
are encrypted into the artifact store under the organisation's data key and registered by it, and the
consortium's auditor is granted the key, so the auditor can open exactly the rows a model was trained on."""

from __future__ import annotations

from pathlib import Path

from ..access import grant_access, register_encryption_key, seal_dataset
from ..home import Home
from ..identity import Identity
from ..ml import data as data_module
from ..types import Role
from ..vocab.core import RoleGranted, dataset, roles_of
from .base import StudyData

AUDIT_PURPOSE = "consortium audit of the federated model's training data"


def _organisation(home: Home, name: str) -> Identity:
    """The organisation's identity: loaded if it exists, else created (unencrypted, like the scenario's others)."""
    if (home.keys.folder / f"{name}.json").exists():
        return home.keys.load(name, None)
    return home.keys.create(name, None, unencrypted=True)


def seal_partitions(home: Home, task_id: str, data: StudyData, auditor: str, license: str) -> list[str]:
    """Write, seal and register every organisation's partition where the federation will read it, and grant
    ``auditor`` each one; the dataset ids (the same digests the federation's plain registration would give)."""
    folder = home.path / "federations" / task_id
    folder.mkdir(parents=True, exist_ok=True)
    admin = home.identity(home.config().admin)
    reader = home.keys.load(auditor, None)
    people = [_organisation(home, o.name) for o in data.organisations]
    ids = []
    with home.open_ledger() as ledger:
        missing = [p for p in people if Role.DATA_OWNER not in roles_of(ledger.state(), p.address)]
        if missing:
            ledger.submit_batch(admin, [RoleGranted(subject=p.address, role=Role.DATA_OWNER) for p in missing])
        register_encryption_key(ledger, reader)
        for person, organisation in zip(people, data.organisations, strict=True):
            path = data_module.write_csv(Path(folder / f"{person.name}.csv"), organisation.X, organisation.y)
            sealed = seal_dataset(
                ledger,
                home.store(),
                person,
                path,
                name=f"{person.name} partition",
                license=license,
                consent_note=data.consent_note,
            )
            grant_access(ledger, home.store(), person, sealed.dataset_id, reader.address, purpose=AUDIT_PURPOSE)
            assert dataset(ledger.state(), sealed.dataset_id) is not None
            ids.append(sealed.dataset_id)
    return ids


def auditor_opens(home: Home, task_id: str, dataset_ids: list[str], auditor: str) -> tuple[bool, str]:
    """The auditor decrypts every sealed partition (each use logged as ``AccessUsed``) and compares it with the
    file the participant trained from, and the plan's datasets with the sealed ones; (ok, detail)."""
    import tempfile

    from ..access import decrypt_dataset
    from ..federated.plan import load_plan

    plan = load_plan(home, task_id)
    planned = [entry.dataset_id for entry in plan.participants]
    if planned != dataset_ids:
        return False, "the federation's datasets are not the sealed partitions"
    reader = home.keys.load(auditor, None)
    with tempfile.TemporaryDirectory(dir=home.path) as scratch, home.open_ledger() as ledger:
        for index, (entry, dataset_id) in enumerate(zip(plan.participants, dataset_ids, strict=True)):
            out = Path(scratch) / f"{index}.csv"
            decrypt_dataset(ledger, home.store(), reader, dataset_id, out, purpose=AUDIT_PURPOSE)
            if out.read_bytes() != Path(entry.data).read_bytes():
                return False, f"{entry.name}'s sealed partition differs from the rows it trained on"
    count = len(dataset_ids)
    return True, f"{count} sealed partitions opened by {auditor} (AccessUsed logged), each equal to its training file"
