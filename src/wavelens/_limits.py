"""Limits on what one input may make wavelens allocate, checked before allocating.

A small or corrupt file must not make wavelens allocate gigabytes or loop for
minutes: every loader checks what a file declares (its shape, its labels, its
image sizes) against these limits first. Each limit can be raised by an
environment variable named in its error message, for genuine data above it.
"""

import os
from dataclasses import dataclass

from ._validation import WavelensError

__all__ = ["LIMITS", "check_limit", "limit_value"]


@dataclass(frozen=True)
class Limit:
    env: str
    default: int
    unit: str


def _half_of_memory():
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2
    except (ValueError, OSError, AttributeError):  # not every platform reports it
        return 8 * 2**30


LIMITS = {
    # Pixels of one image (height x width, per channel): 8192 x 8192.
    "image_pixels": Limit("WAVELENS_MAX_IMAGE_PIXELS", 2**26, "pixels per image"),
    # Classes: labels are class numbers 0..K-1, so this also bounds the label values.
    "classes": Limit("WAVELENS_MAX_CLASSES", 100_000, "classes"),
    # Bytes of one array read into memory (images of a split, an npz member...).
    "data_bytes": Limit("WAVELENS_MAX_DATA_BYTES", _half_of_memory(), "bytes"),
}


def limit_value(name):
    """The current value of limit ``name``: its environment variable if set, else its default."""
    limit = LIMITS[name]
    text = os.environ.get(limit.env)
    if text is None:
        return limit.default
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise WavelensError(f"{limit.env}={text!r} is not an integer; set it to a number of {limit.unit}.") from None
    if value < 1:
        raise WavelensError(f"{limit.env}={text!r} must be at least 1.")
    return value


def check_limit(name, value, what):
    """Raise a one-line error if ``value`` is above limit ``name``; ``what`` says what needs it.

    Examples
    --------
    >>> check_limit("classes", 10, "labels of d.npz")
    """
    maximum = limit_value(name)
    if value > maximum:
        limit = LIMITS[name]
        raise WavelensError(
            f"{what} would need {value:,} {limit.unit}, above wavelens' limit of {maximum:,} "
            f"({limit.env}); if the data is genuine, raise the limit, e.g. {limit.env}={value}."
        )
