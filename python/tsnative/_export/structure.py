"""Walking nested input/output structures (tensors inside tuples, lists and dicts)."""

from __future__ import annotations

import collections
import json
from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.utils._pytree as pytree

# Containers pytree flattens by their own rules, which the functions here follow directly.
_BUILTIN_CONTAINERS = (tuple, list, dict, collections.OrderedDict, collections.defaultdict, collections.deque)


def named_fields(value: Any) -> dict[str, Any] | None:
    """A registered pytree class of named fields (a dataclass registered with torch.utils._pytree.register_dataclass,
    a Hugging Face ModelOutput) as {field: value}, in its flattening order and without the fields it leaves out
    (None ones); None for anything else.

    torch.export's call spec records such a class with the names as its context, and the engine returns it as a
    dict keyed by them (cpp/src/backends/aoti/call_spec.cpp reads the context the same way).
    """
    kind = type(value)
    if kind in _BUILTIN_CONTAINERS or pytree.is_namedtuple_instance(value):
        return None
    node = pytree.SUPPORTED_NODES.get(kind)
    if node is None:
        return None
    children, context = node.flatten_fn(value)
    # register_dataclass's context is [names, names of None fields]; a ModelOutput's, its keys.
    names = (
        context[0]
        if isinstance(context, (list, tuple)) and len(context) == 2 and isinstance(context[0], list)
        else context
    )
    if (
        not isinstance(names, (list, tuple))
        or len(names) != len(children)
        or not all(isinstance(n, str) for n in names)
    ):
        return None
    return dict(zip(names, children, strict=True))


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
    """(path, leaf) pairs in a fixed order; paths read like ``[0]['logits']``. A registered class of named fields
    is walked as the dict of its fields, as the engine returns it."""
    fields = named_fields(value)
    if fields is not None:
        value = fields
    if isinstance(value, (tuple, list)):
        for index, item in enumerate(value):
            yield from leaves(item, f"{path}[{index}]")
    elif isinstance(value, dict):
        for key in sorted(value, key=str):
            yield from leaves(value[key], f"{path}[{key!r}]")
    else:
        yield path, value


def describe(value: Any) -> dict[str, Any]:
    """A JSON-able description: tensors by dtype and shape, containers by their items, scalars by type. A registered
    class of named fields is a dict of its fields (named by "class"), as torch.export's call spec records it."""
    fields = named_fields(value)
    if fields is not None:
        kind = type(value)
        return {
            "type": "dict",
            "class": f"{kind.__module__}.{kind.__qualname__}",
            "items": {name: describe(item) for name, item in fields.items()},
        }
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


def mark_dynamic_lengths(description: dict[str, Any], lengths: set[int]) -> dict[str, Any]:
    """The description with 1-D tensors (outside lists) of a length in `lengths` set to [-1] (any length)."""
    if description["type"] == "Tensor":
        shape = description["shape"]
        return {**description, "shape": [-1]} if len(shape) == 1 and shape[0] in lengths else description
    items = description.get("items")
    if description["type"] == "list":
        return description  # a list's items are each their own, not one flat input
    if isinstance(items, list):
        return {**description, "items": [mark_dynamic_lengths(item, lengths) for item in items]}
    if isinstance(items, dict):
        return {**description, "items": {key: mark_dynamic_lengths(item, lengths) for key, item in items.items()}}
    return description


def mark_varying_dims(description: dict[str, Any], others: list[dict[str, Any]]) -> dict[str, Any]:
    """The description with -1 in each tensor dimension whose size differs in any of `others` (descriptions of the
    same structure, from other calls); where a structure differs, that part is left as it is."""
    if description["type"] == "Tensor":
        shapes = [
            o["shape"] for o in others if o.get("type") == "Tensor" and len(o["shape"]) == len(description["shape"])
        ]
        if len(shapes) != len(others):
            return description
        dims = [
            -1 if any(shape[d] != size for shape in shapes) else size for d, size in enumerate(description["shape"])
        ]
        return {**description, "shape": dims}
    items = description.get("items")
    if isinstance(items, list):
        if not all(o.get("type") == description["type"] and len(o.get("items", [])) == len(items) for o in others):
            return description
        return {
            **description,
            "items": [mark_varying_dims(item, [o["items"][i] for o in others]) for i, item in enumerate(items)],
        }
    if isinstance(items, dict):
        if not all(o.get("type") == "dict" and list(o.get("items", {})) == list(items) for o in others):
            return description
        return {
            **description,
            "items": {k: mark_varying_dims(v, [o["items"][k] for o in others]) for k, v in items.items()},
        }
    return description


def recorded_call(
    names: list[str],
    example: tuple[Any, ...],
    output: Any,
    dynamic_batch: int | None,
    dynamic_lengths: set[int] | None = None,
    other_outputs: list[dict[str, Any]] | None = None,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The metadata's "inputs" (named) and "outputs": described, with dimension 0 of batch-sized tensors marked -1
    when `dynamic_batch` (the example's batch size) is given, 1-D tensors of `dynamic_lengths` marked [-1], and the
    output dimensions that differ in `other_outputs` (descriptions of outputs at those other lengths) marked -1."""
    inputs = [{"name": name, **describe(value)} for name, value in zip(names, example, strict=True)]
    outputs = describe(output)
    if dynamic_batch is not None:
        inputs = [mark_dynamic_batch(item, dynamic_batch) for item in inputs]
        outputs = mark_dynamic_batch(outputs, dynamic_batch)
    if dynamic_lengths:
        inputs = [mark_dynamic_lengths(item, dynamic_lengths) for item in inputs]
        if other_outputs:
            outputs = mark_varying_dims(outputs, other_outputs)
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
