"""Batched 2D discrete wavelet transform of whole datasets, and its exact inverse.

Each image channel becomes one *wavelet matrix*: the coefficients of
``pywt.wavedec2`` laid out by ``pywt.coeffs_to_array`` (approximation top-left,
details around it). With mode ``periodization`` and sizes divisible by
``2**level`` the wavelet matrix has the image's shape.
"""

from dataclasses import dataclass

import numpy as np
import pywt

from ._chunks import DEFAULT_CHUNK_SIZE, for_each_chunk
from ._progress import stage
from ._validation import WavelensError, check_level, check_mode, check_wavelet

__all__ = ["WaveletLayout", "inverse_wavelet_transform", "wavelet_layout", "wavelet_transform"]


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
        True when the transform preserves energy exactly (an orthogonal
        wavelet, mode ``periodization``, and even sizes at every level), so
        errors in the wavelet space equal errors in pixels.
    """

    wavelet: str
    level: int
    mode: str
    image_shape: tuple
    matrix_shape: tuple
    slices: list
    orthogonal: bool

    @property
    def n_channels(self):
        return self.image_shape[2] if len(self.image_shape) == 3 else 1


def _is_orthogonal(wavelet, mode, level, height, width):
    if not (wavelet.orthogonal and mode == "periodization"):
        return False
    return height % (2 ** level) == 0 and width % (2 ** level) == 0


def wavelet_layout(image_shape, *, wavelet="db1", level=1, mode="periodization"):
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


def wavelet_transform(images, *, wavelet="db1", level=1, mode="periodization", dtype=None,
                      chunk_size=DEFAULT_CHUNK_SIZE, n_jobs=None):
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
    n_jobs : int, default=None
        Threads; None uses every core.

    Returns
    -------
    coefficients : ndarray of shape (n_images, rows, cols) or (n_images, rows, cols, channels)
        The wavelet matrix of every image channel, in the images' float dtype.
    layout : WaveletLayout
        What :func:`inverse_wavelet_transform` needs.
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
        out[start:stop] = _forward(images[start:stop].astype(dtype, copy=False), layout)

    with stage("wavelet transform", total=images.shape[0]) as bar:
        for_each_chunk(work, images.shape[0], chunk_size=chunk_size, n_jobs=n_jobs, progress=bar.update)
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


def inverse_wavelet_transform(coefficients, layout, *, chunk_size=DEFAULT_CHUNK_SIZE, n_jobs=None):
    """Images from their wavelet matrices: the exact inverse of :func:`wavelet_transform`.

    Parameters
    ----------
    coefficients : ndarray of shape (n_images, rows, cols[, channels])
    layout : WaveletLayout

    Returns
    -------
    ndarray of shape (n_images,) + layout.image_shape
    """
    coefficients = np.asarray(coefficients)
    expected = layout.matrix_shape + layout.image_shape[2:]
    if coefficients.shape[1:] != expected:
        raise WavelensError(
            f"coefficients must have shape (n,) + {expected} for this layout; got {coefficients.shape}."
        )
    out = np.empty((coefficients.shape[0],) + layout.image_shape, dtype=coefficients.dtype)

    def work(start, stop):
        out[start:stop] = _inverse(coefficients[start:stop], layout)

    for_each_chunk(work, coefficients.shape[0], chunk_size=chunk_size, n_jobs=n_jobs)
    return out
