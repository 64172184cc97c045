"""tsnative triton with crafted metadata: recorded text (a model's name, an argument's, the batch's description, the
file's name) can never become a config.pbtxt line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

from tsnative.triton import model_config

# Text that, written into the file unescaped after a comment's "#", would start live config lines.
INJECTED = '\ninstance_group [ { count: 7 kind: KIND_GPU } ]\nmax_batch_size: 99\rname: "other"\u2028'


def parse(text: str) -> model_config_pb2.ModelConfig:
    return text_format.Parse(text, model_config_pb2.ModelConfig())


def crafted_file(path: Path, metadata: dict[str, Any]) -> Path:
    """A scripted Linear(4, 2) whose tsnative.json is `metadata` as given (a file tsnative.export did not write)."""
    module = torch.jit.script(torch.nn.Linear(4, 2).eval())
    torch.jit.save(module, str(path), _extra_files={"tsnative.json": json.dumps(metadata)})
    return path


def linear_metadata(**overrides: Any) -> dict[str, Any]:
    """What tsnative.export records for Linear(4, 2) with a dynamic batch, with `overrides` on top."""
    return {
        "format": "tsnative.metadata/1",
        "model": "Linear",
        "inputs": [{"name": "input", "type": "Tensor", "dtype": "float32", "shape": [-1, 4]}],
        "outputs": {"type": "Tensor", "dtype": "float32", "shape": [-1, 2]},
        "dynamic_batch": True,
        "batch": "dynamic: verified on batch 1, 4",
        "export_mode": "script",
    } | overrides


def without_comments(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith("#")]


def test_recorded_text_cannot_form_config_lines(tmp_path: Path) -> None:
    clean = crafted_file(tmp_path / "clean.pt", linear_metadata())
    crafted = linear_metadata(
        model="Evil" + INJECTED,
        batch="dynamic" + INJECTED,
        inputs=[{"name": "input" + INJECTED, "type": "Tensor", "dtype": "float32", "shape": [-1, 4]}],
    )
    # The file's name is text in the first comment too.
    evil = crafted_file(tmp_path / ("evil" + INJECTED.replace("\u2028", "") + ".pt"), crafted)

    text = model_config(evil, name="clean")
    config = parse(text)
    assert [(g.count, g.kind) for g in config.instance_group] == [(1, model_config_pb2.ModelInstanceGroup.KIND_CPU)]
    assert config.name == "clean" and config.max_batch_size == 8
    # Every line but the comments is what the same file with plain metadata gets.
    assert without_comments(text) == without_comments(model_config(clean))
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert len(comments) == len([line for line in model_config(clean).splitlines() if line.startswith("#")])
    escaped = '\\ninstance_group [ { count: 7 kind: KIND_GPU } ]\\nmax_batch_size: 99\\rname: "other"'
    assert f"(Evil{escaped}\\u2028, TorchScript, script; batch dynamic{escaped}\\u2028)" in comments[0]
    assert f"from evil{escaped}.pt (" in comments[0]
    assert comments[1] == f"# INPUT__0: forward argument 'input{escaped}\\u2028'"


def test_a_backslash_in_recorded_text_is_escaped_too(tmp_path: Path) -> None:
    # Otherwise "a\\n" recorded (a backslash and an n) would read as the escape of a newline.
    path = crafted_file(tmp_path / "m.pt", linear_metadata(model="C:\\new"))
    text = model_config(path)
    assert "(C:\\\\new, TorchScript" in text.splitlines()[0]
