"""tsnative.export: TorchScript export (trace or script), optional freezing, and proof that the saved file gives
eager PyTorch's outputs when run by the native engine."""

from __future__ import annotations

import datetime
import inspect
import json
import os
import re
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch

from ._check_inputs import batch_size, default_check_inputs
from ._structure import describe, mark_dynamic_batch, shapes_text
from ._torchscript import torchscript_calls
from ._version import __version__
from .engine import Engine
from .errors import TsnativeError
from .report import CheckResult, ExportReport, compare

__all__ = ["ExportError", "ExportVerificationError", "export"]

METADATA_FILE = "tsnative.json"  # the extra file the C++ engine reads (tsnative::kMetadataFile)
METADATA_FORMAT = "tsnative.metadata/1"

Mode = Literal["trace", "script", "auto"]


class ExportError(TsnativeError):
    """The model could not be exported (e.g. it cannot be scripted, and mode was not "auto")."""


class ExportVerificationError(TsnativeError):
    """The exported file's outputs differ from eager PyTorch's; ``report`` says where and by how much."""

    def __init__(self, report: ExportReport) -> None:
        super().__init__(
            f"the exported model does not reproduce eager PyTorch's outputs; {report.path} was not "
            f"written (pass strict=False to keep it)\n{report}"
        )
        self.report = report


def export(
    model: torch.nn.Module,
    example_inputs: Any,
    path: str | os.PathLike[str],
    *,
    mode: Mode = "script",
    optimize: bool = True,
    check_inputs: Sequence[Any] | None = None,
    rtol: float = 1e-3,
    atol: float = 1e-4,
    strict: bool = True,
) -> ExportReport:
    """Exports ``model`` to a TorchScript file at ``path`` and verifies it through the native :class:`Engine`.

    Args:
        model: an ``nn.Module``; it is exported in ``eval()`` mode (its training flag is restored afterwards).
        example_inputs: one input, or a tuple of inputs, as ``model(*example_inputs)`` takes them. Tracing runs
            it; verification uses it and, by default, inputs derived from it.
        mode: ``"script"`` keeps control flow; ``"trace"`` records the ops run on the example; ``"auto"`` scripts
            and falls back to tracing (with a warning) when the model cannot be scripted.
        optimize: freeze the module (weights become constants, conv+batchnorm folded, dropout removed).
        check_inputs: inputs to verify on, each like ``example_inputs``. By default: the example, random data of
            its shape, the example negated, and batch sizes 1 and batch + 2.
        rtol, atol: tolerance of the comparison with eager (``torch.allclose``).
        strict: raise :class:`ExportVerificationError` (and write nothing at ``path``) when a check fails. With
            ``strict=False`` the file is written and the report says what failed.

    Returns:
        The :class:`ExportReport`: per check input the max abs and rel differences, top-k agreement for
        classifier outputs, and pass/fail. The file records, in its ``tsnative.json`` extra file, the inputs
        (names, dtypes, shapes with -1 for a verified dynamic batch), outputs, mode, optimizations, versions,
        creation time and the verification summary; ``tsnative.Engine(path).metadata`` returns it.
    """
    path = Path(path)
    example = example_inputs if isinstance(example_inputs, tuple) else (example_inputs,)
    was_training = model.training
    model.eval()
    try:
        start = time.perf_counter()
        notes: list[str] = []
        with torchscript_calls():
            exported, used_mode = _to_torchscript(model, example, mode, notes)
            optimizations = []
            if optimize:
                exported = torch.jit.freeze(exported)
                optimizations.append("freeze")
            draft = path.with_name(path.name + ".unverified")
            exported.save(str(draft))
        export_seconds = time.perf_counter() - start

        start = time.perf_counter()
        checks = _verify(model, draft, example, check_inputs, rtol, atol)
        verify_seconds = time.perf_counter() - start

        report = ExportReport(
            path,
            used_mode,
            optimizations,
            checks,
            rtol,
            atol,
            export_seconds,
            verify_seconds,
            notes=notes,
            parameters=sum(p.numel() for p in model.parameters()),
        )
        if not report.passed and strict:
            draft.unlink(missing_ok=True)
            raise ExportVerificationError(report)
        report.metadata = _metadata(model, example, report)
        with torchscript_calls():
            exported.save(str(draft), _extra_files={METADATA_FILE: json.dumps(report.metadata, indent=1)})
        os.replace(draft, path)
        report.file_bytes = path.stat().st_size
        return report
    finally:
        model.train(was_training)


def _to_torchscript(
    model: torch.nn.Module, example: tuple[Any, ...], mode: Mode, notes: list[str]
) -> tuple[torch.jit.ScriptModule, str]:
    if mode not in ("trace", "script", "auto"):
        raise ValueError(f'mode: expected "trace", "script" or "auto", got {mode!r}')
    if mode in ("script", "auto"):
        try:
            return torch.jit.script(model), "script"
        except Exception as error:  # TorchScript's frontend raises several unrelated exception types
            reason = _scripting_error_paragraph(error)
            if mode == "script":
                raise ExportError(
                    f"{type(model).__name__} cannot be scripted: {reason}. "
                    'Use mode="trace" (or "auto") to trace it on the example instead.'
                ) from None
            message = f"{type(model).__name__} cannot be scripted ({reason}); fell back to torch.jit.trace"
            warnings.warn(f"tsnative.export: {message}", stacklevel=3)
            notes.append(message)
    with warnings.catch_warnings(record=True) as caught, torch.no_grad():
        warnings.simplefilter("always", torch.jit.TracerWarning)
        traced = torch.jit.trace(model, example, check_trace=False, strict=False)
    tracer_messages = [str(w.message).splitlines()[0] for w in caught if w.category is torch.jit.TracerWarning]
    notes.extend(f"trace warning: {message}" for message in dict.fromkeys(tracer_messages))
    return traced, "trace"


def _scripting_error_paragraph(error: Exception) -> str:
    """TorchScript's multi-line error (message, source excerpt, marker) as one readable sentence."""
    lines = [line.rstrip() for line in str(error).splitlines() if line.strip()]
    message = lines[0].rstrip(":") if lines else type(error).__name__
    location = next((m for line in lines if (m := re.search(r'File "(.+)", line (\d+)', line))), None)
    marker = next((i for i, line in enumerate(lines) if "<--- HERE" in line), None)
    where = ""
    if location:
        where = f" at {Path(location.group(1)).name}:{location.group(2)}"
    if marker is not None and marker > 0:
        where += f": `{lines[marker - 1].strip()}`"
    return message + where


def _verify(
    model: torch.nn.Module,
    file: Path,
    example: tuple[Any, ...],
    check_inputs: Sequence[Any] | None,
    rtol: float,
    atol: float,
) -> list[CheckResult]:
    """Runs every check input through the saved file (native Engine) and through eager, and compares."""
    engine = Engine(file)
    generated = check_inputs is None
    if generated:
        checks = default_check_inputs(example)
    else:
        checks = [(f"check {i + 1}", c if isinstance(c, tuple) else (c,)) for i, c in enumerate(check_inputs)]
    results = []
    for label, inputs in checks:
        shapes = shapes_text(inputs)
        try:
            with torch.no_grad():
                expected = model(*inputs)
        except Exception as error:
            if not generated:
                raise
            problem = f"eager raised {type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
            results.append(CheckResult(label, shapes, True, skipped=True, problem=problem))
            continue
        try:
            native = engine.predict(*inputs)
        except Exception as error:
            first_line = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
            results.append(CheckResult(label, shapes, False, problem=f"native raised: {first_line}"))
            continue
        results.append(compare(label, shapes, native, expected, rtol, atol))
    for result, (_, inputs) in zip(results, checks, strict=True):
        result.batch = batch_size(inputs)
    return results


def _metadata(model: torch.nn.Module, example: tuple[Any, ...], report: ExportReport) -> dict[str, Any]:
    names = _input_names(model, len(example))
    inputs = [{"name": name, **describe(value)} for name, value in zip(names, example, strict=True)]
    with torch.no_grad():
        outputs = describe(model(*example))
    # The batch is dynamic when inputs of other batch sizes ran (generated or given) and all of them passed.
    batch = batch_size(example)
    other_batches = [c for c in report.checks if not c.skipped and c.batch is not None and c.batch != batch]
    dynamic_batch = batch is not None and bool(other_batches) and all(c.passed for c in other_batches)
    if dynamic_batch:
        inputs = [mark_dynamic_batch(item, batch) for item in inputs]
        outputs = mark_dynamic_batch(outputs, batch)
    return {
        "format": METADATA_FORMAT,
        "model": type(model).__name__,
        "inputs": inputs,
        "outputs": outputs,
        "dynamic_batch": dynamic_batch,
        "export_mode": report.mode,
        "optimizations": report.optimizations,
        "parameters": report.parameters,
        "torch_version": torch.__version__,
        "tsnative_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "verification": {
            "passed": report.passed,
            "rtol": report.rtol,
            "atol": report.atol,
            "checks": [
                {"label": c.label, "passed": c.passed, "skipped": c.skipped, "max_abs_diff": c.max_abs_diff}
                for c in report.checks
            ],
        },
    }


def _input_names(model: torch.nn.Module, count: int) -> list[str]:
    """forward's parameter names, or input0, input1... when they cannot be read (e.g. *args)."""
    try:
        parameters = [
            p.name
            for p in inspect.signature(model.forward).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        parameters = []
    return parameters[:count] if len(parameters) >= count else [f"input{i}" for i in range(count)]
