"""The vulnerability categories (DASP-10 names as SmartBugs uses them), their SWC ids and SolidiFI's bug types."""

from __future__ import annotations

from typing import Final

CATEGORIES: Final = (
    "reentrancy",
    "access_control",
    "arithmetic",
    "unchecked_low_level_calls",
    "denial_of_service",
    "bad_randomness",
    "front_running",
    "time_manipulation",
    "short_addresses",
    "other",
)
"""Every category a finding can have."""

DESCRIPTIONS: Final = {
    "reentrancy": "an external call can re-enter the contract before its state is updated",
    "access_control": "a privileged action (ether out, ownership, selfdestruct) is reachable by anyone",
    "arithmetic": "integer overflow or underflow (unchecked arithmetic before Solidity 0.8)",
    "unchecked_low_level_calls": "the result of call/send/delegatecall is ignored, so a failure goes unnoticed",
    "denial_of_service": "one failing call or an unbounded loop can block the contract",
    "bad_randomness": "randomness from block values a miner or caller can predict or influence",
    "front_running": "the outcome depends on transaction order (state another transaction can change first)",
    "time_manipulation": "logic depends on block.timestamp, which the block producer chooses within limits",
    "short_addresses": "short address attack on ABI-decoded arguments",
    "other": "other weaknesses (uninitialised storage pointers, ...)",
}

SWC: Final[dict[str, str | None]] = {
    "reentrancy": "SWC-107",
    "access_control": "SWC-105",
    "arithmetic": "SWC-101",
    "unchecked_low_level_calls": "SWC-104",
    "denial_of_service": "SWC-113",
    "bad_randomness": "SWC-120",
    "front_running": "SWC-114",
    "time_manipulation": "SWC-116",
    "short_addresses": None,
    "other": None,
}
"""The category's default SWC id (a rule may name a more specific one, e.g. SWC-115 for tx.origin)."""

SOLIDIFI: Final = {
    "Overflow-Underflow": "arithmetic",
    "Re-entrancy": "reentrancy",
    "TOD": "front_running",
    "Timestamp-Dependency": "time_manipulation",
    "Unchecked-Send": "access_control",
    "Unhandled-Exceptions": "unchecked_low_level_calls",
    "tx.origin": "access_control",
}
"""SolidiFI's seven bug types (folder names) -> category. Its "unchecked send" is an unprotected ether
withdrawal (a public function sends ether to anyone who calls it): SWC-105, access control."""
