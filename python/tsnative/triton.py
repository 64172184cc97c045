"""A Triton Inference Server model repository for an exported file: the handoff to an existing server.

>>> tsnative.triton.write_repository("r18.pt", "models")          # models/r18/config.pbtxt, models/r18/1/model.pt
>>> print(tsnative.triton.model_config("r18.pt"))                 # the config.pbtxt text alone

Triton's PyTorch backend (github.com/triton-inference-server/pytorch_backend) serves a TorchScript ``model.pt``
(platform ``pytorch_libtorch``) and, from Triton 26.03 on, an AOTInductor ``model.pt2`` (platform ``torch_aoti``).
The configuration is built from the metadata ``tsnative.export`` recorded in the file: dtypes and shapes, the
dynamic batch. (Triton here is NVIDIA's inference server, not the OpenAI Triton compiler that Inductor uses.)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import _C  # the package imports torch (LibTorch, which _C links against) first
from ._export.structure import recorded_text
from ._version import __version__

__all__ = ["DEFAULT_MAX_BATCH_SIZE", "model_config", "write_repository"]

# Triton's largest batch when the file's batch is dynamic and none is given. No measurement behind it: set the largest
# batch the model should run at, which the device's memory and the latency target decide.
DEFAULT_MAX_BATCH_SIZE = 8

# The dtypes the PyTorch backend converts (ModelConfigDataTypeToTorchType in its src/libtorch_utils.cc): no
# bfloat16, no unsigned types wider than 8 bits, no complex.
_DATA_TYPES = {
    "bool": "TYPE_BOOL",
    "uint8": "TYPE_UINT8",
    "int8": "TYPE_INT8",
    "int16": "TYPE_INT16",
    "int32": "TYPE_INT32",
    "int64": "TYPE_INT64",
    "float16": "TYPE_FP16",
    "float32": "TYPE_FP32",
    "float64": "TYPE_FP64",
}

_MODEL_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_DEVICE = re.compile(r"cpu|cuda(:\d+)?")
# A dict input's keys become input names: printable, without spaces, quotes or backslashes.
_INPUT_KEY = re.compile(r"[!#-\[\]-~]+")


@dataclass(frozen=True)
class _Tensor:
    """One input or output as the configuration names it."""

    name: str
    data_type: str
    shape: list[int]  # as recorded: -1 marks the dynamic batch
    origin: str  # what it is in the model, for the file's comments: "forward argument 'x'"


def model_config(
    model_path: str | os.PathLike[str],
    *,
    name: str | None = None,
    max_batch_size: int | None = None,
    device: str | None = None,
    instances: int = 1,
    queue_delay_us: int = 100,
) -> str:
    """The ``config.pbtxt`` text (protobuf text format, Triton's ``ModelConfig``) for an exported file.

    Inputs are named ``INPUT__0``, ``INPUT__1``... and outputs ``OUTPUT__0``...: the ``<name>__<index>`` convention
    both of the backend's platforms read, so a client works with the ``.pt`` and the ``.pt2`` of a model alike. A
    TorchScript model whose one input is a ``dict[str, Tensor]`` takes its keys as input names instead, as the
    backend requires.

    Args:
        model_path: a ``.pt`` or ``.pt2`` file written by ``tsnative.export``.
        name: the model's name in the repository (default: the file's stem).
        max_batch_size: the largest batch Triton forms from requests (its dynamic batcher). ``None``:
            :data:`DEFAULT_MAX_BATCH_SIZE` for a TorchScript file exported with a dynamic batch, else 0. ``0``:
            requests go to the model as they come (the recorded shapes, a dynamic batch dimension as -1). A ``.pt2``
            package defaults to 0: the backend's README says batching of AOTInductor models is not complete.
        device: ``"cpu"`` (``KIND_CPU`` instances), ``"cuda"`` (``KIND_GPU``, ``instances`` on every GPU) or
            ``"cuda:N"`` (on GPU N). Default: ``"cpu"`` for TorchScript; a ``.pt2`` package's own device.
        instances: model instances (``instance_group`` count), each running requests on its own.
        queue_delay_us: how long the dynamic batcher waits for more requests to fill a batch, in microseconds.

    Raises:
        FileNotFoundError: ``model_path`` does not exist.
        ValueError: the file has no tsnative metadata; an input or output the backend cannot take (not a tensor,
            nested, a dtype it has no type for); a batch size, device, name or count out of range; a ``.pt2``
            package for another device than ``device``.
        tsnative.ModelLoadError: the file is not a model file.
    """
    return _configuration(
        Path(model_path),
        name=name,
        max_batch_size=max_batch_size,
        device=device,
        instances=instances,
        queue_delay_us=queue_delay_us,
    )[0]


def write_repository(
    model_path: str | os.PathLike[str],
    repo_dir: str | os.PathLike[str],
    *,
    name: str | None = None,
    max_batch_size: int | None = None,
    device: str | None = None,
    instances: int = 1,
    queue_delay_us: int = 100,
    version: int = 1,
    overwrite: bool = False,
) -> Path:
    """Writes ``repo_dir/<name>/config.pbtxt`` and ``repo_dir/<name>/<version>/model.pt`` (or ``model.pt2``), a
    model folder of a Triton model repository, and returns the model folder.

    The configuration is :func:`model_config`'s (the same arguments); the model file is copied unchanged. The folder
    is built beside its place and moved in when complete, so a failure leaves no half-written model behind.

    Args:
        version: the version folder's number (Triton serves the highest by default).
        overwrite: replace an existing ``repo_dir/<name>`` folder, every version in it.

    Raises:
        FileExistsError: ``repo_dir/<name>`` exists and ``overwrite`` is false.
        and those of :func:`model_config`.
    """
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"version: expected a positive integer, got {version!r}")
    path = Path(model_path)
    config, model_file = _configuration(
        path,
        name=name,
        max_batch_size=max_batch_size,
        device=device,
        instances=instances,
        queue_delay_us=queue_delay_us,
    )
    repo = Path(repo_dir)
    target = repo / _model_name(path, name)
    if (target.exists() or target.is_symlink()) and not overwrite:
        raise FileExistsError(
            f"{target} exists; pass overwrite=True (tsnative triton --overwrite) to replace it, every version in it"
        )
    repo.mkdir(parents=True, exist_ok=True)
    draft = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=repo))
    try:
        (draft / "config.pbtxt").write_text(config)
        (draft / str(version)).mkdir()
        shutil.copyfile(path, draft / str(version) / model_file)
        # The old entry is moved aside, not deleted, until the new one is in place: a failed rename keeps it.
        old = None
        if target.exists() or target.is_symlink():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old.", dir=repo)) / target.name
            target.rename(old)
        try:
            draft.rename(target)
        except BaseException:
            if old is not None:
                old.rename(target)
            raise
    except BaseException:
        shutil.rmtree(draft, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old.parent, ignore_errors=True)
    return target


def _configuration(
    path: Path,
    *,
    name: str | None,
    max_batch_size: int | None,
    device: str | None,
    instances: int,
    queue_delay_us: int,
) -> tuple[str, str]:
    """The config.pbtxt text and the model file's name in the version folder (model.pt or model.pt2)."""
    metadata = _recorded_metadata(path)
    pt2 = _is_package(path)
    device = _device(path, pt2, device)
    name = _model_name(path, name)
    if isinstance(instances, bool) or not isinstance(instances, int) or instances < 1:
        raise ValueError(f"instances: expected a positive integer, got {instances!r}")
    if isinstance(queue_delay_us, bool) or not isinstance(queue_delay_us, int) or queue_delay_us < 0:
        raise ValueError(f"queue_delay_us: expected a non-negative integer, got {queue_delay_us!r}")
    inputs = _inputs(metadata, pt2)
    outputs = _outputs(metadata, pt2)
    batch = _max_batch_size(max_batch_size, metadata, pt2, [*inputs, *outputs])

    lines = [
        _comment(
            f"Written by tsnative {__version__} from {path.name} ({_what(metadata, pt2)}) for Triton's PyTorch backend."
        ),
        *(_comment(f"{tensor.name}: {tensor.origin}") for tensor in [*inputs, *outputs]),
    ]
    if pt2:
        lines.append(_comment("platform torch_aoti: Triton 26.03 or later, whose LibTorch must load this package."))
    lines += [
        f"name: {_quoted(name)}",
        'backend: "pytorch"',
        f'platform: "{"torch_aoti" if pt2 else "pytorch_libtorch"}"',
        f"max_batch_size: {batch}",
        *_tensor_block("input", inputs, batch),
        *_tensor_block("output", outputs, batch),
    ]
    if batch > 0:
        lines += ["dynamic_batching {", f"  max_queue_delay_microseconds: {queue_delay_us}", "}"]
    lines += _instance_group(device, instances)
    return "\n".join(lines) + "\n", "model.pt2" if pt2 else "model.pt"


def _recorded_metadata(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file")
    text = _C.read_metadata(os.fspath(path))  # checked by the C++ metadata unit, as tsnative info reads it
    if not text:
        raise ValueError(
            f"{path}: no tsnative metadata (tsnative.json); the Triton configuration is made from the dtypes and "
            "shapes tsnative.export records: export the model with tsnative.export first"
        )
    return json.loads(text)


def _is_package(path: Path) -> bool:
    """An AOTInductor package, as the engine tells them apart (on the file's content), else a TorchScript file:
    what the file is, whatever its metadata says."""
    return _C.backend_of(os.fspath(path)) == "aoti"


# Only "format" and "inputs" are sure to be in the metadata (what the C++ reader requires): every other entry is
# read with .get, and its type checked where the configuration depends on it.


def _dynamic_batch(metadata: dict[str, Any]) -> bool:
    return metadata.get("dynamic_batch") is True


def _shown(value: Any) -> str:
    """A recorded value as text: a string as it is, anything else as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def _what(metadata: dict[str, Any], pt2: bool) -> str:
    kind = "AOTInductor package" if pt2 else "TorchScript"
    if not pt2 and "export_mode" in metadata:
        kind += f", {_shown(metadata['export_mode'])}"
    text = f"{_shown(metadata.get('model', 'model'))}, {kind}"
    if metadata.get("batch"):
        text += f"; batch {_shown(metadata['batch'])}"
    elif "dynamic_batch" in metadata:
        text += f"; batch {'dynamic' if _dynamic_batch(metadata) else 'fixed'}"
    return text


def _model_name(path: Path, name: str | None) -> str:
    chosen = path.stem if name is None else name
    if not isinstance(chosen, str) or not _MODEL_NAME.fullmatch(chosen):
        given = "the file's stem " + repr(chosen) if name is None else repr(chosen)
        raise ValueError(
            f"name: expected letters, digits, '_', '.' or '-' (a folder name, not starting with '.' or '-'), got "
            f"{given}"
        )
    return chosen


def _device(path: Path, pt2: bool, device: str | None) -> str:
    if device is not None and (not isinstance(device, str) or not _DEVICE.fullmatch(device)):
        raise ValueError(f"device: expected 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    if not pt2:
        return device or "cpu"
    # A package is compiled code for one device (AOTI_DEVICE_KEY, read without loading the code). Read through the
    # engine's checked extraction: AOTInductor's own reader extracts the archive by its raw entry names.
    metadata: dict[str, str] = _C.package_metadata(os.fspath(path))
    compiled_for = metadata.get("AOTI_DEVICE_KEY", "cpu")
    if device is None:
        return compiled_for
    if device.split(":")[0] != compiled_for:
        raise ValueError(
            f"device: {path.name} was compiled for {compiled_for}, so Triton can run it only there; got "
            f"{device!r} (export again on a {device.split(':')[0]} machine for that device)"
        )
    return device


def _inputs(metadata: dict[str, Any], pt2: bool) -> list[_Tensor]:
    recorded = metadata["inputs"]
    if not pt2 and len(recorded) == 1 and recorded[0]["type"] == "dict":
        # The backend passes a single Dict[str, Tensor] argument by its keys, which are then the input names.
        argument = recorded[0]
        for key in argument["items"]:
            if not _INPUT_KEY.fullmatch(key):
                raise ValueError(
                    f"input '{_escaped(argument['name'])}': its keys are Triton's input names, so they must be "
                    f"printable ASCII without spaces, quotes or backslashes; got {key!r}"
                )
        return [
            _tensor(key, item, f"key '{key}' of forward argument '{argument['name']}'", "input")
            for key, item in argument["items"].items()
        ]
    return [
        _tensor(f"INPUT__{index}", item, f"forward argument '{item['name']}'", "input")
        for index, item in enumerate(recorded)
    ]


def _outputs(metadata: dict[str, Any], pt2: bool) -> list[_Tensor]:
    if "outputs" not in metadata:
        raise ValueError(
            'outputs: expected the recorded outputs (an object with "type"), got none: export the model with '
            "tsnative.export to record them"
        )
    recorded = metadata["outputs"]
    kind = recorded.get("type") if isinstance(recorded, dict) else None
    if kind == "Tensor":
        return [_tensor("OUTPUT__0", recorded, "the output", "output")]
    # TorchScript: a tuple of tensors (its backend refuses a list or dict of tensors); a package returns its tensors
    # flat, a tuple or a list.
    flat = ("tuple", "list") if pt2 else ("tuple",)
    items = recorded.get("items") if isinstance(recorded, dict) else None
    if kind not in flat or not isinstance(items, list):
        platform = "torch_aoti" if pt2 else "pytorch_libtorch"
        raise ValueError(
            f"outputs: Triton's {platform} platform takes a tensor or a {' or '.join(flat)} of tensors, the model "
            f"returns a {_escaped(recorded_text(recorded))}"
        )
    return [
        _tensor(f"OUTPUT__{index}", item, f"item {index} of the returned {kind}", "output")
        for index, item in enumerate(items)
    ]


def _tensor(name: str, item: Any, origin: str, role: str) -> _Tensor:
    # Error messages stay one line whatever the recorded text holds.
    where = f"{role} {_escaped(origin)}"
    if not isinstance(item, dict) or item.get("type") != "Tensor":
        raise ValueError(
            f"{where}: Triton's PyTorch backend takes tensors (or one dict of tensors as the only input); "
            f"this is a {_escaped(recorded_text(item))}"
        )
    # An output's dtype and shape are not checked by the C++ reader (an input's are).
    dtype = item.get("dtype")
    data_type = _DATA_TYPES.get(dtype) if isinstance(dtype, str) else None
    if data_type is None:
        raise ValueError(
            f"{where}: expected one of the dtypes Triton's PyTorch backend converts "
            f"({', '.join(_DATA_TYPES)}), got {_escaped(_shown(dtype)) if 'dtype' in item else 'none'}"
        )
    shape = item.get("shape")
    if not isinstance(shape, list) or not all(type(size) is int and size >= -1 for size in shape):
        raise ValueError(
            f"{where}: expected its recorded shape (a list of sizes >= 0, -1 for any size), got "
            f"{_escaped(_shown(shape)) if 'shape' in item else 'none'}"
        )
    return _Tensor(name, data_type, shape, origin)


def _max_batch_size(requested: int | None, metadata: dict[str, Any], pt2: bool, tensors: list[_Tensor]) -> int:
    if requested is not None and (isinstance(requested, bool) or not isinstance(requested, int) or requested < 0):
        raise ValueError(f"max_batch_size: expected a non-negative integer or None, got {requested!r}")
    # Triton batches along dimension 0 of every input and output, which must then be the recorded dynamic batch.
    unbatched = [t for t in tensors if not t.shape or t.shape[0] != -1]
    batchable = _dynamic_batch(metadata) and not unbatched
    if requested is None:
        return DEFAULT_MAX_BATCH_SIZE if batchable and not pt2 else 0
    if requested > 0 and not batchable:
        why = (
            f"{unbatched[0].name} ({_escaped(unbatched[0].origin)}) has no dynamic batch dimension first, recorded "
            f"as {unbatched[0].shape}"
            if _dynamic_batch(metadata)
            else f"the file's batch is fixed ({_escaped(_shown(metadata.get('batch') or 'as recorded'))})"
        )
        raise ValueError(
            f"max_batch_size: Triton can batch requests only along a dynamic batch dimension; {why}: "
            "use max_batch_size=0"
        )
    return requested


def _tensor_block(kind: str, tensors: list[_Tensor], max_batch_size: int) -> list[str]:
    lines = [f"{kind} ["]
    for index, tensor in enumerate(tensors):
        # With batching, dims leave out the batch dimension Triton adds; dims may not be empty, so a tensor whose
        # dims would be (a scalar) is [1] reshaped to [] (Triton's model configuration guide, "Reshape").
        dims = tensor.shape[1:] if max_batch_size > 0 else tensor.shape
        lines += [
            "  {",
            f"    name: {_quoted(tensor.name)}",
            f"    data_type: {tensor.data_type}",
            f"    dims: [ {', '.join(str(d) for d in dims) or '1'} ]",
        ]
        if not dims:
            lines.append("    reshape: { shape: [ ] }")
        lines.append("  }," if index < len(tensors) - 1 else "  }")
    lines.append("]")
    return lines


def _instance_group(device: str, instances: int) -> list[str]:
    lines = ["instance_group [", "  {", f"    count: {instances}"]
    if device == "cpu":
        lines.append("    kind: KIND_CPU")
    else:
        lines.append("    kind: KIND_GPU")
        if ":" in device:
            lines.append(f"    gpus: [ {int(device.split(':')[1])} ]")
    lines += ["  }", "]"]
    return lines


def _escaped(text: str) -> str:
    """`text` on one line: backslashes and unprintable characters (line breaks among them) as Python escapes."""
    return "".join(
        "\\\\" if c == "\\" else c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text
    )


def _comment(text: str) -> str:
    # A comment runs to the end of its line: recorded text (a model's name, an argument's, the file's) with a
    # newline in it would otherwise start a live configuration line after it.
    return f"# {_escaped(text)}"


def _quoted(text: str) -> str:
    """A protobuf text-format string literal (C escapes, non-ASCII as octal UTF-8 bytes)."""
    # Names are checked to need no escapes (_MODEL_NAME, _INPUT_KEY); escaped anyway, so no text can end the string.
    body = "".join(chr(b) if 0x20 <= b < 0x7F and b not in b'"\\' else f"\\{b:03o}" for b in text.encode("utf-8"))
    return f'"{body}"'
