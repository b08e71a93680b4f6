"""Per-image rank-1 decomposition of wavelet matrices (the paper's first claim).

The third step of the pipeline: datasets -> transform -> **decomposition**
(each image's rank-1 patterns) -> dictionary / dataset patterns ->
association. It decomposes the wavelet matrices of :mod:`wavelens.transform`
(or transforms the images itself, chunk by chunk); each image's top patterns
are what :mod:`wavelens.dictionary` clusters into prototypes.

The wavelet matrix of an image channel is written as its SVD,
``C = sum_j s_j u_j v_j^T``: a sum of rank-1 patterns ``u_j v_j^T`` with
energies ``s_j**2``. For an energy fraction ``e``, ``r(e)`` is the smallest
number of patterns that keeps fraction ``e`` of the image's energy (summed
over its channels, the same ``r`` for every channel).
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ._mapped import output_array
from ._parallel import DEFAULT_CHUNK_SIZE, for_each_chunk, rows_per_chunk
from ._progress import stage
from ._validation import check_energy, check_positive_int
from .datasets._base import pixels_to_unit
from .transform import WaveletLayout, inverse_wavelet_transform, separable_factors, wavelet_layout, _forward


def load_kernel():
    """The compiled kernel's ``top_spectra``, or None when wavelens was built without it.

    Imported on first use: it brings in SciPy's LAPACK, which takes a quarter
    of a second that commands without per-image work need not spend.
    """
    global _top_spectra
    if _top_spectra is False:
        try:
            from ._kernels import top_spectra
        except ImportError:  # installed without a C compiler: NumPy does the work
            top_spectra = None
        _top_spectra = top_spectra
    return _top_spectra


_top_spectra = False

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
    top_energy : ndarray of shape (n_images, top_k), optional
        Energy s^2 of each image's top patterns over all channels (0 where an
        image has fewer patterns than top_k above its numerical-rank tolerance).
    top_u, top_v : ndarray of shape (n_images, top_k, rows) and (n_images, top_k, cols), optional
        Unit singular vectors of those patterns, u v^T, with a canonical sign.
    top_channel : ndarray of shape (n_images, top_k), optional
        The channel each top pattern comes from.

    Examples
    --------
    A rank-1 image ``u u^T`` (energy ``(u . u)**2 = 204**2``) and an all-zero one:

    >>> u = np.arange(1.0, 9.0)
    >>> patterns, layout = decompose_images(np.stack([np.outer(u, u), np.zeros((8, 8))]), top_k=2)
    >>> patterns.rank_at_energy.tolist(), patterns.numerical_rank.tolist()
    ([1, 0], [1, 0])
    >>> patterns.singular_values.shape, patterns.top_energy.round(6).tolist()
    ((2, 1, 8), [[41616.0, 0.0], [0.0, 0.0]])
    """

    singular_values: np.ndarray
    rank_at_energy: np.ndarray
    numerical_rank: np.ndarray
    relative_error: np.ndarray
    psnr_db: np.ndarray
    energy: float
    top_energy: np.ndarray | None = None
    top_u: np.ndarray | None = None
    top_v: np.ndarray | None = None
    top_channel: np.ndarray | None = None

    @property
    def top_k(self) -> int:
        return 0 if self.top_energy is None else self.top_energy.shape[1]

    @property
    def total_energy(self) -> np.ndarray:
        return (self.singular_values.astype(np.float64) ** 2).sum(axis=(1, 2))

    @property
    def max_possible_rank(self) -> int:
        return self.singular_values.shape[-1]


def rank_at_energy(singular_values: ArrayLike, energy: float) -> np.ndarray:
    """Smallest r whose top-r patterns keep fraction ``energy`` of each image's energy.

    Parameters
    ----------
    singular_values : ndarray of shape (n_images, channels, k) or (n_images, k)
        Largest first.
    energy : float in (0, 1]

    Returns
    -------
    ndarray of int of shape (n_images,)

    Examples
    --------
    Pattern energies (0.5, 0.3, 0.2), a single pattern, and an all-zero image:

    >>> s = np.sqrt([[0.5, 0.3, 0.2], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    >>> rank_at_energy(s, 0.8).tolist()
    [2, 1, 0]
    >>> rank_at_energy(s, 1.0).tolist()
    [3, 1, 0]
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


def rank_tolerance(largest, shape, dtype=np.float64):
    """numpy.linalg.matrix_rank's tolerance: s_max * max(shape) * eps of ``dtype``; singular values at
    or below it are rounding noise, not patterns."""
    return largest * max(shape) * np.finfo(dtype).eps


def _numerical_rank(s, matrix_shape, dtype):
    return (s > rank_tolerance(s[..., :1], matrix_shape, dtype)).sum(axis=-1).max(axis=1)


def psnr(reference: ArrayLike, estimate: ArrayLike, *, data_range: float = 1.0) -> np.ndarray:
    """Peak signal-to-noise ratio per image, in dB (inf where they are equal).

    Parameters
    ----------
    reference, estimate : ndarray of shape (n_images, ...)
    data_range : float, default=1.0
        The pixel range (e.g. 255 for 8-bit pixels).

    Returns
    -------
    ndarray of shape (n_images,)
        ``10 log10(data_range**2 / mse)``.

    Examples
    --------
    Identical images, and an error of 0.1 everywhere (mse 0.01):

    >>> reference = np.zeros((2, 4, 4))
    >>> estimate = reference + np.array([0.0, 0.1])[:, None, None]
    >>> psnr(reference, estimate).round(6).tolist()
    [inf, 20.0]
    """
    diff = (np.asarray(reference, np.float64) - np.asarray(estimate, np.float64)).reshape(len(reference), -1)
    mse = np.mean(diff ** 2, axis=1)
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(data_range ** 2 / mse)


def _channels_first(coefficients, layout, dtype=np.float64):
    """(n, rows, cols[, C]) -> (n, C, rows, cols), float64 unless ``dtype`` is None."""
    a = np.asarray(coefficients, dtype=dtype)
    return a[:, None] if layout.n_channels == 1 and a.ndim == 3 else np.moveaxis(a, -1, 1)


def _channels_last(a, layout):
    return a[:, 0] if layout.n_channels == 1 else np.moveaxis(a, 1, -1)


def _truncate(u, s, vt, n_patterns):
    keep = np.arange(s.shape[-1]) < np.asarray(n_patterns)[:, None, None]
    return np.matmul(u * (s * keep)[..., None, :], vt)


def rebuild_from_patterns(coefficients: ArrayLike, layout: WaveletLayout, n_patterns: ArrayLike) -> np.ndarray:
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

    Examples
    --------
    One pattern rebuilds a rank-1 image exactly, not a random one; all 8
    patterns rebuild both:

    >>> from wavelens import wavelet_transform
    >>> rng = np.random.default_rng(0)
    >>> images = np.stack([np.outer(rng.random(8), rng.random(8)), rng.random((8, 8))])
    >>> coefficients, layout = wavelet_transform(images)
    >>> np.isclose(rebuild_from_patterns(coefficients, layout, 1), images).all(axis=(1, 2)).tolist()
    [True, False]
    >>> np.allclose(rebuild_from_patterns(coefficients, layout, 8), images)
    True
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


def _errors_by_rebuild(u, s, vt, r, images, layout):
    truncated = _channels_last(_truncate(u, s, vt, r), layout)
    rebuilt = inverse_wavelet_transform(truncated, layout, n_jobs=1)
    x = np.asarray(images, np.float64).reshape(len(images), -1)
    diff = x - rebuilt.reshape(len(images), -1)
    norm = np.linalg.norm(x, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = np.where(norm > 0, np.linalg.norm(diff, axis=1) / np.where(norm > 0, norm, 1), 0.0)
    return relative, psnr(images, rebuilt)


def as_float(chunk, dtype, pixel_max=None):
    """A chunk of images in ``dtype``; integer pixels divided by ``pixel_max`` first."""
    if pixel_max:
        return pixels_to_unit(chunk, pixel_max, dtype)
    return chunk.astype(dtype, copy=False)


def _numpy_gram_spectrum(a, top_k):
    """:func:`_gram_spectrum` with NumPy's batched eigh (every eigenvector), in float64."""
    a = np.asarray(a, np.float64)
    tall = a.shape[-2] >= a.shape[-1]
    gram = np.matmul(a.swapaxes(-1, -2), a) if tall else np.matmul(a, a.swapaxes(-1, -2))
    if not top_k:
        return np.sqrt(np.clip(np.linalg.eigvalsh(gram)[..., ::-1], 0, None)), None, None
    eigenvalues, eigenvectors = np.linalg.eigh(gram)
    s = np.sqrt(np.clip(eigenvalues[..., ::-1], 0, None))
    known = eigenvectors[..., ::-1][..., :top_k]
    k = known.shape[-1]
    other = np.matmul(a, known) if tall else np.matmul(a.swapaxes(-1, -2), known)
    with np.errstate(divide="ignore", invalid="ignore"):
        other = np.where(s[..., None, :k] > 0, other / s[..., None, :k], 0.0)
    return (s, other, known) if tall else (s, known, other)


def _kernel_gram_spectrum(a, top_k):
    """:func:`_gram_spectrum` with the compiled kernel (top vectors only)."""
    m, channels, rows, cols = a.shape
    k = min(top_k, rows, cols)
    s, left, right = load_kernel()(np.ascontiguousarray(a).reshape(m * channels, rows, cols), k)
    s = s.reshape(m, channels, -1)
    if not top_k:
        return s, None, None
    return (s, left.reshape(m, channels, k, rows).swapaxes(-1, -2),
            right.reshape(m, channels, k, cols).swapaxes(-1, -2))


def _gram_spectrum(a, top_k):
    """Singular values of every matrix in ``a`` (m, C, rows, cols), largest first, and the
    top ``top_k`` left and right singular vectors, from the smaller Gram matrix.

    Much faster than the SVD; singular values come out accurate to about
    1e-8 of the largest, far inside float32 data's rounding, so this serves
    float32 images only. The compiled kernel computes only the vectors asked
    for; without it, NumPy's batched eigh computes them all.
    """
    if load_kernel() is not None:
        return _kernel_gram_spectrum(a, top_k)
    return _numpy_gram_spectrum(a, top_k)


def _canonical_top_patterns(s, u, v, top_k):
    """The image's ``top_k`` patterns over all its channels, by energy, with a canonical sign.

    A rank-1 pattern u v^T is the same as (-u)(-v)^T, and the SVD's signs are
    arbitrary: the sign is chosen so that the pattern's largest entry (in
    absolute value) is positive, and u and v are each made to have a positive
    largest entry (which keeps that pattern).
    """
    m, channels, k = s.shape[0], s.shape[1], u.shape[-1]
    energies = (s[..., :k] ** 2).reshape(m, channels * k)
    u = u.swapaxes(-1, -2).reshape(m, channels * k, -1)
    v = v.swapaxes(-1, -2).reshape(m, channels * k, -1)
    if channels == 1:  # already largest first
        energies, u, v = energies[:, :top_k], u[:, :top_k], v[:, :top_k]
        channel = np.zeros(energies.shape, np.int16)
    else:
        order = np.argsort(-energies, axis=1, kind="stable")[:, :top_k]
        pick = lambda x: np.take_along_axis(x, order.reshape(m, -1, *([1] * (x.ndim - 2))), axis=1)  # noqa: E731
        energies, u, v = pick(energies), pick(u), pick(v)
        channel = (order // k).astype(np.int16)
    rows = np.arange(m)[:, None]
    slots = np.arange(u.shape[1])[None, :]
    u_sign = np.sign(u[rows, slots, np.abs(u).argmax(-1)])
    v_sign = np.sign(v[rows, slots, np.abs(v).argmax(-1)])
    # The pattern's largest entry positive, and then, of (u, v) and (-u, -v), the one
    # whose largest entries are positive: u and v are then unique too.
    u = u * np.where(u_sign == 0, 1.0, u_sign)[..., None]
    v = v * np.where(v_sign == 0, 1.0, v_sign)[..., None]
    missing = top_k - energies.shape[1]
    if missing > 0:  # matrices with fewer than top_k patterns in all
        energies = np.pad(energies, ((0, 0), (0, missing)))
        u = np.pad(u, ((0, 0), (0, missing), (0, 0)))
        v = np.pad(v, ((0, 0), (0, missing), (0, 0)))
        channel = np.pad(channel, ((0, 0), (0, missing)))
    return energies, u.astype(np.float32), v.astype(np.float32), channel


def _orthogonal_spectrum(matrices, layout, dtype, top_k):
    if dtype == np.float32:
        return _gram_spectrum(_channels_first(matrices, layout, dtype=None), top_k)
    a = _channels_first(matrices, layout)
    if not top_k:
        return np.linalg.svd(a, compute_uv=False), None, None
    u_all, s, vt_all = np.linalg.svd(a, full_matrices=False)
    return s, u_all[..., :top_k], vt_all[..., :top_k, :].swapaxes(-1, -2)


def _decompose_chunk(matrices, images, layout, energy, dtype, top_k, factors=None):
    """Statistics of one chunk. ``matrices`` are the wavelet matrices or, when ``factors``
    (A, B) are given, the pixel matrices X of an orthogonal layout, whose wavelet
    matrices A X B^T have the same singular values and singular vectors A u, B v."""
    if layout.orthogonal:
        s, u, v = _orthogonal_spectrum(matrices, layout, dtype, top_k)
        if factors is not None and top_k:
            u, v = np.matmul(factors[0], u), np.matmul(factors[1], v)
    else:
        u_all, s, vt_all = np.linalg.svd(_channels_first(matrices, layout), full_matrices=False)
        u, v = u_all[..., :top_k], vt_all[..., :top_k, :].swapaxes(-1, -2)
    r = rank_at_energy(s, energy)
    rank = _numerical_rank(s, layout.matrix_shape, dtype)
    if layout.orthogonal:
        relative, psnr_db = _errors_from_energies(s, r, layout)
    else:
        relative, psnr_db = _errors_by_rebuild(u_all, s, vt_all, r, images, layout)
    # Patterns below the numerical-rank tolerance are rounding noise, not patterns.
    significant = np.where(s > rank_tolerance(s[..., :1], layout.matrix_shape, dtype), s, 0.0)
    top = _canonical_top_patterns(significant, u, v, top_k) if top_k else (None,) * 4
    return (s, r, rank, relative, psnr_db) + top


def _decompose_all(decompose_chunk, n_images, layout, energy, top_k, chunk_size, n_jobs, visit=None, shared=()):
    """Run ``decompose_chunk(start, stop)`` over every chunk, each writing into its rows of
    the outputs (no concatenation at the end: fresh memory is slow to fill here); ``visit(start,
    stop)``, if given, is called as each chunk's results are stored. ``shared``: as for
    :func:`~wavelens._parallel.for_each_chunk`."""
    k = min(layout.matrix_shape)
    channels = layout.n_channels
    rows, cols = layout.matrix_shape
    shapes = [((channels, k), np.float64), ((), np.int64), ((), np.int64), ((), np.float64), ((), np.float64)]
    if top_k:
        shapes += [((top_k,), np.float64), ((top_k, rows), np.float32), ((top_k, cols), np.float32),
                   ((top_k,), np.int16)]
    outputs = [output_array((n_images,) + shape, dtype, "the image patterns") for shape, dtype in shapes]
    chunk_size = rows_per_chunk(chunk_size, rows * cols * channels * 8)

    def store(start, stop, parts):
        if visit is not None:
            visit(start, stop)
        for output, part in zip(outputs, parts):
            output[start:stop] = part

    with stage("rank-1 patterns", total=n_images) as bar:
        for_each_chunk(decompose_chunk, n_images, chunk_size=chunk_size, n_jobs=n_jobs, progress=bar.update,
                       store=store, shared=shared)
    if not top_k:
        outputs += [None] * 4
    return ImagePatterns(*outputs[:5], energy, *outputs[5:])


def image_patterns(coefficients: ArrayLike, layout: WaveletLayout, images: ArrayLike, *, energy: float = 0.99,
                   top_k: int = 0, chunk_size: int = DEFAULT_CHUNK_SIZE, n_jobs: int | None = -1) -> ImagePatterns:
    """Rank-1 decomposition of wavelet matrices that are already computed.

    Parameters
    ----------
    coefficients : ndarray of shape (n_images, rows, cols[, channels])
    layout : WaveletLayout
    images : ndarray of shape (n_images,) + layout.image_shape
        The images the coefficients came from, to measure rebuild errors.
    energy : float, default=0.99
    top_k : int, default=0
        Also keep each image's top ``top_k`` rank-1 patterns.
    chunk_size : int, default=2048
    n_jobs : int or None, default=-1
        Threads: -1 uses every core, -2 all but one, None one (as in scikit-learn).

    Returns
    -------
    ImagePatterns

    Examples
    --------
    A rank-1 image needs one pattern (rebuilt exactly); random pixels need 6
    of 8 for 99% of their energy:

    >>> from wavelens import wavelet_transform
    >>> rng = np.random.default_rng(0)
    >>> images = np.stack([np.outer(rng.random(8), rng.random(8)), rng.random((8, 8))])
    >>> coefficients, layout = wavelet_transform(images)
    >>> patterns = image_patterns(coefficients, layout, images, energy=0.99)
    >>> patterns.rank_at_energy.tolist(), patterns.relative_error.round(3).tolist()
    ([1, 6], [0.0, 0.039])
    """
    energy = check_energy(energy)
    top_k = check_positive_int(top_k, "top_k", minimum=0)
    images = np.asarray(images)
    dtype = images.dtype if images.dtype in (np.float32, np.float64) else np.float64

    def work(start, stop):
        return _decompose_chunk(coefficients[start:stop], images[start:stop], layout, energy, dtype, top_k)

    return _decompose_all(work, len(images), layout, energy, top_k, chunk_size, n_jobs)


def decompose_images(images: ArrayLike, *, wavelet: str = "db1", level: int = 1, mode: str = "periodization",
                     energy: float = 0.99, top_k: int = 0, pixel_max: int | None = None,
                     each_chunk: Callable[[np.ndarray], object] | None = None,
                     chunk_size: int = DEFAULT_CHUNK_SIZE,
                     n_jobs: int | None = -1) -> tuple[ImagePatterns, WaveletLayout]:
    """Wavelet-transform and decompose every image, chunk by chunk.

    Equivalent to :func:`wavelet_transform` followed by :func:`image_patterns`,
    without holding every wavelet matrix in memory at once. For an orthogonal
    one-level layout the wavelet matrix of a channel X is A X B^T with A, B
    orthogonal (:func:`wavelens.transform.separable_factors`), so its singular
    values are X's own and its singular vectors are A u and B v: the pixels
    are decomposed directly and no transform is computed at all.

    Parameters
    ----------
    images : ndarray of shape (n_images, height, width[, channels])
    wavelet : str, default='db1'
    level : int, default=1
    mode : str, default='periodization'
    energy : float, default=0.99
    top_k : int, default=0
        Also keep each image's top ``top_k`` rank-1 patterns (in the wavelet space).
    pixel_max : int, default=None
        For integer pixels (e.g. a :class:`Dataset`'s ``pixels``): the images are
        ``images / pixel_max`` in float32, made chunk by chunk.
    each_chunk : callable, default=None
        Called with each chunk of ``images`` as given (rows ``start:stop``), on
        the thread that decomposes it, while the chunk is in cache: other
        statistics of the images can be gathered in the same pass.
    chunk_size : int, default=2048
    n_jobs : int or None, default=-1
        Threads: -1 uses every core, -2 all but one, None one (as in scikit-learn).

    Returns
    -------
    patterns : ImagePatterns
    layout : WaveletLayout

    Examples
    --------
    A rank-1 image needs 1 pattern; random pixels need more as the energy
    fraction grows, and have full numerical rank:

    >>> rng = np.random.default_rng(0)
    >>> images = np.stack([np.outer(rng.random(8), rng.random(8)), rng.random((8, 8))])
    >>> patterns, layout = decompose_images(images, energy=0.9)
    >>> patterns.rank_at_energy.tolist(), patterns.numerical_rank.tolist()
    ([1, 3], [1, 8])
    >>> decompose_images(images, energy=0.99)[0].rank_at_energy.tolist()
    [1, 6]
    """
    energy = check_energy(energy)
    top_k = check_positive_int(top_k, "top_k", minimum=0)
    images = np.asarray(images)
    layout = wavelet_layout(images.shape[1:], wavelet=wavelet, level=level, mode=mode)
    if pixel_max:
        dtype = np.float32
    else:
        dtype = images.dtype if images.dtype in (np.float32, np.float64) else np.float64
    factors = separable_factors(layout) if layout.orthogonal else None  # None from level 2 on

    def work(start, stop, images):
        chunk = as_float(images[start:stop], dtype, pixel_max)
        if factors is not None:
            return _decompose_chunk(chunk, chunk, layout, energy, dtype, top_k, factors)
        return _decompose_chunk(_forward(chunk, layout), chunk, layout, energy, dtype, top_k)

    # each_chunk sees the chunk where its results are stored: in this process, also on Dask.
    visit = None if each_chunk is None else lambda start, stop: each_chunk(images[start:stop])
    return _decompose_all(work, len(images), layout, energy, top_k, chunk_size, n_jobs, visit, (images,)), layout
