"""Export to an AOTInductor package (.pt2): torch.export with a dynamic batch where it can, and Inductor's compiled
code in a package that carries tsnative's metadata. tsnative.export verifies it through the native engine
(cpp/src/backends/aoti/aoti_backend.cpp) as it verifies TorchScript files."""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import time
from pathlib import Path
from typing import Any

import torch

from . import _C
from ._check_inputs import batch_size
from ._structure import leaves, map_leaves, map_tensors, recorded_call
from ._version import __version__
from .report import CheckResult

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
    model: torch.nn.Module, example: tuple[Any, ...], expected: Any, path: Path, input_names: list[str]
) -> CompiledPackage:
    """Exports and compiles to ``draft_path(path)``. Raises TypeError for inputs that hold something other than
    tensors (in tuples, lists and dicts) and ExportFailed when torch.export cannot export the model."""
    for name, value in zip(input_names, example, strict=True):
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
    metadata = _metadata(model, example, expected, input_names, dynamic, notes)
    draft = draft_path(path)
    configs = {"aot_inductor.metadata": {_C.METADATA_FILE: metadata}, "freezing": True}
    torch._inductor.aoti_compile_and_package(program, package_path=os.fspath(draft), inductor_configs=configs)
    return CompiledPackage(draft, dynamic, notes, metadata, time.perf_counter() - start)


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
    # The tensors the metadata marks as batch-sized (_structure.mark_dynamic_batch): rank >= 2, dimension 0 the
    # batch; the engine's input checks let exactly those vary.
    shapes = map_leaves(example, lambda leaf: {0: dim} if leaf.dim() >= 2 and leaf.shape[0] == batch else None)
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
    inputs, outputs = recorded_call(names, example, expected, batch_size(example) if dynamic else None)
    record = {
        "model": type(model).__name__,
        "inputs": inputs,
        "outputs": outputs,
        "dynamic_batch": dynamic,
        "batch": "dynamic: exported with a dynamic batch dimension" if dynamic else f"fixed: {notes[-1]}",
        "export_mode": "pt2",
        "optimizations": list(OPTIMIZATIONS),
        "parameters": sum(p.numel() for p in model.parameters()),
        # Inductor compiles the kernels with -march=native: they may use any of this CPU's instructions, and the
        # engine refuses the package on a CPU without them (cpp/src/backends/aoti/cpu_isa.h) rather than crash.
        "cpu_features": _C.cpu_features(),
        "torch_version": torch.__version__,
        "tsnative_version": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "verification": None,  # compiled in before it ran: tsnative.export's report has it
    }
    return _C.metadata_text(json.dumps(record, allow_nan=False))
