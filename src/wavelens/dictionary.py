"""The pattern dictionary: every image's top rank-1 patterns clustered into prototypes.

Each image's top-k patterns u v^T (unit Frobenius norm) are vectors on the
unit sphere of the wavelet-matrix space, each defined only up to sign: u v^T
and (-u)(-v)^T are one pattern, and no sign rule is stable when two entries
nearly tie. So they are clustered with *axial* k-means, which matches x or -x,
whichever is nearer, to each centroid (for unit vectors: by |cosine|). Each
prototype is the mean shape of a family of patterns. The centroids are fitted
on a seeded random sample of 32 patterns per prototype (on Fashion-MNIST this
gives nearly the class association of a sample four times larger, at a
quarter of the cost); then every pattern is assigned to its nearest prototype,
chunk by chunk. Each image becomes a bag of prototypes, weighted by the energy
share of each pattern.

For large wavelet matrices the patterns are never written out as rows x cols
vectors. Every product the clustering needs is one of rank-1 matrices,
<u1 v1^T, u2 v2^T> = (u1 . u2)(v1 . v2), and every centroid is a signed mean of
sample patterns, sum_i w_i u_i v_i^T: so the k-means runs on the sample's Gram
matrix K = (U U^T) * (V V^T) and a pattern's products with the prototypes are
((u U^T) * (v V^T)) W, at a cost of (rows + cols) per sample pattern instead
of rows x cols per prototype (:class:`PrototypeFactors`). Both routes are the
same arithmetic, exactly; wavelens takes the cheaper one for the matrix size,
so small images (28x28) keep the dense route and its results. The prototypes
are written out as matrices only at the end, to be saved and drawn.
"""

import threading
from dataclasses import dataclass

import numpy as np

from ._parallel import DEFAULT_CHUNK_SIZE, for_each_chunk
from ._progress import stage
from ._validation import WavelensError, check_positive_int, param

__all__ = ["PrototypeFactors", "Prototypes", "assign_patterns", "axial_kmeans", "build_pattern_dictionary", "pattern_vectors"]

_SAMPLES_PER_PROTOTYPE = 32
_FACTORED_BLOCK = 512  # patterns whose products with the sample are taken at once
_BUFFERS = threading.local()


def _pattern_buffer(n_rows, width):
    """This thread's float32 buffer of at least ``n_rows`` x ``width``: fresh memory is slow to fill."""
    buffer = getattr(_BUFFERS, "patterns", None)
    if buffer is None or buffer.shape[0] < n_rows or buffer.shape[1] != width:
        buffer = _BUFFERS.patterns = np.empty((n_rows, width), np.float32)
    return buffer


@dataclass
class Prototypes:
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
    random_state : int
    factors : PrototypeFactors or None
        The prototypes as signed means of sample patterns, when they were fitted so
        (large wavelet matrices); :func:`assign_patterns` then uses them.
    """

    prototypes: np.ndarray
    assignments: np.ndarray
    weights: np.ndarray
    random_state: int
    factors: "PrototypeFactors | None" = None

    @property
    def n_patterns(self):
        return self.prototypes.shape[0]

    @property
    def top_k(self):
        return self.assignments.shape[1]


@dataclass(frozen=True)
class PrototypeFactors:
    """Prototypes as signed means of rank-1 sample patterns: prototype p = sum_i weights[i, p] u_i v_i^T.

    Attributes
    ----------
    u : ndarray of shape (n_sample, rows)
    v : ndarray of shape (n_sample, cols)
    weights : ndarray of shape (n_sample, n_patterns)
    """

    u: np.ndarray
    v: np.ndarray
    weights: np.ndarray

    def dots(self, u, v):
        """<u_j v_j^T, prototype p> for patterns (n, rows), (n, cols): an (n, n_patterns) array."""
        return ((u @ self.u.T) * (v @ self.v.T)) @ self.weights

    def squared_norms(self):
        gram = (self.u @ self.u.T) * (self.v @ self.v.T)
        return np.einsum("sp,sp->p", self.weights, gram @ self.weights)

    def matrices(self):
        """The prototypes as (n_patterns, rows, cols) float32 matrices: U^T diag(w_p) V, member by member."""
        out = np.zeros((self.weights.shape[1], self.u.shape[1], self.v.shape[1]), dtype=np.float32)
        for p in range(len(out)):
            members = np.flatnonzero(self.weights[:, p])
            out[p] = (self.u[members].T * self.weights[members, p]) @ self.v[members]
        return out


def _factored_is_cheaper(n_sample, rows, cols, n_patterns):
    """Whether a pattern's products with the prototypes cost less through the sample's factors
    (n_sample (rows + cols + n_patterns)) than against written-out prototypes (n_patterns rows cols)."""
    return n_sample * (rows + cols + n_patterns) < n_patterns * rows * cols


def pattern_vectors(u, v, out=None):
    """vec(u v^T) of rank-1 patterns: (n, rows) and (n, cols) -> (n, rows * cols) float32.

    ``out``, if given, is a float32 buffer of at least that many rows to fill.
    """
    n, rows, cols = len(u), u.shape[1], v.shape[1]
    if out is None:
        out = np.empty((n, rows * cols), dtype=np.float32)
    result = out[:n]
    np.multiply(u[:, :, None], v[:, None, :], out=result.reshape(n, rows, cols), casting="same_kind")
    return result


def _nearest(vectors, centers):
    """Nearest center of each vector up to sign, and the sign that brings it there."""
    return _nearest_by_dots(vectors @ centers.T, (centers ** 2).sum(axis=1))


def _nearest_by_dots(dots, squared_norms):
    """The same from the products x.c and the centers' squared norms:
    min over s in {-1, 1} of ||s x - c||^2 = ||x||^2 + ||c||^2 - 2 |x.c|."""
    nearest = (np.abs(dots) - 0.5 * squared_norms).argmax(axis=1)
    signs = np.sign(dots[np.arange(len(dots)), nearest])
    return nearest, np.where(signs == 0, 1, signs).astype(dots.dtype)


def _axial_kmeans_plusplus(vectors, n_clusters, rng):
    """Greedy k-means++ seeding under the axial distance min(||x - c||, ||x + c||)^2.

    As scikit-learn's ``kmeans_plusplus`` (2 + log k candidates per center,
    keeping the one that lowers the potential most), with the sign-invariant
    distance the clustering uses.
    """
    squared = (vectors ** 2).sum(axis=1)

    def distances(indices):
        d = squared[:, None] + squared[indices] - 2 * np.abs(vectors @ vectors[indices].T)
        return np.maximum(d, 0)

    chosen = [int(rng.integers(len(vectors)))]
    closest = distances(chosen)[:, 0]
    n_trials = 2 + int(np.log(n_clusters))
    for _ in range(1, n_clusters):
        total = closest.sum()
        if total <= 0:  # fewer distinct patterns than clusters: any choice will do
            candidates = rng.choice(len(vectors), size=n_trials)
        else:
            candidates = rng.choice(len(vectors), size=n_trials, p=closest / total)
        trial = np.minimum(closest[:, None], distances(candidates))
        best = int(trial.sum(axis=0).argmin())
        chosen.append(int(candidates[best]))
        closest = trial[:, best]
    return vectors[chosen].copy()


def axial_kmeans(vectors, n_clusters, *, random_state=0, max_iter=100, tol=1e-6):
    """k-means for vectors defined up to sign (x and -x are the same pattern).

    Lloyd's iterations on min_s ||s x - c||^2, from a k-means++ seeding under
    the same distance. An empty cluster is re-seeded with the vector farthest
    from its center.

    Returns
    -------
    ndarray of shape (n_clusters, n_features)
    """
    centers = _axial_kmeans_plusplus(vectors, n_clusters, np.random.default_rng(random_state))
    scale = float((vectors ** 2).sum(axis=1).mean())
    for _ in range(max_iter):
        nearest, signs = _nearest(vectors, centers)
        counts = np.bincount(nearest, minlength=n_clusters)
        filled = counts > 0
        # Each center is the mean of its members, each turned by its sign: sums by cluster.
        order = np.argsort(nearest, kind="stable")
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])[filled]
        updated = np.zeros_like(centers)
        updated[filled] = np.add.reduceat(vectors[order] * signs[order, None], starts, axis=0)
        updated[filled] /= counts[filled, None]
        if not filled.all():
            distance = ((signs[:, None] * vectors - updated[nearest]) ** 2).sum(axis=1)
            updated[~filled] = vectors[np.argsort(-distance, kind="stable")[:(~filled).sum()]]
        shift = float(((updated - centers) ** 2).sum())
        centers = updated
        if shift <= tol * scale:
            break
    return centers


def _kernel_axial_kmeans(gram, n_clusters, *, random_state=0, max_iter=100, tol=1e-6):
    """:func:`axial_kmeans` of vectors given by their Gram matrix alone.

    Each center is a weighted sum of the vectors, a column of W; its products with the
    vectors are ``gram @ W``, its squared norm ``diag(W^T gram W)``. Returns W.
    """
    n = len(gram)
    squared = np.diag(gram).copy()
    rng = np.random.default_rng(random_state)

    def distances(indices):
        return np.maximum(squared[:, None] + squared[indices] - 2 * np.abs(gram[:, indices]), 0)

    # k-means++ seeding, drawn exactly as _axial_kmeans_plusplus draws it
    chosen = [int(rng.integers(n))]
    closest = distances(chosen)[:, 0]
    n_trials = 2 + int(np.log(n_clusters))
    for _ in range(1, n_clusters):
        total = closest.sum()
        if total <= 0:
            candidates = rng.choice(n, size=n_trials)
        else:
            candidates = rng.choice(n, size=n_trials, p=closest / total)
        trial = np.minimum(closest[:, None], distances(candidates))
        best = int(trial.sum(axis=0).argmin())
        chosen.append(int(candidates[best]))
        closest = trial[:, best]
    weights = np.zeros((n, n_clusters))
    weights[chosen, np.arange(n_clusters)] = 1.0
    scale = float(squared.mean())
    for _ in range(max_iter):
        products = gram @ weights
        nearest, signs = _nearest_by_dots(products, np.einsum("sp,sp->p", weights, products))
        counts = np.bincount(nearest, minlength=n_clusters)
        filled = counts > 0
        updated = np.zeros_like(weights)
        updated[np.arange(n), nearest] = signs / np.maximum(counts[nearest], 1)
        if not filled.all():
            new_products = gram @ updated
            norms = np.einsum("sp,sp->p", updated, new_products)
            distance = squared - 2 * signs * new_products[np.arange(n), nearest] + norms[nearest]
            farthest = np.argsort(-distance, kind="stable")[:(~filled).sum()]
            updated[:, ~filled] = 0
            updated[farthest, np.flatnonzero(~filled)] = 1.0
        change = updated - weights
        shift = float(np.einsum("sp,sp->", change, gram @ change))
        weights = updated
        if shift <= tol * scale:
            break
    return weights


def build_pattern_dictionary(patterns, *, n_patterns=100, random_state=0, chunk_size=DEFAULT_CHUNK_SIZE,
                             n_jobs=-1, factored=None):
    """Cluster every image's top rank-1 patterns into ``n_patterns`` prototypes.

    Parameters
    ----------
    patterns : ImagePatterns
        From :func:`wavelens.image_patterns` with ``top_k >= 1``.
    n_patterns : int, default=100
        Number of prototypes P.
    random_state : int, default=0
        Seeds the sample and the k-means initialization.
    chunk_size : int, default=2048
    n_jobs : int or None, default=-1
        Threads: -1 uses every core, -2 all but one, None one (as in scikit-learn).
    factored : bool, default=None
        Cluster through the patterns' factors (True) or written-out patterns (False);
        None takes the cheaper for the wavelet-matrix size. The two are the same arithmetic.

    Returns
    -------
    Prototypes
    """
    n_patterns = check_positive_int(n_patterns, "n_patterns")
    if not patterns.top_k:
        raise WavelensError("The image patterns hold no top patterns; compute them with top_k >= 1.")
    n_images, top_k = patterns.top_energy.shape
    present = np.flatnonzero(patterns.top_energy.ravel() > 0)
    if not len(present):
        raise WavelensError(f"The {n_images} images give no rank-1 pattern (every pixel is 0); use other images.")
    if len(present) < n_patterns:
        raise WavelensError(
            f"{n_images} images give {len(present)} rank-1 patterns, fewer than the {n_patterns} "
            f"prototypes asked for; use {param('n_patterns', len(present))} or fewer, or more images."
        )
    rng = np.random.default_rng(random_state)
    sample_size = min(len(present), _SAMPLES_PER_PROTOTYPE * n_patterns)
    sample = np.sort(rng.choice(present, size=sample_size, replace=False))
    flat_u = patterns.top_u.reshape(n_images * top_k, -1)
    flat_v = patterns.top_v.reshape(n_images * top_k, -1)
    rows, cols = flat_u.shape[1], flat_v.shape[1]
    if factored is None:
        factored = _factored_is_cheaper(sample_size, rows, cols, n_patterns)
    factors = None
    with stage("pattern dictionary (axial k-means)", total=None, unit="fits"):
        if factored:
            u, v = flat_u[sample].astype(np.float64), flat_v[sample].astype(np.float64)
            weights = _kernel_axial_kmeans((u @ u.T) * (v @ v.T), n_patterns, random_state=random_state)
            factors = PrototypeFactors(u, v, weights)
            centers = factors.matrices().reshape(n_patterns, -1)
        else:
            centers = axial_kmeans(pattern_vectors(flat_u[sample], flat_v[sample]), n_patterns,
                                   random_state=random_state)
    # Show each prototype with the canonical sign of the patterns: largest entry positive.
    sign = np.sign(centers[np.arange(n_patterns), np.abs(centers).argmax(axis=1)])
    sign = np.where(sign == 0, 1, sign)
    centers = (centers * sign[:, None]).astype(np.float32)
    if factors is not None:
        factors = PrototypeFactors(factors.u, factors.v, factors.weights * sign)
    prototypes = centers.reshape(n_patterns, rows, cols)
    assignments, weights = assign_patterns(patterns, prototypes, factors=factors, chunk_size=chunk_size,
                                           n_jobs=n_jobs)
    return Prototypes(prototypes=prototypes, assignments=assignments, weights=weights, random_state=random_state,
                      factors=factors)


def assign_patterns(patterns, prototypes, *, factors=None, chunk_size=DEFAULT_CHUNK_SIZE, n_jobs=-1):
    """Each image's top patterns assigned to the nearest prototype (up to sign), and their weights.

    How :func:`build_pattern_dictionary` assigns every pattern once the
    prototypes are fitted; given the prototypes of one set of images, it
    assigns the patterns of others (e.g. test images to a training dictionary).

    Parameters
    ----------
    patterns : ImagePatterns
        With ``top_k >= 1``, of images with the prototypes' wavelet-matrix shape.
    prototypes : ndarray of shape (n_patterns, rows, cols)
        From :attr:`Prototypes.prototypes`.
    factors : PrototypeFactors, default=None
        From :attr:`Prototypes.factors`: the same prototypes, through which the products
        are computed without writing out the patterns (large wavelet matrices).
    chunk_size : int, default=2048
        Images whose patterns are assigned at once.
    n_jobs : int or None, default=-1
        Threads: -1 uses every core, -2 all but one, None one (as in scikit-learn).

    Returns
    -------
    assignments : ndarray of int32 of shape (n_images, top_k)
        Prototype id of each top pattern; -1 where an image has no such pattern.
    weights : ndarray of shape (n_images, top_k)
        Each pattern's share of its image's energy, s^2 / ||C||^2.

    Examples
    --------
    >>> import numpy as np
    >>> from wavelens import decompose_images
    >>> images = np.random.default_rng(0).random((40, 8, 8)).astype(np.float32)
    >>> patterns, _ = decompose_images(images, top_k=2)
    >>> fitted = build_pattern_dictionary(patterns, n_patterns=3)
    >>> assignments, weights = assign_patterns(patterns, fitted.prototypes)
    >>> bool((assignments == fitted.assignments).all()), assignments.shape
    (True, (40, 2))
    """
    if not patterns.top_k:
        raise WavelensError("The image patterns hold no top patterns; compute them with top_k >= 1.")
    n_images, top_k = patterns.top_energy.shape
    prototypes = np.asarray(prototypes, dtype=np.float32)
    flat_u = patterns.top_u.reshape(n_images * top_k, -1)
    flat_v = patterns.top_v.reshape(n_images * top_k, -1)
    if prototypes.ndim != 3 or prototypes.shape[1:] != (flat_u.shape[1], flat_v.shape[1]):
        raise WavelensError(
            f"The prototypes have shape {prototypes.shape[1:]}, the image patterns "
            f"{(flat_u.shape[1], flat_v.shape[1])}: patterns and prototypes must come from images of one "
            "shape, with the same wavelet, level and mode."
        )
    centers = prototypes.reshape(len(prototypes), -1)
    present = np.flatnonzero(patterns.top_energy.ravel() > 0)
    assignments = np.full(n_images * top_k, -1, dtype=np.int32)

    if factors is not None:
        norms = factors.squared_norms()

    def assign(start, stop):
        """The nearest prototype of each present pattern among start:stop, and which they are."""
        rows = present[np.searchsorted(present, start):np.searchsorted(present, stop)]
        if factors is not None:  # in blocks: the products with the sample take (rows, n_sample) each
            nearest = [_nearest_by_dots(factors.dots(flat_u[block].astype(np.float64),
                                                     flat_v[block].astype(np.float64)), norms)[0]
                       for block in np.array_split(rows, max(1, -(-len(rows) // _FACTORED_BLOCK)))]
            return rows, np.concatenate(nearest) if nearest else np.zeros(0, np.int32)
        buffer = _pattern_buffer(stop - start, flat_u.shape[1] * flat_v.shape[1])
        return rows, _nearest(pattern_vectors(flat_u[rows], flat_v[rows], buffer), centers)[0]

    def store(start, stop, found):
        rows, nearest = found
        assignments[rows] = nearest

    with stage("assigning patterns", total=n_images * top_k, unit="patterns") as bar:
        for_each_chunk(assign, n_images * top_k, chunk_size=chunk_size * top_k, n_jobs=n_jobs,
                       progress=bar.update, store=store)
    total = patterns.total_energy
    with np.errstate(divide="ignore", invalid="ignore"):
        weights = np.where(total[:, None] > 0, patterns.top_energy / total[:, None], 0.0)
    return assignments.reshape(n_images, top_k), weights
