"""ML for blockchains: account tables, the fraud detector, splits and evaluation, library workflows."""

from .accounts import AccountTable, read_accounts
from .detector import FraudDetector
from .evaluation import cross_validate, evaluate_folds
from .splits import TimeSeriesFolds, grouped_stratified_folds, time_series_folds
from .workflows import FraudTrainingResult, train_fraud_detector

__all__ = [
    "AccountTable",
    "FraudDetector",
    "FraudTrainingResult",
    "TimeSeriesFolds",
    "cross_validate",
    "evaluate_folds",
    "grouped_stratified_folds",
    "read_accounts",
    "time_series_folds",
    "train_fraud_detector",
]
