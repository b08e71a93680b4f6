"""The dataset container and helpers shared by every loader."""

import numpy as np

from .._validation import WavelensError, check_finite

__all__ = ["Dataset", "make_dataset", "pixels_to_unit", "stratified_subsample", "to_unit_float32"]


class Dataset:
    """Images with their labels.

    Attributes
    ----------
    images : ndarray of shape (n_images, height, width) or (n_images, height, width, channels)
        float32 pixel values in [0, 1]. For a dataset read from integer pixels
        this is made from ``pixels`` on first use (and kept), so that work done
        chunk by chunk from ``pixels`` never holds the float32 copy, 4 times
        the size.
    labels : ndarray of shape (n_images,)
        Integer class labels, indices into ``class_names``.
    class_names : list of str
        The name of each class.
    name : str
        A short name of the dataset (``digits``, ``fashion-mnist``, a folder name...).
    split : str
        ``train``, ``test`` or ``all``.
    source : str
        Where the images were read from.
    index : ndarray of shape (n_images,)
        Each image's position in the full split, kept through ``--limit``.
    pixels : ndarray of unsigned integers or None
        The pixels as read (e.g. uint8), of the shape of ``images``; then
        ``images`` is ``pixels / pixel_max`` in float32.
    pixel_max : int or None
        The largest pixel value of ``pixels``' type (255 for uint8).
    """

    def __init__(self, images, labels, class_names, *, name, split, source, index=None, pixels=None,
                 pixel_max=None):
        if images is None and pixels is None:
            raise ValueError("a Dataset needs images or pixels")
        self._images = images
        self.pixels = pixels
        self.pixel_max = pixel_max if pixels is not None else None
        self.labels = labels
        self.class_names = class_names
        self.name = name
        self.split = split
        self.source = source
        self.index = np.arange(len(labels)) if index is None else index

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
    """Convert raw pixel values to float32 in [0, 1].

    Unsigned integers are divided by their type's maximum (255 for uint8);
    booleans become 0 and 1; floats already in [0, 1] are kept, and other
    floats are scaled linearly from their minimum and maximum over the whole
    dataset (so relative intensities are preserved).
    """
    images = np.asarray(images)
    if images.dtype == bool:
        return images.astype(np.float32)
    if np.issubdtype(images.dtype, np.unsignedinteger):
        return pixels_to_unit(images, np.iinfo(images.dtype).max)
    if np.issubdtype(images.dtype, np.signedinteger):
        images = images.astype(np.float64)
    elif not np.issubdtype(images.dtype, np.floating):
        raise WavelensError(
            f"{what} has pixel type {images.dtype}; expected unsigned integers or floats."
        )
    check_finite(images, what)
    if images.size == 0:
        return images.astype(np.float32)
    low, high = float(images.min()), float(images.max())
    if low >= 0.0 and high <= 1.0:
        return images.astype(np.float32)
    scale = high - low if high > low else 1.0
    return ((images - low) / scale).astype(np.float32)


def make_dataset(images, labels, class_names, *, name, split, source):
    """Check images and labels agree and build a :class:`Dataset`.

    Parameters
    ----------
    images : array-like of shape (n_images, height, width[, channels])
    labels : array-like of shape (n_images,)
        Integer labels, or strings that become class names.
    class_names : list of str or None
        Names of classes 0..n_classes-1; taken from the labels when None.
    """
    images = np.asarray(images)
    labels = np.asarray(labels)
    if images.ndim not in (3, 4):
        raise WavelensError(
            f"{source}: images must have shape (n, height, width) or (n, height, width, "
            f"channels); found shape {images.shape}."
        )
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if labels.ndim != 1:
        raise WavelensError(f"{source}: labels must be one-dimensional; found shape {labels.shape}.")
    if images.shape[0] != labels.shape[0]:
        raise WavelensError(
            f"{source}: {images.shape[0]} images but {labels.shape[0]} labels; "
            "every image needs exactly one label."
        )
    if images.shape[0] == 0:
        raise WavelensError(f"{source}: the dataset is empty (0 images); point wavelens at a dataset with images.")
    if labels.dtype.kind in "US":
        class_names, labels = np.unique(labels.astype(str), return_inverse=True)
        class_names = [str(c) for c in class_names]
    elif labels.dtype.kind in "iub":
        labels = labels.astype(np.int64)
        if labels.min() < 0:
            raise WavelensError(f"{source}: labels must be >= 0; found {int(labels.min())}.")
    elif labels.dtype.kind == "f" and np.all(np.isfinite(labels)) and np.all(labels == np.round(labels)):
        labels = labels.astype(np.int64)
    else:
        raise WavelensError(f"{source}: labels must be integers or strings; found {labels.dtype}.")
    n_classes = int(labels.max()) + 1
    if class_names is None:
        class_names = [str(c) for c in range(n_classes)]
    class_names = [str(c) for c in class_names]
    if len(class_names) < n_classes:
        raise WavelensError(
            f"{source}: label {n_classes - 1} has no class name ({len(class_names)} names given)."
        )
    if np.issubdtype(images.dtype, np.unsignedinteger):  # kept as read: images are made when needed
        return Dataset(None, labels, class_names, name=name, split=split, source=str(source),
                       pixels=images, pixel_max=int(np.iinfo(images.dtype).max))
    images = to_unit_float32(images, f"{source} images")
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
