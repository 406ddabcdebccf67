"""Run the app on Flower's simulation engine: two virtual SuperNodes (org0, org1) and the ServerApp."""

from flwr.simulation import run_simulation
from quickstart_ledger.client_app import app as client_app
from quickstart_ledger.server_app import app as server_app

run_simulation(
    server_app=server_app,
    client_app=client_app,
    num_supernodes=2,
    backend_config={"client_resources": {"num_cpus": 1, "num_gpus": 0.0}},
)
