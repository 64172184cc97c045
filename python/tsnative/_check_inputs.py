"""The inputs tsnative.export verifies on when the caller gives none.

Each exposes a different way an export can go wrong: the example itself (export is broken outright), fresh random
data (a trace that froze a data-dependent branch), the example negated (a branch on the sign or the sum, like the
classic `if x.sum() > 0`), and other batch sizes (a trace that baked in the example's batch size).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import torch

from ._structure import leaves, map_tensors

# The generated inputs come from a private generator with a fixed seed: an export neither draws from the caller's
# global random state (which would change what the caller's code does next) nor verifies on different data each run.
CHECK_INPUTS_SEED = 0


def _outside_lists(value: Any) -> Iterator[Any]:
    """The tensors of a structure that are not inside a list. A list is a collection of any length whose items'
    dimension 0 is their own (torchvision's detection models take a list of C, H, W images): not a batch."""
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, tuple):
        for item in value:
            yield from _outside_lists(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _outside_lists(item)


def _map_outside_lists(value: Any, function: Callable[[torch.Tensor], torch.Tensor]) -> Any:
    """The structure with ``function`` applied to the tensors :func:`_outside_lists` yields."""
    if isinstance(value, torch.Tensor):
        return function(value)
    if isinstance(value, tuple):
        items = [_map_outside_lists(item, function) for item in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, dict):
        return {key: _map_outside_lists(item, function) for key, item in value.items()}
    return value


def batch_size(example: tuple[Any, ...]) -> int | None:
    """The example's batch size: dimension 0 shared by all its tensors of rank >= 2 (outside lists), if there is
    one."""
    sizes = {leaf.shape[0] for leaf in _outside_lists(example) if leaf.dim() >= 2}
    return sizes.pop() if len(sizes) == 1 else None


def random_like(tensor: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Fresh data of the tensor's shape and dtype, in a range the model accepts, drawn from ``generator`` (a CPU
    generator: the data is drawn on the CPU, then moved to the tensor's device)."""
    if tensor.is_floating_point() or tensor.is_complex():
        drawn = torch.randn(tensor.shape, dtype=tensor.dtype, generator=generator)
    elif tensor.dtype == torch.bool:
        drawn = torch.rand(tensor.shape, generator=generator) < 0.5
    elif tensor.numel() == 0:
        return tensor.clone()
    else:
        # Integers are usually indices (token ids, classes): stay inside the example's range.
        low, high = int(tensor.min()), int(tensor.max())
        drawn = torch.randint(low, high + 1, tensor.shape, dtype=tensor.dtype, generator=generator)
    return drawn.to(tensor.device)


def _negated(tensor: torch.Tensor) -> torch.Tensor:
    return -tensor if tensor.is_floating_point() else tensor


def _with_batch(tensor: torch.Tensor, batch: int, new_batch: int, generator: torch.Generator) -> torch.Tensor:
    if tensor.dim() >= 2 and tensor.shape[0] == batch:
        return random_like(tensor[:1].expand(new_batch, *tensor.shape[1:]).contiguous(), generator)
    return tensor


def default_check_inputs(example: tuple[Any, ...], seed: int = CHECK_INPUTS_SEED) -> list[tuple[str, tuple[Any, ...]]]:
    """(label, inputs) pairs: example, random, negated, and batch sizes 1 and batch + 2 when there is a batch.
    The same example and seed give the same inputs; the global random state is not used."""
    generator = torch.Generator().manual_seed(seed)
    checks: list[tuple[str, tuple[Any, ...]]] = [
        ("example", example),
        ("random", map_tensors(example, lambda t: random_like(t, generator))),
    ]
    if any(isinstance(leaf, torch.Tensor) and leaf.is_floating_point() for _, leaf in leaves(example)):
        checks.append(("negated", map_tensors(example, _negated)))
    batch = batch_size(example)
    if batch is not None:
        for new_batch in sorted({1, batch + 2} - {batch}):
            resized = _map_outside_lists(example, lambda t, n=new_batch: _with_batch(t, batch, n, generator))
            checks.append((f"batch {new_batch}", resized))
    return checks
