"""The benchmark scripts leave the tracked results (benchmarks/results/) alone unless OUT says to replace them.

Each script runs in a copy of the repository layout whose .venv/bin holds stand-ins that record their arguments,
so the test checks where the scripts write, not the measurements (which take minutes)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Every tool a script calls: records its arguments, writes "{}" where the script redirects stdout (JSON histories).
STAND_IN = """#!/usr/bin/env bash
echo "$(basename "$0") $*" >>"$(dirname "$0")/calls.log"
echo "{}"
"""


def fake_repository(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "benchmarks").mkdir(parents=True)
    for script in ("study.sh", "finetune.sh"):
        shutil.copy(ROOT / "benchmarks" / script, repo / "benchmarks" / script)
    tools = repo / ".venv" / "bin"
    tools.mkdir(parents=True)
    for tool in ("python", "tsnative", "ts-train"):
        (tools / tool).write_text(STAND_IN)
        (tools / tool).chmod(0o755)
    for tracked in ("resnet18/results.json", "finetune/cpp_head_1.json", "finetune/summary.md"):
        (repo / "benchmarks" / "results" / tracked).parent.mkdir(parents=True, exist_ok=True)
        (repo / "benchmarks" / "results" / tracked).write_text("tracked")
    return repo


def tracked_files(repo: Path) -> dict[str, str]:
    return {
        str(p.relative_to(repo)): p.read_text()
        for p in sorted((repo / "benchmarks" / "results").rglob("*"))
        if p.is_file()
    }


@pytest.mark.parametrize(
    ("script", "default_out"), [("study.sh", "artifacts/study/resnet18"), ("finetune.sh", "artifacts/finetune/results")]
)
def test_scripts_write_to_an_untracked_folder_by_default(tmp_path: Path, script: str, default_out: str) -> None:
    repo = fake_repository(tmp_path)
    before = tracked_files(repo)
    env = {key: value for key, value in os.environ.items() if key != "OUT"}
    result = subprocess.run(
        ["bash", str(repo / "benchmarks" / script)], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert tracked_files(repo) == before  # nothing overwritten or deleted
    calls = (repo / ".venv" / "bin" / "calls.log").read_text()
    if script == "study.sh":
        assert f"--out {default_out}" in calls
    else:
        assert (repo / default_out / "cpp_head_1.json").exists() and (repo / default_out / "summary.md").exists()
        assert "benchmarks/results" not in calls


def test_out_replaces_the_tracked_results_when_asked(tmp_path: Path) -> None:
    repo = fake_repository(tmp_path)
    env = {**os.environ, "OUT": "benchmarks/results/finetune"}
    result = subprocess.run(
        ["bash", str(repo / "benchmarks" / "finetune.sh")], capture_output=True, text=True, env=env, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert (repo / "benchmarks/results/finetune/cpp_head_1.json").read_text() == "{}\n"
