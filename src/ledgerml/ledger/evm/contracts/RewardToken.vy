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


# The ledger contract that holds stakes and reward pools: it mints and moves tokens for the events it
# accepts (a stake into escrow, a reward out of a pool). Set once by the owner, who then hands it minting.
ledger: public(address)


@external
def set_ledger(ledger: address):
    """
    @notice Make `ledger` this token's ledger (once): it may mint and move tokens for ledger events.
    """
    ow._check_owner()
    assert self.ledger == empty(address), "ledger is set already"
    assert ledger != empty(address), "ledger is the zero address"
    self.ledger = ledger
    erc20.is_minter[ledger] = True


@external
def ledger_transfer(owner: address, to: address, amount: uint256):
    """
    @notice Move `amount` from `owner` to `to` for an accepted ledger event; only the ledger calls this.
    """
    assert msg.sender == self.ledger, "only the ledger moves tokens"
    erc20._transfer(owner, to, amount)
