"""Export to an AOTInductor package (.pt2): torch.export with a dynamic batch where it can, and Inductor's compiled
code in a package that carries tsnative's metadata. tsnative.export verifies it through the native engine
(cpp/src/backends/aoti/aoti_backend.cpp) as it verifies TorchScript files."""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from .. import _C
from ..report import CheckResult, ExportReport, check_notes
from .errors import ExportError, ExportVerificationError
from .metadata import input_names, package_metadata
from .structure import leaves, map_leaves, map_tensors
from .verify import batch_text, verify
from .verify_inputs import batch_size

# Inductor's freezing folds the weights into the compiled code (constant folding, conv+bn): the CPU's fast path.
OPTIMIZATIONS = ("aot_inductor", "freezing")


class ExportFailed(Exception):
    """torch.export could not export the model at all (the caller raises its ExportError)."""


@dataclasses.dataclass
class CompiledPackage:
    draft: Path  # where the package is, until verified
    dynamic: bool  # exported with a dynamic batch dimension
    notes: list[str]  # why the batch is fixed, when it is
    metadata: str  # the tsnative.json it carries
    seconds: float  # torch.export and the compile


def compile_package(
    model: torch.nn.Module, example: tuple[Any, ...], expected: Any, path: Path, names: list[str]
) -> CompiledPackage:
    """Exports and compiles to ``draft_path(path)``. Raises TypeError for inputs that hold something other than
    tensors (in tuples, lists and dicts) and ExportFailed when torch.export cannot export the model."""
    for name, value in zip(names, example, strict=True):
        for where, leaf in leaves(value, name):
            if not isinstance(leaf, torch.Tensor):
                raise TypeError(
                    f"format='pt2': input '{where}' is a {type(leaf).__name__}; this version exports models whose "
                    "inputs are tensors, or tuples, lists and dicts of tensors, to .pt2 (use the TorchScript format "
                    "for others)"
                )
    # The compiled code reads its inputs by the example's strides; the engine hands it contiguous tensors.
    example = map_tensors(example, torch.Tensor.contiguous)
    notes: list[str] = []
    start = time.perf_counter()
    program, dynamic = _torch_export(model, example, notes)
    metadata = package_metadata(model, example, expected, names, dynamic, notes, list(OPTIMIZATIONS))
    draft = draft_path(path)
    configs = {"aot_inductor.metadata": {_C.METADATA_FILE: metadata}, "freezing": True}
    torch._inductor.aoti_compile_and_package(program, package_path=os.fspath(draft), inductor_configs=configs)
    return CompiledPackage(draft, dynamic, notes, metadata, time.perf_counter() - start)


def export_package(
    model: torch.nn.Module,
    example: tuple[Any, ...],
    expected: Any,
    path: Path,
    verify_inputs: Sequence[Any] | None,
    rtol: float,
    atol: float,
    strict: bool,
) -> ExportReport:
    """format="pt2": the package compiled to a draft, verified through the native engine, renamed into place."""
    try:
        package = compile_package(model, example, expected, path, input_names(model, len(example)))
    except ExportFailed as error:
        raise ExportError(str(error)) from None
    start = time.perf_counter()
    # The package is compiled for the example's lengths (torch.export specialises them): no checks at others.
    checks, _ = verify(model, package.draft, example, verify_inputs, rtol, atol, lengths=False)
    verify_seconds = time.perf_counter() - start
    if not package.dynamic and verify_inputs is None:
        checks = skip_other_batches(checks, example)
    notes = [*package.notes, *check_notes(checks)]
    report = ExportReport(path, "pt2", list(OPTIMIZATIONS), checks, rtol, atol, package.seconds, verify_seconds)
    report.notes = notes
    report.batch = batch_text(example, checks) if package.dynamic else fixed_batch_text(example, package.notes)
    report.metadata = json.loads(package.metadata)
    report.parameters = sum(p.numel() for p in model.parameters())
    draft = package.draft
    if not report.passed and strict:
        draft.unlink(missing_ok=True)
        raise ExportVerificationError(report)
    os.replace(draft, path)
    report.file_bytes = path.stat().st_size
    return report


def skip_other_batches(checks: list[CheckResult], example: tuple[Any, ...]) -> list[CheckResult]:
    """A static package refuses other batch sizes by its recorded shapes: the generated checks at other sizes say
    nothing about its outputs, and are marked skipped with that reason."""
    batch = batch_size(example)
    if batch is None:
        return checks
    reason = f"not run: the package's batch is fixed at {batch}"
    return [
        CheckResult(c.label, c.input_shapes, True, skipped=True, batch=c.batch, problem=reason)
        if c.batch not in (None, batch)
        else c
        for c in checks
    ]


def fixed_batch_text(example: tuple[Any, ...], notes: list[str]) -> str:
    """The report's batch line for a static package: the size and why it is fixed."""
    batch = batch_size(example)
    return f"fixed at {batch}: {notes[-1]}" if batch is not None else f"fixed: {notes[-1]}"


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
    # The tensors the metadata marks as batch-sized (structure.mark_dynamic_batch): rank >= 2, dimension 0 the
    # batch; the engine's input checks let exactly those vary.
    shapes = map_leaves(example, lambda leaf: {0: dim} if leaf.dim() >= 2 and leaf.shape[0] == batch else None)
    try:
        return torch.export.export(model, example, dynamic_shapes=shapes), True
    except Exception as error:  # torch.export's constraint violations are of several types
        notes.append(f"a dynamic batch could not be exported ({_first_line(error)[:200]})")
        return torch.export.export(model, example), False
