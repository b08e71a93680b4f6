"""A tour of wavelens in Python, as one would write it in a notebook (the README's "Python" section).

Fashion-MNIST from arrays with class names -> what the training images are made of, and how it goes
with the classes -> the training set's pattern dictionary applied to the test images -> a per-image
table with file paths (from a CSV of paths) -> the test images that nearly copy training images.

    python examples/notebook_tour.py               # the full data: about 40 s on 2 cores
    python examples/notebook_tour.py --limit 2000  # 2,000 train and 2,000 test images: a few seconds
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

import wavelens

parser = argparse.ArgumentParser(description="A tour of wavelens in Python, on Fashion-MNIST.")
parser.add_argument("--limit", type=int, help="use a stratified subsample of this many train and test images")
limit = parser.parse_args().limit
pd.set_option("display.width", 200, "display.max_columns", 20)
STATISTICS = ["nmi", "cramers_v", "purity"]  # columns shown (association_table() has more)
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def load_arrays(split):
    """Stands for the arrays you already have (e.g. keras' load_data()): uint8 images (n, 28, 28), labels 0-9."""
    data = wavelens.load_dataset("fashion-mnist", split=split, limit=limit)
    return data.pixels, data.labels


# -- The notebook: arrays with string labels in, DataFrames and plain words out. --
(x_train, y_train), (x_test, y_test) = load_arrays("train"), load_arrays("test")
train = wavelens.from_arrays(x_train, np.array(CLASSES)[y_train], class_names=CLASSES, name="fashion-mnist",
                             split="train")
test = wavelens.from_arrays(x_test, np.array(CLASSES)[y_test], class_names=CLASSES, name="fashion-mnist", split="test")

result = wavelens.analyze(train)  # 1. what the training images are made of, and how it goes with the classes
print(result.summary(), result.association_table().set_index(["kind", "labels"])[STATISTICS], sep="\n\n")

on_test = result.apply(test)  # 2. the training set's patterns on the test images (nothing fitted on them)
table = on_test.association_table().set_index(["kind", "labels"])[STATISTICS]
print(f"\nTest images, train patterns: NMI {table.loc[('image_patterns', 'true'), 'nmi']:.3f} "
      f"(random labels {table.loc[('image_patterns', 'random'), 'nmi']:.4f})", table, sep="\n")
dictionary = wavelens.PatternDictionary(n_patterns=100, random_state=0, n_jobs=-1).fit(train)  # as an estimator
print("Same test prototypes from the estimator:", bool((dictionary.predict(test) == on_test.dictionary.assignments).all()))

with tempfile.TemporaryDirectory() as folder:  # 3. a per-image table with paths: 100 PNGs and a CSV of path,label
    for k, pixels in enumerate(x_test[:100]):
        Image.fromarray(pixels).save(Path(folder, f"{k:03d}.png"))
    pd.DataFrame({"path": [f"{k:03d}.png" for k in range(100)], "label": np.array(CLASSES)[y_test[:100]]}).to_csv(
        Path(folder, "list.csv"), index=False)  # paths relative to the CSV's folder
    small = wavelens.analyze(wavelens.load_dataset(Path(folder, "list.csv")), n_patterns=10)
    worst = small.per_image.sort_values("psnr_db")  # the images their top patterns rebuild worst first
    print("", small, worst[["path", "class_name", "rank_at_energy", "psnr_db"]].head(), sep="\n")

leaks = wavelens.find_near_duplicates(test, train)  # 4. test images that nearly copy training images
print("", leaks.summary(), leaks.pairs_table.head(), sep="\n")
