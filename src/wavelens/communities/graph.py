"""The sparse similarity graph of a dataset: k nearest neighbours by cosine distance.

Each image is joined to its ``n_neighbors`` nearest images by cosine distance
d = 1 - cos(x, y) (exact search, chunked by scikit-learn, so memory grows with
n * n_neighbors and never n^2). Edges weigh w = exp(-d^2 / sigma) with sigma
the standard deviation of all neighbour distances, the authors' choice
exp(-d^2 / std(d)): the scale follows the data. The graph is made symmetric by
keeping an edge when either end chose it (w_ij = max(w_ij, w_ji)). An all-zero
image has cosine 0 with everything.
"""

import numpy as np

from .._parallel import for_each_chunk
from .._validation import WavelensError, param

__all__ = ["graph_from_lists", "knn_graph", "knn_lists", "unit_rows"]


_TIE_MARGIN = 8  # neighbours queried beyond n_neighbors, to break ties by image order


def unit_rows(features):
    """Rows scaled to unit length (zero rows stay zero), as float32, and their squared norms."""
    x = np.asarray(features, dtype=np.float32).reshape(len(features), -1)
    norms = np.linalg.norm(x, axis=1)
    scale = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    return x * scale[:, None], (norms > 0).astype(np.float32)


def knn_lists(features, *, n_neighbors=10, n_jobs=-1):
    """Each image's ``n_neighbors`` nearest other images by cosine distance, nearest first.

    Equal distances (duplicate images) are broken by image order, whatever the chunks.

    Parameters
    ----------
    features : ndarray of shape (n_images, n_features)
    n_neighbors : int, default=10
    n_jobs : int or None, default=-1
        Threads: -1 uses every core, -2 all but one, None one (as in scikit-learn).

    Returns
    -------
    cos_distance : ndarray of shape (n_images, n_neighbors)
        Cosine distances 1 - cos, in [0, 2], ascending along each row.
    neighbor : ndarray of shape (n_images, n_neighbors)
        The neighbours' rows.
    """
    from sklearn.neighbors import NearestNeighbors

    n = len(features)
    if n_neighbors >= n:
        raise WavelensError(
            f"{param('n_neighbors', n_neighbors)} needs more than {n_neighbors} images; the dataset has {n}."
        )
    x, squared = unit_rows(features)
    # A few neighbours more than needed, so that equal distances (duplicate images) are broken
    # by image order, not by how the queries were chunked.
    extra = min(_TIE_MARGIN, n - n_neighbors - 1)
    search = NearestNeighbors(n_neighbors=n_neighbors + 1 + extra, algorithm="brute", metric="euclidean",
                              n_jobs=1).fit(x)

    def query(start, stop):
        distance, neighbor = search.kneighbors(x[start:stop])
        order = np.lexsort((neighbor, distance), axis=1)[:, :n_neighbors + 1]
        return np.take_along_axis(distance, order, 1), np.take_along_axis(neighbor, order, 1)

    # Queries by chunks, on threads or Dask workers.
    distance, neighbor = (np.concatenate(parts) for parts in zip(*for_each_chunk(query, n, n_jobs=n_jobs)))
    rows = np.repeat(np.arange(n), n_neighbors + 1).reshape(n, -1)
    # Drop each image itself; where ties hid it, drop the farthest neighbour instead.
    is_self = neighbor == rows
    is_self[~is_self.any(axis=1), -1] = True
    keep = ~is_self
    cosine = 0.5 * (squared[rows[keep]] + squared[neighbor[keep]] - distance[keep] ** 2)
    cos_distance = np.clip(1.0 - cosine, 0.0, 2.0).reshape(n, n_neighbors)
    return cos_distance, neighbor[keep].reshape(n, n_neighbors)


def graph_from_lists(cos_distance, neighbor, *, n_neighbors=None, rows=None):
    """The symmetric Gaussian-weighted kNN graph of neighbour lists, or of a subset of the images.

    Parameters
    ----------
    cos_distance, neighbor : ndarray of shape (n_images, m)
        From :func:`knn_lists`.
    n_neighbors : int, default=None
        Neighbours kept per image (the first ones in ``rows``); None keeps all m.
    rows : ndarray of int, default=None
        Images of the subset, ascending; None takes them all. Within a subset an image's
        neighbours are its nearest among those of its list that are in the subset (fewer
        than ``n_neighbors`` when the list holds too few of them).

    Returns
    -------
    graph : scipy.sparse.csr_matrix of shape (len(rows), len(rows))
    sigma : float
    """
    import scipy.sparse as sp

    n_total, m = neighbor.shape
    n_neighbors = m if n_neighbors is None else n_neighbors
    if rows is None:
        rows = np.arange(n_total)
    position = np.full(n_total, -1, dtype=np.int64)
    position[rows] = np.arange(len(rows))
    column = position[neighbor[rows]]
    keep = column >= 0
    keep &= np.cumsum(keep, axis=1) <= n_neighbors
    distance = np.asarray(cos_distance[rows], dtype=np.float64)[keep]
    sigma = float(np.std(distance)) or 1.0
    weights = np.exp(-distance ** 2 / sigma)
    source = np.broadcast_to(np.arange(len(rows))[:, None], keep.shape)[keep]
    graph = sp.csr_matrix((weights, (source, column[keep])), shape=(len(rows), len(rows)))
    return graph.maximum(graph.T).tocsr(), sigma


def knn_graph(features, *, n_neighbors=10, n_jobs=-1):
    """Symmetric sparse kNN graph with Gaussian weights on cosine distances.

    Parameters
    ----------
    features : ndarray of shape (n_images, n_features)
    n_neighbors : int, default=10
    n_jobs : int or None, default=-1
        Threads: -1 uses every core, -2 all but one, None one (as in scikit-learn).

    Returns
    -------
    graph : scipy.sparse.csr_matrix of shape (n_images, n_images)
    sigma : float
        The weight scale, std of the neighbour distances.
    """
    return graph_from_lists(*knn_lists(features, n_neighbors=n_neighbors, n_jobs=n_jobs))
