"""tsnative.Engine: a TorchScript model run by the C++ core, called from Python."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import torch

from . import _C
from ._structure import map_leaves
from .isolation import Isolation, trial_load

__all__ = ["Engine", "Fusion", "Precision"]

Precision = Literal["fp32", "bf16", "fp16"]
Fusion = Literal["auto", "on", "off"]


class Engine(_C.Engine):
    """Loads a TorchScript file once and runs it natively (C++/LibTorch) under inference mode.

    >>> eng = Engine("r18.pt", device="cpu")     # or "cuda", "cuda:1"
    >>> y = eng.predict(x)                        # torch.Tensor or numpy.ndarray in, torch.Tensor out
    >>> h, c = eng(x, h0)                         # several inputs; tuple outputs come back as tuples

    Inputs may be tensors, numpy arrays, tuples, lists, dicts with str keys, and int/float/bool/str/None, as the
    method's TorchScript signature (:attr:`schema`) declares. Tensors are moved to the engine's device; outputs
    come back on the CPU unless ``outputs_on_device=True``. The GIL is released while the model runs, and one
    Engine may be called from several threads at once.

    Outputs are ordinary tensors created under ``torch.no_grad()``: they carry no autograd history, and the caller
    owns them (in-place changes work), whatever the device, precision and optimisations.

    Args:
        path: the TorchScript file (written by ``torch.jit.save`` / ``tsnative.export``).
        device: ``"cpu"``, ``"cuda"`` (the first GPU) or ``"cuda:N"``.
        method: the method :meth:`predict` calls.
        outputs_on_device: leave outputs on ``device`` instead of copying them back to the CPU.
        threads: intra-op threads for CPU work. LibTorch's setting is process-wide, so this changes it for every
            engine and for torch in this process; ``None`` leaves it as it is.
        check_inputs: check tensors against the shapes and dtypes ``tsnative.export`` recorded (dtype, rank and
            every dimension but a verified dynamic batch) before running ``forward``.
        sha256: the file's expected SHA-256 (hex); a different file is refused before it is parsed.
        max_archive_bytes: refuse a file whose archive declares more data than this (default: the machine's
            physical memory).
        isolate: first load the file in a child process with memory and time limits (:func:`tsnative.trial_load`;
            ``True``: :class:`tsnative.Isolation`'s defaults, 4 GiB and 60 s), then load the same bytes here
            (pinned by their SHA-256). For files from untrusted sources; costs a Python start with torch (~2 s).
        freeze: freeze a module that is not frozen yet, i.e. whose graph reads weights (parameters or buffers)
            through attributes: they become constants, conv+batchnorm folded, dropout removed. A file from
            ``tsnative.export`` is frozen already. Skipped (and said so in :attr:`optimizations`) for a module
            freezing refuses.
        onednn_fusion: on the CPU, for a frozen module, compile conv/linear/elementwise chains with oneDNN Graph.
            LibTorch's fuser breaks some real models (the fused graph raises from its second call, or could
            differ), so the engine never trusts it blindly: each call shape gets a fused executor of its own,
            which is run several times and compared with the unfused graph before it is kept. ``"auto"``
            (default) tries it on each ``warmup_shapes`` entry at load and keeps it where it is also faster
            (undeclared shapes run unfused); ``"on"`` (or ``True``) also tries it on the first call of each new
            shape (up to 8) and keeps it wherever it is correct; ``"off"`` (or ``False``) never fuses. A kept fused
            graph that raises later is dropped for good, the call answered unfused. :attr:`fusion` has the facts.
            Only this engine's graphs are fused, not other TorchScript in the process.
        warmup_shapes: input shapes to run at load (random normal values; zeros for integer and bool inputs), so
            the profiling executor has optimised for them before the first real call (and, by default, fusion is
            tried on them): ``[(1, 3, 224, 224), (8, 3, 224, 224)]`` for one tensor argument, or one tuple of
            shapes per call for several, e.g. ``[((1, 4), (1, 4))]``.
        executor_per_shape: give each ``warmup_shapes`` entry a TorchScript executor of its own, so every declared
            shape runs a graph optimised for it alone; other shapes share the method's executor. A shared executor
            optimises for the first shapes it sees (with fusion, ResNet-18 at batch 8 ran ~20% slower when batch 1
            came first). The executors share the weights.
        precision: ``"fp32"`` (default), ``"bf16"`` or ``"fp16"``: the model's floating-point weights (parameters,
            buffers and the constants of a frozen graph) are converted at load, floating-point inputs per call, and
            floating-point outputs come back as float32. Outputs differ from float32 by the format's rounding
            (ResNet-18 logits: ~0.02 in bf16, ~0.003 in fp16). On the CPU, bf16 is fast where the processor has
            bf16 instructions (AVX-512 BF16, AMX); LibTorch's fp16 CPU kernels are slow (ResNet-18 ~100x).
        cuda_graphs: on CUDA, capture one CUDA graph per ``warmup_shapes`` entry at load and replay it for calls
            with exactly those shapes (and dtypes); other calls run as usual. Removes the per-kernel launch cost,
            which dominates small batches. A model that cannot be captured (it synchronises with the host, e.g.
            ``.item()`` or data-dependent shapes) runs as usual, and :attr:`optimizations` says why.
        pinned_transfers: on CUDA, stage host inputs and outputs in page-locked memory and copy them
            asynchronously.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        tsnative.ModelLoadError: the file is not a loadable TorchScript model, or not the pinned one, or the
            isolated trial load ran out of memory or time or crashed (the message says why).
        tsnative.DeviceUnavailableError: CUDA was asked for and cannot be used here.
        ValueError: a malformed device string, an unknown method, a negative thread count, an unknown precision,
            or ``cuda_graphs`` without a CUDA device or without ``warmup_shapes``.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        device: str = "cpu",
        *,
        method: str = "forward",
        outputs_on_device: bool = False,
        threads: int | None = None,
        check_inputs: bool = True,
        sha256: str | None = None,
        max_archive_bytes: int | None = None,
        isolate: bool | Isolation = False,
        freeze: bool = True,
        onednn_fusion: Fusion | bool = "auto",
        warmup_shapes: Sequence[Sequence[int] | Sequence[Sequence[int]]] | None = None,
        precision: Precision = "fp32",
        cuda_graphs: bool = False,
        pinned_transfers: bool = False,
        executor_per_shape: bool = True,
    ) -> None:
        try:
            if isolate:
                trial = trial_load(path, isolate if isinstance(isolate, Isolation) else Isolation(), method=method)
                sha256 = sha256 or trial.sha256  # the bytes that passed the trial are the bytes loaded here
            super().__init__(
                os.fspath(path),
                device=device,
                method=method,
                outputs_on_device=outputs_on_device,
                threads=0 if threads is None else threads,
                check_inputs=check_inputs,
                sha256=sha256 or "",
                max_archive_bytes=max_archive_bytes or 0,
                freeze=freeze,
                onednn_fusion=_fusion_mode(onednn_fusion),
                warmup_shapes=[_shapes_of_one_call(call) for call in warmup_shapes or ()],
                precision=precision,
                cuda_graphs=cuda_graphs,
                pinned_transfers=pinned_transfers,
                executor_per_shape=executor_per_shape,
            )
        except BaseException:
            # A half-made Engine (its C++ engine never built) must not outlive the failure: whatever touched it
            # later (a debugger's or pytest's repr of the traceback's locals) would reach an engine that does not
            # exist and crash the process.
            del self
            raise

    # predict() and __call__ are _C.Engine's own (cpp/bindings/bind_predict.cpp): a call goes from Python straight
    # to C++, which converts numpy arrays through _as_torch below. So are time() and the properties schema,
    # device, path, method, precision, outputs_on_device, load_seconds, method_names, parameter_count and
    # optimizations (documented in bind_engine.cpp). Declared here for type checkers and readers.
    predict: Callable[..., Any] = _C.Engine.predict
    __call__: Callable[..., Any] = _C.Engine.__call__

    @functools.cached_property
    def metadata(self) -> dict[str, Any] | None:
        """What ``tsnative.export`` recorded in the file (inputs, outputs, export mode, versions, verification),
        or ``None`` for a file exported otherwise."""
        text = self._metadata_json
        return json.loads(text) if text else None

    def __repr__(self) -> str:
        return f"Engine({self.path!r}, device={self.device!r}, {self.schema})"


def _fusion_mode(value: Fusion | bool) -> str:
    """True and False as "on" and "off"; strings as they are (the core refuses unknown ones)."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if not isinstance(value, str):
        raise TypeError(f'onednn_fusion: expected "auto", "on", "off" or a bool, got {type(value).__name__}')
    return value


def _shapes_of_one_call(call: Sequence[int] | Sequence[Sequence[int]]) -> list[list[int]]:
    """One warm-up call's shapes: a bare shape (ints) is the shape of a single tensor argument."""

    def is_shape(value: Any) -> bool:
        return isinstance(value, Sequence) and not isinstance(value, str) and all(_is_int(v) for v in value)

    if is_shape(call):
        return [[int(size) for size in call]]
    if isinstance(call, Sequence) and not isinstance(call, str) and call and all(is_shape(shape) for shape in call):
        return [[int(size) for size in shape] for shape in call]
    raise TypeError(
        "warmup_shapes: expected a shape as a tuple of ints, e.g. (1, 3, 224, 224), or one such tuple per "
        f"tensor argument, got {call!r}"
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, bool)


def _as_torch(value: Any) -> Any:
    """numpy arrays (also inside tuples, lists and dicts) to tensors; everything else as it is."""
    return map_leaves(value, _numpy_to_torch)


def _numpy_to_torch(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        # Shares memory with the array; a read-only array is copied, since torch cannot wrap it safely.
        return torch.from_numpy(value if value.flags.writeable else value.copy())
    if isinstance(value, np.generic):
        return value.item()
    return value
