"""Witness-cosigned checkpoints: C2SP signed notes, tlog-checkpoint, tlog-cosignature and a tlog-witness.

Pure formats live in :mod:`.note` and :mod:`.checkpoint`; the witness's state in :mod:`.state`, its HTTP
server in :mod:`.server`; what a ledger home keeps (its checkpoint key, trusted witnesses, cosignatures) in
:mod:`.home` and the check ``ledgerml verify --witnesses K`` runs in :mod:`.verify`.
"""
