"""`tsnative info` and `tsnative triton` on metadata the C++ reader accepts but tsnative.export did not write: down
to its minimum (cpp/src/format/metadata.cpp requires "format" and "inputs", each input a "name" and a "type", a tensor's
"dtype" and "shape", a container's "items"), they print what is there and never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

import tsnative
from tsnative.cli import main

MINIMAL: dict[str, Any] = {"format": "tsnative.metadata/1", "inputs": []}
TENSOR_INPUT = {"name": "x", "type": "Tensor", "dtype": "float32", "shape": [-1, 4]}
TENSOR_OUTPUT = {"type": "Tensor", "dtype": "float32", "shape": [-1, 2]}


def crafted_file(path: Path, metadata: dict[str, Any]) -> Path:
    """A scripted Linear(4, 2) whose tsnative.json is `metadata` as given."""
    module = torch.jit.script(torch.nn.Linear(4, 2).eval())
    torch.jit.save(module, str(path), _extra_files={"tsnative.json": json.dumps(metadata)})
    assert json.loads(tsnative._C.read_metadata(str(path))) == metadata  # accepted by the C++ reader as it is
    return path


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tsnative.cli", *map(str, args)], capture_output=True, text=True, timeout=300
    )


def test_minimal_metadata_info_and_triton_as_commands(tmp_path: Path) -> None:
    path = crafted_file(tmp_path / "minimal.pt", MINIMAL)
    info = cli("info", path)
    assert info.returncode == 0, info.stderr
    assert "Traceback" not in info.stdout + info.stderr
    assert "parameters  10" in info.stdout  # Linear(4, 2): not recorded, so counted from the file
    assert info.stdout.splitlines()[-1] == "input       none"  # and nothing after: nothing else is recorded

    # Triton needs each output's dtype and shape, which only the metadata has: one line saying so.
    triton = cli("triton", path, "--repo", tmp_path / "models")
    assert triton.returncode == 1
    assert "Traceback" not in triton.stdout + triton.stderr
    assert triton.stderr.strip().splitlines() == [
        'tsnative triton: error: outputs: expected the recorded outputs (an object with "type"), got none: '
        "export the model with tsnative.export to record them"
    ]
    assert not (tmp_path / "models").exists()

    with_outputs = crafted_file(tmp_path / "io.pt", MINIMAL | {"inputs": [TENSOR_INPUT], "outputs": TENSOR_OUTPUT})
    written = cli("triton", with_outputs, "--repo", tmp_path / "models")
    assert written.returncode == 0, written.stderr
    assert "Traceback" not in written.stdout + written.stderr
    config = text_format.Parse(
        (tmp_path / "models" / "io" / "config.pbtxt").read_text(), model_config_pb2.ModelConfig()
    )
    # No dynamic_batch recorded: nothing says the -1 is a verified batch, so requests go to the model whole.
    assert config.max_batch_size == 0 and [list(i.dims) for i in config.input] == [[-1, 4]]
    assert [list(o.dims) for o in config.output] == [[-1, 2]]


# Each variant (on top of MINIMAL) and a line `tsnative info` prints for it.
VARIANTS: dict[str, tuple[dict[str, Any], str]] = {
    "tensor input": ({"inputs": [TENSOR_INPUT]}, "input       x: float32 [N, 4]"),
    "nested input without names": (
        {"inputs": [{"name": "x", "type": "tuple", "items": [{"type": "Tensor", "dtype": "int64", "shape": []}]}]},
        "input       x: tuple[int64 []]",
    ),
    "unknown input type": ({"inputs": [{"name": "x", "type": "Future"}]}, "input       x: Future"),
    "outputs only": ({"inputs": [TENSOR_INPUT], "outputs": TENSOR_OUTPUT}, "output      float32 [N, 2]"),
    "output without dtype or shape": ({"inputs": [TENSOR_INPUT], "outputs": {"type": "Tensor"}}, "output      Tensor"),
    "output not an object": ({"inputs": [TENSOR_INPUT], "outputs": "logits"}, 'output      "logits"'),
    "tuple output of odd items": (
        {"inputs": [TENSOR_INPUT], "outputs": {"type": "tuple", "items": [1, {}]}},
        "output      tuple[1, {}]",
    ),
    "export fields of other types": (
        {
            "inputs": [TENSOR_INPUT],
            "parameters": "many",
            "optimizations": "freeze",
            "export_mode": 3,
            "model": ["Linear"],
            "dynamic_batch": "yes",
        },
        'model       ["Linear"]',
    ),
    "partial verification": ({"inputs": [TENSOR_INPUT], "verification": {"passed": True}}, "verified    passed"),
    "verification not an object": ({"inputs": [TENSOR_INPUT], "verification": "passed"}, 'verified    "passed"'),
    "partial fine-tuning": (
        {"inputs": [TENSOR_INPUT], "finetune": {"settings": {"classes": 3}}},
        "fine-tuned  3 classes",
    ),
    "created without versions": (
        {"inputs": [TENSOR_INPUT], "created": "2026-01-01T00:00:00+00:00"},
        "created     2026-01-01T00:00:00+00:00",
    ),
    "batch without dynamic_batch": ({"inputs": [TENSOR_INPUT], "batch": "fixed at 2"}, "batch       fixed at 2"),
}


@pytest.mark.parametrize(("extra", "line"), VARIANTS.values(), ids=VARIANTS.keys())
def test_info_prints_what_is_there(
    tmp_path: Path, extra: dict[str, Any], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = crafted_file(tmp_path / "m.pt", MINIMAL | extra)
    assert main(["info", str(path)]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    assert out.startswith("file        ") and "schema      forward(" in out
    assert line in out.splitlines() or any(printed.startswith(line) for printed in out.splitlines()), out


@pytest.mark.parametrize(("extra", "line"), VARIANTS.values(), ids=VARIANTS.keys())
def test_triton_writes_or_refuses_in_one_line(
    tmp_path: Path, extra: dict[str, Any], line: str, capsys: pytest.CaptureFixture[str]
) -> None:
    path = crafted_file(tmp_path / "m.pt", MINIMAL | extra)
    status = main(["triton", str(path), "--repo", str(tmp_path / "models")])
    out, err = capsys.readouterr()
    # A configuration needs each output's dtype and shape: only the variant recording them gets one.
    if extra.get("outputs") == TENSOR_OUTPUT:
        assert status == 0 and err == ""
        config = (tmp_path / "models" / "m" / "config.pbtxt").read_text()
        text_format.Parse(config, model_config_pb2.ModelConfig())
        assert config in out
    else:
        assert status == 1 and err.startswith("tsnative triton: error: ") and len(err.strip().splitlines()) == 1
        assert not (tmp_path / "models").exists()
