"""k-of-n governance of consortium-wide actions: the rule gate, the Python API and the documents (import lazily)."""
