"""tsnative.triton: Triton model repositories for exported files, parsed with Triton's own ModelConfig protobuf
(tritonclient ships it) and checked field by field against the export metadata. No Triton server runs here: the
model in the repository is also called the way the PyTorch backend calls it (torch.jit.load or the AOTInductor
loader, inputs shaped by the parsed config) and its outputs checked against the config."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import pytest
import torch
from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

import tsnative
from conftest import Recurrent, small_conv_net
from tsnative.triton import DEFAULT_MAX_BATCH_SIZE, model_config, write_repository

TORCH_DTYPES = {
    "TYPE_BOOL": torch.bool,
    "TYPE_UINT8": torch.uint8,
    "TYPE_INT8": torch.int8,
    "TYPE_INT16": torch.int16,
    "TYPE_INT32": torch.int32,
    "TYPE_INT64": torch.int64,
    "TYPE_FP16": torch.float16,
    "TYPE_FP32": torch.float32,
    "TYPE_FP64": torch.float64,
}


def parse(text: str) -> model_config_pb2.ModelConfig:
    """The text as Triton reads config.pbtxt: an unknown field or a malformed value raises ParseError."""
    return text_format.Parse(text, model_config_pb2.ModelConfig())


def data_type(config_type: int) -> str:
    return model_config_pb2.DataType.Name(config_type)


def metadata(path: Path) -> dict[str, Any]:
    return json.loads(tsnative._C.read_metadata(str(path)))


def request_shape(tensor: model_config_pb2.ModelInput, max_batch_size: int, batch: int) -> list[int]:
    """A request's shape for the tensor: Triton prepends the batch when it batches; -1 dims take `batch`."""
    dims = [batch, *tensor.dims] if max_batch_size > 0 else list(tensor.dims)
    return [batch if d == -1 else d for d in dims]


def call_as_the_backend_does(model_file: Path, config: model_config_pb2.ModelConfig, batch: int = 3) -> list[Any]:
    """Runs the repository's model file with inputs made from the parsed config, as the PyTorch backend would
    (TorchScript: torch.jit.load and forward, a dict input by its keys; torch_aoti: the package loader), and checks
    each output's dtype and shape against the config."""
    inputs = [
        torch.randn(request_shape(i, config.max_batch_size, batch)).to(TORCH_DTYPES[data_type(i.data_type)])
        for i in config.input
    ]
    if config.platform == "torch_aoti":
        outputs = torch._inductor.aoti_load_package(str(model_file))(*inputs)
    else:
        module = torch.jit.load(str(model_file))
        names = [i.name for i in config.input]
        if all(name.startswith("INPUT__") for name in names):
            ordered = sorted(zip(names, inputs, strict=True), key=lambda pair: int(pair[0].removeprefix("INPUT__")))
            outputs = module(*(tensor for _, tensor in ordered))
        else:
            outputs = module(dict(zip(names, inputs, strict=True)))
    outputs = list(outputs) if isinstance(outputs, (tuple, list)) else [outputs]
    assert len(outputs) == len(config.output)
    for index, (tensor, out) in enumerate(zip(outputs, config.output, strict=True)):
        assert out.name == f"OUTPUT__{index}"
        assert tensor.dtype == TORCH_DTYPES[data_type(out.data_type)]
        if out.HasField("reshape"):
            assert list(tensor.shape) == list(out.reshape.shape)
        else:
            assert list(tensor.shape) == request_shape(out, config.max_batch_size, batch)
    return outputs


@pytest.fixture(scope="module")
def resnet18_pt(tmp_path_factory: pytest.TempPathFactory) -> tuple[torch.nn.Module, Path]:
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    path = tmp_path_factory.mktemp("r18") / "r18.pt"
    tsnative.export(model, torch.randn(2, 3, 224, 224), path)
    return model, path


@pytest.fixture(scope="module")
def conv_pt2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("conv_pt2") / "conv.pt2"
    tsnative.export(small_conv_net(), torch.randn(2, 3, 16, 16), path)
    return path


def test_resnet18_repository_every_field(resnet18_pt: tuple[torch.nn.Module, Path], tmp_path: Path) -> None:
    model, path = resnet18_pt
    recorded = metadata(path)
    folder = write_repository(path, tmp_path / "models")

    assert folder == tmp_path / "models" / "r18"
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) == ["1", "1/model.pt", "config.pbtxt"]
    assert (folder / "1" / "model.pt").read_bytes() == path.read_bytes()
    assert not [p for p in (tmp_path / "models").iterdir() if p != folder]  # no draft left beside it

    config = parse((folder / "config.pbtxt").read_text())
    assert config.name == "r18"
    assert config.backend == "pytorch" and config.platform == "pytorch_libtorch"
    assert recorded["dynamic_batch"] and config.max_batch_size == DEFAULT_MAX_BATCH_SIZE
    [image] = recorded["inputs"]
    assert [(i.name, data_type(i.data_type), list(i.dims)) for i in config.input] == [
        ("INPUT__0", "TYPE_FP32", image["shape"][1:])
    ]
    assert [(o.name, data_type(o.data_type), list(o.dims)) for o in config.output] == [
        ("OUTPUT__0", "TYPE_FP32", [model.fc.out_features])
    ]
    assert config.HasField("dynamic_batching")
    assert config.dynamic_batching.max_queue_delay_microseconds == 100
    assert [(g.count, model_config_pb2.ModelInstanceGroup.Kind.Name(g.kind), list(g.gpus)) for g in
            config.instance_group] == [(1, "KIND_CPU", [])]  # fmt: skip
    # Fields left to Triton's defaults stay unset: no scheduler but the dynamic batcher, no version policy.
    assert not config.HasField("sequence_batching") and not config.HasField("version_policy")
    assert config.default_model_filename == ""  # the backend's default, model.pt

    # The backend's checks: as many config inputs as forward takes tensors; a batch of max_batch_size runs.
    assert len(torch.jit.load(str(folder / "1" / "model.pt")).forward.schema.arguments) - 1 == len(config.input)
    [logits] = call_as_the_backend_does(folder / "1" / "model.pt", config, batch=config.max_batch_size)
    assert logits.shape[0] == config.max_batch_size


def test_pt2_package_gets_torch_aoti_unbatched_by_default(conv_pt2: Path, tmp_path: Path) -> None:
    recorded = metadata(conv_pt2)
    folder = write_repository(conv_pt2, tmp_path / "models", name="conv_aoti", version=3)
    assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*")) == [
        "3",
        "3/model.pt2",
        "config.pbtxt",
    ]
    config = parse((folder / "config.pbtxt").read_text())
    assert config.name == "conv_aoti"
    assert config.backend == "pytorch" and config.platform == "torch_aoti"
    # Dynamic batch recorded, but Triton batching of AOTInductor models is not complete upstream: requests pass
    # through whole, the batch dimension -1 in dims.
    assert recorded["dynamic_batch"] and config.max_batch_size == 0
    assert not config.HasField("dynamic_batching")
    assert [(i.name, data_type(i.data_type), list(i.dims)) for i in config.input] == [
        ("INPUT__0", "TYPE_FP32", recorded["inputs"][0]["shape"])
    ]
    assert [(o.name, list(o.dims)) for o in config.output] == [("OUTPUT__0", recorded["outputs"]["shape"])]
    assert [(g.count, g.kind) for g in config.instance_group] == [(1, model_config_pb2.ModelInstanceGroup.KIND_CPU)]
    call_as_the_backend_does(folder / "3" / "model.pt2", config, batch=3)


def test_pt2_package_batches_when_asked_and_stays_on_its_device(conv_pt2: Path) -> None:
    config = parse(model_config(conv_pt2, max_batch_size=4, queue_delay_us=0, instances=2))
    assert config.max_batch_size == 4 and config.HasField("dynamic_batching")
    assert list(config.input[0].dims) == metadata(conv_pt2)["inputs"][0]["shape"][1:]
    assert config.instance_group[0].count == 2
    with pytest.raises(ValueError, match=r"device: conv\.pt2 was compiled for cpu, .*got 'cuda'"):
        model_config(conv_pt2, device="cuda")


def test_two_inputs_and_tuple_outputs_are_numbered_in_order(tmp_path: Path) -> None:
    torch.manual_seed(0)
    path = tsnative.export(Recurrent().eval(), (torch.randn(2, 4), torch.randn(2, 4)), tmp_path / "rnn.pt").path
    text = model_config(path)
    config = parse(text)
    assert [i.name for i in config.input] == ["INPUT__0", "INPUT__1"]
    assert [o.name for o in config.output] == ["OUTPUT__0", "OUTPUT__1"]
    assert all(list(t.dims) == [4] for t in [*config.input, *config.output])
    # The comments say which forward argument each input is.
    assert "# INPUT__0: forward argument 'x'" in text and "# INPUT__1: forward argument 'h'" in text
    call_as_the_backend_does(path, config)


class DictInput(torch.nn.Module):
    def forward(self, features: Dict[str, torch.Tensor]) -> torch.Tensor:
        return features["a"] * 2 + features["b"]


def test_a_single_dict_input_is_named_by_its_keys(tmp_path: Path) -> None:
    example = ({"a": torch.randn(2, 4), "b": torch.randn(2, 4)},)
    path = tsnative.export(DictInput(), example, tmp_path / "dict.pt").path
    config = parse(model_config(path))
    assert [(i.name, list(i.dims)) for i in config.input] == [("a", [4]), ("b", [4])]
    call_as_the_backend_does(path, config)


class Total(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.sum()


def test_a_scalar_output_is_dims_1_reshaped_and_unbatched(tmp_path: Path) -> None:
    path = tsnative.export(Total(), torch.randn(2, 4), tmp_path / "total.pt").path
    config = parse(model_config(path))
    # The batch is dynamic but the output has no batch dimension for Triton to split: no batching.
    assert config.max_batch_size == 0 and not config.HasField("dynamic_batching")
    assert list(config.input[0].dims) == [-1, 4]
    assert list(config.output[0].dims) == [1] and list(config.output[0].reshape.shape) == []
    call_as_the_backend_does(path, config)
    with pytest.raises(ValueError, match=r"max_batch_size: .*OUTPUT__0 \(the output\) has no dynamic batch"):
        model_config(path, max_batch_size=8)


class PairsOfRows(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(2, 4).flip(0)  # only for a batch of exactly 2 rows of 4: a fixed batch


def test_a_fixed_batch_keeps_its_full_shape(tmp_path: Path) -> None:
    path = tsnative.export(PairsOfRows(), torch.randn(2, 4), tmp_path / "pairs.pt").path
    assert not metadata(path)["dynamic_batch"]
    config = parse(model_config(path))
    assert config.max_batch_size == 0 and list(config.input[0].dims) == [2, 4]
    call_as_the_backend_does(path, config)
    with pytest.raises(ValueError, match=r"max_batch_size: .*the file's batch is fixed"):
        model_config(path, max_batch_size=4)


def test_gpu_instances(conv_files: dict[str, Path]) -> None:
    every_gpu = parse(model_config(conv_files["exported"], device="cuda", instances=2)).instance_group
    assert [(g.count, g.kind, list(g.gpus)) for g in every_gpu] == [
        (2, model_config_pb2.ModelInstanceGroup.KIND_GPU, [])
    ]
    one_gpu = parse(model_config(conv_files["exported"], device="cuda:1")).instance_group
    assert [(g.count, g.kind, list(g.gpus)) for g in one_gpu] == [
        (1, model_config_pb2.ModelInstanceGroup.KIND_GPU, [1])
    ]


class ListOutput(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> List[torch.Tensor]:
        return [x + 1, x * 2]


class TupleInput(torch.nn.Module):
    def forward(self, pair: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        return pair[0] + pair[1]


class IntInput(torch.nn.Module):
    def forward(self, x: torch.Tensor, k: int) -> torch.Tensor:
        return x * k


@pytest.mark.parametrize(
    ("model", "example", "message"),
    [
        (ListOutput(), torch.randn(2, 4), r"outputs: .*pytorch_libtorch platform takes a tensor or a tuple of tensors"),
        (TupleInput(), ((torch.randn(2, 4), torch.randn(2, 4)),), r"input forward argument 'pair': .* tuple\["),
        (IntInput(), (torch.randn(2, 4), 3), r"input forward argument 'k': .*this is a int"),
        (
            torch.nn.Linear(4, 2).to(torch.bfloat16),
            torch.randn(2, 4, dtype=torch.bfloat16),
            r"expected one of the dtypes .* got bfloat16",
        ),
    ],
    ids=["list output", "tuple input", "int input", "bfloat16"],
)
def test_what_the_backend_cannot_take_is_refused(
    model: torch.nn.Module, example: Any, message: str, tmp_path: Path
) -> None:
    path = tsnative.export(model.eval(), example, tmp_path / "m.pt").path
    with pytest.raises(ValueError, match=message):
        write_repository(path, tmp_path / "models")
    assert not (tmp_path / "models").exists()


def test_files_it_cannot_describe_are_refused(conv_files: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"script\.pt: no tsnative metadata .*export the model with tsnative\.export"):
        model_config(conv_files["script"])  # saved by torch.jit.save: no record of dtypes and shapes
    with pytest.raises(FileNotFoundError, match=r"missing\.pt"):
        model_config(tmp_path / "missing.pt")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"name": "../up"}, r"name: expected letters, .* got '\.\./up'"),
        ({"name": ".hidden"}, r"name: .* got '\.hidden'"),
        ({"device": "gpu"}, r"device: expected 'cpu', 'cuda' or 'cuda:N', got 'gpu'"),
        ({"instances": 0}, r"instances: expected a positive integer, got 0"),
        ({"max_batch_size": -1}, r"max_batch_size: expected a non-negative integer or None, got -1"),
        ({"queue_delay_us": -5}, r"queue_delay_us: expected a non-negative integer, got -5"),
        ({"version": 0}, r"version: expected a positive integer, got 0"),
    ],
)
def test_arguments_out_of_range_are_refused(
    conv_files: dict[str, Path], tmp_path: Path, options: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        write_repository(conv_files["exported"], tmp_path / "models", **options)
    assert not (tmp_path / "models").exists()


def test_an_existing_model_folder_is_replaced_only_when_asked(conv_files: dict[str, Path], tmp_path: Path) -> None:
    folder = write_repository(conv_files["exported"], tmp_path, name="conv", version=1)
    (folder / "2").mkdir()
    with pytest.raises(FileExistsError, match=r"conv exists; pass overwrite=True"):
        write_repository(conv_files["exported"], tmp_path, name="conv", max_batch_size=0)
    assert parse((folder / "config.pbtxt").read_text()).max_batch_size == DEFAULT_MAX_BATCH_SIZE  # untouched
    write_repository(conv_files["exported"], tmp_path, name="conv", max_batch_size=0, overwrite=True)
    assert parse((folder / "config.pbtxt").read_text()).max_batch_size == 0
    assert not (folder / "2").exists()  # the whole folder was replaced
    assert sorted(p.name for p in tmp_path.iterdir()) == ["conv"]


def tsnative_cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tsnative.cli", *map(str, args)], capture_output=True, text=True, timeout=300
    )


def test_cli_writes_the_repository_and_prints_the_config(conv_files: dict[str, Path], tmp_path: Path) -> None:
    repo = tmp_path / "models"
    result = tsnative_cli("triton", conv_files["exported"], "--repo", repo, "--instances", "2")
    assert result.returncode == 0, result.stderr
    config_file = repo / "exported" / "config.pbtxt"
    assert f"Wrote {config_file} and {repo / 'exported' / '1' / 'model.pt'}" in result.stdout
    assert config_file.read_text() in result.stdout
    assert parse(config_file.read_text()).instance_group[0].count == 2

    again = tsnative_cli("triton", conv_files["exported"], "--repo", repo)
    assert again.returncode == 1
    assert again.stderr.strip().splitlines() == [
        f"tsnative triton: error: {repo / 'exported'} exists; pass overwrite=True (tsnative triton --overwrite) to "
        "replace it, every version in it"
    ]
    unbatched = tsnative_cli("triton", conv_files["exported"], "--repo", repo, "--overwrite", "--max-batch-size", "0")
    assert unbatched.returncode == 0, unbatched.stderr
    assert parse(config_file.read_text()).max_batch_size == 0


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--max-batch-size", "-1", "expected a non-negative integer, got -1"),
        ("--device", "cuda:x", "expected cpu, cuda or cuda:N, got 'cuda:x'"),
        ("--instances", "0", "expected a positive integer, got 0"),
    ],
)
def test_cli_refuses_bad_options_before_reading_the_model(
    tmp_path: Path, option: str, value: str, message: str
) -> None:
    result = tsnative_cli("triton", tmp_path / "missing.pt", "--repo", tmp_path / "models", option, value)
    assert result.returncode == 2
    assert f"argument {option}: {message}" in result.stderr
    assert not (tmp_path / "models").exists()
