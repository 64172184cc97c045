""".pt2 export of models that return a registered pytree class of named fields (a dataclass registered with
torch.utils._pytree.register_dataclass, a Hugging Face ModelOutput): the metadata records the output as a dict of
its fields, the names torch.export's call spec gives them, and the engine returns that dict."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any, Optional

import pytest
import torch
import torch.utils._pytree as pytree

import tsnative


@dataclasses.dataclass
class Heads:
    logits: torch.Tensor
    features: torch.Tensor
    aux: Optional[torch.Tensor] = None  # left None: pytree leaves it out of the spec


# A serialized name is what torch.export needs to write the call spec.
pytree.register_dataclass(Heads, serialized_type_name="tests.Heads")


class TwoHeads(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.body = torch.nn.Linear(6, 5)
        self.head = torch.nn.Linear(5, 3)

    def forward(self, x: torch.Tensor) -> Heads:
        features = torch.relu(self.body(x))
        return Heads(logits=self.head(features), features=features)


def spec_field_names(path: Path) -> tuple[str, list[str]]:
    """The package's output treespec (JSON text, as the engine reads it) and the field names of its root node."""
    loader = torch._C._aoti.AOTIModelPackageLoader(str(path), "model", False, 1, -1)
    out_spec = loader.get_call_spec()[1]
    root = json.loads(out_spec)[1]
    context = json.loads(root["context"])
    names = context[0] if len(context) == 2 and isinstance(context[0], list) else context
    return out_spec, names


def fields_of(value: Any) -> dict[str, torch.Tensor]:
    """Eager's output as the engine returns it: the non-None fields by name."""
    if isinstance(value, dict):
        return dict(value)
    return {f.name: getattr(value, f.name) for f in dataclasses.fields(value) if getattr(value, f.name) is not None}


def check_package(model: torch.nn.Module, example: torch.Tensor, path: Path, call: torch.Tensor) -> dict[str, Any]:
    report = tsnative.export(model, example, path)
    assert report.passed, str(report)
    recorded = report.metadata["outputs"]
    out_spec, names = spec_field_names(path)
    assert recorded["type"] == "dict", recorded
    assert list(recorded["items"]) == names, out_spec  # the metadata names the fields as the call spec orders them
    engine = tsnative.Engine(path)
    assert engine.metadata["outputs"] == recorded
    with torch.no_grad():
        expected = fields_of(model(call))
    got = engine.predict(call)
    assert isinstance(got, dict) and list(got) == names
    for name in names:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-4, atol=1e-5)
    return recorded


def test_a_registered_dataclass_output(tmp_path: Path) -> None:
    torch.manual_seed(0)
    recorded = check_package(TwoHeads().eval(), torch.randn(2, 6), tmp_path / "heads.pt2", torch.randn(5, 6))
    assert recorded["class"].endswith(".Heads")
    assert recorded["items"] == {
        "logits": {"type": "Tensor", "dtype": "float32", "shape": [-1, 3]},
        "features": {"type": "Tensor", "dtype": "float32", "shape": [-1, 5]},
    }


def test_a_tiny_bert_model_output(tmp_path: Path) -> None:
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    config = transformers.BertConfig(
        hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=37, vocab_size=100
    )
    model = transformers.BertModel(config).eval()
    example, call = torch.randint(0, 100, (2, 8)), torch.randint(0, 100, (3, 8))
    recorded = check_package(model, example, tmp_path / "bert.pt2", call)
    assert recorded["class"].endswith("BaseModelOutputWithPoolingAndCrossAttentions")
    assert list(recorded["items"]) == ["last_hidden_state", "pooler_output"]
    assert recorded["items"]["last_hidden_state"]["shape"] == [-1, 8, 32]


def test_the_description_and_the_comparison_see_the_fields() -> None:
    from tsnative._export.structure import describe, leaves

    heads = Heads(logits=torch.zeros(2, 3), features=torch.ones(2, 5))
    assert describe(heads) == {
        "type": "dict",
        "class": f"{__name__}.Heads",
        "items": {
            "logits": {"type": "Tensor", "dtype": "float32", "shape": [2, 3]},
            "features": {"type": "Tensor", "dtype": "float32", "shape": [2, 5]},
        },
    }
    # As the engine's dict of the same fields: verification compares them leaf by leaf.
    assert [path for path, _ in leaves(heads)] == [path for path, _ in leaves(fields_of(heads))]
