"""tsnative.export: TorchScript export (trace or script), optional freezing, and proof that the saved file gives
eager PyTorch's outputs when run by the native engine."""

from __future__ import annotations

import datetime
import inspect
import json
import math
import os
import re
import time
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import torch

from . import _C
from ._check_inputs import batch_size, changed_lengths, default_check_inputs, flat_lengths
from ._detections import tolerance_for
from ._pt2 import OPTIMIZATIONS, ExportFailed, compile_package, draft_path, fixed_batch_text, skip_other_batches
from ._structure import describe, recorded_call, shapes_text
from ._torchscript import torchscript_calls
from ._version import __version__
from .engine import Engine
from .errors import TsnativeError
from .report import CheckResult, ExportReport, check_notes, compare

__all__ = ["ExportError", "ExportVerificationError", "export"]

METADATA_FILE = _C.METADATA_FILE  # the extra file the C++ engine reads (tsnative::kMetadataFile)

Mode = Literal["trace", "script", "auto"]
Format = Literal["torchscript", "pt2"]


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
    format: Format | None = None,
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
        check_inputs: inputs to verify on, each like ``example_inputs``. By default: the example, random data of
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

    Returns:
        The :class:`ExportReport`: per check input the max abs and rel differences, top-k agreement for
        classifier outputs, and pass/fail; ``batch`` says whether the batch is dynamic or why it is fixed. The
        file records, in its ``tsnative.json`` extra file (strict JSON: a difference not measured is null), the
        inputs (names, dtypes, shapes with -1 for a verified dynamic batch or length), outputs, mode, optimizations,
        versions, creation time and the verification summary; ``tsnative.Engine(path).metadata`` returns it.

    Raises:
        TypeError, ValueError: eager ``model(*example_inputs)`` raised (TypeError for a TypeError or a list).
        ExportError: the model cannot be scripted and ``mode`` is ``"script"``.
        ExportVerificationError: a check failed and ``strict`` is True.
    """
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
            return _export_package(model, example, expected, path, check_inputs, rtol, atol, strict)
        notes: list[str] = []
        draft = path.with_name(path.name + ".unverified")
        exported, report, native_output = _export_and_verify(
            model, example, mode, optimize, check_inputs, rtol, atol, draft, notes
        )
        if mode == "auto" and report.mode == "script" and not report.passed:
            exported, report, native_output = _trace_after_failed_script(
                model, example, optimize, check_inputs, rtol, atol, draft, (exported, report, native_output)
            )
        report.parameters = sum(p.numel() for p in model.parameters())
        # The C++ metadata unit stamps the format, checks what readers rely on and gives the text to store; the
        # report holds what the file will.
        metadata_json = _C.metadata_text(
            json.dumps(_metadata(model, example, expected, native_output, report), allow_nan=False)
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


def _export_package(
    model: torch.nn.Module,
    example: tuple[Any, ...],
    expected: Any,
    path: Path,
    check_inputs: Sequence[Any] | None,
    rtol: float,
    atol: float,
    strict: bool,
) -> ExportReport:
    """format="pt2": the package compiled to a draft, verified through the native engine, renamed into place."""
    try:
        package = compile_package(model, example, expected, path, _input_names(model, len(example)))
    except ExportFailed as error:
        raise ExportError(str(error)) from None
    start = time.perf_counter()
    # The package is compiled for the example's lengths (torch.export specialises them): no checks at others.
    checks, _ = _verify(model, package.draft, example, check_inputs, rtol, atol, lengths=False)
    verify_seconds = time.perf_counter() - start
    if not package.dynamic and check_inputs is None:
        checks = skip_other_batches(checks, example)
    notes = [*package.notes, *check_notes(checks)]
    report = ExportReport(path, "pt2", list(OPTIMIZATIONS), checks, rtol, atol, package.seconds, verify_seconds)
    report.notes = notes
    report.batch = _batch_text(example, checks) if package.dynamic else fixed_batch_text(example, package.notes)
    report.metadata = json.loads(package.metadata)
    report.parameters = sum(p.numel() for p in model.parameters())
    draft = package.draft
    if not report.passed and strict:
        draft.unlink(missing_ok=True)
        raise ExportVerificationError(report)
    os.replace(draft, path)
    report.file_bytes = path.stat().st_size
    return report


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
        cause = _cause(error)
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


def _export_and_verify(
    model: torch.nn.Module,
    example: tuple[Any, ...],
    mode: Mode,
    optimize: bool,
    check_inputs: Sequence[Any] | None,
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
    checks, native_output = _verify(model, draft, example, check_inputs, rtol, atol)
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
    report.batch = _batch_text(example, checks)
    report.lengths = _lengths_text(example, checks)
    return exported, report, native_output


def _trace_after_failed_script(
    model: torch.nn.Module,
    example: tuple[Any, ...],
    optimize: bool,
    check_inputs: Sequence[Any] | None,
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
        traced = _export_and_verify(model, example, "trace", optimize, check_inputs, rtol, atol, draft, [])
    except Exception as error:  # the tracer raises many unrelated exception types
        script_report.notes.append(
            f"the scripted file failed verification ({why}); tracing failed too: {_cause(error)}"
        )
        return scripted
    trace_report = traced[1]
    if not trace_report.passed:
        script_report.notes.append(
            f"the scripted file failed verification ({why}); the traced file failed too, kept the scripted one"
        )
        return scripted
    message = f"the scripted file failed verification ({why}); traced instead"
    warnings.warn(f"tsnative.export: {message}", stacklevel=3)
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
            warnings.warn(f"tsnative.export: {message}", stacklevel=4)  # export <- _export_and_verify <- here
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
    lengths: bool = True,
) -> tuple[list[CheckResult], Any]:
    """Runs every check input through the saved file (native Engine) and through eager, and compares. Also returns
    the file's output on the example (None when it raised), which the metadata describes. `lengths`: generate checks
    at other lengths of the 1-D inputs."""
    engine = Engine(file)
    detections = tolerance_for(model)  # used only where the outputs are detections
    generated = check_inputs is None
    if generated:
        checks = default_check_inputs(example, lengths=lengths)
    else:
        checks = [(f"check {i + 1}", c if isinstance(c, tuple) else (c,)) for i, c in enumerate(check_inputs)]
    results = []
    native_example = None
    for label, inputs in checks:
        shapes = shapes_text(inputs)
        try:
            with torch.no_grad():
                expected = model(*inputs)
        except Exception as error:
            if not generated:
                raise
            problem = f"eager raised {_cause(error)}"
            results.append(CheckResult(label, shapes, True, skipped=True, problem=problem))
            continue
        try:
            native = engine.predict(*inputs)
        except Exception as error:
            results.append(CheckResult(label, shapes, False, problem=f"native raised: {_error_line(error)}"))
            continue
        if label == "example":  # given check inputs need not have the example's shapes
            native_example = native
        results.append(compare(label, shapes, native, expected, rtol, atol, detections))
        results[-1].output_description = describe(expected)
    for result, (_, inputs) in zip(results, checks, strict=True):
        result.batch = batch_size(inputs)
        result.lengths = changed_lengths(example, inputs)
    return results, native_example


# Lines of a TorchScript/LibTorch message that carry no cause: the interpreter's banner, traceback headers, source
# excerpts (the indented lines after a `File "..."` line), markers and bare punctuation.
_NOISE = re.compile(
    r"^(The following operation failed in the TorchScript interpreter|Traceback|File \"|Exception raised from|"
    r"The above operation failed|The original call is)"
)
_BARE_TYPE = re.compile(r"^[\w.]*(Error|Exception):?$")  # "RuntimeError:" with its message on the next lines
_RAISED = re.compile(r"^[\w.]*(Error|Exception)\b[^:]*:\s*\S")  # "RuntimeError: ...", "builtins.ValueError: ..."
_MAX_LINE = 200


def _meaningful_line(text: str) -> str:
    """The line of an error message that says what went wrong, shortened to one line ("" when none does).

    The interpreter's own error line ("RuntimeError: mat1 and mat2 shapes cannot be multiplied") when there is
    one, else the first line with words: LibTorch's schema errors end in a lone ":" after a source excerpt, and
    their cause ("Arguments for call are not valid.") is at the top.
    """
    candidates = []
    in_excerpt = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith('File "'):
            in_excerpt = True
            continue
        if in_excerpt and (not line or raw[:1].isspace()):
            continue
        in_excerpt = False
        if (
            sum(character.isalnum() for character in line) >= 3
            and "<--- HERE" not in line
            and not _NOISE.match(line)
            and not _BARE_TYPE.match(line)
        ):
            candidates.append(line)
    raised = [line for line in candidates if _RAISED.match(line)]
    line = raised[-1] if raised else (candidates[0] if candidates else "")
    return line if len(line) <= _MAX_LINE else line[: _MAX_LINE - 3] + "..."


def _error_line(error: BaseException) -> str:
    """One line naming an error's cause: its meaningful line, or the exception type when the message has none."""
    return _meaningful_line(str(error)) or type(error).__name__


def _cause(error: BaseException) -> str:
    """ "RuntimeError: <its meaningful line>", for a report or a message."""
    line, name = _meaningful_line(str(error)), type(error).__name__
    if not line:
        return name
    return line if line.startswith((f"{name}:", f"builtins.{name}:")) else f"{name}: {line}"


def _batch_text(example: tuple[Any, ...], checks: list[CheckResult]) -> str:
    """Whether the batch is dynamic, in words: "dynamic: verified on batch 1, 4", or "fixed at 2: <why>".

    Dynamic only when inputs of other batch sizes ran and every one of them passed: a batch size eager itself
    refuses (a reshape to a fixed size, say) means the model is for the example's batch, even if another size
    happens to work.
    """
    batch = batch_size(example)
    if batch is None:
        return "none: the inputs share no batch dimension (dimension 0 of every tensor of rank >= 2)"
    others = [check for check in checks if check.batch is not None and check.batch != batch]
    if not others:
        return f"fixed at {batch}: no input of another batch size was checked"
    refused = next((check for check in others if check.skipped or not check.passed), None)
    if refused is not None:
        label = refused.label if refused.label.startswith("batch") else f"{refused.label} (batch {refused.batch})"
        return f"fixed at {batch}: {label}: {refused.problem or 'failed'}"
    return "dynamic: verified on batch " + ", ".join(str(size) for size in sorted({c.batch for c in others}))


def _length_verdicts(example: tuple[Any, ...], checks: list[CheckResult]) -> dict[int, str]:
    """Per length of the example's 1-D inputs, "dynamic: verified at 25" or "fixed: <why>".

    Dynamic when inputs of other lengths ran and none failed. Unlike a batch size, a length eager refuses is not held
    against it: the other inputs bound what a length may be (nn.EmbeddingBag's offsets past the end of shorter ids),
    and a length the model refuses is refused at run time too, not miscomputed.
    """
    verdicts = {}
    for length in flat_lengths(example):
        others = [check for check in checks if length in check.lengths]
        ran = [check for check in others if not check.skipped]
        failed = next((check for check in ran if not check.passed), None)
        if failed is not None:
            verdicts[length] = f"fixed: {failed.label}: {failed.problem or 'failed'}"
        elif ran:
            verdicts[length] = "dynamic: verified at " + ", ".join(
                str(size) for size in sorted({check.lengths[length] for check in ran})
            )
        elif others:
            verdicts[length] = f"fixed: {others[0].label}: {others[0].problem or 'skipped'}"
        else:
            verdicts[length] = "fixed: no input of another length was checked"
    return verdicts


def _lengths_text(example: tuple[Any, ...], checks: list[CheckResult]) -> str:
    """The report's line on the 1-D inputs' lengths ("" when there are none): "23 dynamic: verified at 25; 4 ..."."""
    return "; ".join(f"{length} {verdict}" for length, verdict in _length_verdicts(example, checks).items())


def _finite(value: float) -> float | None:
    """A number strict JSON can hold: NaN and infinities (nothing was compared) become null."""
    return value if math.isfinite(value) else None


def _metadata(
    model: torch.nn.Module, example: tuple[Any, ...], expected: Any, native_output: Any, report: ExportReport
) -> dict[str, Any]:
    batch = batch_size(example)
    dynamic_batch = batch is not None and report.batch.startswith("dynamic")
    dynamic_lengths = {
        length for length, verdict in _length_verdicts(example, report.checks).items() if verdict.startswith("dynamic")
    }
    # Eager's outputs at other lengths of the dynamic 1-D inputs: their dimensions that follow a length vary too.
    other_outputs = [
        check.output_description
        for check in report.checks
        if check.lengths and set(check.lengths) <= dynamic_lengths and check.passed and not check.skipped
    ]
    # What the file returns (a scripted convention may wrap eager's output); eager's when the file raised.
    inputs, outputs = recorded_call(
        _input_names(model, len(example)),
        example,
        native_output if native_output is not None else expected,
        batch if dynamic_batch else None,
        dynamic_lengths,
        [description for description in other_outputs if description is not None],
    )
    return {  # "format" is stamped by _C.metadata_text
        "model": type(model).__name__,
        "inputs": inputs,
        "outputs": outputs,
        "dynamic_batch": dynamic_batch,
        "batch": report.batch,
        **({"lengths": report.lengths} if report.lengths else {}),
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
            "tolerance": "|native - eager| <= atol + rtol * max|eager| per floating-point output",
            "checks": [
                {
                    "label": c.label,
                    "passed": c.passed,
                    "skipped": c.skipped,
                    "max_abs_diff": _finite(c.max_abs_diff),  # null: nothing compared (skipped, native raised)
                    "problem": c.problem,
                    **({"comparison": c.comparison, "found": c.detail} if c.comparison else {}),
                }
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
