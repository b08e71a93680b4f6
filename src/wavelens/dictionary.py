"""The pattern dictionary: every image's top rank-1 patterns clustered into prototypes.

Each image's top-k patterns u v^T (unit Frobenius norm, canonical sign) are
vectors on the unit sphere of the wavelet-matrix space. k-means on unit
vectors groups them by cosine similarity (||x - c||^2 = 2 - 2 x.c for unit x
and c near the sphere), so each prototype is the mean shape of a family of
patterns. The centroids are fitted with scikit-learn's ``KMeans`` (k-means++,
one seeded initialization) on a seeded random sample of the patterns, which
with 64 patterns per prototype locates them about as well as all of them do
at a fraction of the cost; then every pattern is assigned to its nearest
prototype, chunk by chunk. Each image becomes a bag of prototypes, weighted by
the energy share of each pattern.
"""

from dataclasses import dataclass

import numpy as np

from ._chunks import DEFAULT_CHUNK_SIZE, for_each_chunk
from ._validation import WavelensError, check_positive_int

__all__ = ["PatternDictionary", "build_pattern_dictionary", "pattern_vectors"]

_SAMPLES_PER_PROTOTYPE = 64


@dataclass
class PatternDictionary:
    """Prototypes of the image patterns and each image's bag of prototypes.

    Attributes
    ----------
    prototypes : ndarray of shape (n_patterns, rows, cols)
        The k-means centroids, in the wavelet-matrix space.
    assignments : ndarray of shape (n_images, top_k)
        Prototype id of each image's top patterns (-1 where an image has no
        such pattern, e.g. a blank image).
    weights : ndarray of shape (n_images, top_k)
        Each pattern's share of its image's energy, s^2 / ||C||^2.
    seed : int
    """

    prototypes: np.ndarray
    assignments: np.ndarray
    weights: np.ndarray
    seed: int

    @property
    def n_patterns(self):
        return self.prototypes.shape[0]

    @property
    def top_k(self):
        return self.assignments.shape[1]


def pattern_vectors(u, v):
    """vec(u v^T) of rank-1 patterns: (n, rows) and (n, cols) -> (n, rows * cols) float32."""
    return (u[:, :, None] * v[:, None, :]).reshape(len(u), -1).astype(np.float32, copy=False)


def build_pattern_dictionary(patterns, *, n_patterns=100, seed=0, chunk_size=DEFAULT_CHUNK_SIZE,
                             n_jobs=None):
    """Cluster every image's top rank-1 patterns into ``n_patterns`` prototypes.

    Parameters
    ----------
    patterns : ImagePatterns
        From :func:`wavelens.image_patterns` with ``top_k >= 1``.
    n_patterns : int, default=100
        Number of prototypes P.
    seed : int, default=0
        Seeds the sample and the k-means initialization.

    Returns
    -------
    PatternDictionary
    """
    from sklearn.cluster import KMeans

    n_patterns = check_positive_int(n_patterns, "n_patterns")
    if not patterns.top_k:
        raise WavelensError("The image patterns hold no top patterns; compute them with top_k >= 1.")
    n_images, top_k = patterns.top_energy.shape
    present = np.flatnonzero(patterns.top_energy.ravel() > 0)
    if len(present) < n_patterns:
        raise WavelensError(
            f"{n_images} images give {len(present)} rank-1 patterns, fewer than the {n_patterns} "
            "prototypes asked for; use a smaller --patterns or more images."
        )
    rng = np.random.default_rng(seed)
    sample_size = min(len(present), _SAMPLES_PER_PROTOTYPE * n_patterns)
    sample = np.sort(rng.choice(present, size=sample_size, replace=False))
    flat_u = patterns.top_u.reshape(n_images * top_k, -1)
    flat_v = patterns.top_v.reshape(n_images * top_k, -1)
    kmeans = KMeans(n_clusters=n_patterns, n_init=1, random_state=seed)
    kmeans.fit(pattern_vectors(flat_u[sample], flat_v[sample]))
    centers = kmeans.cluster_centers_.astype(np.float32)
    half_norms = 0.5 * (centers ** 2).sum(axis=1)

    assignments = np.full(n_images * top_k, -1, dtype=np.int32)

    def assign(start, stop):
        rows = present[np.searchsorted(present, start):np.searchsorted(present, stop)]
        scores = pattern_vectors(flat_u[rows], flat_v[rows]) @ centers.T - half_norms
        assignments[rows] = scores.argmax(axis=1)

    for_each_chunk(assign, n_images * top_k, chunk_size=chunk_size * top_k, n_jobs=n_jobs)
    total = patterns.total_energy
    with np.errstate(divide="ignore", invalid="ignore"):
        weights = np.where(total[:, None] > 0, patterns.top_energy / total[:, None], 0.0)
    rows, cols = patterns.top_u.shape[2], patterns.top_v.shape[2]
    return PatternDictionary(
        prototypes=centers.reshape(n_patterns, rows, cols),
        assignments=assignments.reshape(n_images, top_k),
        weights=weights,
        seed=seed,
    )
