"""The machine a figure comes from: every benchmark records it beside its figures and prints its one-line summary
(CPU model and instruction set, threads, GPU), since machines of one kind differ (AVX-512 BF16 or only AVX2)."""

from __future__ import annotations

import os
import platform
from typing import Any

import torch

from .._version import __version__

# CPU flags that decide which kernels LibTorch and ONNX Runtime can use (bf16 is fast only with avx512_bf16/amx).
CPU_FLAGS = ("avx", "avx2", "fma", "f16c", "avx512f", "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_bf16")


def describe_machine() -> dict[str, Any]:
    """CPU model and its flags among CPU_FLAGS (None where /proc/cpuinfo cannot be read), cores, torch's intra-op
    threads, ATen's chosen CPU kernels, the GPU, versions and the load average."""
    cpu, flags = platform.processor() or platform.machine(), None
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            lines = cpuinfo.read().splitlines()
        cpu = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("model name")), cpu)
        present = next((set(line.split(":", 1)[1].split()) for line in lines if line.startswith("flags")), set())
        flags = [flag for flag in CPU_FLAGS if flag in present]
    except OSError:  # not Linux: the model name from platform, flags unknown (None)
        pass
    try:
        import onnxruntime

        onnxruntime_version: str | None = onnxruntime.__version__
    except ImportError:
        onnxruntime_version = None
    return {
        "cpu": cpu,
        "cpu_flags": flags,
        "aten_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch": torch.__version__,
        "tsnative": __version__,
        "onnxruntime": onnxruntime_version,
        "python": platform.python_version(),
        "load_average": load_average(),
    }


def machine_line(machine: dict[str, Any]) -> str:
    """One line for the top of a benchmark's output: "AMD EPYC 9B14 (avx2, fma, avx512f, avx512_bf16; ATen AVX512),
    2 threads, no GPU, torch 2.14.1"."""
    # .get: results written before an entry existed still print.
    flags = ", ".join(machine["cpu_flags"]) if machine.get("cpu_flags") is not None else "flags unknown"
    kernels = f"; ATen {machine['aten_cpu_capability']}" if machine.get("aten_cpu_capability") else ""
    threads = f", {machine['threads']} threads" if machine.get("threads") else ""
    gpu = machine.get("gpu") or "no GPU"
    return f"{machine.get('cpu', 'unknown CPU')} ({flags}{kernels}){threads}, {gpu}, torch {machine.get('torch', '?')}"


def load_average() -> list[float] | None:
    """1, 5 and 15-minute load averages: a busy machine's timings are not a quiet machine's."""
    try:
        return [round(value, 2) for value in os.getloadavg()]
    except OSError:  # not available on this platform
        return None
