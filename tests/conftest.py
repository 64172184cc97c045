"""Fixtures: tiny models exported into tmp_path (no .pt file is committed), and the Python reference runner."""

from __future__ import annotations

import subprocess
import time
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import torch

if TYPE_CHECKING:
    import tsnative

warnings.filterwarnings("ignore", message=r"`torch\.jit\.\w+` is deprecated", category=FutureWarning)


def save_scripted(module: torch.nn.Module, path: Path) -> Path:
    torch.jit.script(module.eval()).save(str(path))
    return path


def save_traced(module: torch.nn.Module, example: Any, path: Path) -> Path:
    with torch.no_grad():
        torch.jit.trace(module.eval(), example).save(str(path))
    return path


def python_reference(path: Path) -> Callable[..., Any]:
    """The file run by Python TorchScript, as a user would: torch.jit.load then call."""
    module = torch.jit.load(str(path))

    def run(*args: Any, **kwargs: Any) -> Any:
        with torch.inference_mode():
            return module(*args, **kwargs)

    return run


class ControlFlow(torch.nn.Module):
    """The seed's control-flow module: the branch taken depends on the data, so only scripting keeps both."""

    def __init__(self, n: int = 4) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.rand(n, n))

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        if input.sum() > 0:
            return self.weight.mv(input)
        return self.weight + input


class Recurrent(torch.nn.Module):
    """Takes (x, h) and returns (new_h, new_h), like the seed's RNN cell."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(4, 4)

    def forward(self, x: torch.Tensor, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        new_h = torch.tanh(self.linear(x) + h)
        return new_h, new_h


class DictAndList(torch.nn.Module):
    """Dict and list inputs and outputs."""

    def forward(
        self, features: dict[str, torch.Tensor], weights: list[torch.Tensor]
    ) -> tuple[dict[str, torch.Tensor], list[torch.Tensor]]:
        total = features["a"] * weights[0] + features["b"] * weights[1]
        return {"total": total, "a": features["a"]}, [total.sum(), total.mean()]


@pytest.fixture(scope="session")
def resnet18_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """ResNet-18 with random weights (nothing downloads), exported by trace and by script."""
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    folder = tmp_path_factory.mktemp("resnet18")
    return {
        "trace": save_traced(model, torch.randn(1, 3, 224, 224), folder / "r18_trace.pt"),
        "script": save_scripted(model, folder / "r18_script.pt"),
    }


@pytest.fixture
def recurrent_file(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    return save_scripted(Recurrent(), tmp_path / "recurrent.pt")


class SmallConvNet(torch.nn.Module):
    """conv-bn-relu twice, pooling, a linear head: what freezing folds and oneDNN fuses; one more method."""

    def __init__(self) -> None:
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(3, 8, 3, padding=1),
            torch.nn.BatchNorm2d(8),
            torch.nn.ReLU(),
            torch.nn.Conv2d(8, 16, 3, padding=1),
            torch.nn.BatchNorm2d(16),
            torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d(1),
        )
        self.fc = torch.nn.Linear(16, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).flatten(1))

    @torch.jit.export
    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x).flatten(1)


def small_conv_net() -> SmallConvNet:
    """SmallConvNet with seed 0 and non-trivial batchnorm statistics, so folding them is actually checked."""
    torch.manual_seed(0)
    net = SmallConvNet().eval()
    with torch.no_grad():
        for layer in net.features:
            if isinstance(layer, torch.nn.BatchNorm2d):
                layer.running_mean.uniform_(-0.5, 0.5)
                layer.running_var.uniform_(0.5, 2.0)
    return net


@pytest.fixture(scope="session")
def conv_model() -> SmallConvNet:
    return small_conv_net()


@pytest.fixture(scope="session")
def conv_files(conv_model: SmallConvNet, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """SmallConvNet saved by script, by trace, and by tsnative.export (frozen, with metadata)."""
    import tsnative

    folder = tmp_path_factory.mktemp("small_conv")
    example = torch.randn(2, 3, 16, 16)
    return {
        "script": save_scripted(conv_model, folder / "script.pt"),
        "trace": save_traced(conv_model, example, folder / "trace.pt"),
        "exported": tsnative.export(conv_model, example, folder / "exported.pt").path,
    }


def tool(name: str) -> str:
    """A C++ tool's path; fails the test when it is not installed."""
    from tsnative._tools import find_tool

    found = find_tool(name)
    assert found, f"{name} is not installed beside this Python (make build installs it into .venv/bin)"
    return found


def run_tool(name: str, *args: str | Path, **options: Any) -> subprocess.CompletedProcess[str]:
    """Runs a C++ tool with text output captured (subprocess.run `options` on top, e.g. check=True)."""
    settings: dict[str, Any] = {"capture_output": True, "text": True, "timeout": 300} | options
    return subprocess.run([tool(name), *map(str, args)], **settings)


# --- Dynamic batching: batches made deterministic without timing (tests/test_batching.py) ---------------------------


def batching(engine: tsnative.Engine) -> dict[str, Any]:
    report: dict[str, Any] = engine.load_report["batching"]
    return report


def wait_for(condition: Callable[[], bool]) -> None:
    """Waits for the engine's state to change; the deadline only turns a hang into a failure."""
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, "the engine's batching state did not change within a minute"
        time.sleep(0.001)


def submit_in_order(
    pool: ThreadPoolExecutor, engine: tsnative.Engine, calls: Sequence[tuple[Any, ...]]
) -> list[Future[Any]]:
    """Each call on its own thread, the next submitted once the engine has taken this one (queued or refused)."""
    futures = []
    for args in calls:
        before = batching(engine)["calls"]
        future = pool.submit(engine.predict, *args)
        futures.append(future)
        wait_for(lambda: future.done() or batching(engine)["calls"] > before)  # noqa: B023 (used at once)
    return futures


def outputs_in_order(engine: tsnative.Engine, calls: Sequence[tuple[Any, ...]]) -> list[Any]:
    """Every call on a thread of its own (see submit_in_order), then their results, in the calls' order."""
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return [future.result() for future in submit_in_order(pool, engine, calls)]
