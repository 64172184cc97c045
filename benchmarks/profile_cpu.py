"""Where ResNet-18's CPU time goes: the engine (oneDNN Graph fusion kept) against ONNX Runtime, op by op (issue 17).

    python benchmarks/profile_cpu.py [--threads 2] [--calls 20] [--isa avx2] [--out artifacts/profile]

Both sides are profiled by their own profilers over the same calls at batch 1 and 8 (one process, one run): the
engine with torch.profiler (each oneDNN Graph partition is one `LlgaPartition_k` event, other ATen ops their own
events; the rest of the call is the engine's and the graph executor's own work), ONNX Runtime with its session
profiler (one event per node). Each side's time is split into kernels (what the model's operations cost) and
overhead (the call minus its kernels), and its slowest kernels are listed. `--isa avx2` caps LibTorch and oneDNN
to AVX2 (ATEN_CPU_CAPABILITY, ONEDNN_MAX_CPU_ISA) to show what the engine runs on an AVX2-only CPU; ONNX Runtime
cannot be capped, so no ratio against it is reported then. Writes profile_<isa>.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

ISA_ENV = {"avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"}}


def engine_profile(pt: Path, x: Any, calls: int) -> dict[str, Any]:
    from torch.profiler import ProfilerActivity, profile

    import tsnative

    engine = tsnative.Engine(pt, warmup_shapes=[tuple(x.shape)])
    for _ in range(5):
        engine.predict(x)
    start = time.perf_counter()
    for _ in range(calls):
        engine.predict(x)
    wall_ms = (time.perf_counter() - start) * 1e3 / calls
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(calls):
            engine.predict(x)
    kernels: dict[str, float] = defaultdict(float)
    call_ms = 0.0
    for event in prof.events():
        # The call's executor (the fused graph of a declared shape) and its direct children: partitions and ATen ops.
        if event.name.startswith("fused_shape"):
            call_ms += event.cpu_time_total / 1e3
            for child in event.cpu_children:
                kernels[child.name] += child.cpu_time_total / 1e3
    if call_ms == 0.0:
        raise SystemExit(f"no fused executor ran, so there is no partition to profile: {engine.optimizations}")
    kernels = {name: total / calls for name, total in kernels.items()}
    call_ms /= calls
    kernel_ms = sum(kernels.values())
    return {
        "optimizations": engine.optimizations,
        "wall_ms": wall_ms,  # predict from Python, unprofiled
        "profiled_call_ms": call_ms,  # the fused executor's run, under the profiler
        "kernel_ms": kernel_ms,
        "overhead_ms": call_ms - kernel_ms,
        "kernels": dict(sorted(kernels.items(), key=lambda item: -item[1])),
    }


def onnxruntime_profile(onnx_file: Path, x: Any, calls: int, threads: int, folder: Path) -> dict[str, Any]:
    from tsnative.bench.paths import load_onnx_session

    session = load_onnx_session(onnx_file, threads)
    feed = {session.get_inputs()[0].name: x.numpy()}
    for _ in range(5):
        session.run(None, feed)
    start = time.perf_counter()
    for _ in range(calls):
        session.run(None, feed)
    wall_ms = (time.perf_counter() - start) * 1e3 / calls
    profiled = load_onnx_session(onnx_file, threads, profile_prefix=folder / "ort_profile")
    warm = 5
    for _ in range(warm + calls):
        profiled.run(None, feed)
    trace = json.loads(Path(profiled.end_profiling()).read_text())
    # The profiler records from the session's start: only the calls after the warm-up ones count.
    model_runs = sorted(
        (e for e in trace if e.get("cat") == "Session" and e["name"] == "model_run"), key=lambda e: e["ts"]
    )
    counted = model_runs[warm:]
    runs = [event["dur"] / 1e3 for event in counted]
    kernels: dict[str, float] = defaultdict(float)
    for event in trace:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time") and event["ts"] >= counted[0]["ts"]:
            kernels[f"{event['args'].get('op_name', '?')} {event['name'].removesuffix('_kernel_time')}"] += (
                event["dur"] / 1e3
            )
    kernels = {name: total / len(runs) for name, total in kernels.items()}
    call_ms = statistics.fmean(runs)
    kernel_ms = sum(kernels.values())
    return {
        "wall_ms": wall_ms,
        "profiled_call_ms": call_ms,
        "kernel_ms": kernel_ms,
        "overhead_ms": call_ms - kernel_ms,
        "kernels": dict(sorted(kernels.items(), key=lambda item: -item[1])),
    }


def by_op_type(kernels: dict[str, float]) -> dict[str, float]:
    """ONNX Runtime's kernels summed by operator type (the first word of each name)."""
    totals: dict[str, float] = defaultdict(float)
    for name, ms in kernels.items():
        totals[name.split(" ", 1)[0]] += ms
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--isa", choices=["native", "avx2"], default="native")
    parser.add_argument("--out", type=Path, default=Path("artifacts/profile"))
    args = parser.parse_args()
    wanted = ISA_ENV.get(args.isa, {})
    if any(os.environ.get(key) != value for key, value in wanted.items()):
        # Both are read once, when LibTorch starts: run again with them set.
        os.execve(sys.executable, [sys.executable, *sys.argv], os.environ | wanted)

    import torch
    import torchvision

    import tsnative
    from tsnative.bench.machine import describe_machine, machine_line

    warnings.filterwarnings("ignore", category=FutureWarning)
    torch.set_num_threads(args.threads)
    machine = describe_machine()
    print(machine_line(machine) + (f"  (capped: {wanted})" if wanted else ""))
    results: dict[str, Any] = {
        "machine": machine,
        "isa": args.isa,
        "capped_by": wanted,
        "settings": vars(args) | {"out": str(args.out)},
    }
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    with tempfile.TemporaryDirectory() as workdir:
        folder = Path(workdir)
        pt, onnx_file = folder / "r18.pt", folder / "r18.onnx"
        tsnative.export(model, torch.randn(2, 3, 224, 224), pt, mode="trace")
        torch.onnx.export(
            model,
            (torch.randn(1, 3, 224, 224),),
            str(onnx_file),
            dynamo=True,
            dynamic_shapes=({0: torch.export.Dim("batch")},),
        )
        for batch in (1, 8):
            x = torch.randn(batch, 3, 224, 224)
            side = {"engine": engine_profile(pt, x, args.calls)}
            if not wanted:
                side["onnxruntime"] = onnxruntime_profile(onnx_file, x, args.calls, args.threads, folder)
                side["onnxruntime"]["by_op_type"] = by_op_type(side["onnxruntime"]["kernels"])
            results[f"b{batch}"] = side
            print(f"\nResNet-18 batch {batch}, ms per call ({args.calls} calls each):")
            for name, data in side.items():
                top = ", ".join(f"{k} {v:.2f}" for k, v in list(data["kernels"].items())[:4])
                print(
                    f"  {name:<12} wall {data['wall_ms']:7.2f}  profiled {data['profiled_call_ms']:7.2f}  "
                    f"kernels {data['kernel_ms']:7.2f}  overhead {data['overhead_ms']:5.2f}  slowest: {top}"
                )
            if "onnxruntime" in side:
                ops = ", ".join(f"{k} {v:.2f}" for k, v in side["onnxruntime"]["by_op_type"].items())
                print(f"  onnxruntime by operator type: {ops}")
                ratio = side["engine"]["kernel_ms"] / side["onnxruntime"]["kernel_ms"]
                print(f"  kernels engine / onnxruntime: {ratio:.3f}")
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"profile_{args.isa}.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
