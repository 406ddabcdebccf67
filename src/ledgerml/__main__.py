"""``python -m ledgerml``: the same as the ``ledgerml`` command."""

from .cli import main

main()
