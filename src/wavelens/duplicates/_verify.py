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

__all__ = ["best_correlation"]

_PAIRS = 4096  # pairs per chunk


def _integral(x):
    """Zero-padded 2-D cumulative sums of each image: (n, h + 1, w + 1), float64."""
    out = np.zeros((x.shape[0], x.shape[1] + 1, x.shape[2] + 1))
    out[:, 1:, 1:] = x.cumsum(axis=1, dtype=np.float64).cumsum(axis=2)
    return out


def _box(integral, top, bottom, left, right):
    return (integral[:, bottom, right] - integral[:, top, right] - integral[:, bottom, left]
            + integral[:, top, left])


def _correlations(a, b, max_shift):
    """Best correlation over shifts of each pair of rows of a and b (n, h, w)."""
    n, h, w = a.shape
    ia, ib = _integral(a), _integral(b)
    ia2, ib2 = _integral(a * a), _integral(b * b)
    best = np.full(n, -1.0)
    # Shifts keep at least half of each side shared.
    shift_y, shift_x = min(max_shift, h // 2), min(max_shift, w // 2)
    for dy in range(-shift_y, shift_y + 1):
        for dx in range(-shift_x, shift_x + 1):
            # a's pixel (y, x) lies over b's (y - dy, x - dx)
            ta, ba, la, ra = max(dy, 0), h + min(dy, 0), max(dx, 0), w + min(dx, 0)
            tb, bb, lb, rb = ta - dy, ba - dy, la - dx, ra - dx
            count = (ba - ta) * (ra - la)
            sa, sb = _box(ia, ta, ba, la, ra), _box(ib, tb, bb, lb, rb)
            cross = np.einsum("nij,nij->n", a[:, ta:ba, la:ra], b[:, tb:bb, lb:rb], dtype=np.float64)
            covariance = cross - sa * sb / count
            var_a = _box(ia2, ta, ba, la, ra) - sa * sa / count
            var_b = _box(ib2, tb, bb, lb, rb) - sb * sb / count
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

    def chunk(start, stop):
        return _correlations(images_a[rows_a[start:stop]], images_b[rows_b[start:stop]], max_shift)

    def store(start, stop, part):
        out[start:stop] = part

    for_each_chunk(chunk, len(rows_a), chunk_size=_PAIRS, n_jobs=n_jobs, store=store)
    return out
