"""What tsnative.export verified: one row per check input, and a printable summary."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

import torch

from ._detections import DetectionTolerance, compare_detections, is_detections
from ._structure import leaves


@dataclasses.dataclass
class CheckResult:
    """The native engine's output against eager PyTorch's on one input."""

    label: str  # "example", "random", "negated", "batch 1", or "check 3" for inputs the caller gave
    input_shapes: str
    passed: bool
    max_abs_diff: float = math.nan  # nan when nothing was compared (skipped, or native raised)
    max_rel_diff: float = math.nan  # max |native - eager| / max |eager|, per output (the output's scale)
    topk_agreement: float | None = None  # share of rows whose top-k classes agree, for classifier-like outputs
    topk: int | None = None
    skipped: bool = False  # eager itself refused this generated input (e.g. a model for a fixed batch)
    batch: int | None = None  # the input's batch size, when it has one
    problem: str = ""  # why it failed or was skipped
    note: str = ""  # how the outputs were matched, when not leaf by leaf as they came (a scripted convention)
    comparison: str = ""  # which output was compared how, when not element by element (detections: by matching)
    detail: str = ""  # what that comparison found on this input ("48 matched, 1 from another candidate")
    lengths: dict[int, int] = dataclasses.field(default_factory=dict)  # 1-D inputs' lengths changed: {example's: this}
    output_description: dict[str, Any] | None = dataclasses.field(default=None, repr=False)  # eager's, when it ran


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
    batch: str = ""  # "dynamic: verified on batch 1, 4", or why the batch is fixed ("fixed at 2: batch 1: ...")
    lengths: str = ""  # of 1-D inputs: "23 dynamic: verified at 25", or why fixed; "" when there are none

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
            if check.detail:
                result += f" ({check.detail})"
            if check.problem:
                result += f": {check.problem}"
            lines.append(
                f"  {check.label:<10} {check.input_shapes:<24} {_number(check.max_abs_diff)} "
                f"{_number(check.max_rel_diff)} {topk:>8}  {result}"
            )
        lines.append(f"  tolerance {tolerance_text(self.rtol, self.atol)}")
        if self.batch:
            lines.append(f"  batch: {self.batch}")
        if self.lengths:
            lines.append(f"  lengths: {self.lengths}")
        lines.extend(f"  note: {note}" for note in self.notes)
        return "\n".join(lines)


def _number(value: float) -> str:
    """A difference for the table; "-" when nothing was compared (NaN)."""
    return f"{value:>9.2e}" if not math.isnan(value) else f"{'-':>9}"


def tolerance_text(rtol: float, atol: float) -> str:
    """What the tolerance means, for the report."""
    return (
        f"rtol={rtol:g}, atol={atol:g}: |native - eager| <= atol + rtol * max|eager| per output (integer outputs "
        "equal); max rel = max |native - eager| / max|eager|"
    )


def _paths(value: Any) -> list[str]:
    return [path for path, _ in leaves(value)]


def scripted_convention(native: Any, eager: Any) -> tuple[Any, str] | None:
    """The part of a scripted model's output that eager returns, and a note saying so, for torchvision's scripted
    conventions; None when the structures do not match one of them.

    Scripted Inception3/GoogLeNet always return ``InceptionOutputs``/``GoogLeNetOutputs`` (logits, aux...), with
    the aux outputs None in eval, where eager returns the logits; scripted detection models return
    ``(losses, detections)`` (losses empty in eval) where eager returns the detections.
    """
    if not isinstance(native, tuple) or len(native) < 2 or isinstance(eager, tuple):
        return None
    eager_paths = _paths(eager)
    name = type(native).__name__ if hasattr(native, "_fields") else "a tuple"
    if _paths(native[0]) == eager_paths and all(item is None for item in native[1:]):
        first = native._fields[0] if hasattr(native, "_fields") else "element 0"
        note = (
            f"the scripted file returns {name} ({first} and None aux outputs) where eager returns {first} alone "
            f"(torchvision's scripted convention); compared {first}"
        )
        return native[0], note
    if len(native) == 2 and isinstance(native[0], dict) and not native[0] and _paths(native[1]) == eager_paths:
        note = (
            "the scripted file returns (losses, detections) where eager returns the detections (torchvision's "
            "scripted detection convention; losses are empty in eval); compared the detections"
        )
        return native[1], note
    return None


def check_notes(checks: list[CheckResult]) -> list[str]:
    """The checks' notes and comparisons, each once, for the report's notes."""
    return list(dict.fromkeys(text for check in checks for text in (check.note, check.comparison) if text))


def compare(
    label: str,
    input_shapes: str,
    native: Any,
    eager: Any,
    rtol: float,
    atol: float,
    detections: DetectionTolerance | None = None,
) -> CheckResult:
    """Compares two output structures leaf by leaf: same structure, floating-point tensors within
    ``atol + rtol * max|eager|`` of that output, other tensors and leaves equal. An output that is a list of
    detections (torchvision's dicts of boxes, scores, labels...) is compared by matching detections instead, with
    ``detections`` (default: :class:`DetectionTolerance`'s; export passes the model's cut-offs).

    The tolerance scales with each output's largest magnitude, not with each element's: fp32 rounding (e.g. after
    conv+batchnorm folding) is relative to the values that were summed, so an output of scale 5 is off by ~1e-4
    everywhere, near-zero elements included, while a wrong branch or a wrong op is off by a sizeable share of the
    scale."""
    note = ""
    if _paths(native) != _paths(eager) and (aligned := scripted_convention(native, eager)) is not None:
        native, note = aligned
    if is_detections(eager) and isinstance(native, list):
        return _compare_detections(label, input_shapes, native, eager, rtol, atol, detections, note)
    native_leaves, eager_leaves = list(leaves(native)), list(leaves(eager))
    native_paths, eager_paths = [p for p, _ in native_leaves], [p for p, _ in eager_leaves]
    if native_paths != eager_paths:
        problem = f"output structure differs: {native_paths} vs {eager_paths}"
        return CheckResult(label, input_shapes, False, problem=problem)
    result = CheckResult(label, input_shapes, True, max_abs_diff=0.0, max_rel_diff=0.0, note=note)
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
        finite = want64[want64.isfinite()]
        scale = finite.abs().max().item() if finite.numel() else 0.0
        largest = difference.max().item()
        result.max_abs_diff = max(result.max_abs_diff, largest)
        relative = largest / scale if scale > 0 else (0.0 if largest == 0 else math.inf)
        result.max_rel_diff = max(result.max_rel_diff, relative)
        # Integer and bool outputs (class labels, indices, masks) are exact in any correct export.
        allowed = atol + rtol * scale if want.is_floating_point() or want.is_complex() else 0.0
        # Equal values (infinities included) and NaN where eager has NaN agree; the rest within the tolerance.
        agree = (difference <= allowed) | (got64 == want64) | (got64.isnan() & want64.isnan())
        if not bool(agree.all()) and result.passed:
            result.passed, result.problem = False, f"{where}: values differ beyond tolerance"
        if result.topk_agreement is None and want.dim() == 2 and want.is_floating_point() and want.shape[1] >= 2:
            k = 5 if want.shape[1] > 5 else 1  # top-5 of 5 or fewer classes would always agree
            same = got64.topk(k, dim=1).indices.sort(dim=1).values == want64.topk(k, dim=1).indices.sort(dim=1).values
            result.topk, result.topk_agreement = k, same.all(dim=1).double().mean().item()
    return result


def _compare_detections(
    label: str,
    input_shapes: str,
    native: list[Any],
    eager: list[dict[str, torch.Tensor]],
    rtol: float,
    atol: float,
    tolerance: DetectionTolerance | None,
    note: str,
) -> CheckResult:
    tolerance = tolerance or DetectionTolerance()
    comparison = f"the output is detections, compared by matching them (not row by row): {tolerance.describe()}"
    result = CheckResult(label, input_shapes, True, note=note, comparison=comparison)
    if not is_detections(native):
        result.passed, result.problem = False, f"output structure differs: {_paths(native)} vs {_paths(eager)}"
        return result
    found = compare_detections(native, eager, tolerance, rtol, atol)
    result.passed, result.problem, result.detail = found.passed, found.problem, found.summary()
    result.max_abs_diff, result.max_rel_diff = found.max_abs_diff, found.max_rel_diff
    return result
