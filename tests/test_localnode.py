"""The throwaway anvil: its moved-out block states in a directory of its own, deleted on stop; its own port."""

from __future__ import annotations

import os

import pytest

from ledgerml._jsonrpc import JsonRpc
from ledgerml.errors import ConfigError
from ledgerml.localnode import launch_anvil, listener_pid_matches, running_anvil


def test_anvil_state_cache_is_ours_and_deleted_when_the_node_stops() -> None:
    with running_anvil("--silent") as node:
        assert node.cache_dir is not None and node.cache_dir.is_dir()
        JsonRpc(node.url, timeout=180).call("anvil_mine", [hex(2500), hex(0)])  # slow under a loaded machine
        rpc = JsonRpc(node.url)
        assert int(rpc.call("eth_blockNumber"), 16) == 2500
        cache = node.cache_dir
        # anvil moves past states out of memory after a few hundred blocks: they land here, not in ~/.foundry
        assert any(cache.rglob("*")), "anvil wrote no state cache where we told it to"
    assert not cache.exists()


def test_a_node_knows_its_own_listener_and_refuses_a_port_another_node_holds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two test workers can be handed one free port; the node that loses the bind must not take the winner's
    answers as its own (it then sent transactions to another test's chain)."""
    import ledgerml.localnode as localnode

    with running_anvil("--silent") as first:
        assert listener_pid_matches(first.pid, first.port) is True
        assert listener_pid_matches(os.getpid(), first.port) is False
        with pytest.raises(ConfigError, match=rf"another process listens on 127.0.0.1:{first.port}"):
            launch_anvil(first.port)
        taken, free_port = iter([first.port, first.port]), localnode.free_port
        monkeypatch.setattr(localnode, "free_port", lambda: next(taken, None) or free_port())  # held twice, then free
        with running_anvil("--silent") as second:
            assert second.port != first.port and listener_pid_matches(second.pid, second.port) is True
            assert int(JsonRpc(second.url).call("eth_blockNumber"), 16) == 0


def test_a_hex_quantity_the_node_does_not_send_is_one_config_error() -> None:
    """``JsonRpc.quantity`` (chain ids, block numbers, balances, nonces, gas) parses one way and names the method."""

    class Answers(JsonRpc):
        def call(self, method: str, params: list[object] | None = None) -> object:
            return {"eth_chainId": "0x7a69", "eth_blockNumber": None, "eth_gasPrice": "lots"}[method]

    rpc = Answers("http://127.0.0.1:1")
    assert rpc.quantity("eth_chainId") == 31337
    for method, shown in (("eth_blockNumber", "'None'"), ("eth_gasPrice", "'lots'")):
        with pytest.raises(ConfigError, match=f"^{method} answered {shown}, not a hex quantity$"):
            rpc.quantity(method)
