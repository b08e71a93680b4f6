"""The wavelet transform and the per-image rank-1 decomposition as transformers."""

from typing import TYPE_CHECKING, Self

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_array, check_is_fitted

from .._validation import WavelensError, check_energy
from ..decomposition import ImagePatterns
from ._base import (check_image_shape, check_int, check_wavelet_params, decompose, fit_layout, inverse_images,
                    read_images, threads, transform_images)

if TYPE_CHECKING:
    from ..datasets import Dataset

__all__ = ["PatternDecomposition", "WaveletTransform"]


class WaveletTransform(TransformerMixin, BaseEstimator):
    """The 2D discrete wavelet transform of every image, as rows of coefficients.

    Each image channel becomes its *wavelet matrix* (:func:`wavelens.wavelet_transform`);
    ``transform`` returns those matrices flattened, a row per image.

    Parameters
    ----------
    wavelet : str, default='db1'
        A discrete PyWavelets wavelet.
    level : int, default=1
        Decomposition levels.
    mode : str, default='periodization'
        A PyWavelets signal-extension mode.
    image_shape : tuple of int, default=None
        ``(height, width)`` or ``(height, width, channels)`` of the images when
        X holds them flattened, a row per image. None: 3-D and 4-D X are
        images, and each row of a 2-D X is a one-row image (1, n_features),
        whose rows get the 1D transform (:class:`RowLayout`).
    n_jobs : int, default=None
        Threads: None is one, -1 every core.

    Attributes
    ----------
    image_shape_ : tuple of int
        Shape of one image.
    layout_ : WaveletLayout
        What the inverse transform needs.
    n_features_in_ : int
        Values per image (pixels times channels).
    feature_names_in_ : ndarray of str
        Column names of X when it was a DataFrame with string column names.

    See Also
    --------
    wavelens.wavelet_transform : The same transform as a function, on images.

    Examples
    --------
    >>> import numpy as np
    >>> from wavelens.estimators import WaveletTransform
    >>> images = np.random.default_rng(0).random((5, 8, 8))
    >>> transform = WaveletTransform(level=2).fit(images)
    >>> coefficients = transform.transform(images)
    >>> coefficients.shape
    (5, 64)
    >>> bool(np.allclose(transform.inverse_transform(coefficients), images))
    True
    """

    def __init__(self, *, wavelet: str = "db1", level: int = 1, mode: str = "periodization",
                 image_shape: tuple[int, ...] | None = None, n_jobs: int | None = None) -> None:
        self.wavelet = wavelet
        self.level = level
        self.mode = mode
        self.image_shape = image_shape
        self.n_jobs = n_jobs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def fit(self, X: "ArrayLike | Dataset", y: None = None) -> Self:
        """Check the parameters against the images' shape.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width[, channels]) or (n_samples, n_features), or Dataset
        y : None
            Ignored.

        Returns
        -------
        self : WaveletTransform
        """
        check_wavelet_params(self)
        check_image_shape(self)
        threads(self)
        _, self._rows_in = read_images(self, X, reset=True)
        self.layout_ = fit_layout(self, self.image_shape_)
        return self

    def transform(self, X: "ArrayLike | Dataset") -> np.ndarray:
        """Wavelet coefficients of each image.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width[, channels]) or (n_samples, n_features), or Dataset

        Returns
        -------
        ndarray of shape (n_samples, n_coefficients)
            Each image's wavelet matrices ``(rows, cols[, channels])`` flattened;
            float32 for float32 X, else float64.
        """
        check_is_fitted(self)
        images, _ = read_images(self, X, reset=False)
        coefficients = transform_images(images, self.layout_, threads(self))
        return coefficients.reshape(len(coefficients), -1)

    def inverse_transform(self, X: "ArrayLike | Dataset") -> np.ndarray:
        """Images from their wavelet coefficients (exact, but for the wavelet 'dmey').

        Parameters
        ----------
        X : array-like of shape (n_samples, n_coefficients) or (n_samples, rows, cols[, channels])

        Returns
        -------
        ndarray of shape (n_samples,) + image_shape_, or (n_samples, n_features_in_)
            Shaped as the X given to ``fit``: images, or rows.
        """
        check_is_fitted(self)
        X = check_array(X, allow_nd=True, dtype=[np.float64, np.float32], input_name="X")
        shape = self.layout_.matrix_shape + self.image_shape_[2:]
        if X.shape[1:] not in (shape, (int(np.prod(shape)),)):
            raise WavelensError(f"X must hold wavelet coefficients of shape (n_samples, {int(np.prod(shape))}) or "
                                f"(n_samples,) + {shape}; got shape {X.shape}.")
        images = inverse_images(X.reshape((len(X),) + shape), self.layout_, threads(self))
        return images.reshape(len(images), -1) if self._rows_in else images

    def get_feature_names_out(self, input_features: None = None) -> np.ndarray:
        """Coefficient names ``w{row}_{col}`` (``w{row}_{col}_{channel}`` for colour images).

        Parameters
        ----------
        input_features : None
            Ignored: the names follow the wavelet matrix.

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self)
        rows, cols = self.layout_.matrix_shape
        names = [f"w{r}_{c}" for r in range(rows) for c in range(cols)]
        if len(self.image_shape_) == 3:
            names = [f"{name}_{ch}" for name in names for ch in range(self.image_shape_[2])]
        return np.asarray(names, dtype=object)


class PatternDecomposition(TransformerMixin, BaseEstimator):
    """Each image's rank-1 patterns: r(e) and the energy shares of its top patterns.

    The wavelet matrix of each image channel is written as its SVD, a sum of
    rank-1 patterns (see :func:`wavelens.decompose_images`). ``transform``
    gives a row per image: r(e), the fewest patterns that keep fraction
    ``energy`` of the image's energy, then the energy share s^2 / ||C||^2 of
    each of its ``top_k`` strongest patterns (over all its channels; 0 where it
    has fewer). ``decompose`` gives everything (:class:`~wavelens.ImagePatterns`).

    Parameters
    ----------
    wavelet : str, default='db1'
    level : int, default=1
    mode : str, default='periodization'
    energy : float, default=0.99
        The energy fraction e of r(e), in (0, 1].
    top_k : int, default=3
        Patterns whose energy shares are given (0: r(e) only).
    image_shape : tuple of int, default=None
        Shape of the images when X holds them flattened (see :class:`WaveletTransform`).
    n_jobs : int, default=None
        Threads: None is one, -1 every core.

    Attributes
    ----------
    image_shape_ : tuple of int
    layout_ : WaveletLayout
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names of X when it was a DataFrame with string column names.

    Notes
    -----
    Unsigned integer pixels (uint8...) are read as ``X / max`` of their type, as
    :class:`wavelens.Dataset` holds them; PSNR (in ``decompose``) takes pixels
    in [0, 1]. r(e) and the shares do not depend on the scale.

    Examples
    --------
    >>> import numpy as np
    >>> from wavelens.estimators import PatternDecomposition
    >>> u, v = np.eye(8)[0], np.ones(8) / 8 ** 0.5
    >>> images = np.stack([np.outer(u, v), np.eye(8)])  # one pattern; eight equal ones
    >>> decomposition = PatternDecomposition(top_k=2).fit(images)
    >>> decomposition.get_feature_names_out().tolist()
    ['rank_at_energy', 'energy_share_1', 'energy_share_2']
    >>> decomposition.transform(images).round(3)
    array([[1.   , 1.   , 0.   ],
           [8.   , 0.125, 0.125]])
    """

    def __init__(self, *, wavelet: str = "db1", level: int = 1, mode: str = "periodization", energy: float = 0.99,
                 top_k: int = 3, image_shape: tuple[int, ...] | None = None, n_jobs: int | None = None) -> None:
        self.wavelet = wavelet
        self.level = level
        self.mode = mode
        self.energy = energy
        self.top_k = top_k
        self.image_shape = image_shape
        self.n_jobs = n_jobs

    def _check_params(self):
        check_wavelet_params(self)
        check_image_shape(self)
        try:
            energy = check_energy(self.energy)
        except WavelensError:
            raise WavelensError(f"The 'energy' parameter of {type(self).__name__} must be a float in the range "
                                f"(0, 1], e.g. 0.99. Got {self.energy!r} instead.") from None
        return energy, check_int(self, "top_k", minimum=0), threads(self)

    def fit(self, X: "ArrayLike | Dataset", y: None = None) -> Self:
        """Check the parameters against the images' shape.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width[, channels]) or (n_samples, n_features), or Dataset
        y : None
            Ignored.

        Returns
        -------
        self : PatternDecomposition
        """
        self._check_params()
        read_images(self, X, reset=True)
        self.layout_ = fit_layout(self, self.image_shape_)
        return self

    def decompose(self, X: "ArrayLike | Dataset") -> ImagePatterns:
        """The full rank-1 decomposition of each image.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width[, channels]) or (n_samples, n_features), or Dataset

        Returns
        -------
        ImagePatterns
            Singular values, r(e), numerical rank, rebuild errors, and the top
            ``top_k`` patterns with their energies.
        """
        check_is_fitted(self)
        energy, top_k, n_jobs = self._check_params()
        images, _ = read_images(self, X, reset=False)
        return decompose(images, self.layout_, energy=energy, top_k=top_k, n_jobs=n_jobs)

    def transform(self, X: "ArrayLike | Dataset") -> np.ndarray:
        """r(e) and the top patterns' energy shares of each image.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width[, channels]) or (n_samples, n_features), or Dataset

        Returns
        -------
        ndarray of shape (n_samples, 1 + top_k)
            Columns ``rank_at_energy``, ``energy_share_1``, ..., ``energy_share_{top_k}``.
        """
        patterns = self.decompose(X)
        return np.column_stack([patterns.rank_at_energy.astype(np.float64), energy_shares(patterns)])

    def get_feature_names_out(self, input_features: None = None) -> np.ndarray:
        """``rank_at_energy``, ``energy_share_1``, ..., ``energy_share_{top_k}``.

        Parameters
        ----------
        input_features : None
            Ignored.

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self)
        names = ["rank_at_energy"] + [f"energy_share_{j + 1}" for j in range(self.top_k)]
        return np.asarray(names, dtype=object)


def energy_shares(patterns: ImagePatterns) -> np.ndarray:
    """Each top pattern's share s^2 / ||C||^2 of its image's energy (0 for a blank image)."""
    if not patterns.top_k:
        return np.zeros((len(patterns.rank_at_energy), 0))
    total = patterns.total_energy[:, None]
    return np.divide(patterns.top_energy, total, out=np.zeros_like(patterns.top_energy), where=total > 0)
