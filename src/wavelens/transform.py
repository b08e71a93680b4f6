"""Batched 2D discrete wavelet transform of whole datasets, and its exact inverse.

The second step of the pipeline: datasets -> **transform** -> decomposition
(each image's rank-1 patterns) -> dictionary / dataset patterns ->
association. It turns the images of :mod:`wavelens.datasets` into the wavelet
matrices that :mod:`wavelens.decomposition` and
:mod:`wavelens.dataset_patterns` decompose (and that
:mod:`wavelens.communities` and :mod:`wavelens.duplicates` compare).

Each image channel becomes one *wavelet matrix*: the coefficients of
``pywt.wavedec2`` laid out by ``pywt.coeffs_to_array`` (approximation top-left,
details around it). With mode ``periodization`` and sizes divisible by
``2**level`` the wavelet matrix has the image's shape.
"""

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pywt
from numpy.typing import ArrayLike, DTypeLike

from ._parallel import DEFAULT_CHUNK_SIZE, for_each_chunk, into_rows
from ._progress import stage
from ._validation import WavelensError, check_level, check_mode, check_wavelet

__all__ = ["WaveletLayout", "inverse_wavelet_transform", "separable_factors", "wavelet_layout", "wavelet_transform"]


@dataclass(frozen=True)
class WaveletLayout:
    """How images map to wavelet matrices: everything the inverse needs.

    Attributes
    ----------
    wavelet : str
    level : int
    mode : str
    image_shape : tuple of int
        ``(height, width)`` or ``(height, width, channels)`` of one image.
    matrix_shape : tuple of int
        ``(rows, cols)`` of one channel's wavelet matrix.
    slices : list
        ``pywt.coeffs_to_array`` slices of a single 2D matrix.
    orthogonal : bool
        True when the transform preserves energy exactly (a wavelet whose
        filters are orthonormal to within 1e-10, mode ``periodization``, and
        even sizes at every level), so errors in the wavelet space equal
        errors in pixels. Not ``pywt.Wavelet.orthogonal``: dmey's filters only
        approximate an orthogonal wavelet.

    Examples
    --------
    >>> layout = wavelet_layout((8, 8, 3), wavelet="db1", level=2)
    >>> layout.matrix_shape, layout.n_channels, layout.orthogonal
    ((8, 8), 3, True)
    >>> wavelet_layout((16, 16), wavelet="bior2.2").orthogonal
    False
    """

    wavelet: str
    level: int
    mode: str
    image_shape: tuple[int, ...]
    matrix_shape: tuple[int, int]
    slices: list
    orthogonal: bool

    @property
    def n_channels(self) -> int:
        return self.image_shape[2] if len(self.image_shape) == 3 else 1


# Largest deviation from an orthonormal filter bank still taken as rounding: sym20's
# published filters are off by 1.4e-11; dmey's (a truncated FIR approximation of
# the Meyer wavelet, yet flagged orthogonal by PyWavelets) by 2.2e-3.
ORTHONORMALITY_TOLERANCE = 1e-10


def orthonormality_error(wavelet: pywt.Wavelet) -> float:
    """How far a wavelet's analysis filters are from an orthonormal filter bank.

    The one-level transform (periodized) is orthogonal exactly when the rows of
    its matrix, the low-pass and high-pass filters at every even shift, are
    orthonormal: each filter has unit norm and is orthogonal to its own even
    shifts and to the other filter at every even shift.

    Parameters
    ----------
    wavelet : pywt.Wavelet

    Returns
    -------
    float
        The largest deviation of those inner products from 1 (a filter with
        itself, unshifted) or 0 (all others).
    """
    low = np.asarray(wavelet.dec_lo, dtype=np.float64)
    high = np.asarray(wavelet.dec_hi, dtype=np.float64)
    error = 0.0
    for a, b, same in ((low, low, True), (high, high, True), (low, high, False)):
        products = np.correlate(a, b, mode="full")  # lag 0 at index len(b) - 1
        products = products[(len(b) - 1) % 2::2]  # the even lags
        if same:
            products[(len(b) - 1) // 2] -= 1.0
        error = max(error, float(np.abs(products).max()))
    return error


def _is_orthogonal(wavelet, mode, level, height, width):
    # Decided from the filters, not from ``wavelet.orthogonal``: PyWavelets calls
    # dmey orthogonal, but its transform loses about 0.2% of an image's energy.
    if mode != "periodization" or orthonormality_error(wavelet) > ORTHONORMALITY_TOLERANCE:
        return False
    return height % (2 ** level) == 0 and width % (2 ** level) == 0


def wavelet_layout(image_shape: Sequence[int], *, wavelet: str = "db1", level: int = 1,
                   mode: str = "periodization") -> WaveletLayout:
    """Check the parameters against the image shape and describe the layout.

    Parameters
    ----------
    image_shape : tuple of int
        ``(height, width)`` or ``(height, width, channels)``.
    wavelet : str, default='db1'
        Any discrete PyWavelets wavelet.
    level : int, default=1
    mode : str, default='periodization'
        A PyWavelets signal-extension mode.

    Returns
    -------
    WaveletLayout

    Examples
    --------
    With ``periodization`` and even sizes the wavelet matrix has the image's
    shape; other modes add border coefficients:

    >>> wavelet_layout((8, 8)).matrix_shape
    (8, 8)
    >>> layout = wavelet_layout((7, 9, 3), wavelet="db2", mode="symmetric")
    >>> layout.matrix_shape, layout.orthogonal
    ((10, 12), False)
    """
    wavelet_obj = check_wavelet(wavelet)
    check_mode(mode)
    image_shape = tuple(int(s) for s in image_shape)
    if len(image_shape) not in (2, 3) or min(image_shape[:2]) < 1:
        raise WavelensError(
            f"Images must have shape (height, width) or (height, width, channels); got {image_shape}."
        )
    level = check_level(level, image_shape[:2], wavelet_obj)
    probe = np.zeros(image_shape[:2])
    array, slices = pywt.coeffs_to_array(pywt.wavedec2(probe, wavelet_obj, mode=mode, level=level))
    return WaveletLayout(
        wavelet=wavelet_obj.name, level=level, mode=mode, image_shape=image_shape,
        matrix_shape=array.shape, slices=slices,
        orthogonal=_is_orthogonal(wavelet_obj, mode, level, *image_shape[:2]),
    )


def _forward(images, layout):
    axes = (1, 2)
    coeffs = pywt.wavedec2(images, layout.wavelet, mode=layout.mode, level=layout.level, axes=axes)
    return pywt.coeffs_to_array(coeffs, axes=axes)[0]


def separable_factors(layout: WaveletLayout) -> tuple[np.ndarray, np.ndarray] | None:
    """Matrices A (rows x height) and B (cols x width) with wavelet matrix = A X B^T, if any.

    A one-level 2D transform filters rows and columns separately, so every
    channel's wavelet matrix is ``A @ X @ B.T`` (A and B orthogonal for an
    orthogonal layout). From level 2 on, only the approximation block is
    transformed again, which no such product does: then there are none.

    Parameters
    ----------
    layout : WaveletLayout

    Returns
    -------
    (A, B) : tuple of read-only float64 ndarrays, or None
    """
    return _separable_factors(layout.wavelet, layout.level, layout.mode, layout.image_shape[:2])


@functools.lru_cache(maxsize=16)
def _separable_factors(wavelet, level, mode, shape):
    height, width = shape
    layout = wavelet_layout(shape, wavelet=wavelet, level=level, mode=mode)
    # X = e_i e_0^T gives A[:, i] B[:, 0]^T, and X = e_0 e_j^T gives A[:, 0] B[:, j]^T.
    impulses = np.zeros((height + width + 1, height, width))
    impulses[np.arange(height), np.arange(height), 0] = 1.0
    impulses[height + np.arange(width), 0, np.arange(width)] = 1.0
    impulses[-1] = np.random.default_rng(0).standard_normal(shape)  # a probe to check the factors on
    responses = _forward(impulses, layout)
    first = responses[0]  # A[:, 0] B[:, 0]^T
    row, col = np.unravel_index(np.abs(first).argmax(), first.shape)
    a = responses[:height, :, col].T  # A * B[col, 0]
    b = responses[height:-1, row, :].T / a[row, 0]  # B / B[col, 0]
    # Split the free scale evenly (for orthogonal transforms both become orthogonal).
    scale = (np.sum(a ** 2) * width / (np.sum(b ** 2) * height)) ** 0.25
    a, b = a / scale, b * scale
    probe = responses[-1]
    if np.abs(a @ impulses[-1] @ b.T - probe).max() > 1e-9 * np.abs(probe).max():
        return None
    a.setflags(write=False)
    b.setflags(write=False)
    return a, b


def wavelet_transform(images: ArrayLike, *, wavelet: str = "db1", level: int = 1, mode: str = "periodization",
                      dtype: DTypeLike | None = None, chunk_size: int = DEFAULT_CHUNK_SIZE,
                      n_jobs: int | None = -1) -> tuple[np.ndarray, WaveletLayout]:
    """Wavelet matrices of a stack of images.

    Parameters
    ----------
    images : ndarray of shape (n_images, height, width) or (n_images, height, width, channels)
    wavelet : str, default='db1'
    level : int, default=1
    mode : str, default='periodization'
    dtype : {None, numpy.float32, numpy.float64}, default=None
        Precision of the transform and its output; None keeps the images'
        float type (float64 for other types).
    chunk_size : int, default=2048
        Images transformed at once; bounds the working memory.
    n_jobs : int or None, default=-1
        Threads: -1 uses every core, -2 all but one, None one (as in scikit-learn).

    Returns
    -------
    coefficients : ndarray of shape (n_images, rows, cols) or (n_images, rows, cols, channels)
        The wavelet matrix of every image channel, in the images' float dtype.
    layout : WaveletLayout
        What :func:`inverse_wavelet_transform` needs.

    Examples
    --------
    With db1 a constant image has all its energy in the approximation, the
    top-left 2 x 2 block at level 1 (energy is preserved: 16 = 4 x 4 ones):

    >>> coefficients, layout = wavelet_transform(np.ones((2, 4, 4)), wavelet="db1")
    >>> coefficients.shape
    (2, 4, 4)
    >>> approximation = coefficients[:, :2, :2]
    >>> float((approximation ** 2).sum() / (coefficients ** 2).sum())
    1.0
    >>> approximation[0].round(6).tolist(), round(float((coefficients[0] ** 2).sum()), 6)
    ([[2.0, 2.0], [2.0, 2.0]], 16.0)
    """
    images = np.asarray(images)
    if images.ndim not in (3, 4):
        raise WavelensError(
            f"images must have shape (n, height, width) or (n, height, width, channels); got {images.shape}."
        )
    layout = wavelet_layout(images.shape[1:], wavelet=wavelet, level=level, mode=mode)
    if dtype is None:
        dtype = images.dtype if images.dtype in (np.float32, np.float64) else np.float64
    out = np.empty((images.shape[0],) + layout.matrix_shape + images.shape[3:], dtype=dtype)

    def work(start, stop):
        return _forward(images[start:stop].astype(dtype, copy=False), layout)

    with stage("wavelet transform", total=images.shape[0]) as bar:
        for_each_chunk(work, images.shape[0], chunk_size=chunk_size, n_jobs=n_jobs, progress=bar.update,
                       store=into_rows(out))
    return out, layout


def _inverse(coefficients, layout):
    axes = (1, 2)
    slices = [(slice(None),) + tuple(layout.slices[0])]
    for details in layout.slices[1:]:
        slices.append({key: (slice(None),) + tuple(value) for key, value in details.items()})
    coeffs = pywt.array_to_coeffs(coefficients, slices, output_format="wavedec2")
    images = pywt.waverec2(coeffs, layout.wavelet, mode=layout.mode, axes=axes)
    height, width = layout.image_shape[:2]
    # Odd sizes come back one sample larger, as in pywt.waverec2.
    return images[:, :height, :width]


def inverse_wavelet_transform(coefficients: ArrayLike, layout: WaveletLayout, *,
                              chunk_size: int = DEFAULT_CHUNK_SIZE, n_jobs: int | None = -1) -> np.ndarray:
    """Images from their wavelet matrices: the exact inverse of :func:`wavelet_transform`.

    Exact to rounding for every wavelet but dmey, whose FIR filters only
    approximate the Meyer wavelet: PyWavelets' own inverse is then not exact
    (errors up to about 0.5% of the pixel range on random images).

    Parameters
    ----------
    coefficients : ndarray of shape (n_images, rows, cols[, channels])
    layout : WaveletLayout
    chunk_size : int, default=2048
        Images rebuilt at once; bounds the working memory.
    n_jobs : int or None, default=-1
        Threads: -1 uses every core, -2 all but one, None one (as in scikit-learn).

    Returns
    -------
    ndarray of shape (n_images,) + layout.image_shape

    Examples
    --------
    The round trip gives the images back, odd sizes included:

    >>> images = np.random.default_rng(0).random((3, 7, 9))
    >>> coefficients, layout = wavelet_transform(images, wavelet="db2", mode="symmetric")
    >>> coefficients.shape
    (3, 10, 12)
    >>> np.allclose(inverse_wavelet_transform(coefficients, layout), images)
    True
    """
    coefficients = np.asarray(coefficients)
    expected = layout.matrix_shape + layout.image_shape[2:]
    if coefficients.shape[1:] != expected:
        raise WavelensError(
            f"coefficients must have shape (n,) + {expected} for this layout; got {coefficients.shape}."
        )
    out = np.empty((coefficients.shape[0],) + layout.image_shape, dtype=coefficients.dtype)

    def work(start, stop):
        return _inverse(coefficients[start:stop], layout)

    for_each_chunk(work, coefficients.shape[0], chunk_size=chunk_size, n_jobs=n_jobs, store=into_rows(out))
    return out
