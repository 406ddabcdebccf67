"""quickstart-numpy-style ClientApp: Flower's own example with real local training.

The only ledgerml lines are the import of ``ledger_mod`` and ``mods=[...]`` on the ClientApp: the training
and evaluation code below is what a Flower user writes, with no ledgerml import.
"""

from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from ledgerml.federated import ledger_mod  # the one added import

from .task import load_data, mse

# The one changed line: the mod and the node's identity (key file per partition, password from the environment)
app = ClientApp(
    mods=[ledger_mod(key="$QUICKSTART_KEYS/org{partition-id}.json", receipts="$QUICKSTART_RECEIPTS/org{partition-id}")]
)


@app.train()
def train(msg: Message, context: Context) -> Message:
    """Train the model on local data."""
    w, b = msg.content["arrays"].to_numpy_ndarrays()
    X, y = load_data(int(context.node_config["partition-id"]))
    lr = float(msg.content["config"].get("lr", 0.1))
    for _ in range(5):
        error = X @ w + b - y
        w = w - lr * (2 * X.T @ error / len(X)).astype(w.dtype)
        b = b - lr * (2 * error.mean(axis=0)).astype(b.dtype)
    metrics = {"train_loss": mse(w, b, X, y), "num-examples": len(X)}
    content = RecordDict({"arrays": ArrayRecord([w, b]), "metrics": MetricRecord(metrics)})
    return Message(content=content, reply_to=msg)


@app.evaluate()
def evaluate(msg: Message, context: Context) -> Message:
    """Evaluate the model on local data."""
    w, b = msg.content["arrays"].to_numpy_ndarrays()
    X, y = load_data(int(context.node_config["partition-id"]))
    metrics = {"loss": mse(w, b, X, y), "num-examples": len(X)}
    return Message(content=RecordDict({"metrics": MetricRecord(metrics)}), reply_to=msg)


plain_app = ClientApp()
"""The same app without the mod (what Flower's quickstart is before joining a ledgerml federation)."""
plain_app.train()(train)
plain_app.evaluate()(evaluate)
