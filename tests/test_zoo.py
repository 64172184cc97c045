"""Real architectures run natively: every call through tsnative.Engine (default options: freezing and oneDNN fusion
on) gives what Python TorchScript gives for the same file, on the first call and on every call after it.

Models from torchvision (ViT, Swin, Faster R-CNN, video ResNet blocks), torch.nn (TransformerEncoder with a padding
mask, LSTM/GRU), Hugging Face transformers (GPT-2 and BERT from configs, traced with int64 token ids) and the
issue's reproducers, all with random weights and small inputs (tests/zoo_models.py).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from zoo_models import NEEDS_TRANSFORMERS, ZOO, OptionalMask, ZooCase

import tsnative
from conftest import python_reference, run_tool

pytest.importorskip("torchvision")

RTOL = 1e-4
ATOL = 1e-5  # scaled by the largest magnitude of the expected leaf (at least 1)
REPEATS = 3  # calls per shape: oneDNN fusion and the profiling executor change the graph after the first ones


def build(name: str) -> ZooCase:
    if name in NEEDS_TRANSFORMERS:
        pytest.importorskip("transformers")
    return ZOO[name]()


def save(case: ZooCase, path: Path) -> Path:
    module = case.module.eval()
    if case.mode == "trace":
        with torch.no_grad():
            scripted = torch.jit.trace(module, case.trace_example, strict=False, check_trace=False)
    else:
        scripted = torch.jit.script(module)
        if case.mode == "freeze":
            scripted = torch.jit.freeze(scripted)
    scripted.save(str(path))
    return path


def first_line(error: BaseException) -> str:
    text = str(error).strip()
    line = f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"
    report = getattr(error, "report", None)  # ExportVerificationError: say which check failed and how
    failed = [c for c in getattr(report, "checks", []) if not c.passed]
    if failed:
        line += f" [first failed check: {failed[0].label}: {failed[0].problem or 'outputs differ'}]"
    return line


def describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"{str(value.dtype).removeprefix('torch.')}{list(value.shape)}"
    if isinstance(value, (tuple, list)):
        return "(" + ", ".join(describe(v) for v in value) + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {describe(v)}" for k, v in value.items()) + "}"
    return repr(value)


def load(path: Path) -> tsnative.Engine:
    """tsnative.Engine(path) with default options; a failure is reported as its first line (pytest's traceback would
    repr the half-made Engine, which crashes the process today)."""
    try:
        return tsnative.Engine(path)
    except Exception as error:
        pytest.fail(f"tsnative.Engine({path.name!r}) raised {first_line(error)}", pytrace=False)


def assert_same(native: Any, expected: Any, where: str) -> None:
    """Leaf by leaf: the same structure, tensors of the same dtype and shape, within a scale-relative tolerance."""
    if isinstance(expected, torch.Tensor):
        assert isinstance(native, torch.Tensor), f"{where}: expected a tensor, got {type(native).__name__}"
        assert native.dtype == expected.dtype and native.shape == expected.shape, (
            f"{where}: expected {describe(expected)}, got {describe(native)}"
        )
        if expected.is_floating_point():
            scale = max(1.0, float(expected.abs().max())) if expected.numel() else 1.0
            torch.testing.assert_close(native, expected, rtol=RTOL, atol=ATOL * scale, msg=lambda m: f"{where}: {m}")
        else:
            assert torch.equal(native, expected), f"{where}: integer/bool values differ"
    elif isinstance(expected, (tuple, list)):
        assert isinstance(native, (tuple, list)) and len(native) == len(expected), (
            f"{where}: expected {describe(expected)}, got {describe(native)}"
        )
        for index, (n, e) in enumerate(zip(native, expected, strict=True)):
            assert_same(n, e, f"{where}[{index}]")
    elif isinstance(expected, dict):
        assert isinstance(native, dict) and sorted(native) == sorted(expected), (
            f"{where}: expected keys {sorted(expected)}, got {describe(native)}"
        )
        for key in expected:
            assert_same(native[key], expected[key], f"{where}[{key!r}]")
    else:
        assert native == expected, f"{where}: expected {expected!r}, got {native!r}"


def run_and_compare(engine: tsnative.Engine, reference: Any, calls: list[tuple[Any, ...]], label: str) -> None:
    """Each call shape REPEATS times, then the first shape once more; every output equal to Python TorchScript's."""
    schedule = [(i, call) for i, call in enumerate(calls) for _ in range(REPEATS)] + [(0, calls[0])]
    expected = [reference(*call) for call in calls]
    for number, (index, call) in enumerate(schedule, 1):
        where = f"{label}: call {number} (shape {index + 1}: {describe(call)})"
        try:
            native = engine.predict(*call)
        except Exception as error:
            pytest.fail(f"{where} raised {first_line(error)}", pytrace=False)
        assert_same(native, expected[index], where)


@pytest.mark.parametrize("name", list(ZOO))
def test_engine_gives_python_torchscript_outputs_on_every_call(name: str, tmp_path: Path) -> None:
    case = build(name)
    path = save(case, tmp_path / f"{name}.pt")
    engine = load(path)
    run_and_compare(engine, python_reference(path), case.calls, f"{name} {engine.optimizations}")


def test_optional_mask_reproducer_every_form_of_call(tmp_path: Path) -> None:
    """The issue's R: frozen, then called with the mask twice (the second call raised), without it, by keyword."""
    path = tmp_path / "r.pt"
    torch.jit.freeze(torch.jit.script(OptionalMask().eval())).save(str(path))
    engine, reference = load(path), python_reference(path)
    torch.manual_seed(0)
    x, m = torch.randn(3, 6), torch.ones(3, 6)
    calls: list[tuple[tuple[Any, ...], dict[str, Any]]] = [
        ((x, m), {}),
        ((x, m), {}),
        ((x,), {}),
        ((x, None, 0.5), {}),
        ((x,), {"mask": m, "scale": 3.0}),
        ((x, m), {}),
        ((torch.randn(4, 6), torch.zeros(4, 6)), {}),
    ]
    for number, (args, kwargs) in enumerate(calls, 1):
        where = f"call {number} ({describe(args)}, {describe(kwargs)})"
        try:
            native = engine.predict(*args, **kwargs)
        except Exception as error:
            pytest.fail(f"{where} raised {first_line(error)}", pytrace=False)
        assert_same(native, reference(*args, **kwargs), where)


class BakedBatch(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(2, -1).sum(1)


def test_a_file_whose_batch_is_baked_in_loads_and_runs(tmp_path: Path) -> None:
    path = tmp_path / "baked.pt"
    try:
        tsnative.export(BakedBatch(), torch.randn(2, 3), path)
    except tsnative.ExportVerificationError:
        pytest.skip("export refused the model (verification): nothing to load")
    engine = load(path)  # today: the metadata holds NaN, which the C++ JSON reader refuses
    x = torch.randn(2, 3)
    for _ in range(REPEATS):
        assert_same(engine.predict(x), python_reference(path)(x), "baked batch")


# The export path: tsnative.export (freezing, verification through the Engine, metadata), then the Engine on the
# written file, the batch varied (what the recorded metadata allows).
EXPORTED = [
    "vit",
    "swin",
    "video_r3d_like",
    "lstm_gru",
    "conv3d_inplace_add",
    "bool_mask_sum",
    "gpt2_handwritten",
    "gpt2",
]


def with_batch(call: tuple[Any, ...], batch: int) -> tuple[Any, ...]:
    def resize(value: Any) -> Any:
        if not isinstance(value, torch.Tensor) or value.dim() == 0:
            return value
        shape = (batch, *value.shape[1:])
        if value.dtype == torch.bool:
            return torch.rand(shape) > 0.5
        if value.is_floating_point():
            return torch.randn(shape)
        return torch.randint(int(value.min()), int(value.max()) + 1, shape, dtype=value.dtype)

    return tuple(resize(value) for value in call)


@pytest.mark.parametrize("name", EXPORTED)
def test_exported_file_runs_natively_like_python(name: str, tmp_path: Path) -> None:
    case = build(name)
    example = case.trace_example if case.mode == "trace" else case.calls[0]
    path = tmp_path / f"{name}.pt"
    mode = "trace" if case.mode == "trace" else "script"
    try:
        tsnative.export(case.module, example, path, mode=mode)
    except Exception as error:
        pytest.fail(f"tsnative.export raised {first_line(error)}", pytrace=False)
    torch.manual_seed(1)
    calls = [with_batch(example, 1), with_batch(example, 3)]
    engine = load(path)
    run_and_compare(engine, python_reference(path), calls, f"{name} exported {engine.optimizations}")


# ts-infer on a subset: the same file, one image input from a .npy file, a few timed runs before the reported one.
TS_INFER = ["vit", "swin", "video_r3d_like", "conv3d_inplace_add"]


@pytest.mark.parametrize("name", TS_INFER)
def test_ts_infer_gives_python_torchscript_outputs(name: str, tmp_path: Path) -> None:
    case = build(name)
    path = save(case, tmp_path / f"{name}.pt")
    (x,) = case.calls[-1]
    np.save(tmp_path / "x.npy", x.numpy())
    result = run_tool("ts-infer", path, "--input", tmp_path / "x.npy", "--json", "--warmup", "2", "--iters", "3")
    assert result.returncode == 0, f"ts-infer exit {result.returncode}: {result.stderr.strip()}"
    output = json.loads(result.stdout)["output"]
    native = torch.tensor(output["values"], dtype=torch.float64).reshape(output["shape"])
    expected = python_reference(path)(x).double()
    assert_same(native, expected, f"ts-infer {name}")
