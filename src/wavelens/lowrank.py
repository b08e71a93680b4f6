"""Per-image rank-1 decomposition of wavelet matrices (the paper's first claim).

The wavelet matrix of an image channel is written as its SVD,
``C = sum_j s_j u_j v_j^T``: a sum of rank-1 patterns ``u_j v_j^T`` with
energies ``s_j**2``. For an energy fraction ``e``, ``r(e)`` is the smallest
number of patterns that keeps fraction ``e`` of the image's energy (summed
over its channels, the same ``r`` for every channel).
"""

from dataclasses import dataclass

import numpy as np

from ._chunks import DEFAULT_CHUNK_SIZE, for_each_chunk
from ._validation import check_energy
from .transform import inverse_wavelet_transform, wavelet_layout, _forward

__all__ = [
    "ImagePatterns",
    "decompose_images",
    "image_patterns",
    "psnr",
    "rank_at_energy",
    "rebuild_from_patterns",
]

# r(e) compares a cumulative sum against e * total; allow the cumulative
# sum's own rounding so that, e.g., energies (0.5, 0.3, 0.2) give r(0.8) = 2.
_CUMSUM_SLACK = 64 * np.finfo(np.float64).eps


@dataclass
class ImagePatterns:
    """Rank-1 decomposition statistics of every image.

    Attributes
    ----------
    singular_values : ndarray of shape (n_images, channels, k)
        Singular values of each channel's wavelet matrix, largest first.
    rank_at_energy : ndarray of shape (n_images,)
        r(e): patterns needed for fraction ``energy`` of the image's energy
        (0 for an all-zero image).
    numerical_rank : ndarray of shape (n_images,)
        Numerical rank of the wavelet matrix (largest over channels), with
        ``numpy.linalg.matrix_rank``'s tolerance ``s_max * max(rows, cols) * eps``
        and ``eps`` of the images' dtype.
    relative_error : ndarray of shape (n_images,)
        ``||x - x_r|| / ||x||`` in pixels, x_r rebuilt from the top r(e) patterns.
    psnr_db : ndarray of shape (n_images,)
        PSNR of x_r against x for pixel range [0, 1] (inf where exact).
    energy : float
        The energy fraction ``e``.
    """

    singular_values: np.ndarray
    rank_at_energy: np.ndarray
    numerical_rank: np.ndarray
    relative_error: np.ndarray
    psnr_db: np.ndarray
    energy: float

    @property
    def max_possible_rank(self):
        return self.singular_values.shape[-1]


def rank_at_energy(singular_values, energy):
    """Smallest r whose top-r patterns keep fraction ``energy`` of each image's energy.

    Parameters
    ----------
    singular_values : ndarray of shape (n_images, channels, k) or (n_images, k)
        Largest first.
    energy : float in (0, 1]

    Returns
    -------
    ndarray of int of shape (n_images,)
    """
    s = np.asarray(singular_values, dtype=np.float64)
    if s.ndim == 2:
        s = s[:, None, :]
    cumulative = np.cumsum((s ** 2).sum(axis=1), axis=1)
    total = cumulative[:, -1]
    target = energy * total * (1.0 - _CUMSUM_SLACK)
    r = (cumulative < target[:, None]).sum(axis=1) + 1
    r = np.minimum(r, s.shape[-1])
    r[total == 0] = 0
    return r


def _numerical_rank(s, matrix_shape, dtype):
    tol = s[..., :1] * max(matrix_shape) * np.finfo(dtype).eps
    return (s > tol).sum(axis=-1).max(axis=1)


def psnr(reference, estimate, *, data_range=1.0):
    """Peak signal-to-noise ratio per image, in dB (inf where they are equal)."""
    diff = (np.asarray(reference, np.float64) - np.asarray(estimate, np.float64)).reshape(len(reference), -1)
    mse = np.mean(diff ** 2, axis=1)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(data_range ** 2 / mse)


def _channels_first(coefficients, layout):
    """(n, rows, cols[, C]) -> float64 (n, C, rows, cols)."""
    a = np.asarray(coefficients, dtype=np.float64)
    return a[:, None] if layout.n_channels == 1 and a.ndim == 3 else np.moveaxis(a, -1, 1)


def _channels_last(a, layout):
    return a[:, 0] if layout.n_channels == 1 else np.moveaxis(a, 1, -1)


def _truncate(u, s, vt, n_patterns):
    keep = np.arange(s.shape[-1]) < np.asarray(n_patterns)[:, None, None]
    return np.matmul(u * (s * keep)[..., None, :], vt)


def rebuild_from_patterns(coefficients, layout, n_patterns):
    """Images rebuilt from the top ``n_patterns`` rank-1 patterns of each wavelet matrix.

    Parameters
    ----------
    coefficients : ndarray of shape (n_images, rows, cols[, channels])
        Wavelet matrices from :func:`wavelens.wavelet_transform`.
    layout : WaveletLayout
    n_patterns : int or ndarray of shape (n_images,)
        Patterns kept per image (per channel).

    Returns
    -------
    ndarray of shape (n_images,) + layout.image_shape
        The inverse transform of the truncated sums.
    """
    a = _channels_first(coefficients, layout)
    n_patterns = np.broadcast_to(np.asarray(n_patterns), (a.shape[0],))
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    truncated = _channels_last(_truncate(u, s, vt, n_patterns), layout)
    return inverse_wavelet_transform(truncated, layout, n_jobs=1)


def _errors_from_energies(s, r, layout):
    """Pixel errors of the rank-r rebuild when the transform preserves energy (Parseval)."""
    s2 = s ** 2
    keep = np.arange(s.shape[-1]) < r[:, None, None]
    residual = np.where(keep, 0.0, s2).sum(axis=(1, 2))
    total = s2.sum(axis=(1, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(total > 0, np.sqrt(residual / np.where(total > 0, total, 1)), 0.0)
        mse = residual / np.prod(layout.image_shape)
        psnr_db = 10.0 * np.log10(1.0 / mse)
    return relative, psnr_db


def _errors_by_rebuild(a, r, images, layout):
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    truncated = _channels_last(_truncate(u, s, vt, r), layout)
    rebuilt = inverse_wavelet_transform(truncated, layout, n_jobs=1)
    x = np.asarray(images, np.float64).reshape(len(images), -1)
    diff = x - rebuilt.reshape(len(images), -1)
    norm = np.linalg.norm(x, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(norm > 0, np.linalg.norm(diff, axis=1) / np.where(norm > 0, norm, 1), 0.0)
    return relative, psnr(images, rebuilt)


def _decompose_chunk(coefficients, images, layout, energy, dtype):
    a = _channels_first(coefficients, layout)
    s = np.linalg.svd(a, compute_uv=False)
    r = rank_at_energy(s, energy)
    rank = _numerical_rank(s, layout.matrix_shape, dtype)
    if layout.orthogonal:
        relative, psnr_db = _errors_from_energies(s, r, layout)
    else:
        relative, psnr_db = _errors_by_rebuild(a, r, images, layout)
    return s, r, rank, relative, psnr_db


def _assemble(parts, energy):
    s, r, rank, relative, psnr_db = (np.concatenate(p) for p in zip(*parts))
    return ImagePatterns(s, r, rank, relative, psnr_db, energy)


def image_patterns(coefficients, layout, images, *, energy=0.99,
                   chunk_size=DEFAULT_CHUNK_SIZE, n_jobs=None):
    """Rank-1 decomposition of wavelet matrices that are already computed.

    Parameters
    ----------
    coefficients : ndarray of shape (n_images, rows, cols[, channels])
    layout : WaveletLayout
    images : ndarray of shape (n_images,) + layout.image_shape
        The images the coefficients came from, to measure rebuild errors.
    energy : float, default=0.99

    Returns
    -------
    ImagePatterns
    """
    energy = check_energy(energy)
    images = np.asarray(images)
    dtype = images.dtype if images.dtype in (np.float32, np.float64) else np.float64

    def work(start, stop):
        return _decompose_chunk(coefficients[start:stop], images[start:stop], layout, energy, dtype)

    return _assemble(for_each_chunk(work, len(images), chunk_size=chunk_size, n_jobs=n_jobs), energy)


def decompose_images(images, *, wavelet="db1", level=1, mode="periodization", energy=0.99,
                     chunk_size=DEFAULT_CHUNK_SIZE, n_jobs=None):
    """Wavelet-transform and decompose every image, chunk by chunk.

    Equivalent to :func:`wavelet_transform` followed by :func:`image_patterns`,
    without holding every wavelet matrix in memory at once.

    Parameters
    ----------
    images : ndarray of shape (n_images, height, width[, channels])
    wavelet : str, default='db1'
    level : int, default=1
    mode : str, default='periodization'
    energy : float, default=0.99
    chunk_size : int, default=2048
    n_jobs : int, default=None
        Threads; None uses every core.

    Returns
    -------
    patterns : ImagePatterns
    layout : WaveletLayout
    """
    energy = check_energy(energy)
    images = np.asarray(images)
    layout = wavelet_layout(images.shape[1:], wavelet=wavelet, level=level, mode=mode)
    dtype = images.dtype if images.dtype in (np.float32, np.float64) else np.float64

    def work(start, stop):
        chunk = images[start:stop].astype(dtype, copy=False)
        return _decompose_chunk(_forward(chunk, layout), chunk, layout, energy, dtype)

    parts = for_each_chunk(work, len(images), chunk_size=chunk_size, n_jobs=n_jobs)
    return _assemble(parts, energy), layout
