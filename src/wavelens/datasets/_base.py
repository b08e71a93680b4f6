"""The dataset container and helpers shared by every loader."""

import numpy as np

from .._limits import check_limit
from .._validation import WavelensError, check_finite, printable

__all__ = ["Dataset", "check_labels", "make_dataset", "pixels_to_unit", "stratified_subsample", "to_unit_float32"]


class Dataset:
    """Images with their labels.

    Parameters
    ----------
    images : array-like of shape (n_images, height, width[, channels]) or None
        Pixel values. Unsigned integers (uint8, uint16...) are kept as read and
        stand for ``images / max`` of their type (255 for uint8); booleans are 0
        and 1; floats (and signed integers) within [-1, 1] are kept, and others
        are divided by their largest absolute value over the whole dataset, one
        factor for every image, so patterns and every statistic but PSNR are
        unchanged (floats from 0 to 255 become 0 to 1).
    labels : array-like of shape (n_images,)
        Class numbers 0..n_classes-1 (integers, or floats holding integers).
    class_names : list of str
        The name of each class; text from the data is made printable (invalid
        UTF-8 replaced, control characters escaped).
    name, split, source : str
    index : array-like of shape (n_images,), default=None
        Each image's position in the full split; 0..n_images-1 when None.
    pixels, pixel_max : ndarray of unsigned integers and int, default=None
        The pixels as read and their largest possible value, instead of ``images``.

    Attributes
    ----------
    images : ndarray of shape (n_images, height, width) or (n_images, height, width, channels)
        float32 pixel values. For a dataset of integer pixels this is made from
        ``pixels`` on first use (and kept), so that work done chunk by chunk from
        ``pixels`` never holds the float32 copy, 4 times the size.
    labels : ndarray of int64, shape (n_images,)
    pixels : ndarray of unsigned integers or None
        The pixels as read (e.g. uint8), of the shape of ``images``; then
        ``images`` is ``pixels / pixel_max`` in float32.
    pixel_max : int or None
        The largest pixel value of ``pixels``' type (255 for uint8).
    """

    def __init__(self, images, labels, class_names, *, name, split, source, index=None, pixels=None,
                 pixel_max=None):
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
        self.labels, self.class_names = check_labels(labels, class_names, len(array), str(source))
        self.name = printable(name)
        self.split = split
        self.source = source
        self.index = np.arange(len(self.labels)) if index is None else np.asarray(index)

    @property
    def images(self):
        if self._images is None:
            self._images = pixels_to_unit(self.pixels, self.pixel_max)
        return self._images

    def select_images(self, rows):
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


def make_dataset(images, labels, class_names, *, name, split, source):
    """Check images and labels agree and build a :class:`Dataset`.

    Parameters
    ----------
    images : array-like of shape (n_images, height, width[, channels])
    labels : array-like of shape (n_images,)
        Integer labels, or strings that become class names (sorted).
    class_names : list of str or None
        Names of classes 0..n_classes-1; taken from the labels when None.
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if labels.dtype == object and labels.ndim == 1 and all(isinstance(x, str) for x in labels.tolist()):
        labels = labels.astype(str)
    if labels.dtype.kind == "S" and labels.ndim == 1:  # bytes: UTF-8 text, whatever bytes it holds
        labels = np.array([label.decode("utf-8", "replace") for label in labels.tolist()])
    if labels.dtype.kind in "US" and labels.ndim == 1:
        class_names, labels = np.unique(labels.astype(str), return_inverse=True)
        class_names = [str(c) for c in class_names]
    return Dataset(images, labels, class_names, name=name, split=split, source=str(source))


def stratified_subsample(dataset, limit, seed):
    """Keep ``limit`` images drawn with ``seed``, each class in proportion to its size.

    Class quotas are rounded by largest remainder, so they add up to ``limit``
    exactly; the kept images stay in their original order.
    """
    if limit is None or limit >= dataset.n_images:
        return dataset
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(dataset.labels, return_counts=True)
    exact = counts * (limit / dataset.n_images)
    quota = np.floor(exact).astype(int)
    shortfall = limit - quota.sum()
    order = np.argsort(-(exact - quota), kind="stable")
    quota[order[:shortfall]] += 1
    chosen = []
    for cls, k in zip(classes, quota):
        members = np.flatnonzero(dataset.labels == cls)
        chosen.append(rng.choice(members, size=k, replace=False))
    keep = np.sort(np.concatenate(chosen))
    array, pixel_max = dataset.stored
    return Dataset(
        None if pixel_max else array[keep],
        dataset.labels[keep],
        dataset.class_names,
        name=dataset.name,
        split=dataset.split,
        source=dataset.source,
        index=dataset.index[keep],
        pixels=array[keep] if pixel_max else None,
        pixel_max=pixel_max,
    )
