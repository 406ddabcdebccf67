"""Properties of the pure secure-aggregation pieces: masks cancel, shares reconstruct, fixed point is bounded."""

from __future__ import annotations

import contextlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledgerml.federated.secure import keys, prf, protocol, quantize, shamir

SEEDS = st.binary(min_size=32, max_size=32)


@given(SEEDS, SEEDS)
def test_masks_from_two_different_seeds_never_coincide(a: bytes, b: bytes) -> None:
    if a != b:
        assert not np.array_equal(prf.mask(a, 64), prf.mask(b, 64))


def _fold(seed: bytes) -> int:
    """A 32-byte seed XOR-folded to 32 bits, as Flower's generator does (flwr #7522)."""
    value = 0
    for i in range(0, 32, 4):
        value ^= int.from_bytes(seed[i : i + 4], "little")
    return value


def test_seeds_that_fold_to_the_same_32_bits_give_different_masks() -> None:
    a = bytes(range(32))
    b = bytes(range(1, 29)) + bytes(4)
    b = b[:28] + (_fold(a) ^ _fold(b)).to_bytes(4, "little")
    assert a != b and _fold(a) == _fold(b)
    assert not np.array_equal(prf.mask(a, 1000), prf.mask(b, 1000))


def test_a_mask_seed_must_be_32_bytes() -> None:
    with pytest.raises(ValueError):
        prf.mask(b"short", 4)


@settings(max_examples=15, deadline=None)
@given(st.integers(2, 6), st.integers(1, 40), st.data())
def test_pairwise_and_self_masks_cancel_in_the_sum(clients: int, length: int, data: st.DataObject) -> None:
    context = protocol.context_bytes("ledger", "task", 1)
    names = [f"c{i}" for i in range(clients)]
    sessions = protocol.exchange_in_process(names, context)
    alive = data.draw(st.integers(protocol.threshold(clients), clients))
    survivors, dropped = names[:alive], names[alive:]
    rng = np.random.default_rng(length)
    inputs = {n: rng.integers(0, 2**63, size=length, dtype=np.uint64) for n in names}
    masked = {n: sessions[n].mask(inputs[n], names) for n in survivors}
    reveals = {n: sessions[n].reveal(survivors, dropped) for n in survivors}
    t = protocol.threshold(clients)
    seeds = {n: protocol.reconstruct(reveals, n, "b", t) for n in survivors}
    mask_keys = {n: protocol.reconstruct(reveals, n, "s", t) for n in dropped}
    public = {n: session.advertise()["mask_key"] for n, session in sessions.items()}
    total = protocol.unmask(masked, seeds, mask_keys, public, context)
    expected = np.zeros(length, dtype=np.uint64)
    for n in survivors:
        expected = expected + inputs[n]
    assert np.array_equal(total, expected)
    assert all(not np.array_equal(masked[n], inputs[n]) for n in survivors)
    one = survivors[0]
    opened = protocol.open_input(
        masked[one], one, sessions[one].self_seed, sessions[one].mask_key_bytes(), public, names, context
    )
    assert np.array_equal(opened, inputs[one])


@settings(max_examples=30, deadline=None)
@given(SEEDS, st.integers(1, 7), st.integers(0, 5), st.randoms(use_true_random=False))
def test_any_t_shares_reconstruct_and_fewer_do_not(secret: bytes, t: int, extra: int, rnd) -> None:  # type: ignore[no-untyped-def]
    xs = list(range(1, t + extra + 1))
    shares = shamir.split(secret, xs, t)
    chosen = rnd.sample(xs, t)
    assert shamir.reconstruct({x: shares[x] for x in chosen}) == secret
    if t > 1:
        fewer = {x: shares[x] for x in chosen[:-1]}
        with contextlib.suppress(ValueError):  # the interpolated value may not even fit 32 bytes
            assert shamir.reconstruct(fewer) != secret


def test_share_values_round_trip_and_bad_ones_are_refused() -> None:
    value = shamir.split(b"\x01" * 32, [1, 2], 2)[1]
    assert shamir.decode(shamir.encode(value)) == value
    with pytest.raises(ValueError):
        shamir.decode(b"\xff" * shamir.SHARE_BYTES)
    with pytest.raises(ValueError):
        shamir.split(b"\x01" * 32, [1, 1], 2)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=30),
    st.integers(1, quantize.MAX_WEIGHT),
    st.floats(0.01, 1e3),
    st.integers(1, 100),
)
def test_quantize_dequantize_error_is_within_the_bound(values: list[float], weight: int, clip: float, n: int) -> None:
    bits = quantize.frac_bits(n, clip)
    delta = quantize.clip_l2(np.array(values), clip)
    delta = np.clip(delta, -clip, clip)
    decoded, total = quantize.decode_one(quantize.encode(delta, weight, clip, bits), bits)
    assert total == weight
    assert np.max(np.abs(decoded - delta)) <= 2.0 ** -(bits + 1) * (1 + 1e-9) + abs(delta).max() * 2**-52


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 100), st.floats(0.01, 100.0), st.data())
def test_the_largest_sum_the_bounds_allow_still_decodes(n: int, clip: float, data: st.DataObject) -> None:
    bits = quantize.frac_bits(n, clip)
    sign = data.draw(st.sampled_from([-1.0, 1.0]))
    one = quantize.encode(np.array([sign * clip, -sign * clip]), quantize.MAX_WEIGHT, clip, bits)
    total = np.zeros(3, dtype=np.uint64)
    for _ in range(n):
        total = total + one
    mean, weight = quantize.decode_sum(total, bits)
    assert weight == n * quantize.MAX_WEIGHT
    assert abs(mean[0] - sign * clip) <= 2.0 ** -(bits + 1) + clip * 2**-50


def test_out_of_bound_coordinates_and_too_few_bits_are_refused() -> None:
    with pytest.raises(ValueError):
        quantize.encode(np.array([2.0]), 1, 1.0, 20)
    with pytest.raises(ValueError):
        quantize.encode(np.array([np.nan]), 1, 1.0, 20)
    with pytest.raises(ValueError):
        quantize.frac_bits(100, 1e6)


def test_shares_are_sealed_to_their_recipient_only() -> None:
    context = protocol.context_bytes("l", "t", 2)
    a, b, c = (protocol.ClientSession(n, context) for n in ("a", "b", "c"))
    advertised = {s.me: s.advertise() for s in (a, b, c)}
    sealed = a.share(advertised)
    b.share(advertised)
    c.share(advertised)
    b.take("a", sealed["b"])
    with pytest.raises(ValueError):
        c.take("a", sealed["b"])
    tampered = bytes([sealed["c"][0] ^ 1]) + sealed["c"][1:]
    with pytest.raises(ValueError):
        c.take("a", tampered)


def test_a_reveal_never_gives_both_secrets_of_one_client() -> None:
    sessions = list(protocol.exchange_in_process(["a", "b", "c"], protocol.context_bytes("l", "t", 3)).values())
    for s in sessions:
        s.mask(np.zeros(2, dtype=np.uint64), ["a", "b", "c"])
    with pytest.raises(ValueError):
        sessions[0].reveal(["a", "b", "c"], ["c"])
    with pytest.raises(ValueError):
        sessions[0].reveal(["a"], ["b", "c"])  # fewer survivors than the threshold
    sessions[0].reveal(["a", "b"], ["c"])
    assert "s" in sessions[0].reveal(["a", "b"], ["c"])["c"]  # the same request again is answered alike
    with pytest.raises(ValueError):  # a second split would give c's self seed too
        sessions[0].reveal(["a", "c"], ["b"])
    assert keys.public_hex(keys.private_key(sessions[0].mask_key_bytes())) == sessions[0].advertise()["mask_key"]


@settings(max_examples=15, deadline=None)
@given(st.integers(2, 5), st.integers(1, 12), st.floats(0.1, 10.0), st.data())
def test_the_secure_sum_decodes_to_the_plaintext_norm_clipped_mean(
    clients: int, length: int, clip: float, data: st.DataObject
) -> None:
    """The plaintext rule in ``aggregation`` is the baseline: secure aggregation gives it up to the fixed point."""
    from ledgerml.federated.aggregation import aggregate

    rows = np.array([data.draw(st.lists(st.floats(-50, 50), min_size=length, max_size=length)) for _ in range(clients)])
    weights = [data.draw(st.integers(1, 1000)) for _ in range(clients)]
    expected = aggregate("norm_clipped_mean", rows, np.array(weights, dtype=float), {"clip": clip}).delta
    bits = quantize.frac_bits(clients, clip)
    context = protocol.context_bytes("l", "t", 1)
    names = [f"c{i}" for i in range(clients)]
    sessions = protocol.exchange_in_process(names, context)
    masked = {}
    for n, row, w in zip(names, rows, weights, strict=True):
        clipped = np.clip(quantize.clip_l2(row, clip), -clip, clip)
        masked[n] = sessions[n].mask(quantize.encode(clipped, w, clip, bits), names)
    reveals = {n: sessions[n].reveal(names, []) for n in names}
    seeds = {n: protocol.reconstruct(reveals, n, "b", protocol.threshold(clients)) for n in names}
    public = {n: session.advertise()["mask_key"] for n, session in sessions.items()}
    mean, total = quantize.decode_sum(protocol.unmask(masked, seeds, {}, public, context), bits)
    assert total == sum(weights)
    assert np.max(np.abs(mean - expected)) <= 2.0 ** -(bits + 1) + 1e-9 * clip
