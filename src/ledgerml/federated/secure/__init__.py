"""Secure aggregation's pure cryptography (no Flower, no ledger): keys, masks, secret sharing, fixed point.

The protocol follows Bonawitz et al., CCS 2017 (and its SecAgg+ shape): X25519 key agreement for pairwise
mask seeds and for encrypting Shamir shares, a self mask per client, and shares of both secrets so the
server can remove the masks of clients that drop out. ``protocol`` ties the pieces together.
"""
