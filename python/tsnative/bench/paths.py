"""The ways of running one model that the study compares, behind one small interface.

Every path takes the same CPU input tensor and returns a CPU output, so transfers to and from a GPU are part of
every path alike (what a caller holding CPU data pays).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from .._export.torchscript import torchscript_calls
from ..engine import Engine

SHORT_LABELS = {
    "eager": "eager",
    "torchscript": "TorchScript",
    "native": "Engine (Py)",
    "native_cpp": "C++ loop",
    "onnxruntime": "ONNX Runtime",
    "aoti_python": "AOTI (Py)",
    "aoti_native": "AOTI Engine",
}

LABELS = {
    "eager": "Python eager",
    "torchscript": "Python TorchScript",
    "native": "tsnative.Engine (Python)",
    "native_cpp": "C++ loop (tsnative core)",
    "onnxruntime": "ONNX Runtime (CPU)",
    "aoti_python": "AOTInductor (Python)",
    "aoti_native": "AOTInductor (native)",
}


@dataclasses.dataclass
class MeasuredPath:
    name: str  # a key of LABELS
    artifact: Path  # the file it loads (for sizes and cold loads)
    load: Callable[[], None]  # (re)loads the artifact; the loaded state stays inside the path
    run_timed: Callable[[torch.Tensor, int], list[float]]  # `count` runs, milliseconds each
    timed_first_run: Callable[[torch.Tensor], float] | None = None  # when the first run is timed elsewhere

    @property
    def label(self) -> str:
        return LABELS[self.name]

    def first_run_ms(self, x: torch.Tensor) -> float:
        """The first run after load(): includes the executor's one-off graph optimisation."""
        return self.timed_first_run(x) if self.timed_first_run else self.run_timed(x, 1)[0]


def timed_in_python(call: Callable[[torch.Tensor], Any]) -> Callable[[torch.Tensor, int], list[float]]:
    """`call` timed call by call from Python: run(x, count) gives each call's milliseconds."""

    def run(x: torch.Tensor, count: int) -> list[float]:
        samples = []
        for _ in range(count):
            start = time.perf_counter()
            call(x)  # every call returns a CPU tensor: on CUDA the copy back synchronises the device
            samples.append((time.perf_counter() - start) * 1e3)
        return samples

    return run


# Loaders, shared with the cold-load subprocess (cold_load.py) so both measure the same work.
def load_eager(file: Path, device: str) -> torch.nn.Module:
    return torch.load(file, weights_only=False).eval().to(device)


def load_torchscript(file: Path, device: str) -> torch.jit.ScriptModule:
    with torchscript_calls():
        return torch.jit.load(str(file), map_location=device)


def load_aoti_package(file: Path) -> Any:
    """The package as Python runs it (torch._inductor.aoti_load_package: the same loader the engine holds)."""
    return torch._inductor.aoti_load_package(str(file))


def load_onnx_session(file: Path, threads: int, profile_prefix: Path | None = None) -> Any:
    """An ONNX Runtime CPU session set up as every benchmark measures it; with `profile_prefix`, its session
    profiler records each node's time to a JSON file there (InferenceSession.end_profiling() names it)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads  # the same thread count as torch's intra-op pool
    options.inter_op_num_threads = 1
    # Idle ORT threads spin by default, stealing the cores from the path measured next in the round.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if profile_prefix is not None:
        options.enable_profiling = True
        options.profile_file_prefix = str(profile_prefix)
    return onnxruntime.InferenceSession(str(file), options, providers=["CPUExecutionProvider"])


def _python_module_path(name: str, file: Path, device: str, loader: Callable[[Path, str], Any]) -> MeasuredPath:
    """Eager and TorchScript alike: load a callable module, call it under inference mode, output to the CPU."""
    state: dict[str, Any] = {}

    def load() -> None:
        state["module"] = loader(file, device)

    def call(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return state["module"](x.to(device)).cpu()

    return MeasuredPath(name, file, load, timed_in_python(call))


def eager_path(module_file: Path, device: str) -> MeasuredPath:
    return _python_module_path("eager", module_file, device, load_eager)


def torchscript_path(file: Path, device: str) -> MeasuredPath:
    return _python_module_path("torchscript", file, device, load_torchscript)


def native_path(file: Path, device: str) -> MeasuredPath:
    state: dict[str, Engine] = {}

    def load() -> None:
        state["engine"] = Engine(file, device=device)

    return MeasuredPath("native", file, load, timed_in_python(lambda x: state["engine"].predict(x)))


def native_cpp_path(file: Path, device: str) -> MeasuredPath:
    """The engine timed by its own C++ loop: no Python between runs."""
    state: dict[str, Engine] = {}

    def load() -> None:
        state["engine"] = Engine(file, device=device)

    def run(x: torch.Tensor, count: int) -> list[float]:
        # time_engine's own first run (first_ms) is left out: it serves as this round's warm-up.
        return list(state["engine"].time(x, warmup=0, iterations=count).samples_ms)

    def first_run(x: torch.Tensor) -> float:
        return state["engine"].time(x, warmup=0, iterations=1).first_ms

    return MeasuredPath("native_cpp", file, load, run, first_run)


def aoti_python_path(package: Path, device: str) -> MeasuredPath:
    return _python_module_path("aoti_python", package, device, lambda file, _: load_aoti_package(file))


def aoti_native_path(package: Path, device: str) -> MeasuredPath:
    state: dict[str, Engine] = {}

    def load() -> None:
        state["engine"] = Engine(package, device=device)

    return MeasuredPath("aoti_native", package, load, timed_in_python(lambda x: state["engine"].predict(x)))


def onnxruntime_path(onnx_file: Path, threads: int) -> MeasuredPath:
    state: dict[str, Any] = {}

    def load() -> None:
        state["session"] = load_onnx_session(onnx_file, threads)
        state["input"] = state["session"].get_inputs()[0].name

    def call(x: torch.Tensor) -> Any:
        return state["session"].run(None, {state["input"]: x.numpy()})[0]

    return MeasuredPath("onnxruntime", onnx_file, load, timed_in_python(call))
