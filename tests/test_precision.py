"""Reduced precision (Engine(precision="bf16" | "fp16")): weights and floating-point inputs converted, outputs
back in float32, within the format's rounding of eager float32. Runs on the CPU; the CUDA variant is in
test_cuda.py."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import torch

import tsnative
from conftest import SmallConvNet, run_tool, save_scripted, small_conv_net

# A few units of each format's rounding (bf16: 2**-8 relative, fp16: 2**-11) over two conv layers and a linear one.
TOLERANCE = {"bf16": {"rtol": 0.02, "atol": 0.005}, "fp16": {"rtol": 0.004, "atol": 0.001}}
DTYPE = {"bf16": torch.bfloat16, "fp16": torch.float16}


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
@pytest.mark.parametrize("kind", ["script", "trace", "exported"])
@pytest.mark.parametrize("freeze", [True, False])
def test_outputs_are_float32_within_the_formats_rounding(
    conv_model: SmallConvNet, conv_files: dict[str, Path], precision: str, kind: str, freeze: bool
) -> None:
    engine = tsnative.Engine(conv_files[kind], precision=precision, freeze=freeze)
    assert engine.precision == precision
    assert f"precision {precision}" in engine.optimizations
    full = tsnative.Engine(conv_files[kind], freeze=freeze)
    torch.manual_seed(1)
    x = torch.randn(4, 3, 16, 16)
    for _ in range(3):  # the profiling executor's first calls, then the optimised graph
        out = engine.predict(x)
    assert out.dtype == torch.float32
    with torch.no_grad():
        torch.testing.assert_close(out, conv_model(x), **TOLERANCE[precision])
    assert not torch.equal(out, full.predict(x))  # the model really ran in the reduced format


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_unfrozen_engine_computes_what_eager_computes_in_that_format(
    conv_model: SmallConvNet, conv_files: dict[str, Path], precision: str
) -> None:
    # Same kernels, same rounding: the engine matches eager PyTorch run on a converted copy of the model to one
    # unit of the format, which shows the weights themselves were converted.
    engine = tsnative.Engine(conv_files["script"], precision=precision, freeze=False, onednn_fusion=False)
    dtype = DTYPE[precision]
    x = torch.randn(2, 3, 16, 16)
    converted = small_conv_net().to(dtype)
    with torch.no_grad():
        expected = converted(x.to(dtype)).float()
    eps = torch.finfo(dtype).eps
    torch.testing.assert_close(engine.predict(x), expected, rtol=eps, atol=eps * expected.abs().max().item())


class Tagger(torch.nn.Module):
    """Integer token ids and a float scale in; float scores and integer predictions out."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = torch.nn.Embedding(10, 6)
        self.head = torch.nn.Linear(6, 3)

    def forward(self, ids: torch.Tensor, scale: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        scores = self.head(self.embedding(ids)) * scale
        return scores, scores.argmax(-1)


def test_integer_tensors_are_left_alone(tmp_path: Path) -> None:
    torch.manual_seed(0)
    tagger = Tagger().eval()
    path = save_scripted(tagger, tmp_path / "tagger.pt")
    engine = tsnative.Engine(path, precision="bf16")
    ids, scale = torch.tensor([[1, 4, 9], [0, 2, 2]]), torch.tensor(0.5)
    scores, labels = engine.predict(ids, scale)
    assert scores.dtype == torch.float32 and labels.dtype == torch.int64
    with torch.no_grad():
        expected_scores, _ = tagger(ids, scale)
    torch.testing.assert_close(scores, expected_scores, **TOLERANCE["bf16"])
    assert torch.equal(labels, scores.argmax(-1))


def test_unknown_precision_is_a_clear_error(conv_files: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match=r'precision: expected "fp32", "fp16" or "bf16", got "int8"'):
        tsnative.Engine(conv_files["script"], precision="int8")  # type: ignore[arg-type]
    assert tsnative.Engine(conv_files["script"]).precision == "fp32"  # the failed load left nothing behind


def test_a_failed_call_leaves_a_reduced_precision_engine_usable(conv_files: dict[str, Path]) -> None:
    engine = tsnative.Engine(conv_files["script"], precision="bf16")
    with pytest.raises(tsnative.InferenceError):
        engine.predict(torch.randn(1, 5, 16, 16))  # 5 channels for a 3-channel convolution
    assert engine.predict(torch.randn(1, 3, 16, 16)).dtype == torch.float32


def test_cuda_options_on_the_cpu(conv_files: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match=r'cuda_graphs: needs a CUDA device, got device "cpu"'):
        tsnative.Engine(conv_files["script"], cuda_graphs=True, warmup_shapes=[(1, 3, 16, 16)])
    # Pinned transfers only concern host-device copies: on the CPU there are none, and nothing is listed.
    engine = tsnative.Engine(conv_files["script"], pinned_transfers=True)
    assert "pinned_transfers" not in engine.optimizations
    x = torch.randn(2, 3, 16, 16)
    assert torch.equal(engine.predict(x), tsnative.Engine(conv_files["script"]).predict(x))


def test_ts_infer_precision(conv_files: dict[str, Path]) -> None:
    run = [conv_files["exported"], "--json", "--precision"]
    report = json.loads(run_tool("ts-infer", *run, "bf16", check=True).stdout)
    assert "precision bf16" in report["optimizations"]
    refused = run_tool("ts-infer", *run, "int8")
    assert refused.returncode == 2
    assert "--precision: int8 not in {fp32,bf16,fp16}" in refused.stderr


def test_slow_reduced_precision_on_the_cpu_is_said_loudly(conv_files: dict[str, Path]) -> None:
    # fp16 on the CPU is slow everywhere; bf16 only where the CPU lacks bf16 instructions.
    with pytest.warns(RuntimeWarning, match="fp16 on the CPU: LibTorch's fp16 CPU kernels are typically many times"):
        engine = tsnative.Engine(conv_files["exported"], precision="fp16")
    assert any(warning.startswith("fp16 on the CPU") for warning in engine.load_report["warnings"])
    bf16_native = tsnative.runtime()["cpu_has_bf16"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        bf16 = tsnative.Engine(conv_files["exported"], precision="bf16")
    said = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
    assert bool(said) != bf16_native and bool(bf16.load_report["warnings"]) != bf16_native
    if not bf16_native:
        assert "bf16 on a CPU without bf16 instructions" in said[0]
    fp32 = tsnative.Engine(conv_files["exported"])
    assert fp32.load_report["warnings"] == []
