"""Trial loads in a child process: a file that exhausts memory, loops or crashes costs only that process."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest
import torch

import tsnative
from conftest import save_scripted
from tsnative.isolation import _failure


class LoadTimeCode(torch.nn.Module):
    """A module whose __setstate__ (run by the loader, before any forward) allocates and may spin forever."""

    def __init__(self, elements: int, spin: bool) -> None:
        super().__init__()
        self.elements = elements
        self.spin = spin

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 2

    @torch.jit.export
    def __getstate__(self) -> tuple[int, bool, bool]:
        return (self.elements, self.spin, self.training)

    @torch.jit.export
    def __setstate__(self, state: tuple[int, bool, bool]) -> None:
        self.elements, self.spin, self.training = state
        self.elements = int(torch.ones(self.elements).sum().item())
        i = 0
        while self.spin and i >= 0:
            i += 1


@pytest.fixture(scope="module")
def load_time_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("isolation")
    return {
        "fine": save_scripted(LoadTimeCode(4, spin=False), folder / "fine.pt"),
        "hog": save_scripted(LoadTimeCode(1 << 29, spin=False), folder / "hog.pt"),  # 2 GiB at load time
        "spin": save_scripted(LoadTimeCode(4, spin=True), folder / "spin.pt"),
    }


def test_a_good_file_passes_and_is_loaded_pinned(load_time_files: dict[str, Path]) -> None:
    path = load_time_files["fine"]
    trial = tsnative.trial_load(path)
    assert trial.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert trial.load_seconds > 0 and trial.peak_rss_bytes > 0
    engine = tsnative.Engine(path, isolate=True)
    torch.testing.assert_close(engine.predict(torch.ones(3)), torch.full((3,), 2.0))


def test_memory_exhaustion_at_load_is_contained(load_time_files: dict[str, Path]) -> None:
    limits = tsnative.Isolation(memory_limit_bytes=2 << 30)
    with pytest.raises(tsnative.ModelLoadError, match=r"isolated trial load ran out of its 2 GiB memory limit"):
        tsnative.trial_load(load_time_files["hog"], limits)
    with pytest.raises(tsnative.ModelLoadError, match=r"ran out of its 2 GiB memory limit"):
        tsnative.Engine(load_time_files["hog"], isolate=limits)


def test_a_load_that_never_ends_is_killed(load_time_files: dict[str, Path]) -> None:
    with pytest.raises(tsnative.ModelLoadError, match=r"did not finish within 4 s \(killed\)"):
        tsnative.trial_load(load_time_files["spin"], tsnative.Isolation(timeout_s=4))


def test_refusals_and_limits_too_small_to_start(load_time_files: dict[str, Path], tmp_path: Path) -> None:
    crafted = tmp_path / "crafted.pt"
    crafted.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(tsnative.ModelLoadError, match=r"truncated or corrupt zip archive"):
        tsnative.Engine(crafted, isolate=True)
    with pytest.raises(FileNotFoundError):
        tsnative.trial_load(tmp_path / "missing.pt")
    with pytest.raises(tsnative.ModelLoadError, match=r"could not start .*importing torch needs about 1 GiB"):
        tsnative.trial_load(load_time_files["fine"], tsnative.Isolation(memory_limit_bytes=300 << 20))
    with pytest.raises(ValueError, match=r"'predict' is not a method"):
        tsnative.trial_load(load_time_files["fine"], method="predict")


def test_a_child_killed_by_a_signal_is_named() -> None:
    dead = subprocess.CompletedProcess(args=[], returncode=-11, stdout="tsnative-trial-ready\n", stderr="")
    error = _failure("m.pt", dead, None, tsnative.Isolation(), 0.5)
    assert isinstance(error, tsnative.ModelLoadError)
    assert error.reason == "the isolated trial load crashed (SIGSEGV) after 0.5 s"
