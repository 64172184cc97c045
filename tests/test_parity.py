"""tsnative.Engine gives the same outputs as Python TorchScript (torch.jit.load then call) on the same file."""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Tuple

import numpy as np
import pytest
import torch

import tsnative
from conftest import ControlFlow, DictAndList, python_reference, save_scripted, save_traced


@pytest.mark.parametrize("mode", ["trace", "script"])
def test_resnet18_matches_python(resnet18_files: dict[str, Path], mode: str) -> None:
    path = resnet18_files[mode]
    engine = tsnative.Engine(path)
    x = torch.randn(2, 3, 224, 224)
    native = engine.predict(x)
    assert native.shape == (2, 1000)
    torch.testing.assert_close(native, python_reference(path)(x))


def test_control_flow_takes_both_branches(tmp_path: Path) -> None:
    torch.manual_seed(0)
    path = save_scripted(ControlFlow(), tmp_path / "control_flow.pt")
    engine, reference = tsnative.Engine(path), python_reference(path)
    positive, negative = torch.rand(4) + 0.1, -torch.rand(4) - 0.1
    assert engine.predict(positive).shape == (4,)  # weight.mv(input)
    assert engine.predict(negative).shape == (4, 4)  # weight + input
    torch.testing.assert_close(engine.predict(positive), reference(positive))
    torch.testing.assert_close(engine.predict(negative), reference(negative))


def test_two_inputs_tuple_outputs(recurrent_file: Path) -> None:
    engine = tsnative.Engine(recurrent_file)
    x, h0 = torch.randn(3, 4), torch.randn(3, 4)
    h, c = engine.predict(x, h0)
    expected_h, expected_c = python_reference(recurrent_file)(x, h0)
    torch.testing.assert_close(h, expected_h)
    torch.testing.assert_close(c, expected_c)
    assert isinstance(engine(x, h0), tuple)
    torch.testing.assert_close(engine(x, h=h0)[0], expected_h)  # keyword arguments by schema name


def test_dict_and_list_inputs_and_outputs(tmp_path: Path) -> None:
    path = save_scripted(DictAndList(), tmp_path / "dict_list.pt")
    features = {"a": torch.randn(5), "b": torch.randn(5)}
    weights = [torch.tensor(2.0), torch.tensor(-1.0)]
    mapping, values = tsnative.Engine(path).predict(features, weights)
    expected_mapping, expected_values = python_reference(path)(features, weights)
    assert isinstance(mapping, dict) and set(mapping) == {"total", "a"}
    assert isinstance(values, list) and len(values) == 2
    torch.testing.assert_close(mapping, expected_mapping)
    torch.testing.assert_close(values, expected_values)


def test_numpy_inputs_anywhere(recurrent_file: Path, tmp_path: Path) -> None:
    engine = tsnative.Engine(recurrent_file)
    x, h0 = np.random.rand(2, 4).astype(np.float32), np.random.rand(2, 4).astype(np.float32)
    h, _ = engine.predict(x, h0)
    assert isinstance(h, torch.Tensor)
    torch.testing.assert_close(h, python_reference(recurrent_file)(torch.from_numpy(x), torch.from_numpy(h0))[0])

    read_only = x.copy()
    read_only.flags.writeable = False
    torch.testing.assert_close(engine.predict(read_only, h0)[0], h)

    # Negative strides (img[..., ::-1], BGR to RGB) cannot be a tensor's: copied, as read-only arrays are.
    flipped = x[:, ::-1]
    expected = python_reference(recurrent_file)(torch.from_numpy(flipped.copy()), torch.from_numpy(h0))[0]
    torch.testing.assert_close(engine.predict(flipped, h0)[0], expected)
    torch.testing.assert_close(engine.predict(x[::-1], h0[::-1])[0], engine.predict(x[::-1].copy(), h0[::-1].copy())[0])

    dict_path = save_scripted(DictAndList(), tmp_path / "dict_list.pt")
    features = {"a": np.ones(3, np.float32), "b": np.zeros(3, np.float32)}
    mapping, _ = tsnative.Engine(dict_path).predict(features, [np.array(2.0, dtype=np.float32)] * 2)
    torch.testing.assert_close(mapping["total"], torch.full((3,), 2.0))


def test_traced_module_with_example_batch(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 3))
    path = save_traced(model, torch.randn(4, 8), tmp_path / "mlp.pt")
    x = torch.randn(7, 8)
    torch.testing.assert_close(tsnative.Engine(path).predict(x), python_reference(path)(x))


class Scalars(torch.nn.Module):
    def forward(
        self, n: int, scale: float = 2.0, tag: str = "x", flag: bool = True
    ) -> Tuple[float, str, bool, Optional[int]]:
        return float(n) * scale, tag + "!", not flag, None


def test_scalars_strings_none_and_defaults(tmp_path: Path) -> None:
    engine = tsnative.Engine(save_scripted(Scalars(), tmp_path / "scalars.pt"))
    assert engine.predict(3) == (6.0, "x!", False, None)
    assert engine.predict(3, 0.5, tag="y", flag=False) == (1.5, "y!", True, None)
    assert engine.predict(np.int64(2)) == (4.0, "x!", False, None)


def test_outputs_carry_no_autograd_history(recurrent_file: Path) -> None:
    x = torch.randn(1, 4, requires_grad=True)
    h, _ = tsnative.Engine(recurrent_file).predict(x, torch.zeros(1, 4))
    assert not h.requires_grad and h.grad_fn is None
