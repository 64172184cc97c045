"""CUDA: the same parity on the GPU. Skipped on machines without CUDA, run for real where there is one."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import tsnative
from conftest import python_reference

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@pytest.fixture(autouse=True)
def float32_on_the_gpu():
    """cuDNN computes float32 convolutions in TF32 by default on Ampere and later GPUs (~1e-3 off; on an H200 four
    of these tests failed at 1e-3 against the CPU). These tests compare with float32 on the CPU, so they turn TF32
    off, in this process, which the engine follows (LibTorch's setting is process-wide), and restore it after."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


@pytest.mark.parametrize("tf32", [False, True])
def test_the_engine_follows_the_process_tf32_setting(resnet18_files: dict[str, Path], tf32: bool) -> None:
    # Compared with Python TorchScript on the same GPU under the same setting, frozen as the engine freezes it: the
    # same graph and kernels.
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = tf32
    path = resnet18_files["script"]
    engine = tsnative.Engine(path, device="cuda", outputs_on_device=True)
    module = torch.jit.freeze(torch.jit.load(str(path), map_location="cuda").eval())
    x = torch.randn(2, 3, 224, 224, device="cuda")
    with torch.no_grad():
        expected = module(x)
    tolerance = 1e-3 if tf32 else 1e-4
    torch.testing.assert_close(engine.predict(x), expected, rtol=tolerance, atol=tolerance)


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


@pytest.mark.parametrize(
    "options",
    [{}, {"cuda_graphs": True, "warmup_shapes": [((8, 4), (8, 4))]}],
    ids=["eager", "cuda_graphs"],  # graph replays share buffers: serialised per graph, ordered across streams
)
def test_threads_on_cuda_match_serial(recurrent_file: Path, options: dict) -> None:
    from concurrent.futures import ThreadPoolExecutor

    engine = tsnative.Engine(recurrent_file, device="cuda", **options)
    assert ("cuda_graphs x1" in engine.optimizations) == bool(options)
    inputs = [(torch.randn(8, 4), torch.randn(8, 4)) for _ in range(8)]
    serial = [engine.predict(x, h)[0] for x, h in inputs]
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda i: [engine.predict(*inputs[i])[0] for _ in range(20)], range(8)))
    for index, outputs in enumerate(results):
        assert all(torch.equal(output, serial[index]) for output in outputs)


# --- CUDA graphs, pinned transfers, reduced precision -------------------------------------------------------


def test_cuda_graph_replays_match_eager_and_other_shapes_fall_back(resnet18_files: dict[str, Path]) -> None:
    path = resnet18_files["trace"]
    engine = tsnative.Engine(path, device="cuda", cuda_graphs=True, warmup_shapes=[(1, 3, 224, 224)])
    assert engine.optimizations[-1] == "cuda_graphs x1"
    reference = python_reference(path)
    for batch in (1, 2, 1):  # captured, not captured (eager), captured again
        x = torch.randn(batch, 3, 224, 224)
        torch.testing.assert_close(engine.predict(x), reference(x), rtol=1e-3, atol=1e-3)


def test_cuda_graph_outputs_are_copies(resnet18_files: dict[str, Path]) -> None:
    # A replay writes the graph's own output buffers: what a call returned must not change with the next call.
    path = resnet18_files["trace"]
    engine = tsnative.Engine(
        path, device="cuda", cuda_graphs=True, warmup_shapes=[(1, 3, 224, 224)], outputs_on_device=True
    )
    x1, x2 = torch.randn(1, 3, 224, 224), torch.randn(1, 3, 224, 224)
    first = engine.predict(x1)
    second = engine.predict(x2)
    assert first.is_cuda and first.data_ptr() != second.data_ptr()
    reference = python_reference(path)
    torch.testing.assert_close(first.cpu(), reference(x1), rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(second.cpu(), reference(x2), rtol=1e-3, atol=1e-3)


def test_a_model_that_cannot_be_captured_runs_eagerly(tmp_path: Path) -> None:
    # ControlFlow branches on input.sum() > 0: the host reads a GPU value, which CUDA forbids during capture.
    from conftest import ControlFlow, save_scripted

    torch.manual_seed(0)
    path = save_scripted(ControlFlow(), tmp_path / "control_flow.pt")
    engine = tsnative.Engine(path, device="cuda", cuda_graphs=True, warmup_shapes=[(4,)])
    assert any(note.startswith("cuda_graphs skipped for shapes [4] (") for note in engine.optimizations)
    assert not any(note.startswith("cuda_graphs x") for note in engine.optimizations)
    x = torch.rand(4) + 0.1
    torch.testing.assert_close(engine.predict(x), python_reference(path)(x))
    # The failed capture left CUDA usable, for this engine and others.
    assert tsnative.Engine(path, device="cuda").predict(-x).shape == (4, 4)


def test_cuda_graphs_need_warmup_shapes(recurrent_file: Path) -> None:
    with pytest.raises(ValueError, match="cuda_graphs: give warmup_shapes"):
        tsnative.Engine(recurrent_file, device="cuda", cuda_graphs=True)


def test_pinned_transfers_give_the_same_outputs(resnet18_files: dict[str, Path]) -> None:
    path = resnet18_files["trace"]
    pinned = tsnative.Engine(path, device="cuda", pinned_transfers=True)
    plain = tsnative.Engine(path, device="cuda")
    assert "pinned_transfers" in pinned.optimizations
    x = torch.randn(2, 3, 224, 224)
    output = pinned.predict(x)
    assert output.device.type == "cpu"
    assert torch.equal(output, plain.predict(x))


@pytest.mark.parametrize("precision", ["fp16", "bf16"])
def test_reduced_precision_on_cuda(resnet18_files: dict[str, Path], precision: str) -> None:
    path = resnet18_files["trace"]
    engine = tsnative.Engine(
        path, device="cuda", precision=precision, cuda_graphs=True, warmup_shapes=[(2, 3, 224, 224)]
    )
    assert f"precision {precision}" in engine.optimizations and "cuda_graphs x1" in engine.optimizations
    x = torch.randn(2, 3, 224, 224)
    output = engine.predict(x)
    assert output.dtype == torch.float32
    expected = python_reference(path)(x)
    # 18 layers in a 2-byte format: compare at the scale of the logits.
    scale = expected.abs().max().item()
    torch.testing.assert_close(output, expected, rtol=0.05, atol=0.05 * scale)


class Noisy(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + torch.rand_like(x)


def test_a_model_drawing_random_numbers_is_not_captured(tmp_path: Path) -> None:
    # A replay would repeat the captured random numbers: such a model runs eagerly, and says why.
    from conftest import save_scripted

    path = save_scripted(Noisy(), tmp_path / "noisy.pt")
    engine = tsnative.Engine(path, device="cuda", cuda_graphs=True, warmup_shapes=[(4,)])
    assert "cuda_graphs skipped (the model draws random numbers (aten::rand_like))" in engine.optimizations
    x = torch.zeros(4)
    assert not torch.equal(engine.predict(x), engine.predict(x))


@pytest.mark.parametrize(
    "options", [{}, {"cuda_graphs": True, "warmup_shapes": [(2, 3, 224, 224)]}], ids=["eager", "graphs"]
)
def test_cuda_outputs_are_ordinary_tensors(resnet18_files: dict[str, Path], options: dict) -> None:
    # The same contract as on the CPU: no autograd history, not inference tensors, changeable in place.
    engine = tsnative.Engine(resnet18_files["trace"], device="cuda", outputs_on_device=True, **options)
    out = engine.predict(torch.randn(2, 3, 224, 224))
    assert out.is_cuda and not out.requires_grad and not out.is_inference()
    before = out.clone()
    out.add_(1)
    assert torch.equal(out, before + 1)


def test_cuda_graph_engines_beside_torch_compile_reduce_overhead(resnet18_files: dict[str, Path]) -> None:
    # The outside check's sequence: CUDA-graph engines, then torch.compile(mode="reduce-overhead") recording graphs
    # for batch sizes 1, 8 and 32 (each recording frees every cuBLAS workspace in the process), then the engines
    # again: before the fix, "an illegal memory access" here and an abort at exit.
    import torchvision

    path = resnet18_files["trace"]
    batches = (1, 8)
    engines = {
        b: tsnative.Engine(path, device="cuda", cuda_graphs=True, warmup_shapes=[(b, 3, 224, 224)]) for b in batches
    }
    inputs = {b: torch.randn(b, 3, 224, 224) for b in batches}
    before = {b: engines[b].predict(inputs[b]) for b in batches}
    compiled = torch.compile(torchvision.models.resnet18(weights=None).eval().cuda(), mode="reduce-overhead")
    with torch.no_grad():
        for batch in (1, 8, 32):
            for _ in range(3):
                compiled(torch.randn(batch, 3, 224, 224, device="cuda"))
    torch.cuda.synchronize()
    for b in batches:
        assert torch.equal(engines[b].predict(inputs[b]), before[b])
    torch.cuda.synchronize()
