"""tsnative: take a PyTorch model out of Python.

Export a model to TorchScript and run it natively through a C++/LibTorch engine, from Python
(:class:`Engine`) or from C++; fine-tune its classifier head in C++ (:func:`finetune`).
"""

from __future__ import annotations

# torch first: it loads LibTorch, which the native module _C links against.
import torch  # noqa: F401

from . import _C  # noqa: F401
from ._version import __version__
from .bench import bench
from .engine import Engine
from .errors import DataError, DeviceUnavailableError, InferenceError, ModelLoadError, TsnativeError
from .export import ExportError, ExportVerificationError, export
from .finetune import EpochRecord, FinetuneHistory, LabelledImages, finetune, load_images
from .isolation import Isolation, TrialLoad, trial_load
from .report import CheckResult, ExportReport
from .runtime import configure, runtime

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
