"""Near-duplicate search as an estimator: an index of reference images, queried by others."""

from typing import TYPE_CHECKING, Self

import pandas as pd
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ..duplicates.search import match_rows
from ..communities.graph import unit_rows
from ._base import (canonical_digests, check_image_shape, check_real, check_wavelet_params, fit_layout,
                    read_images, threads, transform_images)

if TYPE_CHECKING:
    from ..datasets import Dataset

__all__ = ["NearDuplicates"]


class NearDuplicates(BaseEstimator):
    """Near-duplicate images: cosine similarity of wavelet coefficients at or above a threshold.

    ``fit`` indexes reference images (e.g. a training set): their wavelet
    coefficients scaled to unit length, and a digest of each image to flag
    exact copies. ``query`` finds, for other images (e.g. a test set), every
    reference image within the threshold; ``find`` indexes a set and finds the
    pairs within it. The pairs are those of :func:`wavelens.duplicates.search.find_duplicates`.

    Parameters
    ----------
    threshold : float, default=0.98
        Cosine similarity in (0, 1] at or above which two images are near-duplicates.
        Read when searching: the index does not depend on it.
    wavelet : str, default='db1'
    level : int, default=1
    mode : str, default='periodization'
    image_shape : tuple of int, default=None
        Shape of the images when X holds them flattened (see :class:`WaveletTransform`).
    n_jobs : int, default=None
        Threads of the wavelet transform: None is one, -1 every core.

    Attributes
    ----------
    unit_coefficients_ : ndarray of float32 of shape (n_samples_fit_, n_coefficients)
        The reference images' wavelet coefficients scaled to unit length (zero
        for a blank image, which is near no image but exact copies of it).
    digests_ : list of bytes
        A digest of each reference image's values (as float64).
    n_samples_fit_ : int
    image_shape_ : tuple of int
    layout_ : WaveletLayout
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names of X when it was a DataFrame with string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from wavelens.estimators import NearDuplicates
    >>> rng = np.random.default_rng(0)
    >>> train = rng.random((50, 8, 8))
    >>> test = np.concatenate([rng.random((3, 8, 8)), train[[7]], 0.5 * train[[9]]])
    >>> NearDuplicates(threshold=0.99).fit(train).query(test)
       index_query  index_reference  similarity  exact
    0            3                7         1.0   True
    1            4                9         1.0  False
    """

    def __init__(self, *, threshold: float = 0.98, wavelet: str = "db1", level: int = 1, mode: str = "periodization",
                 image_shape: tuple[int, ...] | None = None, n_jobs: int | None = None) -> None:
        self.threshold = threshold
        self.wavelet = wavelet
        self.level = level
        self.mode = mode
        self.image_shape = image_shape
        self.n_jobs = n_jobs

    def _unit_rows(self, images):
        coefficients = transform_images(images, self.layout_, threads(self))
        return unit_rows(coefficients.reshape(len(coefficients), -1))[0]

    def fit(self, X: "ArrayLike | Dataset", y: None = None) -> Self:
        """Index the reference images.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width[, channels]) or (n_samples, n_features), or Dataset
        y : None
            Ignored.

        Returns
        -------
        self : NearDuplicates
        """
        check_real(self, "threshold", 0, 1, low_open=True)
        check_wavelet_params(self)
        check_image_shape(self)
        threads(self)
        images, _ = read_images(self, X, reset=True)
        self.layout_ = fit_layout(self, self.image_shape_)
        self.unit_coefficients_ = self._unit_rows(images)
        self.digests_ = canonical_digests(images)
        self.n_samples_fit_ = len(images)
        return self

    def query(self, X: "ArrayLike | Dataset") -> pd.DataFrame:
        """Pairs of an image of X and a reference image that are near-duplicates.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width[, channels]) or (n_samples, n_features), or Dataset
            Images of the shape of the reference images.

        Returns
        -------
        pandas.DataFrame
            A row per pair, most similar first: ``index_query`` (row of X),
            ``index_reference`` (row of the X given to ``fit``), ``similarity``
            (cosine) and ``exact`` (identical values; listed whatever their
            similarity).
        """
        check_is_fitted(self)
        threshold = check_real(self, "threshold", 0, 1, low_open=True)
        images, _ = read_images(self, X, reset=False)
        pairs = match_rows(self._unit_rows(images), self.unit_coefficients_, threshold=threshold,
                           digests_a=canonical_digests(images), digests_b=self.digests_)
        return _table(pairs, "index_query", "index_reference")

    def find(self, X: "ArrayLike | Dataset") -> pd.DataFrame:
        """Index X, and give the pairs of near-duplicates within it.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width[, channels]) or (n_samples, n_features), or Dataset

        Returns
        -------
        pandas.DataFrame
            A row per pair ``index_a`` < ``index_b`` (rows of X), most similar
            first, with ``similarity`` and ``exact``.
        """
        self.fit(X)
        pairs = match_rows(self.unit_coefficients_, threshold=float(self.threshold), digests_a=self.digests_)
        return _table(pairs, "index_a", "index_b")


def _table(pairs, first, second):
    return pd.DataFrame({first: pairs.index_a, second: pairs.index_b, "similarity": pairs.similarity,
                         "exact": pairs.exact})
