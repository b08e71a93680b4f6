"""What the estimators share: parameter checks, reading X as images, the transform of any image shape.

Parameter checks raise :class:`~wavelens.WavelensError` (a ``ValueError``) with
one line in scikit-learn's words: "The 'level' parameter of WaveletTransform
must be an int in the range [1, inf). Got 0 instead."
"""

import numbers
from dataclasses import dataclass

import numpy as np
import pywt
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, validate_data

from .._parallel import DEFAULT_CHUNK_SIZE, chunk_bounds, for_each_chunk, into_rows, resolve_n_jobs
from .._validation import SEED_MAX, WavelensError
from ..duplicates.search import image_digests
from ..decomposition import ImagePatterns, decompose_images, rank_at_energy
from ..transform import (ORTHONORMALITY_TOLERANCE, WaveletLayout, inverse_wavelet_transform, orthonormality_error,
                         wavelet_layout, wavelet_transform)

# X keeps these types (unsigned integers are pixels read as stored); others become float64.
_KEPT_DTYPES = [np.float64, np.float32, np.uint8, np.uint16, np.uint32, np.uint64]


def _fail(estimator, name, expected, value):
    raise WavelensError(f"The {name!r} parameter of {type(estimator).__name__} must be {expected}. "
                        f"Got {value!r} instead.")


def check_int(estimator, name, *, minimum=1, none=False):
    """The parameter ``name`` as an int >= minimum (or None when ``none``), or raise."""
    value = getattr(estimator, name)
    if value is None and none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        _fail(estimator, name, f"an int in the range [{minimum}, inf)" + (" or None" if none else ""), value)
    return int(value)


def check_real(estimator, name, low, high, *, low_open=False, high_open=False):
    """The parameter ``name`` as a float in the interval, or raise."""
    value = getattr(estimator, name)
    ok = not isinstance(value, bool) and isinstance(value, numbers.Real) and not np.isnan(value)
    if ok:
        ok = (low < value if low_open else low <= value) and (value < high if high_open else value <= high)
    if not ok:
        interval = f"{'(' if low_open else '['}{low:g}, {high:g}{')' if high_open or high == np.inf else ']'}"
        _fail(estimator, name, f"a float in the range {interval}", value)
    return float(value)


def check_choice(estimator, name, choices):
    value = getattr(estimator, name)
    if not isinstance(value, str) or value not in choices:
        _fail(estimator, name, "one of " + ", ".join(repr(c) for c in choices), value)
    return value


def check_wavelet_params(estimator):
    """``(pywt.Wavelet, level, mode)`` from the estimator's ``wavelet``, ``level`` and ``mode``, or raise."""
    wavelet = estimator.wavelet
    if not isinstance(wavelet, str) or wavelet not in pywt.wavelist(kind="discrete"):
        _fail(estimator, "wavelet", "the name of a discrete PyWavelets wavelet, such as 'db1', 'sym4' or "
              "'bior2.2' (see pywt.wavelist(kind='discrete'))", wavelet)
    if not isinstance(estimator.mode, str) or estimator.mode not in pywt.Modes.modes:
        _fail(estimator, "mode", "one of " + ", ".join(repr(m) for m in pywt.Modes.modes), estimator.mode)
    return pywt.Wavelet(wavelet), check_int(estimator, "level"), estimator.mode


def check_image_shape(estimator):
    """The ``image_shape`` parameter as a tuple of 2 or 3 positive ints, or None."""
    shape = estimator.image_shape
    if shape is None:
        return None
    ok = isinstance(shape, (tuple, list)) and len(shape) in (2, 3) and all(
        isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 1 for s in shape)
    if not ok:
        _fail(estimator, "image_shape", "None or a tuple (height, width) or (height, width, channels) of "
              "positive ints", shape)
    return tuple(int(s) for s in shape)


def random_seed(estimator):
    """An int seed from ``random_state``: the int itself, else drawn from the generator (None: NumPy's global one)."""
    state = estimator.random_state
    if state is None or isinstance(state, np.random.RandomState):
        return int(check_random_state(state).randint(np.iinfo(np.int32).max))
    if isinstance(state, np.random.Generator):
        return int(state.integers(np.iinfo(np.int32).max))
    if isinstance(state, bool) or not isinstance(state, numbers.Integral) or not 0 <= state <= SEED_MAX:
        _fail(estimator, "random_state", f"an int in the range [0, {SEED_MAX}], a numpy RandomState or "
              "Generator, or None", state)
    return int(state)


def threads(estimator):
    """Threads from ``n_jobs`` as scikit-learn counts them: None is 1, -1 every core, -2 all but one."""
    n_jobs = estimator.n_jobs
    if n_jobs is None:
        return 1
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral) or n_jobs == 0:
        _fail(estimator, "n_jobs", "a nonzero int or None (None: one thread; -1: every core)", n_jobs)
    return resolve_n_jobs(int(n_jobs))


def read_images(estimator, X, *, reset):
    """X as an array of images ``(n_samples,) + image_shape_``, and whether it came as rows.

    X is either images (3-D, or 4-D with channels) or 2-D rows of flattened
    images of shape ``image_shape`` (without it, each row is a one-row image).
    With ``reset`` (in ``fit``) this records ``image_shape_`` and
    ``n_features_in_``; otherwise it checks X against them. Unsigned integers
    are kept as they are, other types become float64 (float32 stays). A
    :class:`~wavelens.Dataset` gives its images.
    """
    from ..datasets import Dataset

    if isinstance(X, Dataset):  # its images by the Dataset's scaling rule, whatever its storage
        X = X.select_images(slice(None))
    ndim = getattr(X, "ndim", None)
    if ndim is None:  # lists, and objects with only __array__
        X = np.asarray(X)
        ndim = X.ndim
    if ndim <= 2:  # scikit-learn's checks and messages: sparse, NaN, empty, n_features_in_, feature names
        X = validate_data(estimator, X, reset=reset, dtype=_KEPT_DTYPES)
        if reset:
            shape = check_image_shape(estimator) or (1, X.shape[1])
            if int(np.prod(shape)) != X.shape[1]:
                raise WavelensError(
                    f"The 'image_shape' parameter of {type(estimator).__name__} is {shape}, images of "
                    f"{int(np.prod(shape))} values, but X has {X.shape[1]} feature(s) per row.")
            estimator.image_shape_ = shape
        return X.reshape((len(X),) + estimator.image_shape_), True
    if ndim not in (3, 4):
        raise WavelensError(
            f"X must be rows (n_samples, n_features) or images (n_samples, height, width[, channels]); "
            f"got an array of {ndim} dimensions.")
    X = check_array(X, allow_nd=True, dtype=_KEPT_DTYPES, input_name="X")
    if 0 in X.shape[1:]:
        raise WavelensError(f"X holds images of shape {X.shape[1:]}, without pixels; every image needs a height, "
                            "a width and (if given) channels of at least 1.")
    if reset:
        given = check_image_shape(estimator)
        if given is not None and given != X.shape[1:]:
            raise WavelensError(
                f"The 'image_shape' parameter of {type(estimator).__name__} is {given}, but X holds images of "
                f"shape {X.shape[1:]}; leave it None for images (it reshapes rows).")
        estimator.image_shape_ = tuple(X.shape[1:])
        estimator.n_features_in_ = int(np.prod(X.shape[1:]))
        if hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
    elif X.shape[1:] != estimator.image_shape_:
        raise WavelensError(f"X holds images of shape {X.shape[1:]}, but {type(estimator).__name__} was fitted "
                            f"on images of shape {estimator.image_shape_}.")
    return X, False


@dataclass(frozen=True)
class RowLayout(WaveletLayout):
    """The layout of one-row images (1, width[, channels]): a one-level-high image has no
    columns to filter, so each row gets the 1D transform ``pywt.wavedec``, its
    coefficients laid out in one row ``[cA_n, cD_n, ..., cD_1]``.

    Attributes
    ----------
    lengths : tuple of int
        Length of each of those coefficient arrays.
    """

    lengths: tuple = ()


def fit_layout(estimator, image_shape):
    """The layout of ``image_shape`` for the estimator's wavelet, level and mode, or raise."""
    wavelet, level, mode = check_wavelet_params(estimator)
    height, width = image_shape[:2]
    if height == 1:
        most = pywt.dwt_max_level(width, wavelet.dec_len)
        if level > most:
            raise WavelensError(
                f"X has {width} feature(s) per row, too few for level {level} of wavelet {wavelet.name} "
                f"(filter length {wavelet.dec_len}): the most is {most}; lower the 'level' parameter, use a "
                "shorter wavelet, or give 'image_shape' if the rows are flattened images.")
        lengths = tuple(len(c) for c in pywt.wavedec(np.zeros(width), wavelet, mode=mode, level=level))
        orthogonal = (mode == "periodization" and width % 2 ** level == 0
                      and orthonormality_error(wavelet) <= ORTHONORMALITY_TOLERANCE)
        return RowLayout(wavelet=wavelet.name, level=level, mode=mode, image_shape=tuple(image_shape),
                         matrix_shape=(1, sum(lengths)), slices=None, orthogonal=orthogonal, lengths=lengths)
    most = pywt.dwt_max_level(min(height, width), wavelet.dec_len)
    if level > most:
        raise WavelensError(
            f"Images of {height}x{width} pixels are too small for level {level} of wavelet {wavelet.name} "
            f"(filter length {wavelet.dec_len}): the most is {most}; lower the 'level' parameter or use a "
            "shorter wavelet such as 'db1'.")
    return wavelet_layout(image_shape, wavelet=wavelet.name, level=level, mode=mode)


def float_type(images):
    return images.dtype if images.dtype in (np.float32, np.float64) else np.dtype(np.float64)


def transform_images(images, layout, n_jobs):
    """Wavelet matrices ``(n, rows, cols[, channels])``, float32 for float32 images, else float64."""
    if not isinstance(layout, RowLayout):
        return wavelet_transform(images, wavelet=layout.wavelet, level=layout.level, mode=layout.mode,
                                 n_jobs=n_jobs)[0]
    dtype = float_type(images)
    out = np.empty((len(images),) + layout.matrix_shape + layout.image_shape[2:], dtype)

    def work(start, stop):
        parts = pywt.wavedec(images[start:stop].astype(dtype, copy=False), layout.wavelet, mode=layout.mode,
                             level=layout.level, axis=2)
        return np.concatenate(parts, axis=2)

    for_each_chunk(work, len(images), n_jobs=n_jobs, store=into_rows(out))
    return out


def inverse_images(coefficients, layout, n_jobs):
    """Images from wavelet matrices: the inverse of :func:`transform_images`."""
    if not isinstance(layout, RowLayout):
        return inverse_wavelet_transform(coefficients, layout, n_jobs=n_jobs)
    out = np.empty((len(coefficients),) + layout.image_shape, coefficients.dtype)
    bounds = np.cumsum(layout.lengths)[:-1]

    def work(start, stop):
        parts = np.split(coefficients[start:stop], bounds, axis=2)
        images = pywt.waverec(parts, layout.wavelet, mode=layout.mode, axis=2)
        return images[:, :, :layout.image_shape[1]]  # odd widths come back one longer

    for_each_chunk(work, len(coefficients), n_jobs=n_jobs, store=into_rows(out))
    return out


def decompose(images, layout, *, energy, top_k, n_jobs):
    """:class:`~wavelens.ImagePatterns` of the images, as :func:`wavelens.decompose_images` computes them.

    Unsigned integer pixels are read as ``X / max`` of their type in float32,
    chunk by chunk (as ``analyze`` reads a dataset's pixels).
    """
    pixel_max = int(np.iinfo(images.dtype).max) if images.dtype.kind == "u" else None
    if not isinstance(layout, RowLayout):
        return decompose_images(images, wavelet=layout.wavelet, level=layout.level, mode=layout.mode,
                                energy=energy, top_k=top_k, pixel_max=pixel_max, n_jobs=n_jobs)[0]
    floats = np.divide(images, np.float32(pixel_max), dtype=np.float32) if pixel_max else images
    return _row_patterns(transform_images(floats, layout, n_jobs), energy, top_k)


def _row_patterns(coefficients, energy, top_k):
    """The rank-1 decomposition of one-row wavelet matrices, in closed form: each channel's
    row c is its only pattern, 1 * (c / ||c||)^T with energy ||c||^2, so r(e) is 1 (0 for a
    blank image) and the image is rebuilt exactly."""
    a = np.asarray(coefficients[:, 0], np.float64)  # (n, m) or (n, m, channels)
    a = a[:, None, :] if a.ndim == 2 else np.moveaxis(a, -1, 1)  # (n, channels, m)
    n, channels, m = a.shape
    s = np.linalg.norm(a, axis=2)
    top = [None] * 4
    if top_k:
        order = np.argsort(-s, axis=1, kind="stable")[:, :top_k]
        k = order.shape[1]
        norms = np.take_along_axis(s, order, axis=1)
        v = np.take_along_axis(a, order[:, :, None], axis=1)
        v = np.divide(v, norms[:, :, None], out=np.zeros_like(v), where=norms[:, :, None] > 0)
        rows, slots = np.arange(n)[:, None], np.arange(k)[None, :]
        sign = np.sign(v[rows, slots, np.abs(v).argmax(axis=2)])  # largest entry positive, as lowrank's
        v *= np.where(sign == 0, 1.0, sign)[:, :, None]
        pad = ((0, 0), (0, top_k - k))
        top = [np.pad(norms ** 2, pad), np.pad(np.ones((n, k, 1), np.float32), pad + ((0, 0),)),
               np.pad(v.astype(np.float32), pad + ((0, 0),)), np.pad(order.astype(np.int16), pad)]
    return ImagePatterns(
        singular_values=s[:, :, None], rank_at_energy=rank_at_energy(s[:, :, None], energy),
        numerical_rank=(s > 0).any(axis=1).astype(np.int64), relative_error=np.zeros(n),
        psnr_db=np.full(n, np.inf), energy=energy, top_energy=top[0], top_u=top[1], top_v=top[2],
        top_channel=top[3])


def canonical_digests(images):
    """:func:`wavelens.duplicates.search.image_digests` of the images as float64, chunk by chunk: identical
    values give identical digests whatever the type they came in."""
    digests = []
    for start, stop in chunk_bounds(len(images), DEFAULT_CHUNK_SIZE):
        digests += image_digests(np.asarray(images[start:stop], dtype=np.float64))
    return digests
