"""Export to an AOTInductor package (.pt2): torch.export with a dynamic batch where it can, Inductor's compiled
code in a package, verified through the native engine (cpp/src/aoti_backend.cpp) as TorchScript files are."""

from __future__ import annotations

import datetime
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from . import _C
from ._check_inputs import batch_size
from ._structure import describe, mark_dynamic_batch
from ._version import __version__
from .report import CheckResult, ExportReport


class ExportFailed(Exception):
    """torch.export could not export the model at all (the caller raises its ExportError)."""


Verify = Callable[[torch.nn.Module, Path, tuple[Any, ...], Sequence[Any] | None, float, float], Any]


def export_pt2(
    model: torch.nn.Module,
    example: tuple[Any, ...],
    expected: Any,
    path: Path,
    check_inputs: Sequence[Any] | None,
    rtol: float,
    atol: float,
    input_names: list[str],
    verify: Verify,
    batch_text: Callable[[tuple[Any, ...], list[CheckResult]], str],
) -> ExportReport:
    """Exports, compiles and verifies; returns the report with the package still at its draft path
    (``path`` + ".unverified.pt2"), which the caller renames into place or removes."""
    for name, value in zip(input_names, example, strict=True):
        if not isinstance(value, torch.Tensor):
            raise TypeError(
                f"format='pt2': input '{name}' is a {type(value).__name__}; this version exports models whose "
                "inputs are tensors to .pt2 (use the TorchScript format for others)"
            )
    notes: list[str] = []
    start = time.perf_counter()
    program, dynamic = _torch_export(model, example, notes)
    metadata = _metadata(model, example, expected, input_names, dynamic, notes)
    draft = draft_path(path)
    # Inductor's freezing folds the weights into the compiled code (constant folding, conv+bn): the CPU's fast path.
    configs = {"aot_inductor.metadata": {_C.METADATA_FILE: metadata}, "freezing": True}
    torch._inductor.aoti_compile_and_package(program, package_path=os.fspath(draft), inductor_configs=configs)
    export_seconds = time.perf_counter() - start

    start = time.perf_counter()
    checks, _ = verify(model, draft, example, check_inputs, rtol, atol)
    verify_seconds = time.perf_counter() - start
    batch = batch_size(example)
    if not dynamic and check_inputs is None and batch is not None:
        # A static package refuses other batch sizes by its recorded shapes: the generated checks at other sizes
        # say nothing about its outputs.
        reason = f"not run: the package's batch is fixed at {batch}"
        checks = [
            CheckResult(c.label, c.input_shapes, True, skipped=True, batch=c.batch, problem=reason)
            if c.batch not in (None, batch)
            else c
            for c in checks
        ]
    notes.extend(dict.fromkeys(check.note for check in checks if check.note))
    report = ExportReport(path, "pt2", ["aot_inductor", "freezing"], checks, rtol, atol, export_seconds, verify_seconds)
    report.notes = notes
    if dynamic:
        report.batch = batch_text(example, checks)
    else:
        report.batch = f"fixed at {batch}: {notes[-1]}" if batch is not None else f"fixed: {notes[-1]}"
    report.metadata = json.loads(metadata)
    return report


def draft_path(path: Path) -> Path:
    """Where the package is compiled before it is verified (Inductor wants the .pt2 suffix)."""
    return path.with_name(path.name.removesuffix(".pt2") + ".unverified.pt2")


def _torch_export(model: torch.nn.Module, example: tuple[Any, ...], notes: list[str]) -> tuple[Any, bool]:
    """torch.export with dimension 0 of the batch-sized inputs dynamic; static when that cannot be."""
    try:
        return _torch_export_or_raise(model, example, notes)
    except Exception as error:  # torch.export's own error types are many; its first line says what failed
        raise ExportFailed(
            f"torch.export could not export {type(model).__name__}: {_first_line(error)} (control flow that "
            "depends on tensor values needs torch.cond; or export to TorchScript)"
        ) from error


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return (text.splitlines()[0] if text else type(error).__name__)[:300]


def _torch_export_or_raise(model: torch.nn.Module, example: tuple[Any, ...], notes: list[str]) -> tuple[Any, bool]:
    batch = batch_size(example)
    if batch is None:
        notes.append("the inputs share no batch dimension: exported with static shapes")
        return torch.export.export(model, example), False
    if batch < 2:
        notes.append("the example's batch is 1, which torch.export specialises: give a batch of 2 or more")
        return torch.export.export(model, example), False
    dim = torch.export.Dim("batch", min=1)
    shapes = tuple({0: dim} if value.dim() >= 2 and value.shape[0] == batch else None for value in example)
    try:
        return torch.export.export(model, example, dynamic_shapes=shapes), True
    except Exception as error:  # torch.export's constraint violations are of several types
        notes.append(f"a dynamic batch could not be exported ({_first_line(error)[:200]})")
        return torch.export.export(model, example), False


def _metadata(
    model: torch.nn.Module,
    example: tuple[Any, ...],
    expected: Any,
    names: list[str],
    dynamic: bool,
    notes: list[str],
) -> str:
    """The package's tsnative.json, written before compiling (the package carries it): the verification that
    follows is in the report, not in the package."""
    inputs = [{"name": name, **describe(value)} for name, value in zip(names, example, strict=True)]
    outputs = describe(expected)
    batch = batch_size(example)
    if dynamic and batch is not None:
        inputs = [mark_dynamic_batch(item, batch) for item in inputs]
        outputs = mark_dynamic_batch(outputs, batch)
    record = {
        "model": type(model).__name__,
        "inputs": inputs,
        "outputs": outputs,
        "dynamic_batch": dynamic,
        "batch": "dynamic: exported with a dynamic batch dimension" if dynamic else f"fixed: {notes[-1]}",
        "export_mode": "pt2",
        "optimizations": ["aot_inductor", "freezing"],
        "parameters": sum(p.numel() for p in model.parameters()),
        "torch_version": torch.__version__,
        "tsnative_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "verification": None,  # compiled in before it ran: tsnative.export's report has it
    }
    return _C.metadata_text(json.dumps(record, allow_nan=False))
