"""Walking nested input/output structures (tensors inside tuples, lists and dicts)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import torch


def map_leaves(value: Any, function: Callable[[Any], Any]) -> Any:
    """The same structure (tuples, named tuples, lists, dicts) with every other value replaced by
    ``function(value)``."""
    if isinstance(value, tuple):
        items = [map_leaves(item, function) for item in value]
        return type(value)(*items) if hasattr(value, "_fields") else tuple(items)
    if isinstance(value, list):
        return [map_leaves(item, function) for item in value]
    if isinstance(value, dict):
        return {key: map_leaves(item, function) for key, item in value.items()}
    return function(value)


def map_tensors(value: Any, function: Callable[[torch.Tensor], Any]) -> Any:
    """The same structure with every tensor replaced by ``function(tensor)``."""
    return map_leaves(value, lambda leaf: function(leaf) if isinstance(leaf, torch.Tensor) else leaf)


def leaves(value: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    """(path, leaf) pairs in a fixed order; paths read like ``[0]['logits']``."""
    if isinstance(value, (tuple, list)):
        for index, item in enumerate(value):
            yield from leaves(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key in sorted(value, key=str):
            yield from leaves(value[key], f"{path}[{key!r}]")
    else:
        yield path, value


def describe(value: Any) -> dict[str, Any]:
    """A JSON-able description: tensors by dtype and shape, containers by their items, scalars by type."""
    if isinstance(value, torch.Tensor):
        return {"type": "Tensor", "dtype": str(value.dtype).removeprefix("torch."), "shape": list(value.shape)}
    if isinstance(value, (tuple, list)):
        return {
            "type": type(value).__name__ if not hasattr(value, "_fields") else "tuple",
            "items": [describe(item) for item in value],
        }
    if isinstance(value, dict):
        return {"type": "dict", "items": {str(key): describe(item) for key, item in value.items()}}
    return {"type": "None" if value is None else type(value).__name__}


def mark_dynamic_batch(description: dict[str, Any], batch: int) -> dict[str, Any]:
    """The description with dimension 0 of batch-sized tensors (rank >= 2) set to -1 (any size)."""
    if description["type"] == "Tensor":
        shape = description["shape"]
        if len(shape) >= 2 and shape[0] == batch:
            return {**description, "shape": [-1, *shape[1:]]}
        return description
    items = description.get("items")
    if isinstance(items, list):
        return {**description, "items": [mark_dynamic_batch(item, batch) for item in items]}
    if isinstance(items, dict):
        return {**description, "items": {key: mark_dynamic_batch(item, batch) for key, item in items.items()}}
    return description


def recorded_call(
    names: list[str], example: tuple[Any, ...], output: Any, dynamic_batch: int | None
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The metadata's "inputs" (named) and "outputs": described, with dimension 0 of batch-sized tensors marked -1
    when `dynamic_batch` (the example's batch size) is given."""
    inputs = [{"name": name, **describe(value)} for name, value in zip(names, example, strict=True)]
    outputs = describe(output)
    if dynamic_batch is not None:
        inputs = [mark_dynamic_batch(item, dynamic_batch) for item in inputs]
        outputs = mark_dynamic_batch(outputs, dynamic_batch)
    return inputs, outputs


def shapes_text(value: Any) -> str:
    """Tensor shapes in a structure, for a report column: "[2, 3, 224, 224]" or "[2, 4], [2, 4]"."""
    shapes = [str(list(leaf.shape)) for _, leaf in leaves(value) if isinstance(leaf, torch.Tensor)]
    return ", ".join(shapes) if shapes else "-"


def recorded_text(item: Any) -> str:
    """A recorded input or output (the metadata's description) as text: "float32 [N, 3, 224, 224]",
    "tuple[float32 [N, 4], int]", "dict{ids: int64 [N, 16]}"."""
    # The C++ reader checks the inputs' descriptions but not the outputs': any JSON may be here, shown as it is.
    if not isinstance(item, dict) or not isinstance(item.get("type"), str):
        return json.dumps(item)
    if item["type"] == "Tensor":
        text = item["dtype"] if isinstance(item.get("dtype"), str) else "Tensor"
        shape = item.get("shape")
        if isinstance(shape, list):
            text += " [" + ", ".join("N" if d == -1 else str(d) for d in shape) + "]"
        return text
    items = item.get("items")
    if isinstance(items, list):
        return f"{item['type']}[{', '.join(recorded_text(i) for i in items)}]"
    if isinstance(items, dict):
        return "dict{" + ", ".join(f"{k}: {recorded_text(v)}" for k, v in items.items()) + "}"
    return item["type"]
