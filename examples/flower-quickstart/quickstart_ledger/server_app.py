"""The aggregator's ServerApp: Flower's FedAvg, unchanged, wrapped by ledgerml so that every round is recorded."""

import os

import numpy as np
from flwr.app import Context
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAvg

from ledgerml.federated import serve_flower_task
from ledgerml.home import Home

from .task import load_data, mse


def strategy() -> FedAvg:
    """The Flower strategy the task was created with (its settings are on the ledger)."""
    return FedAvg(fraction_evaluate=0.0, min_available_nodes=2, min_train_nodes=2)


def evaluate(arrays: dict[str, np.ndarray]) -> dict[str, float]:
    """Server-side evaluation of the app's own arrays ("0": weights, "1": bias) on held-out data."""
    X, y = load_data(99)
    return {"val_mse": mse(arrays["0"], arrays["1"], X, y)}


app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    """Instead of ``strategy().start(...)``: join the nodes, run the task's rounds, record each on the ledger."""
    home = Home(str(context.run_config.get("home") or os.environ["LEDGERML_HOME"]))
    task = str(context.run_config.get("task") or os.environ.get("QUICKSTART_TASK", "quickstart"))
    serve_flower_task(grid, home, task, strategy(), evaluate=evaluate)
