"""Verification: the exported file run through the native engine and compared with eager PyTorch, output by
output, on each check input; and what the checks say about the batch and the 1-D inputs' lengths."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from ..engine import Engine
from ..report import CheckResult
from .detections import DetectionTolerance, compare_detections, is_detections, tolerance_for
from .errors import error_cause, error_line
from .structure import describe, leaves, shapes_text
from .verify_inputs import batch_size, changed_lengths, default_check_inputs, flat_lengths


def verify(
    model: torch.nn.Module,
    file: Path,
    example: tuple[Any, ...],
    verify_inputs: Sequence[Any] | None,
    rtol: float,
    atol: float,
    lengths: bool = True,
) -> tuple[list[CheckResult], Any]:
    """Runs every check input through the saved file (native Engine) and through eager, and compares. Also returns
    the file's output on the example (None when it raised), which the metadata describes. `lengths`: generate checks
    at other lengths of the 1-D inputs."""
    engine = Engine(file)
    detections = tolerance_for(model)  # used only where the outputs are detections
    generated = verify_inputs is None
    if verify_inputs is None:
        checks = default_check_inputs(example, lengths=lengths)
    else:
        checks = [(f"check {i + 1}", c if isinstance(c, tuple) else (c,)) for i, c in enumerate(verify_inputs)]
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
            problem = f"eager raised {error_cause(error)}"
            results.append(CheckResult(label, shapes, True, skipped=True, problem=problem))
            continue
        try:
            native = engine.predict(*inputs)
        except Exception as error:
            results.append(CheckResult(label, shapes, False, problem=f"native raised: {error_line(error)}"))
            continue
        if label == "example":  # given check inputs need not have the example's shapes
            native_example = native
        results.append(compare(label, shapes, native, expected, rtol, atol, detections))
        results[-1].output_description = describe(expected)
    for result, (_, inputs) in zip(results, checks, strict=True):
        result.batch = batch_size(inputs)
        result.lengths = changed_lengths(example, inputs)
    return results, native_example


def batch_text(example: tuple[Any, ...], checks: list[CheckResult]) -> str:
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
    sizes = sorted({c.batch for c in others if c.batch is not None})  # all of them: `others` has a batch
    return "dynamic: verified on batch " + ", ".join(str(size) for size in sizes)


def length_verdicts(example: tuple[Any, ...], checks: list[CheckResult]) -> dict[int, str]:
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


def lengths_text(example: tuple[Any, ...], checks: list[CheckResult]) -> str:
    """The report's line on the 1-D inputs' lengths ("" when there are none): "23 dynamic: verified at 25; 4 ..."."""
    return "; ".join(f"{length} {verdict}" for length, verdict in length_verdicts(example, checks).items())


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
