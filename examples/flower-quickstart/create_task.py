"""The aggregator creates the task from the app's own initial arrays and its Flower strategy."""

import os
import sys

from flwr.app import ArrayRecord
from quickstart_ledger.server_app import strategy
from quickstart_ledger.task import get_model

from ledgerml.federated import create_flower_task
from ledgerml.home import Home

record = create_flower_task(
    Home(os.environ["LEDGERML_HOME"]),
    sys.argv[1] if len(sys.argv) > 1 else "quickstart",
    initial=ArrayRecord(get_model()),
    strategy=strategy(),
    rounds=3,
    aggregator="agg",
)
print(f"task {record.task_id}: rule {record.rule}, model spec {record.model_spec}")
