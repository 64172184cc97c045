"""Trial loads of untrusted files in a child process with memory and time limits.

A TorchScript file is a program: LibTorch's loader runs its ``__setstate__`` methods and has no safe mode, and
the archive and pickle checks tsnative makes before loading catch known malformed files, not every hostile one.
A trial load in a separate process lets such a file exhaust memory, loop or crash only that process. The caller
then loads the same bytes (pinned by SHA-256) in-process.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .errors import model_load_error

__all__ = ["Isolation", "TrialLoad", "trial_load"]

# Importing torch (a CUDA wheel) maps about 1 GB of private memory before any model is read: a lower limit
# kills the child while it starts, which is reported as such.
_TORCH_IMPORT_BYTES = 1 << 30
READY_LINE = "tsnative-trial-ready"  # the child prints it once torch is imported


@dataclass(frozen=True)
class Isolation:
    """Limits of a trial load: private memory of the child process (``RLIMIT_DATA``, which includes the ~1 GB
    importing torch takes) and wall time, loading included."""

    memory_limit_bytes: int = 4 << 30
    timeout_s: float = 60.0


@dataclass(frozen=True)
class TrialLoad:
    """A file that loaded in the child: its SHA-256 (pin it for the real load), the child's load time and the
    child's peak resident memory."""

    path: str
    sha256: str
    load_seconds: float
    peak_rss_bytes: int


def trial_load(
    path: str | os.PathLike[str], isolation: Isolation | None = None, *, method: str = "forward"
) -> TrialLoad:
    """Loads ``path`` with :class:`tsnative.Engine` on the CPU in a child process under ``isolation``'s limits.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        tsnative.ModelLoadError: the child refused the file (the core's reason), ran out of memory, ran past the
            time limit, or died (the signal is named).
    """
    limits = isolation or Isolation()
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(2, "No such file or directory", path)
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    sha256 = digest.hexdigest()
    request = json.dumps(
        {
            "path": path,
            "sha256": sha256,
            "method": method,
            "memory_limit_bytes": limits.memory_limit_bytes,
            # The child runs as a script (not `-m tsnative._trial_child`, which would import tsnative and torch
            # before its limits apply); it imports the same tsnative as this process from here.
            "package_parent": str(Path(__file__).resolve().parent.parent),
        }
    )
    started = time.perf_counter()
    try:
        # No preexec_fn: it runs Python between fork and exec, which can deadlock in a threaded parent (Python's
        # documentation warns against it). The child sets its own limits before importing anything large.
        child = subprocess.run(
            [sys.executable, str(Path(__file__).with_name("_trial_child.py")), request],
            capture_output=True,
            text=True,
            timeout=limits.timeout_s,
        )
    except subprocess.TimeoutExpired:
        raise model_load_error(
            path, f"the isolated trial load did not finish within {limits.timeout_s:g} s (killed)"
        ) from None
    outcome = _last_json_line(child.stdout)
    if child.returncode == 0 and outcome and outcome.get("ok"):
        return TrialLoad(path, sha256, outcome["load_seconds"], outcome["peak_rss_bytes"])
    raise _failure(path, child, outcome, limits, time.perf_counter() - started)


def _last_json_line(stdout: str) -> dict | None:
    for line in reversed(stdout.splitlines()):
        if line.startswith("{"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                return None
    return None


def _failure(
    path: str, child: subprocess.CompletedProcess[str], outcome: dict | None, limits: Isolation, seconds: float
) -> Exception:
    limit = f"{limits.memory_limit_bytes / 2**30:g} GiB"
    if outcome and outcome.get("error") == "FileNotFoundError":
        return FileNotFoundError(2, "No such file or directory", path)
    if outcome and outcome.get("error") == "ValueError":
        return ValueError(outcome["message"])
    if outcome and outcome.get("out_of_memory"):
        return model_load_error(path, f"the isolated trial load ran out of its {limit} memory limit")
    if outcome and "reason" in outcome:
        return model_load_error(path, outcome["reason"])
    if READY_LINE not in child.stdout:
        return model_load_error(
            path,
            f"the isolated process could not start (status {child.returncode}); importing torch needs about "
            f"{_TORCH_IMPORT_BYTES / 2**30:g} GiB of the {limit} memory limit",
        )
    if child.returncode < 0:
        name = signal.Signals(-child.returncode).name
        return model_load_error(path, f"the isolated trial load crashed ({name}) after {seconds:.1f} s")
    detail = (child.stderr.strip().splitlines() or ["no message"])[-1]
    return model_load_error(path, f"the isolated trial load failed (status {child.returncode}: {detail})")
