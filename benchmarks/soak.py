"""Soak figures: what the engine leaves behind over many loads, and whether many batched calls stay flat.

    python benchmarks/soak.py [--cycles 500] [--calls 1000000] [--threads 32] [--max-batch 8]
                              [--pt2 PATH | --skip-pt2] [--out benchmarks/results/soak]

(a) Load/close cycles: ResNet-18 (torchvision, random weights) traced to a .pt, and the same model as a .pt2
    (AOTInductor package; --pt2 passes one in, --skip-pt2 leaves it out), both exported by tsnative.export in a
    child process (this one imports neither torchvision nor Inductor). Each cycle loads an Engine, runs one batch-1
    call and closes it. Before the first cycle, every --every cycles and after the last: RSS (VmRSS in
    /proc/self/status), open file descriptors (/proc/self/fd), threads, memory mappings (those of deleted files: a
    package's shared library left loaded), and the temp dir's entries ($TMPDIR or /tmp: their number and total
    size, this script's own folder left out; other processes write there too, so new entries are named). A file's
    cycles stop early, saying so, once RSS passes --max-rss-mib (default: half the machine's memory).
(b) Batched calls: a tiny model (Linear 16->16 + tanh) with max_batch=8 under --threads caller threads, --calls calls
    in all, cut into --intervals intervals by call number: RSS, file descriptors and threads at each interval's end,
    and each interval's p50/p99/max latency and mean batch. Every 997th call's output is checked against the
    engine's unbatched result for the same input.

The machine (CPU model, its avx2/avx512* flags, ATen's kernels), torch and tsnative versions are printed beside the
figures and recorded in the JSON (--out/soak.json). Figures only: nothing is judged, the exit status is 0.
Shrink everything for a smoke run: --cycles 20 --every 5 --calls 20000 --skip-pt2.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import itertools
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import tsnative
from tsnative.bench.machine import describe_machine, load_average, machine_line

MIB = 1024 * 1024


# --- What the process holds -----------------------------------------------------------------------------------------


def proc_status() -> dict[str, int]:
    """VmRSS, VmHWM (kB) and Threads from /proc/self/status."""
    wanted = {"VmRSS", "VmHWM", "Threads"}
    values: dict[str, int] = {}
    with open("/proc/self/status") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in wanted:
                values[key] = int(rest.split()[0])
    return values


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def mappings() -> tuple[int, int]:
    """Memory mappings (/proc/self/maps), and those of files deleted from disk: a shared library loaded from an
    extracted package and never unloaded stays mapped after its file is gone."""
    with open("/proc/self/maps") as maps:
        lines = maps.read().splitlines()
    return len(lines), sum(line.endswith("(deleted)") for line in lines)


def temp_entries(folder: Path, exclude: Path) -> dict[str, int]:
    """Top-level entries of the temp dir (name -> bytes under it, recursively), `exclude` left out."""
    entries: dict[str, int] = {}
    try:
        names = os.listdir(folder)
    except OSError:
        return entries
    for name in names:
        path = folder / name
        if path == exclude:
            continue
        size = 0
        try:
            if path.is_dir() and not path.is_symlink():
                for root, _, files in os.walk(path, onerror=lambda _: None):
                    for file in files:
                        with contextlib.suppress(OSError):  # removed meanwhile
                            size += os.lstat(os.path.join(root, file)).st_size
            else:
                size = path.lstat().st_size
        except OSError:
            continue
        entries[name] = size
    return entries


class Probe:
    """Samples of RSS, fds, threads and the temp dir, and the temp entries that were not there at the start."""

    def __init__(self, temp: Path, exclude: Path) -> None:
        self.temp, self.exclude = temp, exclude
        self.start = temp_entries(temp, exclude)

    def sample(self, label: str | int, temp: bool = True) -> dict[str, Any]:
        if temp:  # between load cycles; not amid the batched calls, where a collection would stall every caller
            gc.collect()
        status = proc_status()
        row: dict[str, Any] = {
            "at": label,
            "rss_mib": round(status["VmRSS"] / 1024, 1),
            "hwm_mib": round(status["VmHWM"] / 1024, 1),
            "fds": open_fds(),
            "threads": status["Threads"],
        }
        row["maps"], row["deleted_maps"] = mappings()
        if temp:
            entries = temp_entries(self.temp, self.exclude)
            new = sorted(set(entries) - set(self.start))
            row |= {
                "temp_entries": len(entries),
                "temp_mib": round(sum(entries.values()) / MIB, 2),
                "new_temp_entries": len(new),
                "new_temp_mib": round(sum(entries[name] for name in new) / MIB, 2),
                "new_temp_names": new[:10],
            }
        return row


# --- (a) load/close cycles ------------------------------------------------------------------------------------------


def example_input(engine: tsnative.Engine) -> torch.Tensor:
    """A batch-1 input of the shape the file's metadata records (a dynamic batch, -1, becomes 1)."""
    spec = engine.metadata["inputs"][0]
    return torch.randn([1 if size == -1 else size for size in spec["shape"]])


EXPORT = """
import sys, torch, torchvision, tsnative
path, size = sys.argv[1], int(sys.argv[2])
torch.manual_seed(0)
model = torchvision.models.resnet18(weights=None).eval()
options = {"mode": "trace"} if path.endswith(".pt") else {}
tsnative.export(model, torch.randn(2, 3, size, size), path, **options)
"""


def export_resnet18(path: Path, size: int) -> Path:
    """ResNet-18 (random weights, seed 0) exported by tsnative.export in a child process (traced for .pt,
    AOTInductor for .pt2), so that the measured process has not imported torchvision or compiled with Inductor."""
    begin = time.perf_counter()
    subprocess.run([sys.executable, "-c", EXPORT, str(path), str(size)], check=True)
    print(f"export ResNet-18 to {path.name} (child process): {time.perf_counter() - begin:.1f} s", flush=True)
    return path


def memory_total_mib() -> float | None:
    try:
        with open("/proc/meminfo") as meminfo:
            line = next(line for line in meminfo if line.startswith("MemTotal:"))
        return int(line.split()[1]) / 1024
    except (OSError, StopIteration):
        return None


def load_cycles(
    name: str, path: Path, cycles: int, every: int, probe: Probe, max_rss_mib: float | None
) -> dict[str, Any]:
    first = tsnative.Engine(path)
    x = example_input(first)
    first.close()
    del first
    samples = [probe.sample("before")]
    print(f"\n(a) {name}: {path.name} ({path.stat().st_size / MIB:.1f} MiB), {cycles} cycles of load + 1 call + close")
    print_sample_header()
    print_sample(samples[0])
    load_ms: list[float] = []
    stopped = None
    started = time.perf_counter()
    for cycle in range(1, cycles + 1):
        begin = time.perf_counter()
        engine = tsnative.Engine(path)
        load_ms.append((time.perf_counter() - begin) * 1000)
        engine.predict(x)
        engine.close()
        del engine
        rss_mib = proc_status()["VmRSS"] / 1024
        if max_rss_mib is not None and rss_mib > max_rss_mib and cycle < cycles:
            stopped = (
                f"stopped after cycle {cycle} of {cycles}: RSS {rss_mib:.0f} MiB > --max-rss-mib {max_rss_mib:.0f}"
            )
        if cycle % every == 0 or cycle == cycles or stopped:
            samples.append(probe.sample(cycle))
            print_sample(samples[-1])
        if stopped:
            print(f"  {stopped}")
            break
    seconds = time.perf_counter() - started
    cycles = len(load_ms)
    samples.append(probe.sample("after"))
    print_sample(samples[-1])
    before, after = samples[0], samples[-1]
    # Growth per cycle from the first sample after the start (allocator pools and caches settle in the first cycles).
    settled = samples[1] if len(samples) > 2 else before
    settled_cycles = cycles - (settled["at"] if isinstance(settled["at"], int) else 0)
    summary = {
        "rss_growth_mib": round(after["rss_mib"] - before["rss_mib"], 1),
        "rss_growth_per_cycle_kib_after_first_sample": (
            round((after["rss_mib"] - settled["rss_mib"]) * 1024 / settled_cycles, 2) if settled_cycles else None
        ),
        "fds_growth": after["fds"] - before["fds"],
        "threads_growth": after["threads"] - before["threads"],
        "maps_growth": after["maps"] - before["maps"],
        "deleted_maps_growth": after["deleted_maps"] - before["deleted_maps"],
        "new_temp_entries": after["new_temp_entries"],
        "new_temp_mib": after["new_temp_mib"],
    }
    print(
        f"  RSS {before['rss_mib']} -> {after['rss_mib']} MiB ({summary['rss_growth_mib']:+} MiB; "
        f"{summary['rss_growth_per_cycle_kib_after_first_sample']} KiB/cycle after the first sample), fds "
        f"{summary['fds_growth']:+}, threads {summary['threads_growth']:+}, mappings {summary['maps_growth']:+} "
        f"({summary['deleted_maps_growth']:+} of deleted files), temp entries "
        f"{summary['new_temp_entries']:+} ({summary['new_temp_mib']} MiB); load median "
        f"{float(np.median(load_ms)):.1f} ms, {seconds:.1f} s in all"
    )
    return {
        "file": str(path),
        "file_mib": round(path.stat().st_size / MIB, 1),
        "cycles": cycles,
        "stopped_early": stopped,
        "seconds": round(seconds, 2),
        "load_ms": {
            "median": round(float(np.median(load_ms)), 2),
            "p99": round(float(np.percentile(load_ms, 99)), 2),
            "first": round(load_ms[0], 2),
            "last": round(load_ms[-1], 2),
        },
        "samples": samples,
        "summary": summary,
    }


def print_sample_header() -> None:
    print(
        f"  {'cycle':>7} {'RSS MiB':>8} {'HWM MiB':>8} {'fds':>5} {'thr':>4} {'maps':>5} {'del':>4} {'tmp n':>6} "
        f"{'tmp MiB':>8} {'new':>4}"
    )


def print_sample(row: dict[str, Any]) -> None:
    print(
        f"  {row['at']!s:>7} {row['rss_mib']:>8} {row['hwm_mib']:>8} {row['fds']:>5} {row['threads']:>4} "
        f"{row['maps']:>5} {row['deleted_maps']:>4} {row['temp_entries']:>6} {row['temp_mib']:>8} "
        f"{row['new_temp_entries']:>4}"
        + (f"  new: {', '.join(row['new_temp_names'])}" if row["new_temp_names"] else ""),
        flush=True,
    )


# --- (b) batched calls under many threads ---------------------------------------------------------------------------


class Tiny(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(16, 16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.fc(x))


def batched_calls(
    path: Path, calls: int, threads: int, max_batch: int, delay_us: int, intervals: int, probe: Probe
) -> dict[str, Any]:
    engine = tsnative.Engine(path, max_batch=max_batch, batch_delay_us=delay_us)
    plain = tsnative.Engine(path)
    generator = torch.Generator().manual_seed(0)
    inputs = [torch.randn(1, 16, generator=generator) for _ in range(threads)]
    expected = [plain.predict(x) for x in inputs]
    plain.close()
    size = max(1, calls // intervals)
    latency = np.full(calls, np.nan, dtype=np.float32)  # touched now: its pages are not RSS growth later
    counter = itertools.count()
    edges: list[dict[str, Any]] = []  # at each interval's end (by call number): time, RSS, counters
    edges_lock = threading.Lock()
    wrong: list[str] = []
    errors: list[str] = []

    def edge(index: int) -> dict[str, Any]:
        row = probe.sample(index, temp=False) | {"time": time.perf_counter()}
        report = engine.load_report["batching"]
        row |= {"batches": report["batches"], "rows": report["rows"]}
        return row

    def client(thread: int) -> None:
        x, want = inputs[thread], expected[thread]
        predict = engine.predict
        while True:
            index = next(counter)
            if index >= calls:
                return
            if index % size == 0 and index:
                row = edge(index)
                with edges_lock:
                    edges.append(row)
            begin = time.perf_counter()
            try:
                out = predict(x)
            except Exception as error:  # recorded, the soak goes on
                errors.append(f"call {index}: {type(error).__name__}: {error}")
                continue
            latency[index] = time.perf_counter() - begin
            if index % 997 == 0 and not torch.allclose(out, want, rtol=1e-5, atol=1e-6):
                wrong.append(f"call {index} (thread {thread}): max diff {float((out - want).abs().max()):.3g}")

    edges.append(edge(0))
    print(
        f"\n(b) batched calls: {calls:,} calls from {threads} threads, max_batch={max_batch}, "
        f"batch_delay_us={delay_us}, {intervals} intervals of {size:,} calls"
    )
    print(
        f"  {'calls to':>10} {'s':>7} {'calls/s':>9} {'RSS MiB':>8} {'fds':>5} {'thr':>4} {'p50 ms':>8} "
        f"{'p99 ms':>8} {'max ms':>8} {'batch':>6}",
        flush=True,
    )
    workers = [threading.Thread(target=client, args=(t,)) for t in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    seconds = time.perf_counter() - started
    edges.append(edge(calls))
    report = dict(engine.load_report["batching"])
    engine.close()
    # Edges were recorded by whichever thread drew the interval's first call: sort them by call number.
    edges.sort(key=lambda row: row["at"])
    rows: list[dict[str, Any]] = []
    for start, end in itertools.pairwise(edges):
        part = latency[start["at"] : end["at"]]
        part = part[~np.isnan(part)] * 1000
        batches = end["batches"] - start["batches"]
        row = {
            "calls_from": start["at"],
            "calls_to": end["at"],
            "seconds": round(end["time"] - start["time"], 3),
            "calls_per_s": round((end["at"] - start["at"]) / max(end["time"] - start["time"], 1e-9)),
            "rss_mib": end["rss_mib"],
            "fds": end["fds"],
            "threads": end["threads"],
            "p50_ms": round(float(np.percentile(part, 50)), 3) if part.size else None,
            "p99_ms": round(float(np.percentile(part, 99)), 3) if part.size else None,
            "max_ms": round(float(part.max()), 3) if part.size else None,
            "mean_batch": round((end["rows"] - start["rows"]) / batches, 2) if batches else None,
        }
        rows.append(row)
        print(
            f"  {row['calls_to']:>10,} {row['seconds']:>7.2f} {row['calls_per_s']:>9,} {row['rss_mib']:>8} "
            f"{row['fds']:>5} {row['threads']:>4} {row['p50_ms']!s:>8} {row['p99_ms']!s:>8} {row['max_ms']!s:>8} "
            f"{row['mean_batch']!s:>6}"
        )
    measured = rows[1:] or rows  # the first interval includes the warm-up
    summary = {
        "seconds": round(seconds, 2),
        "calls_per_s": round(calls / seconds),
        "rss_mib_start": edges[0]["rss_mib"],
        "rss_mib_after_first_interval": rows[0]["rss_mib"] if rows else None,
        "rss_mib_end": edges[-1]["rss_mib"],
        "fds_start_end": [edges[0]["fds"], edges[-1]["fds"]],
        "threads_start_end": [edges[0]["threads"], edges[-1]["threads"]],
        "p50_ms_min_max_over_intervals": [min(r["p50_ms"] for r in measured), max(r["p50_ms"] for r in measured)],
        "p99_ms_min_max_over_intervals": [min(r["p99_ms"] for r in measured), max(r["p99_ms"] for r in measured)],
        "checked_calls": calls // 997 + 1,
        "wrong_results": len(wrong),
        "errors": len(errors),
    }
    print(
        f"  {calls / seconds:,.0f} calls/s; RSS {summary['rss_mib_start']} -> {summary['rss_mib_after_first_interval']}"
        f" (after interval 1) -> {summary['rss_mib_end']} MiB; p50 over intervals 2-{len(rows)}: "
        f"{summary['p50_ms_min_max_over_intervals'][0]}-{summary['p50_ms_min_max_over_intervals'][1]} ms, p99 "
        f"{summary['p99_ms_min_max_over_intervals'][0]}-{summary['p99_ms_min_max_over_intervals'][1]} ms; "
        f"{summary['wrong_results']} wrong of {summary['checked_calls']} checked, {summary['errors']} errors"
    )
    for line in (wrong + errors)[:5]:
        print(f"  ! {line}")
    return {
        "calls": calls,
        "threads": threads,
        "max_batch": max_batch,
        "batch_delay_us": delay_us,
        "intervals": rows,
        "batching_report": report,
        "summary": summary,
        "wrong": wrong[:20],
        "errors": errors[:20],
    }


# --- main -----------------------------------------------------------------------------------------------------------


def instruction_sets() -> list[str]:
    """avx, avx2 and every avx512* / amx* flag /proc/cpuinfo lists."""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            line = next(line for line in cpuinfo if line.startswith("flags"))
    except (OSError, StopIteration):
        return []
    flags = line.split(":", 1)[1].split()
    return sorted(flag for flag in flags if flag in ("avx", "avx2", "fma") or flag.startswith(("avx512", "amx")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cycles", type=int, default=500, help="load/close cycles per file")
    parser.add_argument("--every", type=int, default=50, help="cycles between samples")
    parser.add_argument("--calls", type=int, default=1_000_000, help="batched calls in all")
    parser.add_argument("--threads", type=int, default=32, help="caller threads for the batched calls")
    parser.add_argument("--max-batch", type=int, default=8)
    parser.add_argument("--delay-us", type=int, default=2000, help="batch_delay_us")
    parser.add_argument("--intervals", type=int, default=20, help="intervals the batched calls are cut into")
    parser.add_argument("--size", type=int, default=224, help="ResNet-18's input height and width")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--pt2", type=Path, help="a .pt2 package to cycle instead of exporting ResNet-18 to one")
    group.add_argument(
        "--skip-pt2",
        action="store_true",
        help="no .pt2 cycles (its export compiles C++: ~20 s here, minutes elsewhere)",
    )
    parser.add_argument("--skip-cycles", action="store_true", help="only the batched calls")
    parser.add_argument("--skip-calls", action="store_true", help="only the load/close cycles")
    parser.add_argument(
        "--max-rss-mib",
        type=float,
        help="stop a file's cycles once RSS passes this (default: half the machine's memory; 0: never)",
    )
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/soak"))
    args = parser.parse_args()
    total_mib = memory_total_mib()
    default_limit = total_mib / 2 if total_mib else None
    max_rss_mib = default_limit if args.max_rss_mib is None else (args.max_rss_mib or None)
    for name in ("cycles", "every", "calls", "threads", "max_batch", "intervals", "size"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')}: expected an integer >= 1, got {getattr(args, name)}")
    every = min(args.every, max(1, args.cycles // 4))  # at least 4 samples during a short run

    machine, runtime = describe_machine(), tsnative.runtime()
    isa = instruction_sets()
    print(machine_line(machine))
    print(f"instruction sets: {' '.join(isa) or 'unknown'}")
    print(
        f"torch {torch.__version__}, tsnative {machine['tsnative']}, LibTorch kernels {runtime['cpu_capability']}, "
        f"{runtime['threads']} intra-op threads, {machine['cores']} cores, load average {machine['load_average']}"
    )
    temp = Path(tempfile.gettempdir())
    work = Path(tempfile.mkdtemp(prefix="tsnative-soak-"))
    probe = Probe(temp, work)
    print(f"temp dir {temp} ({len(probe.start)} entries at the start; this script's files in {work.name}, left out)")
    results: dict[str, Any] = {
        "machine": machine,
        "instruction_sets": isa,
        "runtime": runtime,
        "settings": {key: (str(value) if isinstance(value, Path) else value) for key, value in vars(args).items()},
        "temp_dir": str(temp),
        "temp_entries_at_start": len(probe.start),
        "memory_total_mib": round(total_mib) if total_mib else None,
        "max_rss_mib": round(max_rss_mib) if max_rss_mib else None,
        "load_cycles": {},
    }

    if not args.skip_cycles:
        files = {"pt": export_resnet18(work / "r18.pt", args.size)}
        if args.pt2:
            files["pt2"] = args.pt2
        elif not args.skip_pt2:
            files["pt2"] = export_resnet18(work / "r18.pt2", args.size)
        for name, path in files.items():
            results["load_cycles"][name] = load_cycles(name, path, args.cycles, every, probe, max_rss_mib)
            results["load_cycles"][name]["exported_by_this_run"] = path.parent == work

    if not args.skip_calls:
        torch.manual_seed(0)
        tiny = tsnative.export(Tiny().eval(), torch.randn(2, 16), work / "tiny.pt").path
        results["batched_calls"] = batched_calls(
            tiny, args.calls, args.threads, args.max_batch, args.delay_us, args.intervals, probe
        )

    for file in work.iterdir():
        file.unlink()
    work.rmdir()
    results["temp_at_end"] = probe.sample("end")
    results["load_average_end"] = load_average()
    args.out.mkdir(parents=True, exist_ok=True)
    destination = args.out / "soak.json"
    destination.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\nwrote {destination}")


if __name__ == "__main__":
    main()
