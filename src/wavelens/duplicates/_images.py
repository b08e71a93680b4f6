"""The small gray images near-duplicates are compared on, and their search descriptors.

Every image is made gray (the mean of its channels) and area-resized to at most
``size`` x ``size`` pixels (smaller images are kept as they are). Two versions
of it are compared: as it is (*plain*), and *posed*: moved so that its
intensity centroid is at the center and scaled so that its radius of gyration
is a fixed share of the frame, which undoes shifts and crops followed by a
resize. Each version gives a search descriptor: its 8 x 8 area average (the
Haar approximation band of an image of 8 * 2^L pixels a side, up to a factor),
centered and scaled to unit length, so brightness and contrast do not matter.
"""

import numpy as np

from .._parallel import for_each_chunk, into_rows
from .._resize import area_matrix

__all__ = ["descriptors", "posed", "shifted", "working_images", "zoomed"]

_GRID = 8  # descriptor cells a side
_RADIUS = 0.25  # radius of gyration of a posed image, as a share of its side


def working_shape(image_shape: tuple, size: int) -> tuple[int, int]:
    """The (height, width) images of ``image_shape`` are compared at: at most ``size`` a side."""
    return min(image_shape[0], size), min(image_shape[1], size)


def working_images(stored: np.ndarray, pixel_max: int | None, size: int, *, n_jobs: int | None = -1) -> np.ndarray:
    """Gray images area-resized to at most ``size`` a side, float32, chunk by chunk.

    Parameters
    ----------
    stored : ndarray of shape (n, H, W) or (n, H, W, C)
        Pixels (integers, divided by ``pixel_max``) or float images.
    pixel_max : int or None
    size : int
    n_jobs : int or None, default=-1

    Returns
    -------
    ndarray of float32 of shape (n, h, w)
    """
    n, height, width = stored.shape[:3]
    h, w = working_shape((height, width), size)
    rows, cols = area_matrix(height, h), area_matrix(width, w)
    out = np.empty((n, h, w), np.float32)

    def chunk(start, stop):
        x = np.asarray(stored[start:stop], dtype=np.float32)
        if pixel_max:
            x /= np.float32(pixel_max)
        if x.ndim == 4:
            x = x.mean(axis=3)
        return x if (h, w) == (height, width) else rows @ x @ cols.T

    for_each_chunk(chunk, n, n_jobs=n_jobs, store=into_rows(out))
    return out


def posed(images: np.ndarray) -> np.ndarray:
    """Images moved to put their intensity centroid at the center and scaled to one radius of gyration.

    The intensity is taken above each image's darkest pixel; the image is
    resampled bilinearly (zero outside). Shifts, and crops resized back to the
    full size, are undone as far as they move and scale the content.

    Parameters
    ----------
    images : ndarray of shape (n, h, w)

    Returns
    -------
    ndarray of float32 of shape (n, h, w)
    """
    n, h, w = images.shape
    x = images - images.reshape(n, -1).min(axis=1)[:, None, None]
    mass = x.sum(axis=(1, 2), dtype=np.float64)
    ys = np.arange(h, dtype=np.float64) + 0.5
    xs = np.arange(w, dtype=np.float64) + 0.5
    safe = np.where(mass > 0, mass, 1.0)
    rows, cols = x.sum(axis=2, dtype=np.float64), x.sum(axis=1, dtype=np.float64)
    cy, cx = rows @ ys / safe, cols @ xs / safe
    spread = (rows @ ys ** 2 / safe - cy ** 2) + (cols @ xs ** 2 / safe - cx ** 2)
    radius = np.sqrt(np.maximum(spread, 0.0))
    target = _RADIUS * np.sqrt(h * w)
    scale = np.where((mass > 0) & (radius > 0), radius / target, 1.0)
    cy, cx = np.where(mass > 0, cy, h / 2), np.where(mass > 0, cx, w / 2)
    return _resampled(x, cy, cx, scale)


def zoomed(images: np.ndarray, scale: float) -> np.ndarray:
    """Images magnified about their center by ``1 / scale`` (bilinear, zero outside).

    A ``scale`` below 1 zooms in: the image's central ``scale`` share, resized to the
    full frame, which is what a crop of its border resized back looks like.

    Examples
    --------
    >>> x = np.zeros((1, 4, 4)); x[0, 1:3, 1:3] = 1
    >>> zoomed(x, 1.0).tolist() == x.tolist()
    True
    """
    n, h, w = images.shape
    return _resampled(images, np.full(n, h / 2), np.full(n, w / 2), np.full(n, float(scale)))


def _resampled(x, cy, cx, scale):
    """Output pixel (u, v) of each image samples it at center + scale * offset from the frame's
    center (pixel centers at k + 0.5), bilinearly, zero outside."""
    n, h, w = x.shape
    ys = np.arange(h, dtype=np.float64) + 0.5
    xs = np.arange(w, dtype=np.float64) + 0.5
    y = cy[:, None] + scale[:, None] * (ys - h / 2)[None, :] - 0.5
    xx = cx[:, None] + scale[:, None] * (xs - w / 2)[None, :] - 0.5
    out = np.zeros((n, h, w), np.float32)
    y0, x0 = np.floor(y).astype(np.int64), np.floor(xx).astype(np.int64)
    fy, fx = (y - y0).astype(np.float32), (xx - x0).astype(np.float32)
    index = np.arange(n)[:, None, None]
    for dy, wy in ((0, 1 - fy), (1, fy)):
        yi = y0 + dy
        wy = wy * ((yi >= 0) & (yi < h))
        for dx, wx in ((0, 1 - fx), (1, fx)):
            xi = x0 + dx
            wx = wx * ((xi >= 0) & (xi < w))
            values = x[index, np.clip(yi, 0, h - 1)[:, :, None], np.clip(xi, 0, w - 1)[:, None, :]]
            out += values * wy[:, :, None] * wx[:, None, :]
    return out


def descriptors(images: np.ndarray) -> np.ndarray:
    """Each image's 8 x 8 area average (fewer cells for smaller images), centered, at unit length.

    A constant image gives a zero row (it is near nothing but its exact copies).

    Parameters
    ----------
    images : ndarray of shape (n, h, w)

    Returns
    -------
    ndarray of float32 of shape (n, cells)
    """
    n, h, w = images.shape
    rows, cols = area_matrix(h, min(h, _GRID)), area_matrix(w, min(w, _GRID))
    d = (rows @ images @ cols.T).reshape(n, -1)
    d -= d.mean(axis=1, keepdims=True)
    norms = np.linalg.norm(d, axis=1, keepdims=True)
    return np.divide(d, norms, out=np.zeros_like(d), where=norms > 1e-6 * np.sqrt(d.shape[1]))


def shifted(images: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Images moved down by ``dy`` and right by ``dx`` pixels, zero fill.

    Examples
    --------
    >>> shifted(np.arange(4.0).reshape(1, 2, 2), 0, 1).tolist()
    [[[0.0, 0.0], [0.0, 2.0]]]
    """
    n, h, w = images.shape
    out = np.zeros_like(images)
    out[:, max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
        images[:, max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
    return out
