"""The datasets wavelens knows by name, and where it looks for their files."""

import os
from pathlib import Path

from .._validation import WavelensError, param
from ._base import make_dataset
from ._idx import FASHION_MNIST_CLASSES, has_idx_files, load_idx_folder

__all__ = ["BUILTIN_DATASETS", "builtin_search_path", "load_builtin"]

BUILTIN_DATASETS = {
    "digits": "scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10 classes); no files needed.",
    "fashion-mnist": "Fashion-MNIST, 28x28 clothing images (60,000 train + 10,000 test, 10 classes), IDX files.",
    "mnist": "MNIST, 28x28 handwritten digits (60,000 train + 10,000 test, 10 classes), IDX files.",
}

_SYSTEM_FOLDERS = {"fashion-mnist": [Path("/usr/share/datasets/fashion-mnist")]}
_HOW_TO_GET = {
    "fashion-mnist": "install it with 'apt-get install dataset-fashion-mnist' (Debian/Ubuntu) or put "
                     "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz "
                     "and t10k-labels-idx1-ubyte.gz in one of those folders",
    "mnist": "put train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz "
             "and t10k-labels-idx1-ubyte.gz in one of those folders",
}


def builtin_search_path(name, data_dir=None):
    """The folders searched, in order, for the files of built-in dataset ``name``."""
    folders = []
    if data_dir is not None:
        folders += [Path(data_dir), Path(data_dir) / name]
    if os.environ.get("WAVELENS_DATA"):
        folders.append(Path(os.environ["WAVELENS_DATA"]) / name)
    folders += _SYSTEM_FOLDERS.get(name, [])
    return folders


def _load_digits(split):
    from sklearn.datasets import load_digits

    if split != "all":
        raise WavelensError(f"digits has no train/test split, so no '{split}'; use {param('split', 'all')}.")
    bunch = load_digits()
    # Pixel values are counts from 0 to 16.
    return make_dataset(bunch.images / 16.0, bunch.target, [str(c) for c in bunch.target_names],
                        name="digits", split="all", source="sklearn.datasets.load_digits")


def load_builtin(name, split, *, data_dir=None):
    """Load a built-in dataset by name (see ``BUILTIN_DATASETS``)."""
    if name == "digits":
        return _load_digits(split)
    folders = builtin_search_path(name, data_dir)
    for folder in folders:
        if folder.is_dir() and has_idx_files(folder):
            class_names = FASHION_MNIST_CLASSES if name == "fashion-mnist" else None
            return load_idx_folder(folder, split, name=name, class_names=class_names)
    looked = ", ".join(str(f) for f in folders) or f"nowhere (no {param('data_dir')} and no $WAVELENS_DATA)"
    raise WavelensError(
        f"Cannot find the {name} files: looked in {looked}. To fix it, {_HOW_TO_GET[name]}, "
        f"or pass {param('data_dir', 'DIR')}."
    )
