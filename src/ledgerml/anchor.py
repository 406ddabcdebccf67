"""Anchoring: write the embedded ledger's signed head to an EVM chain, and check anchors later.

An anchor is a transaction from the anchoring identity to itself whose calldata is ``ledgerml-anchor/v1``
followed by the canonical JSON of the head (ledger id, height, log size, log root, block hash and the
validator's signature). It needs no contract, so it works on any EVM chain, and the transaction is signed
locally (the node holds no key). ``check_anchors`` then fetches each anchor from the chain and requires the
local ledger to hold exactly that block - a rewritten or truncated history no longer matches, even if the
validator re-signed it.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from ._canonical import canonical_json
from ._files import append_line, iter_lines
from ._json import loads_bounded
from ._jsonrpc import JsonRpc
from .errors import ConfigError, LedgerMLError
from .identity import Identity
from .ledger.base import LedgerBackend

PREFIX = b"ledgerml-anchor/v1"


class ChainUnreachable(ConfigError, ConnectionError):
    """The chain holding the anchors cannot be read: no evidence either way, so not a tamper verdict."""

    exit_code = 7


@dataclass(frozen=True)
class Anchor:
    """Where a ledger head was anchored."""

    rpc: str
    chain_id: int
    transaction: str
    ledger: str
    height: int
    log_size: int
    log_root: str
    block_hash: str


def _rpc_url(target: str) -> str:
    if not target.startswith("evm+"):
        raise ConfigError(f"anchor targets look like evm+http://HOST:PORT, got {target!r}")
    return target.removeprefix("evm+")


DEV_FUNDING_WEI = 10**18
"""What ``--dev-funding`` tops the anchoring key up to (1 ether) from the node's first unlocked account."""


def _wait_receipt(rpc: JsonRpc, tx_hash: str, timeout: float, what: str) -> dict[str, Any]:
    """The receipt of ``tx_hash`` once mined; ``ConfigError`` if it is not mined in time or failed."""
    deadline = time.monotonic() + timeout
    while (receipt := rpc.call("eth_getTransactionReceipt", [tx_hash])) is None:
        if time.monotonic() > deadline:
            raise ConfigError(f"{what} {tx_hash} was not mined within {timeout:.0f}s")
        time.sleep(0.05)
    if int(receipt["status"], 16) != 1:
        raise ConfigError(f"{what} {tx_hash} failed on chain")
    return dict(receipt)


def fund_from_node(rpc: JsonRpc, address: str, wei: int = DEV_FUNDING_WEI, *, timeout: float = 60) -> None:
    """Top ``address`` up to ``wei`` from the node's first unlocked account (development nodes such as anvil);
    ``ConfigError`` if the node has none (a real chain: fund the key from a wallet)."""
    accounts = rpc.call("eth_accounts") or []
    if not accounts:
        raise ConfigError(f"the node at {rpc.url} has no unlocked account to fund from: fund {address} from a wallet")
    held = int(rpc.call("eth_getBalance", [address, "latest"]), 16)
    if held >= wei // 2:
        return
    tx = {"from": accounts[0], "to": address, "value": hex(wei - held), "gas": hex(21_000)}
    _wait_receipt(rpc, rpc.call("eth_sendTransaction", [tx]), timeout, "funding transaction")


def _require_gas_money(rpc: JsonRpc, address: str, cost: int) -> None:
    """``InsufficientGas`` saying what to do when ``address`` cannot pay ``cost`` wei."""
    held = int(rpc.call("eth_getBalance", [address, "latest"]), 16)
    if held < cost:
        raise InsufficientGas(
            f"the anchoring key {address} holds {held} wei and the anchor transaction costs up to {cost} wei: "
            "send it some ether, or on a development node (anvil, 'ledgerml node start') pass --dev-funding"
        )


class InsufficientGas(ConfigError):
    """The key that sends a transaction cannot pay its gas."""


def anchor_head(
    ledger: LedgerBackend, identity: Identity, target: str, *, timeout: float = 60, dev_funding: bool = False
) -> Anchor:
    """Send the latest signed block header to the chain at ``target`` and wait until it is mined. With
    ``dev_funding`` the key is first topped up from the node's unlocked account (development nodes only)."""
    from eth_account import Account

    url = _rpc_url(target)
    rpc = JsonRpc(url)
    head = ledger.block()
    document = head.to_dict()
    data = PREFIX + canonical_json(document)
    try:
        chain_id = int(rpc.call("eth_chainId"), 16)
    except ConfigError as exc:
        raise ChainUnreachable(f"cannot anchor on {target}: {exc}") from None
    if dev_funding:
        fund_from_node(rpc, identity.address, timeout=timeout)
    transaction: dict[str, Any] = {
        "to": identity.address,
        "value": 0,
        "data": "0x" + data.hex(),
        "chainId": chain_id,
        "nonce": int(rpc.call("eth_getTransactionCount", [identity.address, "pending"]), 16),
        # asked, not computed: calldata pricing changes between forks (EIP-7623's floor since Prague)
        "gas": int(
            int(
                rpc.call(
                    "eth_estimateGas", [{"from": identity.address, "to": identity.address, "data": "0x" + data.hex()}]
                ),
                16,
            )
            * 1.2
        ),
        "gasPrice": int(rpc.call("eth_gasPrice"), 16),
    }
    _require_gas_money(rpc, identity.address, int(transaction["gas"]) * int(transaction["gasPrice"]))
    signed = Account.sign_transaction(transaction, identity.private_key)
    tx_hash = rpc.call("eth_sendRawTransaction", ["0x" + bytes(signed.raw_transaction).hex()])
    _wait_receipt(rpc, tx_hash, timeout, "anchor transaction")
    return Anchor(url, chain_id, tx_hash, head.ledger, head.height, head.log_size, head.log_root.hex(), head.hash.hex())


def save_anchor(path: Path, anchor: Anchor) -> None:
    """Append an anchor to a JSON Lines file."""
    append_line(path, json.dumps(asdict(anchor), sort_keys=True).encode())


MAX_ANCHOR_LINE = 4096
"""Longest anchors.jsonl line read (a record is ~450 bytes)."""
MAX_ANCHORS_BYTES = 64 * 1024 * 1024
"""Largest anchors.jsonl read (over 100,000 anchors)."""


def load_anchors(path: Path, skipped: list[str] | None = None) -> list[Anchor]:
    """Anchors recorded in a JSON Lines file (none if it does not exist). A line that is not an anchor record
    (an append a crash cut short, which :func:`save_anchor`'s next append leaves as a line of its own) is named in
    ``skipped`` when a list is given, else it is a ``ConfigError``."""
    if not path.exists():
        return []
    anchors = []
    for number, line in enumerate(iter_lines(path, MAX_ANCHOR_LINE, MAX_ANCHORS_BYTES), 1):
        if line is not None and not line.strip():
            continue
        try:
            if line is None:
                raise ValueError(f"longer than {MAX_ANCHOR_LINE:,} bytes")
            record = loads_bounded(line, what="the record")
            if type(record) is not dict:
                raise ValueError("the record is not a JSON object")
            anchors.append(_anchor(record))
        except (LedgerMLError, ValueError, TypeError) as exc:
            problem = f"{path} line {number} is not an anchor record ({exc})"
            if skipped is None:
                raise ConfigError(problem) from None
            skipped.append(problem)
    return anchors


def _anchor(record: dict[str, Any]) -> Anchor:
    """An :class:`Anchor` from its JSON record; ``ValueError`` on missing, extra or mistyped fields."""
    types = {field.name: int if field.type in ("int", int) else str for field in fields(Anchor)}
    if sorted(record) != sorted(types):
        raise ValueError(f"its fields are {', '.join(sorted(record)) or 'none'}")
    for name, value in record.items():
        if type(value) is not types[name]:
            raise ValueError(f"its {name} is not a{'n integer' if types[name] is int else ' string'}")
    return Anchor(**record)


MAX_SCAN_BLOCKS = 100_000
"""Most chain blocks :func:`discover_anchors` reads in one call (give ``since`` to scan a later window)."""


def discover_anchors(
    ledger: LedgerBackend, target: str, *, since: int = 0, validators: set[str] | None = None
) -> list[Anchor]:
    """Find this ledger's anchors on the chain itself (not in a local file), from chain block ``since`` on.

    Every transaction whose calldata is a ledgerml anchor of this ledger id counts if its head is signed by one
    of ``validators`` (default: the ledger's validators) - so nobody else can post a head that makes verify fail.
    """
    from .ledger.blocks import BlockHeader, verify_block_signature
    from .types import Role
    from .vocab.core import holders_of

    url = _rpc_url(target)
    rpc = JsonRpc(url)
    trusted = validators if validators is not None else set(holders_of(ledger.state(), Role.VALIDATOR))
    try:
        chain_id = int(rpc.call("eth_chainId"), 16)
        latest = int(rpc.call("eth_blockNumber"), 16)
    except ConfigError as exc:
        raise ChainUnreachable(f"cannot read anchors from {target}: {exc}") from None
    if since < 0 or since > latest:
        raise ConfigError(f"--anchors-since {since} is outside the chain's blocks 0..{latest}")
    if latest - since + 1 > MAX_SCAN_BLOCKS:
        raise ConfigError(
            f"the chain has {latest - since + 1:,} blocks after {since}; scan at most {MAX_SCAN_BLOCKS:,} "
            "at once (pass --anchors-since)"
        )
    marker = "0x" + PREFIX.hex()
    found = []
    for number in range(since, latest + 1):
        block = rpc.call("eth_getBlockByNumber", [hex(number), True]) or {}
        for tx in block.get("transactions", []):
            data = str(tx.get("input", ""))
            if not data.startswith(marker):
                continue
            try:
                document = loads_bounded(bytes.fromhex(data[len(marker) :]), what="anchor", max_bytes=4096)
                header = BlockHeader.from_dict(document)
                verify_block_signature(header, trusted)
            except (LedgerMLError, ValueError):
                continue  # not a well-formed, validator-signed head: anyone can send calldata
            if header.ledger != ledger.ledger_id:
                continue
            found.append(
                Anchor(
                    url,
                    chain_id,
                    str(tx["hash"]),
                    header.ledger,
                    header.height,
                    header.log_size,
                    header.log_root.hex(),
                    header.hash.hex(),
                )
            )
    return found


def _mined(rpc_url: str, tx_hash: str) -> bool:
    """Whether the chain has a receipt for ``tx_hash``. Anvil answers ``eth_getTransactionByHash`` from its pool
    first and clears the pool only after the block is stored, so a just-mined transaction can still show no block
    there (foundry-rs/foundry#10944); the receipt is the chain's word."""
    return JsonRpc(rpc_url).call("eth_getTransactionReceipt", [tx_hash]) is not None


def check_anchors(ledger: LedgerBackend, anchors: list[Anchor]) -> list[str]:
    """For each anchor: the transaction on chain carries the recorded head, and the local ledger holds exactly
    that block. Returns the problems (empty when every anchor matches)."""
    problems = []
    for anchor in anchors:
        where = f"anchor {anchor.transaction[:12]}… (block {anchor.height})"
        try:
            tx = JsonRpc(anchor.rpc).call("eth_getTransactionByHash", [anchor.transaction])
            mined = tx is not None and (tx.get("blockNumber") is not None or _mined(anchor.rpc, anchor.transaction))
        except LedgerMLError as exc:
            raise ChainUnreachable(f"{where}: cannot read the chain: {exc}") from None
        if tx is None:
            problems.append(f"{where}: the transaction is not on chain {anchor.chain_id}")
            continue
        if not mined:
            problems.append(f"{where}: the transaction is still pending on chain {anchor.chain_id} (not mined)")
            continue
        data = bytes.fromhex(tx["input"].removeprefix("0x"))
        if not data.startswith(PREFIX):
            problems.append(f"{where}: the transaction does not carry a ledgerml anchor")
            continue
        on_chain: dict[str, Any] = loads_bounded(data[len(PREFIX) :])
        if on_chain.get("hash") != anchor.block_hash or on_chain.get("ledger") != ledger.ledger_id:
            problems.append(f"{where}: the chain holds another head than the anchor record")
            continue
        try:
            local = ledger.block(int(on_chain["height"]))
        except LedgerMLError:
            problems.append(f"{where}: the local ledger no longer has block {on_chain['height']} (truncated)")
            continue
        if local.hash.hex() != on_chain["hash"]:
            problems.append(f"{where}: local block {local.height} differs from the anchored head (history rewritten)")
    return problems
