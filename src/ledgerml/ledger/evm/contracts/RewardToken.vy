# pragma version ~=0.4.3
"""
@title ledgerml reward token
@notice The ERC-20 token federated tasks pay rewards in and take stakes in, built from snekmate's audited
        ERC-20 and ownable modules. Whole tokens (0 decimals), like the embedded ledger's token.
"""

from ethereum.ercs import IERC20

implements: IERC20

from snekmate.auth import ownable as ow

initializes: ow

from snekmate.tokens import erc20

initializes: erc20[ownable := ow]

exports: erc20.__interface__


@deploy
@payable
def __init__():
    ow.__init__()
    erc20.__init__("ledgerml reward token", "LMLR", 0, "ledgerml", "1")
