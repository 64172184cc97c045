"""The process-wide settings of the LibTorch runtime tsnative runs in: one explicit call sets them.

>>> tsnative.configure(threads=4)      # intra-op threads, for every engine and for torch in this process
>>> tsnative.runtime()["threads"]
4
"""

from __future__ import annotations

from typing import Any

# torch first: it loads LibTorch, which the native module _C links against.
import torch  # noqa: F401

from . import _C

__all__ = ["configure", "runtime"]


def configure(*, threads: int | None = None, interop_threads: int | None = None) -> None:
    """Sets LibTorch's process-wide settings; those not given stay as they are.

    Args:
        threads: intra-op threads (LibTorch's pool, shared by every engine, fine-tuning and torch in this process).
        interop_threads: inter-op threads; LibTorch accepts this once, before any inter-op work has started.

    Raises:
        ValueError: a count below 1, or ``interop_threads`` once LibTorch has started its inter-op pool.
    """
    _C.configure_runtime(threads=threads, interop_threads=interop_threads)


def runtime() -> dict[str, Any]:
    """The settings in effect: ``threads``, ``interop_threads``, ``cpu_capability`` (the CPU kernels LibTorch
    picked, e.g. "AVX512"), ``cpu_has_bf16`` (native bfloat16 arithmetic: bf16 is fast here) and
    ``fusion_pass_installed`` (tsnative's oneDNN pre-pass, inert for graphs that are not an engine's own fused
    executors)."""
    return _C.runtime_settings()
