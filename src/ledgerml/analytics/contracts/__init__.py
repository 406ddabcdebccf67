"""Smart-contract vulnerability detection: structural rules over a tree-sitter parse, a learned model over
renamed-identifier features, and Slither when installed; findings per line range with category and SWC id."""
