"""Each image's nearest other images in the audit's feature space, and the graph they make.

Exact Euclidean search (scikit-learn's brute force, chunked inside, so memory
grows with n * n_neighbors, never n^2). The image itself is left out; among
neighbours at equal distance (duplicate images) the one first in the dataset
comes first, so results do not depend on how the search was chunked.
"""

import numpy as np

from .._parallel import resolve_n_jobs
from .._validation import WavelensError, param

__all__ = ["Neighbors", "nearest_neighbors", "neighbor_graph"]

# Edge weights exp(-d^2 / (s_i s_j)) with s_i the distance to the image's 7th neighbour: the
# local scaling of Zelnik-Manor and Perona, so dense and sparse regions weigh alike.
LOCAL_SCALE_NEIGHBOR = 7


class Neighbors:
    """``indices`` and ``distances`` (n_images, n_neighbors) of each image's nearest other images."""

    def __init__(self, indices: np.ndarray, distances: np.ndarray) -> None:
        self.indices = indices
        self.distances = distances

    @property
    def n_neighbors(self) -> int:
        return self.indices.shape[1]


def nearest_neighbors(features, *, n_neighbors=40, n_jobs=-1) -> Neighbors:
    """The ``n_neighbors`` nearest other rows of ``features`` for every row.

    Examples
    --------
    >>> found = nearest_neighbors(np.array([[0.0], [1.0], [3.0], [10.0]]), n_neighbors=2)
    >>> found.indices.tolist()
    [[1, 2], [0, 2], [1, 0], [2, 1]]
    """
    from sklearn.neighbors import NearestNeighbors

    n = len(features)
    if n_neighbors >= n:
        raise WavelensError(f"{param('n_neighbors', n_neighbors)} needs more than {n_neighbors} images; "
                            f"the dataset has {n}.")
    extra = min(8, n - n_neighbors - 1)  # room to put ties in image order
    search = NearestNeighbors(n_neighbors=n_neighbors + 1 + extra, algorithm="brute",
                              n_jobs=resolve_n_jobs(n_jobs)).fit(features)
    distances, indices = search.kneighbors(features)
    own = indices == np.arange(n)[:, None]
    # Drop the image itself (or, if it is not among the results because of many exact copies, the last one).
    own[~own.any(axis=1), -1] = True
    keep = ~own
    indices = indices[keep].reshape(n, -1)
    distances = distances[keep].reshape(n, -1).astype(np.float32)
    rounded = np.round(distances, 5)
    order = np.lexsort((indices, rounded), axis=1)
    indices = np.take_along_axis(indices, order, axis=1)[:, :n_neighbors]
    distances = np.take_along_axis(distances, order, axis=1)[:, :n_neighbors]
    return Neighbors(indices, distances)


def neighbor_graph(neighbors: Neighbors):
    """The symmetric sparse graph of the neighbours, with locally scaled Gaussian weights.

    An edge is kept when either end chose the other (w_ij = max(w_ij, w_ji)).
    """
    import scipy.sparse as sp

    n, k = neighbors.indices.shape
    scale = neighbors.distances[:, min(LOCAL_SCALE_NEIGHBOR, k) - 1].astype(np.float64)
    floor = max(float(np.median(scale)), 1e-12) * 1e-3  # copies at distance 0 still get a scale
    scale = np.maximum(scale, floor)
    d = neighbors.distances.astype(np.float64)
    weights = np.exp(-d ** 2 / (scale[:, None] * scale[neighbors.indices]))
    graph = sp.csr_matrix((weights.ravel(), neighbors.indices.ravel(), np.arange(0, n * k + 1, k)), shape=(n, n))
    return graph.maximum(graph.T).tocsr()
