"""A real image data set with no download: scikit-learn's handwritten digits (1,797 greyscale 8x8 images of 0-9,
bundled with scikit-learn) written as PNG files, for fine-tuning (ts-train, tsnative.finetune).

    python scripts/make_digits.py digits        # -> digits/train/<digit>/*.png, digits/test/<digit>/*.png,
                                                #    digits/train.txt, digits/test.txt

The split is stratified, 80% train / 20% test, fixed by --seed. Images are kept at 8x8: resizing is the loader's
job (--size). Each split is both an image folder (train/<class>/...) and a map file (train.txt: path<TAB>class).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split


def write_split(root: Path, name: str, images: np.ndarray, labels: np.ndarray, indices: np.ndarray) -> Path:
    lines = []
    for index, image, label in zip(indices, images, labels, strict=True):
        relative = Path(name) / str(label) / f"{index:04d}.png"
        (root / relative).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(root / relative)  # uint8 2-D: an 8-bit greyscale PNG
        lines.append(f"{relative.as_posix()}\t{label}\n")
    map_file = root / f"{name}.txt"
    map_file.write_text("".join(lines))
    return map_file


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="folder to write (created)")
    parser.add_argument("--test-fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    digits = load_digits()
    # Pixel values are 0..16: scaled to 0..255 greyscale.
    images = np.round(digits.images * (255 / 16)).astype(np.uint8)
    indices = np.arange(len(images))
    train, test = train_test_split(
        indices, test_size=args.test_fraction, random_state=args.seed, stratify=digits.target
    )
    for name, rows in (("train", np.sort(train)), ("test", np.sort(test))):
        map_file = write_split(args.out, name, images[rows], digits.target[rows], rows)
        print(f"{map_file}: {len(rows)} images of 10 classes")


if __name__ == "__main__":
    main()
