"""Consensus parameters tuned by learning: the embedded ledger's block cutting (policies and the ledger's sealer;
the replay on the real SQLite ledger is ``ledgerml.workflows.cutting_replay``) and a discrete-event simulation
of QBFT round timeouts (heavy modules imported on use)."""
