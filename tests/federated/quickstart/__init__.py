"""The example Flower app (examples/flower-quickstart) on the import path: the tests run that app itself."""

import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "flower-quickstart"
if str(EXAMPLE) not in sys.path:
    sys.path.insert(0, str(EXAMPLE))
