"""Near-duplicate search as an estimator: an index of reference images, queried by others."""

from typing import TYPE_CHECKING, Self

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from ..duplicates.near import flag, score_candidates
from ..duplicates.search import _exact_pairs
from ._base import canonical_digests, check_image_shape, check_int, check_real, read_images, threads

if TYPE_CHECKING:
    from ..datasets import Dataset

__all__ = ["NearDuplicates"]


class NearDuplicates(BaseEstimator):
    """Exact copies and near-duplicate images, as :func:`wavelens.find_near_duplicates` finds them.

    ``fit`` indexes reference images (e.g. a training set): the images and a
    digest of each, to flag exact copies. ``query`` finds, for other images (e.g.
    a test set), the reference images that are near-duplicates of them; ``find``
    indexes a set and finds the pairs within it. Candidates come from coarse
    descriptors, each pair's similarity is the best correlation of the two images
    over small shifts, and a pair is flagged when its similarity is at least
    ``threshold`` and it stands out from the query image's other near images
    (``ratio``; see :func:`wavelens.find_near_duplicates` for the method and its limits).

    Parameters
    ----------
    threshold : float, default=0.9
        In (0, 1]: the lowest similarity of a near-duplicate pair. Read when searching.
    ratio : float or None, default=0.25
        In (0, 1]: a pair's distance 1 - similarity must be at most ``ratio`` times the
        query image's distance to its 6th most similar candidate; None: no such test.
        Read when searching.
    n_neighbors : int, default=8
        Candidates per image and descriptor (at least 6).
    max_shift : int, default=2
        Largest shift undone, in pixels.
    size : int, default=32
        Images are compared at most this many pixels a side (at least 8).
    image_shape : tuple of int, default=None
        Shape of the images when X holds them flattened (see :class:`WaveletTransform`).
    n_jobs : int, default=None
        Threads: None is one, -1 every core.

    Attributes
    ----------
    images_ : ndarray of shape (n_samples_fit_,) + image_shape_
        The reference images.
    digests_ : list of bytes
        A digest of each reference image's values (as float64).
    n_samples_fit_ : int
    image_shape_ : tuple of int
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
    >>> NearDuplicates().fit(train).query(test)
       index_query  index_reference  similarity  exact
    0            3                7         1.0   True
    1            4                9         1.0  False
    """

    def __init__(self, *, threshold: float = 0.9, ratio: float | None = 0.25, n_neighbors: int = 8,
                 max_shift: int = 2, size: int = 32, image_shape: tuple[int, ...] | None = None,
                 n_jobs: int | None = None) -> None:
        self.threshold = threshold
        self.ratio = ratio
        self.n_neighbors = n_neighbors
        self.max_shift = max_shift
        self.size = size
        self.image_shape = image_shape
        self.n_jobs = n_jobs

    def _cut(self):
        threshold = check_real(self, "threshold", 0, 1, low_open=True)
        ratio = None if self.ratio is None else check_real(self, "ratio", 0, 1, low_open=True)
        return threshold, ratio

    def _int(self, name, minimum):
        return check_int(self, name, minimum=minimum)

    def _search(self, query, reference):
        threshold, ratio = self._cut()
        candidates = score_candidates(query, None, reference, None, size=self._int("size", 8),
                                      n_neighbors=self._int("n_neighbors", 6),
                                      max_shift=self._int("max_shift", 0), n_jobs=threads(self))
        return flag(candidates, threshold=threshold, ratio=ratio, within=reference is None)

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
        self._cut()
        for name, minimum in (("size", 8), ("n_neighbors", 6), ("max_shift", 0)):
            self._int(name, minimum)
        check_image_shape(self)
        threads(self)
        images, _ = read_images(self, X, reset=True)
        self.images_ = np.asarray(images, dtype=np.float32)
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
            (1 for exact copies) and ``exact`` (identical values; listed whatever
            their similarity).
        """
        check_is_fitted(self)
        images, _ = read_images(self, X, reset=False)
        exact = _exact_pairs(canonical_digests(images), self.digests_, False)
        found = self._search(np.asarray(images, dtype=np.float32), self.images_)
        return _table(found, exact, "index_query", "index_reference")

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
        found = self._search(self.images_, None)
        exact = _exact_pairs(self.digests_, self.digests_, True)
        return _table(found, exact, "index_a", "index_b")


def _table(found, exact_pairs, first, second):
    from ..duplicates import _merge

    pairs = _merge(*found, exact_pairs)
    order = np.lexsort((pairs.index_b, pairs.index_a, -pairs.similarity))
    return pd.DataFrame({first: pairs.index_a[order], second: pairs.index_b[order],
                         "similarity": pairs.similarity[order], "exact": pairs.exact[order]})
