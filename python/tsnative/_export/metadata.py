"""The tsnative.json a file records: what its inputs and outputs are, how it was exported and verified.

A TorchScript file's is written after verification and holds its summary; a .pt2 package's is compiled into it
before verification can run, so the report has that. The C++ metadata unit (_C.metadata_text) stamps the format
and checks what readers rely on.
"""

from __future__ import annotations

import datetime
import inspect
import json
import math
from typing import TYPE_CHECKING, Any

import torch

from .. import _C
from .._version import __version__
from .structure import recorded_call
from .verify import length_verdicts
from .verify_inputs import batch_size

if TYPE_CHECKING:
    from ..report import ExportReport


def _finite(value: float) -> float | None:
    """A number strict JSON can hold: NaN and infinities (nothing was compared) become null."""
    return value if math.isfinite(value) else None


def torchscript_metadata(
    model: torch.nn.Module, example: tuple[Any, ...], expected: Any, native_output: Any, report: ExportReport
) -> dict[str, Any]:
    batch = batch_size(example)
    dynamic_batch = batch is not None and report.batch.startswith("dynamic")
    dynamic_lengths = {
        length for length, verdict in length_verdicts(example, report.checks).items() if verdict.startswith("dynamic")
    }
    # Eager's outputs at other lengths of the dynamic 1-D inputs: their dimensions that follow a length vary too.
    other_outputs = [
        check.output_description
        for check in report.checks
        if check.lengths and set(check.lengths) <= dynamic_lengths and check.passed and not check.skipped
    ]
    # What the file returns (a scripted convention may wrap eager's output); eager's when the file raised.
    inputs, outputs = recorded_call(
        input_names(model, len(example)),
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


def input_names(model: torch.nn.Module, count: int) -> list[str]:
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


def package_metadata(
    model: torch.nn.Module,
    example: tuple[Any, ...],
    expected: Any,
    names: list[str],
    dynamic: bool,
    notes: list[str],
    optimizations: list[str],
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
        "optimizations": optimizations,
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
