"""TorchScript or AOTInductor, Python or C++: ResNet-18 (random weights) exported to both formats by
tsnative.export and measured in one run on this machine: export (and compile) time, file size, load time, first
inference, and steady latency at batch 1 and 8 with the rounds interleaved (tsnative.bench.rounds).

    python benchmarks/formats.py [--out artifacts/formats] [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torchvision

import tsnative
from tsnative._export.torchscript import torchscript_calls
from tsnative.bench.machine import describe_machine, machine_line
from tsnative.bench.rounds import interleaved_rounds, timed


def median_ms(call: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("artifacts/formats"))
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    machine = describe_machine()
    print(machine_line(machine))

    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    example = torch.randn(2, 3, 224, 224)
    folder = Path(tempfile.mkdtemp(prefix="tsnative-formats-"))
    pt, pt2 = folder / "r18.pt", folder / "r18.pt2"
    reports = {
        "torchscript": tsnative.export(model, example, pt, mode="trace"),
        "pt2": tsnative.export(model, example, pt2),
    }
    files = {"torchscript": pt, "pt2": pt2}
    batches = [(1, 3, 224, 224), (8, 3, 224, 224)]

    def load_python_torchscript() -> Any:
        with torchscript_calls():
            return torch.jit.load(str(pt))

    loaders: dict[str, Callable[[], Any]] = {
        "TorchScript (Python)": load_python_torchscript,
        "TorchScript (native)": lambda: tsnative.Engine(pt),
        "AOTInductor (Python)": lambda: torch._inductor.aoti_load_package(str(pt2)),
        "AOTInductor (native)": lambda: tsnative.Engine(pt2),
    }
    x1 = torch.randn(*batches[0])
    loads, first = {}, {}
    for name, load in loaders.items():
        loads[name] = median_ms(load, 9)
        runner = load()
        start = time.perf_counter()
        with torch.inference_mode():
            runner(x1)
        first[name] = (time.perf_counter() - start) * 1e3

    # Steady state: the native TorchScript engine declares the batch sizes it serves (as a server would), so it is
    # optimised and fusion is tried for them at load; the package was compiled ahead of time.
    python_torchscript = load_python_torchscript()
    runners = {
        "TorchScript (Python)": python_torchscript,
        "TorchScript (native)": tsnative.Engine(pt, warmup_shapes=batches),
        "AOTInductor (Python)": torch._inductor.aoti_load_package(str(pt2)),
        "AOTInductor (native)": tsnative.Engine(pt2, warmup_shapes=batches),
    }
    latency: dict[str, dict[str, float]] = {name: {} for name in runners}
    for shape in batches:
        x = torch.randn(*shape)

        def call(runner: Any, x: torch.Tensor = x) -> Callable[[], object]:
            def run() -> object:
                with torch.inference_mode():
                    return runner(x)

            return run

        for runner in runners.values():  # warm-up: Python TorchScript's profiling executor optimises here
            for _ in range(3):
                call(runner)()
        iters = 10 if shape[0] == 1 else 3
        per_round = interleaved_rounds({n: timed(call(r)) for n, r in runners.items()}, iters, args.rounds)
        for name, rounds in per_round.items():
            latency[name][f"batch{shape[0]}_ms"] = statistics.median(statistics.median(r) for r in rounds)

    results = {
        "machine": machine,
        "torch": torch.__version__,
        "export_seconds": {k: round(r.export_seconds + r.verify_seconds, 2) for k, r in reports.items()},
        "file_mb": {k: round(path.stat().st_size / 1e6, 1) for k, path in files.items()},
        "load_ms": {k: round(v, 2) for k, v in loads.items()},
        "first_inference_ms": {k: round(v, 2) for k, v in first.items()},
        "latency_ms": {k: {b: round(v, 2) for b, v in d.items()} for k, d in latency.items()},
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "formats.json").write_text(json.dumps(results, indent=1))
    print(f"export + verify: {results['export_seconds']} s; files: {results['file_mb']} MB")
    print(f"{'path':<22} {'load ms':>8} {'first ms':>9} {'b1 ms':>8} {'b8 ms':>8}")
    for name in runners:
        lat = latency[name]
        print(f"{name:<22} {loads[name]:>8.1f} {first[name]:>9.1f} {lat['batch1_ms']:>8.2f} {lat['batch8_ms']:>8.2f}")
    print(f"wrote {args.out / 'formats.json'}")


if __name__ == "__main__":
    main()
