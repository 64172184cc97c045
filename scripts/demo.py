"""`make demo`: export a ResNet-18 (random weights: nothing downloads) with tsnative.export, run the file through
Python TorchScript and through tsnative.Engine, and print how well the outputs agree and how long each takes.

    python scripts/demo.py [--mode trace|script] [--batch 1] [--iters 20] [--out demo-out]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torchvision

import tsnative
from tsnative._export.torchscript import torchscript_calls
from tsnative.bench.rounds import interleaved_rounds, timed


def export_resnet18(mode: str, example: torch.Tensor, path: Path) -> torch.nn.Module:
    """Exports with tsnative.export (frozen, verified through the native engine) and prints its report."""
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    print(tsnative.export(model, example, path, mode=mode))
    return model


def interleaved_latencies(paths: dict[str, Callable[[], object]], warmup: int, iters: int) -> dict[str, list[float]]:
    """Milliseconds per call for each path: one call per round, in rounds interleaved by tsnative's one harness so
    that machine drift hits all paths alike."""
    for run in paths.values():
        for _ in range(warmup):
            run()
    per_round = interleaved_rounds({name: timed(run) for name, run in paths.items()}, 1, iters)
    return {name: [calls[0] for calls in rounds] for name, rounds in per_round.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=["trace", "script"], default="trace")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--iters", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("demo-out"))
    args = parser.parse_args()

    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"resnet18_{args.mode}.pt"
    x = torch.randn(args.batch, 3, 224, 224)
    print(f"Exporting ResNet-18 (random weights) by torch.jit.{args.mode} to {path} ...")
    eager = export_resnet18(args.mode, x, path)

    # Load times: median of 5 alternating loads (the first load in a process also pays one-off initialisation).
    python_loads, native_loads = [], []
    for _ in range(5):
        start = time.perf_counter()
        with torchscript_calls():
            python_module = torch.jit.load(str(path))
        python_loads.append(time.perf_counter() - start)
        engine = tsnative.Engine(path, device="cpu")
        native_loads.append(engine.load_seconds)
    print(
        f"Load (median of 5): Python torch.jit.load {statistics.median(python_loads) * 1e3:.1f} ms, "
        f"tsnative.Engine {statistics.median(native_loads) * 1e3:.1f} ms   {engine.schema}"
    )

    def run_python() -> torch.Tensor:
        with torch.inference_mode():
            return python_module(x)

    def run_eager() -> torch.Tensor:
        with torch.inference_mode():
            return eager(x)

    # As a server would: the input shape declared at load, so the engine warms up and tries oneDNN fusion on it
    # (kept only where it gives the unfused outputs and is faster; the load report says what happened).
    declared = tsnative.Engine(path, device="cpu", warmup_shapes=[tuple(x.shape)])
    trial = declared.load_report["fusion"]["trials"][0]
    decision = "kept" if trial["kept"] else f"not kept: {trial['reason']}"
    print(
        f"Declared shape {list(x.shape)}: loaded in {declared.load_seconds * 1e3:.0f} ms with warm-up and a fusion "
        f"trial ({decision}; fused {trial['fused_ms'] or float('nan'):.2f} ms vs unfused "
        f"{trial['unfused_ms'] or float('nan'):.2f} ms)"
    )

    python_out, native_out, eager_out = run_python(), engine.predict(x), run_eager()
    top5 = lambda logits: logits.topk(5, dim=1).indices  # noqa: E731
    print(f"\nAgreement (batch of {args.batch}, logits of 1000 classes):")
    print(f"  max |native - Python TorchScript| = {(native_out - python_out).abs().max().item():.3e}")
    print(f"  max |native - Python eager|       = {(native_out - eager_out).abs().max().item():.3e}")
    print(f"  top-5 classes equal (native vs Python TorchScript): {torch.equal(top5(native_out), top5(python_out))}")
    declared_out = declared.predict(x)
    print(f"  max |declared-shape engine - eager| = {(declared_out - eager_out).abs().max().item():.3e}")

    samples = interleaved_latencies(
        {
            "Python eager": run_eager,
            "Python TorchScript": run_python,
            "tsnative.Engine": lambda: engine.predict(x),
            "Engine, shape declared": lambda: declared.predict(x),
        },
        warmup=args.warmup,
        iters=args.iters,
    )
    print(f"\nLatency, batch {args.batch}, CPU, {torch.get_num_threads()} threads, {args.iters} interleaved rounds:")
    print(f"  {'path':<20} {'median ms':>10} {'min ms':>8} {'max ms':>8}")
    for name, values in samples.items():
        print(f"  {name:<20} {statistics.median(values):>10.2f} {min(values):>8.2f} {max(values):>8.2f}")
    for name in ("tsnative.Engine", "Engine, shape declared"):
        ratio = statistics.median(samples[name]) / statistics.median(samples["Python TorchScript"])
        print(f"  {name} / Python TorchScript (median): {ratio:.2f}")


if __name__ == "__main__":
    main()
