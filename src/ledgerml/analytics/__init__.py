"""ML for blockchains: account tables, the fraud detector, grouped evaluation."""

from .accounts import AccountTable, read_accounts
from .detector import FraudDetector
from .evaluation import cross_validate

__all__ = ["AccountTable", "FraudDetector", "cross_validate", "read_accounts"]
