"""Dynamic batching on the CPU: ResNet-18 (random weights) exported by tsnative.export, called with batch-1 inputs by
N client threads at once, with the engine's batching off and on, in one run: throughput (images/s) and p50/p99
latency of a call, per number of clients. Writes batching.json and batching.png.

    python benchmarks/batching.py [--out artifacts/batching] [--size 224] [--clients 1,2,4,8,16,32,64]
                                  [--seconds 3] [--warmup-seconds 1] [--rounds 3] [--max-batch 8] [--delay-us 2000]
                                  [--declare]

Each client loops predict(x) for warmup + measured seconds (closed loop: a client sends its next call when the last
returns); a call counts when it ends inside the measured window. "off" is Engine(path); "on" is
Engine(path, max_batch=..., batch_delay_us=...), both with the default options otherwise. For each client count,
off and on alternate for --rounds rounds, so that a change in the machine's speed shows in both; a point's
throughput is over all its rounds and its percentiles over all its calls. "others cpu s" is the CPU time other
processes took during a point's measured windows (the machine has cores x seconds x rounds).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only
import matplotlib.pyplot as plt
import torch
import torchvision

import tsnative
from tsnative.bench.run import _load_average, _machine


def busy_seconds() -> tuple[float, float]:
    """(CPU seconds the whole machine has been busy, CPU seconds this process has used): their changes over a window
    give the CPU time other processes took meanwhile, which a shared machine's timings need beside them."""
    fields = [float(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    ticks = os.sysconf("SC_CLK_TCK")
    mine = os.times()
    return (user + nice + system + irq + softirq + steal) / ticks, mine.user + mine.system


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def segment(engine: tsnative.Engine, clients: int, size: int, warmup_s: float, measured_s: float) -> dict[str, Any]:
    """`clients` threads calling engine.predict on their own batch-1 input for warmup_s + measured_s seconds: the
    latencies of the calls that ended in the measured window, and the counters' changes over it."""
    inputs = [torch.randn(1, 3, size, size) for _ in range(clients)]
    latencies: list[list[float]] = [[] for _ in range(clients)]
    start = time.perf_counter()
    window = (start + warmup_s, start + warmup_s + measured_s)
    edges: dict[str, dict[str, Any]] = {}

    def client(index: int) -> None:
        x, own = inputs[index], latencies[index]
        while True:
            began = time.perf_counter()
            if began >= window[1]:
                return
            engine.predict(x)
            ended = time.perf_counter()
            if window[0] <= ended < window[1]:
                own.append((ended - began) * 1e3)

    def snapshot(name: str, at: float) -> None:  # the batcher's counters and the CPU times at the window's edges
        time.sleep(max(0.0, at - time.perf_counter()))
        edges[name] = {**engine.load_report["batching"], "cpu": busy_seconds()}

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    threads += [
        threading.Thread(target=snapshot, args=("first", window[0])),
        threading.Thread(target=snapshot, args=("last", window[1])),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    (machine_before, mine_before), (machine_after, mine_after) = edges["first"]["cpu"], edges["last"]["cpu"]
    return {
        "latencies_ms": [value for own in latencies for value in own],
        "batches": edges["last"]["batches"] - edges["first"]["batches"],
        "rows": edges["last"]["rows"] - edges["first"]["rows"],
        # CPU seconds other processes used in the window (of cores x measured seconds)
        "others_cpu_s": max(0.0, (machine_after - machine_before) - (mine_after - mine_before)),
    }


def summary(clients: int, batching: str, segments: list[dict[str, Any]], measured_s: float) -> dict[str, Any]:
    """One point from its rounds: throughput over all measured seconds, percentiles of all calls pooled."""
    every = [value for part in segments for value in part["latencies_ms"]]
    batches, rows = sum(part["batches"] for part in segments), sum(part["rows"] for part in segments)
    return {
        "clients": clients,
        "batching": batching,
        "calls": len(every),
        "throughput": round(len(every) / (measured_s * len(segments)), 2),
        "throughput_per_round": [round(len(part["latencies_ms"]) / measured_s, 2) for part in segments],
        "p50_ms": round(percentile(every, 0.50), 2),
        "p99_ms": round(percentile(every, 0.99), 2),
        "mean_ms": round(statistics.fmean(every), 2),
        "mean_batch": round(rows / batches, 2) if batches else None,
        "others_cpu_s": round(sum(part["others_cpu_s"] for part in segments), 2),
    }


def batch_costs(engine: tsnative.Engine, size: int, batches: list[int]) -> list[dict[str, float]]:
    """What batching can gain before any concurrency: one caller, median ms of a call and per image by batch size."""
    costs = []
    for batch in batches:
        x = torch.randn(batch, 3, size, size)
        for _ in range(3):
            engine.predict(x)
        times = []
        for _ in range(max(5, 40 // batch)):
            began = time.perf_counter()
            engine.predict(x)
            times.append((time.perf_counter() - began) * 1e3)
        median = statistics.median(times)
        costs.append({"batch": batch, "ms": round(median, 2), "ms_per_image": round(median / batch, 2)})
    return costs


def plot(results: dict[str, Any], file: Path) -> None:
    rows = results["rows"]
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    for batching, colour, marker in (("off", "#d62728", "o"), ("on", "#2ca02c", "^")):
        mine = [row for row in rows if row["batching"] == batching]
        clients = [row["clients"] for row in mine]
        label = f"batching {batching}"
        left.plot(clients, [row["throughput"] for row in mine], marker=marker, color=colour, label=label)
        right.plot(clients, [row["p50_ms"] for row in mine], marker=marker, color=colour, label=f"p50, {batching}")
        right.plot(clients, [row["p99_ms"] for row in mine], marker=marker, color=colour, linestyle="--",
                   label=f"p99, {batching}")  # fmt: skip
    for axis in (left, right):
        axis.set_xscale("log", base=2)
        axis.set_xticks(results["settings"]["clients"], [str(c) for c in results["settings"]["clients"]])
        axis.set_xlabel("client threads (batch-1 calls)")
        axis.grid(alpha=0.3)
        axis.legend()
    left.set_ylim(bottom=0)
    left.set_ylabel("images / s")
    left.set_title("throughput")
    right.set_yscale("log")
    right.set_ylabel("latency per call, ms")
    right.set_title("latency")
    settings, machine = results["settings"], results["machine"]
    figure.suptitle(
        f"ResNet-18 {settings['size']}x{settings['size']}, CPU: {machine['cpu']} ({machine['cores']} cores, "
        f"{results['runtime']['threads']} intra-op threads); on = max_batch {settings['max_batch']}, "
        f"batch_delay_us {settings['delay_us']}" + ("; batch sizes declared (fused)" if settings["declare"] else ""),
        fontsize=9,
    )
    figure.tight_layout()
    figure.savefig(file, dpi=110)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("artifacts/batching"))
    parser.add_argument("--size", type=int, default=224, help="input height and width")
    parser.add_argument("--clients", default="1,2,4,8,16,32,64")
    parser.add_argument("--seconds", type=float, default=3.0, help="measured seconds per round and point")
    parser.add_argument("--warmup-seconds", type=float, default=1.0, help="unmeasured seconds before each round")
    parser.add_argument("--rounds", type=int, default=3, help="off and on alternate this many times per point")
    parser.add_argument("--max-batch", type=int, default=8)
    parser.add_argument("--delay-us", type=int, default=2000)
    parser.add_argument(
        "--declare", action="store_true", help="declare each engine's batch sizes as warmup_shapes (fused executors)"
    )
    args = parser.parse_args()
    clients = [int(text) for text in args.clients.split(",")]
    machine, runtime = _machine(), tsnative.runtime()
    print(
        f"{machine['cpu']} ({', '.join(machine['cpu_flags'] or [])}), {machine['cores']} cores; LibTorch kernels "
        f"{runtime['cpu_capability']}, {runtime['threads']} intra-op threads; torch {machine['torch']}"
    )
    print(f"load average at start: {_load_average()}")

    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    path = Path(tempfile.mkdtemp(prefix="tsnative-batching-")) / "r18.pt"
    tsnative.export(model, torch.randn(2, 3, args.size, args.size), path, mode="trace")

    def shapes(batches: range) -> list[tuple[int, ...]]:
        return [(batch, 3, args.size, args.size) for batch in batches]

    # --declare: each engine declares the batch sizes it will run, so each gets an executor of its own and oneDNN
    # fusion is tried for it at load (off: 1; on: every size from 1 to max_batch)
    declared = {"off": shapes(range(1, 2)), "on": shapes(range(1, args.max_batch + 1))} if args.declare else {}
    engines = {
        "off": tsnative.Engine(path, warmup_shapes=declared.get("off")),
        "on": tsnative.Engine(
            path, max_batch=args.max_batch, batch_delay_us=args.delay_us, warmup_shapes=declared.get("on")
        ),
    }
    print("optimizations:", {name: engine.optimizations for name, engine in engines.items()})
    # One caller, no batching, the "on" engine's executors: the cost of a call by batch size.
    sizes = sorted({1, 2, 4, args.max_batch})
    costs = batch_costs(tsnative.Engine(path, warmup_shapes=declared.get("on")), args.size, sizes)
    print("one caller, by batch size: " + ", ".join(f"{c['batch']}: {c['ms_per_image']} ms/image" for c in costs))
    for engine in engines.values():  # the profiling executor optimises on its first calls; batch sizes vary in "on"
        segment(engine, 8, args.size, 0.0, 3.0)
    rows = []
    print(
        f"{'clients':>7} {'batching':>8} {'images/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'mean batch':>10} "
        f"{'others cpu s':>12}"
    )
    for count in clients:
        segments: dict[str, list[dict[str, Any]]] = {name: [] for name in engines}
        for _ in range(args.rounds):
            for batching, engine in engines.items():
                segments[batching].append(segment(engine, count, args.size, args.warmup_seconds, args.seconds))
        for batching in engines:
            row = summary(count, batching, segments[batching], args.seconds)
            rows.append(row)
            print(
                f"{count:>7} {batching:>8} {row['throughput']:>9.1f} {row['p50_ms']:>8.1f} {row['p99_ms']:>8.1f} "
                f"{row['mean_batch'] if row['mean_batch'] is not None else '-':>10} {row['others_cpu_s']:>12}"
            )
    target = []
    for count in clients:
        off, on = (next(r for r in rows if r["clients"] == count and r["batching"] == b) for b in ("off", "on"))
        target.append(
            {
                "clients": count,
                "throughput_ratio": round(on["throughput"] / off["throughput"], 2),
                "p99_ratio": round(on["p99_ms"] / off["p99_ms"], 2),
                "met": count < 16 or (on["throughput"] >= 1.5 * off["throughput"] and on["p99_ms"] <= off["p99_ms"]),
            }
        )
    results = {
        "machine": machine,
        "runtime": runtime,
        "load_average": {"end": _load_average()},
        "settings": {
            "size": args.size,
            "clients": clients,
            "seconds": args.seconds,
            "warmup_seconds": args.warmup_seconds,
            "rounds": args.rounds,
            "max_batch": args.max_batch,
            "delay_us": args.delay_us,
            "declare": args.declare,
        },
        "batch_costs": costs,
        "rows": rows,
        "target": target,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    suffix = ("" if args.size == 224 else f"_{args.size}") + ("_declared" if args.declare else "")
    (args.out / f"batching{suffix}.json").write_text(json.dumps(results, indent=1) + "\n")
    plot(results, args.out / f"batching{suffix}.png")
    for item in target:
        print(
            f"{item['clients']:>3} clients: throughput x{item['throughput_ratio']}, p99 x{item['p99_ratio']}"
            + ("" if item["clients"] < 16 else ("  target met" if item["met"] else "  target NOT met"))
        )
    print(f"load average at end: {results['load_average']['end']}; wrote {args.out}/batching{suffix}.json and .png")


if __name__ == "__main__":
    main()
