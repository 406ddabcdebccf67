"""The EVM ledger: the Vyper contracts on any Ethereum node, driven through web3.py.

Each event is one transaction from its actor's own key (signed here with eth-account and sent raw, so the
node holds no keys). The contract enforces the rules and emits the signed event body; this class rebuilds the
log, the RFC 9162 Merkle tree, the validator-signed blocks (also recorded on chain) and the state from the
contract's logs, so proofs and audits work exactly as on the embedded ledger.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from eth_account import Account

from ... import errors
from ..._json import loads_bounded
from ..._keccak import keccak256
from ...events import Event, Payload, now_ms, parse_event, sign_event
from ...identity import Identity
from ...state import (
    State,
    apply,
    check_backdating,
    check_clock,
    check_envelope,
    next_nonce,
)
from ...types import Address, to_address
from ...vocab.core import LedgerCreated
from ...vocab.evm import GOVERNANCE, ROLE_BITS, ZERO32, LedgerCall, digest32, task_key
from ...vocab.governance import proposals
from ...vocab.tasks import task
from ...vocab.tokens import balance
from ..base import Capabilities, ProgressCallback, Receipt, StoredEvent, VerifyReport
from ..blocks import GENESIS_PREV_HASH, BlockHeader
from ..merkle import MerkleTree, leaf_hash
from ..proofs import ConsistencyProof, InclusionProof
from ..registry import LedgerURL, url_options
from ..sealing import ChainCheck, seal_next
from .build import DEFAULT_EVM_VERSION, load_artifact
from .calls import event_call, revert_error
from .compact import TaskNames, as_appended
from .view import addresses_of, differences, governance_view, project

EVENT_LOGS = ("Appended", "Committed")
"""Logs that carry a ledger event: a whole body, or a commitment's typed fields (``compact``)."""

DEPLOYMENT_FORMAT = "ledgerml-evm-deployment/1"
MAX_DEPLOYMENT_BYTES = 64 * 1024
"""Largest deployment file read."""
U64 = 2**64 - 1
ACCEPTED = (1).to_bytes(32, "big")
"""The contract's marker for an accepted update (and for a member's slot before its first commit)."""


@dataclass(frozen=True)
class Deployment:
    """Where a ledger's contracts live: written by ``ledgerml chain deploy``, read by ``Ledger.open``."""

    chain_id: int
    ledger: str
    token: str
    block: int
    ledger_id: str
    name: str
    evm_version: str
    format: str = DEPLOYMENT_FORMAT
    governance: str = ""
    """The Governance contract (empty in deployments made before governance was on chain)."""

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the deployment file (refuses to overwrite one)."""
        target = Path(path)
        if target.exists():
            raise errors.AlreadyExists(f"{target} exists already: it names another deployment")
        target.write_text(json.dumps(asdict(self), indent=1, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Deployment:
        """Read a deployment file; ``ConfigError`` if it is missing or not one."""
        source = Path(path)
        if not source.is_file():
            raise errors.NotFound(f"no deployment file at {source} (write one with: ledgerml chain deploy)")
        try:
            data = loads_bounded(
                source.read_bytes(), what=str(source), max_bytes=MAX_DEPLOYMENT_BYTES, error=errors.ConfigError
            )
            if not isinstance(data, dict) or data.get("format") != DEPLOYMENT_FORMAT:
                found = data.get("format") if isinstance(data, dict) else type(data).__name__
                raise ValueError(f"format is {found!r}, expected {DEPLOYMENT_FORMAT!r}")
            return cls(**data)
        except (ValueError, TypeError) as exc:
            raise errors.ConfigError(f"{source} is not a ledgerml deployment file: {exc}") from None


@dataclass(frozen=True)
class SkippedTransaction:
    """A transaction the contract accepted whose body does not replay: readers skip it and report it."""

    transaction: str
    block: int
    actor: str
    nonce: int
    reason: str
    after_event: int
    """How many ledger events precede it in the log."""

    def note(self) -> str:
        """One line for reports."""
        return (
            f"transaction {self.transaction} (block {self.block}, from {self.actor}, nonce {self.nonce}) was skipped: "
            f"its body does not replay ({self.reason})"
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON data."""
        return asdict(self)


@dataclass
class EvmVerifyReport(VerifyReport):
    """A verify report with the transactions the replay skipped (see ``EvmLedger.skipped``)."""

    skipped: list[SkippedTransaction] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON data for ``--json`` output, with ``skipped``."""
        return {**super().to_dict(), "skipped": [s.to_dict() for s in self.skipped]}


def _skip(state: State, log: Any, exc: Exception, after_event: int) -> SkippedTransaction:
    """Record that ``log``'s body does not replay, and consume its nonce as the contract did."""
    args = log["args"]
    actor, nonce = str(args["actor"]), int(args["nonce"])
    if nonce + 1 > next_nonce(state, actor):
        state.put("nonces", Address(actor), nonce + 1)
    message = str(exc).splitlines()[0] if str(exc) else ""
    return SkippedTransaction(
        transaction="0x" + bytes(log["transactionHash"]).hex(),
        block=int(log["blockNumber"]),
        actor=actor,
        nonce=nonce,
        reason=f"{type(exc).__name__}: {message}",
        after_event=after_event,
    )


def _url_options(url: LedgerURL) -> tuple[str, dict[str, Any]]:
    """The deployment file and typed options of an EVM ledger URL."""
    options = url_options(url.options, ints=("block_size",), floats=("timeout",), precheck="bool", deployment="text")
    deployment = options.pop("deployment", "")
    if not deployment:
        raise errors.ConfigError("an EVM ledger URL names its deployment file: evm+http://HOST:PORT?deployment=FILE")
    return str(deployment), options


def _address(value: int) -> str:
    return str(to_address("0x" + value.to_bytes(20, "big").hex()))


def connect(rpc_url: str, timeout: float = 30.0) -> Any:
    """A web3 connection to an HTTP JSON-RPC node; ``ConfigError`` if it does not answer."""
    from web3 import HTTPProvider, Web3

    w3 = Web3(HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))
    try:
        w3.eth.chain_id  # noqa: B018 - a cheap call that proves the node answers
    except Exception as exc:  # requests and web3 raise many types for an unreachable node
        raise errors.ConfigError(f"cannot reach an EVM node at {rpc_url}: {exc}") from None
    return w3


class _Sender:
    """Signs and sends transactions for identities; reverts become the embedded ledger's errors."""

    def __init__(self, w3: Any, gas_limit: int | None, timeout: float) -> None:
        self.w3 = w3
        self.gas_limit = gas_limit
        self.timeout = timeout
        self.chain_id = int(w3.eth.chain_id)

    def _preflight(self, transaction: dict[str, Any]) -> int:
        from web3.exceptions import ContractLogicError

        probe = {key: transaction[key] for key in ("from", "to", "data") if key in transaction}
        try:
            if self.gas_limit is not None:
                self.w3.eth.call(probe)
                return self.gas_limit
            return int(self.w3.eth.estimate_gas(probe) * 1.25) + 20_000
        except ContractLogicError as exc:
            raise revert_error(str(exc.message or exc)) from None
        except Exception as exc:  # py-evm's TransactionFailed, transport errors
            if "revert" in str(exc):
                raise revert_error(str(exc)) from None
            raise errors.ConfigError(f"the node could not run the transaction: {exc}") from None

    def send(self, identity: Identity, transaction: dict[str, Any]) -> Any:
        """Send ``transaction`` (to/data) from ``identity`` and wait for its receipt."""
        transaction = {"from": identity.address, "value": 0, **transaction}
        if not transaction.get("to"):
            transaction.pop("to", None)  # a contract creation
        gas = self._preflight(transaction)
        transaction.update(
            gas=gas,
            gasPrice=int(self.w3.eth.gas_price),
            nonce=int(self.w3.eth.get_transaction_count(identity.address, "pending")),
            chainId=self.chain_id,
        )
        transaction.pop("from")
        signed = Account.sign_transaction(transaction, identity.private_key)
        try:
            tx_hash = self.w3.eth.send_raw_transaction(signed.raw_transaction)
        except ValueError as exc:  # the node refused it: funds for gas, nonce, fee
            raise errors.ConfigError(f"the node refused the transaction from {identity.address}: {exc}") from None
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=self.timeout, poll_latency=0.02)
        if int(receipt["status"]) != 1:
            # lost a race after the pre-flight: ask again for the reason at the new state
            self._preflight({"from": identity.address, **{k: v for k, v in transaction.items() if k in ("to", "data")}})
            raise errors.RejectedEvent(f"transaction {tx_hash.hex()} failed on chain (out of gas or a lost race)")
        return receipt


def deploy(
    w3: Any,
    admin: Identity,
    *,
    validator: Identity | str | None = None,
    name: str = "ledger",
    gas_limit: int | None = None,
    timeout: float = 120.0,
) -> Deployment:
    """Deploy the token and the ledger contract with ``admin``'s genesis event; returns the deployment.

    ``validator`` (default: the admin) seals blocks; when its key is given here it seals the genesis block.
    """
    validator_address = admin.address if validator is None else getattr(validator, "address", validator)
    sender = _Sender(w3, gas_limit, timeout)
    ledger_id = secrets.token_hex(16)
    genesis = sign_event(
        admin, ledger_id, LedgerCreated(name=name, admin=admin.address, validator=validator_address), 0
    )
    apply(State(), genesis)
    token_artifact, ledger_artifact = load_artifact("RewardToken"), load_artifact("Ledger")
    governance_artifact = load_artifact("Governance")
    token_address = _create(sender, admin, w3, token_artifact)["contractAddress"]
    governance_address = _create(sender, admin, w3, governance_artifact)["contractAddress"]
    receipt = _create(
        sender,
        admin,
        w3,
        ledger_artifact,
        token_address,
        bytes.fromhex(ledger_id),
        validator_address,
        genesis.body,
        governance_address,
    )
    ledger_address = receipt["contractAddress"]
    for address, artifact in ((token_address, token_artifact), (governance_address, governance_artifact)):
        contract = w3.eth.contract(address=address, abi=artifact["abi"])
        sender.send(admin, {"to": address, "data": contract.encode_abi("set_ledger", [ledger_address])})
    deployment = Deployment(
        chain_id=sender.chain_id,
        ledger=ledger_address,
        token=token_address,
        block=int(receipt["blockNumber"]),
        ledger_id=ledger_id,
        name=name,
        evm_version=ledger_artifact["evm_version"],
        governance=governance_address,
    )
    if isinstance(validator, Identity) or validator is None:
        key = admin if validator is None else validator
        assert isinstance(key, Identity)
        with EvmLedger(w3, deployment, validator=key, gas_limit=gas_limit) as ledger:
            ledger.seal()
    return deployment


def _create(sender: _Sender, admin: Identity, w3: Any, artifact: dict[str, Any], *args: Any) -> Any:
    """Deploy one contract from ``admin`` with constructor ``args``; the receipt."""
    factory = w3.eth.contract(abi=artifact["abi"], bytecode=artifact["bytecode"])
    return sender.send(admin, {"data": factory.constructor(*args).data_in_transaction, "to": b""})


class _AuditProblem(Exception):
    """The first problem an EVM audit finds: where, and what."""

    def __init__(self, location: str, problem: str) -> None:
        super().__init__(problem)
        self.location, self.problem = location, problem


class _ChainReplay:
    """Replays a deployment's logs once: events through the state machine (skipping and reporting a body that does
    not replay), each sealed header checked by the shared rules once the log holds exactly the events it seals."""

    def __init__(self, ledger: EvmLedger, head: int) -> None:
        self.ledger_id = ledger.ledger_id
        self.logs = ledger._logs(ledger.deployment.block, head)
        self.headers = [
            (ledger._header(log), bytes(log["args"]["block_hash"])) for n, log in self.logs if n == "Sealed"
        ]
        self.state, self.tree, self.chain = State(), MerkleTree(), ChainCheck(ledger.ledger_id)
        self.ledger_transactions: set[bytes] = set()

    def run(self, report: EvmVerifyReport, progress: ProgressCallback | None) -> None:
        """Fold every event and check every header; raise :class:`_AuditProblem` at the first chain problem."""
        total = sum(1 for name, _ in self.logs if name in EVENT_LOGS)
        self._check_due()
        names = TaskNames()
        for name, log in self.logs:
            if name not in EVENT_LOGS:
                continue
            if name == "Committed":
                log = as_appended(log, self.ledger_id, self.state, names)
            self.ledger_transactions.add(bytes(log["transactionHash"]))
            try:
                event = _event_of(log)
                if self.tree.size == 0 and event.ledger != self.ledger_id:
                    raise errors.WrongLedger("the genesis event belongs to another ledger")
                apply(self.state, event)
            except errors.LedgerMLError as exc:
                skipped = _skip(self.state, log, exc, self.tree.size)
                report.skipped.append(skipped)
                report.notes.append(skipped.note())
                continue
            self.tree.append(leaf_hash(bytes(log["args"]["body"])))
            if progress is not None and (self.tree.size % 2048 == 0 or self.tree.size == total):
                progress(self.tree.size, total)
            self._check_due()
        if self.chain.checked < len(self.headers):
            header = self.headers[self.chain.checked][0]
            raise _AuditProblem(
                f"block {header.height}",
                f"block log size {header.log_size} is not within the log ({self.tree.size} events)",
            )
        if self.tree.size == 0:
            raise _AuditProblem("event 0", "the chain holds no ledger events (genesis missing)")
        report.events_checked, report.blocks_checked = self.tree.size, self.chain.checked

    def _check_due(self) -> None:
        while self.chain.checked < len(self.headers) and self.headers[self.chain.checked][0].log_size <= self.tree.size:
            header, stored_hash = self.headers[self.chain.checked]
            problem = self.chain.check(header, self.tree, self.state, stored_hash=stored_hash)
            if problem is not None:
                raise _AuditProblem(f"block {header.height}", problem)


class EvmLedger:
    """A ledger whose rules run in the Ledger contract. Implements ``LedgerBackend``.

    ``signers`` are the identities whose events this process may send (``submit`` adds its identity);
    ``validator`` seals a block every ``block_size`` events; ``precheck`` runs the state machine before
    sending, so a doomed event costs no gas (the contract enforces the rules either way).
    """

    capabilities = Capabilities(atomic_batches=False, seals_by_time=False, distributed=True, storage_check=True)

    def __init__(
        self,
        w3: Any,
        deployment: Deployment,
        *,
        validator: Identity | None = None,
        signers: Sequence[Identity] = (),
        precheck: bool = True,
        block_size: int = 1000,
        gas_limit: int | None = None,
        timeout: float = 120.0,
    ) -> None:
        if block_size < 1:
            raise errors.ConfigError("block_size must be at least 1")
        self.w3 = w3
        self.deployment = deployment
        self.block_size = block_size
        self.precheck = precheck
        self._validator = validator
        self._signers = {identity.address: identity for identity in signers}
        if validator is not None:
            self._signers.setdefault(validator.address, validator)
        self._sender = _Sender(w3, gas_limit, timeout)
        if self._sender.chain_id != deployment.chain_id:
            raise errors.ConfigError(
                f"the node serves chain {self._sender.chain_id}, the deployment is on chain {deployment.chain_id}"
            )
        if not w3.eth.get_code(deployment.ledger):
            raise errors.ConfigError(f"no contract at {deployment.ledger} on chain {deployment.chain_id}")
        self.contract = w3.eth.contract(address=deployment.ledger, abi=load_artifact("Ledger")["abi"])
        self.token = w3.eth.contract(address=deployment.token, abi=load_artifact("RewardToken")["abi"])
        self.governance = (
            w3.eth.contract(address=deployment.governance, abi=load_artifact("Governance")["abi"])
            if deployment.governance
            else None
        )
        self._appended = self.contract.events.Appended()
        self._sealed = self.contract.events.Sealed()
        self._committed = self.contract.events.Committed()
        self._topics = {
            bytes(self.w3.keccak(text=_signature(self._appended.abi))): "Appended",
            bytes(self.w3.keccak(text=_signature(self._committed.abi))): "Committed",
            bytes(self.w3.keccak(text=_signature(self._sealed.abi))): "Sealed",
        }
        self._lock = threading.RLock()
        self.last_gas: list[int] = []
        """Gas used by each transaction of the last append (or seal)."""
        self._reset()

    def _reset(self) -> None:
        self._state = State()
        self._tree = MerkleTree()
        self._bodies: list[bytes] = []
        self._events: list[Event] = []
        self._ids: dict[str, int] = {}
        self._blocks: list[BlockHeader] = []
        self._skipped: list[SkippedTransaction] = []
        self._names = TaskNames()
        self._synced = self.deployment.block - 1

    # -- opening --------------------------------------------------------------------------------------

    @classmethod
    def open_url(cls, url: LedgerURL, *, validator: Identity | None, signers: Sequence[Identity]) -> EvmLedger:
        """``Ledger.open`` for ``evm+http(s)://HOST:PORT?deployment=FILE[&block_size=N&precheck=0&timeout=S]``."""
        deployment, options = _url_options(url)
        return cls.open(url.path, deployment, validator=validator, signers=signers, **options)

    @classmethod
    def create_url(cls, url: LedgerURL, *, admin: Identity, validator: Identity | None, name: str) -> EvmLedger:
        """``Ledger.create`` for an EVM URL: deploy the contracts and write the deployment file."""
        deployment, options = _url_options(url)
        return cls.create(url.path, deployment, admin=admin, validator=validator, name=name, **options)

    @classmethod
    def open(cls, rpc_url: str, deployment_file: str | os.PathLike[str], **options: Any) -> EvmLedger:
        """Open the deployment in ``deployment_file`` through the node at ``rpc_url``."""
        deployment = Deployment.load(deployment_file)
        return cls(connect(rpc_url), deployment, **options)

    @classmethod
    def create(
        cls,
        rpc_url: str,
        deployment_file: str | os.PathLike[str],
        *,
        admin: Identity,
        validator: Identity | None = None,
        name: str = "ledger",
        **options: Any,
    ) -> EvmLedger:
        """Deploy a new ledger through ``rpc_url`` and write its deployment file."""
        if Path(deployment_file).exists():
            raise errors.AlreadyExists(f"{deployment_file} exists already: it names another deployment")
        w3 = connect(rpc_url)
        deployment = deploy(w3, admin, validator=validator, name=name, gas_limit=options.get("gas_limit"))
        deployment.save(deployment_file)
        return cls(w3, deployment, validator=validator or admin, signers=[admin], **options)

    def close(self) -> None:
        """Nothing to release: the node holds the ledger."""

    def __enter__(self) -> EvmLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def ledger_id(self) -> str:
        """The 32-hex-digit id every event of this ledger is signed for."""
        return self.deployment.ledger_id

    @property
    def validator(self) -> Identity | None:
        """The validator key this process seals blocks with, if any."""
        return self._validator

    def add_signer(self, identity: Identity) -> None:
        """Let this process send ``identity``'s transactions."""
        self._signers[identity.address] = identity

    # -- reading the chain ----------------------------------------------------------------------------

    def _logs(self, start: int, stop: int) -> list[tuple[str, Any]]:
        raw = self.w3.eth.get_logs({"address": self.deployment.ledger, "fromBlock": start, "toBlock": stop})
        decoded = []
        for log in sorted(raw, key=lambda entry: (entry["blockNumber"], entry["logIndex"])):
            topics = log["topics"]
            name = self._topics.get(bytes(topics[0])) if topics else None
            if name == "Appended":
                decoded.append((name, self._appended.process_log(log)))
            elif name == "Committed":
                decoded.append((name, self._committed.process_log(log)))
            elif name == "Sealed":
                decoded.append((name, self._sealed.process_log(log)))
        return decoded

    def _sync(self) -> None:
        """Fold every log since the last sync into memory; a body that does not replay is skipped and kept
        in :attr:`skipped` (its sender's contract nonce is consumed in the state, as on chain)."""
        with self._lock:
            head = int(self.w3.eth.block_number)
            if head <= self._synced:
                return
            for name, log in self._logs(self._synced + 1, head):
                if name in EVENT_LOGS:
                    self._take_event(name, log)
                else:
                    self._blocks.append(self._header(log))
            self._synced = head

    def _take_event(self, name: str, log: Any) -> None:
        seq = len(self._events)
        if name == "Committed":
            log = as_appended(log, self.ledger_id, self._state, self._names)
        try:
            event = _event_of(log)
            apply(self._state, event)
        except errors.LedgerMLError as exc:
            self._skipped.append(_skip(self._state, log, exc, seq))
            return
        body = bytes(log["args"]["body"])
        self._bodies.append(body)
        self._events.append(event)
        self._ids[event.id] = seq
        self._tree.append(leaf_hash(body))

    def _header(self, log: Any) -> BlockHeader:
        args = log["args"]
        return BlockHeader(
            self.ledger_id,
            int(args["height"]),
            bytes(args["prev_hash"]),
            int(args["log_size"]),
            bytes(args["log_root"]),
            int(args["time"]),
            Address(args["proposer"]),
            bytes(args["signature"]),
        )

    @property
    def skipped(self) -> list[SkippedTransaction]:
        """Transactions on chain whose body does not replay (bad JSON, not canonical, a signature, actor or
        nonce that disagrees with the transaction, a rule the body breaks), in chain order."""
        self._sync()
        return list(self._skipped)

    def state(self) -> State:
        """The state replayed from the contract's logs. Treat it as read-only."""
        self._sync()
        return self._state

    @property
    def size(self) -> int:
        """Number of events in the log."""
        self._sync()
        return len(self._events)

    def next_nonce(self, address: str) -> int:
        """The nonce ``address`` must sign its next event with."""
        return next_nonce(self.state(), address)

    # -- appending ------------------------------------------------------------------------------------

    def _prepare(self, events: Sequence[Event], *, batch: bool) -> list[tuple[str, list[Any]]]:
        """Check every event (and, with precheck or in a batch, run the rules) without changing state.

        What the contract cannot check is always checked here, precheck or not: the signature, the ledger id,
        the body size and the event time (at most ``MAX_CLOCK_SKEW_MS`` ahead of this machine's clock, at most
        ``MAX_BACKDATE_MS`` before the latest event). A body that breaks them would land and then be skipped.
        """
        calls = []
        rules = self.precheck or (batch and len(events) > 1)
        now = now_ms()
        with self._lock:
            state = self._state
            try:
                with state.atomic():
                    for index, event in enumerate(events):
                        try:
                            check_envelope(state, event)
                            check_clock(event, now)
                            check_backdating(state, event)
                            if event.actor not in self._signers:
                                raise errors.ConfigError(
                                    f"this process holds no key for {event.actor}: on the EVM ledger every actor "
                                    "sends its own transaction (open the ledger with signers=[...])"
                                )
                            calls.append(event_call(event, state))
                            if calls[-1][0].startswith(GOVERNANCE) and self.governance is None:
                                raise errors.UnknownEventKind(
                                    f"this deployment has no governance contract (made before governance was on "
                                    f"chain): {event.kind} cannot be recorded on it; deploy a new ledger"
                                )
                            if rules:
                                apply(state, event, check_signature=False)
                        except errors.RejectedEvent as exc:
                            raise (exc.in_batch(index) if batch else exc) from None
                    raise _DryRun
            except _DryRun:
                pass
        return calls

    def _send_events(self, events: Sequence[Event], *, batch: bool) -> list[Receipt]:
        self._sync()
        calls = self._prepare(events, batch=batch)
        gas: list[int] = []
        self.last_gas = gas
        for index, (event, (function, args)) in enumerate(zip(events, calls, strict=True)):
            to, data = self.encode_call(function, args)
            try:
                receipt = self._sender.send(self._signers[event.actor], {"to": to, "data": data})
                gas.append(int(receipt["gasUsed"]))
            except errors.RejectedEvent as exc:
                if index:
                    exc.args = (f"{exc.args[0]} ({index} earlier event(s) of the batch are on chain)",)
                raise (exc.in_batch(index) if batch else exc) from None
        self._sync()
        for event in events:
            if event.id not in self._ids:  # landed, but its body does not replay (a lost race on the time rule)
                reason = next(
                    (s.reason for s in self._skipped if s.actor == event.actor and s.nonce == event.nonce), ""
                )
                raise errors.RejectedEvent(f"the transaction of event {event.id} landed but does not replay: {reason}")
        receipts = [Receipt(self._ids[event.id], event.id) for event in events]
        self._seal_due()
        self.last_gas = gas
        return receipts

    def encode_call(self, function: str, args: list[Any]) -> tuple[str, str]:
        """The target contract and data of one call: the Governance contract's for ``governance.*`` functions, whose
        :class:`LedgerCall` arguments (a proposal's exact call) are ABI-encoded Ledger calls."""
        if not function.startswith(GOVERNANCE):
            return self.deployment.ledger, self.contract.encode_abi(function, args)
        assert self.governance is not None  # _prepare refuses governance kinds without the contract
        resolved = [
            bytes.fromhex(self.contract.encode_abi(a.function, a.args)[2:]) if isinstance(a, LedgerCall) else a
            for a in args
        ]
        return self.deployment.governance, self.governance.encode_abi(function.removeprefix(GOVERNANCE), resolved)

    def append(self, event: Event) -> Receipt:
        """Send one signed event as its actor's transaction, or raise the specific rejection."""
        return self._send_events([event], batch=False)[0]

    def append_batch(self, events: Sequence[Event]) -> list[Receipt]:
        """Send several events, checked all together first; one transaction each, in order.

        Transactions are not atomic as a group: a concurrent writer that changes state between the check and
        the last transaction can make a later event fail after earlier ones landed (the error says so).
        """
        events = list(events)
        return self._send_events(events, batch=True) if events else []

    def submit(self, identity: Identity, payload: Payload) -> Receipt:
        """Sign ``payload`` as ``identity`` with its next nonce and send it."""
        self.add_signer(identity)
        event = sign_event(identity, self.ledger_id, payload, self.next_nonce(identity.address))
        return self.append(event)

    def submit_batch(self, identity: Identity, payloads: Sequence[Payload]) -> list[Receipt]:
        """Sign and send several payloads as ``identity``."""
        self.add_signer(identity)
        first = self.next_nonce(identity.address)
        events = [sign_event(identity, self.ledger_id, p, first + i) for i, p in enumerate(payloads)]
        return self.append_batch(events)

    # -- blocks ---------------------------------------------------------------------------------------

    def _seal_upto(self, log_size: int) -> BlockHeader:
        header = seal_next(
            self._blocks[-1] if self._blocks else None,
            self._tree,
            log_size,
            validator=self._validator,
            state=self._state,
            ledger_id=self.ledger_id,
            now=now_ms(),
        )
        assert self._validator is not None  # seal_next refuses to sign without it
        data = self.contract.encode_abi(
            "seal",
            [
                header.height,
                header.log_size,
                header.log_root,
                header.time,
                header.prev_hash,
                header.hash,
                header.signature,
            ],
        )
        receipt = self._sender.send(self._validator, {"to": self.deployment.ledger, "data": data})
        self.last_gas = [int(receipt["gasUsed"])]
        self._sync()
        return header

    def _seal_due(self) -> None:
        if self._validator is None or not self._blocks:
            return
        while len(self._events) - self._blocks[-1].log_size >= self.block_size:
            self._seal_upto(self._blocks[-1].log_size + self.block_size)

    def seal(self) -> BlockHeader | None:
        """Seal a block now over every pending event; None if nothing is pending."""
        self._sync()
        sealed = self._blocks[-1].log_size if self._blocks else 0
        return self._seal_upto(len(self._events)) if len(self._events) > sealed else None

    def block(self, height: int | None = None) -> BlockHeader:
        """Block ``height`` (default: the latest)."""
        self._sync()
        if not self._blocks:
            raise errors.NotFound("the ledger has no block yet")
        if height is None:
            return self._blocks[-1]
        if not 0 <= height < len(self._blocks):
            raise errors.NotFound(f"no block at height {height}")
        return self._blocks[height]

    def blocks(self, start: int = 0, stop: int | None = None) -> Iterator[BlockHeader]:
        """Blocks with ``start <= height < stop``, in order."""
        self._sync()
        return iter(self._blocks[max(start, 0) : stop])

    # -- reading events -------------------------------------------------------------------------------

    def _seq(self, ref: int | str) -> int:
        self._sync()
        if isinstance(ref, int):
            if 0 <= ref < len(self._events):
                return ref
        else:
            seq = self._ids.get(ref if ref.startswith("sha256:") else "sha256:" + ref)
            if seq is not None:
                return seq
        raise errors.NotFound(f"no event {ref!r} in this ledger")

    def get_event(self, ref: int | str) -> StoredEvent:
        """An event by sequence number or id (``sha256:<hex>``)."""
        seq = self._seq(ref)
        height = next((b.height for b in self._blocks if b.log_size > seq), None)
        return StoredEvent(seq, self._events[seq], height)

    def events(self, start: int = 0, stop: int | None = None) -> Iterator[StoredEvent]:
        """Events with ``start <= seq < stop``, in log order (block heights not filled in)."""
        self._sync()
        first = max(start, 0)
        return (StoredEvent(first + i, e, None) for i, e in enumerate(self._events[first:stop]))

    # -- proofs ---------------------------------------------------------------------------------------

    def _checked_tree(self, block: BlockHeader) -> MerkleTree:
        if self._tree.size < block.log_size:
            raise errors.TamperDetected(f"block {block.height} commits to more events than the chain holds")
        if self._tree.root(block.log_size) != block.log_root:
            raise errors.TamperDetected(f"the chain's events do not match block {block.height}'s log root")
        return self._tree

    def inclusion_proof(self, ref: int | str, height: int | None = None) -> InclusionProof:
        """Prove an event is in the log committed to by block ``height`` (default: the latest block)."""
        seq = self._seq(ref)
        block = self.block(height)
        if seq >= block.log_size:
            raise errors.InvalidProof(
                f"event {seq} is not sealed by block {block.height} (log size {block.log_size}); "
                "seal a later block first (ledgerml chain seal)"
            )
        tree = self._checked_tree(block)
        return InclusionProof(self._bodies[seq], seq, tree.inclusion_path(seq, block.log_size), block)

    def consistency_proof(self, old_height: int, new_height: int | None = None) -> ConsistencyProof:
        """Prove block ``old_height``'s log is a prefix of block ``new_height``'s (default: latest)."""
        old, new = self.block(old_height), self.block(new_height)
        if old.height > new.height:
            raise errors.InvalidProof(f"block {old.height} is not older than block {new.height}")
        tree = self._checked_tree(new)
        if tree.root(old.log_size) != old.log_root:
            raise errors.TamperDetected(f"the chain's events do not match block {old.height}'s log root")
        return ConsistencyProof(old, new, tree.consistency_proof(old.log_size, new.log_size))

    # -- contract storage -----------------------------------------------------------------------------

    def chain_view(self, state: State | None = None) -> dict[str, Any]:
        """What the contract's storage says for every key ``state`` (default: this ledger's) knows.

        Equal to ``view.project(state)`` exactly when the contract reached the same state as the rules.
        """
        state = self.state() if state is None else state
        f = self.contract.functions
        addresses = addresses_of(state)
        role_names = {bit: role.value for role, bit in ROLE_BITS.items()}
        view: dict[str, Any] = {
            "roles": {},
            "holders": {role.value: f.holders(bit).call() for role, bit in ROLE_BITS.items()},
            "nonces": {a: f.nonces(a).call() for a in addresses},
            "datasets": {},
            "models": {},
            "balances": {a: self.token.functions.balanceOf(a).call() for a in addresses},
            "minted": f.minted().call(),
            "tasks": {},
        }
        for address in addresses:
            mask = f.roles(address).call()
            view["roles"][address] = sorted(name for bit, name in role_names.items() if mask & bit)
        for dataset_id in sorted(state.rows("datasets")):
            info = f.dataset_info(digest32(dataset_id)).call()
            view["datasets"][dataset_id] = {"owner": _address(info & (2**160 - 1)), "records": info >> 160}
        for model_id in sorted(state.rows("models")):
            view["models"][model_id] = f.model_owner(digest32(model_id)).call()
        for task_id in sorted(state.rows("tasks")):
            view["tasks"][task_id] = self._task_view(task_id, state)
        view["governance"] = self._governance_view(state)
        return view

    def _governance_view(self, state: State) -> dict[str, Any]:
        """Governance.vy's storage in ``view.governance_view``'s shape (no contract: no policy, no proposals)."""
        if self.governance is None:
            return governance_view(State())
        g = self.governance.functions
        version = g.version().call()
        names = (*governance_view(state)["members"], *(p.proposer for p in proposals(state)))
        view: dict[str, Any] = {
            "version": version,
            "threshold": g.threshold().call(),
            "actions": g.actions().call(),
            "member_count": g.member_count().call(),
            "members": {a: True for a in dict.fromkeys(names) if version and g.member_of(a).call() == version},
            "proposals": {},
        }
        fields = ("digest", "call_hash", "action", "proposer", "expires", "version", "approvals", "rejections")
        for number in range(1, g.proposal_count().call() + 1):
            stored = dict(zip((*fields, "status"), g.proposals(number).call(), strict=True))
            stored["digest"] = bytes(stored["digest"]).hex()
            del stored["call_hash"], stored["expires"]
            view["proposals"][number] = stored
        return view

    def _task_view(self, task_id: str, state: State) -> dict[str, Any]:
        f = self.contract.functions
        key = task_key(task_id)
        packed = f.progress(key).call()
        finalized = packed & U64
        count = f.participant_count(key).call()
        joined = sorted(f.participant_at(key, i).call() for i in range(count))
        aggregator, min_participants, reward_pool, min_stake, slash_amount = f.tasks(key).call()
        record = task(state, task_id)
        prefixes = () if record is None else record.slash_on
        members = {}
        for address in joined:
            member = f.member(key, address).call()
            update = bytes(f.last_update(key, address).call())
            members[address] = {
                "last_round": member >> 1 & U64,
                "examples": member >> 128,
                "last_update": None if update in (ACCEPTED, ZERO32) else "sha256:" + update.hex(),
            }
        rounds = {}
        for round_ in range(1, finalized + 1):
            info = f.round_info(key, round_).call()
            fates = {}
            for address in joined:
                fate = bytes(f.fate(key, round_, address).call())
                if fate != ZERO32:
                    fates[address] = "accepted" if fate == ACCEPTED else fate.hex()
            rounds[round_] = {
                "ok": bool(info >> 64 & 1),
                "accepted": info & U64,
                "paid": bool(info >> 66 & 1),
                "fates": fates,
                "slashed": [a for a in joined if f.slashed(key, round_, a).call()],
            }
        return {
            "aggregator": aggregator,
            "min_participants": min_participants,
            "reward_pool": reward_pool,
            "min_stake": min_stake,
            "slash_amount": slash_amount,
            "slash_on": sorted(p for p in prefixes if f.slash_prefix(key, keccak256(p.encode())).call()),
            "rounds": packed >> 128,
            "finalized": finalized,
            "global_model": "sha256:" + bytes(f.global_model(key).call()).hex(),
            "pool": f.pools(key).call(),
            "participants": joined,
            "members": members,
            "stakes": {a: f.stakes(key, a).call() for a in joined},
            "settled": f.settled(key).call(),
            "round_info": rounds,
        }

    # -- audit ----------------------------------------------------------------------------------------

    def verify(self, progress: ProgressCallback | None = None) -> EvmVerifyReport:
        """Audit the chain: replay every event (signatures, rules), check every block's link, root, time and
        signature, and compare the contract's storage and the token balances with the replayed state.

        A transaction whose body does not replay is skipped and reported (``skipped``, and a note each), and
        the replay carries on. Such a transaction still fails the audit: the contract accepted the call and
        changed its storage (or moved tokens), and no valid signed event explains it. A junk call the contract
        refuses leaves nothing on chain, so it cannot fail an audit. Storage differences are reported first,
        named by field (``tasks.<id>.min_stake``).
        """
        report = EvmVerifyReport(ok=True)
        head = int(self.w3.eth.block_number)
        replay = _ChainReplay(self, head)
        try:
            replay.run(report, progress)
            self._compare_storage(replay, report, head)
        except _AuditProblem as found:
            report.ok, report.location, report.problem = False, found.location, found.problem
            report.events_checked, report.blocks_checked = replay.tree.size, replay.chain.checked
            return report
        report.unsealed_events = replay.tree.size - replay.chain.sealed
        if report.unsealed_events:
            report.notes.append(f"{report.unsealed_events} newest event(s) are not sealed in a block yet")
        report.notes.append(f"events, blocks and contract storage read from chain {self.deployment.chain_id}")
        report.state_digest = replay.state.digest()
        return report

    def _compare_storage(self, replay: _ChainReplay, report: EvmVerifyReport, head: int) -> None:
        """After the replay: the contract's head, every stored field and the token balances must match it."""
        state, chain = replay.state, replay.chain
        hint = f"; {len(report.skipped)} skipped transaction(s), see notes" if report.skipped else ""
        f = self.contract.functions
        head_hash = GENESIS_PREV_HASH if chain.previous is None else chain.previous.hash
        if (f.block_count().call(), bytes(f.head_hash().call())) != (chain.checked, head_hash):
            raise _AuditProblem(
                "contract storage", f"the contract's block count or head hash disagrees with its {chain.checked} blocks"
            )
        paths = [p for p in differences(project(state), self.chain_view(state)) if not p.startswith("balances")]
        if paths:
            shown = ", ".join(paths[:5]) + (f" and {len(paths) - 5} more" if len(paths) > 5 else "")
            raise _AuditProblem(
                "contract storage", f"the contract's storage disagrees with the replayed events at {shown}{hint}"
            )
        if report.skipped:
            first = report.skipped[0]
            more = f" ({len(report.skipped) - 1} more, see notes)" if len(report.skipped) > 1 else ""
            raise _AuditProblem(
                f"transaction {first.transaction}",
                f"the contract accepted this call from {first.actor} but its body does not replay ({first.reason}); "
                f"its effect on the contract is explained by no signed event{more}",
            )
        problem = self._check_tokens(state, replay.ledger_transactions, head, report)
        if problem is not None:
            raise _AuditProblem("token", problem + hint)

    def _check_tokens(
        self, state: State, ledger_transactions: set[bytes], head: int, report: VerifyReport
    ) -> str | None:
        """Every token balance is what the replayed events give plus the direct ERC-20 moves (transactions
        that carry no ledger event); a move inside a ledger transaction that its event does not explain fails."""
        expected: dict[str, int] = {a: balance(state, a) for a in addresses_of(state)}
        ledger_address = str(self.deployment.ledger)
        expected[ledger_address] = sum(state.rows("pools").values()) + sum(state.rows("stakes").values())
        transfer = self.token.events.Transfer()
        topic = bytes(self.w3.keccak(text=_signature(transfer.abi)))
        raw = self.w3.eth.get_logs(
            {"address": self.deployment.token, "fromBlock": self.deployment.block, "toBlock": head}
        )
        direct = 0
        for log in raw:
            if (
                not log["topics"]
                or bytes(log["topics"][0]) != topic
                or bytes(log["transactionHash"]) in ledger_transactions
            ):
                continue
            args = transfer.process_log(log)["args"]
            sender, receiver, value = str(args["sender"]), str(args["receiver"]), int(args["value"])
            direct += 1
            for address, delta in ((sender, -value), (receiver, value)):
                if int(address, 16):
                    expected[address] = expected.get(address, 0) + delta
        if direct:
            report.notes.append(f"{direct} direct ERC-20 transfer(s) moved tokens outside the ledger's events")
        for address, amount in sorted(expected.items()):
            held = int(self.token.functions.balanceOf(address).call())
            if held != amount:
                who = "the ledger contract (pools and stakes)" if address == ledger_address else address
                return f"{who} holds {held} tokens; the ledger's events and direct ERC-20 transfers give {amount}"
        return None


class _DryRun(Exception):
    """Raised inside ``State.atomic`` to undo a dry run."""


def _signature(abi: Any) -> str:
    return f"{abi['name']}({','.join(_abi_type(i) for i in abi['inputs'])})"


def _abi_type(item: Any) -> str:
    if item["type"].startswith("tuple"):
        return "(" + ",".join(_abi_type(c) for c in item["components"]) + ")" + str(item["type"])[5:]
    return str(item["type"])


def _event_of(log: Any) -> Event:
    """The signed event an ``Appended`` log carries (or a ``Committed`` one rebuilt, ``compact.as_appended``),
    checked against the log's actor and nonce."""
    args = log["args"]
    if args.get("error"):
        raise errors.MalformedEvent(str(args["error"]))
    event = parse_event(bytes(args["body"]))
    if event.actor != args["actor"] or event.nonce != int(args["nonce"]):
        raise errors.MalformedEvent(
            f"the event body names actor {event.actor} nonce {event.nonce}, but {args['actor']} sent it with "
            f"nonce {args['nonce']}"
        )
    return event


def fund(w3: Any, addresses: Sequence[str], wei: int = 10**19) -> None:
    """Top each address up to ``wei`` from the node's first unlocked account (dev nodes: anvil, py-evm).

    Real chains have no unlocked accounts: fund the keys from a wallet, or run a zero-gas-price chain.
    """
    source = w3.eth.accounts[0] if w3.eth.accounts else None
    if source is None:
        raise errors.ConfigError("the node has no unlocked account to fund keys from; fund them from a wallet")
    hashes = [
        w3.eth.send_transaction({"from": source, "to": a, "value": wei - held, "gas": 21_000})
        for a in addresses
        if (held := int(w3.eth.get_balance(a))) < wei // 2
    ]
    for tx_hash in hashes:
        w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60, poll_latency=0.02)


def wait_for_node(rpc_url: str, timeout: float = 30.0) -> None:
    """Wait until a node answers at ``rpc_url``; ``ConfigError`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            connect(rpc_url, timeout=2.0)
            return
        except errors.ConfigError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


__all__ = ["DEFAULT_EVM_VERSION", "Deployment", "EvmLedger", "connect", "deploy", "fund", "wait_for_node"]
