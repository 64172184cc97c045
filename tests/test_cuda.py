"""CUDA: the same parity on the GPU. Skipped on machines without CUDA, run for real where there is one."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import tsnative
from conftest import python_reference

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.mark.parametrize("mode", ["trace", "script"])
def test_resnet18_on_cuda_matches_cpu_python(resnet18_files: dict[str, Path], mode: str) -> None:
    path = resnet18_files[mode]
    engine = tsnative.Engine(path, device="cuda")
    assert engine.device == "cuda:0"
    x = torch.randn(2, 3, 224, 224)
    output = engine.predict(x)  # a CPU tensor in, moved to the GPU by the engine
    assert output.device.type == "cpu"
    # cuDNN and CPU kernels differ in summation order: compare with a float32 tolerance fit for 18 layers.
    torch.testing.assert_close(output, python_reference(path)(x), rtol=1e-3, atol=1e-3)


def test_outputs_can_stay_on_device(recurrent_file: Path) -> None:
    engine = tsnative.Engine(recurrent_file, device="cuda:0", outputs_on_device=True)
    x, h0 = torch.randn(2, 4, device="cuda"), torch.randn(2, 4)
    h, c = engine.predict(x, h0)
    assert h.is_cuda and c.is_cuda
    torch.testing.assert_close(h.cpu(), python_reference(recurrent_file)(x.cpu(), h0)[0])


def test_cuda_index_out_of_range(recurrent_file: Path) -> None:
    index = torch.cuda.device_count()
    with pytest.raises(tsnative.DeviceUnavailableError, match=f"has {index} CUDA device"):
        tsnative.Engine(recurrent_file, device=f"cuda:{index}")


def test_threads_on_cuda_match_serial(recurrent_file: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    engine = tsnative.Engine(recurrent_file, device="cuda")
    inputs = [(torch.randn(8, 4), torch.randn(8, 4)) for _ in range(8)]
    serial = [engine.predict(x, h)[0] for x, h in inputs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: [engine.predict(*inputs[i])[0] for _ in range(20)], range(8)))
    for index, outputs in enumerate(results):
        assert all(torch.equal(output, serial[index]) for output in outputs)
