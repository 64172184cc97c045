"""The fine-tuning ts-train does, written in Python with the same settings, for the README's C++-vs-Python figures.

    python benchmarks/finetune_python.py --model r18.pt --train train.txt --test test.txt --classes 10 \\
        --epochs 10 --size 64 --trainable head --json python_head.json

Same steps as tsnative::finetune, in the same order, so that one seed gives the same head and the same batches:
torch.jit.load the unfrozen file, replace fc.weight / fc.bias (uniform +-1/sqrt(in) from a torch.Generator seeded
with --seed, weight first), freeze all but the head (head mode: the rest in eval mode), Adam (or SGD with
--momentum), a randperm per epoch from the same generator, nll_loss(log_softmax(logits)), evaluation in eval mode
under no_grad, best test accuracy kept. Data: Pillow decodes, torch resizes (bilinear, antialiased, in float,
rounded to uint8) once up front; batches are ImageNet-normalised as they are drawn. Epoch seconds cover training
and evaluation, not saving.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def read_map_file(map_file: Path, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images [N, 3, size, size] and int64 labels, as tsnative::load_image_dataset reads a map file."""
    images, labels = [], []
    for line in map_file.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        path, label = line.split("\t")
        pixels = torch.from_numpy(np.array(Image.open(map_file.parent / path).convert("RGB"))).permute(2, 0, 1)
        resized = F.interpolate(pixels[None].float(), size=(size, size), mode="bilinear", antialias=True)
        images.append(resized.round().clamp(0, 255).to(torch.uint8)[0])
        labels.append(int(label))
    return torch.stack(images), torch.tensor(labels)


def normalize(images: torch.Tensor) -> torch.Tensor:
    return images.float().div(255).sub(MEAN).div(STD)


def evaluate(module: torch.jit.ScriptModule, images: torch.Tensor, labels: torch.Tensor, batch: int):
    module.eval()
    loss_sum, correct = 0.0, 0
    with torch.no_grad():
        for begin in range(0, len(labels), batch):
            x, y = normalize(images[begin : begin + batch]), labels[begin : begin + batch]
            output = module(x)
            loss_sum += F.nll_loss(F.log_softmax(output, 1), y).item() * len(y)
            correct += int((output.argmax(1) == y).sum())
    return loss_sum / len(labels), correct / len(labels)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--train", type=Path, required=True, help="map file")
    parser.add_argument("--test", type=Path, required=True, help="map file")
    parser.add_argument("--classes", type=int, required=True)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--trainable", choices=["head", "all"], default="head")
    parser.add_argument("--optimizer", choices=["adam", "sgd"], default="adam")
    parser.add_argument("--momentum", type=float, default=0.9, help="SGD only")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=None, help="save the best epoch's model here")
    parser.add_argument("--json", type=Path, default=None, help="write the settings and history here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    start = time.perf_counter()
    train_images, train_labels = read_map_file(args.train, args.size)
    test_images, test_labels = read_map_file(args.test, args.size)
    module = torch.jit.load(str(args.model))
    torch.manual_seed(args.seed)
    generator = torch.Generator().manual_seed(args.seed)
    inputs = module.fc.weight.shape[1]
    bound = 1 / math.sqrt(inputs)
    weight = torch.empty(args.classes, inputs).uniform_(-bound, bound, generator=generator)
    bias = torch.empty(args.classes).uniform_(-bound, bound, generator=generator)
    module.fc.weight, module.fc.bias = torch.nn.Parameter(weight), torch.nn.Parameter(bias)
    for parameter in module.parameters():
        parameter.requires_grad_(args.trainable == "all")
    head = list(module.fc.parameters())
    for parameter in head:
        parameter.requires_grad_(True)
    trainable = list(module.parameters()) if args.trainable == "all" else head
    if args.optimizer == "sgd":
        optimizer: torch.optim.Optimizer = torch.optim.SGD(trainable, lr=args.lr, momentum=args.momentum)
    else:
        optimizer = torch.optim.Adam(trainable, lr=args.lr)
    load_seconds = time.perf_counter() - start
    print(f"Python: {args.model}, trainable {args.trainable}, size {args.size}, {args.epochs} epochs, "
          f"data and model loaded in {load_seconds:.2f} s", flush=True)  # fmt: skip

    history, best = [], None
    for epoch in range(1, args.epochs + 1):
        epoch_start = time.perf_counter()
        if args.trainable == "all":
            module.train()
        else:
            module.eval()
            module.fc.train()
        order = torch.randperm(len(train_labels), generator=generator)
        loss_sum, correct = 0.0, 0
        for begin in range(0, len(order), args.batch):
            rows = order[begin : begin + args.batch]
            x, y = normalize(train_images.index_select(0, rows)), train_labels.index_select(0, rows)
            output = module(x)
            loss = F.nll_loss(F.log_softmax(output, 1), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_sum += loss.item() * len(y)
            correct += int((output.detach().argmax(1) == y).sum())
        train_seconds = time.perf_counter() - epoch_start
        test_loss, test_accuracy = evaluate(module, test_images, test_labels, args.batch)
        record = {
            "epoch": epoch,
            "train_loss": loss_sum / len(order),
            "train_accuracy": correct / len(order),
            "test_loss": test_loss,
            "test_accuracy": test_accuracy,
            "train_seconds": train_seconds,
            "seconds": time.perf_counter() - epoch_start,
            "best": best is None or test_accuracy > best["test_accuracy"],
        }
        history.append(record)
        if record["best"]:
            best = record
            if args.out:
                module.save(str(args.out))
        print(f"epoch {epoch}/{args.epochs}  train loss {record['train_loss']:.4f} acc "
              f"{100 * record['train_accuracy']:5.1f}%  test loss {test_loss:.4f} acc {100 * test_accuracy:5.1f}%  "
              f"{record['seconds']:6.2f} s" + (" *" if record["best"] else ""), flush=True)  # fmt: skip

    if args.json:
        keys = ("classes", "epochs", "lr", "size", "trainable", "seed")
        settings = {key: getattr(args, key) for key in keys} | {"threads": torch.get_num_threads()}
        report = {
            "model": str(args.model),
            "settings": {**settings, "batch_size": args.batch, "optimizer": args.optimizer},
            "train_images": len(train_labels),
            "test_images": len(test_labels),
            "load_seconds": load_seconds,
            "best_epoch": best["epoch"],
            "best_test_accuracy": best["test_accuracy"],
            "history": history,
        }
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
