"""tsnative.export: trace/script, freezing, verification through the native engine, recorded metadata."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest
import torch

import tsnative
from conftest import ControlFlow, Recurrent


def resnet18() -> torch.nn.Module:
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    return torchvision.models.resnet18(weights=None)


@pytest.mark.parametrize("mode", ["trace", "script"])
def test_resnet18_exports_verified_with_metadata(tmp_path: Path, mode: str) -> None:
    path = tmp_path / f"r18_{mode}.pt"
    report = tsnative.export(resnet18(), torch.randn(2, 3, 224, 224), path, mode=mode)
    assert report.passed and report.mode == mode and report.optimizations == ["freeze"]
    assert [c.label for c in report.checks] == ["example", "random", "negated", "batch 1", "batch 4"]
    assert all(c.topk == 5 and c.topk_agreement is not None for c in report.checks)
    assert "PASSED" in str(report) and "batch 4" in str(report)

    metadata = tsnative.Engine(path).metadata
    assert metadata is not None and metadata == report.metadata
    assert metadata["inputs"] == [{"name": "x", "type": "Tensor", "dtype": "float32", "shape": [-1, 3, 224, 224]}]
    assert metadata["outputs"] == {"type": "Tensor", "dtype": "float32", "shape": [-1, 1000]}
    assert metadata["dynamic_batch"] is True
    assert metadata["export_mode"] == mode
    assert metadata["torch_version"] == torch.__version__
    assert metadata["parameters"] == 11_689_512
    assert metadata["verification"]["passed"] is True
    assert not path.with_name(path.name + ".unverified").exists()


def test_control_flow_script_passes_trace_is_caught(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model, example = ControlFlow(), torch.rand(4) + 0.1  # a positive example: the trace records weight.mv
    assert tsnative.export(model, example, tmp_path / "cf_script.pt", mode="script").passed

    with pytest.raises(tsnative.ExportVerificationError) as caught:
        tsnative.export(model, example, tmp_path / "cf_trace.pt", mode="trace")
    report = caught.value.report
    failed = [c.label for c in report.checks if not c.passed]
    assert "negated" in failed  # a negative input takes the other branch in eager
    assert not (tmp_path / "cf_trace.pt").exists()
    assert any("trace warning" in note for note in report.notes)

    kept = tsnative.export(model, example, tmp_path / "cf_kept.pt", mode="trace", strict=False)
    assert not kept.passed and (tmp_path / "cf_kept.pt").exists()
    assert tsnative.Engine(tmp_path / "cf_kept.pt").metadata["verification"]["passed"] is False


class BakedBatch(torch.nn.Module):
    """int() turns the batch size into a Python constant, which a trace records."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = int(x.shape[0])
        return x * torch.ones(n, 1)


def test_trace_that_bakes_in_the_batch_is_caught(tmp_path: Path) -> None:
    with pytest.raises(tsnative.ExportVerificationError) as caught:
        tsnative.export(BakedBatch(), torch.randn(4, 3), tmp_path / "baked.pt", mode="trace")
    failed = {c.label for c in caught.value.report.checks if not c.passed}
    assert failed == {"batch 1", "batch 6"}
    kept = tsnative.export(BakedBatch(), torch.randn(4, 3), tmp_path / "baked.pt", mode="trace", strict=False)
    assert kept.metadata["dynamic_batch"] is False
    assert kept.metadata["inputs"][0]["shape"] == [4, 3]
    assert tsnative.export(BakedBatch(), torch.randn(4, 3), tmp_path / "scripted.pt", mode="script").passed


def test_tuple_model(tmp_path: Path) -> None:
    torch.manual_seed(0)
    report = tsnative.export(Recurrent(), (torch.randn(2, 4), torch.randn(2, 4)), tmp_path / "rnn.pt")
    assert report.passed
    assert [i["name"] for i in report.metadata["inputs"]] == ["x", "h"]
    assert report.metadata["outputs"]["type"] == "tuple"
    engine = tsnative.Engine(tmp_path / "rnn.pt")
    h, c = engine.predict(torch.randn(3, 4), torch.randn(3, 4))
    assert h.shape == c.shape == (3, 4)


class WithBatchNormAndDropout(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3), torch.nn.BatchNorm2d(8), torch.nn.ReLU(), torch.nn.Dropout(0.5)
        )
        self.head = torch.nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x).mean((2, 3)))


@pytest.mark.parametrize("mode", ["trace", "script"])
def test_batchnorm_and_dropout_exported_in_eval_mode(tmp_path: Path, mode: str) -> None:
    torch.manual_seed(0)
    model = WithBatchNormAndDropout()
    model.train()
    with torch.no_grad():  # give BatchNorm non-trivial running statistics
        model(torch.randn(16, 3, 12, 12) * 3 + 1)
    report = tsnative.export(model, torch.randn(2, 3, 12, 12), tmp_path / "bn.pt", mode=mode)
    assert report.passed
    assert model.training, "export restores the caller's training flag"
    x = torch.randn(3, 3, 12, 12)
    engine = tsnative.Engine(tmp_path / "bn.pt", onednn_fusion=False)  # bitwise-stable from the first call
    first, second = engine.predict(x), engine.predict(x)
    assert torch.equal(first, second), "dropout is inactive in the export"
    torch.testing.assert_close(first, model.eval()(x), rtol=1e-3, atol=1e-4)


class Unscriptable(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * len({id(x)})


def test_unscriptable_model(tmp_path: Path) -> None:
    with pytest.raises(tsnative.ExportError) as caught:
        tsnative.export(Unscriptable(), torch.randn(2, 3), tmp_path / "u.pt", mode="script")
    message = str(caught.value)
    assert "\n" not in message and "cannot be scripted" in message and "test_export.py" in message

    with pytest.warns(UserWarning, match="fell back to torch.jit.trace") as warned:
        report = tsnative.export(Unscriptable(), torch.randn(2, 3), tmp_path / "u.pt", mode="auto")
    # The warning names the caller's line, not tsnative's.
    assert [w.filename for w in warned if "fell back" in str(w.message)] == [__file__]
    assert report.mode == "trace" and report.passed
    assert any("fell back" in note for note in report.notes)


def test_explicit_verify_inputs_and_no_optimize(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(6, 3))
    checks = [torch.randn(1, 6), torch.randn(9, 6)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)  # the current name: no deprecation
        report = tsnative.export(model, torch.randn(2, 6), tmp_path / "lin.pt", verify_inputs=checks, optimize=False)
    assert [c.label for c in report.checks] == ["check 1", "check 2"]
    assert report.optimizations == [] and report.passed
    assert report.metadata["dynamic_batch"] is True  # given checks of other batch sizes passed
    assert report.metadata["inputs"][0]["shape"] == [-1, 6]
    assert tsnative.Engine(tmp_path / "lin.pt").parameter_count == 21  # not frozen: parameters stay parameters


def test_check_inputs_is_a_deprecated_alias_of_verify_inputs(tmp_path: Path) -> None:
    model, checks = torch.nn.Linear(6, 3), [torch.randn(1, 6), torch.randn(9, 6)]
    with pytest.warns(DeprecationWarning, match="check_inputs= is deprecated, use verify_inputs=") as caught:
        report = tsnative.export(model, torch.randn(2, 6), tmp_path / "old.pt", check_inputs=checks)
    assert [w.filename for w in caught if w.category is DeprecationWarning] == [__file__]  # the caller's line
    assert [c.label for c in report.checks] == ["check 1", "check 2"] and report.passed
    assert report.metadata["inputs"][0]["shape"] == [-1, 6]


def test_verify_inputs_and_check_inputs_together_are_refused(tmp_path: Path) -> None:
    checks = [torch.randn(1, 6)]
    with pytest.raises(TypeError, match="both verify_inputs= and check_inputs="):
        tsnative.export(
            torch.nn.Linear(6, 3), torch.randn(2, 6), tmp_path / "b.pt", verify_inputs=checks, check_inputs=checks
        )
    assert not list(tmp_path.iterdir())  # refused before anything was exported


def test_no_torchscript_future_warning_escapes(tmp_path: Path) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tsnative.export(torch.nn.Linear(3, 2), torch.randn(2, 3), tmp_path / "l.pt", mode="trace")
    assert not [w for w in caught if issubclass(w.category, FutureWarning)]


def test_bad_mode(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="mode: expected"):
        tsnative.export(torch.nn.Linear(3, 2), torch.randn(2, 3), tmp_path / "l.pt", mode="compile")  # type: ignore[arg-type]


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tsnative.cli", *args], capture_output=True, text=True, timeout=300)


def test_cli_export_and_info(tmp_path: Path) -> None:
    pytest.importorskip("torchvision")
    out = tmp_path / "r18.pt"
    exported = run_cli("export", "resnet18", str(out), "--mode", "trace")
    assert exported.returncode == 0, exported.stderr
    assert "PASSED" in exported.stdout
    info = run_cli("info", str(out))
    assert info.returncode == 0, info.stderr
    assert "input       x: float32 [N, 3, 224, 224]" in info.stdout
    assert "parameters  11,689,512" in info.stdout
    assert "export      trace, optimizations: freeze" in info.stdout
    as_json = run_cli("info", str(out), "--json")
    assert '"export_mode": "trace"' in as_json.stdout


def test_cli_errors(tmp_path: Path) -> None:
    unknown = run_cli("export", "resnet19", str(tmp_path / "x.pt"))
    assert unknown.returncode == 1 and "did you mean resnet18" in unknown.stderr
    missing = run_cli("info", str(tmp_path / "absent.pt"))
    assert missing.returncode == 1 and "No such file" in missing.stderr
