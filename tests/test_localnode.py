"""The throwaway anvil keeps its moved-out block states in a directory of its own and deletes it on stop."""

from __future__ import annotations

from ledgerml._jsonrpc import JsonRpc
from ledgerml.localnode import running_anvil


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
