"""Fine-tuning in C++ (tsnative.finetune, ts-train, tsnative finetune): small conv nets exported unfrozen into
tmp_path, trained on generated PNG and JPEG images of three colours."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import tsnative
from conftest import run_tool, save_scripted

COLOURS = {"blue": 2, "green": 1, "red": 0}  # folder name -> the channel that is bright; sorted names: 0, 1, 2
CLASSES = sorted(COLOURS)
SIZE = 16


class SmallNet(torch.nn.Module):
    """Conv, batch norm, pooling, then a Linear `fc`: torchvision's classifier layout in miniature."""

    def __init__(self, classes: int = 7) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.pool = torch.nn.AdaptiveAvgPool2d(1)
        self.fc = torch.nn.Linear(8, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(self.pool(torch.relu(self.bn(self.conv(x)))), 1))


def write_images(root: Path, name: str, per_class: int, seed: int) -> Path:
    """root/<name>/<colour>/<i>.png|.jpg (alternating) and root/<name>.txt listing them with relative paths."""
    rng = np.random.default_rng(seed)
    lines = []
    for label, colour in enumerate(CLASSES):
        folder = root / name / colour
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            pixels = rng.integers(0, 90, (12, 12, 3), dtype=np.uint8)
            pixels[..., COLOURS[colour]] += 150
            file = folder / f"{i:03d}.{'png' if i % 2 else 'jpg'}"
            Image.fromarray(pixels).save(file, quality=95)
            lines.append(f"{file.relative_to(root).as_posix()}\t{label}\n")
    map_file = root / f"{name}.txt"
    map_file.write_text("".join(lines))
    return map_file


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("colours")
    write_images(root, "train", 16, seed=1)
    write_images(root, "test", 6, seed=2)
    return root


@pytest.fixture(scope="module", params=["script", "trace"])
def model(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """SmallNet exported unfrozen by tsnative.export, scripted and traced."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("model") / f"small_{request.param}.pt"
    tsnative.export(SmallNet(), torch.randn(2, 3, SIZE, SIZE), path, mode=request.param, optimize=False)
    return path


def run_finetune(model: Path, images: Path, out: Path, **options: object) -> tsnative.FinetuneHistory:
    settings: dict = {"epochs": 4, "lr": 0.05, "batch_size": 8, "size": SIZE, "progress": False, **options}
    return tsnative.finetune(model, images / "train.txt", images / "test.txt", 3, out=out, **settings)


def tensors(path: Path) -> dict[str, torch.Tensor]:
    """Every parameter and buffer of a TorchScript file, by name."""
    module = torch.jit.load(str(path))
    return {**dict(module.named_parameters()), **dict(module.named_buffers())}


def test_head_training_learns_and_the_saved_file_gives_the_reported_accuracy(
    model: Path, images: Path, tmp_path: Path
) -> None:
    history = run_finetune(model, images, tmp_path / "best.pt")
    assert len(history) == 4 and [epoch.epoch for epoch in history] == [1, 2, 3, 4]
    assert history.best_test_accuracy > 0.8  # chance: 1/3
    assert history.best_test_accuracy == max(epoch.test_accuracy for epoch in history)
    assert history[history.best_epoch - 1].best
    assert (history.train_images, history.test_images) == (48, 18)
    assert history.trainable_parameters == 8 * 3 + 3

    engine = tsnative.Engine(history.out)
    test = tsnative.load_images(images / "test.txt", 3, size=SIZE)
    predicted = engine.predict(test.images).argmax(1)
    assert (predicted == test.labels).double().mean().item() == history.best_test_accuracy
    recorded = engine.metadata
    assert recorded["outputs"]["shape"] == [-1, 3]
    assert recorded["inputs"][0]["shape"] == [-1, 3, SIZE, SIZE]
    assert recorded["finetune"]["best_epoch"] == history.best_epoch
    assert len(recorded["finetune"]["history"]) == 4  # the whole history, also after the best epoch
    assert recorded["finetune"]["settings"]["trainable"] == "head"
    assert recorded["dynamic_batch"] and recorded["batch"].startswith("dynamic")


def test_finetune_leaves_the_callers_random_stream_and_threads_alone(model: Path, images: Path, tmp_path: Path) -> None:
    torch.manual_seed(5)
    state, threads = torch.random.get_rng_state(), torch.get_num_threads()
    run_finetune(model, images, tmp_path / "best.pt", epochs=1, threads=1 if threads > 1 else 2)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.get_num_threads() == threads


def test_head_mode_changes_the_head_alone_parameters_and_buffers(model: Path, images: Path, tmp_path: Path) -> None:
    history = run_finetune(model, images, tmp_path / "best.pt", epochs=2)
    before, after = tensors(model), tensors(history.out)
    assert before.keys() == after.keys()
    assert after["fc.weight"].shape == (3, 8) and after["fc.bias"].shape == (3,)
    for name in before.keys() - {"fc.weight", "fc.bias"}:  # conv, batch norm parameters and running statistics
        torch.testing.assert_close(after[name], before[name], rtol=0, atol=0, msg=f"{name} changed")


def test_all_mode_trains_the_backbone_too(model: Path, images: Path, tmp_path: Path) -> None:
    history = run_finetune(model, images, tmp_path / "best.pt", trainable="all", lr=0.01)
    assert history.best_test_accuracy > 0.8
    assert history.trainable_parameters == history.total_parameters
    before, after = tensors(model), tensors(history.out)
    assert not torch.equal(after["conv.weight"], before["conv.weight"])
    # A scripted model keeps nn.Module's training flag, so batch norm trains on batch statistics and updates its
    # running ones. A trace recorded batch_norm(training=False) as a constant: its statistics stay as exported.
    statistics_moved = not torch.equal(after["bn.running_mean"], before["bn.running_mean"])
    assert statistics_moved == model.name.endswith("_script.pt")


def test_the_same_seed_gives_the_same_history(model: Path, images: Path, tmp_path: Path) -> None:
    def losses(seed: int) -> list[tuple[float, float]]:
        history = run_finetune(model, images, tmp_path / f"seed{seed}.pt", epochs=2, seed=seed, trainable="all")
        return [(epoch.train_loss, epoch.test_loss) for epoch in history]

    assert losses(3) == losses(3)
    assert losses(3) != losses(4)


def test_progress_reports_each_epoch(model: Path, images: Path, tmp_path: Path) -> None:
    seen: list[tsnative.EpochRecord] = []
    history = run_finetune(model, images, tmp_path / "best.pt", epochs=3, progress=seen.append)
    assert seen == list(history)
    assert seen[0].line(3).startswith("epoch 1/3  train loss ")


def test_an_exception_in_the_progress_callback_stops_training(model: Path, images: Path, tmp_path: Path) -> None:
    def stop(record: tsnative.EpochRecord) -> None:
        raise KeyError(f"stopped after epoch {record.epoch}")

    with pytest.raises(KeyError, match="stopped after epoch 1"):
        run_finetune(model, images, tmp_path / "best.pt", progress=stop)
    assert (tmp_path / "best.pt").exists()  # epoch 1 was the best so far, saved before the callback ran


def test_a_file_without_export_metadata_and_an_image_folder(images: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    plain = save_scripted(SmallNet(), tmp_path / "plain.pt")
    history = tsnative.finetune(
        plain, images / "train", images / "test", 3, epochs=3, lr=0.05, batch_size=8, size=SIZE,
        out=tmp_path / "tuned" / "best.pt", progress=False,
    )  # fmt: skip
    assert history.class_names == CLASSES
    assert history.best_test_accuracy > 0.8
    engine = tsnative.Engine(history.out)
    assert engine.metadata["inputs"] == [{"name": "x", "type": "Tensor", "dtype": "float32", "shape": [-1, 3, 16, 16]}]
    assert engine.metadata["finetune"]["class_names"] == CLASSES


def test_map_file_and_image_folder_read_the_same_images(images: Path) -> None:
    listed = tsnative.load_images(images / "train.txt", 3, size=SIZE, normalize=False)
    folder = tsnative.load_images(images / "train", 3, size=SIZE, normalize=False)
    assert folder.class_names == CLASSES and folder.image_folder and not listed.image_folder
    assert listed.files == folder.files  # both in class-folder order here
    torch.testing.assert_close(listed.images, folder.images, rtol=0, atol=0)
    assert torch.equal(listed.labels, folder.labels)
    assert listed.images.dtype == torch.uint8 and listed.images.shape == (48, 3, SIZE, SIZE)


def test_the_loader_decodes_and_resizes_as_pil_and_torch_do(images: Path) -> None:
    """The pipeline the README documents: decode to RGB, bilinear antialiased resize in float, round to uint8,
    then ImageNet normalisation."""
    loaded = tsnative.load_images(images / "train.txt", 3, size=SIZE, normalize=False)
    normalised = tsnative.load_images(images / "train.txt", 3, size=SIZE)
    for file, image in zip(loaded.files, loaded.images, strict=True):
        pixels = torch.from_numpy(np.array(Image.open(file).convert("RGB"))).permute(2, 0, 1).float()
        resized = torch.nn.functional.interpolate(
            pixels[None], size=(SIZE, SIZE), mode="bilinear", align_corners=False, antialias=True
        )
        expected = resized.round().clamp(0, 255).to(torch.uint8)[0]
        # PNG decodes bit-exactly; JPEG decoders (Pillow's libjpeg-turbo and the system's) may differ by a level.
        tolerance = 0 if file.endswith(".png") else 2
        torch.testing.assert_close(image, expected, rtol=0, atol=tolerance, msg=file)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    torch.testing.assert_close(normalised.images, (loaded.images.float() / 255 - mean) / std)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("train/red/001.png 0", "expected 'path<TAB>class_index', got 'train/red/001.png 0'"),
        ("train/red/001.png\tred", "class index 'red' is not an integer"),
        ("train/red/001.png\t-1", "class index -1 is out of range for 3 classes (expected 0 to 2)"),
        ("train/red/001.png\t3", "class index 3 is out of range for 3 classes (expected 0 to 2)"),
        ("train/red/absent.png\t0", "image 'train/red/absent.png' not found"),
        ("broken.png\t0", "image '"),
    ],
)
def test_bad_map_file_lines_name_the_file_and_line(images: Path, tmp_path: Path, line: str, message: str) -> None:
    (tmp_path / "train").symlink_to(images / "train")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    map_file = tmp_path / "bad.txt"
    map_file.write_text(f"# first line: a comment\ntrain/red/000.jpg\t2\n\n{line}\n")
    with pytest.raises(tsnative.DataError) as raised:
        tsnative.load_images(map_file, 3, size=SIZE)
    assert str(raised.value).startswith(f"{map_file}:4: {message}")
    assert (raised.value.path, raised.value.line) == (str(map_file), 4)
    assert isinstance(raised.value, ValueError)
    if line.startswith("broken"):
        assert "cannot decode PNG" in str(raised.value)


def test_an_unreadable_image_in_a_folder_is_named(images: Path, tmp_path: Path) -> None:
    shutil.copytree(images / "test", tmp_path / "test")
    (tmp_path / "test" / "red" / "zz.jpg").write_text("not a jpeg")
    with pytest.raises(tsnative.DataError, match=r"zz\.jpg: not a PNG or JPEG image"):
        tsnative.load_images(tmp_path / "test", 3, size=SIZE)
    with pytest.raises(tsnative.DataError, match=r"expected one folder per class \(4 classes\), found 3"):
        tsnative.load_images(tmp_path / "test", 4, size=SIZE)


def test_a_frozen_export_is_refused_with_the_way_out(images: Path, tmp_path: Path) -> None:
    frozen = tmp_path / "frozen.pt"
    tsnative.export(SmallNet().eval(), torch.randn(2, 3, SIZE, SIZE), frozen)  # optimize=True: frozen
    with pytest.raises(ValueError, match=r"frozen.*--no-optimize"):
        run_finetune(frozen, images, tmp_path / "best.pt")
    assert not (tmp_path / "best.pt").exists()


def test_a_missing_or_unusable_head_is_named(model: Path, images: Path, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"no submodule 'classifier' \(its children: conv, bn, pool, fc\)"):
        run_finetune(model, images, tmp_path / "best.pt", head="classifier")
    with pytest.raises(ValueError, match=r"'bn' is not a Linear layer"):
        run_finetune(model, images, tmp_path / "best.pt", head="bn")


def test_missing_files_and_bad_options(model: Path, images: Path, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        run_finetune(tmp_path / "absent.pt", images, tmp_path / "best.pt")
    with pytest.raises(FileNotFoundError):
        tsnative.finetune(model, tmp_path / "absent.txt", images / "test.txt", 3, progress=False)
    with pytest.raises(ValueError, match='trainable: expected "head" or "all", got "some"'):
        run_finetune(model, images, tmp_path / "best.pt", trainable="some")
    with pytest.raises(ValueError, match="option 'epochs' expected a number >= 1, got 0"):
        run_finetune(model, images, tmp_path / "best.pt", epochs=0)


@pytest.mark.parametrize("mode", ["script", "trace"])
def test_resnet18_head_is_replaced_in_both_export_modes(mode: str, images: Path, tmp_path: Path) -> None:
    torchvision = pytest.importorskip("torchvision")
    torch.manual_seed(0)
    path = tmp_path / f"r18_{mode}.pt"
    tsnative.export(torchvision.models.resnet18(weights=None), torch.randn(2, 3, 32, 32), path, mode=mode,
                    optimize=False)  # fmt: skip
    history = tsnative.finetune(
        path, images / "test.txt", images / "test.txt", 3, epochs=1, size=32, out=tmp_path / "best.pt", progress=False
    )
    assert history.trainable_parameters == 512 * 3 + 3
    assert tsnative.Engine(history.out).predict(torch.randn(2, 3, 32, 32)).shape == (2, 3)


def ts_train(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return run_tool("ts-train", *args)


def test_ts_train_end_to_end(model: Path, images: Path, tmp_path: Path) -> None:
    out = tmp_path / "best.pt"
    common = ["--model", model, "--train", images / "train.txt", "--test", images / "test", "--classes", "3"]
    result = ts_train(*common, "--epochs", "3", "--lr", "0.05", "--batch", "8", "--size", SIZE, "--out", out)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"Fine-tuning {model}: head 'fc' -> 3 classes, trainable head, adam lr 0.05")
    assert [line.split()[1] for line in lines[1:4]] == ["1/3", "2/3", "3/3"]
    assert "train loss " in lines[1] and " test loss " in lines[1] and lines[1].split()[-2:][0] == "s"
    assert lines[-1].startswith("Best: epoch ") and f"saved to {out}" in lines[-1]

    as_json = ts_train(*common, "--epochs", "2", "--size", SIZE, "--out", tmp_path / "j.pt", "--json")
    assert as_json.returncode == 0, as_json.stderr
    report = json.loads(as_json.stdout)  # stdout holds the JSON alone; the progress went to stderr
    assert [epoch["epoch"] for epoch in report["history"]] == [1, 2]
    assert "epoch 1/2" in as_json.stderr
    # The same core from Python, with the same settings and seed, gives the same history.
    history = run_finetune(model, images, tmp_path / "p.pt", epochs=2, lr=1e-3, batch_size=32)
    assert [e["test_loss"] for e in report["history"]] == pytest.approx([e.test_loss for e in history], rel=1e-6)

    infer = run_tool("ts-infer", out)
    assert infer.returncode == 0, infer.stderr
    assert "Output: float32 [1, 3]" in infer.stdout


def test_ts_train_exit_codes(model: Path, images: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("a.png\tzero\n")
    common = ["--model", model, "--test", images / "test.txt", "--classes", "3", "--size", SIZE]
    failed = ts_train(*common, "--train", bad, "--out", tmp_path / "x.pt")
    assert failed.returncode == 1
    assert failed.stderr.strip() == f"Error: {bad}:1: class index 'zero' is not an integer"
    missing = ts_train(*common, "--train", tmp_path / "absent.txt")
    assert missing.returncode == 1 and "absent.txt" in missing.stderr
    for usage in (["--train", bad, "--trainable", "some"], ["--train", bad, "--epochs", "0"], ["--train"]):
        wrong = ts_train(*common, *usage)
        assert wrong.returncode == 2, wrong.stderr
        assert "usage: ts-train" in wrong.stderr


def test_tsnative_finetune_command_and_info(model: Path, images: Path, tmp_path: Path) -> None:
    out = tmp_path / "best.pt"
    command = [sys.executable, "-m", "tsnative.cli", "finetune", "--model", str(model), "--train",
               str(images / "train.txt"), "--test", str(images / "test.txt"), "--classes", "3", "--epochs", "2",
               "--size", str(SIZE), "--lr", "0.05", "--batch", "8", "--out", str(out)]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "epoch 1/2  train loss" in result.stdout and "Best: epoch" in result.stdout
    info = subprocess.run([sys.executable, "-m", "tsnative.cli", "info", str(out)], capture_output=True, text=True)
    assert info.returncode == 0, info.stderr
    assert "fine-tuned  3 classes, trainable head, adam lr 0.05, size 16, 2 epochs: best test accuracy" in info.stdout
    assert "output      float32 [N, 3]" in info.stdout
    assert "verified    at export, before fine-tuning: passed on" in info.stdout  # the export's check, said as such
    bad = subprocess.run([*command[:-2], "--out", str(out), "--trainable", "x"], capture_output=True, text=True)
    assert bad.returncode == 2
    # --json: stdout is the JSON alone (progress and the summary go to stderr), as ts-train --json does.
    as_json = subprocess.run([*command, "--epochs", "1", "--json"], capture_output=True, text=True, timeout=300)
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout)["best_epoch"] == 1
    assert "epoch 1/1  train loss" in as_json.stderr and "Best: epoch" in as_json.stderr


def test_ts_train_refuses_an_unwritable_out_before_training(model: Path, images: Path) -> None:
    # /proc/sys is read-only even for root (a chmod'ed folder is not: root writes there anyway).
    if os.access("/proc/sys", os.W_OK):
        pytest.skip("needs a read-only /proc/sys")
    data = ["--train", images / "train.txt", "--test", images / "test.txt"]
    result = run_tool("ts-train", "--model", model, *data, "--classes", "3", "--out", "/proc/sys/best.pt")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: out: cannot write a file at '/proc/sys/best.pt'")
    assert "epoch 1/" not in result.stdout  # refused before the first epoch, not after it
