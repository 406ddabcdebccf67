"""Benchmark sealed datasets: seal/open throughput beside OpenSSL's AES-256-GCM, and revoking 1 of 100 grantees.

Usage: python benchmarks/access.py [--size-mb 1024] [--grantees 100] [--out benchmarks/results/access.json]

``openssl enc`` refuses AEAD ciphers ("enc: AEAD ciphers not supported", OpenSSL 3.0), so the AEAD baseline is
``openssl speed -evp aes-256-gcm`` (in memory, 1 MiB buffers, the same chunk size) and the file baseline is
``openssl enc -aes-256-ctr`` on the same file (the same cipher without the GCM tag). All are measured in this run.
Prints a Markdown table (for docs/access.md) and writes JSON.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ledgerml import Identity, Ledger, RoleGranted, sqlite_url
from ledgerml.access import decrypt_dataset, grant_access, register_encryption_key, revoke_access, seal_dataset
from ledgerml.access.crypto import DEFAULT_CHUNK, decrypt_chunks, encrypt_stream
from ledgerml.store import LocalStore
from ledgerml.types import Role

MIB = 1 << 20


def ident(name: str, seed: int) -> Identity:
    return Identity.from_private_key(name, (seed + 1).to_bytes(32, "big")).with_encryption_key(
        (seed + 7).to_bytes(32, "big")
    )


def make_file(path: Path, size_mb: int) -> None:
    block = os.urandom(MIB)
    with open(path, "wb") as out:
        for index in range(size_mb):
            out.write(block[index % 97 :] + block[: index % 97])


def _cpu() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def timed(fn: Any) -> tuple[float, Any]:
    """CPU seconds (this process and its children) of ``fn()``, and its result; wall seconds in ``WALL``.

    CPU time, as ``openssl speed`` measures by default: the machine is shared, so wall time mostly measures the
    other users' load. Wall times are recorded beside it.
    """
    start, wall = _cpu(), time.perf_counter()
    result = fn()
    WALL.append(time.perf_counter() - wall)
    return _cpu() - start, result


WALL: list[float] = []


def openssl_speed(decrypt: bool) -> float:
    """MB/s of ``openssl speed -evp aes-256-gcm`` on 1 MiB buffers (in memory)."""
    command = ["openssl", "speed", "-evp", "aes-256-gcm", "-bytes", str(DEFAULT_CHUNK), "-seconds", "3", "-mr"]
    if decrypt:
        command.insert(2, "-decrypt")
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = re.search(r"\+F:\d+:[^:]+:([0-9.]+)", output)
    assert match is not None, output
    return float(match.group(1)) / 1e6


def openssl_ctr_file(source: Path, target: Path, decrypt: bool) -> float:
    """Seconds of ``openssl enc -aes-256-ctr`` over the file (no tag: the closest file-to-file baseline)."""
    key, iv = "11" * 32, "22" * 16
    command = ["openssl", "enc", "-aes-256-ctr", "-K", key, "-iv", iv, "-in", str(source), "-out", str(target)]
    if decrypt:
        command.insert(2, "-d")
    seconds, _ = timed(lambda: subprocess.run(command, check=True))
    return seconds


def openssl_sha256_file(source: Path) -> float:
    """CPU seconds of ``openssl dgst -sha256`` over the file."""
    seconds, _ = timed(
        lambda: subprocess.run(["openssl", "dgst", "-sha256", str(source)], check=True, capture_output=True)
    )
    return seconds


def stream_file(source: Path, target: Path) -> tuple[float, float]:
    """CPU seconds of ledgerml's chunked AEAD stream file to file, encrypt then decrypt (no ledger, no store)."""
    key = os.urandom(32)
    with open(source, "rb") as handle, open(target, "wb") as out:
        encrypt_s, _ = timed(lambda: encrypt_stream(key, b"bench", handle, out.write, digest=False))
    plain = target.with_suffix(".plain")
    with open(target, "rb") as handle, open(plain, "wb") as out:
        decrypt_s, _ = timed(lambda: [out.write(chunk) for chunk in decrypt_chunks(key, b"bench", handle)])
    target.unlink()
    plain.unlink()
    return encrypt_s, decrypt_s


def stream_memory(size_mb: int) -> tuple[float, float]:
    """MiB/s of the same stream with no file I/O: a buffer in memory, chunks handed to a sink that drops them."""
    data, key, sealed = os.urandom(size_mb * MIB), os.urandom(32), bytearray()
    encrypt_s, _ = timed(lambda: encrypt_stream(key, b"bench", io.BytesIO(data), lambda view: None, digest=False))
    encrypt_stream(key, b"bench", io.BytesIO(data), sealed.extend, digest=False)
    source = io.BytesIO(bytes(sealed))
    decrypt_s, _ = timed(lambda: [None for _ in decrypt_chunks(key, b"bench", source)])
    return size_mb / encrypt_s, size_mb / decrypt_s


def setup(folder: Path, grantees: int) -> tuple[Any, LocalStore, Identity, list[Identity]]:
    admin, owner = ident("admin", 1), ident("owner", 2)
    ledger = Ledger.create(sqlite_url(folder / "ledger.db", block_size=1000, block_interval=3600), admin=admin)
    ledger.submit(admin, RoleGranted(subject=owner.address, role=Role.DATA_OWNER))
    readers = [ident(f"reader{i}", 100 + i) for i in range(grantees)]
    for reader in readers:
        register_encryption_key(ledger, reader)
    return ledger, LocalStore(folder / "store", fsync=False), owner, readers


def run(size_mb: int, grantees: int, folder: Path) -> dict[str, Any]:
    data, size = folder / "data.bin", size_mb * MIB
    make_file(data, size_mb)
    ledger, store, owner, readers = setup(folder, grantees)
    memory_enc, memory_dec = stream_memory(min(size_mb, 256))
    file_enc_s, file_dec_s = stream_file(data, folder / "aead.bin")
    sha_s = openssl_sha256_file(data)
    ctr_enc_s = openssl_ctr_file(data, folder / "ctr.bin", decrypt=False)
    ctr_dec_s = openssl_ctr_file(folder / "ctr.bin", folder / "ctr.out", decrypt=True)
    for leftover in ("ctr.bin", "ctr.out"):
        (folder / leftover).unlink()
    seal_s, sealed = timed(lambda: seal_dataset(ledger, store, owner, data))
    grant_times = [
        timed(lambda r=r: grant_access(ledger, store, owner, sealed.dataset_id, r.address))[0] for r in readers
    ]
    open_s, _ = timed(lambda: decrypt_dataset(ledger, store, readers[0], sealed.dataset_id, folder / "opened.bin"))
    assert (folder / "opened.bin").stat().st_size == size
    (folder / "opened.bin").unlink()
    revoke_times = [
        timed(lambda r=r: revoke_access(ledger, store, owner, sealed.dataset_id, r.address))[0] for r in readers[-3:]
    ]
    revoke_wall = WALL[-3:]
    ledger.close()
    return {
        "size_mb": size_mb,
        "grantees": grantees,
        "seal_mb_s": size_mb / seal_s,
        "open_mb_s": size_mb / open_s,
        "stream_memory_enc_mb_s": memory_enc,
        "stream_memory_dec_mb_s": memory_dec,
        "stream_file_enc_mb_s": size_mb / file_enc_s,
        "stream_file_dec_mb_s": size_mb / file_dec_s,
        "openssl_gcm_speed_enc_mb_s": openssl_speed(decrypt=False) / 1.048576,
        "openssl_gcm_speed_dec_mb_s": openssl_speed(decrypt=True) / 1.048576,
        "openssl_ctr_file_enc_mb_s": size_mb / ctr_enc_s,
        "openssl_ctr_file_dec_mb_s": size_mb / ctr_dec_s,
        "openssl_sha256_file_mb_s": size_mb / sha_s,
        "openssl_seal_equivalent_mb_s": size_mb / (2 * sha_s + ctr_enc_s),
        "openssl_open_equivalent_mb_s": size_mb / (2 * sha_s + ctr_dec_s),
        "grant_ms_median": statistics.median(grant_times) * 1000,
        "revoke_1_of_n_s": revoke_times,
        "revoke_1_of_n_wall_s": revoke_wall,
        "timing": "CPU seconds (process and children), as openssl speed; wall seconds recorded beside",
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "folder": str(folder.parent),
    }


def table(r: dict[str, Any]) -> str:
    gcm_enc, gcm_dec = r["openssl_gcm_speed_enc_mb_s"], r["openssl_gcm_speed_dec_mb_s"]
    ctr_enc, ctr_dec = r["openssl_ctr_file_enc_mb_s"], r["openssl_ctr_file_dec_mb_s"]
    speed, enc = "openssl speed -evp aes-256-gcm", "openssl enc -aes-256-ctr, same file"
    rows = [
        ("AES-256-GCM stream, encrypt, in memory", r["stream_memory_enc_mb_s"], speed, gcm_enc),
        ("AES-256-GCM stream, decrypt, in memory", r["stream_memory_dec_mb_s"], speed + " -decrypt", gcm_dec),
        ("AES-256-GCM stream, encrypt, file to file", r["stream_file_enc_mb_s"], enc, ctr_enc),
        ("AES-256-GCM stream, decrypt, file to file", r["stream_file_dec_mb_s"], enc + " -d", ctr_dec),
        ("seal: encrypt + SHA-256 of plaintext and ciphertext + store", r["seal_mb_s"], speed, gcm_enc),
        ("open: decrypt + SHA-256 of ciphertext and plaintext + write", r["open_mb_s"], speed + " -decrypt", gcm_dec),
        (
            "seal, end to end",
            r["seal_mb_s"],
            "openssl dgst -sha256 x2 + enc, same file",
            r["openssl_seal_equivalent_mb_s"],
        ),
        (
            "open, end to end",
            r["open_mb_s"],
            "openssl dgst -sha256 x2 + enc -d, same file",
            r["openssl_open_equivalent_mb_s"],
        ),
    ]
    lines = [
        f"{r['size_mb']} MiB file in {r['folder']}, 1 MiB chunks, CPU time; Python {r['python']}, {r['cpus']} cores",
        "",
        "| ledgerml | MiB/s | baseline (same run) | MiB/s | baseline / ledgerml |",
        "|---|---:|---|---:|---:|",
        *(f"| {name} | {value:,.0f} | `{base}` | {b:,.0f} | {b / value:.2f}x |" for name, value, base, b in rows),
        "",
        "| access change | CPU | wall |",
        "|---|---|---|",
        f"| revoke 1 of {r['grantees']} grantees (AccessRevoked + DataKeyRotated, re-wrap only), 3 runs | "
        + " / ".join(f"{s:.3f} s" for s in r["revoke_1_of_n_s"])
        + " | "
        + " / ".join(f"{s:.3f} s" for s in r["revoke_1_of_n_wall_s"])
        + " |",
        f"| grant one reader (median of {r['grantees']}) | {r['grant_ms_median']:.1f} ms | |",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--grantees", type=int, default=100)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/access.json"))
    parser.add_argument(
        "--dir",
        type=Path,
        default=Path("/dev/shm") if Path("/dev/shm").is_dir() else None,
        help="Where the files go [default: /dev/shm, so the disk does not bound every row alike]",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ledgerml-access-", dir=args.dir) as folder:
        result = run(args.size_mb, args.grantees, Path(folder))
    print(table(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
