"""CIFAR-10 and CIFAR-100 "python version" folders (pickled batches)."""

import pickle
from pathlib import Path

import numpy as np

from .._validation import WavelensError
from ._base import make_dataset

__all__ = ["is_cifar_folder", "load_cifar_folder"]

_CIFAR10 = {"train": [f"data_batch_{i}" for i in range(1, 6)], "test": ["test_batch"], "meta": "batches.meta"}
_CIFAR100 = {"train": ["train"], "test": ["test"], "meta": "meta"}

# Only what the CIFAR pickles are made of may be unpickled: a pickle can run
# arbitrary code, and a dataset folder is not always trusted.
_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
}


class _SafeUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"refusing to load {module}.{name}")


def _unpickle(path):
    try:
        with open(path, "rb") as handle:
            content = _SafeUnpickler(handle, encoding="bytes").load()
    except OSError as exc:
        raise WavelensError(f"Cannot read {path}: {exc.strerror}.") from None
    except Exception as exc:  # a corrupt pickle raises many kinds of errors
        raise WavelensError(
            f"{path} is not a readable CIFAR batch ({type(exc).__name__}: {exc}); download it again."
        ) from None
    if not isinstance(content, dict):
        raise WavelensError(f"{path} is not a CIFAR batch: expected a pickled dict.")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in content.items()}


def _layout(folder):
    folder = Path(folder)
    for layout in (_CIFAR10, _CIFAR100):
        if (folder / layout["meta"]).is_file() and any((folder / f).is_file() for f in layout["test"] + layout["train"]):
            return layout
    return None


def is_cifar_folder(folder):
    return _layout(folder) is not None


def _names(values):
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def load_cifar_folder(folder, split, *, name=None):
    """Load a CIFAR-10 or CIFAR-100 python-version folder.

    Parameters
    ----------
    folder : Path
        Holds ``data_batch_1..5``, ``test_batch`` and ``batches.meta`` (CIFAR-10),
        or ``train``, ``test`` and ``meta`` (CIFAR-100, fine labels).
    split : {'train', 'test', 'all'}
    """
    folder = Path(folder)
    layout = _layout(folder)
    meta = _unpickle(folder / layout["meta"])
    is_cifar100 = layout is _CIFAR100
    label_key = "fine_labels" if is_cifar100 else "labels"
    names_key = "fine_label_names" if is_cifar100 else "label_names"
    if names_key not in meta:
        raise WavelensError(f"{folder / layout['meta']} has no '{names_key}' entry.")
    files = layout["train"] + layout["test"] if split == "all" else layout[split]
    images, labels = [], []
    for file in files:
        path = folder / file
        if not path.is_file():
            raise WavelensError(f"{path} is missing: a CIFAR {split} split needs {', '.join(files)}.")
        batch = _unpickle(path)
        if "data" not in batch or label_key not in batch:
            raise WavelensError(f"{path} is not a CIFAR batch: it lacks 'data' or '{label_key}'.")
        data = np.asarray(batch["data"])
        if data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
            raise WavelensError(
                f"{path}: expected 'data' of shape (n, 3072) (32x32 RGB); found {data.shape}."
            )
        images.append(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
        labels.append(np.asarray(batch[label_key]))
        if len(images[-1]) != len(labels[-1]):
            raise WavelensError(
                f"{path}: {len(images[-1])} images but {len(labels[-1])} labels."
            )
    default_name = "cifar-100" if is_cifar100 else "cifar-10"
    return make_dataset(
        np.concatenate(images), np.concatenate(labels), _names(meta[names_key]),
        name=name or default_name, split=split, source=str(folder),
    )
