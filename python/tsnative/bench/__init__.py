"""The Python-vs-C++ study: `tsnative bench` / `tsnative.bench(...)`.

This package's import is light (no torch): `tsnative` imports :func:`bench` eagerly, so that `tsnative.bench` is
the function, not this package, and `tsnative --help` stays fast. The study itself (run.py) imports torch.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

    from .run import BenchSettings

SCHEMA = "tsnative.bench/1"


def bench(
    model: str | os.PathLike[str] | torch.nn.Module,
    *,
    out: str | os.PathLike[str] | None = None,
    progress: bool = True,
    **settings: Any,
) -> dict[str, Any]:
    """Measures one model along every path (eager, Python TorchScript, native Engine from Python, the C++ loop,
    ONNX Runtime) for each export mode, device and batch size; returns the results (the ``results.json`` schema).

    ``model`` is a torchvision classification model name (random weights), an ``nn.Module`` taking one image
    batch, or a TorchScript file (then only its TorchScript paths run, on the input shape its tsnative metadata
    records unless ``size`` is given). With ``out``, writes results.json, results.csv and PNG plots there, and
    nothing else: the exported files live in a temporary folder removed at the end. ``settings`` are the fields of
    :class:`BenchSettings`. Settings, the model and ``out`` are checked before anything is measured (``ValueError``,
    ``FileNotFoundError``, ``tsnative.ModelLoadError``, ``tsnative.DeviceUnavailableError``). Interrupted
    (``KeyboardInterrupt``), it writes the configurations measured so far to ``out`` and raises
    :class:`~tsnative.bench.run.BenchInterrupted`, a ``KeyboardInterrupt`` that says where.
    """
    from .run import run_bench

    return run_bench(model, out=out, progress=progress, **settings)


def __getattr__(name: str) -> Any:
    if name == "BenchSettings":
        from .run import BenchSettings

        return BenchSettings
    raise AttributeError(f"module 'tsnative.bench' has no attribute {name!r}")


__all__ = ["SCHEMA", "BenchSettings", "bench"]
