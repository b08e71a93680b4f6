"""CIFAR-10 and CIFAR-100 "python version" folders (pickled batches).

The batches are pickles, and a dataset folder is not always trusted: they are
read by :mod:`._pickle`, which interprets the pickle itself and understands
only what CIFAR batches hold (no pickled code runs, no numpy reconstructor is
called), and every array's declared shape is checked against its bytes.
"""

import os
from pathlib import Path

import numpy as np

from .._limits import check_limit
from .._validation import WavelensError
from ._base import make_dataset, split_ids
from ._pickle import ArrayRecipe, PickleRefused, describe, read_pickle

__all__ = ["is_cifar_folder", "load_cifar_folder"]

_CIFAR10 = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"], "meta": "batches.meta"}
_CIFAR100 = {"train": ["train"], "test": ["test"], "meta": "meta"}
_IMAGE_BYTES = 3 * 32 * 32
_INT64 = np.iinfo(np.int64)
_DOWNLOAD = "download the CIFAR python version again (https://www.cs.toronto.edu/~kriz/cifar.html)"


def _unpickle(path):
    """The dict a CIFAR batch holds, with text keys; arrays stay recipes until asked for."""
    try:
        with open(path, "rb") as handle:
            check_limit("data_bytes", os.fstat(handle.fileno()).st_size, f"reading {path}")
            data = handle.read()
    except OSError as exc:
        raise WavelensError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    try:
        content = read_pickle(data)
    except PickleRefused as exc:
        raise WavelensError(f"{path} is not a readable CIFAR batch: {exc}; {_DOWNLOAD}.") from None
    if not isinstance(content, dict):
        raise WavelensError(f"{path} is not a CIFAR batch: it holds {describe(content)}, "
                            f"not a dict; {_DOWNLOAD}.")
    return {k.decode("latin-1") if isinstance(k, bytes) else k: v for k, v in content.items()}


def _array(path, key, value):
    """The numpy array of entry ``key``, checked against its bytes and the limits."""
    try:
        return value.to_array(f"'{key}'", lambda n: check_limit("data_bytes", n, f"{path} ('{key}')"))
    except PickleRefused as exc:
        raise WavelensError(f"{path} is not a readable CIFAR batch: {exc}; {_DOWNLOAD}.") from None


def _labels(path, key, value):
    """A batch's labels as int64: a list (or tuple) of integers, or a 1-d integer array."""
    if isinstance(value, ArrayRecipe):
        labels = _array(path, key, value)
        if labels.ndim != 1 or labels.dtype.kind not in "iu":
            raise WavelensError(f"{path}: '{key}' should be a list of integer labels; found an array of shape "
                                f"{labels.shape} and type {labels.dtype}; {_DOWNLOAD}.")
        if labels.dtype == np.uint64 and labels.size and labels.max() > _INT64.max:
            raise WavelensError(f"{path}: '{key}' holds the label {int(labels.max())}, too large to be a class "
                                f"number; {_DOWNLOAD}.")
        return labels.astype(np.int64)
    if not isinstance(value, (list, tuple)):
        raise WavelensError(f"{path}: '{key}' should be a list of integer labels; found {describe(value)}; "
                            f"{_DOWNLOAD}.")
    for i, label in enumerate(value):
        if not isinstance(label, int) or isinstance(label, bool):
            raise WavelensError(f"{path}: '{key}' should be a list of integer labels; label {i} is "
                                f"{describe(label)}; {_DOWNLOAD}.")
        if not _INT64.min <= label <= _INT64.max:
            raise WavelensError(f"{path}: '{key}' holds the label {label} (label {i}), too large to be a class "
                                f"number; {_DOWNLOAD}.")
    return np.array(value, dtype=np.int64)


def _names(path, key, value):
    """Class names: a list (or tuple) of strings (bytes in the original files)."""
    if not isinstance(value, (list, tuple)):
        raise WavelensError(f"{path}: '{key}' should be a list of class names; found {describe(value)}; "
                            f"{_DOWNLOAD}.")
    check_limit("classes", len(value), f"{path} ('{key}')")
    names = []
    for i, name in enumerate(value):
        if isinstance(name, (bytes, bytearray)):
            name = bytes(name).decode("utf-8", "replace")
        elif not isinstance(name, str):
            raise WavelensError(f"{path}: '{key}' should be a list of class names (strings); name {i} is "
                                f"{describe(name)}; {_DOWNLOAD}.")
        names.append(name)
    return names


def _read_batch(path, label_key):
    """``(images, labels)`` of one batch: images (n, 32, 32, 3) and int64 labels (n,)."""
    batch = _unpickle(path)
    if "data" not in batch or label_key not in batch:
        raise WavelensError(f"{path} is not a CIFAR batch: it lacks 'data' or '{label_key}'; {_DOWNLOAD}.")
    if not isinstance(batch["data"], ArrayRecipe):
        raise WavelensError(f"{path}: 'data' should be a numpy array of images; found "
                            f"{describe(batch['data'])}; {_DOWNLOAD}.")
    data = _array(path, "data", batch["data"])
    if data.ndim != 2 or data.shape[1] != _IMAGE_BYTES:
        raise WavelensError(
            f"{path}: expected 'data' of shape (n, 3072) (32x32 RGB); found {data.shape}; {_DOWNLOAD}."
        )
    labels = _labels(path, label_key, batch[label_key])
    if len(data) != len(labels):
        raise WavelensError(f"{path}: {len(data)} images but {len(labels)} labels; a CIFAR batch has one "
                            f"label per image; {_DOWNLOAD}.")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), labels


def _read_meta(path, names_key):
    meta = _unpickle(path)
    if names_key not in meta:
        raise WavelensError(f"{path} has no '{names_key}' entry; {_DOWNLOAD}.")
    return _names(path, names_key, meta[names_key])


def _layout(folder):
    folder = Path(folder)
    for layout in (_CIFAR10, _CIFAR100):
        if (folder / layout["meta"]).is_file() and any((folder / f).is_file() for f in layout["test"] + layout["train"]):
            return layout
    return None


def is_cifar_folder(folder):
    return _layout(folder) is not None


def cifar_folder_has_test(folder):
    """Whether a CIFAR folder holds its test batch."""
    layout = _layout(folder)
    return layout is not None and all((Path(folder) / f).is_file() for f in layout["test"])


def load_cifar_folder(folder, split, *, name=None):
    """Load a CIFAR-10 or CIFAR-100 python-version folder.

    Parameters
    ----------
    folder : Path
        Holds ``data_batch_1..5``, ``test_batch`` and ``batches.meta`` (CIFAR-10),
        or ``train``, ``test`` and ``meta`` (CIFAR-100, fine labels).
    split : {'train', 'test', 'all'}
        Image ids are ``"train/{i}"`` and ``"test/{i}"``, ``i`` the position in
        the split (its batches in order).
    """
    folder = Path(folder)
    layout = _layout(folder)
    is_cifar100 = layout is _CIFAR100
    label_key = "fine_labels" if is_cifar100 else "labels"
    names_key = "fine_label_names" if is_cifar100 else "label_names"
    class_names = _read_meta(folder / layout["meta"], names_key)
    files = layout["train"] + layout["test"] if split == "all" else layout[split]
    images, labels, parts = [], [], []
    for file in files:
        path = folder / file
        if not path.is_file():
            raise WavelensError(f"{path} is missing: a CIFAR {split} split needs {', '.join(files)}.")
        batch_images, batch_labels = _read_batch(path, label_key)
        images.append(batch_images)
        labels.append(batch_labels)
        parts.append("train" if file in layout["train"] else "test")
    check_limit("data_bytes", sum(a.nbytes for a in images), f"the CIFAR {split} split of {folder}")
    default_name = "cifar-100" if is_cifar100 else "cifar-10"
    # Ids number the images of each split across its batches: train/0..49999, test/0..9999.
    sizes = {}
    for part, batch_labels in zip(parts, labels):
        sizes[part] = sizes.get(part, 0) + len(batch_labels)
    return make_dataset(
        np.concatenate(images), np.concatenate(labels), class_names,
        name=name or default_name, split=split, source=str(folder),
        ids=split_ids(sizes.items()) if split == "all" else None,
    )
