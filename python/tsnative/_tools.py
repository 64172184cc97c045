"""Finding tsnative's C++ tools (ts-infer, ts-train) from Python."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path


def find_tool(name: str) -> str | None:
    """The tool installed beside this Python (pip puts it in the environment's bin/), else on PATH, else None."""
    beside_python = Path(sys.executable).parent / name
    return str(beside_python) if beside_python.exists() else shutil.which(name)
