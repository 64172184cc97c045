"""The command lines as a careless user types them: versions, bad numbers, unwritable outputs, a closed pipe,
JSON on stdout alone. Each failure is an exit status of 1 or 2 and one line on stderr, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_tool

TSNATIVE = [sys.executable, "-m", "tsnative.cli"]


def tsnative(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*TSNATIVE, *map(str, args)], capture_output=True, text=True, timeout=300)


def one_error_line(stderr: str) -> str:
    # argparse's usage block (a "usage:" line and its indented continuation lines) comes before the error line.
    lines = [line for line in stderr.strip().splitlines() if line.strip() and not line.startswith(("usage:", " "))]
    assert len(lines) == 1, f"expected one error line, got:\n{stderr}"
    assert "Traceback" not in stderr and "frame #" not in stderr
    return lines[0]


@pytest.mark.parametrize("tool", ["tsnative", "ts-infer", "ts-train"])
def test_every_tool_says_its_version(tool: str) -> None:
    result = tsnative("--version") if tool == "tsnative" else run_tool(tool, "--version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{tool} 0.1.0"


@pytest.mark.parametrize(
    ("option", "value"), [("--batch", "0"), ("--batch", "-1"), ("--size", "-5"), ("--classes", "x")]
)
def test_export_refuses_counts_that_are_not_positive(tmp_path: Path, option: str, value: str) -> None:
    result = tsnative("export", "resnet18", tmp_path / "r.pt", option, value)
    assert result.returncode == 2
    line = one_error_line(result.stderr)
    assert f"argument {option}: expected a positive integer, got" in line
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("where", ["missing folder", "a folder"])
def test_export_refuses_an_unwritable_destination_before_exporting(tmp_path: Path, where: str) -> None:
    out = tmp_path / "no_such_folder" / "r.pt" if where == "missing folder" else tmp_path
    result = tsnative("export", "resnet18", out, "--size", "32")
    assert result.returncode == 1
    assert "cannot write" in one_error_line(result.stderr)
    assert not list(tmp_path.rglob("*.unverified"))


def test_info_into_a_closed_pipe_is_not_an_error(conv_files: dict[str, Path]) -> None:
    command = " ".join([*TSNATIVE, "info", str(conv_files["exported"])])
    result = subprocess.run(
        ["bash", "-c", f"set -o pipefail; {command} | head -1"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("file ")
    assert "BrokenPipe" not in result.stderr and "Traceback" not in result.stderr


def test_info_on_a_file_that_is_not_a_model(tmp_path: Path) -> None:
    path = tmp_path / "notes.pt"
    path.write_text("not a model")
    result = tsnative("info", path)
    assert result.returncode == 1
    assert "not a zip archive" in one_error_line(result.stderr)
