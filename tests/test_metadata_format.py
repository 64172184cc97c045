"""The metadata format (cpp/src/format/metadata.cpp): one versioned, checked reader and writer, for Python and C++."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
import torch

import tsnative
from tsnative import _C
from tsnative.cli import main as cli_main

NEWER = "metadata: written by a newer tsnative (tsnative.metadata/2); this version reads up to tsnative.metadata/1"
INPUTS = [{"name": "x", "type": "Tensor", "dtype": "float32", "shape": [2, 3]}]


class Small(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x)


def stored_metadata(path: Path) -> str:
    """The tsnative.json extra file as written, read straight from the archive."""
    with zipfile.ZipFile(path) as archive:
        name = next(n for n in archive.namelist() if n.endswith("extra/tsnative.json"))
        return archive.read(name).decode()


def save_with_metadata(path: Path, text: str) -> Path:
    torch.jit.script(torch.nn.ReLU()).save(str(path), _extra_files={"tsnative.json": text})
    return path


def test_the_version_comes_from_the_core() -> None:
    assert _C.METADATA_VERSION == 1
    assert _C.METADATA_FORMAT == "tsnative.metadata/1"


def test_export_writes_through_the_core_and_every_reader_reads_the_same(tmp_path: Path) -> None:
    path = tmp_path / "small.pt"
    torch.manual_seed(0)
    report = tsnative.export(Small(), torch.randn(4, 3), path)
    text = stored_metadata(path)
    assert text.startswith('{\n "format": "tsnative.metadata/1",\n "model": "Small",')  # stamped first, indent 1
    assert _C.read_metadata(str(path)) == text  # C++ reads back what it wrote, unchanged
    assert _C.parse_metadata(text) == text
    assert tsnative.Engine(path).metadata == json.loads(text) == report.metadata
    assert report.metadata["inputs"] == [{"name": "x", "type": "Tensor", "dtype": "float32", "shape": [-1, 3]}]


def test_the_writer_stamps_the_format_and_refuses_what_readers_cannot_take() -> None:
    text = _C.metadata_text(json.dumps({"model": "M", "inputs": INPUTS}))
    assert list(json.loads(text)) == ["format", "model", "inputs"]
    assert json.loads(text)["format"] == _C.METADATA_FORMAT
    with pytest.raises(ValueError, match=r"^metadata: expected strict JSON text \(no NaN or Infinity\)"):
        _C.metadata_text(json.dumps({"inputs": INPUTS, "loss": float("nan")}))
    with pytest.raises(ValueError, match=r'^metadata: expected "format": "tsnative.metadata/1" to write'):
        _C.metadata_text(json.dumps({"format": "tsnative.metadata/2", "inputs": INPUTS}))
    with pytest.raises(ValueError, match=r'^metadata: expected "inputs": a list of the recorded inputs, got none$'):
        _C.metadata_text(json.dumps({"model": "M"}))


def test_a_file_from_a_newer_tsnative_is_refused_at_load_with_a_clear_message(tmp_path: Path) -> None:
    path = save_with_metadata(tmp_path / "newer.pt", json.dumps({"format": "tsnative.metadata/2", "inputs": INPUTS}))
    with pytest.raises(tsnative.ModelLoadError) as raised:
        tsnative.Engine(path)
    assert raised.value.reason == NEWER
    with pytest.raises(ValueError, match=r"^metadata: written by a newer tsnative \(tsnative.metadata/2\); this"):
        _C.read_metadata(str(path))


def test_info_on_a_file_from_a_newer_tsnative_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = save_with_metadata(tmp_path / "newer.pt", json.dumps({"format": "tsnative.metadata/2", "inputs": INPUTS}))
    assert cli_main(["info", str(path)]) == 1
    err = capsys.readouterr().err
    assert NEWER in err and len(err.strip().splitlines()) == 1, err


def test_metadata_without_a_format_is_refused(tmp_path: Path) -> None:
    path = save_with_metadata(tmp_path / "unversioned.pt", json.dumps({"inputs": INPUTS}))
    with pytest.raises(tsnative.ModelLoadError, match=r'metadata: expected "format": "tsnative.metadata/1", got none'):
        tsnative.Engine(path)


def test_legacy_bare_nan_metadata_reads_as_null(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Before tsnative wrote strict JSON, a check that did not run was recorded as a bare NaN.
    metadata = {
        "format": "tsnative.metadata/1",
        "inputs": INPUTS,
        "verification": {"checks": [{"label": "batch 1", "max_abs_diff": float("nan")}]},
    }
    text = json.dumps(metadata)
    assert "NaN" in text
    path = save_with_metadata(tmp_path / "old.pt", text)
    assert json.loads(_C.read_metadata(str(path)))["verification"]["checks"][0]["max_abs_diff"] is None
    engine = tsnative.Engine(path)
    assert engine.predict(torch.tensor([[-1.0, 0.0, 2.0], [1.0, -2.0, 3.0]])).tolist() == [[0, 0, 2], [1, 0, 3]]


def test_a_file_without_metadata_reads_as_empty(tmp_path: Path) -> None:
    path = tmp_path / "plain.pt"
    torch.jit.script(torch.nn.ReLU()).save(str(path))
    assert _C.read_metadata(str(path)) == ""
    assert _C.parse_metadata("") == ""
    assert tsnative.Engine(path).metadata is None


class Classifier(torch.nn.Module):
    """The smallest model fine-tuning takes: a Linear `fc` head over pooled pixels."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.fc = torch.nn.Linear(3, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(x), 1))


def test_fine_tuning_refuses_a_file_from_a_newer_tsnative_before_training(tmp_path: Path) -> None:
    from PIL import Image

    for colour, channel in (("blue", 2), ("red", 0)):
        (tmp_path / "images" / colour).mkdir(parents=True)
        pixels = torch.zeros(8, 8, 3, dtype=torch.uint8)
        pixels[..., channel] = 200
        Image.fromarray(pixels.numpy()).save(tmp_path / "images" / colour / "0.png")
    newer = {"format": "tsnative.metadata/2", "inputs": [{"name": "x", "type": "Tensor", "dtype": "float32"}]}
    path = tmp_path / "newer.pt"
    torch.jit.script(Classifier()).save(str(path), _extra_files={"tsnative.json": json.dumps(newer)})
    epochs: list[Any] = []
    with pytest.raises(tsnative.ModelLoadError) as raised:
        tsnative.finetune(
            path, tmp_path / "images", tmp_path / "images", 2, epochs=1, size=8, out=tmp_path / "tuned.pt",
            progress=epochs.append,
        )  # fmt: skip
    assert raised.value.reason == NEWER
    assert epochs == [] and not (tmp_path / "tuned.pt").exists()
