"""ts-infer, the standalone C++ binary, run as a subprocess (a crash shows up as a failed exit status)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Dict, Tuple

import numpy as np
import pytest
import torch

import tsnative
from conftest import python_reference, run_tool, save_scripted, save_traced


def ts_infer(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return run_tool("ts-infer", *args)


@pytest.fixture(scope="module")
def exported_resnet18(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ts_infer") / "r18.pt"
    tsnative.export(torchvision.models.resnet18(weights=None), torch.randn(2, 3, 224, 224), path, mode="trace")
    return path


def test_default_run_like_the_seeds(exported_resnet18: Path) -> None:
    result = ts_infer(exported_resnet18)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"Model loaded: {exported_resnet18} on cpu in ")
    assert "Input x: float32 [1, 3, 224, 224] (random)" in lines  # recorded shape, dynamic batch -> 1
    assert "Output: float32 [1, 1000]" in lines
    assert "Top-5 classes (softmax probability):" in lines
    assert lines[-1] == "DONE"


def test_file_without_metadata_uses_the_default_image_shape(tmp_path: Path) -> None:
    path = save_scripted(torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten()), tmp_path / "p.pt")
    result = ts_infer(path)
    assert result.returncode == 0, result.stderr
    assert "Input input: float32 [1, 3, 224, 224] (random)" in result.stdout
    assert "Output: float32 [1, 3]" in result.stdout


def test_npy_input_gives_python_logits_and_top5(exported_resnet18: Path, tmp_path: Path) -> None:
    x = np.random.default_rng(0).standard_normal((2, 3, 224, 224)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    result = ts_infer(exported_resnet18, "--input", tmp_path / "x.npy", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    expected = python_reference(exported_resnet18)(torch.from_numpy(x))
    logits = torch.tensor(report["output"]["values"], dtype=torch.float64).reshape(report["output"]["shape"])
    torch.testing.assert_close(logits, expected.double(), rtol=1e-4, atol=1e-5)
    expected_top5 = torch.softmax(expected.double(), 1).topk(5, 1).indices.tolist()
    assert [[score["index"] for score in row] for row in report["topk"]] == expected_top5
    assert report["inputs"][0]["source"] == f"file {tmp_path / 'x.npy'}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("fortran_order", [False, True])
def test_npy_dtypes_and_layouts(tmp_path: Path, dtype: type, fortran_order: bool) -> None:
    class ToFloat(torch.nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return x.to(torch.float32) * 2 + 1

    path = save_scripted(ToFloat(), tmp_path / "to_float.pt")
    x = (np.arange(12).reshape(3, 4) - 5).astype(dtype)
    np.save(tmp_path / "x.npy", np.asfortranarray(x) if fortran_order else x)
    result = ts_infer(path, "--input", tmp_path / "x.npy", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["output"]["shape"] == [3, 4]
    assert report["output"]["values"] == (x.astype(np.float32) * 2 + 1).ravel().tolist()


def keys_of(value: object) -> object:
    """The keys of a JSON-like value, recursively (lists by their first item): its shape without its values."""
    if isinstance(value, dict):
        return {key: keys_of(item) for key, item in value.items()}
    if isinstance(value, list):
        return [keys_of(value[0])] if value else []
    return None


def test_json_has_every_field(exported_resnet18: Path) -> None:
    result = ts_infer(exported_resnet18, "--json", "--iters", "3", "--warmup", "1", "--batch", "3", "--topk", "2")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert set(report) == {
        "model",
        "device",
        "threads",
        "load_ms",
        "options",
        "optimizations",
        "load_report",
        "schema",
        "inputs",
        "output",
        "topk",
        "timing",
    }
    assert report["device"] == "cpu" and report["threads"] >= 1 and report["load_ms"] > 0
    assert report["schema"] == "forward(x: Tensor) -> Tensor"
    # The options with the names Python uses, from their one declaration; ts-infer declared the timed input's shape.
    assert set(report["options"]) == {name for name, *_ in tsnative._C.EngineOptions.fields()}
    assert report["options"]["warmup_shapes"] == [[[3, 3, 224, 224]]] and report["options"]["sha256"] is None
    load_report = report["load_report"]
    assert [step["name"] for step in load_report["steps"]][:3] == ["executor_per_shape", "warmup", "onednn_fusion"]
    assert load_report["warnings"] == []
    # One serialiser: ts-infer's load report has the keys of Engine.load_report, all the way down.
    engine_report = tsnative.Engine(exported_resnet18, warmup_shapes=[(3, 3, 224, 224)]).load_report
    assert keys_of(load_report) == keys_of(engine_report)
    assert load_report["backend"] == engine_report["backend"] == "torchscript"
    assert report["inputs"] == [{"name": "x", "dtype": "float32", "shape": [3, 3, 224, 224], "source": "random"}]
    assert report["output"]["shape"] == [3, 1000] and len(report["output"]["values"]) == 3000
    assert len(report["topk"]) == 3 and all(len(row) == 2 for row in report["topk"])
    assert all(0 <= score["probability"] <= 1 for row in report["topk"] for score in row)
    timing = report["timing"]
    assert timing["warmup"] == 1 and timing["iterations"] == 3 and len(timing["samples_ms"]) == 3
    assert timing["first_ms"] > 0
    assert timing["min_ms"] <= timing["p50_ms"] <= timing["p90_ms"] <= timing["p99_ms"] <= timing["max_ms"]
    assert timing["throughput_per_s"] == pytest.approx(3 * 3 / (sum(timing["samples_ms"]) / 1000))


def test_text_timing(exported_resnet18: Path) -> None:
    args = ("--iters", "2", "--warmup", "0", "--threads", "1", "--shape", "1x3x64x64")
    refused = ts_infer(exported_resnet18, *args)  # 64x64 was not what the export recorded and verified
    assert refused.returncode == 1
    assert "input 'x': expected float32 tensor of shape [N, 3, 224, 224], got float32 [1, 3, 64, 64]" in refused.stderr
    result = ts_infer(exported_resnet18, *args, "--no-input-check")
    assert result.returncode == 0, result.stderr
    assert "Timing (cpu, 1 threads, warmup 0, 2 iterations):" in result.stdout
    for field in ("load", "first inference", "latency  min", "p50", "p90", "p99", "max", "throughput"):
        assert field in result.stdout
    assert "Input x: float32 [1, 3, 64, 64] (random)" in result.stdout


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["model.pt", "--bogus"],
        ["model.pt", "--shape", "1by3"],
        ["model.pt", "--input", "x.npy", "--batch", "2"],
        ["model.pt", "--iters", "-1"],
    ],
)
def test_usage_errors_exit_2(args: list[str]) -> None:
    result = ts_infer(*args)
    assert result.returncode == 2
    assert "usage: ts-infer MODEL.pt" in result.stderr


def test_bad_file_exits_1_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "bad.pt").write_bytes(b"not a model at all")
    result = ts_infer(tmp_path / "bad.pt")
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error loading model: Cannot load '{tmp_path / 'bad.pt'}' as a model")
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stdout == ""

    missing = ts_infer(tmp_path / "absent.pt")
    assert missing.returncode == 1 and missing.stderr.startswith("Error loading model: No such file")


def test_bad_npy_exits_1(exported_resnet18: Path, tmp_path: Path) -> None:
    (tmp_path / "x.npy").write_bytes(b"\x00" * 64)
    result = ts_infer(exported_resnet18, "--input", tmp_path / "x.npy")
    assert result.returncode == 1 and "not a .npy file" in result.stderr
    np.save(tmp_path / "h.npy", np.zeros(3, np.float16))
    result = ts_infer(exported_resnet18, "--input", tmp_path / "h.npy")
    assert result.returncode == 1 and "unsupported dtype '<f2'" in result.stderr


def test_wrong_input_shape_is_a_clean_error(tmp_path: Path) -> None:
    path = save_traced(torch.nn.Linear(4, 2), torch.randn(1, 4), tmp_path / "lin.pt")
    result = ts_infer(path)  # no metadata: a 1x3x224x224 image for a Linear(4, 2)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ") and "cannot be multiplied" in result.stderr
    assert ts_infer(path, "--shape", "2x4").returncode == 0


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_cuda_without_cuda(exported_resnet18: Path) -> None:
    result = ts_infer(exported_resnet18, "--device", "cuda")
    assert result.returncode == 1
    assert 'device "cuda" requested, but CUDA is not available' in result.stderr


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_run_and_timing(exported_resnet18: Path) -> None:
    result = ts_infer(exported_resnet18, "--device", "cuda", "--iters", "5", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["device"] == "cuda:0" and report["timing"]["iterations"] == 5


def test_an_input_too_large_to_allocate_is_one_line(tmp_path: Path) -> None:
    path = save_scripted(torch.nn.ReLU(), tmp_path / "relu.pt")
    # 10^12 float32 values: 4 TB, impossible anywhere; LibTorch's allocator error is one line, never a backtrace.
    result = ts_infer(path, "--shape", "1000000x1000000", "--iters", "1")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and "frame #" not in result.stderr


class PairsByName(torch.nn.Module):
    """A tensor and a dict of tuples of tensors in."""

    def forward(self, x: torch.Tensor, features: Dict[str, Tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
        first, second = features["pair"]
        return x + first * second


def test_random_inputs_follow_nested_metadata_timed_or_not(tmp_path: Path) -> None:
    path = tmp_path / "pairs.pt"
    x = torch.randn(2, 3)
    tsnative.export(PairsByName(), (x, {"pair": (x, x)}), path, mode="script")
    for extra in ([], ["--iters", "2"]):  # timed: the call is run as made, no shapes declared for it
        report = json.loads(run_tool("ts-infer", path, "--batch", "4", "--json", *extra, check=True).stdout)
        assert [(item["name"], item["shape"]) for item in report["inputs"]] == [
            ("x", [4, 3]),
            ('features["pair"][0]', [4, 3]),
            ('features["pair"][1]', [4, 3]),
        ]
        assert report["output"]["shape"] == [4, 3]
