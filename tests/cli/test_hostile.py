"""Hostile inputs against the core and the command line (issue 21): each test names the item it covers.

Every failure must be one line with an exit code from the error table, print no traceback, and change nothing:
the ledger's events and ``verify`` stay as they were.
"""

from __future__ import annotations

import functools
import json
import os
import re
import resource
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerml import Identity, Ledger, sqlite_url
from ledgerml._json import MAX_JSON_DEPTH, JsonTooLarge, loads_bounded, nesting_depth
from ledgerml.errors import InvalidProof, InvalidTransition, MalformedEvent
from ledgerml.events import MAX_EVENT_BYTES, MAX_EVENT_TIME, Event, sign_event
from ledgerml.ledger.proofs import InclusionProof
from ledgerml.ledger.sqlite import SqliteLedger
from ledgerml.state import MAX_BACKDATE_MS, MAX_CLOCK_SKEW_MS
from ledgerml.vocab.core import DatasetRegistered
from ledgerml.vocab.tokens import TokensMinted

from .._cli import error_classes, event_count, one_error_line, run_cli_in, snapshot

DEEP = 200_000


def deep_array(depth: int = DEEP) -> bytes:
    """The 400 KB input that crashed ``json.loads`` once py_ecc had raised the recursion limit."""
    return b"[" * depth + b"]" * depth


def ledgerml(
    env: dict[str, str], *args: str, check: bool = False, **options: object
) -> subprocess.CompletedProcess[str]:
    """Run the installed command in a new process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "ledgerml", *args], env=env, capture_output=True, text=True, check=check, **options
    )  # type: ignore[call-overload]


def in_process(home: Path, *args: str) -> None:
    """Run ``ledgerml ARGS`` against ``home`` in this process, for set-up that is not what a test checks."""
    result = run_cli_in(home, *args)
    assert result.code == 0, (args, result)


# -- item 2: bounded JSON --------------------------------------------------------------------------------


def test_deep_json_is_refused_without_recursion_even_with_py_ecc_loaded() -> None:
    import py_ecc  # noqa: F401  (raises the recursion limit to 100,000 on import: the condition of the crash)

    assert sys.getrecursionlimit() >= 100_000
    with pytest.raises(JsonTooLarge, match="nested more than"):
        loads_bounded(deep_array())
    with pytest.raises(JsonTooLarge, match="is 9 bytes; at most 8 are accepted"):
        loads_bounded(b"[1, 2, 3]", max_bytes=8)
    assert loads_bounded(b'{"a": "[[[[[[", "b": [[1]]}', max_depth=3) == {"a": "[[[[[[", "b": [[1]]}


def test_depth_bound_is_exact_on_both_sides_of_the_bracket_count_shortcut() -> None:
    """The scan is skipped only when the text has no more opening brackets than the bound."""
    assert loads_bounded(b"[" * 4 + b"]" * 4, max_depth=4) == [[[[]]]]
    with pytest.raises(JsonTooLarge):
        loads_bounded(b"[" * 5 + b"]" * 5, max_depth=4)
    assert loads_bounded(b'["[[[[[[", [[[]]]]', max_depth=4) == ["[[[[[[", [[[]]]]  # brackets in strings
    with pytest.raises(JsonTooLarge):
        loads_bounded(b'["[", [[[[]]]]]', max_depth=4)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab,:'),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=3), children, max_size=3),
    max_leaves=20,
)


def reference_depth(value: object) -> int:
    if isinstance(value, list):
        return 1 + max((reference_depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((reference_depth(v) for v in value.values()), default=0)
    return 0


@given(json_values)
def test_nesting_depth_matches_the_structure(value: object) -> None:
    """Brackets inside strings (escaped quotes included) never count; real nesting always does."""
    raw = json.dumps(value).encode()
    assert nesting_depth(raw) == reference_depth(value)
    assert loads_bounded(raw) == value


@pytest.mark.parametrize(
    "command",
    [
        ["chain", "append", "--file", "{deep}"],
        ["chain", "verify-proof", "{deep}"],
        ["verify", "model", "{model}", "--attestation", "{deep}"],
        ["chain", "append", "--kind", "TokensMinted", "--payload", "{deep_text}"],
    ],
    ids=["chain-append-file", "verify-proof", "verify-model-attestation", "chain-append-payload"],
)
def test_deep_json_input_is_one_line_in_a_separate_process(tmp_path: Path, command: list[str]) -> None:
    """Run as a user would (a new process, py_ecc loaded by the CLI): no SIGSEGV, one line, nothing written."""
    home = tmp_path / "home"
    env = {**os.environ, "LEDGERML_HOME": str(home)}
    in_process(home, "init", "--unencrypted")
    deep = tmp_path / "deep.json"
    deep.write_bytes(deep_array())
    model = tmp_path / "model.bin"
    model.write_bytes(b"weights")
    before = snapshot(home)
    values = {"deep": str(deep), "model": str(model), "deep_text": "[" * 20_000 + "]" * 20_000}
    args = [part.format(**values) for part in command]
    result = subprocess.run([sys.executable, "-m", "ledgerml", *args], env=env, capture_output=True, text=True)
    assert result.returncode > 0 and result.returncode != -signal.SIGSEGV, result
    assert one_error_line(result.stderr), result.stderr
    assert snapshot(home) == before


# -- items 8, 14, 15: limits in the state machine -----------------------------------------------------------


def test_oversized_event_is_refused_and_changes_nothing(sqlite_ledger: SqliteLedger, admin: Identity) -> None:
    """Item 8: one limit for every backend, in the state machine (the EVM contract's MAX_BODY)."""
    from ledgerml.vocab.core import RoleGranted

    sqlite_ledger.submit(admin, RoleGranted(subject=admin.address, role="data_owner"))
    before = sqlite_ledger.size
    big = DatasetRegistered(dataset_id="sha256:" + "a" * 64, name="big", consent_note="x" * 4000, metadata={})
    huge = DatasetRegistered(
        dataset_id="sha256:" + "b" * 64, name="big", metadata={f"k{i}": "v" * 200 for i in range(100)}
    )
    sqlite_ledger.submit(admin, big)  # under the limit: fine
    with pytest.raises(MalformedEvent, match=f"at most {MAX_EVENT_BYTES:,}"):
        sqlite_ledger.submit(admin, huge)
    assert sqlite_ledger.size == before + 1 and sqlite_ledger.verify().ok


@pytest.mark.parametrize("amount", [True, 2.0, "2"], ids=["bool", "float", "string"])
def test_payload_json_types_are_compared_exactly(amount: object) -> None:
    """Item 14: ``true`` and ``2.0`` equal 1 and 2 in Python, not in JSON."""
    from ledgerml.events import validate_payload

    admin = Identity.from_private_key("a", (7).to_bytes(32, "big"))
    with pytest.raises(MalformedEvent):
        validate_payload("TokensMinted", {"amount": amount, "to": admin.address, "task_id": None})
    assert validate_payload("TokensMinted", {"amount": 2, "to": admin.address, "task_id": None})


def test_payload_types_through_the_cli(cli, home: Path) -> None:  # type: ignore[no-untyped-def]
    before = snapshot(home)
    for amount in ("true", "2.0"):
        payload = json.dumps({"amount": "@", "to": None, "task_id": None}).replace('"@"', amount)
        result = cli("chain", "append", "--kind", "TokensMinted", "--payload", payload)
        assert result.code == 16 and one_error_line(result.err), result
    assert snapshot(home) == before


def _signed(identity: Identity, ledger: SqliteLedger, payload: TokensMinted, time_ms: int) -> Event:
    return sign_event(identity, ledger.ledger_id, payload, ledger.next_nonce(identity.address), time_ms=time_ms)


def test_event_time_is_bounded(sqlite_ledger: SqliteLedger, admin: Identity) -> None:
    """Item 15: at most 9999-12-31, not far behind the latest event, not far ahead of the ledger's clock."""
    mint = TokensMinted(amount=1, to=admin.address)
    latest = sqlite_ledger.get_event(sqlite_ledger.size - 1).event.time
    before = sqlite_ledger.size
    for time_ms, error, words in [
        (latest - MAX_BACKDATE_MS - 1, InvalidTransition, "backdating"),
        (latest + MAX_CLOCK_SKEW_MS + 60_000, InvalidTransition, "ahead of this ledger's clock"),
        (MAX_EVENT_TIME, InvalidTransition, "ahead of this ledger's clock"),
    ]:
        with pytest.raises(error, match=words):
            sqlite_ledger.append(_signed(admin, sqlite_ledger, mint, time_ms))
    assert sqlite_ledger.size == before
    sqlite_ledger.append(_signed(admin, sqlite_ledger, mint, latest - MAX_BACKDATE_MS + 1000))  # small skew is fine
    assert sqlite_ledger.verify().ok


@pytest.mark.parametrize("time_value", [2**63 - 1, 2**63, -1, MAX_EVENT_TIME + 1])
def test_signed_event_files_with_extreme_times(cli, home: Path, tmp_path: Path, time_value: int) -> None:  # type: ignore[no-untyped-def]
    """Item 15 through ``chain append --file``: one line, exit 16, and ``chain log`` still works."""
    admin = Identity.from_private_key("x", (5).to_bytes(32, "big"))
    event = Event(
        ledger="0" * 32, kind="TokensMinted", actor=admin.address, nonce=0, time=time_value,
        payload={"amount": 1, "to": admin.address, "task_id": None},
    )  # fmt: skip
    batch = tmp_path / "events.jsonl"
    batch.write_text(json.dumps(event.to_dict()) + "\n")
    before = snapshot(home)
    result = cli("chain", "append", "--file", str(batch))
    assert result.code == 16 and one_error_line(result.err), result
    assert snapshot(home) == before
    assert cli("chain", "log").code == 0


# -- issue 11's bug: a caller's unvalidated pydantic object ------------------------------------------------


def test_model_construct_payload_is_refused_and_the_ledger_still_opens(tmp_path: Path, admin: Identity) -> None:
    url = sqlite_url(tmp_path / "ledger.db")
    with Ledger.create(url, admin=admin) as ledger:
        bad = DatasetRegistered.model_construct(dataset_id="not-a-digest", name="x")
        with pytest.raises(MalformedEvent, match="dataset_id"):
            ledger.submit(admin, bad)
        assert ledger.size == 1
    with Ledger.open(url) as reopened:
        assert reopened.verify().ok and reopened.size == 1


# -- item 16: one line for every bad command-line input ------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["chain", "show", str(2**70)],
        ["chain", "show", "--block", str(2**70)],
        ["chain", "show", "--block", str(-(2**70))],
        ["chain", "log", "--from", str(2**70)],
        ["chain", "log", "--from", str(-(2**70)), "--limit", str(2**70)],
        ["chain", "blocks", "--from", str(2**64)],
        ["chain", "proof", str(2**64)],
        ["chain", "proof", "0", "--block", str(2**64)],
        ["chain", "consistency", str(2**64)],
        ["chain", "consistency", "0", str(-(2**64))],
        ["chain", "show", "\u0661\u0662"],  # Arabic-Indic digits
        ["chain", "show", "\u00b2"],  # superscript two: isdigit() but not int()
        ["chain", "proof", "0", "--out", "{tmp}/missing/proof.json"],
        ["chain", "proof", "0", "--out", "{tmp}"],
        ["chain", "append", "--file", "{binary}"],
        ["chain", "append", "--file", "{tmp}"],
        ["chain", "append", "--file", "{tmp}/nothing.jsonl"],
        ["chain", "append", "--kind", "RoleGranted", "--payload", "\udcff"],
        ["chain", "verify-proof", "{binary}"],
        ["role", "grant", "auditor", "0x" + "z" * 40],
        ["identity", "create", "x" * 10_000, "--unencrypted"],
    ],
)
def test_bad_command_line_inputs_are_one_line(cli, home: Path, tmp_path: Path, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    binary = tmp_path / "binary.bin"
    binary.write_bytes(bytes(range(256)) * 4)
    cli("chain", "seal")
    before = snapshot(home)
    result = cli(*[a.format(tmp=tmp_path, binary=binary) for a in args])
    if args[1] in ("log", "blocks"):  # a window past the end lists nothing, as it should
        assert result.code == 0 and "Traceback" not in result.err, result
    else:
        assert result.code not in (0, 70) and one_error_line(result.err), result
    assert snapshot(home) == before
    assert not (tmp_path / "missing").exists()


def test_a_damaged_or_mangled_ledger_file_is_one_line_under_verify(cli, home: Path) -> None:  # type: ignore[no-untyped-def]
    original = (home / "ledger.db").read_bytes()
    conn = sqlite3.connect(home / "ledger.db")
    conn.execute("ALTER TABLE blocks RENAME COLUMN proposer TO someone")
    conn.commit()
    conn.close()
    mangled = cli("verify")
    assert mangled.code == 31 and one_error_line(mangled.err), mangled
    (home / "ledger.db").write_bytes(b"SQLite format 3\x00" + os.urandom(8192))
    for suffix in ("-wal", "-shm"):
        Path(str(home / "ledger.db") + suffix).unlink(missing_ok=True)
    garbage = cli("verify")
    assert garbage.code in (2, 31) and one_error_line(garbage.err), garbage
    (home / "ledger.db").write_bytes(original)
    assert cli("verify").code == 0


def test_disk_full_on_a_ledger_write_is_one_line_and_appends_nothing(tmp_path: Path) -> None:
    """RLIMIT_FSIZE below the ledger file's pages: SQLite's write fails; exit 6, nothing appended, retry works."""
    home = tmp_path / "home"
    # no .pyc writes under the limit: a truncated cache file would break later imports of every process
    env = {**os.environ, "LEDGERML_HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1"}
    in_process(home, "init", "--unencrypted")
    in_process(home, "identity", "create", "alice", "--unencrypted")
    limit = 4096  # below any offset SQLite writes a page at (the WAL's first frame ends past it)

    def small_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    padding = "x" * 3000
    payload = json.dumps(
        DatasetRegistered(name="big", dataset_id="sha256:" + "c" * 64, consent_note=padding).model_dump(mode="json")
    )
    in_process(home, "role", "grant", "data_owner", "admin")
    before = snapshot(home)
    result = subprocess.run(
        [sys.executable, "-m", "ledgerml", "chain", "append", "--kind", "DatasetRegistered", "--payload", payload],
        env=env,
        capture_output=True,
        text=True,
        preexec_fn=small_files,
    )
    assert result.returncode == 6 and one_error_line(result.stderr), result
    assert snapshot(home) == before
    in_process(home, "chain", "append", "--kind", "DatasetRegistered", "--payload", payload)  # the retry works
    in_process(home, "verify")


# -- item 18: config.json edits ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "setting"),
    [
        ({"validator": "nobody"}, "validator"),
        ({"validator": "alice"}, "validator"),
        ({"block_interval": float("nan")}, "block_interval"),
        ({"block_interval": -1}, "block_interval"),
        ({"block_size": True}, "block_size"),
        ({"block_size": 0}, "block_size"),
        ({"ledger": 5}, "ledger"),
        ({"ledger": "sqlite:///elsewhere.db"}, "ledger"),
        ({"synchronous": "off"}, "synchronous"),
        ({"colour": "blue"}, "colour"),
        ({"admin": "../../etc/passwd"}, "admin"),
    ],
)
def test_config_edits_are_refused_naming_the_setting(cli, home: Path, edit: dict[str, object], setting: str) -> None:  # type: ignore[no-untyped-def]
    path = home / "config.json"
    config = json.loads(path.read_text())
    config.update(edit)
    path.write_text(json.dumps(config))  # json.dumps writes NaN as the bare word NaN, as an editor might
    before = snapshot(home)
    result = cli("role", "grant", "auditor", "bob")
    assert result.code == 2 and one_error_line(result.err) and repr(setting) in result.err, result
    assert snapshot(home) == before


def test_config_that_is_not_json_or_too_deep(cli, home: Path) -> None:  # type: ignore[no-untyped-def]
    path = home / "config.json"
    for text in ("{", "[" * 5000 + "]" * 5000, "[]"):
        path.write_text(text)
        result = cli("chain", "log")
        assert result.code == 2 and one_error_line(result.err), result


# -- item 19: the proof parser ------------------------------------------------------------------------------


@pytest.fixture
def proof(sqlite_ledger: SqliteLedger) -> dict[str, object]:
    sqlite_ledger.seal()
    return sqlite_ledger.inclusion_proof(0).to_dict()


@pytest.mark.parametrize(
    "mutate",
    [
        lambda p: p.update(leaf_index="0"),
        lambda p: p.update(leaf_index=0.0),
        lambda p: p.update(leaf_index=True),
        lambda p: p.update(leaf_index=-1),
        lambda p: p.update(tree_size=1.0),
        lambda p: p["block"].update(v=True),
        lambda p: p["block"].update(log_root=p["block"]["log_root"] + "\n"),
        lambda p: p["block"].update(log_root=p["block"]["log_root"].upper()),
        lambda p: p["block"].update(height=1.0),
        lambda p: p["block"].update(ledger=7),
        lambda p: p["block"].update(signature="0x" + "AB" * 65),
        lambda p: p.update(path=["0" * 63 + "\n"]),
    ],
)
def test_proof_fields_are_typed_strictly(proof: dict[str, object], mutate) -> None:  # type: ignore[no-untyped-def]
    changed = json.loads(json.dumps(proof))
    mutate(changed)
    with pytest.raises(InvalidProof):
        InclusionProof.from_dict(changed)
    assert InclusionProof.from_dict(json.loads(json.dumps(proof)))


# -- item 11: which ledger is this? ------------------------------------------------------------------------


def test_verify_refuses_a_swapped_ledger_and_checks_trust_and_id(cli, home: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    ledger_id = json.loads(cli("chain", "show", "0", "--json").out)["ledger"]
    admin = json.loads(cli("identity", "show", "admin", "--json").out)["address"]
    assert cli("verify", "--trust", admin, "--ledger-id", ledger_id).code == 0
    assert cli("verify", "--ledger-id", "f" * 32).code == 31
    assert cli("verify", "--ledger-id", "not-hex").code == 2
    assert cli("verify", "--trust", "0x" + "1" * 40).code in (2, 31)
    other = tmp_path / "other"
    stranger = Identity.from_private_key("stranger", (99).to_bytes(32, "big"))
    Ledger.create(sqlite_url(other), admin=stranger).close()
    for suffix in ("", "-wal", "-shm"):
        Path(str(home / "ledger.db") + suffix).unlink(missing_ok=True)
    (home / "ledger.db").write_bytes(other.read_bytes())
    swapped = cli("verify")
    assert swapped.code == 31 and "created by" in swapped.err and one_error_line(swapped.err), swapped
    assert cli("verify", "--trust", stranger.address).code in (0, 2)  # the home's validator key is no validator


# -- the whole command tree under random arguments -----------------------------------------------------------

SKIPPED_COMMANDS = {
    ("demo",): "runs a whole federation; covered by its own tests",
    ("fl", "run"): "runs a whole federation; its bad configs are covered in test_federated",
    ("node", "start"): "starts a node process",
    ("chain", "deploy"): "deploys contracts on a node",
    ("serve",): "serves until stopped; its bad options, SIGTERM and bad requests are covered in tests/service",
    ("consensus", "tune"): "simulates thousands of QBFT heights (6-10 s a call); bad conditions in tests/consensus",
    ("witness", "serve"): "serves until SIGTERM; its key, state and SIGTERM are covered in tests/witness and tests/cli",
    ("scenario", "run"): "runs a whole domain scenario; its bad input is covered in tests/scenarios/test_cli.py",
}


@functools.cache
def command_tree() -> tuple[tuple[tuple[str, ...], object], ...]:
    """Every leaf command of the CLI with its click command object, walked once per process (building the whole
    typer tree took three quarters of the fuzzer's time when it was walked again for every example)."""
    import click
    import typer

    from ledgerml.cli import app

    found: list[tuple[tuple[str, ...], object]] = []

    def walk(path: tuple[str, ...], command: click.Command) -> None:
        if isinstance(command, click.Group):
            if path and getattr(command, "invoke_without_command", False):
                found.append((path, command))
            for name, sub in command.commands.items():
                walk((*path, name), sub)
        else:
            found.append((path, command))

    walk((), typer.main.get_command(app))
    return tuple((p, c) for p, c in found if p not in SKIPPED_COMMANDS)


HOSTILE_TEXT = [
    "",
    "0",
    "-1",
    str(2**64),
    str(-(2**70)),
    "1e400",
    "nan",
    "\u0663",
    "x" * 5000,
    "sha256:" + "0" * 63,
    "0x" + "0" * 40,
    '{"a": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}',  # noqa: E501
    "evm+http://127.0.0.1:1",
    "admin",
    "\x00",
]
PATH_NAMES = ["missing.json", "binary.bin", "deep.json", "empty.txt", "folder", "missing-folder/out.json", "text.csv"]


def _arg_values(param: object, tmp: Path) -> st.SearchStrategy[list[str]]:
    import click

    assert isinstance(param, click.Parameter)
    values: st.SearchStrategy[str]
    if isinstance(param.type, click.Choice):
        values = st.sampled_from([*map(str, param.type.choices), "nope"])
    elif isinstance(param.type, click.Path) or "path" in (param.name or "") or "file" in (param.name or ""):
        values = st.sampled_from([str(tmp / name) for name in PATH_NAMES])
    else:
        values = st.sampled_from(HOSTILE_TEXT + [str(tmp / name) for name in PATH_NAMES])
    if isinstance(param, click.Argument):
        return values.map(lambda v: [v])
    assert isinstance(param, click.Option)
    if param.is_flag:
        return st.just([param.opts[0]])
    return values.map(lambda v: [param.opts[0], v])


@functools.cache
def _exit_codes() -> frozenset[int]:
    """0, usage mistakes (2) and every error class's code, from every module (not only those loaded so far: the
    fuzzer once failed on ChainUnreachable's 7 when no earlier test had imported ``ledgerml.anchor``)."""
    return frozenset({0, 2} | {cls.exit_code for cls in error_classes()})


@pytest.fixture(scope="module")
def fuzz_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("fuzz")
    home = root / "home"
    assert run_cli_in(home, "init", "--unencrypted", "--block-size", "2").code == 0
    assert run_cli_in(home, "identity", "create", "alice", "--unencrypted").code == 0
    (root / "binary.bin").write_bytes(os.urandom(2048))
    (root / "deep.json").write_bytes(deep_array(50_000))
    (root / "empty.txt").write_text("")
    (root / "folder").mkdir()
    (root / "text.csv").write_text("a,b\n1,2\n")
    return home


@settings(max_examples=int(os.environ.get("LEDGERML_FUZZ_EXAMPLES", "150")), deadline=None, database=None)
@given(data=st.data())
def test_random_arguments_over_the_whole_command_tree(fuzz_home: Path, data: st.DataObject) -> None:
    """Any command, any subset of its options, hostile values: a known exit code, one line, nothing changed."""
    tmp = fuzz_home.parent
    path, command = data.draw(st.sampled_from(command_tree()), label="command")
    args = list(path)
    for param in command.params:  # type: ignore[attr-defined]
        if param.name in ("home", "help") or (not param.required and not data.draw(st.booleans())):
            continue
        args += data.draw(_arg_values(param, tmp), label=param.name)
    before = event_count(fuzz_home)
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(tmp)
        result = run_cli_in(fuzz_home, *args)
    assert result.code in _exit_codes(), (args, result)
    assert "Traceback" not in result.err and "internal error" not in result.err, (args, result)
    if result.code != 0:
        assert one_error_line(result.err), (args, result)
        assert event_count(fuzz_home) == before, args
    with Ledger.open(sqlite_url(fuzz_home / "ledger.db")) as ledger:
        assert ledger.verify().ok, args
    assert not (tmp / "missing-folder").exists(), args


def test_every_exit_code_is_in_the_error_table() -> None:
    """docs/ledger.md's table names every exit code and every error class that brings its own code; a new error
    class with a new code fails here until the table has it."""
    section = (Path(__file__).parents[2] / "docs" / "ledger.md").read_text().split("## Errors and exit codes")[1]
    section = section.split("\n## ")[0]
    listed = {int(code) for code in re.findall(r"\| (\d+) \|", section)}
    missing = []
    for cls in error_classes():
        parent_codes = {base.exit_code for base in cls.__bases__ if hasattr(base, "exit_code")}
        if cls.exit_code not in listed:
            missing.append(f"{cls.__name__} ({cls.exit_code})")
        elif cls.exit_code not in parent_codes and f"`{cls.__name__}`" not in section:
            missing.append(f"{cls.__name__} ({cls.exit_code}) is not named")
    assert not missing, missing


def test_the_command_tree_is_covered() -> None:
    """A new command is fuzzed automatically; this fails if the walk finds too few (a broken walk passes nothing)."""
    names = {" ".join(path) for path, _ in command_tree()}
    assert {"chain append", "verify", "data register", "fraud score", "token mint", "audit task"} <= names
    assert len(names) >= 40
    assert MAX_JSON_DEPTH >= 32


def test_error_messages_keep_square_brackets(cli, home: Path) -> None:  # type: ignore[no-untyped-def]
    """rich markup must not eat ``[attack]``-like words from a message."""
    result = cli("chain", "append", "--kind", "NoSuchKind[attack]", "--payload", "{}")
    assert result.code == 15 and "NoSuchKind[attack]" in result.err, result


def test_a_payload_value_the_schema_refuses_is_one_line(cli, home: Path) -> None:  # type: ignore[no-untyped-def]
    """Found by the command-tree fuzzer: 'token mint 0 --task ""' leaked a pydantic ValidationError (exit 70)."""
    before = event_count(home)
    for args, kind in (
        (("token", "mint", "0", "--task", ""), "TokensMinted"),
        (("token", "transfer", "bob", "0"), "TokensTransferred"),
        (("consensus", "set-policy", "--note", "x" * 5000), "SealingPolicySet"),  # a 30,000-example run's find
    ):
        result = cli(*args)
        assert result.code == 16 and one_error_line(result.err) and kind in result.err, (args, result)
    assert event_count(home) == before
