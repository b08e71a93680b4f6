"""The dataset container and helpers shared by every loader."""

from __future__ import annotations

import numbers
import os
import re
from collections.abc import Sequence

import numpy as np

from .._limits import check_limit
from .._validation import WavelensError, check_finite, param, printable

__all__ = ["UNLABELED", "Dataset", "check_class_names", "check_dataset", "check_labels", "class_numbers", "file_text",
           "loaded_as", "make_dataset", "numbered_with_rows", "pixels_to_unit", "refuse_class_names", "sorted_class_names", "split_ids",
           "stratified_subsample", "to_unit_float32", "with_class_names"]

# The one class name of a dataset without labels (every label is 0).
UNLABELED = "(unlabeled)"


class Dataset:
    """Images with their labels, and a name for each image.

    Parameters
    ----------
    images : array-like of shape (n_images, height, width[, channels]) or None
        Pixel values. Unsigned integers (uint8, uint16...) are kept as read and
        stand for ``images / max`` of their type (255 for uint8); booleans are 0
        and 1; floats (and signed integers) within [-1, 1] are kept, and others
        are divided by their largest absolute value over the whole dataset, one
        factor for every image, so patterns and every statistic but PSNR are
        unchanged (floats from 0 to 255 become 0 to 1).
    labels : array-like of shape (n_images,) or None
        Class numbers 0..n_classes-1 (integers, or floats holding integers).
        None for images without labels: every label is then 0, the one class
        is named ``"(unlabeled)"`` and :attr:`labeled` is False.
    class_names : list of str or None
        The name of each class (the label numbers when None); text from the
        data is made printable (invalid UTF-8 replaced, control characters
        escaped).
    name, split, source : str
    index : array-like of int, shape (n_images,), default=None
        Each image's position in its split; 0..n_images-1 when None.
    ids : array-like of str, shape (n_images,), default=None
        A unique, stable name for each image. When None, ``"{split}/{index}"``
        for a train or test split, else ``"{index}"``.
    paths : array-like of str, shape (n_images,), default=None
        Each image's file, for images read one file each; made absolute.
    pixels, pixel_max : ndarray of unsigned integers and int, default=None
        The pixels as read and their largest possible value, instead of ``images``.

    Attributes
    ----------
    images : ndarray of shape (n_images, height, width) or (n_images, height, width, channels)
        float32 pixel values. For a dataset of integer pixels this is made from
        ``pixels`` on first use (and kept), so that work done chunk by chunk from
        ``pixels`` never holds the float32 copy, 4 times the size.
    labels : ndarray of int64, shape (n_images,)
    labeled : bool
        False for images without labels (all in the class ``"(unlabeled)"``).
    ids : ndarray of str, shape (n_images,)
        Unique within the dataset and the same in every run and subsample: for
        image files, the path relative to the dataset's folder (or the CSV's
        folder) with '/' separators; for arrays in files, ``"train/12"`` (the
        13th image of the train split) or ``"12"`` for datasets without splits.
    paths : ndarray of str, shape (n_images,), or None
        Each image's absolute file path, or None when the images do not come
        from one file each. Ids and paths are printable text, for display and
        tables: control characters escaped, bytes of file names (or of ids
        given as bytes) that are not UTF-8 as ``\\xNN`` escapes.
    pixels : ndarray of unsigned integers or None
        The pixels as read (e.g. uint8), of the shape of ``images``; then
        ``images`` is ``pixels / pixel_max`` in float32.
    pixel_max : int or None
        The largest pixel value of ``pixels``' type (255 for uint8).

    Examples
    --------
    >>> import numpy as np
    >>> d = Dataset(np.zeros((3, 4, 4), np.uint8), [0, 1, 1], ["cat", "dog"], name="toy", split="test",
    ...             source="memory")
    >>> d.ids.tolist(), d.labeled
    (['test/0', 'test/1', 'test/2'], True)
    """

    def __init__(self, images: np.ndarray | None, labels: Sequence | np.ndarray | None,
                 class_names: Sequence[str] | None, *, name: str, split: str, source: str,
                 index: Sequence[int] | np.ndarray | None = None, ids: Sequence[str] | np.ndarray | None = None,
                 paths: Sequence[str] | np.ndarray | None = None, pixels: np.ndarray | None = None,
                 pixel_max: int | None = None, input_paths: Sequence[str] = ()) -> None:
        if images is None and pixels is None:
            raise WavelensError("A Dataset needs images (or pixels); got neither.")
        if images is not None:
            images = np.asarray(images)
            if np.issubdtype(images.dtype, np.unsignedinteger):
                images, pixels = None, images
            else:
                images = to_unit_float32(images, f"{source} images")
        if pixels is not None:
            pixels = np.asarray(pixels)
            if not np.issubdtype(pixels.dtype, np.unsignedinteger):
                raise WavelensError(f"{source}: pixels must be unsigned integers; found {pixels.dtype}.")
            pixel_max = int(np.iinfo(pixels.dtype).max) if pixel_max is None else int(pixel_max)
        array = pixels if images is None else images
        source = printable(source)
        if array.ndim not in (3, 4):
            raise WavelensError(
                f"{source}: images must have shape (n, height, width) or (n, height, width, "
                f"channels); found shape {array.shape}."
            )
        if array.ndim and 0 in array.shape[1:]:
            raise WavelensError(f"{source}: images of shape {array.shape[1:]} hold no pixels; every image needs "
                                "a height, a width and (if given) channels of at least 1.")
        self._images = images
        self.pixels = pixels if images is None else None
        self.pixel_max = pixel_max if images is None else None
        self.labeled = labels is not None
        if labels is None:
            if class_names is not None and list(class_names) != [UNLABELED]:
                raise WavelensError(f"{source}: class_names were given without labels; give a label per image, "
                                    "or neither for unlabeled images.")
            labels, class_names = np.zeros(len(array), np.int64), [UNLABELED]
        self.labels, self.class_names = check_labels(labels, class_names, len(array), str(source))
        self.name = printable(name)
        self.split = split
        self.source = source
        self.index = _check_index(index, len(array), source)
        self.ids = _check_ids(ids, self.index, split, source)
        self.paths = _check_paths(paths, len(array), source)
        # The files and folders the images were read from (none for arrays made in memory):
        # what a result written from this dataset must keep clear of.
        self.input_paths = tuple(str(path) for path in input_paths)
        # How load_dataset read it, (spec, options), so that its other split can be read alike.
        self._loaded_as = None

    def __getstate__(self):
        # A Hugging Face object it was read from stays behind: a copy carries its own images only.
        state = self.__dict__.copy()
        if state.get("_loaded_as") is not None and not isinstance(state["_loaded_as"][0], str):
            state["_loaded_as"] = None
        return state

    @property
    def images(self):
        if self._images is None:
            self._images = pixels_to_unit(self.pixels, self.pixel_max)
        return self._images

    def select_images(self, rows: int | slice | Sequence[int] | np.ndarray) -> np.ndarray:
        """float32 images of the given rows, without making every image float32."""
        if self._images is None:
            return pixels_to_unit(self.pixels[rows], self.pixel_max)
        return self._images[rows]

    @property
    def stored(self):
        """``(array, pixel_max)``: the pixels and their maximum if the dataset holds integer
        pixels, else the float32 images and None (what chunked work reads)."""
        return (self.pixels, self.pixel_max) if self._images is None else (self._images, None)

    @property
    def n_images(self):
        return len(self.labels)

    @property
    def image_shape(self):
        array = self.pixels if self._images is None else self._images
        return tuple(int(s) for s in array.shape[1:])

    @property
    def n_classes(self):
        return len(self.class_names)

    def image_columns(self) -> dict:
        """The columns that name each image in every per-image table: ``id``, ``path`` (for
        images read from files), ``index``, ``label`` and ``class_name``."""
        columns = {"id": self.ids}
        if self.paths is not None:
            columns["path"] = self.paths
        columns.update(index=self.index, label=self.labels,
                       class_name=np.asarray(self.class_names, dtype=object)[self.labels])
        return columns

    def record(self) -> dict:
        """The dataset as result files record it (``summary.json``'s ``dataset``)."""
        return {"name": self.name, "split": self.split, "source": self.source, "n_images": self.n_images,
                "image_shape": list(self.image_shape), "n_classes": self.n_classes,
                "class_names": list(self.class_names)}

    def __repr__(self):
        return (f"Dataset(name={self.name!r}, split={self.split!r}, n_images={self.n_images}, "
                f"image_shape={self.image_shape}, n_classes={self.n_classes})")


def pixels_to_unit(pixels, pixel_max, dtype=np.float32):
    """Integer pixels as floats in [0, 1]: ``pixels / pixel_max``, correctly rounded in ``dtype``."""
    return np.divide(pixels, dtype(pixel_max), dtype=dtype)


def to_unit_float32(images, what):
    """Pixel values as float32, by the rule of :class:`Dataset`.

    Unsigned integers are divided by their type's maximum (255 for uint8);
    booleans become 0 and 1; floats and signed integers within [-1, 1] are
    kept, and others are divided by their largest absolute value over the
    whole dataset (so relative intensities, and the patterns, are preserved).
    """
    images = np.asarray(images)
    if images.dtype == bool:
        return images.astype(np.float32)
    if np.issubdtype(images.dtype, np.unsignedinteger):
        return pixels_to_unit(images, np.iinfo(images.dtype).max)
    if not (np.issubdtype(images.dtype, np.signedinteger) or np.issubdtype(images.dtype, np.floating)):
        raise WavelensError(
            f"{what} has pixel type {images.dtype}; expected unsigned integers or floats."
        )
    if images.size == 0:
        return images.astype(np.float32)
    check_finite(images, what)
    scale = max(abs(float(images.min())), abs(float(images.max())))
    if scale <= 1:
        return images.astype(np.float32, copy=False)
    return (images / scale).astype(np.float32)


def check_labels(labels, class_names, n_images, source):
    """Labels as int64 class numbers and the class names as printable text, or raise.

    Parameters
    ----------
    labels : array-like of shape (n_images,)
        Integers >= 0 (or floats holding them).
    class_names : list of str or None
        Names of classes 0..n_classes-1; the label numbers when None.
    n_images : int
    source : str
        Where the labels come from, for messages.
    """
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise WavelensError(f"{source}: labels must be one-dimensional (a label per image); found shape "
                            f"{labels.shape}.")
    if len(labels) != n_images:
        raise WavelensError(f"{source}: {n_images} images but {len(labels)} labels; every image needs exactly "
                            "one label.")
    if n_images == 0:
        raise WavelensError(f"{source}: the dataset is empty (0 images); point wavelens at a dataset with images.")
    if labels.dtype.kind == "b":
        labels = labels.astype(np.int64)
    if labels.dtype.kind not in "iuf":
        raise WavelensError(f"{source}: labels must be integers; found {labels.dtype}.")
    if labels.dtype.kind == "f":
        if not np.all(np.isfinite(labels)) or not np.all(labels == np.round(labels)):
            raise WavelensError(f"{source}: labels must be whole numbers; found values such as "
                                f"{labels[~(np.isfinite(labels) & (labels == np.round(labels)))][0]!r}.")
    low, high = labels.min(), labels.max()
    if low < 0:
        raise WavelensError(f"{source}: labels must be class numbers >= 0; found {low}.")
    n_classes = max(int(high) + 1, 0 if class_names is None else len(class_names))
    check_limit("classes", n_classes, f"{source}: label {high}")
    labels = labels.astype(np.int64)
    if class_names is None:
        class_names = [str(c) for c in range(int(high) + 1)]
    class_names = [printable(c) for c in class_names]
    if len(class_names) <= int(high):
        raise WavelensError(
            f"{source}: label {int(high)} has no class name ({len(class_names)} names given)."
        )
    return labels, class_names


def file_text(path: str | os.PathLike) -> str:
    """A file path (or a part of one) as printable text for ids and paths.

    Bytes of the name that are not UTF-8 become ``\\xNN`` escapes rather than
    U+FFFD, so that two file names differing only in such bytes keep distinct
    ids; the rest is :func:`~wavelens._validation.printable`.
    """
    return printable(os.fsencode(path).decode("utf-8", "backslashreplace"))


def _printable_all(texts, what, source):
    """``texts`` (str, or bytes: non-UTF-8 ones as ``\\xNN``) as a list of printable, non-empty text;
    fast when all are clean."""
    texts = [t if isinstance(t, str) else printable(t.decode("utf-8", "backslashreplace")) for t in texts]
    joined = "".join(texts)
    try:
        clean = joined.isprintable() and bool(joined.encode("utf-8"))
    except UnicodeEncodeError:  # lone surrogates: bytes of a name that were not UTF-8
        clean = False
    if not clean:
        texts = [printable(t) for t in texts]
    if not all(texts):
        raise WavelensError(f"{source}: {what} must be non-empty text; {what[:-1]} "
                            f"{texts.index('')} is empty.")
    return texts


def _one_per_image(values, what, n_images, source):
    """``values`` (an array or any sequence, not coerced to one type) as a list of ``n_images`` items, or raise."""
    if isinstance(values, np.ndarray):
        shape = values.shape
        values = values.tolist() if values.ndim == 1 else None
    else:
        try:
            values = list(values)
        except TypeError:
            values = None
        shape = (len(values),) if values is not None else "none (not a sequence)"
    if values is None or len(values) != n_images:
        raise WavelensError(f"{source}: {what} must be a 1-d array of {n_images:,} values, one per image; found "
                            f"shape {shape}.")
    return values


def _check_index(index, n_images, source):
    if index is None:
        return np.arange(n_images)
    index = np.asarray(index)
    if index.ndim != 1 or len(index) != n_images:
        raise WavelensError(f"{source}: index must be a 1-d array of {n_images:,} values, one per image; found "
                            f"shape {index.shape}.")
    if index.dtype.kind not in "iu":
        raise WavelensError(f"{source}: index must hold integers (positions in the split); found {index.dtype}.")
    return index


def _check_ids(ids, index, split, source):
    """The images' ids as a 1-d str array: printable, unique, one per image (from ``index`` when None)."""
    if ids is None:
        return _numbered(f"{split}/" if split in ("train", "test") else "", index)
    ids = _one_per_image(ids, "ids", len(index), source)
    for i, value in enumerate(ids):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (str, bytes, numbers.Integral)):
            raise WavelensError(f"{source}: ids must be text (or integers); id {i} is {type(value).__name__}.")
    ids = _printable_all([v if isinstance(v, (str, bytes)) else str(int(v)) for v in ids], "ids", source)
    if len(set(ids)) != len(ids):
        first = {}
        for i, value in enumerate(ids):
            if value in first:
                raise WavelensError(f"{source}: ids must be unique, one name per image; images {first[value]} and "
                                    f"{i} are both named {value!r}.")
            first[value] = i
    return np.array(ids, dtype=str)


def _check_paths(paths, n_images, source):
    """The images' files as a 1-d str array of absolute, printable paths, or None."""
    if paths is None:
        return None
    values = _one_per_image(paths, "paths", n_images, source)
    for i, value in enumerate(values):
        if not isinstance(value, (str, bytes, os.PathLike)):
            raise WavelensError(f"{source}: paths must be file paths (text); path {i} is {type(value).__name__}.")
        if not os.fspath(value):
            raise WavelensError(f"{source}: paths must be non-empty text; path {i} is empty.")
    return np.array([file_text(os.path.abspath(v)) for v in values], dtype=str)


_WHOLE_NUMBER = re.compile(r"[0-9]+")


def sorted_class_names(names):
    """Distinct class names (text), sorted: by value when every name is a whole number written in
    digits (so "2" comes before "10"), else as text."""
    unique = sorted(set(names))
    if unique and all(_WHOLE_NUMBER.fullmatch(u) for u in unique):
        unique.sort(key=lambda u: (len(u.lstrip("0")), u.lstrip("0"), u))
    return unique


def check_class_names(class_names, source):
    """``class_names`` as a list of distinct str (bytes read as UTF-8), or a one-line error."""
    if isinstance(class_names, (str, bytes)) or not hasattr(class_names, "__iter__"):
        raise WavelensError(f"The '{param('class_names')}' parameter must be a list of class names (text). Got "
                            f"{type(class_names).__name__} instead.")
    names = [name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name) for name in class_names]
    position = {}
    for k, name in enumerate(names):
        if position.setdefault(name, k) != k:
            raise WavelensError(f"{source}: class_names names {printable(name)!r} twice; give each class once.")
    return names


def class_numbers(labels, class_names, source):
    """String labels as class numbers, and the class names: the one rule of every loader.

    Without ``class_names`` the classes are the distinct labels, sorted by
    :func:`sorted_class_names`; with them (checked by :func:`check_class_names`),
    class k is ``class_names[k]`` and each label must be one of them.
    """
    unique, inverse = np.unique(np.asarray(labels, dtype=str), return_inverse=True)
    unique = unique.tolist()
    if class_names is None:
        class_names = sorted_class_names(unique)
    else:
        class_names = check_class_names(class_names, source)
    position = {name: k for k, name in enumerate(class_names)}
    missing = [u for u in unique if u not in position]
    if missing:
        raise WavelensError(f"{source}: the label {printable(missing[0])!r} is not one of class_names "
                            f"({len(class_names)} names); add it, or leave class_names out to take the labels.")
    return np.array([position[u] for u in unique], np.int64)[inverse.reshape(-1)], class_names


def numbered_with_rows(names, every_class, class_names, limit, random_state, source):
    """Class numbers of the images' class ``names`` and the rows of the subsample to decode.

    The images are numbered by ``every_class`` (the classes of every split), or by
    ``class_names`` when given; the subsample is drawn on the first numbering, so it keeps
    the same images whatever order ``class_names`` gives. Returns ``(labels, class_names,
    rows)``, ``rows`` None for every image.
    """
    default, _ = class_numbers(names, every_class, source)
    if class_names is None:
        labels, class_names = default, every_class
    else:
        labels, class_names = class_numbers(names, class_names, source)
    return labels, class_names, stratified_rows(default, limit, random_state)


def refuse_class_names(source):
    """The error for ``class_names`` given for images without labels."""
    return WavelensError(f"{source}: class_names were given but the images have no labels; leave class_names "
                         "out for unlabeled images.")


def with_class_names(dataset: Dataset, class_names: Sequence[str]) -> Dataset:
    """``dataset`` with its classes numbered by ``class_names``: class k is ``class_names[k]``, and each
    class name its labels use must be one of them (:func:`class_numbers`)."""
    if not dataset.labeled:
        raise refuse_class_names(dataset.source)
    names = np.asarray(dataset.class_names, dtype=str)[dataset.labels]
    labels, class_names = class_numbers(names, class_names, dataset.source)
    return _relabeled(dataset, np.arange(dataset.n_images), labels, class_names)


def loaded_as(dataset: Dataset):
    """``(spec, options)`` :func:`~wavelens.datasets.load_dataset` read ``dataset`` with, or None."""
    return getattr(dataset, "_loaded_as", None)


def _numbered(prefix, positions):
    """``prefix`` followed by each position, as a str array (vectorized: 60,000 ids in ~15 ms)."""
    if not len(positions):
        return np.array([], dtype=str)
    digits = max(len(str(positions.min())), len(str(positions.max())))
    numbers = positions.astype(f"U{digits}")
    return np.char.add(prefix, numbers) if prefix else numbers


def split_ids(sizes):
    """Ids ``"{split}/{position}"`` of splits loaded one after the other, e.g. ``[("train", n), ("test", m)]``."""
    return np.concatenate([_numbered(f"{part}/", np.arange(n)) for part, n in sizes])


def make_dataset(images: np.ndarray, labels: Sequence | np.ndarray | None, class_names: Sequence[str] | None, *,
                 name: str, split: str, source: str, ids: Sequence | np.ndarray | None = None,
                 paths: Sequence | np.ndarray | None = None, input_paths: Sequence[str] | None = None,
                 index: Sequence[int] | np.ndarray | None = None) -> Dataset:
    """Check images and labels agree and build a :class:`Dataset`.

    Parameters
    ----------
    images : array-like of shape (n_images, height, width[, channels])
    labels : array-like of shape (n_images,) or None
        Integer labels, or strings that become class names (sorted); None for
        unlabeled images.
    class_names : list of str or None
        Names of classes 0..n_classes-1; taken from the labels when None.
    ids, paths : array-like of str, shape (n_images,), optional
        See :class:`Dataset`.
    index : array-like of int, shape (n_images,), optional
        Each image's position in the whole dataset, when only some were read.
    """
    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if labels is not None:
        labels = np.asarray(labels)
        if labels.dtype == object and labels.ndim == 1 and all(isinstance(x, str) for x in labels.tolist()):
            labels = labels.astype(str)
        if labels.dtype.kind == "S" and labels.ndim == 1:  # bytes: UTF-8 text, whatever bytes it holds
            labels = np.array([label.decode("utf-8", "replace") for label in labels.tolist()], dtype=str)
        if labels.dtype.kind == "U" and labels.ndim == 1 and len(labels) == len(images):
            labels, class_names = class_numbers(labels, class_names, source)
    if input_paths is None:  # read from the file or folder ``source``
        input_paths = (str(source),)
    return Dataset(images, labels, class_names, name=name, split=split, source=str(source), ids=ids, paths=paths,
                   input_paths=input_paths, index=index)


def check_dataset(dataset: object, what: str = "dataset") -> None:
    """Raise a one-line error unless ``dataset`` is a :class:`Dataset` (``what``: the parameter's name)."""
    if not isinstance(dataset, Dataset):
        raise WavelensError(
            f"The '{param(what)}' parameter must be a wavelens Dataset, not {type(dataset).__name__}: make one "
            "with wavelens.from_arrays(images, labels) or wavelens.load_dataset(path).")


def stratified_rows(labels: np.ndarray, limit: int | None, random_state: int) -> np.ndarray | None:
    """The rows :func:`stratified_subsample` keeps, in order, given the labels; None to keep all.

    Loaders of image files use it to decode only the images kept.
    """
    labels = np.asarray(labels)
    if limit is None or limit >= len(labels):
        return None
    rng = np.random.default_rng(random_state)
    classes, counts = np.unique(labels, return_counts=True)
    exact = counts * (limit / len(labels))
    quota = np.floor(exact).astype(int)
    shortfall = limit - quota.sum()
    order = np.argsort(-(exact - quota), kind="stable")
    quota[order[:shortfall]] += 1
    chosen = []
    for cls, k in zip(classes, quota):
        members = np.flatnonzero(labels == cls)
        chosen.append(rng.choice(members, size=k, replace=False))
    return np.sort(np.concatenate(chosen))


def stratified_subsample(dataset: Dataset, limit: int | None, random_state: int) -> Dataset:
    """Keep ``limit`` images drawn with ``random_state``, each class in proportion to its size.

    Class quotas are rounded by largest remainder, so they add up to ``limit``
    exactly; the kept images stay in their original order, with their index,
    ids and paths.
    """
    keep = stratified_rows(dataset.labels, limit, random_state)
    if keep is None:
        return dataset
    return _relabeled(dataset, keep, dataset.labels[keep] if dataset.labeled else None,
                      dataset.class_names if dataset.labeled else None)


def _relabeled(dataset, keep, labels, class_names):
    """The images ``keep`` of ``dataset`` (with their index, ids and paths), with ``labels`` and ``class_names``."""
    array, pixel_max = dataset.stored
    every = len(keep) == dataset.n_images  # all of them, in order: no copy
    array = array if every else array[keep]
    return Dataset(
        None if pixel_max else array,
        labels,
        class_names,
        name=dataset.name,
        split=dataset.split,
        source=dataset.source,
        index=dataset.index[keep],
        ids=dataset.ids[keep],
        paths=None if dataset.paths is None else dataset.paths[keep],
        pixels=array if pixel_max else None,
        pixel_max=pixel_max,
        input_paths=dataset.input_paths,
    )
