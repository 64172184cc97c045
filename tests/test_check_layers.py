"""scripts/check_layers.py: the real tree passes; a copy of cpp/ with one planted violation per rule fails on it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "check_layers.py"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60)


def test_the_tree_passes() -> None:
    result = run()
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("check_layers: ") and "no violations" in result.stdout


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for folder in ("src", "include", "bindings", "tools", "tests"):
        shutil.copytree(ROOT / "cpp" / folder, tmp_path / "cpp" / folder)
    return tmp_path


def test_the_copy_passes(tree: Path) -> None:
    result = run("--root", str(tree))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("file", "include", "expected"),
    [
        # (a) no ../ into the core
        (
            "cpp/bindings/bind_errors.cpp",
            '"../src/common/error_text.h"',
            "bindings/ includes ../src/common/error_text.h",
        ),
        ("cpp/tools/ts_infer/main.cpp", '"../../src/format/dtypes.h"', "tools/ includes ../../src/format/dtypes.h"),
        ("cpp/src/engine/engine.cpp", '"../format/dtypes.h"', "engine/ includes ../format/dtypes.h"),
        # (b) lower layers include no backend's folder; backends/backend.h only from engine/ and backends/
        (
            "cpp/src/format/metadata.cpp",
            '"backends/aoti/call_spec.h"',
            "format/ includes backends/aoti/call_spec.h (format/ must not include backends/)",
        ),
        ("cpp/src/engine/engine.cpp", '"backends/torchscript/optimize.h"', "engine/ must not include backends/"),
        ("cpp/src/batching/batcher.cpp", '"backends/backend.h"', "batching/ includes backends/backend.h"),
        ("cpp/bindings/bind_engine.cpp", '"backends/backend.h"', "only from engine/ and backends/"),
        # (c) no torch in format/ and file/ beyond the named exceptions
        ("cpp/src/format/metadata.cpp", "<ATen/Tensor.h>", "format/ includes <ATen/Tensor.h>"),
        ("cpp/src/file/sha256.cpp", "<c10/core/Device.h>", "file/ must not include torch headers"),
        ("cpp/src/format/npy.cpp", "<ATen/core/Tensor.h>", "format/ includes <ATen/core/Tensor.h>"),
        # (d) TorchScript only in its backend, train/, python_values.cpp
        (
            "cpp/src/engine/engine.cpp",
            "<torch/csrc/jit/api/module.h>",
            "engine/ includes <torch/csrc/jit/api/module.h>",
        ),
        ("cpp/src/backends/aoti/call_spec.cpp", "<torch/csrc/jit/ir/ir.h>", "backends/aoti/ includes"),
        ("cpp/bindings/bind_predict.cpp", "<torch/csrc/jit/api/module.h>", "bindings/ includes"),
        ("cpp/tools/ts_infer/main.cpp", "<torch/csrc/jit/api/module.h>", "only backends/torchscript/"),
    ],
)
def test_a_planted_violation_fails(tree: Path, file: str, include: str, expected: str) -> None:
    path = tree / file
    lines = path.read_text().count("\n")
    with path.open("a") as out:
        out.write(f"#include {include}\n")
    result = run("--root", str(tree))
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stdout.splitlines() == [line for line in result.stdout.splitlines() if line.startswith(file)]
    assert f"{file}:{lines + 1}: " in result.stdout
    assert expected in result.stdout


@pytest.mark.parametrize(
    ("file", "include"),
    [
        ("cpp/tools/ts_train/main.cpp", '"../common/option_flags.h"'),  # a tools/ header, not the core
        ("cpp/src/engine/engine.cpp", '"backends/backend.h"'),
        ("cpp/src/backends/aoti/aoti_backend.cpp", '"backends/backend.h"'),
        ("cpp/src/backends/torchscript/optimize.cpp", "<torch/csrc/jit/ir/ir.h>"),
        ("cpp/src/train/finetune.cpp", "<torch/csrc/jit/ir/ir.h>"),
        ("cpp/bindings/python_values.cpp", "<torch/csrc/jit/ir/ir.h>"),
        ("cpp/bindings/bind_metadata.cpp", '"backends/aoti/cpu_isa.h"'),
    ],
)
def test_what_the_layering_allows_passes(tree: Path, file: str, include: str) -> None:
    with (tree / file).open("a") as out:
        out.write(f"#include {include}\n")
    result = run("--root", str(tree))
    assert result.returncode == 0, result.stdout + result.stderr


def test_a_missing_root_is_an_error(tmp_path: Path) -> None:
    assert run("--root", str(tmp_path)).returncode == 2
