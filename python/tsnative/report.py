"""What tsnative.export verified: one row per check input, and a printable summary."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._export.verify import compare as compare
    from ._export.verify import scripted_convention as scripted_convention


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


def check_notes(checks: list[CheckResult]) -> list[str]:
    """The checks' notes and comparisons, each once, for the report's notes."""
    return list(dict.fromkeys(text for check in checks for text in (check.note, check.comparison) if text))


# compare() and scripted_convention() live with the rest of the verification (_export/verify.py), which builds on
# this module's CheckResult; they are still importable from here, looked up on first use so that neither module
# needs the other to be imported first.
_VERIFY_NAMES = ("compare", "scripted_convention")


def __getattr__(name: str) -> Any:
    if name not in _VERIFY_NAMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from ._export import verify

    value = getattr(verify, name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value
