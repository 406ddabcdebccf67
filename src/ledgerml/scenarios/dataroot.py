"""Where the real data lives: ``$LEDGERML_DATA``, else ``../shared/data`` next to the project root."""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import ConfigError

ENV = "LEDGERML_DATA"
_PROJECT_ROOT = Path(__file__).resolve().parents[3]


def data_root() -> Path:
    """The data folder; ``ConfigError`` naming ``LEDGERML_DATA`` when there is none."""
    given = os.environ.get(ENV)
    if given:
        root = Path(given)
        if not root.is_dir():
            raise ConfigError(f"{ENV}={given} is not a folder; point {ENV} at the shared data folder")
        return root
    default = _PROJECT_ROOT.parent / "shared" / "data"
    if not default.is_dir():
        raise ConfigError(f"no data folder: set {ENV} to the shared data folder (looked for {default})")
    return default


def data_file(relative: str, root: Path | None = None) -> Path:
    """``relative`` under the data root; ``ConfigError`` naming ``LEDGERML_DATA`` and the file when it is missing."""
    base = data_root() if root is None else root
    path = base / relative
    if not path.is_file():
        raise ConfigError(f"data file {relative} is missing under {base}; set {ENV} to the folder that holds it")
    return path
