"""tsnative.bench: the Python-vs-C++ study for one model (see README, "Benchmark method")."""

from __future__ import annotations

import dataclasses
import datetime
import difflib
import functools
import os
import re
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import torch

from .. import _C
from .. import errors as tsnative_errors
from .._export.torchscript import Mode, torchscript_calls
from ..engine import Engine
from ..errors import DeviceUnavailableError
from ..export import export
from . import SCHEMA
from .cold_load import measure_in_fresh_process
from .machine import describe_machine, load_average
from .paths import (
    LABELS,
    MeasuredPath,
    aoti_native_path,
    aoti_python_path,
    eager_path,
    native_cpp_path,
    native_path,
    onnxruntime_path,
    torchscript_path,
)
from .rounds import interleaved_rounds
from .stats import relative_spread, summarize

MODES = ("script", "trace", "auto")
DEFAULT_SIZE = 224


class BenchInterrupted(KeyboardInterrupt):
    """Ctrl-C during the study. Its text says what was written: the configurations measured before it, if any."""


@dataclasses.dataclass
class BenchSettings:
    modes: Sequence[str] = ("script", "trace")
    devices: Sequence[str] = ("cpu",)
    batches: Sequence[int] = (1, 2, 4, 8, 16, 32)
    threads: int | None = None  # None: torch's current intra-op thread count
    size: int | None = None  # input height and width; None: a file's recorded input shape, else 224
    warmup: int = 3  # untimed runs per path before each batch size
    iters_per_round: int = 5  # timed runs of each path per round
    min_rounds: int = 3
    max_rounds: int = 30
    target_spread: float = 0.05  # stop when IQR / median is below this for every path...
    budget_seconds: float = 30.0  # ...or when one (mode, device, batch) has taken this long
    onnx: bool = True  # include ONNX Runtime (CPU) when onnxruntime is installed
    pt2: bool = True  # also export an AOTInductor package (.pt2) and measure it, from Python and natively (CPU)
    cold_loads: bool = True  # measure each path's load in fresh processes...
    cold_load_repeats: int = 3  # ...this many times, reporting the median
    optimize: bool = True  # export with freezing, as tsnative.export does by default


def run_bench(
    model: str | os.PathLike[str] | torch.nn.Module,
    *,
    out: str | os.PathLike[str] | None = None,
    progress: bool = True,
    **settings: Any,
) -> dict[str, Any]:
    """tsnative.bench (see its docstring in tsnative/bench/__init__.py)."""
    from .report import Progress, write_outputs  # rich and matplotlib only when a study runs, not on import

    # Everything a user can get wrong is checked before the first export or measurement, which take minutes.
    config = BenchSettings(**settings)
    _check_settings(config)
    folder = _writable_folder(out) if out is not None else None
    source = _resolve_model(model, config)
    threads = config.threads or torch.get_num_threads()
    torch.set_num_threads(threads)
    load_before = load_average()

    # The exported files (several copies of the model's weights) are needed only while measuring: a temporary
    # folder, removed however the study ends (error or Ctrl-C included).
    with tempfile.TemporaryDirectory(prefix="tsnative-bench-") as workdir:
        try:
            artifacts = _prepare_artifacts(source, config, Path(workdir))
        except KeyboardInterrupt:
            raise BenchInterrupted("while exporting the model; nothing written") from None
        results: dict[str, Any] = {
            "schema": SCHEMA,
            "model": artifacts["name"],
            "input_shape": list(source["shape"]),
            "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": {**describe_machine(), "load_average_before": load_before},
            "settings": {**dataclasses.asdict(config), "threads": threads, "size": source["size"]},
            "files": {kind: _size_on_disk(file) for kind, file in artifacts["files"].items()},
            "notes": artifacts["notes"],
            "loads": [],
            "latency": [],
        }
        groups = [(mode, device) for mode in artifacts["modes"] for device in config.devices]
        total, done = len(groups) * len(config.batches), 0
        try:
            with Progress(total, enabled=progress) as bar:
                for mode, device in groups:
                    bar.describe(f"{artifacts['name']} {mode} {device} load times")
                    paths = _paths_for(artifacts, mode, device, threads)
                    results["loads"] += _measure_loads(paths, mode, device, threads, config, source["shape"])
                    for batch in config.batches:
                        bar.describe(f"{artifacts['name']} {mode} {device} batch {batch}")
                        results["latency"] += _measure_latency(paths, mode, device, batch, config, source["shape"])
                        done += 1
                        bar.advance()
        except KeyboardInterrupt:
            results["interrupted"] = f"after {done} of {total} configurations"
            results["machine"]["load_average_after"] = load_average()
            if folder is None or not results["latency"]:
                raise BenchInterrupted(f"after {done} of {total} configurations; nothing written") from None
            write_outputs(results, folder)
            raise BenchInterrupted(
                f"after {done} of {total} configurations; partial results in {folder / 'results.json'}"
            ) from None
    results["machine"]["load_average_after"] = load_average()
    if folder is not None:
        write_outputs(results, folder)
    return results


def _check_settings(config: BenchSettings) -> None:
    """One-line ValueErrors naming the setting, what it takes and what it was given."""

    def positive_int(name: str, value: Any, allow_zero: bool = False) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or value < (0 if allow_zero else 1):
            kind = "a non-negative" if allow_zero else "a positive"
            raise ValueError(f"{name}: expected {kind} integer, got {value!r}")

    def positive_number(name: str, value: Any) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ValueError(f"{name}: expected a positive number, got {value!r}")

    for name in ("modes", "devices", "batches"):
        value = getattr(config, name)
        if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or not value:
            raise ValueError(f"{name}: expected a non-empty list, got {value!r}")
    for mode in config.modes:
        if mode not in MODES:
            raise ValueError(f"modes: expected {', '.join(MODES)}, got {mode!r}")
    for device in config.devices:
        if not isinstance(device, str) or not re.fullmatch(r"cpu|cuda(:\d+)?", device):
            raise ValueError(f'devices: expected "cpu", "cuda" or "cuda:N", got {device!r}')
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise DeviceUnavailableError(f'device "{device}" requested, but CUDA is not available on this machine')
    for batch in config.batches:
        positive_int("batches", batch)
    if config.threads is not None:
        positive_int("threads", config.threads)
    if config.size is not None:
        positive_int("size", config.size)
    positive_int("warmup", config.warmup, allow_zero=True)
    for name in ("iters_per_round", "min_rounds", "max_rounds", "cold_load_repeats"):
        positive_int(name, getattr(config, name))
    if config.max_rounds < config.min_rounds:
        raise ValueError(f"max_rounds: expected at least min_rounds ({config.min_rounds}), got {config.max_rounds}")
    positive_number("target_spread", config.target_spread)
    positive_number("budget_seconds", config.budget_seconds)


def _writable_folder(out: str | os.PathLike[str]) -> Path:
    """`out` as a folder the results can be written to; nothing is created yet (a failed study leaves nothing)."""
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise NotADirectoryError(f"out: expected a folder for the results, got the existing file {str(folder)!r}")
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise NotADirectoryError(f"out: cannot create {str(folder)!r}: {str(existing)!r} is not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(f"out: cannot write to {str(folder)!r}: {str(existing)!r} is not writable")
    return folder


def _resolve_model(model: Any, config: BenchSettings) -> dict[str, Any]:
    """What will be measured, checked: a module, a torchvision name, or a TorchScript file that loads, takes one
    float tensor and runs on the input the study will feed it. `shape` is one input without its batch dimension."""
    square = [3, config.size or DEFAULT_SIZE, config.size or DEFAULT_SIZE]
    if isinstance(model, torch.nn.Module):
        return {"kind": "module", "name": type(model).__name__, "module": model, "shape": square, "size": square[1]}
    if not isinstance(model, (str, os.PathLike)):
        raise TypeError(f"model: expected a torchvision model name, a TorchScript file or an nn.Module, got {model!r}")
    text = os.fspath(model)
    if Path(text).exists() or Path(text).suffix or os.sep in text:
        return _resolve_file(Path(text), config, square)
    import torchvision

    available = torchvision.models.list_models(module=torchvision.models)
    if text not in available:
        close = difflib.get_close_matches(text, available, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else "; or give a TorchScript file's path"
        raise ValueError(f"model: {text!r} is neither a file nor a torchvision classification model{hint}")
    return {"kind": "torchvision", "name": text, "shape": square, "size": square[1]}


def _resolve_file(file: Path, config: BenchSettings, square: list[int]) -> dict[str, Any]:
    if file.suffix == ".pt2" and any(device != "cpu" for device in config.devices):
        raise ValueError(
            f"devices: the bench measures a .pt2 package on the CPU it was compiled for; got {config.devices}"
        )
    # Loaded as `tsnative info` does (no freezing or fusion, which are TorchScript's options and refused for a
    # package): FileNotFoundError or a one-line ModelLoadError.
    inspect: dict[str, Any] = {}
    if _C.backend_of(str(file)) == "torchscript":
        inspect = {"freeze": False, "onednn_fusion": "off"}
    engine = Engine(file, **inspect)
    arguments = [argument for argument in engine.schema.arguments if argument.name != "self"]
    if len(arguments) != 1 or arguments[0].type != "Tensor":
        raise ValueError(
            f"model: the bench feeds forward one tensor (a batch of inputs); {file} takes "
            f"({', '.join(f'{a.name}: {a.type}' for a in arguments)})"
        )
    size: int | None  # None when the recorded input is not square
    shape, size = square, square[1]
    recorded = (engine.metadata or {}).get("inputs") or []
    if len(recorded) == 1 and recorded[0].get("type") == "Tensor" and recorded[0].get("shape"):
        dims, dtype = recorded[0]["shape"], recorded[0].get("dtype")
        if dtype != "float32":
            raise ValueError(f"model: the bench feeds float32 inputs; {file} records a {dtype} input")
        if dims[0] != -1 and any(batch != dims[0] for batch in config.batches):
            raise ValueError(
                f"batches: {file} was exported for batch {dims[0]} only (not verified as dynamic), "
                f"got {', '.join(map(str, config.batches))}"
            )
        shape = dims[1:]
        if config.size is not None and shape[-2:] != [config.size, config.size]:
            raise ValueError(
                f"size: {file} records its input as [N, {', '.join(map(str, shape))}]; size {config.size} does not "
                "fit it (leave the size out to use the recorded shape)"
            )
        size = shape[-1] if len(shape) == 3 and shape[-1] == shape[-2] else None
    try:
        engine.predict(torch.randn(config.batches[0], *shape))
    except (RuntimeError, ValueError, TypeError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ValueError(
            f"model: {file} does not run on a float32 input of shape {[config.batches[0], *shape]}: {first}"
        ) from None
    return {"kind": "file", "name": file.stem, "file": file, "shape": shape, "size": size}


def _prepare_artifacts(source: dict[str, Any], config: BenchSettings, workdir: Path) -> dict[str, Any]:
    """Exports the model once per mode (and to ONNX) into `workdir`; a TorchScript file is used as it is."""
    notes: list[str] = []
    if source["kind"] == "file":
        package = source["file"].suffix == ".pt2"
        return {
            "name": source["name"],
            "modes": ["file"],
            "files": {"pt2" if package else "file": source["file"]},
            "notes": [
                f"a {'.pt2 package' if package else 'TorchScript file'}: eager and ONNX Runtime paths not available"
            ],
        }
    if source["kind"] == "torchvision":
        import torchvision

        torch.manual_seed(0)
        name, module = source["name"], torchvision.models.get_model(source["name"], weights=None)
    else:
        name, module = source["name"], source["module"]
    module = module.eval()
    example = torch.randn(2, *source["shape"])
    files: dict[str, Path] = {"module": workdir / f"{name}.module.pt"}
    torch.save(module, files["module"])  # the nn.Module as Python pickles it: what eager loads
    for mode in config.modes:
        files[mode] = workdir / f"{name}.{mode}.pt"
        # One of MODES: _check_settings refused any other.
        export(module, example, files[mode], mode=cast(Mode, mode), optimize=config.optimize)
    if config.pt2:
        try:  # compiled for this machine's CPU: a few seconds to minutes, said in the progress line
            export(module, example, workdir / f"{name}.pt2")
            files["pt2"] = workdir / f"{name}.pt2"
        except (tsnative_errors.TsnativeError, TypeError, ValueError) as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            notes.append(f"AOTInductor export failed ({first}): .pt2 paths skipped")
    if config.onnx:
        onnx_file = _export_onnx(module, example, workdir / f"{name}.onnx", notes)
        if onnx_file is not None:
            files["onnx"] = onnx_file
    return {"name": name, "modes": list(config.modes), "files": files, "notes": notes}


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
    paths = []
    if "module" in files:
        paths.append(eager_path(files["module"], device))
    if mode in files:
        file = files[mode]
        paths += [torchscript_path(file, device), native_path(file, device), native_cpp_path(file, device)]
    if "onnx" in files and device == "cpu":
        paths.append(onnxruntime_path(files["onnx"], threads))
    # The package is one artifact whatever the TorchScript mode: measured in the first mode's group, beside it.
    if "pt2" in files and device == "cpu" and mode == artifacts["modes"][0]:
        paths += [aoti_python_path(files["pt2"], device), aoti_native_path(files["pt2"], device)]
    return paths


def _measure_loads(
    paths: list[MeasuredPath], mode: str, device: str, threads: int, config: BenchSettings, shape: Sequence[int]
) -> list[dict[str, Any]]:
    """Cold load (median over fresh processes), warm load (median of 3 in this process), first inference."""
    warm: dict[str, list[float]] = {path.name: [] for path in paths}
    for _ in range(3):
        for path in paths:  # interleaved, like the latency rounds
            start = time.perf_counter()
            path.load()
            warm[path.name].append((time.perf_counter() - start) * 1e3)
    first_input = torch.randn(config.batches[0], *shape)
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
    paths: list[MeasuredPath], mode: str, device: str, batch: int, config: BenchSettings, shape: Sequence[int]
) -> list[dict[str, Any]]:
    """Warm-up, then rounds in which every path runs `iters_per_round` times, the order rotating each round so
    machine drift hits all paths alike; stops when every path's IQR/median is below the target (after
    min_rounds) or the time budget is spent."""
    x = torch.randn(batch, *shape)
    for path in paths:
        path.run_timed(x, config.warmup)
    start = time.perf_counter()

    def pooled(per_round: dict[str, list[list[float]]]) -> dict[str, list[float]]:
        return {name: [value for calls in rounds for value in calls] for name, rounds in per_round.items()}

    def is_stable(per_round: dict[str, list[list[float]]]) -> bool:
        return all(relative_spread(values) < config.target_spread for values in pooled(per_round).values())

    def enough(per_round: dict[str, list[list[float]]]) -> bool:
        done = len(next(iter(per_round.values())))
        return done >= config.min_rounds and (
            is_stable(per_round) or time.perf_counter() - start > config.budget_seconds
        )

    runners = {path.name: functools.partial(path.run_timed, x) for path in paths}
    per_round = interleaved_rounds(runners, config.iters_per_round, config.max_rounds, stop=enough)
    rounds = len(per_round[paths[0].name])
    stable = rounds >= config.min_rounds and is_stable(per_round)
    samples = pooled(per_round)
    medians = {name: summarize(values, batch)["median_ms"] for name, values in samples.items()}
    eager_median, torchscript_median = medians.get("eager"), medians.get("torchscript")
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
                # a TorchScript file has no eager path: Python TorchScript is the baseline every study has
                "speedup_vs_torchscript": torchscript_median / summary["median_ms"] if torchscript_median else None,
                "samples_ms": [round(value, 4) for value in samples[path.name]],  # every timed call, in order
            }
        )
    return rows


__all__ = ["LABELS", "SCHEMA", "BenchInterrupted", "BenchSettings", "run_bench"]
