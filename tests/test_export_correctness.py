"""tsnative.export's correctness fixes: strict-JSON metadata, scale-relative tolerance, torchvision's scripted
output conventions, the native error's cause, and an export that leaves the caller's model and RNG alone."""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path
from typing import Any, List

import pytest
import torch

import tsnative
from tsnative.report import compare


def strict_json(text: str) -> Any:
    """json.loads that refuses NaN and Infinity, as the C++ reader (nlohmann::json) does."""

    def refuse(constant: str) -> Any:
        raise ValueError(f"not strict JSON: {constant}")

    return json.loads(text, parse_constant=refuse)


def recorded_json(path: Path) -> str:
    """The tsnative.json extra file as written, read straight from the archive."""
    with zipfile.ZipFile(path) as archive:
        name = next(n for n in archive.namelist() if n.endswith("extra/tsnative.json"))
        return archive.read(name).decode()


class FixedBatch(torch.nn.Module):
    """reshape(2, -1) works for some other batch sizes (4) and not for others (1): the batch is fixed."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(2, -1).sum(1)


# B: metadata is strict JSON, and a fixed batch is recorded as fixed, with the reason.


def test_metadata_of_a_skipped_check_is_strict_json_and_loads(tmp_path: Path) -> None:
    path = tmp_path / "fixed.pt"
    report = tsnative.export(FixedBatch(), torch.randn(2, 3), path)
    assert report.passed
    skipped = [c for c in report.checks if c.skipped]
    assert [c.label for c in skipped] == ["batch 1"]

    metadata = strict_json(recorded_json(path))
    checks = {c["label"]: c for c in metadata["verification"]["checks"]}
    assert checks["batch 1"]["skipped"] is True and checks["batch 1"]["max_abs_diff"] is None
    assert math.isfinite(checks["example"]["max_abs_diff"])

    engine = tsnative.Engine(path, onednn_fusion=False)  # the strict C++ reader takes the file
    assert engine.metadata == metadata
    torch.testing.assert_close(engine.predict(torch.ones(2, 3)), torch.full((2,), 3.0))


def test_a_batch_that_eager_refuses_is_recorded_fixed_with_the_reason(tmp_path: Path) -> None:
    report = tsnative.export(FixedBatch(), torch.randn(2, 3), tmp_path / "fixed.pt")
    # batch 4 happens to work (reshape(2, -1) of 12 values), batch 1 does not: the batch is not dynamic.
    assert report.metadata["dynamic_batch"] is False
    assert report.metadata["inputs"][0]["shape"] == [2, 3]
    reason = report.metadata["batch"]
    assert reason.startswith("fixed at 2: batch 1: eager raised RuntimeError")
    assert "\n" not in reason
    assert f"batch: {reason}" in str(report)


def test_a_verified_dynamic_batch_says_so(tmp_path: Path) -> None:
    torch.manual_seed(0)
    report = tsnative.export(torch.nn.Linear(3, 2), torch.randn(2, 3), tmp_path / "lin.pt")
    assert report.metadata["dynamic_batch"] is True
    assert report.metadata["batch"] == "dynamic: verified on batch 1, 4"


def test_failed_checks_write_strict_json(tmp_path: Path) -> None:
    """A check the native engine failed has no difference to record: null, not NaN."""
    path = tmp_path / "kept.pt"
    report = tsnative.export(ScriptedRaises(), torch.randn(2, 3), path, mode="script", strict=False)
    assert not report.passed
    metadata = strict_json(recorded_json(path))
    assert metadata["verification"]["passed"] is False
    assert tsnative.Engine(path, onednn_fusion=False).metadata == metadata


def test_a_list_example_is_one_input(tmp_path: Path) -> None:
    x = torch.randn(2, 2)
    with pytest.raises(TypeError) as caught:
        tsnative.export(torch.nn.Linear(2, 2), [x], tmp_path / "lin.pt", strict=False)
    message = str(caught.value)
    assert "\n" not in message
    assert "example_inputs" in message and "a list is one input" in message and "tuple" in message
    assert not (tmp_path / "lin.pt").exists()

    report = tsnative.export(SumOfList(), [x, x * 2], tmp_path / "sum.pt", mode="script")
    assert report.passed
    assert report.metadata["inputs"][0]["name"] == "xs" and report.metadata["inputs"][0]["type"] == "list"


class SumOfList(torch.nn.Module):
    def forward(self, xs: List[torch.Tensor]) -> torch.Tensor:
        total = xs[0]
        for x in xs[1:]:
            total = total + x
        return total


# C: tolerance relative to the output's scale.


def test_fp32_rounding_on_a_large_output_passes() -> None:
    """fcn_resnet50's case: 2.8e-4 off on outputs of scale ~1.7 (inception_v3: 3.8e-4 on ~5) is fp32 rounding."""
    torch.manual_seed(0)
    eager = torch.randn(2, 21, 8, 8) * 1.7 / 4
    eager[0, 0, 0, 0], eager[0, 0, 0, 1] = 1.7, 0.0
    native = eager.clone()
    native[0, 0, 0, 1] += 2.8e-4  # off by 2.8e-4 where eager is 0: torch.allclose(rtol=1e-3, atol=1e-4) refuses
    result = compare("example", "-", native, eager, 1e-3, 1e-4)
    assert result.passed, result.problem
    assert result.max_abs_diff == pytest.approx(2.8e-4, rel=1e-3)
    scale = eager.abs().max().item()
    assert result.max_rel_diff == pytest.approx(2.8e-4 / scale, rel=1e-3)  # relative to the output's scale

    scaled = eager * 5 / 1.7
    assert compare("example", "-", scaled + 3.8e-4, scaled, 1e-3, 1e-4).passed


def test_real_differences_still_fail() -> None:
    torch.manual_seed(0)
    eager = torch.randn(4, 10)
    assert not compare("x", "-", eager + 0.02 * eager.abs().max(), eager, 1e-3, 1e-4).passed
    assert not compare("x", "-", torch.randn(4, 10), eager, 1e-3, 1e-4).passed
    tiny = torch.full((3,), 1e-6)
    assert not compare("x", "-", tiny + 2e-4, tiny, 1e-3, 1e-4).passed, "atol still bounds a small output"
    # the user's tolerances keep their meaning: a looser rtol passes what the default refuses
    assert compare("x", "-", eager + 0.02 * eager.abs().max(), eager, 5e-2, 1e-4).passed


def test_report_says_what_the_tolerance_means(tmp_path: Path) -> None:
    report = tsnative.export(torch.nn.Linear(3, 2), torch.randn(2, 3), tmp_path / "lin.pt")
    assert "|native - eager| <= atol + rtol * max|eager|" in str(report)


# D: torchvision's scripted conventions, and mode="auto" trying trace after a failed scripted verification.


def test_scripted_googlenet_compares_the_logits(tmp_path: Path) -> None:
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    model = torchvision.models.googlenet(weights=None, aux_logits=False, init_weights=True)
    report = tsnative.export(model, torch.randn(1, 3, 64, 64), tmp_path / "googlenet.pt", mode="script")
    assert report.passed, str(report)
    assert any("GoogLeNetOutputs" in note and "logits" in note for note in report.notes), report.notes
    assert report.metadata["outputs"]["type"] == "tuple"  # what the file returns


def test_scripted_detection_compares_the_detections(tmp_path: Path) -> None:
    """Needs the C++ oneDNN-fusion fix: with fusion on, the engine's second call of this file raises "Couldn't find
    an argument called self" (it passes with the export's Engine built with onednn_fusion=False)."""
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    model = torchvision.models.detection.ssdlite320_mobilenet_v3_large(
        weights=None, weights_backbone=None, num_classes=3
    )
    image = torch.rand(3, 64, 80)
    report = tsnative.export(model, ([image],), tmp_path / "ssd.pt", mode="script")
    assert report.passed, str(report)
    assert any("(losses, detections)" in note for note in report.notes), report.notes


class ScriptedDiffers(torch.nn.Module):
    """Scriptable, but the scripted code takes another path than eager (and than a trace)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():
            return x * 2
        return x + 1


def test_auto_traces_when_the_scripted_file_fails_verification(tmp_path: Path) -> None:
    with pytest.raises(tsnative.ExportVerificationError):
        tsnative.export(ScriptedDiffers(), torch.randn(2, 3), tmp_path / "s.pt", mode="script")
    with pytest.warns(UserWarning, match="failed verification") as caught:
        report = tsnative.export(ScriptedDiffers(), torch.randn(2, 3), tmp_path / "a.pt", mode="auto")
    # The warning names the caller's line, not tsnative's.
    assert [w.filename for w in caught if "failed verification" in str(w.message)] == [__file__]
    assert report.passed and report.mode == "trace"
    assert any("scripted file failed verification" in note and "traced instead" in note for note in report.notes)
    assert tsnative.Engine(tmp_path / "a.pt", onednn_fusion=False).metadata["export_mode"] == "trace"


# E: the native error's cause survives into the report.


def test_native_error_keeps_its_cause() -> None:
    from tsnative._export.errors import error_line

    schema_error = RuntimeError(
        "\nArguments for call are not valid.\nThe following variants are available:\n\n"
        "  aten::add.Tensor(Tensor self, Tensor other, *, Scalar alpha=1) -> Tensor:\n"
        "  Expected a value of type 'Tensor' for argument 'other' but instead found type 'str'.\n\n"
        'The original call is:\n  File "code/__torch__.py", line 8\n    x = torch.add(a, b)\n'
        "        ~~~~~~~~~ <--- HERE\n:"
    )
    assert error_line(schema_error) == "Arguments for call are not valid."
    interpreter_error = RuntimeError(
        "The following operation failed in the TorchScript interpreter.\n"
        "Traceback of TorchScript, serialized code (most recent call last):\n"
        '  File "code/__torch__.py", line 9, in forward\n    x = torch.mm(a, b)\n        ~~~~~ <--- HERE\n'
        "RuntimeError: mat1 and mat2 shapes cannot be multiplied (2x5 and 4x4)\n"
    )
    assert error_line(interpreter_error) == "RuntimeError: mat1 and mat2 shapes cannot be multiplied (2x5 and 4x4)"
    schema_not_found = RuntimeError(
        "The following operation failed in the TorchScript interpreter.\n"
        "Traceback of TorchScript (most recent call last):\n"
        '  File "code/__torch__/torchvision/models/detection/ssd.py", line 51, in forward\n'
        "    def forward(self: __torch__.SSD,\n      images: List[Tensor]) -> Tuple[Dict[str, Tensor], int]:\n"
        "    _0 = ops.prim.FusionGroup(images)\n         ~~~~~~~~~~~~~~~~~~~ <--- HERE\n"
        "RuntimeError:\nSchema not found for node. File a bug report.\nNode: %3 : Tensor = aten::add(%1, %2)\n\n"
        "Input types:Tensor, int\ncandidates were:\n  aten::add.Tensor(Tensor self, Tensor other) -> Tensor\n:"
    )
    assert error_line(schema_not_found) == "Schema not found for node. File a bug report."
    assert error_line(RuntimeError(":\n")) == "RuntimeError"
    assert len(error_line(RuntimeError("x" * 1000))) <= 200


class ScriptedRaises(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.jit.is_scripting():
            raise ValueError("the scripted path refuses this input")
        return x


def test_report_carries_the_native_error(tmp_path: Path) -> None:
    report = tsnative.export(ScriptedRaises(), torch.randn(2, 3), tmp_path / "r.pt", mode="script", strict=False)
    problems = {c.problem for c in report.checks}
    assert any("the scripted path refuses this input" in p for p in problems), problems
    assert all("\n" not in p for p in problems)


# 4 and 4b: the caller's model and random state are left as they were.


def test_export_restores_every_module_training_flag(tmp_path: Path) -> None:
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Dropout(0.1), torch.nn.Linear(4, 2))
    model.train()
    model[1].eval()  # the caller froze this part
    before = {name: m.training for name, m in model.named_modules()}
    tsnative.export(model, torch.randn(2, 3), tmp_path / "m.pt")
    assert {name: m.training for name, m in model.named_modules()} == before


def test_export_leaves_the_global_rng_alone(tmp_path: Path) -> None:
    torch.manual_seed(123)
    model, example = torch.nn.Sequential(torch.nn.Linear(3, 2)), torch.randn(2, 3)
    state = torch.random.get_rng_state()
    report = tsnative.export(model, example, tmp_path / "a.pt")
    assert report.passed and len(report.checks) == 5  # random and resized inputs were drawn, privately
    assert torch.equal(torch.random.get_rng_state(), state)


def test_default_check_inputs_are_seeded() -> None:
    from tsnative._export.verify_inputs import default_check_inputs

    example = (torch.randn(2, 3), torch.randint(0, 5, (2, 4)), torch.zeros(2, 2, dtype=torch.bool))
    state = torch.random.get_rng_state()
    first, second = default_check_inputs(example), default_check_inputs(example)
    assert torch.equal(torch.random.get_rng_state(), state)
    for (label, a), (_, b) in zip(first, second, strict=True):
        for x, y in zip(a, b, strict=True):
            assert torch.equal(x, y), label
