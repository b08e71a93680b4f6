"""Image folders: one sub-folder per class (optionally under train/ and test/), or unlabeled
images directly in the folder; and the one decoder of image files, :func:`load_image_files`,
which tables of paths (:mod:`._table`) use too. Its rules:

Pixel type
    Chosen once per dataset from the images' headers, before any pixel is
    decoded. All 8-bit images (Pillow modes 1, L, P, LA, PA, RGB, RGBA,
    CMYK, YCbCr...): uint8 pixels, as read. Any 16-bit image (modes I;16,
    I;16B, I;16L, I;16N) and no float one: uint16 pixels, 8-bit images
    multiplied by 257 (so 255 is 65535). Any float image (mode F): float32
    values, 8-bit images divided by 255, 16-bit ones by 65535, float ones as
    stored; :func:`make_dataset` then applies the :class:`Dataset` rule for
    float pixels (over the whole dataset: kept within [-1, 1], else divided
    by the largest magnitude).
    Images of mode I (32-bit integers, e.g. from TIFF) are decoded in that
    pass to see their values: 16-bit if every image of mode I holds only
    0..65535, else all are 32-bit, read as float32 values as stored.

    Pillow (13) has no 16-bit colour mode: it opens 48-bit RGB and 64-bit
    RGBA PNGs (and 16-bit-per-sample RGB TIFFs) as 8-bit RGB / RGBA,
    keeping the high byte of each sample (65535 -> 255, 1000 -> 3), and a
    16-bit gray+alpha PNG as 8-bit RGBA with equal R, G and B. They load as
    8-bit images; the gray+alpha one stays gray.

Alpha and transparency
    Every image is composited onto black: each colour value is multiplied
    by alpha / alpha's maximum, so a transparent pixel is 0 and an opaque
    one is unchanged. This holds for LA, PA, RGBA, premultiplied La and RGBa
    (already composited), and for a ``transparency`` colour or palette entry
    (P, L, RGB, 16-bit gray: pixels of that value are 0). Gray with alpha
    stays gray; the dataset is in colour (3 channels) if any image is in
    colour (a palette image is in colour unless every palette entry is gray).

Limits
    Each image's width x height (from its header) is checked against
    ``WAVELENS_MAX_IMAGE_PIXELS`` before it is decoded, and so is ``resize``;
    the whole stack against ``WAVELENS_MAX_DATA_BYTES`` before it is
    allocated. Pillow's own decompression-bomb check is replaced by these
    while the loader runs.

Damaged files
    A file Pillow cannot open or decode, whatever the error, gives one line
    naming the file. Pillow's warnings about metadata it skips (TIFF tags,
    EXIF) are not shown: such a file loads if its pixels decode.
"""

from __future__ import annotations

import errno
import functools
import mmap
import multiprocessing
import os
import re
import signal
import warnings
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from .._limits import check_limit, limit_value
from .._mapped import MAPPED_MIN_BYTES, release_pages, scratch_array
from .._validation import WavelensError, param, printable, shown
from ._base import (Dataset, file_text, make_dataset, numbered_with_rows, refuse_class_names, sorted_class_names,
                    stratified_rows)

__all__ = ["IMAGE_SUFFIXES", "check_resize", "is_image_folder", "load_image_files", "load_image_folder"]

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"}
# The formats of IMAGE_SUFFIXES (whatever suffix a file has), and never another of Pillow's
# plugins: a file named .png may be a JPEG, but not an EPS, which Pillow hands to Ghostscript.
# (Pillow's JPEG plugin opens multi-picture JPEGs, MPO, itself.)
_FORMATS = ("PNG", "JPEG", "BMP", "GIF", "TIFF", "WEBP")
_SIXTEEN_BIT = {"I;16", "I;16B", "I;16L", "I;16N"}
_DEEP_MODES = _SIXTEEN_BIT | {"I", "F"}  # modes whose pixels are not 8-bit
_GRAY_MODES = {"1", "L", "LA", "La"} | _DEEP_MODES
_ALPHA_MODES = {"LA", "PA", "RGBA", "La", "RGBa"}
_PREMULTIPLIED = {"La", "RGBa"}
_RESIZE = param("resize", text="(H, W)")


def _reason(exc):
    """What went wrong, in a few words on one line."""
    text = " ".join(printable(str(exc)).split())
    if not isinstance(exc, OSError) or not text:
        text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _listing(folder):
    """The entries of ``folder`` that are not hidden, sorted by name."""
    try:
        with os.scandir(folder) as entries:
            return sorted((e for e in entries if not e.name.startswith(".")), key=lambda e: e.name)
    except OSError as exc:
        raise WavelensError(
            f"{shown(folder)} cannot be read as a folder ({_reason(exc)}); check that it exists, "
            "is a folder and that you may read it."
        ) from None


def _is(entry, kind):
    """Whether a folder entry is a folder (``kind='dir'``) or a file, following symbolic links;
    a link to nothing is neither, a link loop or an entry that cannot be examined is an error."""
    try:
        return entry.is_dir() if kind == "dir" else entry.is_file()
    except OSError as exc:
        what = "is a symbolic link loop" if exc.errno == errno.ELOOP else "cannot be examined"
        raise WavelensError(
            f"{shown(entry.path)} {what} ({_reason(exc)}); remove it or fix it."
        ) from None


def _class_folders(root):
    """Names of the class folders of ``root`` (sub-folders not starting with '.'), sorted."""
    return [e.name for e in _listing(root) if _is(e, "dir")]


def _image_files(folder):
    return [Path(e.path) for e in _listing(folder)
            if os.path.splitext(e.name)[1].lower() in IMAGE_SUFFIXES and _is(e, "file")]


def _has_split_folders(root):
    return (Path(root) / "train").is_dir() and (Path(root) / "test").is_dir()


def is_image_folder(root):
    """Whether ``root`` (or its ``train/``) holds images in class folders or directly."""
    root = Path(root)
    if _has_split_folders(root):
        root = root / "train"
    return any(_image_files(root / c) for c in _class_folders(root)) or bool(_image_files(root))


@contextmanager
def _pillow_limits():
    """For the loader only: replace Pillow's decompression-bomb check by wavelens' image_pixels
    limit (Pillow's global is restored on the way out) and silence Pillow's warnings."""
    from PIL import Image

    saved = Image.MAX_IMAGE_PIXELS
    # Pillow refuses images above twice this, also frames and tiles it finds while decoding,
    # which no header shows; it only warns below, and that warning is silenced: each image's
    # header size is checked against the exact limit first, with a clearer message.
    Image.MAX_IMAGE_PIXELS = limit_value("image_pixels")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            # Damaged metadata (TIFF tags, EXIF...) that Pillow skips: the pixels decode or fail.
            warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


@contextmanager
def _image(path):
    """The image at ``path``, opened by Pillow (which reads only its header until it is loaded).

    Any failure in the ``with`` block, on opening or on decoding, becomes one line naming the
    file, except wavelens' own errors and MemoryError.
    """
    from PIL import Image

    try:
        handle = open(path, "rb")
    except OSError as exc:
        raise WavelensError(
            f"{shown(path)} cannot be read ({_reason(exc)}); check that you may read it."
        ) from None
    try:
        with handle, Image.open(handle, formats=_FORMATS) as image:
            yield image
    except (WavelensError, MemoryError):
        raise
    except Image.DecompressionBombError as exc:
        found = re.search(r"\((\d+) pixels\)", str(exc))
        check_limit("image_pixels", int(found[1]) if found else limit_value("image_pixels") + 1,
                    f"image {shown(path)}")
        raise WavelensError(f"{shown(path)} is too large to decode ({_reason(exc)}).") from None
    # The file-parsing boundary: on corrupt bytes Pillow's plugins raise many kinds of exception
    # (OSError, ValueError, SyntaxError, struct.error, EOFError, ZeroDivisionError, IndexError,
    # TypeError, KeyError, AssertionError..., and warnings when they are errors), on opening
    # or only when pixels are decoded. Each is a bad file, not a bug.
    except Exception as exc:
        raise WavelensError(f"{shown(path)} is not a readable image ({_reason(exc)}); "
                            "remove or replace it.") from None


def _palette_is_gray(image):
    """Whether every entry of a palette image's palette is gray (read without decoding)."""
    from PIL import Image

    palette = image.palette
    if palette is None:
        return False
    probe = Image.new("P", (1, 1))
    probe.putpalette(bytes(palette.palette), palette.rawmode or palette.mode)
    rgb = np.frombuffer(bytes(probe.getpalette("RGB")), np.uint8).reshape(-1, 3)
    return bool(np.all(rgb == rgb[:, :1]))


def _raw_modes(image):
    return {t.args[0] if isinstance(t.args, tuple) and t.args else t.args for t in image.tile}


def _is_colour(image):
    if image.mode in _GRAY_MODES:
        return False
    if image.mode in ("P", "PA"):
        return not _palette_is_gray(image)
    # Pillow opens a 16-bit gray+alpha PNG as RGBA (R = G = B): it stays gray.
    return not (image.mode == "RGBA" and _raw_modes(image) == {"LA;16B"})


def _has_alpha(image):
    return image.mode in _ALPHA_MODES or "transparency" in image.info


def _depth(image):
    """8, 16 or 32: bits of the pixel type an image needs (32: float32 values as stored);
    for mode I (32-bit integers), the range of its values instead (it decodes the image)."""
    if image.mode in _SIXTEEN_BIT:
        return 16
    if image.mode == "F":
        return 32
    if image.mode == "I":
        return tuple(int(v) for v in image.getextrema())
    return 8


def _unit_values(image, colour, int_16bit):
    """float64 pixels of a loaded image, composited onto black, of shape (h, w) or (h, w, 3):
    8- and 16-bit values divided by 255 or 65535 (those of mode I too if ``int_16bit``), float
    and 32-bit integer ones as stored."""
    mode = image.mode
    if mode in _DEEP_MODES:
        stored = np.asarray(image)
        values = stored.astype(np.float64)
        if mode in _SIXTEEN_BIT or (mode == "I" and int_16bit):
            values /= 65535
        transparency = image.info.get("transparency")
        if isinstance(transparency, (int, float)) and mode != "F":
            values[stored == transparency] = 0
    elif mode in _PREMULTIPLIED:  # colour already multiplied by alpha
        values = np.asarray(image)[..., :-1] / 255.0
    elif _has_alpha(image):
        if mode not in ("L", "LA", "RGB", "RGBA"):
            image = image.convert("RGBA")
        array = np.asarray(image.convert("RGBA" if colour else "LA"), dtype=np.float64)
        values = array[..., :-1] * array[..., -1:] / (255.0 * 255.0)
    else:
        if mode == "P":
            image = image.convert("RGB")
        values = np.asarray(image.convert("RGB" if colour else "L"), dtype=np.float64) / 255.0
    if values.ndim == 3 and not colour:
        values = values[..., 0]
    if values.ndim == 2 and colour:
        values = np.repeat(values[..., None], 3, axis=2)
    return values


def _resized(values, size):
    """Bilinear resize (Pillow's) of float pixels to ``size`` (h, w), channel by channel."""
    from PIL import Image

    planes = values[..., None] if values.ndim == 2 else values
    out = np.empty(size + planes.shape[2:], dtype=np.float64)
    for c in range(planes.shape[2]):
        plane = Image.fromarray(np.ascontiguousarray(planes[..., c], dtype=np.float32))
        out[..., c] = np.asarray(plane.resize((size[1], size[0]), Image.Resampling.BILINEAR))
    return out[..., 0] if values.ndim == 2 else out


def _check_size(path, found, size, resize):
    if found != size and not resize:
        raise WavelensError(
            f"{shown(path)} decodes to {found[0]}x{found[1]} pixels, not the {size[0]}x{size[1]} "
            f"of its header or of the other images; remove or replace it, or pass {_RESIZE}."
        )


def _decode(path, dtype, colour, size, resize, int_16bit):
    """The pixels of one image as ``dtype``, of shape ``size`` (+ (3,) in colour)."""
    from PIL import Image

    with _image(path) as image:
        image.load()
        found = (image.height, image.width)
        _check_size(path, found, size, resize)
        if found != size:  # a GIF can grow while decoding (Pillow refuses it above twice the limit)
            check_limit("image_pixels", found[0] * found[1],
                        f"image {shown(path)} ({found[0]}x{found[1]})")
        if dtype == np.uint8 and image.mode not in _DEEP_MODES and not _has_alpha(image):
            # The 8-bit fast path: Pillow converts and resizes the uint8 pixels.
            if image.mode == "P":
                image = image.convert("RGB")
            image = image.convert("RGB" if colour else "L")
            if found != size:
                image = image.resize((size[1], size[0]), Image.Resampling.BILINEAR)
            return np.asarray(image, dtype=np.uint8)
        with np.errstate(invalid="ignore", over="ignore"):  # NaN and inf are refused below
            values = _unit_values(image, colour, int_16bit)
            if found != size:
                values = _resized(values, size)
            if dtype == np.float32:
                values = values.astype(np.float32)
    if dtype == np.float32:
        if not np.all(np.isfinite(values)):
            raise WavelensError(f"{shown(path)} holds NaN or infinite pixel values (or values beyond "
                                "float32's range); remove or replace it.")
        return values
    top = np.iinfo(dtype).max
    return np.clip(np.rint(np.nan_to_num(values * top)), 0, top).astype(dtype)


def _collect(part_root, class_folders):
    """Image files of ``part_root``'s class folders, in folder order, and each one's class folder name."""
    files, names = [], []
    for name in class_folders:
        members = _image_files(part_root / name)
        files.extend(members)
        names.extend([name] * len(members))
    return files, names


def check_resize(resize):
    """``resize`` as ``(height, width)`` within the image_pixels limit (or None), or raise."""
    if resize is None:
        return None
    try:
        size = tuple(int(s) for s in resize)
    except (TypeError, ValueError):
        size = ()
    if len(size) != 2 or min(size) < 1:
        raise WavelensError(
            f"resize must be (height, width) with positive integers; got {resize!r}."
        )
    check_limit("image_pixels", size[0] * size[1], f"resize to {size[0]}x{size[1]}")
    return size


def _read_images(files, resize, where, describe):
    """The pixels of ``files`` stacked, as uint8, uint16 or float32 (see the module's rules).

    Every header is read (and checked against the limits) before any image is decoded
    and before the stack is allocated.
    """
    with _pillow_limits():
        sizes, depths, int_ranges, colour = {}, set(), [], False
        for i, path in enumerate(files):
            try:
                with _image(path) as image:
                    width, height = image.size
                    if width < 1 or height < 1:
                        raise WavelensError(f"{shown(path)} is not a readable image (it declares "
                                            f"{width}x{height} pixels); remove or replace it.")
                    check_limit("image_pixels", width * height, f"image {shown(path)} ({height}x{width})")
                    sizes.setdefault((height, width), path)
                    depth = _depth(image)
                    (int_ranges.append if isinstance(depth, tuple) else depths.add)(depth)
                    colour = colour or _is_colour(image)
            except WavelensError as exc:
                raise _described(exc, describe, i) from None
        if resize is None and len(sizes) > 1:
            (size_a, path_a), (size_b, path_b) = list(sizes.items())[:2]
            raise WavelensError(
                f"{where}: images have {len(sizes)} different sizes (e.g. {shown(path_a)} is "
                f"{size_a[0]}x{size_a[1]}, {shown(path_b)} is {size_b[0]}x{size_b[1]}); "
                f"pass {_RESIZE} to bring them to one size."
            )
        size = next(iter(sizes)) if resize is None else resize
        # Images of mode I are 16-bit if all their values are, else all are 32-bit.
        int_16bit = all(0 <= low and high <= 65535 for low, high in int_ranges)
        if int_ranges:
            depths.add(16 if int_16bit else 32)
        dtype = np.dtype(np.float32 if 32 in depths else np.uint16 if 16 in depths else np.uint8)
        shape = (len(files),) + size + ((3,) if colour else ())
        check_limit("data_bytes", int(np.prod(shape, dtype=object)) * dtype.itemsize,
                    f"the {len(files):,} images of {where} "
                    f"({'x'.join(map(str, shape[1:]))} {dtype.name} each)")
        decode = functools.partial(_decode, dtype=dtype, colour=colour, size=size, resize=resize is not None,
                                   int_16bit=int_16bit)
        images = _decode_all(files, decode, shape, dtype, describe)
    return images


# Image files are decoded by forked worker processes (Pillow's decoders hold the GIL for
# some formats), each writing its images straight into one shared anonymous mapping: no
# image is pickled. Below this many files a process is not worth starting.
_PROCESS_MIN_FILES = 256
_WORK = {}  # what the forked workers decode: set before the fork, read in the children


def _decode_all(files, decode, shape, dtype, describe):
    """Every file decoded into one array of ``shape``; in worker processes when that pays."""
    from .._parallel import chunk_bounds, resolve_n_jobs

    n_workers = min(resolve_n_jobs(-1), max(1, len(files) // _PROCESS_MIN_FILES))
    one_process = n_workers < 2 or "fork" not in multiprocessing.get_all_start_methods()
    nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    if nbytes >= MAPPED_MIN_BYTES:  # on disk, read back chunk by chunk: memory stays bounded
        images = scratch_array(shape, dtype, f"the {len(files):,} decoded images")
    elif one_process:
        images = np.empty(shape, dtype=dtype)
    else:  # shared with the forked workers
        images = np.frombuffer(mmap.mmap(-1, max(1, nbytes)), dtype=dtype, count=int(np.prod(shape))).reshape(shape)
    if one_process:
        for i, path in enumerate(files):
            try:
                images[i] = decode(path)
            except WavelensError as exc:
                raise _described(exc, describe, i) from None
            if i % _PROCESS_MIN_FILES == 0:
                release_pages()
        return images
    _WORK.update(files=files, decode=decode, images=images)
    try:
        with multiprocessing.get_context("fork").Pool(n_workers, initializer=_quiet_worker) as pool:
            bounds = chunk_bounds(len(files), max(16, len(files) // (8 * n_workers)))
            for failure in pool.imap_unordered(_decode_range, bounds):
                if failure is not None:
                    i, template = failure
                    raise _described(WavelensError(template), describe, i) from None
    finally:
        _WORK.clear()
    return images


def _quiet_worker():
    # The parent stops the workers (SIGTERM from Pool.terminate) and handles Ctrl-C for all:
    # a worker dies at once and silently, without the parent's Python handlers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)


def _decode_range(bounds):
    """In a worker: decode files start:stop into the shared images; the first failure as (i, message)."""
    files, decode, images = _WORK["files"], _WORK["decode"], _WORK["images"]
    try:
        for i in range(*bounds):
            try:
                images[i] = decode(files[i])
            except WavelensError as exc:
                return i, exc.template
    finally:
        release_pages()  # the decoded images are in the scratch file; this worker needs none of them
    return None


def _described(exc, describe, i):
    """``exc``, with ``describe(i)`` (where the file was named, e.g. a CSV's line) in front if given."""
    return exc if describe is None else WavelensError(f"{describe(i)}: {exc.template}")


def load_image_files(files: Sequence[str | os.PathLike], labels: Sequence | None, class_names: Sequence[str] | None,
                     *, root: str | os.PathLike, split: str, name: str, source: str,
                     resize: tuple[int, int] | None = None, describe: Callable[[int], str] | None = None,
                     rows: Sequence[int] | None = None) -> Dataset:
    """Decode image files, one image each, into a :class:`Dataset` (the one decoder of image files).

    Image folders and CSV/parquet lists of paths both load through here, by the
    rules of this module (pixel type, alpha, limits, damaged files).

    Parameters
    ----------
    files : list of Path
        The image files, in the dataset's order.
    labels : list of int or str, or None
        A label per file (class numbers into ``class_names``, or class names);
        None for unlabeled images.
    class_names : list of str or None
    root : Path
        The folder ids are relative to: each image's id is its path relative to
        ``root``, with '/' separators.
    split, name, source : str
        As for :class:`Dataset`; ``source`` is also where messages say the images are.
    resize : tuple of int, optional
        ``(height, width)``, already checked by :func:`check_resize`.
    describe : callable, optional
        ``describe(i)`` names where file ``i`` was listed (e.g. ``"list.csv line 3"``);
        it is put in front of any error about that file.
    rows : sequence of int, optional
        Decode only these files (positions in ``files``, increasing): a subsample, whose
        images keep their positions as their ``index``.
    """
    if not files:
        raise WavelensError(f"{source}: the dataset is empty (0 image files); list at least one image.")
    if rows is not None:
        files = [files[i] for i in rows]
        labels = None if labels is None else [labels[i] for i in rows]
        if describe is not None:
            listed = describe
            describe = lambda i: listed(rows[i])  # noqa: E731
    images = _read_images(files, resize, source, describe)
    base = os.path.abspath(root)
    absolute = [os.path.abspath(f) for f in files]
    ids = [file_text(os.path.relpath(f, base).replace(os.sep, "/")) for f in absolute]
    return make_dataset(images, None if labels is None else np.asarray(labels), class_names, name=name,
                        split=split, source=source, ids=ids, paths=[file_text(f) for f in absolute],
                        index=None if rows is None else np.asarray(rows))


def load_image_folder(root: str | os.PathLike, split: str, *, resize: tuple[int, int] | None = None,
                      name: str | None = None, limit: int | None = None, random_state: int = 0,
                      class_names: Sequence[str] | None = None) -> Dataset:
    """Load PNG, JPEG, BMP, GIF, TIFF and WebP images from ``root/<class>/``, or ``root/`` if unlabeled.

    Pixels keep their depth: 8-bit images give uint8 pixels; if any image is
    16-bit (and none float), uint16 pixels, 8-bit ones scaled by 257; if any
    is float (or 32-bit integer), float32 values, 8-bit ones divided by 255
    and 16-bit ones by 65535, then scaled by the :class:`Dataset` rule for
    floats. Pillow opens 16-bit colour PNGs as 8-bit (the high byte of each
    sample), so they load as 8-bit. Alpha and transparency are composited
    onto black (colour times alpha / its maximum: transparent pixels are 0);
    gray with alpha stays gray, and the images are in colour if any is.

    Parameters
    ----------
    root : Path
        Holds one sub-folder per class, or ``train/`` and ``test/`` sub-folders
        that each hold one sub-folder per class. The classes are the class
        folders of both, sorted, whichever split is loaded, so that the train
        and test splits number their classes alike; a class may be in one only.
        A class folder without images is a class without images. Files and folders
        whose name starts with '.' are ignored. If no class folder holds an
        image, the images directly in ``root`` (or in ``train/`` and
        ``test/``) are loaded without labels: every label 0, the one class
        ``"(unlabeled)"``. (When class folders hold images, images directly
        in ``root`` are not part of the dataset.)
    split : {'train', 'test', 'all'}
        Only ``all`` for a folder without ``train/`` and ``test/``.
    resize : tuple of int, optional
        ``(height, width)`` to resize every image to (bilinear). Without it,
        all images must already have one size.
    name : str, optional
        The dataset's name; the folder's name by default.
    limit, random_state : optional
        Decode only the ``limit`` images :func:`~wavelens.datasets.load_dataset`'s
        stratified subsample keeps (the same images, without decoding the others).
    class_names : list of str, optional
        The classes in their order, instead of the class folders: each class
        folder that holds images of the split must be one of them.

    Returns
    -------
    Dataset
        With ``ids`` the images' paths relative to ``root`` (e.g.
        ``"train/cat/0.png"``) and ``paths`` their absolute paths.

    Raises
    ------
    WavelensError
        One line, for an unreadable or corrupt file, a folder that holds no
        image, images of several sizes without ``resize``, a class folder
        missing from ``class_names``, or an image, ``resize`` or the whole
        stack above a limit (``WAVELENS_MAX_IMAGE_PIXELS``,
        ``WAVELENS_MAX_DATA_BYTES``), checked before decoding or allocating.
    """
    root = Path(root)
    size = check_resize(resize)
    if _has_split_folders(root):
        folders = {part: _class_folders(root / part) for part in ("train", "test")}
        parts = ["train", "test"] if split == "all" else [split]
        part_roots = [root / part for part in parts]
    else:
        if split != "all":
            raise WavelensError(
                f"{shown(root)} has no train/ and test/ sub-folders, so it has no '{split}' split; "
                f"use {param('split', 'all')}."
            )
        parts, part_roots = [None], [root]
        folders = {None: _class_folders(root)}
    # The classes of every split, whichever is loaded: one numbering for train and test.
    every_class = sorted_class_names({c for names in folders.values() for c in names})
    files, names = [], []
    for part, part_root in zip(parts, part_roots):
        part_files, part_names = _collect(part_root, folders[part])
        files.extend(part_files)
        names.extend(part_names)
    where = " and ".join(shown(p) for p in part_roots)
    loose = [] if files else [path for part_root in part_roots for path in _image_files(part_root)]
    if loose:  # no class folder holds an image: the images directly in the folder, unlabeled
        if class_names is not None:
            raise refuse_class_names(where)
        rows = stratified_rows(np.zeros(len(loose)), limit, random_state)
        return load_image_files(loose, None, None, root=root, split=split, name=name or shown(root.name),
                                source=shown(root), resize=size, rows=rows)
    present = sorted({c for part in parts for c in folders[part]})
    if not files and not present:
        raise WavelensError(f"{where} holds no image: put the images in it (unlabeled) or in one sub-folder "
                            "per class, named after the class.")
    if not files:
        raise WavelensError(
            f"{where}: the dataset is empty: its class folders "
            f"({', '.join(shown(c) for c in present)}) hold no image files with suffix "
            f"{', '.join(sorted(IMAGE_SUFFIXES))}."
        )
    # class_names are checked here, before any image is decoded.
    labels, class_names, rows = numbered_with_rows(names, every_class, class_names, limit, random_state, shown(root))
    # Dataset text is display text: a folder name that is not UTF-8 is shown with \xNN escapes.
    return load_image_files(files, labels, class_names, root=root, split=split, name=name or shown(root.name),
                            source=shown(root), resize=size, rows=rows)
