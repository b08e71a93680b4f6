"""The pattern dictionary as an estimator: fit prototypes on some images, assign others' patterns."""

from typing import TYPE_CHECKING, Self

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from .._validation import WavelensError
from ..dictionary import assign_patterns, build_pattern_dictionary
from ..transform import wavelet_layout
from ._base import (RowLayout, check_image_shape, check_int, check_wavelet_params, decompose, fit_layout,
                    inverse_images, random_seed, read_images, threads)

if TYPE_CHECKING:
    from ..datasets import Dataset

__all__ = ["PatternDictionary"]


class PatternDictionary(TransformerMixin, BaseEstimator):
    """Prototypes of the images' rank-1 patterns; new images' patterns assigned to them.

    ``fit`` takes each image's ``top_k`` strongest rank-1 patterns (unit
    vectors, defined up to sign) and clusters them into ``n_patterns``
    prototypes with axial k-means, exactly as :func:`wavelens.analyze` builds
    its pattern dictionary (same images and seed: same prototypes).
    ``predict`` assigns the top patterns of any images to the nearest
    prototype (``fit_predict``: those of the training images); ``transform``
    gives each image's bag of prototypes, each occurrence weighted by the
    pattern's share of the image's energy.

    Parameters
    ----------
    n_patterns : int, default=100
        Prototypes P.
    top_k : int, default=3
        Patterns taken from each image.
    wavelet : str, default='db1'
    level : int, default=1
    mode : str, default='periodization'
    image_shape : tuple of int, default=None
        Shape of the images when X holds them flattened (see :class:`WaveletTransform`).
    random_state : int, RandomState, Generator or None, default=0
        Seeds the sample the prototypes are fitted on and the k-means++ start;
        an int gives the same prototypes on every run and any ``n_jobs``.
    n_jobs : int, default=None
        Threads: None is one, -1 every core.

    Attributes
    ----------
    prototypes_ : ndarray of shape (n_patterns, rows, cols)
        The prototypes in the wavelet-matrix space (unit-norm shapes; largest
        entry positive).
    assignments_ : ndarray of shape (n_samples, top_k)
        Prototype of each training image's top patterns (-1 where it has none),
        as ``predict`` gives them.
    weights_ : ndarray of shape (n_samples, top_k)
        Those patterns' shares of their image's energy.
    image_shape_ : tuple of int
    layout_ : WaveletLayout
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names of X when it was a DataFrame with string column names.

    Notes
    -----
    Unsigned integer pixels are read as ``X / max`` of their type, as
    :func:`wavelens.analyze` reads a dataset's pixels.

    Examples
    --------
    >>> import numpy as np
    >>> from wavelens.estimators import PatternDictionary
    >>> rng = np.random.default_rng(0)
    >>> train, test = rng.random((200, 8, 8)), rng.random((5, 8, 8))
    >>> dictionary = PatternDictionary(n_patterns=10, random_state=0).fit(train)
    >>> dictionary.prototypes_.shape
    (10, 8, 8)
    >>> dictionary.predict(test).shape  # the prototype of each test image's top 3 patterns
    (5, 3)
    >>> dictionary.transform(test).shape  # energy-weighted bags of prototypes
    (5, 10)
    """

    def __init__(self, *, n_patterns: int = 100, top_k: int = 3, wavelet: str = "db1", level: int = 1,
                 mode: str = "periodization", image_shape: tuple[int, ...] | None = None,
                 random_state: int | np.random.RandomState | np.random.Generator | None = 0,
                 n_jobs: int | None = None) -> None:
        self.n_patterns = n_patterns
        self.top_k = top_k
        self.wavelet = wavelet
        self.level = level
        self.mode = mode
        self.image_shape = image_shape
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X: "ArrayLike | Dataset", y: None = None) -> Self:
        """Cluster the images' top patterns into prototypes.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width[, channels]) or (n_samples, n_features), or Dataset
        y : None
            Ignored.

        Returns
        -------
        self : PatternDictionary
        """
        self._fit(X)
        return self

    def fit_transform(self, X: "ArrayLike | Dataset", y: None = None) -> np.ndarray:
        """Fit, and give the training images' bags of prototypes (one pass over the images).

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width[, channels]) or (n_samples, n_features), or Dataset
        y : None
            Ignored.

        Returns
        -------
        ndarray of shape (n_samples, n_patterns)
        """
        self._fit(X)
        return self._bags(self.assignments_, self.weights_)

    def fit_predict(self, X: "ArrayLike | Dataset", y: None = None) -> np.ndarray:
        """Fit, and give the prototype of each training image's top patterns (one pass over the images):
        the same as ``fit(X).predict(X)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width[, channels]) or (n_samples, n_features), or Dataset
        y : None
            Ignored.

        Returns
        -------
        ndarray of int of shape (n_samples, top_k)
            Prototype ids of each image's patterns, strongest first; -1 where an
            image has fewer than ``top_k`` patterns (see :meth:`predict`).
        """
        self._fit(X)
        return self.assignments_.copy()

    def _fit(self, X):
        n_patterns = check_int(self, "n_patterns")
        top_k = check_int(self, "top_k")
        check_wavelet_params(self)
        check_image_shape(self)
        seed, n_jobs = random_seed(self), threads(self)
        images, _ = read_images(self, X, reset=True)
        layout = fit_layout(self, self.image_shape_)
        if len(images) * top_k < n_patterns:
            raise WavelensError(
                f"X has {len(images)} sample(s), at most {len(images) * top_k} patterns with top_k={top_k}, fewer "
                f"than the n_patterns={n_patterns} prototypes; lower 'n_patterns' or fit on more images.")
        patterns = decompose(images, layout, energy=1.0, top_k=top_k, n_jobs=n_jobs)
        present = int((patterns.top_energy > 0).sum())
        if present < n_patterns:
            raise WavelensError(
                f"X has {len(images)} sample(s) holding {present} rank-1 patterns among their top {top_k} (an image "
                f"of lower rank has fewer, a blank one none), fewer than the n_patterns={n_patterns} prototypes; "
                "lower 'n_patterns' or fit on more images.")
        fitted = build_pattern_dictionary(patterns, n_patterns=n_patterns, random_state=seed, n_jobs=n_jobs)
        self.layout_ = layout
        self.prototypes_ = fitted.prototypes
        self._factors = fitted.factors
        self.assignments_ = fitted.assignments
        self.weights_ = fitted.weights

    def _assign(self, X):
        check_is_fitted(self)
        images, _ = read_images(self, X, reset=False)
        patterns = decompose(images, self.layout_, energy=1.0, top_k=self.assignments_.shape[1],
                             n_jobs=threads(self))
        return assign_patterns(patterns, self.prototypes_, factors=self._factors, n_jobs=threads(self))

    def predict(self, X: "ArrayLike | Dataset") -> np.ndarray:
        """The prototype of each image's top patterns.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width[, channels]) or (n_samples, n_features), or Dataset

        Returns
        -------
        ndarray of int of shape (n_samples, top_k)
            Prototype ids (rows of ``prototypes_``) of each image's patterns,
            strongest first; -1 where an image has fewer than ``top_k``
            patterns (a blank image has none).
        """
        return self._assign(X)[0]

    def transform(self, X: "ArrayLike | Dataset") -> np.ndarray:
        """Each image's bag of prototypes, weighted by energy.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width[, channels]) or (n_samples, n_features), or Dataset

        Returns
        -------
        ndarray of shape (n_samples, n_patterns)
            Entry (i, p): the summed energy shares of image i's top patterns
            assigned to prototype p (each row sums to at most 1).
        """
        return self._bags(*self._assign(X))

    def _bags(self, assignments, weights):
        bags = np.zeros((len(assignments), len(self.prototypes_)))
        rows, slots = np.nonzero(assignments >= 0)
        np.add.at(bags, (rows, assignments[rows, slots]), weights[rows, slots])
        return bags

    def prototype_images(self) -> np.ndarray:
        """The prototypes in pixels, through the inverse wavelet transform.

        A prototype is the shape of one channel's pattern, so colour images give
        grey prototypes.

        Returns
        -------
        ndarray of shape (n_patterns, height, width)
        """
        check_is_fitted(self)
        layout = self.layout_
        if isinstance(layout, RowLayout):
            gray = RowLayout(**{**vars(layout), "image_shape": layout.image_shape[:2]})
        else:
            gray = wavelet_layout(layout.image_shape[:2], wavelet=layout.wavelet, level=layout.level,
                                  mode=layout.mode)
        return inverse_images(self.prototypes_, gray, threads(self))

    def get_feature_names_out(self, input_features: None = None) -> np.ndarray:
        """``prototype_0``, ..., ``prototype_{n_patterns - 1}``.

        Parameters
        ----------
        input_features : None
            Ignored.

        Returns
        -------
        ndarray of str
        """
        check_is_fitted(self)
        return np.asarray([f"prototype_{p}" for p in range(len(self.prototypes_))], dtype=object)
