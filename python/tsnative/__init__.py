"""tsnative: take a PyTorch model out of Python.

Export a model to TorchScript and run it natively through a C++/LibTorch engine, from Python
(:class:`Engine`) or from C++; fine-tune its classifier head in C++ (:func:`finetune`).
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .bench import bench  # the function (a light wrapper: the study imports torch when it runs)

# The public names live in modules that import torch (seconds). They are imported on first use, so that
# `import tsnative` (and `tsnative --help`, `tsnative --version`) does not pay for torch.
_LAZY = {
    "CheckResult": ".report",
    "DataError": ".errors",
    "DeviceUnavailableError": ".errors",
    "Engine": ".engine",
    "EpochRecord": ".finetune",
    "ExportError": ".export",
    "ExportReport": ".report",
    "ExportVerificationError": ".export",
    "FinetuneHistory": ".finetune",
    "InferenceError": ".errors",
    "Isolation": ".isolation",
    "LabelledImages": ".finetune",
    "ModelLoadError": ".errors",
    "TrialLoad": ".isolation",
    "TsnativeError": ".errors",
    "export": ".export",
    "finetune": ".finetune",
    "load_images": ".finetune",
    "trial_load": ".isolation",
    "configure": "._runtime",
    "runtime": "._runtime",
}


# Submodules reachable as attributes, as they were when the package imported them eagerly (tsnative.errors.X).
_SUBMODULES = {"_C", "cli", "engine", "errors", "isolation", "report", "triton"}


def __getattr__(name: str) -> Any:
    if name not in _SUBMODULES and name not in _LAZY:
        raise AttributeError(f"module 'tsnative' has no attribute {name!r}")
    # torch first, whatever is asked for: it loads LibTorch, which the native module _C links against.
    import torch  # noqa: F401

    if name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


# tsnative.bench, tsnative.export and tsnative.finetune are functions named like the modules that define them.
# When a submodule is first imported, the import system binds it to its package's attribute of the same name; with
# the modules imported lazily that can happen at any time, and `tsnative.export(...)` would find the module. The
# package keeps the function instead.
_FUNCTIONS_NAMED_LIKE_THEIR_MODULE = {"bench", "export", "finetune"}


class _Package(types.ModuleType):
    def __setattr__(self, name: str, value: Any) -> None:
        if name in _FUNCTIONS_NAMED_LIKE_THEIR_MODULE and isinstance(value, types.ModuleType):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


if TYPE_CHECKING:
    from ._runtime import configure, runtime
    from .engine import Engine
    from .errors import DataError, DeviceUnavailableError, InferenceError, ModelLoadError, TsnativeError
    from .export import ExportError, ExportVerificationError, export
    from .finetune import EpochRecord, FinetuneHistory, LabelledImages, finetune, load_images
    from .isolation import Isolation, TrialLoad, trial_load
    from .report import CheckResult, ExportReport

__all__ = [
    "CheckResult",
    "DataError",
    "DeviceUnavailableError",
    "Engine",
    "EpochRecord",
    "ExportError",
    "ExportReport",
    "ExportVerificationError",
    "FinetuneHistory",
    "InferenceError",
    "Isolation",
    "LabelledImages",
    "ModelLoadError",
    "TrialLoad",
    "TsnativeError",
    "__version__",
    "bench",
    "configure",
    "export",
    "finetune",
    "load_images",
    "runtime",
    "trial_load",
]
