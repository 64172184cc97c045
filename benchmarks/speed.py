"""Native speed against its targets (issues #6 and #17), every ratio measured in one run, rounds interleaved.

    python benchmarks/speed.py [--threads 2] [--rounds 7] [--out artifacts/speed]

(--out benchmarks/results/speed replaces the tracked figures the README quotes; the default is untracked.)

CPU, ResNet-18 (random weights, `tsnative.export` trace, frozen) at batch 1 and 8: tsnative.Engine.predict
(default optimisations, batch 1 and 8 declared as warm-up shapes) against ONNX Runtime and against Python eager;
for context the engine with one executor for both shapes, without fusion, in bf16, and its C++ timing loop. GPU
(when there is one), ResNet-18 batch 1: the engine with and without CUDA graphs (also with pinned transfers, and in
fp16) against Python eager, CPU tensors in and out. Tiny module (Linear 4->4 + tanh): per-call time of
Engine.predict from Python against the engine's raw C++ loop and against a plain C++ loop over `torch::jit::load`
+ `forward` (compiled here with torch.utils.cpp_extension on first use; a minute or two). Each round times every
path in rotated order; a path's figure is the median over rounds of its per-round median. Prints the machine and
each ratio beside its target; writes speed.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

import tsnative
from tsnative.bench.machine import describe_machine, machine_line
from tsnative.bench.paths import load_onnx_session, timed_in_python
from tsnative.bench.rounds import interleaved_rounds

warnings.filterwarnings("ignore", category=FutureWarning)

TARGETS = {  # ratio name: (numerator, denominator, the most it may be)
    "resnet18 b{b}: native / onnxruntime": ("native", "onnxruntime", 0.95),
    "resnet18 b{b}: native / python eager": ("native", "eager", 0.67),
}
TINY_TARGET = 1.3  # predict from Python / the engine's own C++ loop (issue 6)
TINY_PLAIN_TARGET = 1.0  # predict from Python / a plain C++ torch::jit::load + forward loop (issue 17)

# What a C++ user would write without tsnative: load, eval, forward under InferenceMode (or under NoGradGuard, the
# engine's own guard: its outputs are ordinary tensors). Returns microseconds per call over `calls` calls after 200
# warm-up calls.
PLAIN_LOOP_SOURCE = """
#include <torch/script.h>
#include <chrono>
#include <optional>

double plain_forward_us(const std::string& path, torch::Tensor x, int64_t calls, bool inference_mode) {
  torch::jit::Module module = torch::jit::load(path);
  module.eval();
  std::optional<c10::InferenceMode> inference;
  std::optional<c10::NoGradGuard> no_grad;
  if (inference_mode) inference.emplace(); else no_grad.emplace();
  std::vector<torch::jit::IValue> inputs{x};
  for (int i = 0; i < 200; ++i) module.forward(inputs);
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < calls; ++i) module.forward(inputs);
  const std::chrono::duration<double, std::micro> took = std::chrono::steady_clock::now() - start;
  return took.count() / static_cast<double>(calls);
}
"""
GPU_TARGET = ("resnet18 b1 cuda: native+graphs / python eager", "native_cuda_graphs", "eager", 0.33)


def interleaved_medians(runners: dict[str, Callable[[int], list[float]]], rounds: int, iters: int) -> dict:
    """Each path's median of its round medians (the rounds interleaved by tsnative's one harness)."""
    per_round = interleaved_rounds(runners, iters, rounds)
    medians = {name: [statistics.median(calls) for calls in values] for name, values in per_round.items()}
    return {name: {"median_ms": statistics.median(v), "round_medians_ms": v} for name, v in medians.items()}


def resnet18_paths(folder: Path, batch: int, threads: int) -> dict[str, Callable[[int], list[float]]]:
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    x = torch.randn(batch, 3, 224, 224)
    pt = folder / "r18.pt"
    if not pt.exists():
        tsnative.export(model, torch.randn(2, 3, 224, 224), pt, mode="trace")
    onnx_file = folder / "r18.onnx"
    if not onnx_file.exists():
        torch.onnx.export(model, (x,), str(onnx_file), dynamo=True, dynamic_shapes=({0: torch.export.Dim("batch")},))
    # Declared as a server would, both batch sizes it serves (batch 1 first): the same engines serve both rounds.
    shapes = [(1, 3, 224, 224), (8, 3, 224, 224)]
    native = tsnative.Engine(pt, warmup_shapes=shapes)
    for trial in native.fusion["trials"]:
        print(
            f"  auto fusion for {trial['shape']}: kept={trial['kept']} (fused {trial['fused_ms']:.2f} ms, unfused "
            f"{trial['unfused_ms']:.2f} ms at load)"
            if trial["verified"]
            else f"  fusion refused: {trial['reason']}"
        )
    one_executor = tsnative.Engine(pt, warmup_shapes=shapes, executor_per_shape=False)
    unfused = tsnative.Engine(pt, onednn_fusion=False, warmup_shapes=shapes)
    bf16 = tsnative.Engine(pt, precision="bf16", warmup_shapes=shapes)
    session = load_onnx_session(onnx_file, threads)
    input_name = session.get_inputs()[0].name
    feed = {input_name: x.numpy()}

    # Agreement first: a fast wrong answer is no result.
    with torch.no_grad():
        expected = model(x)
    for name, out in [("native", native.predict(x)), ("onnxruntime", torch.from_numpy(session.run(None, feed)[0]))]:
        torch.testing.assert_close(out, expected, rtol=1e-3, atol=1e-4, msg=lambda m, n=name: f"{n}: {m}")
    # bf16 keeps 8 significant bits: agreement at the scale of the logits.
    torch.testing.assert_close(bf16.predict(x), expected, rtol=0.05, atol=0.02 * expected.abs().max().item())

    def eager(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return model(x)

    timed = {
        "native": timed_in_python(native.predict),
        "native_one_executor": timed_in_python(one_executor.predict),
        "native_no_fusion": timed_in_python(unfused.predict),
        "native_bf16": timed_in_python(bf16.predict),
        "onnxruntime": timed_in_python(lambda x: session.run(None, {input_name: x.numpy()})),
        "eager": timed_in_python(eager),
    }
    runners = {name: (lambda count, run=run: run(x, count)) for name, run in timed.items()}
    runners["native_cpp_loop"] = lambda count: list(native.time(x, warmup=0, iterations=count).samples_ms)
    return runners


def tiny_paths(folder: Path) -> dict[str, Callable[[int], list[float]]]:
    torch.manual_seed(0)
    tiny = torch.nn.Sequential(torch.nn.Linear(4, 4), torch.nn.Tanh()).eval()
    path = folder / "tiny.pt"
    tsnative.export(tiny, torch.randn(1, 4), path, mode="trace")
    x = torch.randn(1, 4)
    runners: dict[str, Callable[[int], list[float]]] = {}
    # The default engine ("auto": fusion tried on the declared shape, kept only if right and faster), fusion forced
    # on, and off.
    for suffix, fusion in (("", "auto"), ("_fused", "on"), ("_no_fusion", "off")):
        engine = tsnative.Engine(path, warmup_shapes=[(1, 4)], onednn_fusion=fusion)

        def python_calls(count: int, engine: tsnative.Engine = engine) -> list[float]:
            # Per-call cost as the mean of a tight loop: a clock reading per call would cost as much as the call.
            start = time.perf_counter()
            for _ in range(count):
                engine.predict(x)
            return [(time.perf_counter() - start) * 1e3 / count]

        def cpp_loop(count: int, engine: tsnative.Engine = engine) -> list[float]:
            return [statistics.fmean(engine.time(x, warmup=0, iterations=count).samples_ms)]

        runners[f"predict_from_python{suffix}"] = python_calls
        runners[f"raw_cpp_loop{suffix}"] = cpp_loop
    plain = plain_loop()
    runners["plain_cpp_jit_loop"] = lambda count: [plain(str(path), x, count, True) / 1e3]
    runners["plain_cpp_jit_loop_no_grad"] = lambda count: [plain(str(path), x, count, False) / 1e3]
    return runners


def plain_loop() -> Callable[[str, torch.Tensor, int, bool], float]:
    """PLAIN_LOOP_SOURCE compiled as a Python extension (cached by torch.utils.cpp_extension across runs)."""
    from torch.utils.cpp_extension import load_inline

    module = load_inline(
        "tsnative_plain_loop_v2", cpp_sources=PLAIN_LOOP_SOURCE, functions=["plain_forward_us"], extra_cflags=["-O2"]
    )
    return module.plain_forward_us


def gpu_paths(folder: Path, batch: int) -> dict[str, Callable[[int], list[float]]]:
    """ResNet-18 on the GPU, CPU tensor in and CPU tensor out on every path (the copy back synchronises)."""
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval().cuda()
    x = torch.randn(batch, 3, 224, 224)
    pt = folder / "r18_gpu.pt"
    if not pt.exists():
        tsnative.export(model.cpu(), torch.randn(2, 3, 224, 224), pt, mode="trace")
        model.cuda()
    shape = [tuple(x.shape)]
    engines = {
        "native": tsnative.Engine(pt, device="cuda", warmup_shapes=shape),
        "native_cuda_graphs": tsnative.Engine(pt, device="cuda", warmup_shapes=shape, cuda_graphs=True),
        "native_cuda_graphs_pinned": tsnative.Engine(
            pt, device="cuda", warmup_shapes=shape, cuda_graphs=True, pinned_transfers=True
        ),
        "native_cuda_graphs_fp16": tsnative.Engine(
            pt, device="cuda", warmup_shapes=shape, cuda_graphs=True, precision="fp16"
        ),
    }
    for name, engine in engines.items():
        if "graphs" in name and not any(note.startswith("cuda_graphs x") for note in engine.optimizations):
            raise SystemExit(f"{name}: no CUDA graph was captured: {engine.optimizations}")

    def eager(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return model(x.cuda()).cpu()

    expected = eager(x)
    scale = expected.abs().max().item()
    for name, engine in engines.items():
        tolerance = 0.02 * scale if name.endswith("fp16") else 1e-3
        torch.testing.assert_close(
            engine.predict(x), expected, rtol=1e-3, atol=tolerance, msg=lambda m, n=name: f"{n}: {m}"
        )
    timed = {name: timed_in_python(engine.predict) for name, engine in engines.items()} | {
        "eager": timed_in_python(eager)
    }
    return {name: (lambda count, run=run: run(x, count)) for name, run in timed.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--iters", type=int, default=10, help="calls per path per round (ResNet-18)")
    parser.add_argument("--gpu-iters", type=int, default=50, help="calls per path per round (GPU)")
    parser.add_argument("--tiny-calls", type=int, default=5000, help="calls per path per round (tiny module)")
    # Untracked by default: a rerun does not overwrite the README's figures unless --out says so.
    parser.add_argument("--out", type=Path, default=Path("artifacts/speed"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    machine = describe_machine()
    print(machine_line(machine))
    results: dict[str, Any] = {
        "machine": machine,
        "versions": {"torch": torch.__version__, "tsnative": tsnative.__version__},
        "settings": vars(args) | {"out": str(args.out)},
        "resnet18": {},
        "ratios": [],
    }
    with tempfile.TemporaryDirectory() as workdir:
        folder = Path(workdir)
        for batch in (1, 8):
            print(f"ResNet-18 batch {batch}: {args.rounds} interleaved rounds of {args.iters} calls per path ...")
            measured = interleaved_medians(resnet18_paths(folder, batch, args.threads), args.rounds, args.iters)
            results["resnet18"][f"b{batch}"] = measured
            for label, (top, bottom, target) in TARGETS.items():
                ratio = measured[top]["median_ms"] / measured[bottom]["median_ms"]
                results["ratios"].append({"name": label.format(b=batch), "ratio": ratio, "target": target})
        print(f"Tiny module: {args.rounds} interleaved rounds of {args.tiny_calls} calls per path ...")
        tiny = interleaved_medians(tiny_paths(folder), args.rounds, args.tiny_calls)
        results["tiny"] = tiny
        ratio = tiny["predict_from_python"]["median_ms"] / tiny["raw_cpp_loop"]["median_ms"]
        results["ratios"].append(
            {"name": "tiny: predict from Python / raw C++ loop", "ratio": ratio, "target": TINY_TARGET}
        )
        ratio = tiny["predict_from_python_no_fusion"]["median_ms"] / tiny["raw_cpp_loop_no_fusion"]["median_ms"]
        results["ratios"].append(
            {"name": "tiny, no fusion: from Python / C++ loop", "ratio": ratio, "target": TINY_TARGET}
        )
        ratio = tiny["predict_from_python"]["median_ms"] / tiny["plain_cpp_jit_loop"]["median_ms"]
        results["ratios"].append(
            {"name": "tiny: predict from Python / plain C++ jit loop", "ratio": ratio, "target": TINY_PLAIN_TARGET}
        )
        # Context, no target: the engine's own C++ path against the plain loop, which shows where a gap lies.
        for plain in ("plain_cpp_jit_loop", "plain_cpp_jit_loop_no_grad"):
            ratio = tiny["raw_cpp_loop"]["median_ms"] / tiny[plain]["median_ms"]
            results["ratios"].append({"name": f"tiny: engine C++ loop / {plain}", "ratio": ratio, "target": None})
        if torch.cuda.is_available():
            print(f"GPU ResNet-18 batch 1: {args.rounds} interleaved rounds of {args.gpu_iters} calls per path ...")
            measured = interleaved_medians(gpu_paths(folder, 1), args.rounds, args.gpu_iters)
            results["gpu"] = {"device": torch.cuda.get_device_name(), "resnet18_b1": measured}
            name, top, bottom, target = GPU_TARGET
            ratio = measured[top]["median_ms"] / measured[bottom]["median_ms"]
            results["ratios"].append({"name": name, "ratio": ratio, "target": target})
        else:
            results["gpu"] = "not measured: no CUDA device on this machine"

    print()
    print(machine_line(machine))
    for batch, paths in results["resnet18"].items():
        line = "  ".join(f"{name} {value['median_ms']:.2f}" for name, value in paths.items())
        print(f"resnet18 {batch} median ms: {line}")
    if isinstance(results["gpu"], dict):
        line = "  ".join(f"{name} {value['median_ms']:.3f}" for name, value in results["gpu"]["resnet18_b1"].items())
        print(f"resnet18 b1 on {results['gpu']['device']} median ms: {line}")
    tiny_line = "  ".join(f"{name} {value['median_ms'] * 1e3:.1f} us" for name, value in tiny.items())
    print(f"tiny per call: {tiny_line}")
    print()
    for item in results["ratios"]:
        if item["target"] is None:
            print(f"{item['name']:<55} {item['ratio']:6.3f}   (context)")
            continue
        verdict = "met" if item["ratio"] <= item["target"] else "MISSED"
        print(f"{item['name']:<55} {item['ratio']:6.3f}   target <= {item['target']:.2f}   {verdict}")
    if not isinstance(results["gpu"], dict):
        print(f"GPU: {results['gpu']}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "speed.json").write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {args.out / 'speed.json'}")


if __name__ == "__main__":
    main()
