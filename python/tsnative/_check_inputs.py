"""The inputs tsnative.export verifies on when the caller gives none.

Each exposes a different way an export can go wrong: the example itself (export is broken outright), fresh random
data (a trace that froze a data-dependent branch), the example negated (a branch on the sign or the sum, like the
classic `if x.sum() > 0`), and other batch sizes (a trace that baked in the example's batch size).
"""

from __future__ import annotations

from typing import Any

import torch

from ._structure import leaves, map_tensors


def batch_size(example: tuple[Any, ...]) -> int | None:
    """The example's batch size: dimension 0 shared by all its tensors of rank >= 2, if there is one."""
    sizes = {leaf.shape[0] for _, leaf in leaves(example) if isinstance(leaf, torch.Tensor) and leaf.dim() >= 2}
    return sizes.pop() if len(sizes) == 1 else None


def random_like(tensor: torch.Tensor) -> torch.Tensor:
    """Fresh data of the tensor's shape and dtype, in a range the model accepts."""
    if tensor.is_floating_point() or tensor.is_complex():
        return torch.randn_like(tensor)
    if tensor.dtype == torch.bool:
        return torch.rand(tensor.shape) < 0.5
    if tensor.numel() == 0:
        return tensor.clone()
    # Integers are usually indices (token ids, classes): stay inside the example's range.
    low, high = int(tensor.min()), int(tensor.max())
    return torch.randint(low, high + 1, tensor.shape, dtype=tensor.dtype)


def _negated(tensor: torch.Tensor) -> torch.Tensor:
    return -tensor if tensor.is_floating_point() else tensor


def _with_batch(tensor: torch.Tensor, batch: int, new_batch: int) -> torch.Tensor:
    if tensor.dim() >= 2 and tensor.shape[0] == batch:
        return random_like(tensor[:1].expand(new_batch, *tensor.shape[1:]).contiguous())
    return tensor


def default_check_inputs(example: tuple[Any, ...]) -> list[tuple[str, tuple[Any, ...]]]:
    """(label, inputs) pairs: example, random, negated, and batch sizes 1 and batch + 2 when there is a batch."""
    checks: list[tuple[str, tuple[Any, ...]]] = [("example", example), ("random", map_tensors(example, random_like))]
    if any(isinstance(leaf, torch.Tensor) and leaf.is_floating_point() for _, leaf in leaves(example)):
        checks.append(("negated", map_tensors(example, _negated)))
    batch = batch_size(example)
    if batch is not None:
        for new_batch in sorted({1, batch + 2} - {batch}):
            checks.append((f"batch {new_batch}", map_tensors(example, lambda t, n=new_batch: _with_batch(t, batch, n))))
    return checks
