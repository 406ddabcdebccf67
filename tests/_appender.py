"""Child process for durability/concurrency tests: append datasets and print one ACK line per accepted event.

Usage: python -m tests._appender DB_URL WRITER_SEED VALIDATOR_SEED COUNT   (COUNT 0 = forever)
"""

from __future__ import annotations

import os
import sys

from ledgerml import DatasetRegistered, Identity, Ledger


def main() -> None:
    url, writer_seed, validator_seed, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    writer = Identity.from_private_key("writer", (writer_seed + 1).to_bytes(32, "big"))
    validator = Identity.from_private_key("validator", (validator_seed + 1).to_bytes(32, "big"))
    ledger = Ledger.open(url, validator=validator)
    done = 0
    while count == 0 or done < count:
        receipt = ledger.submit(writer, DatasetRegistered(dataset_id="sha256:" + os.urandom(32).hex(), name="x"))
        sys.stdout.write(f"ACK {receipt.seq} {receipt.event_id}\n")
        sys.stdout.flush()
        done += 1
    ledger.close()


if __name__ == "__main__":
    main()
