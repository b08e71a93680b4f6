"""A ``.npz`` file holding ``images`` and ``labels`` (and optionally ``class_names``).

Every member is checked before it is read: its zip directory entry (no
encryption, stored or deflated, sizes the file can hold), then its ``.npy``
header (a plain numeric or string dtype, a shape whose bytes the member holds
and that wavelens' limits allow). Only then is the array allocated and read, so
a small file cannot make wavelens allocate what it does not hold, and every
way a member can be corrupt gives one line naming the file and the member.
"""

import math
import os
import struct
import tokenize
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .._limits import check_limit
from .._validation import WavelensError, check_finite
from ._base import make_dataset

__all__ = ["load_npz"]

_NPY_MAGIC = b"\x93NUMPY"
# Deflate turns at most 1032 output bytes out of one compressed byte.
_DEFLATE_MAX_RATIO = 1032
_MAX_NDIM = 32
# A .npy header (magic, version, length and the dict) is at most this long: format
# 1.0 allows 65,535 bytes of dict, and numpy refuses dicts above 10,000 characters.
_MAX_HEADER_BYTES = 12 + 2**16
_READ_STEP = 1 << 24
# What zipfile, zlib and numpy's header parser raise on a corrupt or crafted member.
_CORRUPT = (
    zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, EOFError, ValueError, OSError,
    struct.error, OverflowError, SyntaxError, tokenize.TokenError, KeyError, TypeError, IndexError,
    LookupError, UnicodeError,
)
# The dtype kinds each array may have: booleans, integers, floats (and strings for labels).
_KINDS = {
    "images": ("biuf", "unsigned or signed integers, floats or booleans"),
    "labels": ("biufUS", "integers or strings"),
    "class_names": ("US", "strings"),
}
_HOW_TO_SAVE = "numpy.savez(path, images=..., labels=..., class_names=...)"


class _HeaderReader:
    """A member's file object for numpy's header parser: reads no more than a header can be."""

    def __init__(self, member):
        self._member = member
        self.count = 0

    def read(self, size):
        if self.count + size > _MAX_HEADER_BYTES:
            raise ValueError(f"the .npy header declares {self.count + size:,} bytes, more than a header can be")
        data = self._member.read(size)
        self.count += len(data)
        return data


def _one_line(exc):
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:200]}{'...' if len(text) > 200 else ''}" if text else type(exc).__name__


def _check_entry(where, info, archive_size):
    """Refuse a zip directory entry wavelens cannot read, or whose sizes are impossible."""
    if info.flag_bits & 0x1:
        raise WavelensError(f"{where} is encrypted; wavelens reads only unencrypted .npz files: save it "
                            f"again with {_HOW_TO_SAVE}.")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise WavelensError(
            f"{where} uses zip compression method {info.compress_type}; wavelens reads stored or deflated "
            f"members (what numpy.savez and numpy.savez_compressed write): save it again with {_HOW_TO_SAVE}."
        )
    lies = None
    if info.header_offset + info.compress_size > archive_size:
        lies = f"{info.compress_size:,} compressed bytes, more than the file holds ({archive_size:,} bytes)"
    elif info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
        lies = f"{info.file_size:,} bytes stored uncompressed in {info.compress_size:,} bytes"
    elif info.file_size > info.compress_size * _DEFLATE_MAX_RATIO:
        lies = (f"{info.file_size:,} bytes deflated into {info.compress_size:,} bytes (deflate expands at most "
                f"{_DEFLATE_MAX_RATIO} times)")
    if lies:
        raise WavelensError(f"{where} is corrupt: its zip directory entry claims {lies}; save the file again.")


def _check_header(where, key, shape, dtype):
    """The bytes of data a member's header declares, once its dtype and shape are acceptable."""
    if dtype.hasobject:
        raise WavelensError(
            f"{where} holds Python objects (dtype {dtype}), which wavelens does not load (they would be "
            f"unpickled); save {key} as numeric or string arrays with {_HOW_TO_SAVE}."
        )
    if dtype.names is not None or dtype.subdtype is not None:
        raise WavelensError(
            f"{where} has the structured dtype {dtype}; expected {_KINDS[key][1]}: save {key} as a plain "
            f"array with {_HOW_TO_SAVE}."
        )
    if dtype.kind not in _KINDS[key][0]:
        raise WavelensError(f"{where}: {key} has dtype {dtype}; expected {_KINDS[key][1]}.")
    if dtype.itemsize == 0:  # any number of them would fit in no bytes at all
        raise WavelensError(f"{where}: {key} has dtype {dtype}, of empty items; expected {_KINDS[key][1]}.")
    if (len(shape) > _MAX_NDIM or any(s < 0 for s in shape)
            or math.prod(max(s, 1) for s in shape) * dtype.itemsize >= 2**63):  # numpy's bound, even for 0 items
        raise WavelensError(f"{where} is corrupt: its .npy header declares the shape {shape}, which no array can "
                            "have; save the file again.")
    if key == "class_names" and len(shape) != 1:
        raise WavelensError(f"{where}: class_names must be a 1-d array of strings, one per class; found shape "
                            f"{shape}.")
    if key != "class_names" and len(shape) == 0:
        raise WavelensError(
            f"{where}: {key} is a 0-d array (a single value); expected "
            + ("images of shape (n, height, width[, channels])." if key == "images" else "one label per image.")
        )
    return math.prod(shape) * dtype.itemsize


def _check_limits(where, key, shape, dtype, nbytes):
    if key == "images" and len(shape) >= 3:
        check_limit("image_pixels", shape[1] * shape[2], f"{where} (images of {shape[1]}x{shape[2]} pixels)")
    if key == "class_names":
        check_limit("classes", shape[0], f"{where} ({shape[0]:,} class names)")
    check_limit("data_bytes", nbytes, f"{where} (shape {shape} of {dtype})")


def _read_member(where, key, archive, info, archive_size):
    """The array of one member, read only after its entry and header are checked."""
    _check_entry(where, info, archive_size)
    with archive.open(info) as member:
        header = _HeaderReader(member)
        version = np.lib.format.read_magic(header)
        with warnings.catch_warnings():
            # A header written by Python 2 needs extra parsing, and numpy warns about it.
            warnings.simplefilter("ignore")
            if version == (1, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(header)
            elif version == (2, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(header)
            else:
                raise WavelensError(
                    f"{where} is a .npy array of format version {version[0]}.{version[1]}, which wavelens does "
                    f"not read (numpy writes 3.0 only for structured arrays); save it with {_HOW_TO_SAVE}."
                )
        nbytes = _check_header(where, key, shape, dtype)
        held = info.file_size - header.count
        if nbytes > held:
            raise WavelensError(
                f"{where} is truncated or corrupt: its .npy header declares shape {shape} of {dtype} "
                f"({nbytes:,} bytes) but the member holds {max(held, 0):,} bytes of data; save the file again."
            )
        _check_limits(where, key, shape, dtype, nbytes)
        buffer = np.empty(nbytes, dtype=np.uint8)
        view, filled = memoryview(buffer), 0
        while filled < nbytes:
            n = member.readinto(view[filled:filled + _READ_STEP])
            if not n:
                raise EOFError(f"the member ended after {filled:,} of its {nbytes:,} bytes of data")
            filled += n
        if nbytes == held:
            member.read(1)  # reach the member's end, where zipfile checks its CRC
    if dtype.kind == "U" and nbytes:
        # Code points beyond Unicode (or surrogates) make numpy fail when it turns them into str.
        points = buffer.view(dtype.str[0] + "u4")
        if points.max() > 0x10FFFF or ((points >= 0xD800) & (points <= 0xDFFF)).any():
            raise WavelensError(f"{where} holds text that is not valid Unicode; save the file again.")
    return buffer.view(dtype).reshape(shape, order="F" if fortran_order else "C")


def _member_name(names, key):
    """The member numpy.load would read for ``key`` (``key`` itself, else ``key.npy``)."""
    if key in names:
        return key
    return key + ".npy" if key + ".npy" in names else None


def _read_npz(path):
    """``(images, labels, class_names)`` of an .npz file, each checked before it is allocated."""
    try:
        with open(path, "rb") as handle:
            if handle.read(len(_NPY_MAGIC)) == _NPY_MAGIC:
                raise WavelensError(
                    f"{path} holds a single array (it is a .npy file), not an .npz archive; save it with "
                    "numpy.savez(path, images=..., labels=...)."
                )
            archive_size = os.fstat(handle.fileno()).st_size
            handle.seek(0)
            try:
                archive = zipfile.ZipFile(handle)
            except _CORRUPT as exc:
                raise WavelensError(
                    f"{path} is not a readable .npz file ({_one_line(exc)}); save it again with {_HOW_TO_SAVE}."
                ) from None
            with archive:
                names = set(archive.namelist())
                found = {key: _member_name(names, key) for key in ("images", "labels", "class_names")}
                missing = [key for key in ("images", "labels") if found[key] is None]
                if missing:
                    files = sorted({n[:-4] if n.endswith(".npy") else n for n in names})
                    has = ", ".join(repr(f) for f in files[:10])
                    has += f" and {len(files) - 10:,} more" if len(files) > 10 else ""
                    raise WavelensError(
                        f"{path} lacks the array(s) {', '.join(missing)}; it has {has or 'none'}. "
                        f"Save it with {_HOW_TO_SAVE}."
                    )
                arrays = {}
                for key, name in found.items():
                    if name is None:
                        continue
                    where = f"{path} (member {name!r})"
                    try:
                        arrays[key] = _read_member(where, key, archive, archive.getinfo(name), archive_size)
                    except WavelensError:
                        raise
                    except _CORRUPT as exc:
                        raise WavelensError(
                            f"{path} is not a readable .npz file: member {name!r} is corrupt ({_one_line(exc)}); "
                            "save it again."
                        ) from None
    except WavelensError:
        raise
    except OSError as exc:
        raise WavelensError(f"Cannot read {path}: {exc.strerror or _one_line(exc)}.") from None
    class_names = arrays.get("class_names")
    if class_names is not None:
        class_names = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in class_names.tolist()]
    return arrays["images"], arrays["labels"], class_names


def load_npz(path, split, *, name=None):
    """Load images and labels saved with ``numpy.savez``.

    Parameters
    ----------
    path : Path
        A ``.npz`` with arrays ``images`` (n, height, width[, channels]) and
        ``labels`` (n,), and optionally ``class_names`` (strings).
    split : {'all'}
        An ``.npz`` holds a single split.
    """
    path = Path(path)
    if split != "all":
        raise WavelensError(f"{path} holds a single split, not '{split}'; use --split all.")
    images, labels, class_names = _read_npz(path)
    check_finite(images, f"{path} images")
    return make_dataset(images, labels, class_names, name=name or path.stem, split=split, source=str(path))
