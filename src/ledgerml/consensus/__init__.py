"""Consensus parameters tuned by learning: the embedded ledger's block cutting (policies and the ledger's sealer;
replays on live or simulated time, on the real SQLite ledger or its storage-free cutting, are
``ledgerml.consensus.replay``; the SQLite ledger they open is ``ledgerml.workflows.cutting_replay``'s) and a
discrete-event simulation of QBFT round timeouts (heavy modules imported on use)."""
