"""tsnative.export: TorchScript export (trace or script), optional freezing, and proof that the saved file gives
eager PyTorch's outputs when run by the native engine.

This module is the public door; the machinery is in tsnative._export (torchscript, pt2, verify, metadata...).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch

from ._export.errors import ExportError, ExportVerificationError, error_cause
from ._export.pt2 import draft_path, export_package
from ._export.torchscript import METADATA_FILE as METADATA_FILE
from ._export.torchscript import Mode, export_torchscript
from .report import ExportReport

__all__ = ["ExportError", "ExportVerificationError", "export"]

Format = Literal["torchscript", "pt2"]


class _NotGiven:
    """check_inputs's default, which tells "not passed" from an explicit None (deprecated all the same)."""

    def __repr__(self) -> str:
        return "<not given>"


_NOT_GIVEN: Any = _NotGiven()


def export(
    model: torch.nn.Module,
    example_inputs: Any,
    path: str | os.PathLike[str],
    *,
    mode: Mode = "script",
    optimize: bool = True,
    verify_inputs: Sequence[Any] | None = None,
    rtol: float = 1e-3,
    atol: float = 1e-4,
    strict: bool = True,
    format: Format | None = None,
    check_inputs: Sequence[Any] | None = _NOT_GIVEN,
) -> ExportReport:
    """Exports ``model`` to a TorchScript file at ``path`` and verifies it through the native :class:`Engine`.

    Args:
        model: an ``nn.Module``; it is exported in ``eval()`` mode (each submodule's training flag is restored
            afterwards). The global random state is left as it was: generated inputs come from a private, seeded
            generator, so verification is reproducible.
        example_inputs: one input, or a tuple of inputs, as ``model(*example_inputs)`` takes them (a list is one
            input, as for ``torch.jit.trace``: detection models take a list of images). Tracing runs it;
            verification uses it and, by default, inputs derived from it.
        mode: ``"script"`` keeps control flow; ``"trace"`` records the ops run on the example; ``"auto"`` scripts
            and falls back to tracing (with a warning) when the model cannot be scripted or when the scripted file
            fails verification and the traced one passes.
        optimize: freeze the module (weights become constants, conv+batchnorm folded, dropout removed).
        verify_inputs: inputs to verify on, each like ``example_inputs``. By default: the example, random data of
            its shape, the example negated, batch sizes 1 and batch + 2, and (TorchScript) lengths 1 and n + 2 of
            the 1-D inputs of length n (token ids, bag offsets), recorded -1 when they pass as a batch is.
        rtol, atol: tolerance of the comparison with eager: every element of a floating-point output within
            ``atol + rtol * max|eager|`` of eager's (relative to that output's scale, since fp32 rounding is);
            integer and bool outputs equal. torchvision's scripted conventions (Inception3/GoogLeNet's named
            tuple, detection's ``(losses, detections)``) are compared on the part eager returns, with a note.
            Detections (a list of dicts of boxes, scores, labels...) are matched detection to detection, so that
            near-ties rounding decides otherwise pass; the report's notes say how.
        strict: raise :class:`ExportVerificationError` (and write nothing at ``path``) when a check fails. With
            ``strict=False`` the file is written and the report says what failed.
        format: ``"torchscript"`` (a ``.pt`` file) or ``"pt2"``: an AOTInductor package (``torch.export`` with a
            dynamic batch where it verifies, compiled ahead of time for this machine's CPU or GPU with Inductor's
            freezing; ``mode`` does not apply). Default: ``"pt2"`` for a path ending in ``.pt2``. This version
            exports models whose inputs are tensors to ``.pt2``; the package records the inputs and outputs, and
            the verification is in the returned report (it runs after compiling).
        check_inputs: the former name of ``verify_inputs``, still accepted with a ``DeprecationWarning`` (it read
            like :class:`Engine`'s ``check_inputs=``, which checks inputs against the metadata: another option).

    Returns:
        The :class:`ExportReport`: per check input the max abs and rel differences, top-k agreement for
        classifier outputs, and pass/fail; ``batch`` says whether the batch is dynamic or why it is fixed. The
        file records, in its ``tsnative.json`` extra file (strict JSON: a difference not measured is null), the
        inputs (names, dtypes, shapes with -1 for a verified dynamic batch or length), outputs, mode, optimizations,
        versions, creation time and the verification summary; ``tsnative.Engine(path).metadata`` returns it.

    Raises:
        TypeError, ValueError: eager ``model(*example_inputs)`` raised (TypeError for a TypeError or a list);
            TypeError also when both ``verify_inputs`` and ``check_inputs`` are given.
        ExportError: the model cannot be scripted and ``mode`` is ``"script"``.
        ExportVerificationError: a check failed and ``strict`` is True.
    """
    verify_inputs = _verify_inputs_argument(verify_inputs, check_inputs)
    path = Path(path)
    _check_destination(path)
    format = resolve_format(path, format)
    example = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    # Each module's own flag: model.train(flag) would recurse and undo submodules the caller had put in eval().
    training = {module: module.training for module in model.modules()}
    model.eval()
    try:
        expected = _run_example(model, example, example_inputs)
        if format == "pt2":
            return export_package(model, example, expected, path, verify_inputs, rtol, atol, strict)
        return export_torchscript(model, example, expected, path, mode, optimize, verify_inputs, rtol, atol, strict)
    except BaseException:
        # A failure or Ctrl-C leaves nothing behind: the draft is only ever renamed into place once verified.
        path.with_name(path.name + ".unverified").unlink(missing_ok=True)
        draft_path(path).unlink(missing_ok=True)
        raise
    finally:
        for module, flag in training.items():
            module.training = flag


def resolve_format(path: Path, format: str | None) -> Format:
    """The format asked for, or the one the path's suffix implies (".pt2": an AOTInductor package)."""
    if format is None:
        return "pt2" if path.suffix == ".pt2" else "torchscript"
    if format not in ("torchscript", "pt2"):
        raise ValueError(f'format: expected "torchscript" or "pt2", got {format!r}')
    return format  # type: ignore[return-value]


def _verify_inputs_argument(verify_inputs: Sequence[Any] | None, check_inputs: Any) -> Sequence[Any] | None:
    """verify_inputs, or the deprecated check_inputs it replaces (renamed: Engine's check_inputs= is another
    option, a check of the inputs' dtypes and shapes against the metadata)."""
    if check_inputs is _NOT_GIVEN:
        return verify_inputs
    if verify_inputs is not None:
        raise TypeError(
            "export() got both verify_inputs= and check_inputs=, its deprecated former name: pass verify_inputs= only"
        )
    warnings.warn(
        "tsnative.export: check_inputs= is deprecated, use verify_inputs= (the inputs to verify the exported file "
        "on; Engine's check_inputs= is a different option)",
        DeprecationWarning,
        stacklevel=3,  # export <- here: the caller's line
    )
    return check_inputs


def _check_destination(path: Path) -> None:
    """Refuses a destination that cannot be written before anything is exported (which can take minutes)."""
    folder = path.parent
    if path.is_dir():
        raise ExportError(f"cannot write {path}: it is a folder; expected a file path such as {path / 'model.pt'}")
    if not folder.is_dir():
        raise ExportError(f"cannot write {path}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise ExportError(f"cannot write {path}: the folder {folder} is not writable")


def _run_example(model: torch.nn.Module, example: tuple[Any, ...], example_inputs: Any) -> Any:
    """Eager's output on the example; a model that refuses its own example is a caller's error, said up front."""
    try:
        with torch.no_grad():
            return model(*example)
    except Exception as error:
        cause = error_cause(error)
        if isinstance(example_inputs, list):
            raise TypeError(
                f"example_inputs: expected one input or a tuple of inputs (model(*example_inputs)); got a list, and "
                f"a list is one input (model(list)), as torch.jit.trace takes it: {type(model).__name__} raised "
                f"{cause}; pass a tuple for several inputs"
            ) from None
        kind = TypeError if isinstance(error, TypeError) else ValueError
        raise kind(
            f"example_inputs: expected inputs {type(model).__name__}(*example_inputs) accepts; got "
            f"{_type_text(example)}, and eager raised {cause}"
        ) from None


def _type_text(example: tuple[Any, ...]) -> str:
    """ "(Tensor [2, 3], int)": the example's argument types, for an error message."""
    parts = [
        f"Tensor {list(value.shape)}" if isinstance(value, torch.Tensor) else type(value).__name__ for value in example
    ]
    return f"({', '.join(parts)})"
