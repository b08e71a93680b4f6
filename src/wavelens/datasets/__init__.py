"""Loading image-classification datasets: built-in names, IDX, CIFAR, image folders, CSV of paths, .npz, arrays.

``load_dataset`` reads a dataset from files, ``from_arrays`` takes NumPy arrays;
both return a :class:`Dataset` of images in [0, 1] with integer labels and a
stable id for each image (and its file path where it has one).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from .._validation import WavelensError, check_positive_int, check_seed, see
from ._arrays import from_arrays
from ._base import (UNLABELED, Dataset, check_class_names, check_dataset, loaded_as, stratified_subsample,
                    with_class_names)
from ._builtin import BUILTIN_DATASETS, builtin_search_path
from ._builtin import load_builtin
from ._cifar import cifar_folder_has_test, is_cifar_folder, load_cifar_folder
from ._folder import is_image_folder, load_image_folder
from ._huggingface import from_huggingface, huggingface_folder_has_split, is_huggingface
from ._idx import find_idx_pair, has_idx_files, load_idx_folder, read_idx
from ._npz import load_npz
from ._table import is_path_table, load_path_table, table_has_splits, table_has_test_rows

if TYPE_CHECKING:
    import datasets

__all__ = [
    "BUILTIN_DATASETS",
    "Dataset",
    "UNLABELED",
    "builtin_search_path",
    "default_split",
    "from_arrays",
    "from_huggingface",
    "load_dataset",
    "load_test_split",
    "read_idx",
    "stratified_subsample",
]

SPLITS = ("train", "test", "all")


def _has_splits(spec):
    """Whether the dataset named by ``spec`` has train and test splits."""
    if spec in BUILTIN_DATASETS:
        return spec != "digits"
    path = Path(spec)
    if path.is_file() and is_path_table(path):
        return table_has_splits(path)
    if not path.is_dir():
        return False
    if is_cifar_folder(path) or has_idx_files(path):
        return True
    return (path / "train").is_dir() and (path / "test").is_dir()


def default_split(spec):
    """``train`` for datasets with train and test splits, ``all`` for the others."""
    return "train" if _has_splits(spec) else "all"


def load_dataset(spec: str | os.PathLike | datasets.Dataset | datasets.DatasetDict, *, split: str | None = None,
                 data_dir: str | os.PathLike | None = None, limit: int | None = None, random_state: int = 0,
                 resize: tuple[int, int] | None = None, class_names: Sequence[str] | None = None) -> Dataset:
    """Load an image-classification dataset.

    Parameters
    ----------
    spec : str or Path
        A built-in name (``digits``, ``fashion-mnist``, ``mnist``) or a path to:
        a folder of MNIST-layout IDX files; a CIFAR-10/100 python-version
        folder; an image folder with one sub-folder per class (or, unlabeled,
        the images directly in it); a ``.csv`` (or, with pyarrow, ``.parquet``)
        table of ``path,label`` (label optional, an optional ``split`` column
        of train/test; relative paths from the table's folder); a ``.npz``
        holding ``images`` and ``labels``; a folder written by Hugging Face's
        ``save_to_disk``. Or a ``datasets.Dataset`` or ``DatasetDict``
        (see :func:`from_huggingface`).
    split : {'train', 'test', 'all'}, default=None
        Which split; None means ``train`` where the dataset has splits and
        ``all`` where it has not (any split name of a Hugging Face dataset).
    data_dir : str or Path, default=None
        Where to look first for a built-in dataset's files.
    limit : int, default=None
        Keep a stratified random subsample of this many images.
    random_state : int, default=0
        Seed of the subsample.
    resize : tuple of int, default=None
        ``(height, width)`` for image folders whose images differ in size.
    class_names : list of str, default=None
        The classes, in the order that numbers them: class k is
        ``class_names[k]``, whichever split is loaded, and every class name
        the split's labels use must be one of them (the rule of
        :func:`from_arrays`). None: the dataset's own classes; for image
        folders and tables of paths, the sorted class names of all its
        splits (a class may be missing from one), so that the train and test
        splits of one dataset share one class list.

    Returns
    -------
    Dataset
        float32 images in [0, 1], of shape (n, H, W) or (n, H, W, C), with
        ``ids`` (the path relative to the dataset's folder for image files,
        ``"{split}/{index}"`` or ``"{index}"`` otherwise) and ``paths`` (the
        absolute file of each image, or None).

    Examples
    --------
    >>> d = load_dataset("digits", limit=100, random_state=0)
    >>> d.n_images, d.n_classes, d.labeled
    (100, 10, True)
    >>> d.ids[:3].tolist() == [str(i) for i in d.index[:3]]
    True
    >>> odd_first = load_dataset("digits", limit=100, class_names=list("1357902468"))
    >>> odd_first.class_names[:3], bool(((odd_first.labels < 5) == (d.labels % 2 == 1)).all())
    (['1', '3', '5'], True)
    """
    huggingface = is_huggingface(spec) and not (isinstance(spec, str) and spec in BUILTIN_DATASETS)
    if not huggingface:  # a Hugging Face dataset has its own splits and default (from_huggingface)
        if not isinstance(spec, (str, os.PathLike)):
            raise WavelensError(
                f"The 'spec' parameter must be a built-in dataset's name or a path, not {type(spec).__name__}; "
                "for images already in memory use wavelens.from_arrays(images, labels).")
        spec = os.fspath(spec)
        if isinstance(spec, bytes):
            spec = os.fsdecode(spec)
        if split is None:
            split = default_split(spec)
        if split not in SPLITS:
            raise WavelensError(f"Unknown split {split!r}: expected one of {', '.join(SPLITS)}.")
    if limit is not None:
        limit = check_positive_int(limit, "limit")
    random_state = check_seed(random_state)
    if class_names is not None:
        class_names = check_class_names(class_names, "load_dataset")
    numbered = False  # whether the loader numbered the classes by class_names itself
    if huggingface:
        dataset = from_huggingface(spec, split=split, resize=resize)
    elif spec in BUILTIN_DATASETS:
        dataset = load_builtin(spec, split, data_dir=data_dir)
    else:
        dataset, numbered = _load_path(Path(spec), split, resize, limit, random_state, class_names)
    # Subsampled before class_names renumber the classes: the same images whatever their order.
    dataset = stratified_subsample(dataset, limit, random_state)
    if class_names is not None and not numbered:
        dataset = with_class_names(dataset, class_names)
    # Paths are kept absolute: the other split is found whatever the current folder is then.
    is_path = isinstance(spec, (str, os.PathLike)) and spec not in BUILTIN_DATASETS
    remembered = os.path.abspath(spec) if is_path else spec
    dataset._loaded_as = (remembered, {"data_dir": data_dir, "limit": limit, "random_state": random_state,
                                 "resize": resize, "class_names": class_names})
    return dataset


def load_test_split(dataset: Dataset) -> Dataset | None:
    """The test split of the dataset whose train split ``dataset`` is, loaded as ``dataset`` was.

    :func:`wavelens.learnability` tests on it when given no test images, as
    ``wavelens learnability`` does.

    Parameters
    ----------
    dataset : Dataset
        A train split read by :func:`load_dataset`.

    Returns
    -------
    Dataset or None
        The test split, read with the same ``data_dir``, ``limit``,
        ``random_state``, ``resize`` and ``class_names``; None when
        ``dataset`` is not a train split read by :func:`load_dataset`, or its
        dataset has no test split (e.g. a table of paths whose split column
        never says ``test``, IDX files or a folder of class folders without
        the test ones, a Hugging Face ``Dataset``, or a ``DatasetDict``
        without a ``test`` split).

    Raises
    ------
    WavelensError
        One line, when the test split cannot be read (the same as
        ``load_dataset(..., split='test')``).

    Examples
    --------
    >>> train = load_dataset("digits")  # one split: no test split
    >>> train.split, load_test_split(train)
    ('all', None)
    """
    check_dataset(dataset)
    loaded = loaded_as(dataset)
    if dataset.split != "train" or loaded is None:
        return None
    spec, options = loaded
    if not has_test_split(spec):
        return None
    return load_dataset(spec, split="test", **options)


def has_test_split(spec) -> bool:
    """Whether the dataset ``spec`` names has a test split beside its train split, told from its
    files' names (a table's split column) without reading images; a dataset whose kind is not
    recognized is taken to have one (loading it then says what is wrong)."""
    if isinstance(spec, str) and spec in BUILTIN_DATASETS:
        return spec != "digits"  # one split, 'all'; the others are train and test IDX files
    if not isinstance(spec, (str, os.PathLike)):
        keys = getattr(spec, "keys", None)  # a Hugging Face object: a DatasetDict, or a Dataset (one split)
        return keys is not None and "test" in keys()
    path = Path(spec)
    if path.is_file():
        # A table's split column may never say test: all its images are training images.
        return not is_path_table(path) or table_has_test_rows(path)
    if is_huggingface(path):
        return huggingface_folder_has_split(path, "test")
    if has_idx_files(path):
        return find_idx_pair(path, "test") is not None
    if is_cifar_folder(path):
        return cifar_folder_has_test(path)
    if is_image_folder(path):
        return (path / "test").is_dir()
    return True


def _load_path(path, split, resize, limit, random_state, class_names):
    """The dataset at ``path``, and whether its loader numbered the classes by ``class_names``."""
    if not path.exists():
        names = ", ".join(BUILTIN_DATASETS)
        looks_like_name = not path.suffix and len(path.parts) == 1
        what = "is neither a built-in dataset name" if looks_like_name else "does not exist"
        raise WavelensError(
            f"Dataset {str(path)!r} {what}"
            + (f" ({names}) nor an existing path" if looks_like_name else "")
            + f"; {see('help(wavelens.load_dataset)')} for the built-in names and the accepted kinds of path."
        )
    if path.is_file():
        if path.suffix.lower() == ".npz":
            return load_npz(path, split), False
        if is_path_table(path):
            return load_path_table(path, split, resize=resize, limit=limit, random_state=random_state,
                                   class_names=class_names), True
        raise WavelensError(
            f"{path} is a file of an unknown kind: expected a .npz holding 'images' and 'labels', "
            "a .csv or .parquet table of path,label, or a folder (IDX files, CIFAR batches, "
            "or images, in one sub-folder per class or unlabeled)."
        )
    if has_idx_files(path):
        return load_idx_folder(path, split, name=path.name), False
    if is_cifar_folder(path):
        return load_cifar_folder(path, split), False
    if is_image_folder(path):
        return load_image_folder(path, split, resize=resize, limit=limit, random_state=random_state,
                                 class_names=class_names), True
    raise WavelensError(
        f"{path} holds no dataset wavelens can read (or it is empty): expected MNIST-layout IDX files "
        "(train-images-idx3-ubyte.gz...), CIFAR python batches (data_batch_1... and batches.meta), "
        "or PNG/JPEG images, in one sub-folder per class or directly in it (unlabeled)."
    )
