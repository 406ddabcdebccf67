"""The EVM side: Vyper contracts, their compiled artifacts, and (to come) the ``evm+http`` ledger backend."""
