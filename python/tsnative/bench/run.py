"""tsnative.bench: the Python-vs-C++ study for one model (see README, "Benchmark method")."""

from __future__ import annotations

import dataclasses
import datetime
import os
import platform
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from .._torchscript import torchscript_calls
from .._version import __version__
from ..errors import DeviceUnavailableError
from ..export import export
from .cold_load import measure_in_fresh_process
from .paths import (
    LABELS,
    MeasuredPath,
    eager_path,
    native_cpp_path,
    native_path,
    onnxruntime_path,
    torchscript_path,
)
from .stats import relative_spread, summarize

SCHEMA = "tsnative.bench/1"


@dataclasses.dataclass
class BenchSettings:
    modes: Sequence[str] = ("script", "trace")
    devices: Sequence[str] = ("cpu",)
    batches: Sequence[int] = (1, 2, 4, 8, 16, 32)
    threads: int | None = None  # None: torch's current intra-op thread count
    size: int = 224  # input height and width
    warmup: int = 3  # untimed runs per path before each batch size
    iters_per_round: int = 5  # timed runs of each path per round
    min_rounds: int = 3
    max_rounds: int = 30
    target_spread: float = 0.05  # stop when IQR / median is below this for every path...
    budget_seconds: float = 30.0  # ...or when one (mode, device, batch) has taken this long
    onnx: bool = True  # include ONNX Runtime (CPU) when onnxruntime is installed
    cold_loads: bool = True  # measure each path's load in fresh processes...
    cold_load_repeats: int = 3  # ...this many times, reporting the median
    optimize: bool = True  # export with freezing, as tsnative.export does by default


def bench(
    model: str | os.PathLike[str] | torch.nn.Module,
    *,
    out: str | os.PathLike[str] | None = None,
    progress: bool = True,
    **settings: Any,
) -> dict[str, Any]:
    """Measures one model along every path (eager, Python TorchScript, native Engine from Python, the C++ loop,
    ONNX Runtime) for each export mode, device and batch size; returns the results (the ``results.json`` schema).

    ``model`` is a torchvision classification model name (random weights), an ``nn.Module`` taking one image
    batch, or a TorchScript file (then only its TorchScript paths run). With ``out``, writes results.json,
    results.csv and PNG plots there. ``settings`` are the fields of :class:`BenchSettings`.
    """
    from .report import Progress, write_outputs  # rich and matplotlib only when a study runs, not on import

    config = BenchSettings(**settings)
    threads = config.threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    for device in config.devices:
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise DeviceUnavailableError(f'device "{device}" requested, but CUDA is not available on this machine')

    workdir = Path(out) if out is not None else Path(tempfile.mkdtemp(prefix="tsnative-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    artifacts = _prepare_artifacts(model, config, workdir / "artifacts")

    results: dict[str, Any] = {
        "schema": SCHEMA,
        "model": artifacts["name"],
        "input_shape": [3, artifacts["size"], artifacts["size"]],
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": _machine(),
        "settings": {**dataclasses.asdict(config), "threads": threads},
        "files": {kind: _size_on_disk(file) for kind, file in artifacts["files"].items()},
        "notes": artifacts["notes"],
        "loads": [],
        "latency": [],
    }
    groups = [(mode, device) for mode in artifacts["modes"] for device in config.devices]
    with Progress(len(groups) * len(config.batches), enabled=progress) as bar:
        for mode, device in groups:
            paths = _paths_for(artifacts, mode, device, threads)
            results["loads"] += _measure_loads(paths, mode, device, threads, config, artifacts["size"])
            for batch in config.batches:
                bar.describe(f"{artifacts['name']} {mode} {device} batch {batch}")
                results["latency"] += _measure_latency(paths, mode, device, batch, config, artifacts["size"])
                bar.advance()
    if out is not None:
        write_outputs(results, workdir)
    return results


def _prepare_artifacts(model: Any, config: BenchSettings, workdir: Path) -> dict[str, Any]:
    """Exports the model once per mode (and to ONNX); a .pt path is used as it is."""
    notes: list[str] = []
    if isinstance(model, (str, os.PathLike)) and str(model).endswith(".pt"):
        file = Path(model)
        return {
            "name": file.stem,
            "size": config.size,
            "modes": ["file"],
            "files": {"file": file},
            "notes": ["a TorchScript file: eager and ONNX Runtime paths not available"],
        }
    if isinstance(model, str):
        import torchvision

        torch.manual_seed(0)
        name, module = model, torchvision.models.get_model(model, weights=None)
    else:
        name, module = type(model).__name__, model
    module = module.eval()
    workdir.mkdir(parents=True, exist_ok=True)
    example = torch.randn(2, 3, config.size, config.size)
    files: dict[str, Path] = {"module": workdir / f"{name}.module.pt"}
    torch.save(module, files["module"])  # the nn.Module as Python pickles it: what eager loads
    for mode in config.modes:
        files[mode] = workdir / f"{name}.{mode}.pt"
        export(module, example, files[mode], mode=mode, optimize=config.optimize)
    if config.onnx:
        onnx_file = _export_onnx(module, example, workdir / f"{name}.onnx", notes)
        if onnx_file is not None:
            files["onnx"] = onnx_file
    return {
        "name": name,
        "size": config.size,
        "modes": list(config.modes),
        "files": files,
        "notes": notes,
    }


def _size_on_disk(file: Path) -> int:
    """Bytes of a model file, with the external weights file the ONNX exporter writes beside it."""
    data = file.with_name(file.name + ".data")
    return file.stat().st_size + (data.stat().st_size if data.exists() else 0)


def _export_onnx(module: torch.nn.Module, example: torch.Tensor, file: Path, notes: list[str]) -> Path | None:
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        notes.append("onnxruntime is not installed (pip install 'tsnative[onnx]'): ONNX Runtime path skipped")
        return None
    try:
        with torchscript_calls():
            torch.onnx.export(
                module,
                (example,),
                str(file),
                dynamo=True,
                verbose=False,
                dynamic_shapes=({0: torch.export.Dim("batch")},),
            )
    except Exception as error:  # the exporter raises many types; the study goes on without ONNX
        notes.append(f"ONNX export failed ({type(error).__name__}: {str(error).splitlines()[0]}): path skipped")
        return None
    return file


def _paths_for(artifacts: dict[str, Any], mode: str, device: str, threads: int) -> list[MeasuredPath]:
    files = artifacts["files"]
    file = files[mode]
    paths = []
    if "module" in files:
        paths.append(eager_path(files["module"], device))
    paths += [torchscript_path(file, device), native_path(file, device), native_cpp_path(file, device)]
    if "onnx" in files and device == "cpu":
        paths.append(onnxruntime_path(files["onnx"], threads))
    return paths


def _measure_loads(
    paths: list[MeasuredPath], mode: str, device: str, threads: int, config: BenchSettings, size: int
) -> list[dict[str, Any]]:
    """Cold load (median over fresh processes), warm load (median of 3 in this process), first inference."""
    warm: dict[str, list[float]] = {path.name: [] for path in paths}
    for _ in range(3):
        for path in paths:  # interleaved, like the latency rounds
            start = time.perf_counter()
            path.load()
            warm[path.name].append((time.perf_counter() - start) * 1e3)
    first_input = torch.randn(config.batches[0], 3, size, size)
    rows = []
    for path in paths:
        path.load()
        first_ms = path.first_run_ms(first_input)
        cold = _cold_load_median(path, device, threads, config.cold_load_repeats) if config.cold_loads else None
        rows.append(
            {
                "mode": mode,
                "device": device,
                "path": path.name,
                "label": path.label,
                "cold_load_ms": cold,
                "warm_load_ms": float(sorted(warm[path.name])[1]),
                "first_inference_ms": first_ms,
                "first_batch": config.batches[0],
            }
        )
    return rows


def _cold_load_median(path: MeasuredPath, device: str, threads: int, repeats: int) -> float | None:
    samples = [measure_in_fresh_process(path.name, path.artifact, device, threads) for _ in range(repeats)]
    measured = sorted(sample for sample in samples if sample is not None)
    return measured[len(measured) // 2] if measured else None


def _measure_latency(
    paths: list[MeasuredPath], mode: str, device: str, batch: int, config: BenchSettings, size: int
) -> list[dict[str, Any]]:
    """Warm-up, then rounds in which every path runs `iters_per_round` times, the order rotating each round so
    machine drift hits all paths alike; stops when every path's IQR/median is below the target (after
    min_rounds) or the time budget is spent."""
    x = torch.randn(batch, 3, size, size)
    for path in paths:
        path.run_timed(x, config.warmup)
    samples: dict[str, list[float]] = {path.name: [] for path in paths}
    start, rounds, stable = time.perf_counter(), 0, False
    while rounds < config.max_rounds:
        for offset in range(len(paths)):
            path = paths[(rounds + offset) % len(paths)]
            samples[path.name] += path.run_timed(x, config.iters_per_round)
        rounds += 1
        if rounds >= config.min_rounds:
            stable = all(relative_spread(values) < config.target_spread for values in samples.values())
            if stable or time.perf_counter() - start > config.budget_seconds:
                break
    eager_median = summarize(samples["eager"], batch)["median_ms"] if "eager" in samples else None
    rows = []
    for path in paths:
        summary = summarize(samples[path.name], batch)
        rows.append(
            {
                "mode": mode,
                "device": device,
                "batch": batch,
                "path": path.name,
                "label": path.label,
                **summary,
                "rounds": rounds,
                "spread": relative_spread(samples[path.name]),
                "stable": stable,
                "speedup_vs_eager": eager_median / summary["median_ms"] if eager_median else None,
            }
        )
    return rows


def _machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            cpu = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        import onnxruntime

        onnxruntime_version: str | None = onnxruntime.__version__
    except ImportError:
        onnxruntime_version = None
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch": torch.__version__,
        "tsnative": __version__,
        "onnxruntime": onnxruntime_version,
        "python": platform.python_version(),
    }


__all__ = ["LABELS", "SCHEMA", "BenchSettings", "bench"]
