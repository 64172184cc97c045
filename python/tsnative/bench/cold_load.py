"""Cold load times: each path's first load in a fresh process (file in the page cache, nothing else warm).

Run as ``python -m tsnative.bench.cold_load PATH FILE DEVICE THREADS``; prints the load time in milliseconds.
For the C++ path, ts-infer (a process without Python) reports its own load time.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from tsnative._tools import find_tool


def measure_in_fresh_process(path: str, file: Path, device: str, threads: int) -> float | None:
    """Milliseconds, or None when the path cannot be measured here (e.g. ts-infer not installed)."""
    if path == "native_cpp":
        binary = find_tool("ts-infer")
        if binary is None:
            return None
        command = [binary, str(file), "--device", device, "--threads", str(threads), "--json"]
        result = subprocess.run(command, capture_output=True, text=True, timeout=600)
        return json.loads(result.stdout)["load_ms"] if result.returncode == 0 else None
    command = [sys.executable, "-m", "tsnative.bench.cold_load", path, str(file), device, str(threads)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    return float(result.stdout.strip().splitlines()[-1]) if result.returncode == 0 else None


def _load_once(path: str, file: str, device: str, threads: int) -> float:
    import torch

    from tsnative.bench import paths

    torch.set_num_threads(threads)
    loaders = {
        "eager": lambda: paths.load_eager(Path(file), device),
        "torchscript": lambda: paths.load_torchscript(Path(file), device),
        "native": lambda: paths.Engine(file, device=device),
        "onnxruntime": lambda: paths.load_onnx_session(Path(file), threads),
        "aoti_python": lambda: paths.load_aoti_package(Path(file)),
        "aoti_native": lambda: paths.Engine(file, device=device),
    }
    start = time.perf_counter()
    loaders[path]()
    return (time.perf_counter() - start) * 1e3


if __name__ == "__main__":
    path_name, file_name, device_name, thread_count = sys.argv[1:5]
    print(f"{_load_once(path_name, file_name, device_name, int(thread_count)):.3f}")
