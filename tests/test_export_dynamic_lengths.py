"""A flat 1-D input whose length varies from call to call (token ids, bag offsets) is recorded dynamic when the model
verifies at other lengths, as the batch is; otherwise it stays the example's, saying why."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import tsnative


class Bags(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.bag = torch.nn.EmbeddingBag(50, 8, mode="mean")

    def forward(self, ids: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        return self.bag(ids, offsets)


@pytest.fixture(scope="module")
def bags(tmp_path_factory: pytest.TempPathFactory) -> tuple[Bags, Path, tsnative.ExportReport]:
    torch.manual_seed(0)
    model = Bags().eval()
    ids, offsets = torch.randint(0, 50, (23,)), torch.tensor([0, 5, 12, 18])
    path = tmp_path_factory.mktemp("bags") / "bags.pt"
    return model, path, tsnative.export(model, (ids, offsets), path)


def test_embedding_bag_runs_at_other_lengths(bags: tuple[Bags, Path, tsnative.ExportReport]) -> None:
    model, path, report = bags
    assert report.passed, str(report)
    engine = tsnative.Engine(path)
    generator = torch.Generator().manual_seed(1)
    for count, offsets in [(9, [0, 2, 5, 7]), (1, [0, 0, 0, 0]), (40, [0, 10, 20, 30]), (9, [0, 4]), (23, [0])]:
        ids = torch.randint(0, 50, (count,), generator=generator)
        offsets = torch.tensor(offsets)
        with torch.no_grad():
            expected = model(ids, offsets)
        torch.testing.assert_close(engine.predict(ids, offsets), expected)
        torch.testing.assert_close(engine.predict(ids.numpy(), offsets.numpy()), expected)  # numpy in, as documented
    assert isinstance(engine.predict(np.arange(9), np.array([0, 3])), torch.Tensor)


def test_embedding_bag_metadata_records_the_lengths_dynamic(bags: tuple[Bags, Path, tsnative.ExportReport]) -> None:
    _, path, report = bags
    recorded = tsnative.Engine(path).metadata
    assert [(i["name"], i["dtype"], i["shape"]) for i in recorded["inputs"]] == [
        ("ids", "int64", [-1]),
        ("offsets", "int64", [-1]),
    ]
    assert recorded["outputs"]["shape"] == [-1, 8]  # one row per bag: as many as offsets
    # ids shorter than the last offset are refused by eager itself: not held against the length.
    assert report.lengths == "23 dynamic: verified at 25; 4 dynamic: verified at 1, 6"
    assert recorded["lengths"] == report.lengths
    assert "  lengths: 23 dynamic: verified at 25; 4 dynamic: verified at 1, 6" in str(report)
    assert not recorded["dynamic_batch"]  # no input of rank 2: nothing is a batch
    labels = {check.label: check for check in report.checks}
    assert labels["len 23->1"].skipped and "offsets[-1] can not be greater" in labels["len 23->1"].problem
    assert labels["len 23->25"].passed and labels["len 4->6"].passed and labels["len 4->1"].passed


class FixedLength(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(4, 2).sum(0)  # exactly 8 values


class TracedLength(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * len(x)  # a trace bakes the length in as a constant (a Python int)


def test_a_length_the_model_does_not_take_stays_fixed(tmp_path: Path) -> None:
    report = tsnative.export(FixedLength(), torch.randn(8), tmp_path / "fixed.pt")
    assert report.passed, str(report)
    assert report.metadata["inputs"][0]["shape"] == [8]
    assert report.lengths.startswith("8 fixed: len 8->1: eager raised RuntimeError: shape '[4, 2]' is invalid")
    with pytest.raises(ValueError, match=r"input 'x': expected float32 tensor of shape \[8\], got float32 \[5\]"):
        tsnative.Engine(tmp_path / "fixed.pt").predict(torch.randn(5))


def test_a_trace_that_baked_the_length_in_is_caught(tmp_path: Path) -> None:
    report = tsnative.export(TracedLength(), torch.randn(6), tmp_path / "traced.pt", mode="trace", strict=False)
    assert not report.passed
    assert report.lengths.startswith("6 fixed: len 6->1: ")
    assert report.metadata["inputs"][0]["shape"] == [6]
    assert tsnative.export(TracedLength(), torch.randn(6), tmp_path / "scripted.pt").metadata["inputs"][0]["shape"] == [
        -1
    ]
