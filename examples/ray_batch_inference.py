"""Offline batch inference with Ray Data over a model exported by tsnative: one tsnative.Engine per Ray actor.

    python examples/ray_batch_inference.py r18.pt --images photos/ --out predictions/   # Parquet files
    python examples/ray_batch_inference.py r18.pt --random 256                          # no images at hand

Ray Data reads and preprocesses the images in parallel tasks and streams batches to TsnativePredictor, a callable
class that runs in a fixed pool of actors (ray.data.ActorPoolStrategy): each actor loads the model once and then
predicts batch after batch. On a cluster the same script scales out: ray.init() joins the cluster that RAY_ADDRESS
names, and --actors sets how many engines run at once.

Needs Ray Data (pip install "ray[data]", or tsnative's "serve" extra); tsnative itself does not.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

import numpy as np

# torchvision's classifiers expect RGB in [0, 1] normalised by ImageNet's mean and standard deviation.
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def to_model_input(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """read_images' uint8 [N, H, W, 3] "image" column to float32 [N, 3, H, W] "input", normalised; other columns
    (the "path" of each image) are kept."""
    images = (batch.pop("image").astype(np.float32) / 255.0 - IMAGENET_MEAN) / IMAGENET_STD
    return {**batch, "input": np.ascontiguousarray(images.transpose(0, 3, 1, 2))}


class TsnativePredictor:
    """A Ray Data ``map_batches`` callable: the model is loaded once per actor, in ``__init__``, and each call
    predicts one batch (a dict of numpy columns): the "logits" and the top "label" of the ``column`` tensors, beside
    the batch's other columns."""

    def __init__(self, model_path: str, *, device: str = "cpu", threads: int | None = None, column: str = "input"):
        import tsnative  # imported in the actor's process, where the engine lives

        if threads is not None:
            tsnative.configure(threads=threads)  # LibTorch's pool is per process: one actor, its share of cores
        self.engine = tsnative.Engine(model_path, device=device)
        self.column = column

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        logits = self.engine(batch[self.column]).numpy()  # numpy in (shared, not copied), torch.Tensor out
        others = {name: values for name, values in batch.items() if name != self.column}
        return {**others, "logits": logits, "label": logits.argmax(axis=1)}


def predict(
    dataset: Any, model_path: str, *, actors: int = 2, batch_size: int = 32, device: str = "cpu", threads: int = 1
) -> Any:
    """The dataset with the model's predictions: a pool of ``actors`` TsnativePredictors, each given ``threads``
    CPUs (and a GPU for ``device="cuda"``), taking batches of ``batch_size`` rows.

    The pool holds its CPUs while the dataset runs: leave the cluster at least one more for the tasks that read and
    preprocess, or they wait for ever."""
    import ray

    return dataset.map_batches(
        TsnativePredictor,
        fn_constructor_args=(model_path,),
        fn_constructor_kwargs={"device": device, "threads": threads},
        compute=ray.data.ActorPoolStrategy(size=actors),
        batch_size=batch_size,
        batch_format="numpy",
        num_cpus=threads,
        num_gpus=1 if device.startswith("cuda") else 0,
    )


def recorded_input_shape(model_path: str) -> list[int]:
    """The model's input shape as tsnative.export recorded it, e.g. [-1, 3, 224, 224]."""
    import tsnative

    text = tsnative._C.read_metadata(model_path)
    if not text:
        raise SystemExit(f"{model_path}: no tsnative metadata; export the model with tsnative.export first")
    return json.loads(text)["inputs"][0]["shape"]


def image_dataset(folder: str, model_path: str) -> Any:
    """The images under ``folder`` as model inputs: decoded and resized to the model's recorded height and width
    by read_images, normalised by to_model_input."""
    import ray

    height, width = recorded_input_shape(model_path)[-2:]
    images = ray.data.read_images(folder, size=(height, width), mode="RGB", include_paths=True)
    return images.map_batches(to_model_input, batch_format="numpy")


def random_dataset(rows: int, model_path: str) -> Any:
    """``rows`` random inputs of the model's recorded shape (a batch dimension first), each drawn from its "id"."""
    import ray

    shape = recorded_input_shape(model_path)[1:]

    def inputs(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows = [np.random.default_rng(int(i)).standard_normal(shape, dtype=np.float32) for i in batch["id"]]
        return {"id": batch["id"], "input": np.stack(rows)}

    return ray.data.range(rows).map_batches(inputs, batch_format="numpy")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Batch inference with Ray Data and tsnative.Engine.")
    parser.add_argument("model", help="a .pt or .pt2 file written by tsnative.export (an image classifier)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--images", help="a folder of images (any format PIL reads)")
    source.add_argument("--random", type=int, metavar="N", help="N random inputs instead of images")
    parser.add_argument("--actors", type=int, default=1, help="engines running at once (1; leave a CPU to read)")
    parser.add_argument("--batch-size", type=int, default=32, help="rows per engine call (32)")
    parser.add_argument("--device", default="cpu", help="cpu or cuda (a GPU per actor)")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads per actor (1)")
    parser.add_argument("--out", help="write the predictions here as Parquet (default: print a summary)")
    args = parser.parse_args(argv)

    import ray

    model = os.path.abspath(args.model)  # the actors may run in other working directories
    ray.init()  # a local Ray, or the cluster that RAY_ADDRESS names
    cpus = ray.cluster_resources().get("CPU", 0)
    if args.device == "cpu" and args.actors * args.threads >= cpus:
        raise SystemExit(
            f"--actors {args.actors} x --threads {args.threads} would hold all {cpus:g} CPUs of the Ray cluster and "
            "leave none to read the data: use fewer"
        )
    dataset = image_dataset(args.images, model) if args.images else random_dataset(args.random, model)
    predictions = predict(
        dataset, model, actors=args.actors, batch_size=args.batch_size, device=args.device, threads=args.threads
    )
    if args.out:
        predictions.drop_columns(["logits"]).write_parquet(args.out)
        print(f"Predictions written to {args.out}")
    else:
        labels = [row["label"] for row in predictions.select_columns(["label"]).iter_rows()]
        counts = np.bincount(labels)
        print(f"{len(labels)} rows predicted; most frequent labels: {np.argsort(counts)[::-1][:5].tolist()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
