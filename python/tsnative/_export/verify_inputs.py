"""The inputs tsnative.export verifies on when the caller gives none.

Each exposes a different way an export can go wrong: the example itself (export is broken outright), fresh random
data (a trace that froze a data-dependent branch), the example negated (a branch on the sign or the sum, like the
classic `if x.sum() > 0`), other batch sizes (a trace that baked in the example's batch size), and other lengths of
flat 1-D inputs (token ids and bag offsets, whose length varies from call to call as a batch does).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import torch

from .structure import leaves, map_tensors

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


def random_like(
    tensor: torch.Tensor, generator: torch.Generator, shape: tuple[int, ...] | torch.Size | None = None
) -> torch.Tensor:
    """Fresh data of the tensor's shape (or `shape`) and dtype, in a range the model accepts, drawn from
    ``generator`` (a CPU generator: the data is drawn on the CPU, then moved to the tensor's device)."""
    shape = tensor.shape if shape is None else shape
    if tensor.is_floating_point() or tensor.is_complex():
        drawn = torch.randn(shape, dtype=tensor.dtype, generator=generator)
    elif tensor.dtype == torch.bool:
        drawn = torch.rand(shape, generator=generator) < 0.5
    elif tensor.numel() == 0:
        return tensor.clone() if shape == tensor.shape else tensor.new_zeros(shape)
    else:
        # Integers are usually indices (token ids, classes): stay inside the example's range.
        low, high = int(tensor.min()), int(tensor.max())
        drawn = torch.randint(low, high + 1, shape, dtype=tensor.dtype, generator=generator)
    return drawn.to(tensor.device)


def _negated(tensor: torch.Tensor) -> torch.Tensor:
    return -tensor if tensor.is_floating_point() else tensor


def _with_batch(tensor: torch.Tensor, batch: int, new_batch: int, generator: torch.Generator) -> torch.Tensor:
    if tensor.dim() >= 2 and tensor.shape[0] == batch:
        return random_like(tensor[:1].expand(new_batch, *tensor.shape[1:]).contiguous(), generator)
    return tensor


def flat_lengths(value: Any) -> list[int]:
    """The lengths of the structure's 1-D tensors outside lists (>= 1), each once, in order."""
    return list(dict.fromkeys(t.shape[0] for t in _outside_lists(value) if t.dim() == 1 and t.shape[0] >= 1))


def changed_lengths(example: tuple[Any, ...], inputs: tuple[Any, ...]) -> dict[int, int]:
    """{example length: length in `inputs`} for the 1-D tensors (outside lists) whose length differs; {} when the
    structures differ."""
    given, wanted = list(_outside_lists(inputs)), list(_outside_lists(example))
    if len(given) != len(wanted):
        return {}
    changed: dict[int, int] = {}
    for got, want in zip(given, wanted, strict=True):
        if want.dim() == 1 and got.dim() == 1 and want.shape[0] >= 1 and got.shape[0] != want.shape[0]:
            changed.setdefault(want.shape[0], got.shape[0])
    return changed


def _with_length(tensor: torch.Tensor, length: int, new_length: int, generator: torch.Generator) -> torch.Tensor:
    if tensor.dim() != 1 or tensor.shape[0] != length:
        return tensor
    drawn = random_like(tensor, generator, (new_length,))
    if not tensor.is_floating_point() and tensor.dtype != torch.bool and bool((tensor[1:] >= tensor[:-1]).all()):
        # A sorted integer vector is likely offsets (nn.EmbeddingBag's, a ragged batch's): sorted, with its start,
        # or the model would refuse every other length for a reason that is not its length.
        drawn = drawn.sort().values
        drawn[0] = tensor[0]
    return drawn


def default_check_inputs(
    example: tuple[Any, ...], seed: int = CHECK_INPUTS_SEED, lengths: bool = True
) -> list[tuple[str, tuple[Any, ...]]]:
    """(label, inputs) pairs: example, random, negated, batch sizes 1 and batch + 2 when there is a batch, and with
    `lengths`, lengths 1 and n + 2 of the 1-D tensors of each length n (the tensors of one length together, as they
    may have to agree). The same example and seed give the same inputs; the global random state is not used."""
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
            resize = functools.partial(_with_batch, batch=batch, new_batch=new_batch, generator=generator)
            resized = _map_outside_lists(example, resize)
            checks.append((f"batch {new_batch}", resized))
    for length in flat_lengths(example) if lengths else []:
        for new_length in sorted({1, length + 2} - {length}):
            resize = functools.partial(_with_length, length=length, new_length=new_length, generator=generator)
            resized = _map_outside_lists(example, resize)
            checks.append((f"len {length}->{new_length}", resized))
    return checks
