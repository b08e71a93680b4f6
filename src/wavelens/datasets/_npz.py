"""A ``.npz`` file holding ``images`` and ``labels`` (and optionally ``class_names``).

Every member is read by :class:`wavelens._npy.NpzArchive`, which checks its zip
directory entry, its ``.npy`` header and its size before allocating anything.
This module adds what a dataset needs on top: the dtype kinds each array may
have (numbers for ``images``, numbers or strings for ``labels``, strings for
``class_names``), their shapes, and wavelens' limits, checked before the array
is read. Every way a member can be wrong gives one line naming the file and
the member.
"""

from functools import partial
from pathlib import Path

from .._limits import check_limit
from .._npy import NpzArchive, NpzRefused, member_where
from .._validation import WavelensError, param
from ._base import make_dataset

__all__ = ["load_npz"]

# The dtype kinds each array may have: booleans, integers, floats (and strings for labels).
_KINDS = {
    "images": ("biuf", "unsigned or signed integers, floats or booleans"),
    "labels": ("biufUS", "integers or strings"),
    "class_names": ("US", "strings"),
}
_HOW_TO_SAVE = "numpy.savez(path, images=..., labels=..., class_names=...)"


def _check_member(where, key, shape, dtype, nbytes):
    """Refuse a member whose dtype or shape does not fit ``key``, or that wavelens' limits forbid."""
    if dtype.kind not in _KINDS[key][0]:
        raise WavelensError(f"{where}: {key} has dtype {dtype}; expected {_KINDS[key][1]}.")
    if dtype.itemsize == 0:  # any number of them would fit in no bytes at all
        raise WavelensError(f"{where}: {key} has dtype {dtype}, of empty items; expected {_KINDS[key][1]}.")
    if key == "class_names" and len(shape) != 1:
        raise WavelensError(f"{where}: class_names must be a 1-d array of strings, one per class; found shape "
                            f"{shape}.")
    if key != "class_names" and len(shape) == 0:
        raise WavelensError(
            f"{where}: {key} is a 0-d array (a single value); expected "
            + ("images of shape (n, height, width[, channels])." if key == "images" else "one label per image.")
        )
    if key == "images" and len(shape) >= 3:
        check_limit("image_pixels", shape[1] * shape[2], f"{where} (images of {shape[1]}x{shape[2]} pixels)")
    if key == "class_names":
        check_limit("classes", shape[0], f"{where} ({shape[0]:,} class names)")
    check_limit("data_bytes", nbytes, f"{where} (shape {shape} of {dtype})")


def _read_npz(path):
    """``(images, labels, class_names)`` of an .npz file, each checked before it is allocated."""
    try:
        with NpzArchive(path) as archive:
            found = {key: archive.find(key) for key in ("images", "labels", "class_names")}
            missing = [key for key in ("images", "labels") if found[key] is None]
            if missing:
                files = sorted({n[:-4] if n.endswith(".npy") else n for n in archive.names})
                has = ", ".join(repr(f) for f in files[:10])
                has += f" and {len(files) - 10:,} more" if len(files) > 10 else ""
                raise WavelensError(
                    f"{path} lacks the array(s) {', '.join(missing)}; it has {has or 'none'}. "
                    f"Save it with {_HOW_TO_SAVE}."
                )
            arrays = {key: archive.read(name, expected=_KINDS[key][1], mapped=key == "images",
                                        check=partial(_check_member, member_where(path, name), key))
                      for key, name in found.items() if name is not None}
    except NpzRefused as exc:
        fix = "; save the file again." if exc.damaged else f": save it again with {_HOW_TO_SAVE}."
        raise WavelensError(exc.sentence(path) + fix) from None
    except OSError as exc:
        raise WavelensError(f"Cannot read {path}: {exc.strerror or exc}.") from None
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
        raise WavelensError(f"{path} holds a single split, not '{split}'; use {param('split', 'all')}.")
    images, labels, class_names = _read_npz(path)
    return make_dataset(images, labels, class_names, name=name or path.stem, split=split, source=str(path))
