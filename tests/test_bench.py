"""tsnative bench: the study runs every path and writes a complete, documented result set."""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
import torch

import tsnative
from conftest import save_scripted
from tsnative.bench.machine import CPU_FLAGS
from tsnative.bench.run import SCHEMA

PATHS = {"eager", "torchscript", "native", "native_cpp", "onnxruntime"}
AOTI_PATHS = {"aoti_python", "aoti_native"}  # the .pt2 package, from Python and through the Engine
LATENCY_FIELDS = {
    "mode",
    "device",
    "batch",
    "path",
    "label",
    "median_ms",
    "p90_ms",
    "p99_ms",
    "iqr_ms",
    "mean_ms",
    "min_ms",
    "throughput_per_s",
    "samples",
    "rounds",
    "spread",
    "stable",
    "speedup_vs_eager",
    "speedup_vs_torchscript",
    "p10_ms",
    "samples_ms",
}
LOAD_FIELDS = {"mode", "device", "path", "label", "cold_load_ms", "warm_load_ms", "first_inference_ms", "first_batch"}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class TinyConvNet(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.features = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1))
        self.head = torch.nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


def test_cli_bench_writes_every_output(tmp_path: Path) -> None:
    pytest.importorskip("torchvision")
    pytest.importorskip("onnxruntime")
    out = tmp_path / "bench"
    command = [
        sys.executable,
        "-m",
        "tsnative.cli",
        "bench",
        "mobilenet_v3_small",
        "--size",
        "32",
        "--batch",
        "1,2",
        "--mode",
        "script",
        "--budget",
        "1",
        "--cold-repeats",
        "1",
        "--out",
        str(out),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "latency per call" in result.stdout and "load and first inference" in result.stdout

    results = json.loads((out / "results.json").read_text())
    assert results["schema"] == SCHEMA
    assert set(results) >= {
        "model",
        "input_shape",
        "created",
        "machine",
        "settings",
        "files",
        "notes",
        "loads",
        "latency",
    }
    settings = results["settings"]
    assert settings["warmup"] >= 1 and settings["min_rounds"] >= 1 and settings["target_spread"] > 0
    assert settings["threads"] == torch.get_num_threads()
    assert set(results["files"]) == {"module", "script", "pt2", "onnx"} and all(results["files"].values())

    # TorchScript and AOTInductor side by side, in one table: the package is measured in the script group.
    assert {row["path"] for row in results["latency"]} == PATHS | AOTI_PATHS
    assert len(results["latency"]) == 2 * len(PATHS | AOTI_PATHS)  # two batch sizes
    for row in results["latency"]:
        assert set(row) == LATENCY_FIELDS
        assert row["median_ms"] > 0 and row["samples"] >= settings["iters_per_round"] * settings["min_rounds"]
        assert row["min_ms"] <= row["median_ms"] <= row["p90_ms"] <= row["p99_ms"]
        assert isinstance(row["stable"], bool) and row["rounds"] >= settings["min_rounds"]
        assert row["speedup_vs_eager"] > 0
    for row in results["loads"]:
        assert set(row) == LOAD_FIELDS
        assert row["cold_load_ms"] > 0 and row["warm_load_ms"] > 0 and row["first_inference_ms"] > 0

    csv_lines = (out / "results.csv").read_text().splitlines()
    assert csv_lines[0].startswith("mode,device,batch,path,median_ms")
    assert len(csv_lines) == 1 + 2 * len(PATHS | AOTI_PATHS)
    for name in ("latency_vs_batch.png", "speedup_vs_eager.png", "load_times.png"):
        assert (out / name).read_bytes()[:8] == PNG_MAGIC, name


def test_python_api_with_a_module(tmp_path: Path) -> None:
    results = tsnative.bench(
        TinyConvNet(),
        modes=["trace"],
        batches=[1, 3],
        size=16,
        onnx=False,
        pt2=False,
        cold_loads=False,
        budget_seconds=0.5,
        min_rounds=2,
        progress=False,
        threads=1,
    )
    assert {row["path"] for row in results["latency"]} == PATHS - {"onnxruntime"}
    assert {row["batch"] for row in results["latency"]} == {1, 3}
    assert all(row["cold_load_ms"] is None for row in results["loads"])  # not asked for
    assert results["settings"]["threads"] == 1


def test_torchscript_file_runs_its_torchscript_paths(tmp_path: Path) -> None:
    path = save_scripted(TinyConvNet(), tmp_path / "tiny.pt")
    results = tsnative.bench(path, batches=[2], size=16, cold_loads=False, budget_seconds=0.5, progress=False)
    assert {row["path"] for row in results["latency"]} == {"torchscript", "native", "native_cpp"}
    assert all(row["speedup_vs_eager"] is None for row in results["latency"])
    assert "eager and ONNX Runtime paths not available" in results["notes"][0]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_cuda_without_cuda_is_refused_up_front() -> None:
    with pytest.raises(tsnative.DeviceUnavailableError, match="CUDA is not available"):
        tsnative.bench(TinyConvNet(), devices=["cuda"], progress=False)


def test_engine_time_is_the_cpp_loop(tmp_path: Path) -> None:
    engine = tsnative.Engine(save_scripted(TinyConvNet(), tmp_path / "tiny.pt"))
    stats = engine.time(torch.randn(4, 3, 16, 16), warmup=1, iterations=6, batch_size=4)
    assert len(stats.samples_ms) == 6 and stats.first_ms > 0
    assert stats.min_ms <= stats.p50_ms <= stats.p90_ms <= stats.p99_ms <= stats.max_ms
    assert stats.throughput_per_s == pytest.approx(4 * 6 / (sum(stats.samples_ms) / 1000))
    with pytest.raises(TypeError, match="expected Tensor, got str"):
        engine.time("not a tensor")
    with pytest.raises(ValueError, match="iterations >= 1"):
        engine.time(torch.randn(1, 3, 16, 16), iterations=0)


def test_a_tsnative_file_is_measured_on_its_recorded_shape(conv_files: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    results = tsnative.bench(
        conv_files["exported"], out=out, batches=[1, 2], cold_loads=False, budget_seconds=0.3, progress=False
    )
    assert results["input_shape"] == [3, 16, 16] and results["settings"]["size"] == 16  # no size given
    # No eager path for a file: the speed-up is against Python TorchScript, and no empty eager figure is drawn.
    assert all(row["speedup_vs_eager"] is None for row in results["latency"])
    assert {row["speedup_vs_torchscript"] for row in results["latency"] if row["path"] == "torchscript"} == {1.0}
    assert sorted(path.name for path in out.iterdir()) == [
        "latency_vs_batch.png",
        "load_times.png",
        "results.csv",
        "results.json",
        "speedup_vs_torchscript.png",
    ]
    written = json.loads((out / "results.json").read_text())
    machine = written["machine"]
    assert isinstance(machine["cpu_flags"], list) and set(machine["cpu_flags"]) <= set(CPU_FLAGS)
    assert len(machine["load_average_before"]) == 3 and len(machine["load_average_after"]) == 3
    for row in written["latency"]:
        assert len(row["samples_ms"]) == row["samples"]  # every timed call, not only the summary
        assert row["p10_ms"] <= row["median_ms"] <= row["p90_ms"]
        assert min(row["samples_ms"]) == pytest.approx(row["min_ms"], abs=1e-4)
    assert "samples_ms" not in (out / "results.csv").read_text().splitlines()[0]


def test_no_output_folder_leaves_nothing_behind(
    conv_files: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    results = tsnative.bench(
        TinyConvNet(),
        modes=["trace"],
        batches=[1],
        size=16,
        onnx=False,
        pt2=False,  # Inductor keeps its compile cache in the temporary folder, as torch always does
        cold_loads=False,
        budget_seconds=0.2,
        min_rounds=1,
        progress=False,
        threads=1,
    )
    assert results["latency"] and results["files"]["trace"] > 0
    assert not list(tmp_path.iterdir())  # the exported files lived in a temporary folder, removed at the end


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"batches": [1, 0]}, "batches: expected a positive integer, got 0"),
        ({"batches": []}, "batches: expected a non-empty list, got []"),
        ({"devices": ["gpu"]}, 'devices: expected "cpu", "cuda" or "cuda:N", got \'gpu\''),
        ({"modes": ["jit"]}, "modes: expected script, trace, auto, got 'jit'"),
        ({"threads": -1}, "threads: expected a positive integer, got -1"),
        ({"size": 0}, "size: expected a positive integer, got 0"),
        ({"budget_seconds": 0}, "budget_seconds: expected a positive number, got 0"),
        ({"max_rounds": 2, "min_rounds": 3}, "max_rounds: expected at least min_rounds (3), got 2"),
    ],
)
def test_settings_are_checked_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, settings: dict[str, Any], message: str
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(ValueError) as raised:
        tsnative.bench(TinyConvNet(), out=tmp_path / "out", progress=False, **settings)
    assert str(raised.value) == message
    assert not list(tmp_path.iterdir())
