"""Object detections (torchvision's list of dicts of "boxes", "scores", "labels", optionally "masks",
"keypoints"...) compared by matching them, not row by row: what tsnative.export's verification uses for them."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import torch

# Comparing object detections (torchvision's list of dicts of "boxes", "scores", "labels", optionally "masks",
# "keypoints"...) by matching them, not row by row.
#
# A detection model's output is a selection: score thresholds, top-k and non-maximum suppression keep some candidates
# and drop others. fp32 rounding after freezing moves a score by ~1e-4 and a box by a fraction of a pixel, which is
# nothing, except where two candidates are nearly tied: there the other one is kept, or the rows come in another
# order, or a box refined from a neighbouring proposal lands half a pixel away. Compared row by row, such a file
# fails; compared as detections, it is the same answer. So each eager detection is matched to one native detection
# with the same label, a box in the same place and a close score, and a detection left over is accepted only where
# a near-tie explains it.

# Keys whose rows are per detection, compared on matched pairs; the rest of a dict is compared as it is.
_BOX_KEYS = ("boxes", "scores", "labels")


@dataclasses.dataclass(frozen=True)
class DetectionTolerance:
    """When two detections are the same detection, and when one without a partner is a near-tie."""

    iou: float = 0.9  # boxes overlapping this much are in the same place
    # ...or whose corners are within this share of the box's longest side, or of the image's extent (the largest
    # coordinate): IoU says nothing of a box a pixel thin, whose height a rounding error changes by half.
    corner: float = 0.02
    extent: float = 0.005
    score: float = 0.01  # scores (probabilities) within this much
    # Two left over, of one label, overlapping as much as non-maximum suppression takes for one object, with scores
    # this close: the same object from another candidate (a near-tie upstream, in the proposals or their NMS, gave
    # the other side a neighbouring proposal to refine). Near-ties are rare: at most this share of an image's
    # detections (at least one) may be explained so, where a wrong export changes most of them.
    candidate_iou: float = 0.5
    candidate_score: float = 0.1
    candidates: float = 0.05
    # The model's own cut-offs, when known (torchvision's score_thresh and detections_per_img): a detection without
    # a partner is accepted only when its score is within `score` of one of them.
    score_thresh: float | None = None
    detections_per_img: int | None = None
    # Matched masks: mean |difference| over the pixels either covers, where both are pasted over the same pixels.
    mask: float = 0.02

    def describe(self) -> str:
        """The rule, for the export report."""
        cutoffs = []
        if self.score_thresh is not None:
            cutoffs.append(f"of the model's score threshold ({self.score_thresh:g})")
        if self.detections_per_img is not None:
            cutoffs.append(f"of the lowest score of a side holding the model's maximum of {self.detections_per_img}")
        unmatched = (
            f"a detection without a partner passes only when its score is within {self.score:g} " + " or ".join(cutoffs)
            if cutoffs
            else "a detection without a partner fails (the model's score threshold is not known)"
        )
        return (
            f"each eager detection matched to one native detection of the same label with IoU >= {self.iou:g} (or "
            f"corners within {self.corner:.0%} of the box's longest side or {self.extent:.1%} of the image's extent) "
            f"and a score within {self.score:g}; masks by mean |difference| <= {self.mask:g} where pasted over the "
            "same pixels, else (the box rounded to other whole pixels) by their extent, within a pixel more than "
            "the boxes differ; other per-detection outputs within the tolerance; of those left over, one on each "
            f"side of the same label with IoU >= {self.candidate_iou:g} and scores within {self.candidate_score:g} "
            "are the same object from another candidate (a near-tie upstream), and a box thinner than "
            f"{self.extent:.1%} of the image's extent may be on one side only (rounding decides whether it passes the "
            f"minimum box size), together for at most {self.candidates:.0%} of an image's detections (at least one); "
            f"{unmatched}"
        )


def tolerance_for(model: torch.nn.Module) -> DetectionTolerance:
    """The default tolerance with the model's cut-offs: the first module holding ``score_thresh`` and
    ``detections_per_img`` (torchvision: the model for RetinaNet, SSD and FCOS, ``roi_heads`` for the R-CNNs)."""
    for module in model.modules():
        thresh, count = getattr(module, "score_thresh", None), getattr(module, "detections_per_img", None)
        if isinstance(thresh, (int, float)) and isinstance(count, int) and not isinstance(count, bool):
            return DetectionTolerance(score_thresh=float(thresh), detections_per_img=count)
    return DetectionTolerance()


def is_detections(value: Any) -> bool:
    """A list of dicts, each with "boxes" [N, 4] float, "scores" [N] float and "labels" [N] integer tensors."""
    if not isinstance(value, list) or not value:
        return False
    for item in value:
        if not isinstance(item, dict) or not all(isinstance(item.get(key), torch.Tensor) for key in _BOX_KEYS):
            return False
        boxes, scores, labels = (item[key] for key in _BOX_KEYS)
        if boxes.dim() != 2 or boxes.shape[1] != 4 or not boxes.is_floating_point():
            return False
        rows = boxes.shape[0]
        if scores.shape != (rows,) or not scores.is_floating_point() or labels.shape != (rows,):
            return False
        if labels.is_floating_point() or labels.is_complex():
            return False
    return True


@dataclasses.dataclass
class DetectionComparison:
    passed: bool = True
    problem: str = ""
    max_abs_diff: float = 0.0  # over matched pairs: boxes, scores and the other per-detection outputs
    max_rel_diff: float = 0.0
    matched: int = 0
    swapped: int = 0  # the same object from another candidate on each side
    at_cutoff: int = 0  # detections on one side only, at the score threshold or the maximum count
    resampled: int = 0  # matched masks pasted over other whole pixels, compared by extent
    thin: int = 0  # boxes thinner than the coordinate tolerance on one side only

    def summary(self) -> str:
        parts = [f"{self.matched} matched"]
        if self.swapped:
            parts.append(f"{self.swapped} from another candidate")
        if self.at_cutoff:
            parts.append(f"{self.at_cutoff} at a cut-off")
        if self.thin:
            parts.append(f"{self.thin} thin on one side")
        if self.resampled:
            parts.append(f"{self.resampled} masks by extent")
        return ", ".join(parts)

    def fail(self, problem: str) -> None:
        if self.passed:
            self.passed, self.problem = False, problem


def _iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Pairwise IoU of [N, 4] and [M, 4] (x1, y1, x2, y2) boxes: [N, M]."""
    area_a = (a[:, 2] - a[:, 0]).clamp(min=0) * (a[:, 3] - a[:, 1]).clamp(min=0)
    area_b = (b[:, 2] - b[:, 0]).clamp(min=0) * (b[:, 3] - b[:, 1]).clamp(min=0)
    top_left = torch.max(a[:, None, :2], b[None, :, :2])
    bottom_right = torch.min(a[:, None, 2:], b[None, :, 2:])
    inter = (bottom_right - top_left).clamp(min=0).prod(dim=2)
    union = area_a[:, None] + area_b[None, :] - inter
    return torch.where(union > 0, inter / union.clamp(min=1e-12), torch.zeros_like(inter))


def _greedy(candidates: torch.Tensor, closeness: torch.Tensor) -> list[tuple[int, int]]:
    """One-to-one pairs among the allowed (i, j), the closest first."""
    pairs = []
    used_i: set[int] = set()
    used_j: set[int] = set()
    allowed = candidates.nonzero().tolist()
    allowed.sort(key=lambda ij: -float(closeness[ij[0], ij[1]]))
    for i, j in allowed:
        if i not in used_i and j not in used_j:
            pairs.append((i, j))
            used_i.add(i)
            used_j.add(j)
    return pairs


def _near_cutoff(score: float, other_scores: torch.Tensor, tolerance: DetectionTolerance) -> bool:
    """A detection kept on one side only is a near-tie when its score sits at a cut-off the other side applied."""
    if tolerance.score_thresh is not None and abs(score - tolerance.score_thresh) <= tolerance.score:
        return True
    full = tolerance.detections_per_img is not None and other_scores.numel() >= tolerance.detections_per_img
    return full and score <= float(other_scores.min()) + tolerance.score


def _pixel_extent(mask: torch.Tensor) -> tuple[int, int, int, int] | None:
    """First and last row and column where the mask is not 0 (a pasted mask is 0 outside its box)."""
    rows = mask.reshape(-1, mask.shape[-2], mask.shape[-1]).ne(0).any(dim=0)
    ys, xs = rows.any(dim=1).nonzero().flatten(), rows.any(dim=0).nonzero().flatten()
    if ys.numel() == 0:
        return None
    return int(ys[0]), int(ys[-1]), int(xs[0]), int(xs[-1])


def _compare_masks(
    where: str,
    got: torch.Tensor,
    want: torch.Tensor,
    shift: float,
    tolerance: DetectionTolerance,
    result: DetectionComparison,
) -> None:
    """Two pasted masks of a matched pair whose boxes differ by `shift` pixels at most."""
    got_extent, want_extent = _pixel_extent(got), _pixel_extent(want)
    if got_extent == want_extent:
        covered = got.ne(0) | want.ne(0)
        mean = float((got.double() - want.double()).abs()[covered].mean()) if bool(covered.any()) else 0.0
        if mean > tolerance.mask:
            result.fail(f"{where}: the masks differ by {mean:.3f} on average, expected <= {tolerance.mask:g}")
        return
    # torchvision pastes a mask resized to its box rounded to whole pixels: a box a hair wider is one pixel wider,
    # and its mask resampled at another size differs pixel by pixel everywhere (an untrained mask head's most).
    allowed = 1 + math.ceil(shift)
    moved = (
        max(abs(a - b) for a, b in zip(got_extent, want_extent, strict=True))
        if got_extent is not None and want_extent is not None
        else math.inf
    )
    if moved > allowed:
        result.fail(
            f"{where}: the masks cover rows and columns {got_extent} (native) and {want_extent} (eager), expected "
            f"within {allowed} pixels"
        )
        return
    result.resampled += 1


def _compare_rows(
    where: str,
    key: str,
    got: torch.Tensor,
    want: torch.Tensor,
    tolerance: DetectionTolerance,
    rtol: float,
    atol: float,
    result: DetectionComparison,
    shift: float = 0.0,
) -> None:
    """One output of a matched pair (its mask, keypoints, their scores; the boxes differ by `shift` pixels), or an
    output not per detection; `where` names it ("[0]['masks'] of eager detection 3")."""
    if got.shape != want.shape or got.dtype != want.dtype:
        result.fail(f"{where}: expected {want.dtype} {list(want.shape)}, got {got.dtype} {list(got.shape)}")
        return
    if key == "masks" and want.is_floating_point() and want.dim() >= 2:
        _compare_masks(where, got, want, shift, tolerance, result)
        return
    if not want.is_floating_point():
        if not torch.equal(got, want):
            result.fail(f"{where}: values differ")
        return
    got64, want64 = got.double(), want.double()
    difference = (got64 - want64).abs()
    scale = float(want64.abs().max()) if want64.numel() else 0.0
    # Keypoints are positions, refined like the box corners.
    allowed = atol + (tolerance.corner if key == "keypoints" else rtol) * scale
    largest = float(difference.max()) if difference.numel() else 0.0
    result.max_abs_diff = max(result.max_abs_diff, largest)
    if largest > allowed:
        result.fail(f"{where}: values differ beyond tolerance")


def compare_detections(
    native: list[dict[str, torch.Tensor]],
    eager: list[dict[str, torch.Tensor]],
    tolerance: DetectionTolerance,
    rtol: float,
    atol: float,
) -> DetectionComparison:
    """Matches native to eager detections image by image (see the module's docstring); ``rtol`` and ``atol`` apply
    to per-detection outputs other than boxes, scores, labels and masks."""
    result = DetectionComparison()
    if len(native) != len(eager):
        result.fail(f"expected detections for {len(eager)} images, got {len(native)}")
        return result
    for index, (got, want) in enumerate(zip(native, eager, strict=True)):
        where = f"[{index}]"
        if sorted(got, key=str) != sorted(want, key=str):
            result.fail(f"{where}: expected keys {sorted(want, key=str)}, got {sorted(got, key=str)}")
            continue
        _compare_image(where, got, want, tolerance, rtol, atol, result)
    return result


def _compare_image(
    where: str,
    got: dict[str, torch.Tensor],
    want: dict[str, torch.Tensor],
    tolerance: DetectionTolerance,
    rtol: float,
    atol: float,
    result: DetectionComparison,
) -> None:
    boxes_a, boxes_b = want["boxes"].detach().double().cpu(), got["boxes"].detach().double().cpu()
    scores_a, scores_b = want["scores"].detach().double().cpu(), got["scores"].detach().double().cpu()
    labels_a, labels_b = want["labels"].detach().cpu(), got["labels"].detach().cpu()
    iou = _iou(boxes_a, boxes_b)
    corners = (boxes_a[:, None, :] - boxes_b[None, :, :]).abs().amax(dim=2)
    sides = (boxes_a[:, 2:] - boxes_a[:, :2]).clamp(min=0).amax(dim=1)
    same_label = labels_a[:, None] == labels_b[None, :]
    close_scores = (scores_a[:, None] - scores_b[None, :]).abs() <= tolerance.score
    extent = max([float(boxes.abs().max()) for boxes in (boxes_a, boxes_b) if boxes.numel()], default=0.0)
    near = torch.clamp(tolerance.corner * sides[:, None], min=tolerance.extent * extent)
    same_place = (iou >= tolerance.iou) | (corners <= near)
    pairs = _greedy(same_label & close_scores & same_place, iou - corners / sides.clamp(min=1e-12)[:, None])
    result.matched += len(pairs)
    # Other tensors with a row per detection on both sides go with their detection; the rest are compared whole.
    per_detection = []
    for key in want:
        got_value, want_value = got[key], want[key]
        if key in _BOX_KEYS:
            continue
        if not isinstance(want_value, torch.Tensor):
            if got_value != want_value:
                result.fail(f"{where}['{key}']: {got_value!r} != {want_value!r}")
            continue
        if (
            isinstance(got_value, torch.Tensor)
            and want_value.dim() >= 1
            and got_value.dim() >= 1
            and want_value.shape[0] == len(labels_a)
            and got_value.shape[0] == len(labels_b)
        ):
            per_detection.append(key)
        elif not isinstance(got_value, torch.Tensor):
            result.fail(f"{where}['{key}']: expected a tensor, got {type(got_value).__name__}")
        else:
            _compare_rows(f"{where}['{key}']", key, got_value.cpu(), want_value.cpu(), tolerance, rtol, atol, result)

    for i, j in pairs:
        result.max_abs_diff = max(result.max_abs_diff, float(corners[i, j]), abs(float(scores_a[i] - scores_b[j])))
        # Relative to the boxes' scale, as the report's "max rel" is to an output's.
        result.max_rel_diff = max(result.max_rel_diff, float(corners[i, j]) / extent if extent > 0 else 0.0)
        for key in per_detection:
            got_row, want_row = got[key][j].detach().cpu(), want[key][i].detach().cpu()
            what = f"{where}['{key}'] of eager detection {i}"
            _compare_rows(what, key, got_row, want_row, tolerance, rtol, atol, result, float(corners[i, j]))

    # Near-ties upstream explain a few detections, not many.
    budget = max(1, int(tolerance.candidates * len(labels_a)))
    left_a = sorted(set(range(len(labels_a))) - {i for i, _ in pairs})
    left_b = sorted(set(range(len(labels_b))) - {j for _, j in pairs})
    if left_a and left_b:
        index_a, index_b = torch.tensor(left_a), torch.tensor(left_b)
        sub_iou = iou[index_a][:, index_b]
        sub_scores = (scores_a[index_a][:, None] - scores_b[index_b][None, :]).abs()
        swap = (
            same_label[index_a][:, index_b]
            & (sub_scores <= tolerance.candidate_score)
            & (sub_iou >= tolerance.candidate_iou)
        )
        swaps = [(left_a[i], left_b[j]) for i, j in _greedy(swap, sub_iou)][:budget]
        budget -= len(swaps)
        result.swapped += len(swaps)
        left_a = [i for i in left_a if i not in {a for a, _ in swaps}]
        left_b = [j for j in left_b if j not in {b for _, b in swaps}]
    sides_b = (boxes_b[:, 2:] - boxes_b[:, :2]).clamp(min=0)
    sides_a = (boxes_a[:, 2:] - boxes_a[:, :2]).clamp(min=0)
    for side, left, scores, other, thickness in (
        ("eager", left_a, scores_a, scores_b, sides_a.amin(dim=1)),
        ("native", left_b, scores_b, scores_a, sides_b.amin(dim=1)),
    ):
        for row in left:
            score = float(scores[row])
            if _near_cutoff(score, other, tolerance):
                result.at_cutoff += 1
                continue
            if float(thickness[row]) <= tolerance.extent * extent and budget > 0:
                budget -= 1
                result.thin += 1
                continue
            labels = labels_a if side == "eager" else labels_b
            boxes = boxes_a if side == "eager" else boxes_b
            result.fail(
                f"{where}: {side} detection {row} (label {int(labels[row])}, score {score:.4f}, box "
                f"{[round(float(c), 1) for c in boxes[row]]}) has no match on the other side"
            )
