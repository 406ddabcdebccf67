"""Consensus parameters tuned by learning: the embedded ledger's block cutting (policies, replay on the real
SQLite ledger) and a discrete-event simulation of QBFT round timeouts (heavy modules imported on use)."""
