"""Load-time optimisations (freeze, oneDNN Graph fusion, warm-up shapes): each switchable, each keeps outputs within
tolerance of eager PyTorch, and fusion is kept only where it was verified against the unfused graph."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import tsnative
from conftest import Recurrent, SmallConvNet, python_reference, run_tool, save_scripted

# Fused/frozen float32 convolutions reorder sums: agreement with eager to a few ulps of the activations' scale.
TOLERANCE = {"rtol": 1e-4, "atol": 1e-5}


NOT_DECLARED = 'no warmup_shapes declared: "auto" tries fusion on declared shapes only'


@pytest.mark.parametrize("mode", ["script", "trace"])
@pytest.mark.parametrize(
    ("freeze", "fusion", "steps"),
    [
        (True, "auto", [("freeze", True, ""), ("onednn_fusion", False, NOT_DECLARED)]),
        (True, True, [("freeze", True, ""), ("onednn_fusion", True, "")]),
        (True, False, [("freeze", True, "")]),
        (False, True, [("onednn_fusion", False, "the module is not frozen")]),
        (False, False, []),
    ],
)
def test_each_optimisation_keeps_outputs_close_to_eager(
    conv_model: SmallConvNet,
    conv_files: dict[str, Path],
    mode: str,
    freeze: bool,
    fusion: bool,
    steps: list[tuple[str, bool, str]],
) -> None:
    engine = tsnative.Engine(conv_files[mode], freeze=freeze, onednn_fusion=fusion)
    report = engine.load_report
    assert [(step["name"], step["applied"], step["reason"]) for step in report["steps"]] == steps
    assert report["frozen"] == freeze and report["backend"] == "torchscript"
    assert engine.optimizations == [step["note"] for step in report["steps"]]  # the view for people
    assert engine.parameter_count == sum(p.numel() for p in conv_model.parameters())  # counted before freezing
    torch.manual_seed(1)
    for batch in (1, 3, 1):  # a second shape, then the first again (guards and fallbacks of the fused graph)
        x = torch.randn(batch, 3, 16, 16)
        for _ in range(3):  # the profiling executor optimises on the second and third calls
            out = engine.predict(x)
        with torch.no_grad():
            torch.testing.assert_close(out, conv_model(x), **TOLERANCE)
        assert not out.requires_grad


def test_without_optimisations_outputs_equal_python_torchscript(conv_files: dict[str, Path]) -> None:
    engine = tsnative.Engine(conv_files["script"], freeze=False, onednn_fusion=False)
    x = torch.randn(2, 3, 16, 16)
    assert torch.equal(engine.predict(x), python_reference(conv_files["script"])(x))


def test_fusion_stays_inside_the_fused_engine(conv_model: SmallConvNet, conv_files: dict[str, Path]) -> None:
    # oneDNN Graph on an unfrozen graph with batchnorm computes wrong outputs; LibTorch's own switch would fuse
    # every graph in the process. After a fused engine has run, Python's unfrozen module must still be right.
    x = torch.randn(2, 3, 16, 16)
    fused = tsnative.Engine(conv_files["script"], onednn_fusion="on")
    for _ in range(3):
        fused.predict(x)
    unfrozen = torch.jit.load(str(conv_files["script"]))
    with torch.no_grad():
        for _ in range(3):
            out = unfrozen(x)
        torch.testing.assert_close(out, conv_model(x), **TOLERANCE)


def test_freezing_keeps_the_other_methods(conv_model: SmallConvNet, conv_files: dict[str, Path]) -> None:
    engine = tsnative.Engine(conv_files["script"], method="embed")
    assert engine.optimizations[0] == "freeze"
    assert "embed" in engine.method_names
    x = torch.randn(2, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(engine.predict(x), conv_model.embed(x), **TOLERANCE)


def test_warmup_shapes_run_at_load(conv_model: SmallConvNet, conv_files: dict[str, Path]) -> None:
    engine = tsnative.Engine(conv_files["trace"], warmup_shapes=[(1, 3, 16, 16), (4, 3, 16, 16)])
    declared = ["[1, 3, 16, 16]", "[4, 3, 16, 16]"]
    steps = engine.load_report["steps"]
    assert [(step["name"], step["applied"], step["shapes"]) for step in steps[:3]] == [
        ("freeze", True, []),
        ("executor_per_shape", True, declared),
        ("warmup", True, declared),
    ]
    timings = engine.load_report["timings"]
    assert 0 < timings["prepare_s"] < timings["total_s"] == engine.load_seconds
    # Fusion was tried on both declared shapes, verified, and timed (auto keeps it only where it is faster).
    fusion = engine.fusion
    assert fusion["mode"] == "auto" and fusion["tried"] and fusion["disabled"] is None
    assert [trial["shape"] for trial in fusion["trials"]] == ["[1, 3, 16, 16]", "[4, 3, 16, 16]"]
    for trial in fusion["trials"]:
        assert trial["verified"] and trial["max_relative_diff"] < 5e-5
        assert trial["fused_ms"] > 0 and trial["unfused_ms"] > 0
        assert trial["kept"] == (trial["fused_ms"] < trial["unfused_ms"])
    kept = sum(trial["kept"] for trial in fusion["trials"])
    assert engine.optimizations[3] == f"onednn_fusion x{kept} of 2 shapes"
    for batch in (1, 4, 2):
        x = torch.randn(batch, 3, 16, 16)
        with torch.no_grad():
            torch.testing.assert_close(engine.predict(x), conv_model(x), **TOLERANCE)


@pytest.mark.parametrize("per_shape", [True, False])
def test_executor_per_shape_keeps_outputs_close_to_eager(
    conv_model: SmallConvNet, conv_files: dict[str, Path], per_shape: bool
) -> None:
    shapes = [(1, 3, 16, 16), (4, 3, 16, 16), (1, 3, 16, 16)]  # declared twice: one executor for it
    engine = tsnative.Engine(conv_files["trace"], warmup_shapes=shapes, executor_per_shape=per_shape)
    assert ("executor_per_shape x2" in engine.optimizations) == per_shape
    assert sum(note.startswith("executor_per_shape") for note in engine.optimizations) == per_shape
    torch.manual_seed(2)
    for batch in (4, 1, 3, 4):  # declared, declared, shared executor, declared again
        x = torch.randn(batch, 3, 16, 16)
        for _ in range(3):
            out = engine.predict(x)
        with torch.no_grad():
            torch.testing.assert_close(out, conv_model(x), **TOLERANCE)


def test_executor_per_shape_with_other_methods_and_arguments(tmp_path: Path) -> None:
    # Recurrent takes two tensors: the executor is chosen by both shapes.
    torch.manual_seed(0)
    module = Recurrent()
    path = save_scripted(module, tmp_path / "recurrent.pt")
    engine = tsnative.Engine(path, warmup_shapes=[((2, 4), (2, 4)), ((5, 4), (5, 4))])
    assert "executor_per_shape x2" in engine.optimizations
    for rows in (2, 5, 3):
        x, h = torch.randn(rows, 4), torch.randn(rows, 4)
        with torch.no_grad():
            torch.testing.assert_close(engine.predict(x, h), module(x, h), **TOLERANCE)


def test_warmup_shapes_of_several_arguments(tmp_path: Path) -> None:
    torch.manual_seed(0)
    path = tmp_path / "recurrent.pt"
    tsnative.export(Recurrent(), (torch.randn(2, 4), torch.randn(2, 4)), path)
    engine = tsnative.Engine(path, warmup_shapes=[((1, 4), (1, 4)), ((8, 4), (8, 4))])
    assert "warmup x2" in engine.optimizations
    with pytest.raises(ValueError, match=r"warmup_shapes: expected 2 shape\(s\) per call, one per recorded input"):
        tsnative.Engine(path, warmup_shapes=[(1, 4)])


def test_bad_warmup_shapes_are_clear_errors(conv_files: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match=r"warmup_shapes: the model failed on random inputs of shapes \[1, 3, 16\]: "):
        tsnative.Engine(conv_files["script"], warmup_shapes=[(1, 3, 16)])
    with pytest.raises(ValueError, match=r"warmup_shapes: expected sizes >= 0, got \[1, -1, 16, 16\]"):
        tsnative.Engine(conv_files["script"], warmup_shapes=[(1, -1, 16, 16)])
    engine = tsnative.Engine(conv_files["script"])  # a failed load leaves nothing behind
    assert engine.predict(torch.randn(1, 3, 16, 16)).shape == (1, 5)


def test_ts_infer_switches(conv_files: dict[str, Path]) -> None:
    run = [conv_files["script"], "--shape", "1x3x16x16", "--json", "--iters", "2"]  # timed: the shape is declared
    default = json.loads(run_tool("ts-infer", *run, check=True).stdout)
    plain = json.loads(run_tool("ts-infer", *run, "--no-freeze", "--no-fusion").stdout)
    # ts-infer declares the input's shape when it times it, so "auto" tries fusion on it.
    assert default["optimizations"][:3] == ["freeze", "executor_per_shape x1", "warmup x1"]
    assert (
        default["load_report"]["fusion"]["mode"] == "auto" and default["load_report"]["fusion"]["trials"][0]["verified"]
    )
    assert plain["optimizations"] == ["executor_per_shape x1", "warmup x1"]
    assert plain["load_report"]["fusion"] == {
        "mode": "off",
        "tried": False,
        "skipped_reason": "turned off",
        "trials": [],
        "disabled": None,
    }
