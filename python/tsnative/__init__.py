"""tsnative: take a PyTorch model out of Python.

Export a model to TorchScript and run it natively through a C++/LibTorch engine, from Python
(:class:`Engine`) or from C++.
"""

from __future__ import annotations

# torch first: it loads LibTorch, which the native module _C links against.
import torch  # noqa: F401

from . import _C  # noqa: F401
from ._version import __version__
from .bench import bench
from .engine import Engine
from .errors import DeviceUnavailableError, InferenceError, ModelLoadError, TsnativeError
from .export import ExportError, ExportVerificationError, export
from .isolation import Isolation, TrialLoad, trial_load
from .report import CheckResult, ExportReport

__all__ = [
    "CheckResult",
    "DeviceUnavailableError",
    "Engine",
    "ExportError",
    "ExportReport",
    "ExportVerificationError",
    "InferenceError",
    "Isolation",
    "ModelLoadError",
    "TrialLoad",
    "TsnativeError",
    "__version__",
    "bench",
    "export",
    "trial_load",
]
