"""make system-deps (scripts/system_deps.sh) without root: CMake is asked first, apt-get is only a fallback, and a
user without apt or root is told what to do instead of meeting sudo.

The script runs in a copy of the repository layout with a stand-in cmake that reports the libraries listed in
$MISSING as not found, and a PATH without apt-get, so nothing is installed."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FAKE_CMAKE = """#!/usr/bin/env bash
echo "cmake $*" >>"$(dirname "$0")/calls.log"
while [ $# -gt 0 ]; do [ "$1" = -B ] && dir=$2; shift; done
printf '%b' "${MISSING:-}" >"$dir/missing.txt"
"""
TOOLS = ("bash", "cat", "awk", "tr", "mktemp", "rm", "tail", "mkdir", "id", "printf", "dirname")


def run_script(tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], Path]:
    repo = tmp_path / "repo"
    if not repo.exists():
        (repo / "scripts").mkdir(parents=True)
        shutil.copy(ROOT / "scripts" / "system_deps.sh", repo / "scripts")
        shutil.copytree(ROOT / "cmake" / "probe_system_deps", repo / "cmake" / "probe_system_deps")
        (repo / ".venv" / "bin").mkdir(parents=True)
        (repo / ".venv" / "bin" / "cmake").write_text(FAKE_CMAKE)
        (repo / ".venv" / "bin" / "cmake").chmod(0o755)
        bin_dir = tmp_path / "bin"  # the PATH: basic tools, no apt-get, no sudo
        bin_dir.mkdir()
        for tool in TOOLS:
            found = shutil.which(tool)
            assert found, tool
            (bin_dir / tool).symlink_to(found)
    settings = {"PATH": str(tmp_path / "bin"), "TMPDIR": str(tmp_path), **env}
    result = subprocess.run(
        ["bash", "scripts/system_deps.sh"], cwd=repo, capture_output=True, text=True, env=settings, timeout=60
    )
    return result, repo


def test_found_libraries_need_no_apt_and_are_probed_once(tmp_path: Path) -> None:
    result, repo = run_script(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    again, _ = run_script(tmp_path)
    assert again.returncode == 0, again.stderr
    assert len((repo / ".venv/bin/calls.log").read_text().splitlines()) == 1  # remembered in build/
    with_prefix, _ = run_script(tmp_path, CMAKE_PREFIX_PATH="/opt/deps")  # another prefix: probed again
    assert with_prefix.returncode == 0
    assert len((repo / ".venv/bin/calls.log").read_text().splitlines()) == 2
    assert not list(tmp_path.glob("tsnative-probe.*"))  # the probe's folder is removed


def test_missing_libraries_without_apt_say_what_to_do(tmp_path: Path) -> None:
    result, repo = run_script(tmp_path, MISSING="CLI11 libcli11-dev\\nGTest libgtest-dev\\n")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("make: CMake cannot find CLI11 GTest: install them with your package manager ")
    assert "(Debian/Ubuntu: libcli11-dev libgtest-dev)" in lines[0]
    assert "CMAKE_PREFIX_PATH=" in lines[0] and "TSNATIVE_SYSTEM_DEPS=skip" in lines[0]
    assert not (repo / "build" / "system-deps.found").exists()


def test_skip_and_a_wrong_mode(tmp_path: Path) -> None:
    skipped, repo = run_script(tmp_path, TSNATIVE_SYSTEM_DEPS="skip", MISSING="CLI11 libcli11-dev\\n")
    assert skipped.returncode == 0 and skipped.stderr == ""
    assert not (repo / ".venv/bin/calls.log").exists()  # not even probed
    wrong, _ = run_script(tmp_path, TSNATIVE_SYSTEM_DEPS="no")
    assert wrong.returncode == 2
    assert wrong.stderr.strip() == "make: TSNATIVE_SYSTEM_DEPS: expected auto or skip, got 'no'"
