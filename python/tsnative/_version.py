"""tsnative's version, from the one source: pyproject.toml's [project] version.

An installed package reads it from its metadata (cheap: no torch, no native module). Run from a source tree on
PYTHONPATH without being installed, it falls back to the native module's ``__version__`` when one is loaded and says
it, then to the version line of the source tree's pyproject.toml, then to "unknown".
"""

from __future__ import annotations

import re
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path


def _find_version() -> str:
    try:
        return version("tsnative")
    except PackageNotFoundError:
        pass
    native = sys.modules.get(f"{__package__}._C")  # only if already imported: importing it needs torch
    native_version = getattr(native, "__version__", None)
    if isinstance(native_version, str):
        return native_version
    try:
        source_root = Path(__file__).resolve().parent.parent.parent  # python/tsnative/_version.py -> the checkout
        text = (source_root / "pyproject.toml").read_text(encoding="utf-8")
    except OSError:
        return "unknown"
    match = re.search(r'^version\s*=\s*"([^"]+)"', text, re.MULTILINE)
    return match.group(1) if match else "unknown"


__version__ = _find_version()
