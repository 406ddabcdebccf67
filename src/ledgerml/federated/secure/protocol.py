"""The four stages of one secure-aggregation round, as plain functions over bytes and numpy (no transport).

1. ``ClientSession.advertise``: two X25519 public keys (one encrypts shares, one makes pairwise masks).
2. ``ClientSession.share``: Shamir shares of the self-mask seed and of the mask key, one sealed bundle per peer.
3. ``ClientSession.mask``: ``y = x + PRG(b) + sum_j sign(i, j) PRG(s_ij)`` modulo 2**64 over the peers that shared.
4. ``ClientSession.reveal``: shares of survivors' self-mask seeds and of dropped clients' mask keys, never both
   for one client; ``unmask`` then removes every mask from the survivors' sum.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from ..._json import loads_bounded
from . import keys, prf, shamir


def context_bytes(ledger_id: str, task_id: str, round_: int) -> bytes:
    """What binds a round's keys, shares and masks to one ledger, task and round."""
    return f"{ledger_id}|{task_id}|{round_}".encode()


def threshold(clients: int) -> int:
    """Shares needed to reconstruct a secret among ``clients`` sharing clients: a strict majority (at least 2)."""
    return max(2, clients // 2 + 1)


def seed_commitment(seed: bytes) -> str:
    """``sha256:`` digest of a self-mask seed (recorded before masking, checked after reconstruction)."""
    return "sha256:" + hashlib.sha256(seed).hexdigest()


def sign(me: str, peer: str) -> int:
    """+1 if ``me`` adds the pair's mask, -1 if it subtracts it (ordered by name)."""
    return 1 if me < peer else -1


def points(clients: list[str]) -> dict[str, int]:
    """Each client's Shamir point: its 1-based rank among the sorted clients."""
    return {name: i + 1 for i, name in enumerate(sorted(clients))}


@dataclass
class ClientSession:
    """One client's secrets for one round."""

    me: str
    context: bytes
    cipher: X25519PrivateKey = field(default_factory=keys.new_key)
    masker: X25519PrivateKey = field(default_factory=keys.new_key)
    self_seed: bytes = field(default_factory=lambda: secrets.token_bytes(prf.SEED_BYTES))
    peers: dict[str, dict[str, str]] = field(default_factory=dict)
    held: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    """Shares received: sender -> (point, share of its self seed, share of its mask key)."""
    sharers: list[str] = field(default_factory=list)
    split: tuple[list[str], list[str]] | None = None
    cipher_secrets: dict[str, bytes] = field(default_factory=dict, repr=False)
    """The one split of survivors and dropped this client revealed shares for (a second one is refused)."""

    def advertise(self) -> dict[str, str]:
        """The two public keys this client advertises."""
        return {"cipher_key": keys.public_hex(self.cipher), "mask_key": keys.public_hex(self.masker)}

    def share(self, peers: Mapping[str, Mapping[str, str]], limit: int | None = None) -> dict[str, bytes]:
        """Sealed shares of the self seed and the mask key for every advertised peer (itself included)."""
        if self.me not in peers:
            raise ValueError("the key list leaves out this client")
        self.peers = {name: dict(value) for name, value in peers.items()}
        where = points(list(peers))
        t = limit or threshold(len(peers))
        seed_shares = shamir.split(self.self_seed, list(where.values()), t)
        key_shares = shamir.split(keys.private_bytes(self.masker), list(where.values()), t)
        sealed = {}
        for name, x in sorted(where.items()):
            body = json.dumps({"from": self.me, "to": name, "x": x, "b": seed_shares[x], "s": key_shares[x]})
            sealed[name] = keys.seal(self._cipher_secret(name), self.context, self.me, name, body.encode())
        return sealed

    def _cipher_secret(self, peer: str) -> bytes:
        """The X25519 secret shared with ``peer``'s cipher key (one exchange per peer, both directions)."""
        if peer not in self.cipher_secrets:
            self.cipher_secrets[peer] = keys.shared_secret(self.cipher, self.peers[peer]["cipher_key"])
        return self.cipher_secrets[peer]

    def take(self, sender: str, sealed: bytes) -> None:
        """Open and keep the shares ``sender`` sealed for this client; ``ValueError`` if they do not open."""
        if sender not in self.peers:
            raise ValueError(f"{sender} advertised no keys this round")
        opened = keys.unseal(self._cipher_secret(sender), self.context, sender, self.me, sealed)
        body = loads_bounded(opened, what="share bundle", max_bytes=4096, max_depth=2)
        mine = points(list(self.peers))[self.me]
        if not isinstance(body, dict) or (body.get("from"), body.get("to"), body.get("x")) != (sender, self.me, mine):
            raise ValueError(f"the share bundle from {sender} is not addressed to this client")
        self.held[sender] = (int(body["x"]), int(body["b"]), int(body["s"]))

    def mask(self, encoded: np.ndarray, sharers: list[str]) -> np.ndarray:
        """The masked input: ``encoded`` plus the self mask plus the signed pairwise masks of ``sharers``."""
        missing = sorted(set(sharers) - set(self.held))
        if self.me not in sharers or missing:
            raise ValueError(f"no shares held from {missing}" if missing else "this client is not among the sharers")
        self.sharers = sorted(sharers)
        total = np.asarray(encoded, dtype=np.uint64) + prf.mask(self.self_seed, len(encoded))
        for peer in self.sharers:
            if peer != self.me:
                seed = keys.pair_seed(self.masker, self.peers[peer]["mask_key"], self.context, self.me, peer)
                pair = prf.mask(seed, len(encoded))
                total = total + pair if sign(self.me, peer) > 0 else total - pair
        return np.asarray(total, dtype=np.uint64)

    def reveal(self, survivors: list[str], dropped: list[str]) -> dict[str, dict[str, int]]:
        """Shares of each survivor's self seed (``b``) and each dropped client's mask key (``s``); refuses a
        request that would reveal both secrets of one client or that is not a split of the sharers."""
        alive, gone = set(survivors), set(dropped)
        if self.split is not None and self.split != (sorted(alive), sorted(gone)):
            raise ValueError("this round's shares were revealed for another split of survivors and dropped")
        if alive & gone or alive | gone != set(self.sharers) or self.me not in alive:
            raise ValueError("the unmask request is not a split of this round's sharers into survivors and dropped")
        if len(alive) < threshold(len(self.sharers)):
            raise ValueError(f"{len(alive)} survivors are fewer than the threshold {threshold(len(self.sharers))}")
        self.split = (sorted(alive), sorted(gone))
        out: dict[str, dict[str, int]] = {}
        for name in sorted(alive | gone):
            x, b, s = self.held[name]
            out[name] = {"x": x, "b": b} if name in alive else {"x": x, "s": s}
        return out

    def mask_key_bytes(self) -> bytes:
        """The mask private key (revealed only in an audited opening of this client's input)."""
        return keys.private_bytes(self.masker)


def exchange_in_process(names: list[str], context: bytes) -> dict[str, ClientSession]:
    """The key and share stages run in one process (tests, benchmarks): a session per name that advertised its
    keys, sealed its shares for every other and opened every share sealed for it."""
    sessions = {name: ClientSession(name, context) for name in names}
    advertised = {name: session.advertise() for name, session in sessions.items()}
    sealed = {name: session.share(advertised) for name, session in sessions.items()}
    for name, session in sessions.items():
        for sender in names:
            session.take(sender, sealed[sender][name])
    return sessions


def reconstruct(reveals: Mapping[str, Mapping[str, Mapping[str, int]]], name: str, part: str, t: int) -> bytes:
    """``name``'s secret (``part`` ``b`` = self seed, ``s`` = mask key) from the ``t`` revealed shares with the
    smallest points; ``ValueError`` if fewer were revealed."""
    found = {int(r[name]["x"]): int(r[name][part]) for r in reveals.values() if name in r and part in r[name]}
    if len(found) < t:
        raise ValueError(f"{len(found)} shares of {name}'s {part} secret were revealed, {t} are needed")
    chosen = dict(sorted(found.items())[:t])
    return shamir.reconstruct(chosen)


def self_mask_total(seeds: Mapping[str, bytes], length: int) -> np.ndarray:
    """The sum of the survivors' self masks."""
    total = np.zeros(length, dtype=np.uint64)
    for name in sorted(seeds):
        total = total + prf.mask(seeds[name], length)
    return total


def dangling_total(
    mask_keys: Mapping[str, bytes], public: Mapping[str, str], survivors: list[str], context: bytes, length: int
) -> np.ndarray:
    """The pairwise masks survivors still carry with each dropped client (``mask_keys``: the dropped clients'
    reconstructed keys; ``public``: every sharer's mask public key), signed as the survivors added them."""
    total = np.zeros(length, dtype=np.uint64)
    for dropped, raw in sorted(mask_keys.items()):
        key = keys.private_key(raw)
        if keys.public_hex(key) != public[dropped]:
            raise ValueError(f"the reconstructed mask key of {dropped} does not match its advertised key")
        for survivor in sorted(survivors):
            pair = prf.mask(keys.pair_seed(key, public[survivor], context, survivor, dropped), length)
            total = total + pair if sign(survivor, dropped) > 0 else total - pair
    return total


def unmask(
    masked: Mapping[str, np.ndarray],
    seeds: Mapping[str, bytes],
    mask_keys: Mapping[str, bytes],
    public: Mapping[str, str],
    context: bytes,
) -> np.ndarray:
    """Sum of the survivors' inputs: their masked inputs minus their self masks minus the pairwise masks left
    by dropped clients (``seeds`` must name exactly the survivors)."""
    survivors = sorted(masked)
    if sorted(seeds) != survivors:
        raise ValueError("a self-mask seed is needed for every survivor and only for them")
    length = len(next(iter(masked.values())))
    total = np.zeros(length, dtype=np.uint64)
    for name in survivors:
        total = total + np.asarray(masked[name], dtype=np.uint64)
    total = total - self_mask_total(seeds, length)
    return np.asarray(total - dangling_total(mask_keys, public, survivors, context, length), dtype=np.uint64)


def open_input(
    masked: np.ndarray,
    me: str,
    self_seed: bytes,
    mask_key: bytes,
    public: Mapping[str, str],
    sharers: list[str],
    context: bytes,
) -> np.ndarray:
    """One client's unmasked input, from its masked input, its self seed and its mask key (an audited
    opening: with these the auditor removes every mask that client added)."""
    key = keys.private_key(mask_key)
    if keys.public_hex(key) != public[me]:
        raise ValueError(f"the opened mask key of {me} does not match its advertised key")
    total = np.asarray(masked, dtype=np.uint64) - prf.mask(self_seed, len(masked))
    for peer in sorted(sharers):
        if peer != me:
            pair = prf.mask(keys.pair_seed(key, public[peer], context, me, peer), len(masked))
            total = total - pair if sign(me, peer) > 0 else total + pair
    return np.asarray(total, dtype=np.uint64)
