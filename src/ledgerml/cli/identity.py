"""``ledgerml identity create|import|export|register-key|list|show``: keys and their Ethereum addresses."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

import typer

from .._json import load_file
from ..errors import AlreadyExists, ConfigError, KeystoreError
from ..identity import UNENCRYPTED_WARNING, Identity, KeyStore, check_identity_name
from ._common import (
    HomeOption,
    JsonOption,
    ask_password,
    check_out,
    console,
    emit_json,
    err_console,
    home_of,
    table,
    write_json,
)

app = typer.Typer(help="Create and inspect identities (secp256k1 keys, V3 keystores).", no_args_is_help=True)


def _store(home: str | None) -> KeyStore:
    return home_of(home).keys


def _register_key(home: str | None, identity: Identity) -> int | None:
    """Register ``identity``'s encryption key on the home's embedded ledger, if any; the event's seq."""
    from ..access import register_encryption_key

    target = home_of(home)
    if not target.exists():
        return None
    with target.open_ledger() as ledger:
        if ledger.capabilities.distributed:
            err_console.print("note: encryption keys are kept on the embedded ledger only; not registered on chain")
            return None
        receipt = register_encryption_key(ledger, identity)
    return None if receipt is None else receipt.seq


def _store_new(home: str | None, name: str, make: Callable[[KeyStore], Identity]) -> tuple[Identity, int | None]:
    """Create a keystore with ``make`` and register its encryption key; the keystore is removed if that fails."""
    store = _store(home)
    if home_of(home).exists():
        home_of(home).config()  # a broken home is refused before any key is written
    identity = make(store)
    try:
        seq = _register_key(home, identity)
    except BaseException:
        (store.folder / f"{name}.json").unlink(missing_ok=True)
        raise
    return identity, seq


def _print_new(name: str, identity: Identity, seq: int | None, unencrypted: bool, json_out: bool) -> None:
    if unencrypted:
        err_console.print(f"[yellow]warning[/]: {UNENCRYPTED_WARNING}")
    if json_out:
        emit_json(
            {
                "name": name,
                "address": identity.address,
                "encrypted": not unencrypted,
                "encryption_key": identity.encryption_public_key.hex(),
                "key_registered": seq,
            }
        )
    else:
        console.print(f"{name}: {identity.address}" + ("" if not unencrypted else "  [yellow](UNENCRYPTED)[/]"))


UnencryptedOption = Annotated[
    bool, typer.Option("--unencrypted", help="Store the key in PLAINTEXT (demos and tests only).")
]


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Identity name (letters, digits, '_', '.', '-').")],
    home: HomeOption = None,
    unencrypted: UnencryptedOption = False,
    json_out: JsonOption = False,
) -> None:
    """Create a new identity (signing and X25519 encryption keys, a V3 keystore); register its encryption key."""
    check_identity_name(name)
    password = None if unencrypted else ask_password(confirm=True, purpose=f"new identity {name!r}")
    identity, seq = _store_new(home, name, lambda store: store.create(name, password, unencrypted=unencrypted))
    _print_new(name, identity, seq, unencrypted, json_out)


@app.command("import")
def import_(
    name: Annotated[str, typer.Argument(help="Name for the imported identity.")],
    keystore: Annotated[
        Path | None, typer.Option("--keystore", help="A V3 keystore file (geth, Foundry, MetaMask export).")
    ] = None,
    private_key_stdin: Annotated[
        bool, typer.Option("--private-key-stdin", help="Read a hex private key from standard input instead.")
    ] = False,
    home: HomeOption = None,
    unencrypted: UnencryptedOption = False,
    json_out: JsonOption = False,
) -> None:
    """Import an existing Ethereum key (a V3 keystore, or a hex key on stdin); it gets a new encryption key.

    A keystore is kept with its own encryption: LEDGERML_PASSWORD must be its password, which then opens the identity.
    """
    check_identity_name(name)
    if (keystore is None) == (not private_key_stdin):
        raise ConfigError("give exactly one of --keystore FILE or --private-key-stdin")
    if _store(home).folder.joinpath(f"{name}.json").exists():
        raise AlreadyExists(f"identity {name!r} exists already")
    if keystore is not None:
        document = load_file(keystore, max_bytes=1 << 20, error=KeystoreError)
        source_password = ask_password(confirm=False, purpose=f"keystore {keystore}")

        def make(store: KeyStore) -> Identity:
            return store.import_v3(name, document, source_password, unencrypted=unencrypted)

    else:
        raw = _hex_key(sys.stdin.read(200))
        password = None if unencrypted else ask_password(confirm=True, purpose=f"imported identity {name!r}")

        def make(store: KeyStore) -> Identity:
            return store.create(name, password, unencrypted=unencrypted, identity=Identity.from_private_key(name, raw))

    identity, seq = _store_new(home, name, make)
    _print_new(name, identity, seq, unencrypted, json_out)


def _hex_key(text: str) -> bytes:
    value = text.strip().removeprefix("0x")
    if len(value) != 64:
        raise KeystoreError("a private key is 64 hex digits (optionally after 0x) on one line")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise KeystoreError("a private key is 64 hex digits (optionally after 0x) on one line") from None


@app.command("export")
def export(
    name: Annotated[str, typer.Argument(help="Identity to export.")],
    out: Annotated[Path | None, typer.Option("--out", help="Write the keystore here instead of stdout.")] = None,
    kdf: Annotated[
        Literal["scrypt", "pbkdf2"],
        typer.Option(help="KDF for a plaintext identity's export (an encrypted one keeps its own)."),
    ] = "scrypt",
    home: HomeOption = None,
    json_out: JsonOption = True,
) -> None:
    """Write the identity's signing key as a standard V3 keystore (geth, Foundry, MetaMask read it)."""
    check_out(out)
    store = _store(home)
    info = store.info(name)
    password = ask_password(confirm=not info.encrypted, purpose=f"exported keystore of {name!r}")
    write_json(store.export_v3(name, password, kdf=kdf), out)


@app.command("register-key")
def register_key(
    name: Annotated[str, typer.Argument(help="Identity whose encryption key to register (created if missing).")],
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Register an identity's X25519 encryption key on the ledger, giving older keystores one first."""
    store = _store(home)
    home_of(home).config()
    info = store.info(name)
    password = ask_password(confirm=False, purpose=f"identity {name!r}") if info.encrypted else None
    identity = store.add_encryption_key(name, password)
    seq = _register_key(home, identity)
    if json_out:
        emit_json({"name": name, "encryption_key": identity.encryption_public_key.hex(), "key_registered": seq})
    else:
        state = "registered" if seq is not None else "registered already"
        console.print(f"{name}: encryption key {identity.encryption_public_key.hex()[:16]}… {state}")


@app.command("list")
def list_(home: HomeOption = None, json_out: JsonOption = False) -> None:
    """List stored identities."""
    infos = _store(home).list()
    if json_out:
        emit_json([{"name": i.name, "address": i.address, "encrypted": i.encrypted} for i in infos])
    else:
        table(
            "identities",
            ["name", "address", "storage"],
            [[i.name, i.address, "encrypted" if i.encrypted else "UNENCRYPTED"] for i in infos],
        )


@app.command("show")
def show(
    name: Annotated[str, typer.Argument(help="Identity name.")],
    home: HomeOption = None,
    json_out: JsonOption = False,
) -> None:
    """Show one identity's address, storage and (if the home has a ledger) its roles and nonce."""
    target = home_of(home)
    info = target.keys.info(name)
    data: dict[str, object] = {
        "name": info.name,
        "address": info.address,
        "encrypted": info.encrypted,
        "keystore": str(info.path),
    }
    if target.exists():
        from ..state import next_nonce
        from ..vocab.core import roles_of

        with target.open_ledger(as_validator=False) as ledger:
            state = ledger.state()
            data["roles"] = sorted(role.value for role in roles_of(state, info.address))
            data["next_nonce"] = next_nonce(state, info.address)
    if json_out:
        emit_json(data)
    else:
        for key, value in data.items():
            console.print(f"{key:>10}: {value}")
