"""tsnative.Engine: a model run by the C++ core, called from Python."""

from __future__ import annotations

import functools
import json
import os
import warnings
from collections.abc import Callable
from typing import Any

# torch first: it loads LibTorch, which the native module _C links against.
import torch  # noqa: F401

from . import _C
from ._runtime import configure
from .isolation import Isolation, trial_load

__all__ = ["Engine"]

_INTRO = """Loads a model file once and runs it natively (C++/LibTorch).

    >>> eng = Engine("r18.pt", device="cpu")     # or "cuda", "cuda:1"
    >>> y = eng.predict(x)                        # torch.Tensor or numpy.ndarray in, torch.Tensor out
    >>> h, c = eng(x, h0)                         # several inputs; tuple outputs come back as tuples
    >>> with Engine("r18.pt", warmup_shapes=[(8, 3, 224, 224)]) as eng:   # close() on leaving the block
    ...     y = eng(x)

    Inputs may be tensors, numpy arrays, tuples, lists, dicts with str keys, and int/float/bool/str/None, as the
    method's TorchScript signature (:attr:`schema`) declares. Tensors are moved to the engine's device; outputs
    come back on the CPU unless ``outputs_on_device=True``. The GIL is released while the model runs, and one
    Engine may be called from several threads at once.

    Outputs are ordinary tensors created under ``torch.no_grad()``: they carry no autograd history, and the caller
    owns them (in-place changes work), whatever the device, precision and optimisations.

    An engine changes no process-wide setting: LibTorch's thread counts are set by :func:`tsnative.configure`.
    :attr:`load_report` gives what the load did as facts (each step applied or skipped and why, fusion trials,
    timings, warnings such as bf16 on a CPU without bf16 instructions, which are also issued as
    ``RuntimeWarning``); :attr:`optimizations` is the same for people.

    Args:
        path: the TorchScript file (written by ``torch.jit.save`` / ``tsnative.export``).
        isolate: first load the file in a child process with memory and time limits (:func:`tsnative.trial_load`;
            ``True``: :class:`tsnative.Isolation`'s defaults, 4 GiB and 60 s), then load the same bytes here
            (pinned by their SHA-256). For files from untrusted sources; costs a Python start with torch (~2 s).
        **options: by keyword, the options of ``tsnative._C.EngineOptions``, declared once in C++
            (``cpp/include/tsnative/engine_options.h``). ``onednn_fusion`` also takes ``True``/``False`` for
            ``"on"``/``"off"``; ``warmup_shapes`` takes a bare shape per call for a single tensor argument:

"""

_RAISES = """
    Raises:
        FileNotFoundError: ``path`` does not exist.
        tsnative.ModelLoadError: the file is not a loadable model, or not the pinned one, or the isolated trial
            load ran out of memory or time or crashed (the message says why).
        tsnative.DeviceUnavailableError: CUDA was asked for and cannot be used here.
        TypeError: an unknown option, or an option of the wrong type.
        ValueError: an option out of its range (a malformed device string, an unknown method or precision,
            ``cuda_graphs`` without a CUDA device or without ``warmup_shapes``...).
    """


def _options_doc() -> str:
    """The options' part of Engine's docstring, made from their one declaration."""
    return "\n".join(
        f"            {name} ({kind}, default {default!r}): {text}."
        for name, kind, default, text in _C.EngineOptions.fields()
    )


class Engine(_C.Engine):
    __doc__ = _INTRO + _options_doc() + "\n" + _RAISES

    def __init__(
        self,
        path: str | os.PathLike[str],
        device: str = "cpu",
        *,
        isolate: bool | Isolation = False,
        **options: Any,
    ) -> None:
        try:
            _legacy_options(options)
            if isolate:
                limits = isolate if isinstance(isolate, Isolation) else Isolation()
                trial = trial_load(path, limits, method=options.get("method", "forward"))
                # The bytes that passed the trial are the bytes loaded here.
                options["sha256"] = options.get("sha256") or trial.sha256
            super().__init__(os.fspath(path), _C.EngineOptions(device=device, **options))
        except BaseException:
            # A half-made Engine (its C++ engine never built) must not outlive the failure: whatever touched it
            # later (a debugger's or pytest's repr of the traceback's locals) would reach an engine that does not
            # exist and crash the process.
            del self
            raise
        for warning in self.load_report["warnings"]:
            warnings.warn(f"tsnative.Engine({os.fspath(path)!r}): {warning}", RuntimeWarning, stacklevel=2)

    # predict() and __call__ are _C.Engine's own (cpp/bindings/bind_predict.cpp): a call goes from Python straight
    # to C++, which converts numpy arrays and binds the arguments. So are close(), time() and the properties
    # (documented in bind_engine.cpp). Declared here for type checkers and readers.
    predict: Callable[..., Any] = _C.Engine.predict
    __call__: Callable[..., Any] = _C.Engine.__call__

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @functools.cached_property
    def metadata(self) -> dict[str, Any] | None:
        """What ``tsnative.export`` recorded in the file (inputs, outputs, export mode, versions, verification),
        or ``None`` for a file exported otherwise."""
        text = self._metadata_json
        return json.loads(_C.parse_metadata(text)) if text else None  # checked by the C++ metadata unit

    def __repr__(self) -> str:
        if self.closed:
            return f"Engine({self.path!r}, closed)"
        return f"Engine({self.path!r}, device={self.device!r}, {self.schema})"


def _legacy_options(options: dict[str, Any]) -> None:
    """Spellings from before the options were declared once, kept working."""
    fusion = options.get("onednn_fusion")
    if isinstance(fusion, bool):
        options["onednn_fusion"] = "on" if fusion else "off"
    threads = options.pop("threads", None)
    if threads is not None:  # None (and 0) meant "leave the setting alone"; they still do, silently for None
        # Threads are process-wide: the setting belongs to tsnative.configure, not to one engine.
        warnings.warn(
            "Engine(threads=N) is deprecated: the thread count is process-wide; call tsnative.configure(threads=N)",
            DeprecationWarning,
            stacklevel=3,
        )
        if threads != 0:
            configure(threads=threads)
