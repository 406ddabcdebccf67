"""The ledger home folder: ``ledger.db``, ``keys/`` (keystores), ``artifacts/`` and ``config.json``."""

from __future__ import annotations

import json
import math
import os
import shutil
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Literal

from ._extras import require_extra
from ._files import replace_atomically
from ._json import load_file
from .errors import AlreadyExists, ConfigError, KeystoreError, LedgerMLError, NotFound
from .identity import Identity, KeyStore, check_identity_name, password_from_env
from .ledger.base import LedgerBackend
from .ledger.registry import Ledger, evm_url, sqlite_url
from .store import ArtifactStore, LocalStore
from .types import Address

DEFAULT_HOME = ".ledgerml"
CONFIG_NAME = "config.json"
MAX_CONFIG_BYTES = 1 << 20
"""Largest ``config.json`` read (checked before reading it)."""


@dataclass
class HomeConfig:
    """What ``config.json`` holds."""

    admin: str
    validator: str
    default_identity: str
    block_size: int = 1000
    block_interval: float = 5.0
    synchronous: str = "normal"
    ledger: str = ""
    """A ledger URL that replaces the home's SQLite file (``evm+http://...?deployment=FILE``)."""
    dev_funding: bool = False
    """Top up keys with gas money from the node's unlocked account (local dev nodes only)."""


_CONFIG_TYPES: dict[str, tuple[type, ...]] = {
    "admin": (str,),
    "validator": (str,),
    "default_identity": (str,),
    "block_size": (int,),
    "block_interval": (int, float),
    "synchronous": (str,),
    "ledger": (str,),
    "dev_funding": (bool,),
}
HOME_SYNCHRONOUS = ("normal", "full")
"""Durability settings a home accepts: ``off`` can lose acknowledged events, so a home refuses it."""
MAX_BLOCK_SIZE = 1_000_000
MAX_BLOCK_INTERVAL = 86_400.0


def parse_config(data: object, where: str) -> HomeConfig:
    """Check ``config.json``'s content field by field (exact JSON types, ranges); ``ConfigError`` names the setting."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must hold a JSON object")
    unknown = sorted(set(data) - set(_CONFIG_TYPES))
    if unknown:
        raise ConfigError(f"{where}: unknown setting {unknown[0]!r}")
    for key in ("admin", "validator", "default_identity"):
        if key not in data:
            raise ConfigError(f"{where}: setting {key!r} is missing")
    for key, value in data.items():
        allowed = _CONFIG_TYPES[key]
        if type(value) not in allowed:
            names = " or ".join(t.__name__ for t in allowed)
            raise ConfigError(f"{where}: setting {key!r} must be {names}, got {json.dumps(value)[:60]}")
    config = HomeConfig(**data)
    for key in ("admin", "validator", "default_identity"):
        try:
            check_identity_name(getattr(config, key))
        except LedgerMLError as exc:
            raise ConfigError(f"{where}: setting {key!r}: {exc}") from None
    if not 1 <= config.block_size <= MAX_BLOCK_SIZE:
        raise ConfigError(f"{where}: setting 'block_size' must be from 1 to {MAX_BLOCK_SIZE}")
    if not (math.isfinite(config.block_interval) and 0 < config.block_interval <= MAX_BLOCK_INTERVAL):
        raise ConfigError(f"{where}: setting 'block_interval' must be seconds above 0 and at most {MAX_BLOCK_INTERVAL}")
    if config.synchronous not in HOME_SYNCHRONOUS:
        raise ConfigError(f"{where}: setting 'synchronous' must be one of {', '.join(HOME_SYNCHRONOUS)}")
    if config.ledger and not config.ledger.startswith("evm+"):
        raise ConfigError(f"{where}: setting 'ledger' must be empty (the home's ledger.db) or an evm+http(s):// URL")
    return config


class Home:
    """A ledger home. Find one with :meth:`resolve`; make one with :meth:`init`."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser().resolve()

    @classmethod
    def resolve(cls, home: str | os.PathLike[str] | None = None) -> Home:
        """``home``, else ``$LEDGERML_HOME``, else ``./.ledgerml``."""
        return cls(home or os.environ.get("LEDGERML_HOME") or DEFAULT_HOME)

    @property
    def ledger_path(self) -> Path:
        """The SQLite ledger file."""
        return self.path / "ledger.db"

    @property
    def keys(self) -> KeyStore:
        """The keystore folder."""
        return KeyStore(self.path / "keys")

    @property
    def artifacts_path(self) -> Path:
        """The content-addressed artifact store folder."""
        return self.path / "artifacts"

    def store(self) -> ArtifactStore:
        """The home's artifact store (``artifacts/``), as durable as the ledger (fsync with ``synchronous=full``)."""
        return LocalStore(self.artifacts_path, fsync=self.config().synchronous == "full")

    @property
    def config_path(self) -> Path:
        """``config.json``."""
        return self.path / CONFIG_NAME

    def exists(self) -> bool:
        """True if this folder holds an initialised ledger home."""
        return self.config_path.is_file()

    def config(self) -> HomeConfig:
        """Read ``config.json``; ``NotFound`` if the home was never initialised."""
        if not self.exists():
            raise NotFound(f"no ledger home at {self.path}: run 'ledgerml init' (or pass --home / LEDGERML_HOME)")
        data: Any = load_file(self.config_path, max_bytes=MAX_CONFIG_BYTES, error=ConfigError)
        return parse_config(data, str(self.config_path))

    def init(
        self,
        *,
        admin_name: str = "admin",
        password: str | None = None,
        unencrypted: bool = False,
        ledger_name: str = "ledger",
        block_size: int = 1000,
        block_interval: float = 5.0,
        synchronous: str = "normal",
        kdf: Literal["scrypt", "pbkdf2"] = "scrypt",
        evm_rpc: str | None = None,
        dev_funding: bool = False,
    ) -> tuple[HomeConfig, Identity]:
        """Create the home, the admin identity (who is also validator) and the ledger; all or nothing.

        With ``evm_rpc`` the ledger is deployed on that chain (deployment file ``HOME/deployment.json``)
        instead of the SQLite file; ``dev_funding`` pays gas from the node's unlocked account (anvil).
        """
        check_identity_name(admin_name)
        if self.exists() or self.ledger_path.exists():
            raise AlreadyExists(f"a ledger home exists at {self.path} already")
        created_folder = not self.path.exists()
        keys_existed = (self.path / "keys").exists()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
            self.artifacts_path.mkdir(exist_ok=True)
            try:
                admin = self.keys.load(admin_name, password)
            except NotFound:
                admin = self.keys.create(admin_name, password, unencrypted=unencrypted, kdf=kdf)
            config = HomeConfig(
                admin=admin_name,
                validator=admin_name,
                default_identity=admin_name,
                block_size=block_size,
                block_interval=block_interval,
                synchronous=synchronous,
                dev_funding=dev_funding,
            )
            parse_config(asdict(config), str(self.config_path))  # refuse bad settings before any ledger exists
            config.ledger = self._create_ledger(admin, config, ledger_name, evm_rpc)
            self.write_config(config)
        except BaseException:
            self._undo_init(created_folder, keys_existed)
            raise
        return config, admin

    def _create_ledger(self, admin: Identity, config: HomeConfig, name: str, evm_rpc: str | None) -> str:
        """Create the home's ledger (its SQLite file, or contracts on ``evm_rpc``); the URL to record, if EVM."""
        url = sqlite_url(
            self.ledger_path,
            synchronous=config.synchronous,
            block_size=config.block_size,
            block_interval=config.block_interval,
        )
        chain_url = ""
        if evm_rpc is not None:
            require_extra("evm", "a ledger on an EVM chain")
            chain_url = url = evm_url(evm_rpc, self.path / "deployment.json", block_size=config.block_size)
            if config.dev_funding:
                from .ledger.evm.backend import connect, fund

                fund(connect(evm_rpc), [admin.address])
        Ledger.create(url, admin=admin, name=name).close()
        return chain_url

    def _undo_init(self, created_folder: bool, keys_existed: bool) -> None:
        """Remove what a failed :meth:`init` made: the folder it created, or the files it added to one."""
        if created_folder:
            shutil.rmtree(self.path, ignore_errors=True)
            return
        (self.path / "deployment.json").unlink(missing_ok=True)
        for leftover in (self.ledger_path, self.config_path):
            for suffix in ("", "-wal", "-shm"):
                Path(str(leftover) + suffix).unlink(missing_ok=True)
        if not keys_existed:
            shutil.rmtree(self.path / "keys", ignore_errors=True)

    def deploy_evm_ledger(
        self,
        rpc: str,
        key: str,
        *,
        deployment: Path | None = None,
        name: str = "ledger",
        use: bool = False,
        dev_funding: bool = False,
    ) -> tuple[Any, Path, str]:
        """Deploy the ledger and token contracts from identity ``key`` through ``rpc``; write the deployment file
        (default ``HOME/deployment.json``) and, with ``use``, make it this home's ledger. Returns the
        ``Deployment``, the file and the ledger URL. Nothing is written when the file exists or its folder does not."""
        require_extra("evm", "deploying the EVM ledger")
        from .ledger.evm.backend import connect, deploy, fund

        identity = self.identity(key)
        path = deployment or self.path / "deployment.json"
        if path.exists():
            raise AlreadyExists(f"{path} exists already: it names another deployment")
        if not path.parent.is_dir():
            raise NotFound(f"folder {path.parent} does not exist")
        w3 = connect(rpc)
        if dev_funding:
            fund(w3, [identity.address])
        result = deploy(w3, identity, name=name)
        result.save(path)
        url = evm_url(rpc, path.resolve())
        if use:
            self.write_config(replace(self.config(), ledger=url, dev_funding=dev_funding))
        return result, path, url

    def write_config(self, config: HomeConfig) -> None:
        """Replace ``config.json`` whole (temporary file + rename), after checking it as :meth:`config` would."""
        parse_config(asdict(config), str(self.config_path))
        replace_atomically(self.config_path, (json.dumps(asdict(config), indent=2) + "\n").encode())

    def ledger_url(self) -> str:
        """The ledger URL with this home's block and durability settings."""
        config = self.config()
        if config.ledger:
            return config.ledger
        return sqlite_url(
            self.ledger_path,
            synchronous=config.synchronous,
            block_size=config.block_size,
            block_interval=config.block_interval,
        )

    def identity(self, name: str | None = None, password: str | None = None) -> Identity:
        """Load identity ``name`` (default: the home's default identity); password from the env if not given."""
        config = self.config()
        return self.keys.load(name or config.default_identity, password or password_from_env())

    def open_ledger(self, *, password: str | None = None, as_validator: bool = True) -> LedgerBackend:
        """Open the home's ledger; with the validator key when it can be loaded, so blocks get cut."""
        config = self.config()
        validator = None
        validator_address: Address | None = None
        try:
            validator_address = self.keys.info(config.validator).address
        except NotFound:
            if as_validator:  # a read-only audit needs no keys at all; a writing process needs the validator's
                raise ConfigError(
                    f"{self.config_path}: setting 'validator' names {config.validator!r}, "
                    f"which is not a key in {self.keys.folder}"
                ) from None
        except LedgerMLError as exc:
            raise ConfigError(f"{self.config_path}: setting 'validator': {exc}") from None
        if as_validator:
            try:
                validator = self.keys.load(config.validator, password or password_from_env())
            except (KeystoreError, NotFound):
                validator = None  # appends still land; blocks wait for a process holding the key
        if not as_validator:
            validator_address = None  # a read-only open signs nothing: the audit itself says whose ledger it is
        if not config.ledger:
            ledger = Ledger.open(self.ledger_url(), validator=validator)
            self._check_validator(ledger, validator_address)
            return ledger
        require_extra("evm", f"the ledger {config.ledger.split('?')[0]}")
        signers = self.loadable_identities(password)
        ledger = Ledger.open(self.ledger_url(), validator=validator, signers=signers)
        self._check_validator(ledger, validator_address)
        if config.dev_funding:
            from .ledger.evm.backend import EvmLedger, fund

            assert isinstance(ledger, EvmLedger)
            fund(ledger.w3, [identity.address for identity in signers])
        return ledger

    def _check_validator(self, ledger: LedgerBackend, address: Address | None) -> None:
        """Refuse a home whose configured validator does not hold the validator role on its ledger."""
        from .types import Role
        from .vocab.core import roles_of

        if address is not None and Role.VALIDATOR not in roles_of(ledger.state(), address):
            ledger.close()
            raise ConfigError(
                f"{self.config_path}: setting 'validator' names a key ({address}) "
                "that is not a validator of this ledger"
            )

    def loadable_identities(self, password: str | None = None) -> list[Identity]:
        """Every stored identity that opens without a prompt (unencrypted, or with the password given or in the
        environment): on an EVM ledger these are the keys this process may send transactions with."""
        found = []
        for info in self.keys.list():
            try:
                found.append(self.keys.load(info.name, password or password_from_env()))
            except (KeystoreError, NotFound):
                continue
        return found

    def resolve_address(self, name_or_address: str) -> Address:
        """An address given directly, or the address of a stored identity of that name."""
        from .types import to_address

        if name_or_address.startswith("0x"):
            return to_address(name_or_address)
        try:
            return self.keys.info(name_or_address).address
        except LedgerMLError:
            raise NotFound(f"{name_or_address!r} is neither an address nor a stored identity") from None
