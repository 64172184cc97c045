"""Every error case: a clear exception of the documented class, no C++ backtrace, and no poisoned engine."""

from __future__ import annotations

import errno
import os
import pickle
from pathlib import Path

import pytest
import torch

import tsnative
from conftest import save_scripted


def assert_clean_load_error(path: Path, reason_part: str) -> None:
    with pytest.raises(tsnative.ModelLoadError) as caught:
        tsnative.Engine(path)
    error = caught.value
    assert isinstance(error, tsnative.TsnativeError) and isinstance(error, RuntimeError)
    assert error.path == str(path)
    assert reason_part in error.reason
    assert str(path) in str(error) and reason_part in str(error)
    assert "Exception raised from" not in str(error)  # LibTorch's C++ backtrace marker
    assert "\n" not in str(error)


def test_missing_file_is_file_not_found(tmp_path: Path) -> None:
    missing = tmp_path / "absent.pt"
    with pytest.raises(FileNotFoundError) as caught:
        tsnative.Engine(missing)
    assert caught.value.errno == errno.ENOENT
    assert caught.value.filename == str(missing)


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "empty.pt").write_bytes(b"")
    assert_clean_load_error(tmp_path / "empty.pt", "the file is empty")


def test_random_bytes(tmp_path: Path) -> None:
    (tmp_path / "random.pt").write_bytes(os.urandom(4096))
    assert_clean_load_error(tmp_path / "random.pt", "not a zip archive")


def test_text_file(tmp_path: Path) -> None:
    (tmp_path / "notes.pt").write_text("this is not a model\n")
    assert_clean_load_error(tmp_path / "notes.pt", "not a zip archive")


def test_truncated_archive(recurrent_file: Path, tmp_path: Path) -> None:
    data = recurrent_file.read_bytes()
    (tmp_path / "truncated.pt").write_bytes(data[: len(data) // 2])
    assert_clean_load_error(tmp_path / "truncated.pt", "truncated or corrupt zip archive")


def test_torch_save_checkpoint(tmp_path: Path) -> None:
    torch.save(torch.nn.Linear(2, 2).state_dict(), tmp_path / "checkpoint.pt")
    assert_clean_load_error(tmp_path / "checkpoint.pt", "it is a torch.save checkpoint")


def test_legacy_pickle_checkpoint(tmp_path: Path) -> None:
    with open(tmp_path / "legacy.pt", "wb") as file:
        pickle.dump({"weight": [1.0, 2.0]}, file, protocol=2)
    assert_clean_load_error(tmp_path / "legacy.pt", "legacy (non-zip) torch.save pickle")


def test_directory(tmp_path: Path) -> None:
    assert_clean_load_error(tmp_path, "it is a directory")


def test_wrong_argument_count(recurrent_file: Path) -> None:
    engine = tsnative.Engine(recurrent_file)
    x = torch.randn(1, 4)
    with pytest.raises(TypeError, match=r"missing argument 'h' \(position 2, Tensor\).*got 1"):
        engine.predict(x)
    with pytest.raises(TypeError, match=r"takes 2 argument\(s\) \(x: Tensor, h: Tensor\), got 3"):
        engine.predict(x, x, x)


def test_wrong_argument_type(recurrent_file: Path) -> None:
    engine = tsnative.Engine(recurrent_file)
    with pytest.raises(TypeError, match=r"^forward\(\): argument 'h' \(position 2\) expected Tensor, got str$"):
        engine.predict(torch.randn(1, 4), "h0")
    with pytest.raises(TypeError, match=r"argument 'x' \(position 1\) expected Tensor, got dict"):
        engine.predict({"x": 1}, torch.randn(1, 4))
    with pytest.raises(TypeError, match=r"unexpected keyword argument 'state'"):
        engine.predict(torch.randn(1, 4), state=torch.randn(1, 4))


def test_model_failure_is_inference_error_and_does_not_poison(recurrent_file: Path) -> None:
    engine = tsnative.Engine(recurrent_file, warmup_shapes=[((2, 4), (2, 4))])  # bitwise-stable from here
    good_x, good_h = torch.randn(2, 4), torch.randn(2, 4)
    reference = engine.predict(good_x, good_h)[0]
    with pytest.raises(tsnative.InferenceError, match="mat1 and mat2 shapes cannot be multiplied") as caught:
        engine.predict(torch.randn(2, 5), good_h)  # Linear(4, 4) given 5 features
    assert "Exception raised from" not in str(caught.value)
    with pytest.raises(TypeError, match="argument 'h' \\(position 2\\) expected Tensor, got None"):
        engine.predict(good_x, None)
    assert torch.equal(engine.predict(good_x, good_h)[0], reference)


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:0", "cuda:1"])
def test_cuda_without_cuda_is_a_clear_error(recurrent_file: Path, device: str) -> None:
    with pytest.raises(
        tsnative.DeviceUnavailableError, match=f'device "{device}" requested, but CUDA is not available'
    ):
        tsnative.Engine(recurrent_file, device=device)


@pytest.mark.parametrize("device", ["gpu", "cuda:x", "meta", ""])
def test_malformed_device_is_value_error(recurrent_file: Path, device: str) -> None:
    with pytest.raises(ValueError, match=r'device: expected "cpu", "cuda" or "cuda:N"'):
        tsnative.Engine(recurrent_file, device=device)


def test_unknown_method_and_bad_threads(tmp_path: Path, recurrent_file: Path) -> None:
    with pytest.raises(ValueError, match=r"method: 'predict' is not a method of .* \(it has: forward\)"):
        tsnative.Engine(recurrent_file, method="predict")
    with pytest.raises(ValueError, match="threads: expected a positive count"):
        tsnative.Engine(recurrent_file, threads=-2)
    path = save_scripted(torch.nn.ReLU(), tmp_path / "relu.pt")
    assert tsnative.Engine(path).predict(torch.tensor([-1.0, 1.0])).tolist() == [0.0, 1.0]


def test_option_values_are_checked_in_one_line(recurrent_file: Path) -> None:
    import numpy as np

    assert tsnative.Engine(recurrent_file, freeze=np.True_).options.freeze  # numpy's bool is a bool
    cases = [
        ({"freeze": 1}, TypeError, "option 'freeze' expected bool, got int"),
        ({"fuse": True}, TypeError, r"Engine\(\) got an unexpected option 'fuse' \(options: device, method"),
        ({"max_archive_bytes": 0}, ValueError, "option 'max_archive_bytes' expected a number >= 1, got 0"),
        ({"sha256": ""}, ValueError, 'sha256: expected 64 hexadecimal digits, got ""'),
        ({"warmup_shapes": [(2**70, 4)]}, ValueError, "warmup_shapes' expected sizes that fit in 64 bits"),
        ({"warmup_shapes": ["1x4"]}, TypeError, "expected a shape as a tuple of ints"),
    ]
    for options, error, message in cases:
        with pytest.raises(error, match=message):
            tsnative.Engine(recurrent_file, **options)


def test_a_container_that_holds_itself_is_a_type_error(recurrent_file: Path) -> None:
    engine = tsnative.Engine(recurrent_file)
    looped: list = []
    looped.append(looped)
    with pytest.raises(TypeError, match=r"expected Tensor, got list \(RecursionError: maximum recursion depth"):
        engine.predict(looped, looped)
    assert engine.predict(torch.ones(1, 4), torch.ones(1, 4))[0].shape == (1, 4)  # still usable
