"""Reading the members of an ``.npz`` file safely: the one rule every reader of ``.npz`` files uses.

An ``.npz`` file is untrusted input (a dataset, a results folder). Each member
is checked before its array is allocated: its zip directory entry (no
encryption, stored or deflated, sizes the file can hold: deflate expands at
most 1032 times), then its ``.npy`` header, read through a bounded reader
(format 1.0 or 2.0, no Python objects, no structured dtype, a shape some array
can have, whose bytes the member holds). Only then is the array read, into a
buffer of the declared size; when the data ends the member (as numpy writes
it), reading to the end checks the member's CRC; and text must be valid
Unicode. Nothing is ever unpickled, and a small file cannot make wavelens
allocate what it does not hold.

Every refusal is an :class:`NpzRefused`: a phrase that follows the name of the
file, which the caller turns into its own one-line
:class:`~wavelens._validation.WavelensError` with the fix that fits it. Errors
opening the file (permissions, a missing file) stay ``OSError``.
"""

import math
import os
import struct
import tokenize
import warnings
import zipfile
import zlib

import numpy as np

from ._mapped import MAPPED_MIN_BYTES, release_pages, scratch_array
from ._validation import WavelensError, printable

__all__ = ["NpzArchive", "NpzRefused", "member_where"]

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


def member_where(file, member):
    """How a message names ``member`` of the ``.npz`` file ``file`` (a path, or its text)."""
    return f"{file} (member {member!r})"


class NpzRefused(Exception):
    """Why an ``.npz`` file, or one of its members, cannot be read.

    ``str(exc)`` is a phrase that follows the name of the file (or of the
    member, if :attr:`member` is set), e.g. ``"is encrypted; wavelens reads
    only unencrypted .npz files"``; :meth:`sentence` puts the two together.

    Attributes
    ----------
    member : str or None
        The member refused, by its name in the archive (e.g. ``'images.npy'``);
        None if the phrase is about the file.
    damaged : bool
        True if the file is damaged (truncated, altered: writing it again fixes
        it); False if it is intact but not something wavelens reads (not an
        ``.npz``, encrypted, Python objects...: saving it with ``numpy.savez``
        fixes it).
    """

    def __init__(self, problem, *, member=None, damaged=True):
        super().__init__(problem)
        self.member, self.damaged = member, damaged

    def sentence(self, file):
        """The refusal as a sentence about ``file`` (a path, or its text), without the fix."""
        return f"{file if self.member is None else member_where(file, self.member)} {self}"


def _one_line(exc):
    text = printable(" ".join(str(exc).split()))
    return f"{type(exc).__name__}: {text[:200]}{'...' if len(text) > 200 else ''}" if text else type(exc).__name__


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


class NpzArchive:
    """An ``.npz`` file open for reading, whose members are read with checks; a context manager.

    Parameters
    ----------
    path : path
        The ``.npz`` file.

    Raises
    ------
    NpzRefused
        If the file is a ``.npy`` file or not a zip archive.
    OSError
        If the file cannot be opened.
    """

    def __init__(self, path):
        self._handle = open(path, "rb")
        try:
            if self._handle.read(len(_NPY_MAGIC)) == _NPY_MAGIC:
                raise NpzRefused("holds a single array (it is a .npy file), not an .npz archive", damaged=False)
            self._size = os.fstat(self._handle.fileno()).st_size
            self._handle.seek(0)
            try:
                self._zip = zipfile.ZipFile(self._handle)
            except _CORRUPT as exc:
                raise NpzRefused(f"is not a readable .npz file ({_one_line(exc)})", damaged=False) from None
        except BaseException:
            self._handle.close()
            raise
        self.names = set(self._zip.namelist())

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def close(self):
        self._zip.close()
        self._handle.close()

    def find(self, key):
        """The member ``numpy.load`` would read for array ``key`` (``key`` itself, else ``key.npy``), or None."""
        if key in self.names:
            return key
        return key + ".npy" if key + ".npy" in self.names else None

    def read(self, member, *, expected, check=None, mapped=False):
        """The array of ``member``, read only after its entry and header are checked.

        Parameters
        ----------
        member : str
            A member's name in the archive (see :meth:`find`).
        expected : str
            What the member should hold, for the refusal of Python objects or
            structured dtypes, e.g. ``"integers or strings"``.
        check : callable, default=None
            ``check(shape, dtype, nbytes)``, called once the header is checked
            and the member is known to hold the ``nbytes`` bytes it declares,
            before anything is allocated: the caller's own checks (dtype kinds,
            limits), which raise its own errors.
        mapped : bool, default=False
            Read a large member into an unnamed scratch file rather than into
            memory (see :mod:`wavelens._mapped`): a copy, so that later changes
            to the file cannot reach the array.

        Raises
        ------
        NpzRefused
            If the member's entry, header or data is not readable as checked.
        """
        try:
            info = self._zip.getinfo(member)
            self._check_entry(member, info)
            with self._zip.open(info) as stream:
                header = _HeaderReader(stream)
                shape, fortran_order, dtype = _read_header(member, header, expected)
                nbytes = math.prod(shape) * dtype.itemsize
                held = info.file_size - header.count
                if nbytes > held:
                    raise NpzRefused(
                        f"is truncated or corrupt: its .npy header declares shape {shape} of {dtype} "
                        f"({nbytes:,} bytes) but the member holds {max(held, 0):,} bytes of data", member=member)
                if check is not None:
                    check(shape, dtype, nbytes)
                if dtype.itemsize == 0:  # any number of them would fit in no bytes at all
                    raise NpzRefused(f"has dtype {dtype}, of empty items; expected {expected}", member=member,
                                     damaged=False)
                scratch = None
                if mapped and nbytes >= MAPPED_MIN_BYTES:
                    scratch = scratch_array((nbytes,), np.uint8, f"{member_where(self._handle.name, member)}")
                buffer = _read_data(stream, nbytes, to_end=nbytes == held, into=scratch)
        except (NpzRefused, WavelensError):
            raise
        except _CORRUPT as exc:
            raise NpzRefused(f"is not a readable .npz file: member {member!r} is corrupt ({_one_line(exc)})") \
                from None
        if dtype.kind == "U" and nbytes:
            # Code points beyond Unicode (or surrogates) make numpy fail when it turns them into str.
            points = buffer.view(dtype.str[0] + "u4")
            if points.max() > 0x10FFFF or ((points >= 0xD800) & (points <= 0xDFFF)).any():
                raise NpzRefused("holds text that is not valid Unicode", member=member)
        return buffer.view(dtype).reshape(shape, order="F" if fortran_order else "C")

    def _check_entry(self, member, info):
        """Refuse a zip directory entry wavelens cannot read, or whose sizes are impossible."""
        if info.flag_bits & 0x1:
            raise NpzRefused("is encrypted; wavelens reads only unencrypted .npz files", member=member, damaged=False)
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise NpzRefused(
                f"uses zip compression method {info.compress_type}; wavelens reads stored or deflated members "
                "(what numpy.savez and numpy.savez_compressed write)", member=member, damaged=False)
        lies = None
        if info.header_offset + info.compress_size > self._size:
            lies = f"{info.compress_size:,} compressed bytes, more than the file holds ({self._size:,} bytes)"
        elif info.compress_type == zipfile.ZIP_STORED and info.file_size != info.compress_size:
            lies = f"{info.file_size:,} bytes stored uncompressed in {info.compress_size:,} bytes"
        elif info.file_size > info.compress_size * _DEFLATE_MAX_RATIO:
            lies = (f"{info.file_size:,} bytes deflated into {info.compress_size:,} bytes (deflate expands at most "
                    f"{_DEFLATE_MAX_RATIO} times)")
        if lies:
            raise NpzRefused(f"is corrupt: its zip directory entry claims {lies}", member=member)


def _read_header(member, header, expected):
    """``(shape, fortran_order, dtype)`` of a member's ``.npy`` header, refused unless the dtype is plain
    (no Python objects, no fields) and the shape one an array can have."""
    version = np.lib.format.read_magic(header)
    with warnings.catch_warnings():
        # A header written by Python 2 needs extra parsing, and numpy warns about it.
        warnings.simplefilter("ignore")
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(header)
        elif version == (2, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(header)
        else:
            raise NpzRefused(f"is a .npy array of format version {version[0]}.{version[1]}, which wavelens does "
                             "not read (numpy writes 3.0 only for structured arrays)", member=member, damaged=False)
    if dtype.hasobject:
        raise NpzRefused(f"holds Python objects (dtype {dtype}), which wavelens does not load (it never "
                         f"unpickles); expected {expected}", member=member, damaged=False)
    if dtype.names is not None or dtype.subdtype is not None:
        raise NpzRefused(f"has the structured dtype {dtype}; expected {expected}", member=member, damaged=False)
    if (len(shape) > _MAX_NDIM or any(s < 0 for s in shape)
            or math.prod(max(s, 1) for s in shape) * dtype.itemsize >= 2**63):  # numpy's bound, even for 0 items
        raise NpzRefused(f"is corrupt: its .npy header declares the shape {shape}, which no array can have",
                         member=member)
    return shape, fortran_order, dtype


def _read_data(stream, nbytes, *, to_end, into=None):
    """``nbytes`` bytes of ``stream`` into a new buffer (or ``into``, a scratch array, whose pages
    are handed back as it fills); ``to_end``: they end the member, whose CRC is then checked."""
    buffer = np.empty(nbytes, dtype=np.uint8) if into is None else into
    view, filled = memoryview(buffer), 0
    while filled < nbytes:
        n = stream.readinto(view[filled:filled + _READ_STEP])
        if not n:
            raise EOFError(f"the member ended after {filled:,} of its {nbytes:,} bytes of data")
        filled += n
        if into is not None:
            release_pages()
    if to_end:
        stream.read(1)  # reach the member's end, where zipfile checks its CRC
    return buffer
