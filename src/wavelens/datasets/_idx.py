"""MNIST-layout IDX files (MNIST, Fashion-MNIST, KMNIST, EMNIST...), raw or gzip."""

import math
import os
import zlib
from pathlib import Path

import numpy as np

from .._limits import check_limit
from .._validation import WavelensError, param
from ._base import make_dataset, split_ids

__all__ = ["read_idx", "load_idx_folder", "find_idx_pair"]

_IDX_TYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}

# Fashion-MNIST's own class names, in label order.
FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]

_SPLIT_PREFIXES = {"train": ("train",), "test": ("t10k", "test")}


# Compressed bytes read per step. Every step decompresses at most what the header
# still allows, so a gzip bomb stops as soon as it outgrows its header.
_CHUNK = 1 << 20
# Deflate turns at most 1032 output bytes out of one compressed byte.
_DEFLATE_MAX_RATIO = 1032
# More dimensions than this is no IDX file (numpy itself stops at 64).
_MAX_NDIM = 32


class _Gunzip:
    """The decompressed bytes of a gzip file, produced only as far as they are read.

    As ``gzip.decompress``, every member of a multi-member file (as ``cat a.gz
    b.gz`` makes) is read in turn, and anything after a member that is not
    another member is an error. Unlike it, no more is decompressed than the
    caller asks for.
    """

    def __init__(self, handle):
        self._handle = handle
        self._member = zlib.decompressobj(wbits=31)
        self._pending = b""  # compressed bytes read from the file, not yet decompressed
        self._started = False  # whether the current member has been given any byte

    def readinto(self, view):
        """Fill ``view`` from the decompressed stream; return how many bytes were written
        (fewer than ``len(view)`` only at the end of the last member)."""
        filled, size = 0, len(view)
        while filled < size:
            if not self._pending:
                self._pending = self._handle.read(_CHUNK)
                if not self._pending:
                    if self._started:
                        raise EOFError("compressed file ended before the end-of-stream marker was reached")
                    break
            self._started = True
            out = self._member.decompress(self._pending, size - filled)
            self._pending = self._member.unconsumed_tail
            if out:
                view[filled:filled + len(out)] = out
                filled += len(out)
            if self._member.eof:  # the next member, if any, starts right after this one
                # (all input given after the end of a member is in unused_data, whether
                # or not zlib also left it in unconsumed_tail)
                self._pending = self._member.unused_data
                self._member = zlib.decompressobj(wbits=31)
                self._started = False
        return filled


def _read_exactly(source, size):
    """Up to ``size`` bytes from ``source`` (fewer only at its end), into a new uint8 array."""
    buffer = np.empty(size, dtype=np.uint8)
    view = memoryview(buffer)
    filled = 0
    while filled < size:
        n = source.readinto(view[filled:])
        if not n:
            break
        filled += n
    return buffer, filled


def _parse_header(path, source):
    """The dtype, shape and header length of an IDX stream, read from ``source``."""
    magic, n = _read_exactly(source, 4)
    if n < 4 or magic[0] != 0 or magic[1] != 0 or int(magic[2]) not in _IDX_TYPES:
        raise WavelensError(
            f"{path} is not an IDX file (its header is not the IDX magic number); "
            "expected MNIST-layout files such as train-images-idx3-ubyte.gz."
        )
    dtype, ndim = _IDX_TYPES[int(magic[2])], int(magic[3])
    if ndim > _MAX_NDIM:
        raise WavelensError(
            f"{path} is not a usable IDX file: its header declares {ndim} dimensions (at most "
            f"{_MAX_NDIM} are read; MNIST-layout files have 1 or 3); download it again."
        )
    dims, n = _read_exactly(source, 4 * ndim)
    if n < 4 * ndim:
        raise WavelensError(f"{path} is truncated: its header is incomplete; download it again.")
    shape = tuple(int(d) for d in dims.view(">u4"))
    if math.prod(max(d, 1) for d in shape) * dtype.itemsize >= 2**63:  # numpy's bound, even for 0 items
        raise WavelensError(
            f"{path} is corrupt: its header announces shape {shape}, larger than any array can be; download it again."
        )
    return dtype, shape, 4 + 4 * ndim


def _check_limits(path, shape, expected):
    """Raise if what the header declares is above wavelens' limits."""
    check_limit("data_bytes", expected, f"{path} (its header announces shape {shape})")
    if len(shape) >= 3:
        check_limit("image_pixels", shape[1] * shape[2],
                    f"{path} (its header announces images of {shape[1]}x{shape[2]} pixels)")


def _size_error(path, shape, expected, found, *, at_least=False):
    state = "truncated" if found < expected else "longer than its header says"
    holds = f"more than {expected:,}" if at_least else f"{found:,}"
    return WavelensError(
        f"{path} is {state}: its header announces shape {shape} ({expected:,} bytes of data) "
        f"but it holds {holds}; download it again."
    )


def _read_raw(path, handle):
    size = os.fstat(handle.fileno()).st_size
    dtype, shape, header = _parse_header(path, handle)
    expected = math.prod(shape) * dtype.itemsize
    if size - header != expected:  # checked before allocating anything
        raise _size_error(path, shape, expected, size - header)
    _check_limits(path, shape, expected)
    data, found = _read_exactly(handle, expected)
    if found < expected:  # the file changed while being read
        raise _size_error(path, shape, expected, found)
    if handle.read(1):
        raise _size_error(path, shape, expected, expected + 1, at_least=True)
    return dtype, shape, data


def _read_gzip(path, handle):
    compressed = os.fstat(handle.fileno()).st_size
    source = _Gunzip(handle)
    dtype, shape, _ = _parse_header(path, source)
    expected = math.prod(shape) * dtype.itemsize
    if expected > compressed * _DEFLATE_MAX_RATIO:
        raise WavelensError(
            f"{path} is truncated: its header announces shape {shape} ({expected:,} bytes of data) "
            f"but its {compressed:,} compressed bytes cannot hold more than {compressed * _DEFLATE_MAX_RATIO:,}; "
            "download it again."
        )
    _check_limits(path, shape, expected)
    data, found = _read_exactly(source, expected)
    if found < expected:
        raise _size_error(path, shape, expected, found)
    if source.readinto(bytearray(1)):  # one byte more at most, never the rest of a gzip bomb
        raise _size_error(path, shape, expected, expected + 1, at_least=True)
    return dtype, shape, data


def read_idx(path):
    """Read one IDX file (raw or gzip-compressed) into a numpy array.

    The shape declared by the file's header is checked against the bytes the
    file holds and against wavelens' limits (``WAVELENS_MAX_DATA_BYTES``)
    before anything is allocated; a compressed file is decompressed only as far
    as its header declares (plus one byte, to tell a file longer than its
    header says).

    Parameters
    ----------
    path : str or Path
        The file, e.g. ``train-images-idx3-ubyte.gz``.

    Returns
    -------
    ndarray
        The array with the dimensions stored in the file's header.
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            compressed = handle.read(2) == b"\x1f\x8b"
            handle.seek(0)
            if not compressed:
                dtype, shape, data = _read_raw(path, handle)
            else:
                try:
                    dtype, shape, data = _read_gzip(path, handle)
                except (EOFError, zlib.error) as exc:
                    raise WavelensError(
                        f"{path} is a corrupt or truncated gzip file ({exc}); download it again."
                    ) from None
    except OSError as exc:
        raise WavelensError(f"Cannot read {path}: {exc.strerror or exc}.") from None
    return data.view(dtype).reshape(shape).astype(dtype.newbyteorder("="), copy=False)


def _candidates(folder, split, kind):
    """Files in ``folder`` that look like the ``kind`` (images/labels) file of ``split``."""
    rank = "idx3" if kind == "images" else "idx1"
    found = []
    for path in sorted(Path(folder).iterdir()):
        name = path.name.lower()
        if not path.is_file() or kind not in name or rank not in name:
            continue
        if any(f"{prefix}-" in name or f"{prefix}_" in name or name.startswith(prefix)
               for prefix in _SPLIT_PREFIXES[split]):
            found.append(path)
    return found


def find_idx_pair(folder, split):
    """Return ``(images_path, labels_path)`` for ``split`` in ``folder``, or None."""
    images = _candidates(folder, split, "images")
    labels = _candidates(folder, split, "labels")
    if not images or not labels:
        return None
    # Prefer compressed files when both are present: they are the distributed form.
    key = lambda p: (not p.name.endswith(".gz"), p.name)  # noqa: E731
    return min(images, key=key), min(labels, key=key)


def has_idx_files(folder):
    return any(find_idx_pair(folder, split) for split in _SPLIT_PREFIXES)


def load_idx_folder(folder, split, *, name, class_names=None):
    """Load a folder of MNIST-layout IDX files.

    Parameters
    ----------
    folder : Path
        Holds ``train-images-idx3-ubyte[.gz]``, ``train-labels-idx1-ubyte[.gz]``
        and/or the ``t10k-`` (test) pair.
    split : {'train', 'test', 'all'}
        ``all`` joins train and test, in that order. Image ids are
        ``"train/{i}"`` and ``"test/{i}"``, ``i`` the position in its file.
    name : str
        The dataset's name.
    class_names : list of str, optional
        Names of the classes; label numbers otherwise.
    """
    folder = Path(folder)
    splits = ["train", "test"] if split == "all" else [split]
    images, labels = [], []
    for part in splits:
        pair = find_idx_pair(folder, part)
        if pair is None:
            raise WavelensError(
                f"No {part} IDX files in {folder}: expected a pair like "
                f"{'train' if part == 'train' else 't10k'}-images-idx3-ubyte.gz and "
                f"{'train' if part == 'train' else 't10k'}-labels-idx1-ubyte.gz."
            )
        part_images, part_labels = read_idx(pair[0]), read_idx(pair[1])
        if part_images.ndim != 3:
            raise WavelensError(
                f"{pair[0]}: expected images of shape (n, height, width); found shape {part_images.shape}."
            )
        if part_labels.ndim != 1:
            raise WavelensError(
                f"{pair[1]}: expected labels of shape (n,), one per image; found shape {part_labels.shape}."
            )
        if part_images.shape[0] != part_labels.shape[0]:
            raise WavelensError(
                f"{pair[0]} holds {part_images.shape[0]} images but {pair[1]} holds "
                f"{part_labels.shape[0]} labels; the two files must come from the same split."
            )
        if images and part_images.shape[1:] != images[0].shape[1:]:
            raise WavelensError(
                f"{pair[0]} holds {part_images.shape[1]}x{part_images.shape[2]} images but the train "
                f"split holds {images[0].shape[1]}x{images[0].shape[2]}; use {param('split', 'train')} or "
                f"{param('split', 'test')}."
            )
        images.append(part_images)
        labels.append(part_labels)
    ids = split_ids(zip(splits, map(len, labels))) if split == "all" else None
    if len(images) > 1:
        images, labels = [np.concatenate(images)], [np.concatenate(labels)]
    return make_dataset(
        images[0], labels[0], class_names,
        name=name, split=split, source=str(folder), ids=ids,
    )
