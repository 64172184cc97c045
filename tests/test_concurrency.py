"""One Engine called from several Python threads: each caller gets its own result, and the GIL is released."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch

import tsnative
from conftest import save_scripted


def test_eight_threads_match_serial_results(recurrent_file: Path) -> None:
    # The first calls for a shape run the profiling (unfused) graph, whose last bits may differ from the
    # optimised one's: warm the shape up so that the serial reference comes from the optimised graph.
    engine = tsnative.Engine(recurrent_file, warmup_shapes=[((8, 4), (8, 4))])
    torch.manual_seed(1)
    inputs = [(torch.randn(8, 4), torch.randn(8, 4)) for _ in range(8)]
    serial = [engine.predict(x, h)[0] for x, h in inputs]

    def calls(index: int) -> list[torch.Tensor]:
        x, h = inputs[index]
        return [engine.predict(x, h)[0] for _ in range(50)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(calls, range(8)))
    for index, outputs in enumerate(results):
        for output in outputs:
            assert torch.equal(output, serial[index]), f"thread {index} got another caller's result"


class Busy(torch.nn.Module):
    """Long enough in C++ for another Python thread to run many iterations meanwhile."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for _ in range(60):
            x = torch.tanh(x @ x)
        return x


def test_gil_is_released_during_forward(tmp_path: Path) -> None:
    engine = tsnative.Engine(save_scripted(Busy(), tmp_path / "busy.pt"))
    x = torch.randn(256, 256) / 16
    engine.predict(x)  # first call: the profiling executor optimises the graph
    counter = [0]
    stop = threading.Event()

    def count() -> None:
        while not stop.is_set():
            counter[0] += 1

    thread = threading.Thread(target=count)
    thread.start()
    try:
        before = counter[0]
        engine.predict(x)
        during = counter[0] - before
    finally:
        stop.set()
        thread.join()
    # With the GIL held for the whole forward, the counting thread could not run at all in the meantime.
    assert during > 1000, f"the counting thread advanced only {during} times while the model ran"
