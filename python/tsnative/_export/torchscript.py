"""Export to a TorchScript file (script or trace, optionally frozen), verified through the native engine; and
TorchScript's upstream deprecation, handled once.

torch 2.14 emits a FutureWarning from every ``torch.jit.script``/``trace``/``load`` call ("`torch.jit.script` is
deprecated. Please switch to `torch.compile` or `torch.export`."). tsnative exists to run TorchScript, so inside
:func:`torchscript_calls` those warnings are replaced by a single line per process, saying so once.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Literal

import torch

from .. import _C
from ..report import ExportReport, check_notes
from .errors import ExportError, ExportVerificationError, error_cause
from .metadata import torchscript_metadata
from .verify import batch_text, lengths_text, verify

METADATA_FILE = _C.METADATA_FILE  # the extra file the C++ engine reads (tsnative::kMetadataFile)

Mode = Literal["trace", "script", "auto"]

_DEPRECATION_MESSAGE = r"`torch\.jit\.\w+` is deprecated"
_noted = False


@contextlib.contextmanager
def torchscript_calls() -> Iterator[None]:
    """Runs torch.jit calls without their per-call FutureWarning; notes the deprecation once on stderr."""
    global _noted
    if not _noted:
        _noted = True
        sys.stdout.flush()  # keep the note in order with what was printed before it
        print(
            "tsnative: note: TorchScript is deprecated upstream (torch 2.14 warns on every torch.jit call); "
            "it still works and tsnative uses it deliberately.",
            file=sys.stderr,
            flush=True,
        )
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_DEPRECATION_MESSAGE, category=FutureWarning)
        yield


def export_torchscript(
    model: torch.nn.Module,
    example: tuple[Any, ...],
    expected: Any,
    path: Path,
    mode: Mode,
    optimize: bool,
    verify_inputs: Sequence[Any] | None,
    rtol: float,
    atol: float,
    strict: bool,
) -> ExportReport:
    """format="torchscript": exported to a draft, verified through the native engine, saved with its metadata and
    renamed into place (the caller removes the draft when this raises)."""
    notes: list[str] = []
    draft = path.with_name(path.name + ".unverified")
    exported, report, native_output = _export_and_verify(
        model, example, mode, optimize, verify_inputs, rtol, atol, draft, notes
    )
    if mode == "auto" and report.mode == "script" and not report.passed:
        exported, report, native_output = _trace_after_failed_script(
            model, example, optimize, verify_inputs, rtol, atol, draft, (exported, report, native_output)
        )
    report.parameters = sum(p.numel() for p in model.parameters())
    # The C++ metadata unit stamps the format, checks what readers rely on and gives the text to store; the
    # report holds what the file will.
    metadata_json = _C.metadata_text(
        json.dumps(torchscript_metadata(model, example, expected, native_output, report), allow_nan=False)
    )
    report.metadata = json.loads(metadata_json)
    if not report.passed and strict:
        draft.unlink(missing_ok=True)
        raise ExportVerificationError(report)
    with torchscript_calls():
        exported.save(str(draft), _extra_files={METADATA_FILE: metadata_json})
    os.replace(draft, path)
    report.file_bytes = path.stat().st_size
    return report


def _export_and_verify(
    model: torch.nn.Module,
    example: tuple[Any, ...],
    mode: Mode,
    optimize: bool,
    verify_inputs: Sequence[Any] | None,
    rtol: float,
    atol: float,
    draft: Path,
    notes: list[str],
) -> tuple[torch.jit.ScriptModule, ExportReport, Any]:
    """Exports to ``draft`` (without metadata) and verifies it: the module, its report, and the file's output on
    the example (None when the native engine raised on it)."""
    start = time.perf_counter()
    with torchscript_calls():
        exported, used_mode = _to_torchscript(model, example, mode, notes)
        optimizations = []
        if optimize:
            exported = torch.jit.freeze(exported)
            optimizations.append("freeze")
        exported.save(str(draft))
    export_seconds = time.perf_counter() - start

    start = time.perf_counter()
    checks, native_output = verify(model, draft, example, verify_inputs, rtol, atol)
    verify_seconds = time.perf_counter() - start
    notes.extend(check_notes(checks))
    report = ExportReport(
        draft.with_name(draft.name.removesuffix(".unverified")),
        used_mode,
        optimizations,
        checks,
        rtol,
        atol,
        export_seconds,
        verify_seconds,
        notes=notes,
    )
    report.batch = batch_text(example, checks)
    report.lengths = lengths_text(example, checks)
    return exported, report, native_output


def _trace_after_failed_script(
    model: torch.nn.Module,
    example: tuple[Any, ...],
    optimize: bool,
    verify_inputs: Sequence[Any] | None,
    rtol: float,
    atol: float,
    draft: Path,
    scripted: tuple[torch.jit.ScriptModule, ExportReport, Any],
) -> tuple[torch.jit.ScriptModule, ExportReport, Any]:
    """mode="auto": the scripted file failed verification, so trace; keep the trace when it passes, else the
    scripted file (with a note on why tracing did not help)."""
    script_report = scripted[1]
    failed = next((check for check in script_report.checks if not check.skipped and not check.passed), None)
    why = "no check ran" if failed is None else f"{failed.label}: {failed.problem or 'failed'}"
    try:
        traced = _export_and_verify(model, example, "trace", optimize, verify_inputs, rtol, atol, draft, [])
    except Exception as error:  # the tracer raises many unrelated exception types
        script_report.notes.append(
            f"the scripted file failed verification ({why}); tracing failed too: {error_cause(error)}"
        )
        return scripted
    trace_report = traced[1]
    if not trace_report.passed:
        script_report.notes.append(
            f"the scripted file failed verification ({why}); the traced file failed too, kept the scripted one"
        )
        return scripted
    message = f"the scripted file failed verification ({why}); traced instead"
    warnings.warn(f"tsnative.export: {message}", stacklevel=4)  # export <- export_torchscript <- here
    trace_report.notes[:0] = [*script_report.notes, message]
    trace_report.export_seconds += script_report.export_seconds
    trace_report.verify_seconds += script_report.verify_seconds
    return traced


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
            # export <- export_torchscript <- _export_and_verify <- here: the warning names the caller's line.
            warnings.warn(f"tsnative.export: {message}", stacklevel=5)
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
