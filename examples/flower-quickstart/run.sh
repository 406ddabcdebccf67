#!/usr/bin/env bash
# Bring your own Flower app, end to end: what each party runs (here all on one machine).
set -euo pipefail
cd "$(dirname "$0")"
export LEDGERML_HOME=${LEDGERML_HOME:-$(mktemp -d)/home}
export QUICKSTART_KEYS=$LEDGERML_HOME/keys QUICKSTART_RECEIPTS=$LEDGERML_HOME/receipts
export FLWR_TELEMETRY_ENABLED=0 FLWR_DISABLE_UPDATE_CHECK=1 RAY_USAGE_STATS_ENABLED=0

# The ledger's admin: a home, the aggregator and its role
ledgerml init --unencrypted
ledgerml identity create agg --unencrypted
ledgerml role grant aggregator agg
# Each organisation beforehand: its identity, its role (granted by the admin), its dataset
for i in 0 1; do
  ledgerml identity create org$i --unencrypted
  ledgerml role grant data_owner org$i
  python write_data.py $i "$LEDGERML_HOME/org$i.csv"
  ledgerml data register "$LEDGERML_HOME/org$i.csv" --as org$i --name "org$i data" --license CC0-1.0 --consent-note synthetic
done
# The aggregator: the task from the app's own arrays and Flower's FedAvg
python create_task.py quickstart
# The rounds, on Flower's simulation engine: the mod joins each organisation on first contact
python run_simulation.py 2>&1 | grep -E "ERROR|joined|Run finished" || true
# Anyone: the round audit and the receipts
ledgerml fl tasks
ledgerml audit task quickstart --receipts "$QUICKSTART_RECEIPTS"
