"""Spectral communities: Laplacian eigenvalues, the eigengap, spectral clustering.

On the similarity graph W with degrees D, the normalized Laplacian
L = I - D^-1/2 W D^-1/2 has eigenvalues 0 = l_1 <= l_2 <= ... ; a graph of k
well-separated communities has k eigenvalues near 0 and then a jump. The
eigengap estimate of the number of communities is the k (2 <= k <=
max_communities) with the largest gap l_{k+1} - l_k. The images are then
clustered by k-means on the first k eigenvectors of the random-walk Laplacian
D^-1 L (Shi & Malik), i.e. D^-1/2 times those of L. The eigenvalues come from
ARPACK (``scipy.sparse.linalg.eigsh``) as the largest of D^-1/2 W D^-1/2, so
the graph stays sparse throughout.
"""

from dataclasses import dataclass

import numpy as np

from .._parallel import thread_limits
from .._validation import WavelensError, param

__all__ = ["Communities", "check_community_count", "describe_communities", "eigengap", "kmeans_labels",
           "laplacian_spectrum", "spectral_communities"]


@dataclass
class Communities:
    """Spectral clustering of one graph.

    Attributes
    ----------
    eigenvalues : ndarray
        Smallest eigenvalues of the normalized Laplacian, ascending.
    eigengap_k : int
        The eigengap estimate of the number of communities.
    labels : ndarray of shape (n_images,)
        Community of each image, 0..n_communities-1.
    distance : ndarray of shape (n_images,)
        Each image's distance to its community's center in the spectral embedding.
    """

    eigenvalues: np.ndarray
    eigengap_k: int
    labels: np.ndarray
    distance: np.ndarray

    @property
    def n_communities(self):
        return int(self.labels.max()) + 1


_DENSE_LIMIT = 500


def _component_spectrum(normalized, k, rng):
    """Largest k eigenpairs of one connected component's normalized adjacency."""
    from scipy.sparse.linalg import eigsh

    from scipy.linalg import eigh

    n = normalized.shape[0]
    if n <= _DENSE_LIMIT or k >= n // 5:
        # Only the k largest eigenpairs (LAPACK's ?syevr): all n of them took seconds at n = 2,000.
        values, vectors = eigh(normalized.toarray(), subset_by_index=[n - k, n - 1])
        return values[::-1], vectors[:, ::-1]
    start = rng.uniform(0.5, 1.5, size=n)
    values, vectors = eigsh(normalized, k=k, which="LA", v0=start, tol=1e-8)
    order = np.argsort(-values, kind="stable")
    return values[order], vectors[:, order]


def laplacian_spectrum(graph, n_eigenvalues, *, random_state=0):
    """Smallest eigenvalues of the normalized Laplacian and their random-walk eigenvectors.

    Each connected component is solved on its own (its eigenvalues are the
    graph's, and a component of its own is a community): Lanczos finds one copy
    of a repeated eigenvalue, and every component adds an eigenvalue 0.

    Returns
    -------
    eigenvalues : ndarray of shape (n_eigenvalues,)
        Ascending.
    vectors : ndarray of shape (n_images, n_eigenvalues)
        Eigenvectors of the random-walk Laplacian D^-1 L, in the same order.
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    n = graph.shape[0]
    degree = np.asarray(graph.sum(axis=1)).ravel()
    inv_sqrt = np.divide(1.0, np.sqrt(degree), out=np.zeros_like(degree), where=degree > 0)
    scaling = sp.diags(inv_sqrt)
    normalized = (scaling @ graph @ scaling).tocsr()
    k = min(n_eigenvalues, n - 1)
    n_components, component = connected_components(graph, directed=False)
    rng = np.random.default_rng(random_state)
    values, columns = [], []
    for c in range(n_components):
        members = np.flatnonzero(component == c)
        part_values, part_vectors = _component_spectrum(normalized[members][:, members],
                                                        min(k, len(members)), rng)
        for value, vector in zip(part_values, part_vectors.T):
            values.append(value)
            columns.append((members, vector))
    order = np.argsort(-np.asarray(values), kind="stable")[:k]
    vectors = np.zeros((n, len(order)))
    for j, i in enumerate(order):
        members, vector = columns[i]
        vectors[members, j] = vector
    eigenvalues = np.clip(1.0 - np.asarray(values)[order], 0.0, 2.0)
    return eigenvalues, vectors * inv_sqrt[:, None]


def eigengap(eigenvalues, max_communities):
    """The k in [2, max_communities] with the largest gap eigenvalues[k] - eigenvalues[k - 1]."""
    gaps = np.diff(np.asarray(eigenvalues)[:max_communities + 1])
    if len(gaps) < 2:
        return 2
    return int(np.argmax(gaps[1:]) + 2)


def check_community_count(n, n_communities):
    """Raise a one-line WavelensError when ``n`` images are too few for ``n_communities`` (None: 2)."""
    if n < 3 or (n_communities or 2) > n - 1:
        fewer = f"use {param('n_communities', n - 1)} or fewer, or " if n_communities and n > 2 else "use "
        raise WavelensError(f"{n} images are too few for {n_communities or 2} communities; {fewer}more images.")


def spectral_communities(graph, *, n_communities=None, max_communities=30, random_state=0):
    """Find communities in a similarity graph.

    Parameters
    ----------
    graph : scipy.sparse matrix of shape (n_images, n_images)
    n_communities : int, default=None
        How many; None takes the eigengap estimate.
    max_communities : int, default=30
        Largest number of communities the eigengap may choose.
    random_state : int, default=0

    Returns
    -------
    Communities
    """
    n = graph.shape[0]
    wanted = max(max_communities, n_communities or 0)
    check_community_count(n, n_communities)
    eigenvalues, vectors = laplacian_spectrum(graph, wanted + 1, random_state=random_state)
    gap_k = eigengap(eigenvalues, min(max_communities, len(eigenvalues) - 1))
    k = n_communities or gap_k
    labels, distance = kmeans_labels(vectors[:, :k], k, random_state)
    return Communities(eigenvalues, gap_k, labels, distance)


def kmeans_labels(embedding, k, random_state=0):
    """k-means (10 seeded starts) of a spectral embedding: each row's cluster and distance to its center.

    On one OpenMP thread: the embeddings are small (n x k), and scikit-learn's threads spent
    more time waiting than working on them (66 ms a fit of 300 rows on a busy 2-core machine).
    """
    from sklearn.cluster import KMeans

    with thread_limits(1, "openmp"):
        kmeans = KMeans(n_clusters=k, n_init=10, random_state=random_state).fit(embedding)
    distance = np.linalg.norm(embedding - kmeans.cluster_centers_[kmeans.labels_], axis=1)
    return kmeans.labels_.astype(np.int64), distance


def describe_communities(communities, labels, class_names, *, mixed_threshold=0.5, n_examples=5,
                         index=None):
    """Each community's size, class make-up, purity and most central members.

    A community is *mixed* when no class holds more than ``mixed_threshold``
    of it. ``index`` maps rows to the images' indices in their split.

    Returns
    -------
    list of dict
    """
    index = np.arange(len(labels)) if index is None else np.asarray(index)
    described = []
    for c in range(communities.n_communities):
        members = np.flatnonzero(communities.labels == c)
        counts = np.bincount(labels[members], minlength=len(class_names))
        top = int(counts.argmax())
        purity = float(counts[top] / max(len(members), 1))
        central = members[np.argsort(communities.distance[members], kind="stable")[:n_examples]]
        described.append({
            "community": c,
            "size": int(len(members)),
            "top_class": class_names[top],
            "purity": purity,
            "mixed": purity <= mixed_threshold,
            "classes": {class_names[i]: int(n) for i, n in enumerate(counts) if n},
            "central_members": [int(i) for i in index[central]],
        })
    return described
