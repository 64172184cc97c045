"""What tsnative.export verified: one row per check input, and a printable summary."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import torch

from ._structure import leaves


@dataclasses.dataclass
class CheckResult:
    """The native engine's output against eager PyTorch's on one input."""

    label: str  # "example", "random", "negated", "batch 1", or "check 3" for inputs the caller gave
    input_shapes: str
    passed: bool
    max_abs_diff: float = math.nan
    max_rel_diff: float = math.nan  # max |native - eager| / (|eager| + atol)
    topk_agreement: float | None = None  # share of rows whose top-k classes agree, for classifier-like outputs
    topk: int | None = None
    skipped: bool = False  # eager itself refused this generated input (e.g. a model for a fixed batch)
    batch: int | None = None  # the input's batch size, when it has one
    problem: str = ""  # why it failed or was skipped


@dataclasses.dataclass
class ExportReport:
    path: Path
    mode: str  # the mode actually used: "script" or "trace"
    optimizations: list[str]
    checks: list[CheckResult]
    rtol: float
    atol: float
    export_seconds: float
    verify_seconds: float
    file_bytes: int = 0
    parameters: int = 0
    notes: list[str] = dataclasses.field(default_factory=list)
    metadata: dict[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True when every check that ran agreed within tolerance (and at least one ran)."""
        ran = [check for check in self.checks if not check.skipped]
        return bool(ran) and all(check.passed for check in ran)

    def __str__(self) -> str:
        optimized = ", ".join(self.optimizations) or "none"
        lines = [
            f"tsnative.export: {self.path} ({self.mode}, optimizations: {optimized}): "
            f"{'PASSED' if self.passed else 'FAILED'}",
            f"  export {self.export_seconds:.2f} s, verification {self.verify_seconds:.2f} s, "
            f"file {self.file_bytes / 1e6:.1f} MB, {self.parameters:,} parameters",
            f"  {'check':<10} {'input shapes':<24} {'max abs':>9} {'max rel':>9} {'top-k':>8}  result",
        ]
        for check in self.checks:
            topk = f"{check.topk_agreement:.0%}@{check.topk}" if check.topk_agreement is not None else "-"
            result = "skipped" if check.skipped else ("pass" if check.passed else "FAIL")
            if check.problem:
                result += f": {check.problem}"
            lines.append(
                f"  {check.label:<10} {check.input_shapes:<24} {check.max_abs_diff:>9.2e} {check.max_rel_diff:>9.2e} "
                f"{topk:>8}  {result}"
            )
        lines.append(
            f"  tolerance rtol={self.rtol:g}, atol={self.atol:g}; max rel = max |native - eager| / (|eager| + atol)"
        )
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)


def compare(label: str, input_shapes: str, native: Any, eager: Any, rtol: float, atol: float) -> CheckResult:
    """Compares two output structures leaf by leaf: same structure, tensors allclose, other leaves equal."""
    native_leaves, eager_leaves = list(leaves(native)), list(leaves(eager))
    native_paths, eager_paths = [p for p, _ in native_leaves], [p for p, _ in eager_leaves]
    if native_paths != eager_paths:
        problem = f"output structure differs: {native_paths} vs {eager_paths}"
        return CheckResult(label, input_shapes, False, problem=problem)
    result = CheckResult(label, input_shapes, True, max_abs_diff=0.0, max_rel_diff=0.0)
    for (path, got), (_, want) in zip(native_leaves, eager_leaves, strict=True):
        where = path or "output"
        if not isinstance(want, torch.Tensor):
            if got != want:
                result.passed, result.problem = False, f"{where}: {got!r} != {want!r}"
            continue
        if not isinstance(got, torch.Tensor) or got.shape != want.shape or got.dtype != want.dtype:
            given = f"{got.dtype} {list(got.shape)}" if isinstance(got, torch.Tensor) else type(got).__name__
            result.passed = False
            result.problem = f"{where}: expected {want.dtype} {list(want.shape)}, got {given}"
            continue
        if want.numel() == 0:
            continue
        got64, want64 = got.detach().double().cpu(), want.detach().double().cpu()
        difference = (got64 - want64).abs()
        result.max_abs_diff = max(result.max_abs_diff, difference.max().item())
        result.max_rel_diff = max(result.max_rel_diff, (difference / (want64.abs() + atol)).max().item())
        if not torch.allclose(got64, want64, rtol=rtol, atol=atol, equal_nan=True) and result.passed:
            result.passed, result.problem = False, f"{where}: values differ beyond tolerance"
        if result.topk_agreement is None and want.dim() == 2 and want.is_floating_point() and want.shape[1] >= 2:
            k = 5 if want.shape[1] > 5 else 1  # top-5 of 5 or fewer classes would always agree
            same = got64.topk(k, dim=1).indices.sort(dim=1).values == want64.topk(k, dim=1).indices.sort(dim=1).values
            result.topk, result.topk_agreement = k, same.all(dim=1).double().mean().item()
    return result
