"""Pixels kept on disk and read chunk by chunk: memory that does not grow with the dataset.

Large pixel arrays are kept in unnamed scratch files, memory-mapped, rather
than in memory: the images of an ``.npz`` (copied there as they are read and
checked, so that later changes to the file cannot reach them), or the decoded
images of a folder. Mapped pages still count as the process's
memory once touched, so after every chunk of work :func:`release_pages` hands
them back to the page cache (``MADV_DONTNEED``): the data stay in the file and
the page cache, and are read again if needed. A background thread does the
same a few times a second while mapped arrays exist, for the work that reads
them outside chunked loops (saving, tables). Peak memory is then bounded by
the chunks being worked on, not by the number of images.

Per-image outputs that would be as large (:func:`output_array`) go to
scratch files the same way, as they are produced.

Mapping is for large arrays only (:data:`MAPPED_MIN_BYTES`); smaller ones are
read into memory as before.
"""

import mmap
import os
import tempfile
import threading
import time
import weakref

import numpy as np

from ._validation import WavelensError

__all__ = ["MAPPED_MIN_BYTES", "is_mapped", "output_array", "release_pages", "scratch_array"]

# Below this many bytes, arrays are simply kept in memory.
MAPPED_MIN_BYTES = int(os.environ.get("WAVELENS_MAPPED_MIN_BYTES", 128 * 2 ** 20))
_RELEASE_EVERY_S = 0.25

_LOCK = threading.Lock()
# Weak references to the mmap of every mapped array: an mmap lives as long as some array views it.
_MAPPINGS = []


_RELEASER = []  # the background thread, while one runs


def _after_fork_in_child():
    # A forked child (an image-decoding worker) has no releaser thread, and the lock may
    # have been held by a thread of the parent at the fork: both start afresh.
    global _LOCK
    _LOCK = threading.Lock()
    _RELEASER.clear()


if hasattr(os, "register_at_fork"):  # not on Windows, which does not fork
    os.register_at_fork(after_in_child=_after_fork_in_child)


def _register(array, mapping):
    with _LOCK:
        _MAPPINGS[:] = [ref for ref in _MAPPINGS if ref() is not None]
        _MAPPINGS.append(weakref.ref(mapping))
        if not _RELEASER:
            _RELEASER.append(threading.Thread(target=_release_while_mapped, name="wavelens-release-pages",
                                              daemon=True))
            _RELEASER[0].start()
    return array


def _release_while_mapped():
    while True:
        with _LOCK:  # the thread ends, and says so, under the lock _register starts one under
            if not any(ref() is not None for ref in _MAPPINGS):
                _RELEASER.clear()
                return
        release_pages()
        time.sleep(_RELEASE_EVERY_S)


def _live():
    with _LOCK:
        return [m for m in (ref() for ref in _MAPPINGS) if m is not None]


def release_pages() -> None:
    """Hand the pages of every mapped array back to the page cache.

    Safe at any time, also while other threads read the arrays: a page read
    again is faulted back in from the page cache (or the file), unchanged.
    """
    for mapping in _live():
        try:
            mapping.madvise(mmap.MADV_DONTNEED)
        except (ValueError, OSError, AttributeError):  # closed, or no madvise here: nothing to hand back
            pass


def is_mapped(array: np.ndarray) -> bool:
    """Whether ``array`` (or the array it views) is one of the mapped arrays."""
    base = array
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    if isinstance(base, memoryview):
        base = base.obj
    return any(m is base for m in _live())


def output_array(shape: tuple, dtype: np.dtype, what: str) -> np.ndarray:
    """An empty array for per-image outputs: in memory, or in a scratch file if it is large
    (:data:`MAPPED_MIN_BYTES`), so that outputs go to disk as they are produced."""
    nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    return scratch_array(shape, dtype, what) if nbytes >= MAPPED_MIN_BYTES else np.empty(shape, dtype)


def scratch_array(shape: tuple, dtype: np.dtype, what: str) -> np.ndarray:
    """A writable array of ``shape`` in an unnamed scratch file (in ``TMPDIR``), shared with forked processes.

    The file has no name from the start, so nothing is left behind whatever
    happens to the process. Its space is reserved before anything is written:
    a full disk is one clear error here, not a crash later.
    """
    dtype = np.dtype(dtype)
    nbytes = max(1, int(np.prod(shape, dtype=np.int64)) * dtype.itemsize)
    folder = tempfile.gettempdir()
    with tempfile.TemporaryFile(dir=folder) as handle:
        try:
            if hasattr(os, "posix_fallocate"):
                os.posix_fallocate(handle.fileno(), 0, nbytes)
            else:  # macOS, Windows: the size is set, though the space is not reserved
                handle.truncate(nbytes)
        except OSError as exc:
            raise WavelensError(
                f"Cannot set aside {nbytes / 2 ** 30:.1f} GB in {folder} for {what}: {exc.strerror or exc}; "
                "free some space there, or set TMPDIR to a folder on a larger disk.") from None
        mapping = mmap.mmap(handle.fileno(), nbytes)
    array = np.frombuffer(mapping, dtype=dtype, count=int(np.prod(shape, dtype=np.int64))).reshape(shape)
    return _register(array, mapping)
