"""The isolated trial load's child sets its own limits: no preexec_fn (Python code between fork and exec, which
can deadlock in a threaded parent)."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import torch

import tsnative
from conftest import save_scripted


def test_trial_load_sets_limits_in_the_child_not_by_preexec_fn(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    real_run = subprocess.run

    def recording_run(*args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs)
        return real_run(*args, **kwargs)

    monkeypatch.setattr(subprocess, "run", recording_run)
    path = save_scripted(torch.nn.Linear(2, 2), tmp_path / "lin.pt")
    trial = tsnative.trial_load(path, tsnative.Isolation(memory_limit_bytes=3 << 30))
    assert trial.load_seconds > 0
    assert calls and "preexec_fn" not in calls[0]


def test_the_child_limits_itself_before_importing_torch(tmp_path: Path) -> None:
    """Too little memory to import torch: the child, which set the limit itself, cannot start."""
    path = save_scripted(torch.nn.Linear(2, 2), tmp_path / "lin.pt")
    with pytest.raises(tsnative.ModelLoadError, match=r"could not start"):
        tsnative.trial_load(path, tsnative.Isolation(memory_limit_bytes=200 << 20))
