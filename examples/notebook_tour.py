"""A tour of wavelens in Python, as one would write it in a notebook (the README's "Python" section).

Fashion-MNIST from arrays with class names -> what the training images are made of, and how it goes
with the classes -> the training set's pattern dictionary applied to the test images -> a per-image
table with file paths (from a CSV of paths) -> the test images that nearly copy training images.

    python examples/notebook_tour.py               # the full data: about 20 s on 2 cores
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
args = parser.parse_args()
pd.set_option("display.width", 200, "display.max_columns", 20)
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
STATISTICS = ["nmi", "cramers_v", "purity"]


def fashion_mnist(split):
    # Stands for the arrays you already have: uint8 images (n, 28, 28) and labels 0-9 (e.g. keras' load_data()).
    d = wavelens.load_dataset("fashion-mnist", split=split, limit=args.limit, random_state=0)
    x, y = d.pixels, np.array(CLASSES)[d.labels]  # labels as class names (strings)
    return wavelens.from_arrays(x, y, class_names=CLASSES, ids=d.ids, name="fashion-mnist", split=split)


train, test = fashion_mnist("train"), fashion_mnist("test")

# 1. The training set: its image patterns and dataset patterns, and how each goes with the classes
#    (true labels against randomly permuted ones).
result = wavelens.analyze(train)
print(result.summary(), result.association_table().set_index(["kind", "labels"])[STATISTICS], sep="\n\n")

# 2. The training set's patterns applied to the test images (nothing fitted on them): the prototype of
#    each test image's top 3 patterns, its shares of the dataset patterns, and how those go with the
#    test classes (against permuted labels).
on_test = result.apply(test)
table = on_test.association_table().set_index(["kind", "labels"])[STATISTICS]
print(f"\nTest images, train patterns: NMI {table.loc[('image_patterns', 'true'), 'nmi']:.3f} "
      f"(random labels {table.loc[('image_patterns', 'random'), 'nmi']:.4f})", table, sep="\n")
# The same prototypes as a scikit-learn estimator: the same random_state gives the same ones.
dictionary = wavelens.PatternDictionary(n_patterns=100, random_state=0, n_jobs=-1).fit(train)
print("Same test prototypes from the estimator:", bool((dictionary.predict(test) == on_test.dictionary.assignments).all()))

# 3. A per-image table with file paths: 100 test images as PNG files, listed in a CSV of path,label.
with tempfile.TemporaryDirectory() as folder:
    names = [f"{i:03d}.png" for i in range(100)]  # relative to the CSV's folder
    for name, pixels in zip(names, test.pixels):
        Image.fromarray(pixels).save(Path(folder, name))
    labels = np.array(CLASSES)[test.labels[:100]]
    pd.DataFrame({"path": names, "label": labels}).to_csv(Path(folder, "list.csv"), index=False)
    small = wavelens.analyze(wavelens.load_dataset(Path(folder, "list.csv")), n_patterns=10)
    table = small.per_image.sort_values("psnr_db")  # the images their top patterns rebuild worst first
    print("", small, table[["path", "class_name", "rank_at_energy", "psnr_db"]].head(), sep="\n")
    # In a notebook, look at one: plt.imshow(small.dataset.images[table.index[0]], cmap="gray")

# 4. Test images that nearly copy training images (cosine >= 0.98 between wavelet coefficients).
leaks = wavelens.find_near_duplicates(test, train, threshold=0.98)
print("", leaks.summary(), leaks.pairs_table.head(), sep="\n")
