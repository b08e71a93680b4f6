"""NumPy arrays in Python as a dataset: the public way in from a notebook."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .._validation import WavelensError, printable
from ._base import Dataset, make_dataset

__all__ = ["from_arrays"]

_SPLITS = ("train", "test", "all")


def from_arrays(images: np.ndarray | Sequence, labels: np.ndarray | Sequence | None = None, *,
                class_names: Sequence[str] | None = None, ids: np.ndarray | Sequence | None = None,
                paths: np.ndarray | Sequence | None = None, name: str = "arrays",
                split: str = "all") -> Dataset:
    """A :class:`Dataset` of images held in NumPy arrays.

    Pixels are scaled by the one rule of :class:`Dataset`: unsigned integers
    (uint8, uint16) stand for their value over their type's maximum (kept as
    read, without a float copy); floats within [-1, 1] are kept, others divided
    by the largest absolute value over all images.

    Parameters
    ----------
    images : array-like of shape (n_images, height, width) or (n_images, height, width, channels)
        uint8, uint16, bool or float pixels (signed integers are taken as
        floats). A single channel, ``(..., 1)``, is dropped.
    labels : array-like of shape (n_images,), default=None
        Class numbers (integers >= 0) or class names (strings: the classes are
        then the distinct names, sorted, unless ``class_names`` orders them).
        None for unlabeled images: every label 0, one class ``"(unlabeled)"``,
        and ``labeled`` False.
    class_names : list of str, default=None
        Names of classes 0..n_classes-1 for integer labels (the numbers by
        default), or the order of the classes for string labels.
    ids : array-like of str, shape (n_images,), default=None
        A unique name for each image; ``"{i}"`` (``"{split}/{i}"`` for a
        train or test split) by default.
    paths : array-like of str, shape (n_images,), default=None
        Each image's file, if the images were read from files (made absolute).
    name : str, default="arrays"
        The dataset's name, shown in summaries and reports.
    split : {'all', 'train', 'test'}, default="all"
        Which split the images are.

    Returns
    -------
    Dataset

    Raises
    ------
    WavelensError
        One line, for images of another shape or pixel type, NaN or infinite
        pixels, labels that are not one per image, negative or fractional
        labels, a string label missing from ``class_names``, or ids that are
        not unique.

    Examples
    --------
    >>> import numpy as np
    >>> d = from_arrays(np.zeros((4, 8, 8), np.uint8), ["a", "b", "a", "b"])
    >>> d.class_names
    ['a', 'b']
    >>> d.labels.tolist(), d.ids.tolist()
    ([0, 1, 0, 1], ['0', '1', '2', '3'])
    >>> from_arrays(np.full((2, 4, 4, 3), 255.0), split="test").images.max()  # floats over 1: scaled
    np.float32(1.0)
    """
    if split not in _SPLITS:
        raise WavelensError(f"The 'split' parameter must be one of {', '.join(_SPLITS)}. Got {split!r} instead.")
    if not isinstance(name, str):
        raise WavelensError(f"The 'name' parameter must be text. Got {type(name).__name__} instead.")
    images = _array(images, "images")
    if labels is not None:
        labels = _array(labels, "labels")
    return make_dataset(images, labels, class_names, name=name, split=split, source="from_arrays", ids=ids,
                        paths=paths, input_paths=())


def _array(values, parameter):
    """``values`` as an ndarray (without copying an ndarray), or a one-line error."""
    if isinstance(values, np.ndarray):
        return values
    try:
        return np.asarray(values)
    except (ValueError, TypeError) as exc:  # e.g. images of several sizes in a list
        raise WavelensError(f"The '{parameter}' parameter must be one array (all images of one size); "
                            f"NumPy cannot make it one ({printable(exc)[:150]}).") from None
