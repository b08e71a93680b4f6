"""Spectral communities of images as a clustering estimator."""

from typing import TYPE_CHECKING, Self

import numpy as np
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClusterMixin

from .._validation import WavelensError
from ..communities.features import METHODS, select_features
from ..communities.graph import knn_graph
from ..communities.stability import communities_of_rows
from ..communities import LAPLACIAN_SAMPLE
from ._base import (check_choice, check_image_shape, check_int, check_real, check_wavelet_params, fit_layout,
                    random_seed, read_images, threads, transform_images)

if TYPE_CHECKING:
    from ..datasets import Dataset

__all__ = ["SpectralCommunities"]


class SpectralCommunities(ClusterMixin, BaseEstimator):
    """Communities of similar images: wavelet features, a kNN graph, spectral clustering.

    The images' wavelet coefficients are narrowed to the most informative ones
    (pivoted QR or the Laplacian score), joined into a graph of each image's
    ``n_neighbors`` nearest by cosine distance, and clustered on the
    eigenvectors of the graph's Laplacian; the number of communities is the
    largest eigengap averaged over the whole graph and ``n_resamples`` random
    halves of the images, unless ``n_communities`` fixes it. The same communities
    as :func:`wavelens.communities.find_communities` for the same images.

    Parameters
    ----------
    n_neighbors : int, default=10
        Neighbours of each image in the similarity graph.
    n_communities : int, default=None
        Fixed number of communities (at least 2); None takes the eigengap estimate.
    max_communities : int, default=30
        Most communities the eigengap estimate may choose (at least 2).
    n_resamples : int, default=12
        Random halves on which the count and membership are checked (see
        :mod:`wavelens.communities.stability`); 0 takes the whole graph's eigengap alone.
    features : {'qr', 'laplacian', 'all'}, default='qr'
        How wavelet coefficients are chosen (see :mod:`wavelens.communities.features`).
    n_features : int, default=None
        Coefficients kept; None keeps them while their condition number stays
        at most ``condition``, and at most ``max_features``.
    condition : float, default=1e5
        At least 1.
    max_features : int, default=256
        Cap on the coefficients ``condition`` keeps (the neighbour search costs
        n_samples^2 x features); None lifts it.
    wavelet : str, default='db1'
    level : int, default=1
    mode : str, default='periodization'
    image_shape : tuple of int, default=None
        Shape of the images when X holds them flattened (see :class:`WaveletTransform`).
    random_state : int, RandomState, Generator or None, default=0
        Seeds the halves, the eigensolver's start, k-means and the Laplacian score's sample.
    n_jobs : int, default=None
        Threads: None is one, -1 every core.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Community of each image, 0 to n_communities_ - 1.
    n_communities_ : int
    eigenvalues_ : ndarray
        Smallest eigenvalues of the graph's normalized Laplacian, ascending.
    eigengap_k_ : int
        The largest gap of ``eigenvalues_`` (the whole graph's own eigengap estimate).
    stability_ : Stability or None
        How stable the count and membership are under random halves
        (:class:`wavelens.communities.stability.Stability`); None without resampling.
    feature_indices_ : ndarray of int
        The wavelet coefficients used (columns of
        :meth:`WaveletTransform.transform`'s output), best first.
    affinity_matrix_ : scipy.sparse.csr_matrix of shape (n_samples, n_samples)
        The similarity graph.
    image_shape_ : tuple of int
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Column names of X when it was a DataFrame with string column names.

    Examples
    --------
    >>> import numpy as np
    >>> from wavelens.estimators import SpectralCommunities
    >>> rng = np.random.default_rng(0)
    >>> shapes = np.stack([np.eye(8), np.ones((8, 8)), np.tri(8)])
    >>> images = np.repeat(shapes, 20, axis=0) + 0.05 * rng.random((60, 8, 8))
    >>> communities = SpectralCommunities(n_neighbors=5, max_communities=5).fit(images)
    >>> communities.n_communities_
    3
    >>> np.bincount(communities.labels_).tolist()
    [20, 20, 20]
    """

    def __init__(self, *, n_neighbors: int = 10, n_communities: int | None = None, max_communities: int = 30,
                 n_resamples: int = 12,
                 features: str = "qr", n_features: int | None = None, condition: float = 1e5,
                 max_features: int | None = 256, wavelet: str = "db1", level: int = 1, mode: str = "periodization",
                 image_shape: tuple[int, ...] | None = None,
                 random_state: int | np.random.RandomState | np.random.Generator | None = 0,
                 n_jobs: int | None = None) -> None:
        self.n_neighbors = n_neighbors
        self.n_communities = n_communities
        self.max_communities = max_communities
        self.n_resamples = n_resamples
        self.features = features
        self.n_features = n_features
        self.condition = condition
        self.max_features = max_features
        self.wavelet = wavelet
        self.level = level
        self.mode = mode
        self.image_shape = image_shape
        self.random_state = random_state
        self.n_jobs = n_jobs

    def fit(self, X: "ArrayLike | Dataset", y: None = None) -> Self:
        """Find the communities.

        Parameters
        ----------
        X : array-like of shape (n_samples, height, width[, channels]) or (n_samples, n_features), or Dataset
        y : None
            Ignored.

        Returns
        -------
        self : SpectralCommunities
        """
        n_neighbors = check_int(self, "n_neighbors")
        n_communities = check_int(self, "n_communities", minimum=2, none=True)
        max_communities = check_int(self, "max_communities", minimum=2)
        n_resamples = check_int(self, "n_resamples", minimum=0)
        method = check_choice(self, "features", METHODS)
        n_features = check_int(self, "n_features", none=True)
        condition = check_real(self, "condition", 1, np.inf)
        max_features = check_int(self, "max_features", none=True)
        check_wavelet_params(self)
        check_image_shape(self)
        seed, n_jobs = random_seed(self), threads(self)
        images, _ = read_images(self, X, reset=True)
        layout = fit_layout(self, self.image_shape_)
        n = len(images)
        needed = max(3, n_neighbors + 1, (n_communities or 2) + 1)
        if n < needed:
            raise WavelensError(
                f"X has {n} sample(s), too few for n_neighbors={n_neighbors}"
                + (f" and n_communities={n_communities}" if n_communities else "")
                + f": it needs at least {needed}; lower 'n_neighbors' or 'n_communities', or fit on more images.")
        n_total = int(np.prod(layout.matrix_shape)) * (self.image_shape_[2] if len(self.image_shape_) == 3 else 1)
        if n_features is not None and n_features > n_total:
            raise WavelensError(
                f"The 'n_features' parameter of SpectralCommunities is {n_features}, more than the {n_total} "
                "wavelet coefficients of each image; lower it, or leave it None.")

        rows = transform_images(images, layout, n_jobs).reshape(n, -1)
        graph = None
        if method == "laplacian":
            sample = np.arange(n)
            if n > LAPLACIAN_SAMPLE:
                sample = np.sort(np.random.default_rng(seed).choice(n, LAPLACIAN_SAMPLE, replace=False))
            graph, _ = knn_graph(rows[sample], n_neighbors=min(n_neighbors, len(sample) - 1), n_jobs=n_jobs)
        selection = select_features(rows if graph is None else rows[sample], method=method, n_features=n_features,
                                    condition=condition, max_features=max_features, graph=graph)
        selected = np.ascontiguousarray(rows[:, selection.indices])
        found, stability, graph, _ = communities_of_rows(
            selected, n_neighbors=n_neighbors, n_communities=n_communities, max_communities=max_communities,
            n_resamples=n_resamples, random_state=seed, n_jobs=n_jobs)
        self.labels_ = found.labels
        self.n_communities_ = found.n_communities
        self.eigenvalues_ = np.asarray(found.eigenvalues)
        self.eigengap_k_ = found.eigengap_k
        self.stability_ = stability
        self.feature_indices_ = np.asarray(selection.indices)
        self.affinity_matrix_ = graph
        return self
