"""quickstart-numpy-style ClientApp: Flower's example with real local training, joined to a ledgerml federation
by one mod. The training and evaluation code has no ledgerml import."""

from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from ledgerml.federated import ledger_mod  # the one added import

from .task import load_data, mse

# The one changed line: the mod and this node's identity (its key file; the password from LEDGERML_PASSWORD).
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
