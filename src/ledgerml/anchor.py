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
import re
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
    held = rpc.quantity("eth_getBalance", [address, "latest"])
    if held >= wei // 2:
        return
    tx = {"from": accounts[0], "to": address, "value": hex(wei - held), "gas": hex(21_000)}
    _wait_receipt(rpc, rpc.call("eth_sendTransaction", [tx]), timeout, "funding transaction")


def _require_gas_money(rpc: JsonRpc, address: str, cost: int) -> None:
    """``InsufficientGas`` saying what to do when ``address`` cannot pay ``cost`` wei."""
    held = rpc.quantity("eth_getBalance", [address, "latest"])
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
        chain_id = rpc.quantity("eth_chainId")
    except ConfigError as exc:
        raise ChainUnreachable(f"cannot anchor on {target}: {exc}") from None
    if dev_funding:
        fund_from_node(rpc, identity.address, timeout=timeout)
    calldata = "0x" + data.hex()
    # asked, not computed: calldata pricing changes between forks (EIP-7623's floor since Prague)
    estimate = rpc.quantity("eth_estimateGas", [{"from": identity.address, "to": identity.address, "data": calldata}])
    transaction: dict[str, Any] = {
        "to": identity.address,
        "value": 0,
        "data": calldata,
        "chainId": chain_id,
        "nonce": rpc.quantity("eth_getTransactionCount", [identity.address, "pending"]),
        "gas": int(estimate * 1.2),
        "gasPrice": rpc.quantity("eth_gasPrice"),
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
    """Anchors recorded in a JSON Lines file (none if it does not exist). A line that is not JSON at all (an
    append a crash cut short, which :func:`save_anchor`'s next append leaves as a line of its own) is named in
    ``skipped`` when a list is given, else it is a ``ConfigError``; a JSON line that is not a well-formed anchor
    record (edited, not torn) is always a ``ConfigError``."""
    if not path.exists():
        return []
    anchors = []
    for number, line in enumerate(iter_lines(path, MAX_ANCHOR_LINE, MAX_ANCHORS_BYTES), 1):
        where = f"{path} line {number}"
        if line is None:
            raise ConfigError(f"{where} is longer than {MAX_ANCHOR_LINE:,} bytes: not an anchor record")
        if not line.strip():
            continue
        try:
            record = loads_bounded(line, what="it", error=ConfigError)
        except ConfigError as exc:
            if skipped is None:
                raise ConfigError(f"{where} is not an anchor record ({exc})") from None
            skipped.append(f"{where} is not JSON (an append cut short?)")
            continue
        try:
            anchors.append(_anchor(record))
        except ValueError as exc:
            raise ConfigError(f"{where} is not an anchor record: {exc}") from None
    return anchors


_FORMATS = {
    "rpc": re.compile(r"https?://[A-Za-z0-9.\-\[\]:]+(/[!-~]*)?"),
    "transaction": re.compile(r"0x[0-9a-f]{64}"),
    "ledger": re.compile(r"[0-9a-f]{32}"),
    "log_root": re.compile(r"[0-9a-f]{64}"),
    "block_hash": re.compile(r"[0-9a-f]{64}"),
}
"""The form of each string field of an anchor record, as :func:`anchor_head` writes it."""


def _anchor(record: object) -> Anchor:
    """An :class:`Anchor` from its JSON record; ``ValueError`` (one line) on missing, extra, mistyped or
    malformed fields."""
    if type(record) is not dict:
        raise ValueError("it is not a JSON object")
    names = [field.name for field in fields(Anchor)]
    missing, extra = [n for n in names if n not in record], sorted(n for n in record if n not in names)
    if missing or extra:
        raise ValueError(f"missing {missing!r}, unexpected {extra!r}")
    for name, value in record.items():
        form = _FORMATS.get(name)
        if form is None:  # chain_id, height, log_size
            if type(value) is not int or value < 0:
                raise ValueError(f"its {name} is not a non-negative integer")
        elif type(value) is not str or not form.fullmatch(value):
            raise ValueError(f"its {name} is not in the form anchor writes")
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
        chain_id = rpc.quantity("eth_chainId")
        latest = rpc.quantity("eth_blockNumber")
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


def _mined(rpc: JsonRpc, tx_hash: str) -> bool:
    """Whether the chain has a receipt for ``tx_hash``. Anvil answers ``eth_getTransactionByHash`` from its pool
    first and clears the pool only after the block is stored, so a just-mined transaction can still show no block
    there (foundry-rs/foundry#10944); the receipt is the chain's word."""
    return rpc.call("eth_getTransactionReceipt", [tx_hash]) is not None


def check_anchors(ledger: LedgerBackend, anchors: list[Anchor]) -> list[str]:
    """For each anchor: the node it names serves the anchor's chain, the transaction there carries the recorded
    head, and the local ledger holds exactly that block. Returns the problems (empty when every anchor matches);
    ``ChainUnreachable`` when a node cannot be asked."""
    chains: dict[str, int] = {}
    problems = []
    for anchor in anchors:
        where = f"anchor {anchor.transaction[:12]}… (block {anchor.height})"
        try:
            problem = _check_anchor(ledger, anchor, chains)
        except LedgerMLError as exc:
            raise ChainUnreachable(f"{where}: cannot read the chain: {exc}") from None
        if problem is not None:
            problems.append(f"{where}: {problem}")
    return problems


def _check_anchor(ledger: LedgerBackend, anchor: Anchor, chains: dict[str, int]) -> str | None:
    """The problem with one anchor, or None; ``chains`` remembers each node's chain id."""
    rpc = JsonRpc(anchor.rpc)
    if anchor.rpc not in chains:
        chains[anchor.rpc] = rpc.quantity("eth_chainId")
    if chains[anchor.rpc] != anchor.chain_id:
        return f"the node at {anchor.rpc} serves chain {chains[anchor.rpc]}, not the anchor's chain {anchor.chain_id}"
    tx = rpc.call("eth_getTransactionByHash", [anchor.transaction])
    if tx is None:
        return f"the transaction is not on chain {anchor.chain_id}"
    if type(tx) is not dict or type(tx.get("input")) is not str:
        return "the node's answer is not a transaction"
    if tx.get("blockNumber") is None and not _mined(rpc, anchor.transaction):
        return f"the transaction is still pending on chain {anchor.chain_id} (not mined)"
    try:
        data = bytes.fromhex(tx["input"].removeprefix("0x"))
        on_chain = loads_bounded(data[len(PREFIX) :]) if data.startswith(PREFIX) else None
    except (ValueError, LedgerMLError):
        on_chain = None
    if type(on_chain) is not dict or type(on_chain.get("height")) is not int or not 0 <= on_chain["height"] < 2**62:
        return "the transaction does not carry a ledgerml anchor"
    if on_chain.get("hash") != anchor.block_hash or on_chain.get("ledger") != ledger.ledger_id:
        return "the chain holds another head than the anchor record"
    try:
        local = ledger.block(on_chain["height"])
    except LedgerMLError:
        return f"the local ledger no longer has block {on_chain['height']} (truncated)"
    if local.hash.hex() != on_chain["hash"]:
        return f"local block {local.height} differs from the anchored head (history rewritten)"
    return None
