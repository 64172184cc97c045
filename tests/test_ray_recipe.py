"""examples/ray_batch_inference.py on a local Ray: images read by Ray Data, predicted by a pool of two actors each
holding a tsnative.Engine, equal the same engine run in this process. Ray starts once for the module (~5 s)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import ray
import torch
from PIL import Image

import tsnative

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
sys.path.insert(0, str(EXAMPLES))
import ray_batch_inference as recipe  # noqa: E402  (examples/ is not a package)

# Ray Data reads its own deprecated settings when it ships its context to the workers.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:ray.data.context")


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    # The actors import the recipe (its class is pickled by reference) and this process's tsnative.
    python_path = os.pathsep.join([str(EXAMPLES), str(Path(tsnative.__file__).parents[1])])
    ray.init(
        num_cpus=3,  # logical: two for the actors, one for the reading tasks (a pool holding every CPU starves them)
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        object_store_memory=200 * 1024**2,
        runtime_env={"env_vars": {"PYTHONPATH": python_path, "RAY_USAGE_STATS_ENABLED": "0"}},
    )
    ray.data.DataContext.get_current().enable_progress_bars = False
    yield
    ray.shutdown()


def write_images(folder: Path, count: int, size: int) -> None:
    """`count` RGB images of random pixels, already at the model's size (so read_images' resize changes nothing)."""
    folder.mkdir()
    rng = np.random.default_rng(0)
    for index in range(count):
        pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(folder / f"image_{index:02d}.png")


def test_images_through_a_pool_of_engines_equal_the_engine_here(
    local_ray: None, conv_files: dict[str, Path], tmp_path: Path
) -> None:
    model = str(conv_files["exported"])  # SmallConvNet, recorded input [-1, 3, 16, 16], 5 classes
    size = recipe.recorded_input_shape(model)[-1]
    write_images(tmp_path / "images", count=10, size=size)

    dataset = recipe.image_dataset(str(tmp_path / "images"), model)
    rows = recipe.predict(dataset, model, actors=2, batch_size=4).take_all()

    assert sorted(Path(row["path"]).name for row in rows) == [f"image_{i:02d}.png" for i in range(10)]
    paths = sorted(tmp_path.joinpath("images").iterdir())
    images = np.stack([np.asarray(Image.open(path).convert("RGB")) for path in paths])
    inputs = recipe.to_model_input({"image": images})["input"]
    expected = tsnative.Engine(model)(inputs).numpy()
    by_name = {Path(row["path"]).name: row for row in rows}
    for path, logits in zip(paths, expected, strict=True):
        row = by_name[path.name]
        np.testing.assert_allclose(row["logits"], logits, rtol=1e-5, atol=1e-6)
        assert row["label"] == logits.argmax()


def test_random_inputs_are_drawn_from_their_ids(local_ray: None, conv_files: dict[str, Path]) -> None:
    model = str(conv_files["exported"])
    rows = recipe.predict(recipe.random_dataset(6, model), model, actors=1, batch_size=4).take_all()
    assert sorted(int(row["id"]) for row in rows) == list(range(6))
    engine = tsnative.Engine(model)
    for row in rows:
        x = np.random.default_rng(int(row["id"])).standard_normal((3, 16, 16), dtype=np.float32)
        np.testing.assert_allclose(row["logits"], engine(x[None]).numpy()[0], rtol=1e-5, atol=1e-6)


def test_the_predictor_without_ray(conv_files: dict[str, Path], conv_model: torch.nn.Module) -> None:
    """The callable class alone, as an actor runs it: other columns pass through, logits match eager PyTorch."""
    predictor = recipe.TsnativePredictor(str(conv_files["exported"]))  # threads=None: this process's setting stays
    batch = {"input": np.random.default_rng(1).standard_normal((3, 3, 16, 16), dtype=np.float32), "id": np.arange(3)}
    out = predictor(batch)
    assert sorted(out) == ["id", "label", "logits"]
    with torch.no_grad():
        eager = conv_model(torch.from_numpy(batch["input"])).numpy()
    np.testing.assert_allclose(out["logits"], eager, rtol=1e-4, atol=1e-5)
    np.testing.assert_array_equal(out["label"], eager.argmax(axis=1))
    np.testing.assert_array_equal(out["id"], batch["id"])
