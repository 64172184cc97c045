"""oneDNN Graph fusion is kept only where it was shown to work: tried per call shape, run several times, compared
with the unfused graph, and (in "auto") timed; what happened is in Engine.fusion as facts. Also the one output
contract every engine follows, and load-time state the caller owns."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor, nn
from zoo_models import LinearGeluTanh, OptionalMask

import tsnative
from conftest import SmallConvNet, python_reference


def frozen_file(module: nn.Module, path: Path) -> Path:
    torch.jit.freeze(torch.jit.script(module.eval())).save(str(path))
    return path


def test_a_fused_graph_that_fails_is_never_kept(tmp_path: Path) -> None:
    # LibTorch's fuser raises from the fused graph's second call on this model ("bad optional access").
    path = frozen_file(OptionalMask(), tmp_path / "optional.pt")
    x, mask = torch.randn(3, 6), torch.ones(3, 6)
    for options in ({"onednn_fusion": "on"}, {"warmup_shapes": [((3, 6), (3, 6))]}):
        engine = tsnative.Engine(path, **options)
        reference = python_reference(path)
        for _ in range(4):
            torch.testing.assert_close(engine.predict(x, mask), reference(x, mask), rtol=0, atol=0)
        (trial,) = engine.fusion["trials"]
        assert trial["shape"] == "[3, 6], [3, 6], float"
        assert not trial["verified"] and not trial["kept"]
        assert trial["reason"].startswith("fused call 2 failed: ")
        assert engine.fusion["disabled"] is None


def test_a_fused_graph_that_computes_something_else_is_never_kept(tmp_path: Path) -> None:
    # The fuser computes the erf GELU where the model asks for the tanh approximation: ~1e-4 off, no error.
    torch.manual_seed(0)
    path = frozen_file(LinearGeluTanh(), tmp_path / "gelu.pt")
    engine = tsnative.Engine(path, warmup_shapes=[(4, 16)])
    (trial,) = engine.fusion["trials"]
    assert not trial["verified"] and not trial["kept"]
    assert "differs from the unfused graph" in trial["reason"]
    x = torch.randn(4, 16)
    torch.testing.assert_close(engine.predict(x), python_reference(path)(x), rtol=0, atol=0)


def test_auto_tries_fusion_on_declared_shapes_only(conv_files: dict[str, Path]) -> None:
    engine = tsnative.Engine(conv_files["exported"])
    assert engine.fusion == {
        "mode": "auto",
        "tried": False,
        "skipped_reason": 'no warmup_shapes declared: "auto" tries fusion on declared shapes only',
        "trials": [],
        "disabled": None,
    }
    x = torch.randn(2, 3, 16, 16)
    for _ in range(3):
        out = engine.predict(x)
    assert torch.equal(out, python_reference(conv_files["exported"])(x))  # unfused: Python TorchScript's graph


def test_on_tries_each_new_shape_on_its_first_call(conv_model: SmallConvNet, conv_files: dict[str, Path]) -> None:
    engine = tsnative.Engine(conv_files["exported"], onednn_fusion="on")
    assert engine.fusion["tried"] and engine.fusion["trials"] == []
    torch.manual_seed(3)
    for batch in (1, 3, 1, 3):
        x = torch.randn(batch, 3, 16, 16)
        with torch.no_grad():
            torch.testing.assert_close(engine.predict(x), conv_model(x), rtol=1e-4, atol=1e-5)
    trials = engine.fusion["trials"]
    assert [trial["shape"] for trial in trials] == ["[1, 3, 16, 16]", "[3, 3, 16, 16]"]
    assert all(trial["verified"] and trial["kept"] and trial["fused_ms"] is None for trial in trials)


class Checked(nn.Module):
    """Raises on inputs it refuses (all values negative), as models with input checks do."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(8, 8)

    def forward(self, x: Tensor) -> Tensor:
        torch._assert(bool((x > 0).any()), "expected at least one positive value")
        return torch.relu(self.fc(x))


def test_a_model_error_on_a_fused_engine_is_the_models_and_fusion_stays(tmp_path: Path) -> None:
    torch.manual_seed(0)
    path = frozen_file(Checked(), tmp_path / "checked.pt")
    engine = tsnative.Engine(path, onednn_fusion="on")
    good = torch.randn(4, 8).abs()
    expected = engine.predict(good)
    kept_before = [trial["kept"] for trial in engine.fusion["trials"]]
    with pytest.raises(tsnative.InferenceError, match="expected at least one positive value") as caught:
        engine.predict(-good)
    assert "\n" not in str(caught.value) and "Traceback of TorchScript" in caught.value.detail
    assert engine.fusion["disabled"] is None  # the unfused graph refused it too: not the fuser's fault
    assert [trial["kept"] for trial in engine.fusion["trials"]] == kept_before
    torch.testing.assert_close(engine.predict(good), expected)


def test_fusion_option_values(conv_files: dict[str, Path]) -> None:
    assert tsnative.Engine(conv_files["exported"], onednn_fusion=False).fusion["mode"] == "off"
    assert tsnative.Engine(conv_files["exported"], onednn_fusion=True).fusion["mode"] == "on"
    with pytest.raises(ValueError, match=r'onednn_fusion: expected "auto", "on" or "off", got "sometimes"'):
        tsnative.Engine(conv_files["exported"], onednn_fusion="sometimes")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="option 'onednn_fusion' expected str, got int"):
        tsnative.Engine(conv_files["exported"], onednn_fusion=1)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({"onednn_fusion": "off"}, id="unfused"),
        pytest.param({"onednn_fusion": "on"}, id="fused"),
        pytest.param({"warmup_shapes": [(2, 3, 16, 16)]}, id="declared"),
        pytest.param({"precision": "bf16", "onednn_fusion": "off"}, id="bf16"),
    ],
)
def test_outputs_are_ordinary_tensors_the_caller_owns(conv_files: dict[str, Path], options: dict) -> None:
    # One contract for every engine: no autograd history, not inference tensors, changeable in place.
    engine = tsnative.Engine(conv_files["exported"], **options)
    for _ in range(3):
        out = engine.predict(torch.randn(2, 3, 16, 16))
        assert not out.requires_grad and not out.is_inference()
        before = out.clone()
        out.add_(1)
        assert torch.equal(out, before + 1)


class BufferWeights(nn.Module):
    """Weights held as buffers: no parameters, yet not frozen (its graph reads them through attributes)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("weight", torch.randn(4, 4))

    def forward(self, x: Tensor) -> Tensor:
        return x @ self.weight


def test_frozen_is_decided_from_the_graph_not_the_parameter_count(tmp_path: Path) -> None:
    torch.manual_seed(0)
    module = BufferWeights().eval()
    path = tmp_path / "buffers.pt"
    torch.jit.script(module).save(str(path))
    engine = tsnative.Engine(path, onednn_fusion="on")
    assert engine.optimizations[0] == "freeze"  # before: "frozen" because it had no parameters, so never frozen
    assert engine.fusion["skipped_reason"] == ""
    x = torch.randn(3, 4)
    with torch.no_grad():
        torch.testing.assert_close(engine.predict(x), module(x))
    unfrozen = tsnative.Engine(path, freeze=False, onednn_fusion="on")
    assert unfrozen.fusion["skipped_reason"] == "the module is not frozen"


def test_loading_leaves_the_callers_random_stream_alone(conv_files: dict[str, Path]) -> None:
    torch.manual_seed(11)
    state = torch.random.get_rng_state()
    tsnative.Engine(conv_files["exported"], warmup_shapes=[(2, 3, 16, 16)])  # random warm-up inputs
    assert torch.equal(torch.random.get_rng_state(), state)


class ListInput(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, xs: list[Tensor]) -> Tensor:
        return torch.relu(self.fc(torch.cat(xs)))


def test_on_never_tries_calls_it_cannot_key_and_tries_at_most_eight_shapes(tmp_path: Path) -> None:
    torch.manual_seed(0)
    module = ListInput().eval()
    engine = tsnative.Engine(frozen_file(module, tmp_path / "list.pt"), onednn_fusion="on")
    xs = [torch.randn(2, 4), torch.randn(1, 4)]
    for _ in range(5):  # a list argument has no shape to key a fused executor on: run unfused, never tried
        with torch.no_grad():
            torch.testing.assert_close(engine.predict(xs), module(xs))
    assert engine.fusion["trials"] == []

    path = frozen_file(nn.Sequential(nn.Linear(4, 4), nn.ReLU()), tmp_path / "mlp.pt")
    engine = tsnative.Engine(path, onednn_fusion="on")
    for rows in range(1, 12):
        engine.predict(torch.randn(rows, 4))
    assert len(engine.fusion["trials"]) == 8  # each costs compiled kernels: capped


def layouts_of(shape: tuple[int, ...]) -> dict[str, object]:
    """Inputs of exactly `shape` laid out in memory in every way a caller can pass them."""
    n, c, h, w = shape
    x = torch.randn(shape)
    return {
        "contiguous": x,
        "fortran_numpy": np.asfortranarray(torch.randn(shape).numpy()),
        "h_w_transposed": torch.randn(n, c, w, h).transpose(2, 3),
        "expanded": torch.randn(1, c, h, w).expand(shape),
        "channels_last": torch.randn(shape).contiguous(memory_format=torch.channels_last),
        "sliced": torch.randn(n, c, h, 2 * w)[..., ::2],
    }


@pytest.mark.parametrize("mode", ["on", "auto"])
def test_a_fused_graph_gives_pythons_results_for_every_layout_of_its_shape(
    conv_files: dict[str, Path], mode: str
) -> None:
    # oneDNN Graph's fused kernel reads an input of the verified sizes by the verified strides (LibTorch's guard
    # checks sizes only): a Fortran-ordered array of the declared shape was 0.3 off before the executor's key held
    # the layout.
    shape = (2, 3, 16, 16)
    path = conv_files["exported"]
    engine = tsnative.Engine(path, warmup_shapes=[shape], onednn_fusion=mode)
    reference = python_reference(path)
    assert [trial["kept"] for trial in engine.fusion["trials"]] == [True] or mode == "auto"
    for name, value in layouts_of(shape).items():
        expected = reference(torch.as_tensor(value))
        for _ in range(3):  # a later call must not take a path the first one set up for another layout
            torch.testing.assert_close(engine.predict(value), expected, rtol=1e-4, atol=1e-5, msg=name)


def test_per_shape_executors_give_pythons_results_for_every_layout_of_their_shape(
    conv_files: dict[str, Path],
) -> None:
    shape = (2, 3, 16, 16)
    path = conv_files["exported"]
    engine = tsnative.Engine(path, warmup_shapes=[shape], onednn_fusion="off", executor_per_shape=True)
    reference = python_reference(path)
    for name, value in layouts_of(shape).items():
        expected = reference(torch.as_tensor(value))
        torch.testing.assert_close(engine.predict(value), expected, rtol=1e-4, atol=1e-5, msg=name)
