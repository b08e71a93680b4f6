"""The verification of candidate pairs: the best correlation of two images over small shifts.

For each shift (dy, dx) with |dy|, |dx| <= ``max_shift`` the two images are
laid over each other and the Pearson correlation of the pixels they share is
taken; the pair's score is the largest. A copy shifted by up to ``max_shift``
pixels (its lost border aside) thus scores 1, and so does a copy with other
brightness or contrast. Sums over the shared part come from integral images,
so each shift costs one product of the two images.
"""

import numpy as np

from .._parallel import for_each_chunk
from .._resize import area_matrix, bilinear_matrix

__all__ = ["BLURS", "RESAMPLES", "aligned_correlation", "best_correlation"]

_PAIRS = 4096  # pairs per chunk


def _window_sums(images, max_shift):
    """Per image (centered on its mean): for each shift (dy, dx), the sum and the sum of squares of
    the pixels of rows max(dy, 0) to h + min(dy, 0) and the like columns: (n, 2 s + 1, 2 s + 1) each.
    An image laid under another shifted by (dy, dx) shares its window (dy, dx), the other its
    window (-dy, -dx)."""
    n, h, w = images.shape
    sy, sx = min(max_shift, h // 2), min(max_shift, w // 2)
    x = images - images.mean(axis=(1, 2), dtype=np.float64)[:, None, None].astype(np.float32)
    sums = np.empty((n, 2 * sy + 1, 2 * sx + 1))
    squares = np.empty_like(sums)
    for table, values in ((sums, x), (squares, x * x)):
        integral = np.zeros((n, h + 1, w + 1))
        integral[:, 1:, 1:] = values.cumsum(axis=1, dtype=np.float64).cumsum(axis=2)
        for dy in range(-sy, sy + 1):
            for dx in range(-sx, sx + 1):
                t, b, l, r = max(dy, 0), h + min(dy, 0), max(dx, 0), w + min(dx, 0)
                table[:, dy + sy, dx + sx] = (integral[:, b, r] - integral[:, t, r] - integral[:, b, l]
                                              + integral[:, t, l])
    return sums, squares


def _image_tables(images, max_shift, n_jobs):
    """Each image's mean and :func:`_window_sums`, chunk by chunk."""
    n = len(images)
    parts = for_each_chunk(lambda start, stop: (images[start:stop].mean(axis=(1, 2), dtype=np.float64),
                                                *_window_sums(images[start:stop], max_shift)),
                           n, chunk_size=_PAIRS, n_jobs=n_jobs)
    if not parts:
        return np.zeros(0), np.zeros((0, 1, 1)), np.zeros((0, 1, 1))
    return tuple(np.concatenate(p) for p in zip(*parts))


def _correlations(a, b, tables_a, tables_b, max_shift):
    """Best correlation over shifts of each pair of rows of a and b (n, h, w), from the images
    centered on their means (the products then need no float64) and their window sums."""
    n, h, w = a.shape
    (mean_a, sums_a, squares_a), (mean_b, sums_b, squares_b) = tables_a, tables_b
    a = a - mean_a[:, None, None].astype(np.float32)
    b = b - mean_b[:, None, None].astype(np.float32)
    best = np.full(n, -1.0)
    # Shifts keep at least half of each side shared.
    shift_y, shift_x = min(max_shift, h // 2), min(max_shift, w // 2)
    for dy in range(-shift_y, shift_y + 1):
        for dx in range(-shift_x, shift_x + 1):
            # a's pixel (y, x) lies over b's (y - dy, x - dx)
            ta, ba, la, ra = max(dy, 0), h + min(dy, 0), max(dx, 0), w + min(dx, 0)
            tb, bb, lb, rb = ta - dy, ba - dy, la - dx, ra - dx
            count = (ba - ta) * (ra - la)
            sa, sb = sums_a[:, dy + shift_y, dx + shift_x], sums_b[:, shift_y - dy, shift_x - dx]
            cross = np.einsum("nij,nij->n", a[:, ta:ba, la:ra], b[:, tb:bb, lb:rb]).astype(np.float64)
            covariance = cross - sa * sb / count
            var_a = squares_a[:, dy + shift_y, dx + shift_x] - sa * sa / count
            var_b = squares_b[:, shift_y - dy, shift_x - dx] - sb * sb / count
            scale = np.sqrt(np.maximum(var_a, 0) * np.maximum(var_b, 0))
            ok = scale > 1e-9 * count
            r = np.divide(covariance, scale, out=np.zeros(n), where=ok)
            np.maximum(best, r, out=best)
    return np.clip(best, -1.0, 1.0)


def best_correlation(images_a: np.ndarray, images_b: np.ndarray, rows_a: np.ndarray, rows_b: np.ndarray, *,
                     max_shift: int, n_jobs: int | None = -1) -> np.ndarray:
    """The best correlation over shifts of ``images_a[rows_a[p]]`` and ``images_b[rows_b[p]]`` for each p.

    Parameters
    ----------
    images_a, images_b : ndarray of float32 of shape (n, h, w)
    rows_a, rows_b : ndarray of int of shape (n_pairs,)
    max_shift : int
        Largest shift tried, in pixels, along each axis.
    n_jobs : int or None, default=-1

    Returns
    -------
    ndarray of float64 of shape (n_pairs,)
        In [-1, 1]; 0 where a shared part is constant.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = rng.random((2, 8, 8)).astype(np.float32)
    >>> moved = np.roll(x, 1, axis=2) * 0.5 + 0.2  # shifted, dimmer, brighter
    >>> best_correlation(x, moved, np.array([0, 1]), np.array([0, 0]), max_shift=1).round(3).tolist()[0]
    1.0
    """
    out = np.empty(len(rows_a))
    if len(rows_a) == 0:
        return out
    tables_a = _image_tables(images_a, max_shift, n_jobs)
    tables_b = tables_a if images_b is images_a else _image_tables(images_b, max_shift, n_jobs)

    def chunk(start, stop):
        ra, rb = rows_a[start:stop], rows_b[start:stop]
        return _correlations(images_a[ra], images_b[rb], [t[ra] for t in tables_a], [t[rb] for t in tables_b],
                             max_shift)

    def store(start, stop, part):
        out[start:stop] = part

    for_each_chunk(chunk, len(rows_a), chunk_size=_PAIRS, n_jobs=n_jobs, store=store)
    return out


# Aligned correlation: a scale and a sub-pixel shift fitted per pair (crops resized back, resizing).

_COARSE = 1.0  # blur (pixels) of the first alignment steps
_STEPS = (_COARSE, _COARSE, 0.0)  # Gauss-Newton steps, at these blurs
BLURS = (0.6, 0.9, 1.2)  # blurs tried on either image of an aligned pair (a resized copy is a blurred one)
RESAMPLES = (0.6, 0.7, 0.8)  # so are these down-and-up resamplings (a resized copy's own blur)


def _smooth(images, sigma):
    from scipy.ndimage import gaussian_filter1d

    once = gaussian_filter1d(images, sigma, axis=1, mode="constant", truncate=3.0)
    return gaussian_filter1d(once, sigma, axis=2, mode="constant", truncate=3.0)


def _resampled(images, factor):
    """Images area-resized to ``factor`` of their size and bilinearly back: what resizing a copy
    down and up again does to it."""
    n, h, w = images.shape
    small_h, small_w = max(2, round(h * factor)), max(2, round(w * factor))
    rows = bilinear_matrix(small_h, h) @ area_matrix(h, small_h)
    columns = bilinear_matrix(small_w, w) @ area_matrix(w, small_w)
    return (rows @ images @ columns.T).astype(np.float32)


def _smoothed_versions(images, blurs, resamples=()):
    """The images (float32, (n, h, w)), their Gaussian blurs (zero outside) for the alignment and
    ``blurs``, by blur, and their ``resamples``: ``{0: images, 0.6: ..., ("resampled", 0.6): ...}``."""
    images = np.asarray(images, dtype=np.float32)
    return {0.0: images, **{sigma: _smooth(images, sigma) for sigma in sorted({_COARSE, *blurs})},
            **{("resampled", factor): _resampled(images, factor) for factor in resamples}}


def _axis(coords, size):
    c0 = np.floor(coords).astype(np.int64)
    f = (coords - c0).astype(np.float32)
    i0, i1 = np.clip(c0, 0, size - 1), np.clip(c0 + 1, 0, size - 1)
    w0 = ((1 - f) * ((c0 >= 0) & (c0 < size))).astype(np.float32)
    w1 = (f * ((c0 + 1 >= 0) & (c0 + 1 < size))).astype(np.float32)
    inside = ((coords >= -0.01) & (coords <= size - 0.99)).astype(np.float32)
    return i0, i1, w0, w1, inside


def _warp(b, y, x, grad=False):
    """Each image of b sampled bilinearly (zero outside) at rows y (n, h) and columns x (n, w); the
    mask of samples inside it, and with ``grad`` the derivatives of the sampled image."""
    n = b.shape[0]
    idx = np.arange(n)[:, None]
    y0, y1, wy0, wy1, my = _axis(y, b.shape[1])
    x0, x1, wx0, wx1, mx = _axis(x, b.shape[2])
    r0, r1 = b[idx, y0], b[idx, y1]
    rows = (r0 * wy0[:, :, None] + r1 * wy1[:, :, None]).transpose(0, 2, 1)
    c0, c1 = rows[idx, x0], rows[idx, x1]
    out = (c0 * wx0[:, :, None] + c1 * wx1[:, :, None]).transpose(0, 2, 1)
    mask = my[:, :, None] * mx[:, None, :]
    if not grad:
        return out, mask
    dr = (r1 - r0).transpose(0, 2, 1)
    gy = (dr[idx, x0] * wx0[:, :, None] + dr[idx, x1] * wx1[:, :, None]).transpose(0, 2, 1)
    return out, mask, gy, (c1 - c0).transpose(0, 2, 1)


def _dot(x, y):
    return np.einsum("nij,nij->n", x, y)


def _centered(a, b, mask):
    count = np.maximum(mask.sum((1, 2)), 1.0)
    da = (a - (_dot(a, mask) / count)[:, None, None]) * mask
    db = (b - (_dot(b, mask) / count)[:, None, None]) * mask
    return count, da, db


def _masked_correlation(a, b, mask):
    _, da, db = _centered(a, b, mask)
    den = np.sqrt(_dot(da, da) * _dot(db, db))
    return np.divide(_dot(da, db), den, out=np.zeros(len(a), np.float32), where=den > 1e-9)


def _aligned(levels_a, levels_b, ia, ib, blurs, resamples=()):
    h, w = levels_a[0.0].shape[1:]
    n = len(ia)
    cy, cx = (h - 1) / 2, (w - 1) / 2
    py, px = np.arange(h, dtype=np.float32) - cy, np.arange(w, dtype=np.float32) - cx
    s, ty, tx = np.ones(n, np.float32), np.zeros(n, np.float32), np.zeros(n, np.float32)
    # Gauss-Newton on b(c + s (p - c) + t) ~ gain * a + offset over the pixels inside, blurred first.
    for sigma in _STEPS:
        a = levels_a[sigma][ia]
        bw, mask, gy, gx = _warp(levels_b[sigma][ib], cy + s[:, None] * py + ty[:, None],
                                 cx + s[:, None] * px + tx[:, None], grad=True)
        count, da, db = _centered(a, bw, mask)
        gain = _dot(da, db) / np.maximum(_dot(db, db), 1e-12)
        residual = da - gain[:, None, None] * db
        jac = [gy * py[None, :, None] + gx * px[None, None, :], gy, gx]
        jac = [(j - (_dot(j, mask) / count)[:, None, None]) * mask for j in jac]
        normal = np.empty((n, 3, 3))
        rhs = np.empty((n, 3))
        for k in range(3):
            rhs[:, k] = _dot(jac[k], residual)
            for m in range(k, 3):
                normal[:, k, m] = normal[:, m, k] = _dot(jac[k], jac[m])
        normal = normal * (gain * gain)[:, None, None] + 1e-6 * np.eye(3)
        step = np.linalg.solve(normal, (rhs * gain[:, None])[..., None])[..., 0]
        step = np.clip(step, [-0.05, -1, -1], [0.05, 1, 1]).astype(np.float32)
        s = np.clip(s + step[:, 0], 0.8, 1.25)
        ty, tx = ty + step[:, 1], tx + step[:, 2]
    # Scored in the direction that zooms in (samples an image at s <= 1), plain and with either blurred.
    flip = s > 1
    s, ty, tx = np.where(flip, 1 / s, s), np.where(flip, -ty / s, ty), np.where(flip, -tx / s, tx)
    y, x = cy + s[:, None] * py + ty[:, None], cx + s[:, None] * px + tx[:, None]

    def images(sigma, first):
        one, two = levels_a[sigma][ia], levels_b[sigma][ib]
        return np.where(flip[:, None, None], two, one) if first else np.where(flip[:, None, None], one, two)

    a = images(0.0, True)
    bw, mask = _warp(images(0.0, False), y, x)
    best = _masked_correlation(a, bw, mask)
    for sigma in (*blurs, *(("resampled", factor) for factor in resamples)):
        np.maximum(best, _masked_correlation(images(sigma, True), bw, mask), out=best)
        np.maximum(best, _masked_correlation(a, _warp(images(sigma, False), y, x)[0], mask), out=best)
    return best


def aligned_correlation(images_a: np.ndarray, images_b: np.ndarray, rows_a: np.ndarray, rows_b: np.ndarray, *,
                        blurs: tuple = BLURS, resamples: tuple = RESAMPLES,
                        n_jobs: int | None = -1) -> np.ndarray:
    """The correlation of each pair after fitting a zoom and a sub-pixel shift of one image onto the other.

    A zoom (0.8 to 1.25) and a shift are fitted by Gauss-Newton steps, on blurred images
    first; the pair is then correlated on the pixels both cover, as they are and with either
    image blurred a little or resized down and back (a resized copy is a blurred copy), the
    best kept. A crop of up to about 10% resized back, or a resized copy, thus scores close
    to 1. The blurred images are made for each chunk of pairs, so memory does not grow with
    the number of images.

    Parameters
    ----------
    images_a, images_b : ndarray of float32 of shape (n, h, w)
    rows_a, rows_b : ndarray of int of shape (n_pairs,)
    blurs : tuple of float, default=BLURS
        The Gaussian blurs (pixels) tried on either image.
    resamples : tuple of float, default=RESAMPLES
        The down-and-up resamplings (the share of the size resized to and back) tried on
        either image: a copy resized down and up matches its source resampled alike far
        better than a blur of it.
    n_jobs : int or None, default=-1

    Returns
    -------
    ndarray of float64 of shape (n_pairs,)

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = np.zeros((1, 24, 24), np.float32); x[0, 6:18, 8:16] = rng.random((12, 8))
    >>> other = rng.random((1, 24, 24)).astype(np.float32)
    >>> aligned_correlation(x, np.concatenate([x, other]), np.array([0, 0]), np.array([0, 1])).round(2).tolist()[0]
    1.0
    """
    out = np.empty(len(rows_a))

    def chunk(start, stop):
        used_a, pairs_a = np.unique(rows_a[start:stop], return_inverse=True)
        used_b, pairs_b = np.unique(rows_b[start:stop], return_inverse=True)
        return _aligned(_smoothed_versions(images_a[used_a], blurs, resamples),
                        _smoothed_versions(images_b[used_b], blurs, resamples), pairs_a.ravel(), pairs_b.ravel(),
                        blurs, resamples)

    def store(start, stop, part):
        out[start:stop] = part

    for_each_chunk(chunk, len(rows_a), chunk_size=1024, n_jobs=n_jobs, store=store)
    return np.clip(out, -1.0, 1.0)
