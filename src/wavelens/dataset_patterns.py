"""Dataset patterns: the SVD of the dataset wavelet matrix W (images x coefficients).

W = sum_k s_k a_k b_k^T, so image i = sum_k s_k a_k(i) b_k: every image is a
mix of the same dataset patterns b_k. For up to 4,096 coefficients per image
the full spectrum comes from the Gram matrix W^T W, accumulated chunk by chunk
in float64 (memory of one coefficients x coefficients matrix, whatever the
number of images), and where the spectrum reaches below what the Gram matrix
resolves, its smallest values from W projected on their subspace; for larger images only the top patterns are
computed, with a randomized SVD that streams over blocks of images, so memory
does not grow with the number of coefficients squared nor hold W whole.
"""

import threading
from dataclasses import dataclass

import numpy as np

from ._mapped import output_array
from ._parallel import (DEFAULT_CHUNK_SIZE, chunk_bounds, dask_client, for_each_chunk, into_rows, resolve_n_jobs,
                        rows_per_chunk)
from ._validation import check_energy, check_positive_int
from .decomposition import as_float, rank_at_energy, rank_tolerance
from .transform import _forward, wavelet_transform

__all__ = [
    "DatasetPatterns",
    "PixelGram",
    "find_dataset_patterns",
    "dataset_spectra",
    "gram_matrix",
    "numerical_rank",
    "numerical_rank_of_rows",
    "on_gram_route",
    "pattern_shares",
    "singular_spectrum",
    "transform_matrix",
]

GRAM_LIMIT = 4096
_BLOCK_BYTES = 64 * 2 ** 20  # a block of the dataset matrix, in float64, on the randomized route
_BLOCKS_PER_GROUP = 4  # blocks multiplied at once in W^T Y (fixed, whatever the threads)


@dataclass
class DatasetPatterns:
    """The top patterns of a dataset matrix and each image's share of them.

    Attributes
    ----------
    singular_values : ndarray
        All singular values of W (the top ``n_patterns`` only above
        ``GRAM_LIMIT`` coefficients), largest first.
    components : ndarray of shape (n_patterns, n_coefficients)
        The dataset patterns b_k (unit norm, sign made canonical: largest
        entry positive).
    shares : ndarray of shape (n_images, n_patterns)
        Image i's share of pattern k, (s_k a_k(i))^2 / ||w_i||^2.
    dominant : ndarray of shape (n_images,)
        Each image's pattern with the largest share (-1 for a zero row).
    numerical_rank : int or None
        Numerical rank of W, with ``numpy.linalg.matrix_rank``'s tolerance for
        float64 (None when only the top patterns were computed).
    numerical_rank_pixel : int or None
        The same for the pixel matrix.
    n_patterns_at_energy : int or None
        Fewest patterns holding fraction ``energy`` of W's energy.
    mean : ndarray of shape (n_coefficients,) or None
        The row mean removed when centered.
    """

    singular_values: np.ndarray
    components: np.ndarray
    shares: np.ndarray
    dominant: np.ndarray
    numerical_rank: object
    numerical_rank_pixel: object
    n_patterns_at_energy: object
    mean: object


def _rows(matrix, start, stop, mean, pixel_max=None, out=None):
    """Rows start:stop as float64 (integer pixels divided by ``pixel_max``, less ``mean``),
    in ``out`` if given."""
    rows = np.asarray(matrix[start:stop]).reshape(stop - start, -1)
    block = rows.astype(np.float64) if out is None else out
    if out is not None:
        np.copyto(block, rows, casting="unsafe")
    if pixel_max:
        block /= pixel_max
    if mean is not None:
        block -= mean
    return block


def on_gram_route(layout):
    """Whether :func:`dataset_patterns` takes the whole spectrum from Gram matrices for this layout."""
    n_columns = int(np.prod(layout.matrix_shape)) * layout.n_channels
    return n_columns <= GRAM_LIMIT and int(np.prod(layout.image_shape)) <= GRAM_LIMIT


class PixelGram:
    """The exact Gram matrix X^T X of integer pixels, added chunk by chunk from any thread.

    Rows of integer pixels up to ``pixel_max`` (at most 4095) are multiplied in
    float32 over blocks of rows small enough that every partial sum is an
    integer below 2^24, and the blocks are summed in float64: every sum is an
    integer, exact, so the total is the same whichever thread added which
    chunk. Each thread adds into its own matrix; :meth:`total` sums them and
    divides by ``pixel_max ** 2`` (the Gram matrix of ``X / pixel_max``).

    Parameters
    ----------
    n_columns : int
        Pixels per image.
    pixel_max : int
        The largest possible pixel value (255 for 8-bit pixels).
    """

    @staticmethod
    def handles(pixel_max):
        """Whether pixels up to ``pixel_max`` are integers this class sums exactly (1 to 4095)."""
        return bool(pixel_max) and 0 < int(pixel_max) < 4096

    def __init__(self, n_columns, pixel_max):
        if not self.handles(pixel_max):
            raise ValueError(f"PixelGram needs integer pixels of at most 4095 levels, not pixel_max={pixel_max}.")
        self.n_columns, self.pixel_max = int(n_columns), int(pixel_max)
        self.block_rows = 2 ** 24 // self.pixel_max ** 2  # 258 for 8-bit pixels
        self._local = threading.local()
        self._parts = []
        self._lock = threading.Lock()

    def add(self, rows):
        """Add the rows (an array of n x ``n_columns`` pixels, any leading shape) to the sum."""
        local = self._local
        if getattr(local, "gram", None) is None:
            local.gram, local.buffer = np.zeros((self.n_columns, self.n_columns)), None
            with self._lock:
                self._parts.append(local.gram)
        rows = np.asarray(rows).reshape(len(rows), -1)
        if local.buffer is None or len(local.buffer) < len(rows):
            local.buffer = np.empty((len(rows), self.n_columns), np.float32)
        block = local.buffer[:len(rows)]
        np.copyto(block, rows, casting="unsafe")
        for first in range(0, len(rows), self.block_rows):
            part = block[first:first + self.block_rows]
            local.gram += part.T @ part  # NumPy computes a.T @ a as a symmetric rank-k update

    def integer_sum(self):
        """X^T X of the integer pixels over every row added so far, in float64 (exact)."""
        gram = np.zeros((self.n_columns, self.n_columns))
        for part in self._parts:
            gram += part
        return gram

    def total(self):
        """X^T X of ``X / pixel_max`` over every row added so far, in float64."""
        return self.integer_sum() / self.pixel_max ** 2


def gram_matrix(rows, *, mean=None, pixel_max=None, chunk_size=DEFAULT_CHUNK_SIZE):
    """W^T W of a matrix given as rows (less ``mean``), accumulated in float64 chunk by chunk.

    Rows of integer pixels (``pixel_max`` given) stand for ``rows / pixel_max``.
    Uncentered, up to 4095 levels, their Gram matrix is exact (:class:`PixelGram`),
    and twice as fast as in float64.
    """
    n_columns = int(np.prod(rows.shape[1:]))
    exact = mean is None and PixelGram.handles(pixel_max)
    gram = np.zeros((n_columns, n_columns))

    def chunk_gram(start, stop, rows):
        if exact:
            part = PixelGram(n_columns, pixel_max)
            part.add(rows[start:stop])
            return part.integer_sum()  # exact, added in any order
        block = _rows(rows, start, stop, mean, pixel_max)
        return block.T @ block

    def add(start, stop, part):
        np.add(gram, part, out=gram)

    # One chunk after the other: the float sums are added in chunk order (also on Dask).
    for_each_chunk(chunk_gram, len(rows), chunk_size=chunk_size, n_jobs=1, store=add, shared=(rows,))
    return gram / pixel_max ** 2 if exact else gram


# Singular values below this fraction of the largest are not resolved by the
# Gram matrix (its eigenvalues carry errors of about eps * s_max^2).
_GRAM_RESOLUTION = 1e-6
# Below this fraction of the largest, singular values are recomputed by QR once any is unresolved.
_DEFLATE = 1e-3
_QR_CHUNK = 8192


def _r_factor(rows, mean, chunk_size, pixel_max=None, directions=None):
    """R of (W V) = QR, by chunks: QR of [R so far; next rows] (a tall-skinny QR). W is ``rows``
    less ``mean``; V is ``directions`` (None: the identity, R of W itself)."""
    r = None
    for start, stop in chunk_bounds(len(rows), chunk_size):
        block = _rows(rows, start, stop, mean, pixel_max)
        if directions is not None:
            block = block @ directions
        r = np.linalg.qr(block if r is None else np.vstack([r, block]), mode="r")
    return r


class _Products:
    """Products of the dataset matrix W (``rows`` less ``mean``, or that times ``transform``) with
    blocks of vectors, by chunks of rows: what :func:`_spectrum` needs beyond the Gram matrix."""

    def __init__(self, rows, mean, pixel_max=None, transform=None):
        self.rows, self.mean, self.pixel_max, self.transform = rows, mean, pixel_max, transform

    def _blocks(self):
        for start, stop in chunk_bounds(len(self.rows), _QR_CHUNK):
            yield start, stop, _rows(self.rows, start, stop, self.mean, self.pixel_max)

    def _in_rows(self, directions):
        return directions if self.transform is None else self.transform @ directions

    def times(self, directions):
        """W V."""
        directions = self._in_rows(directions)
        out = np.empty((len(self.rows), directions.shape[1]))
        for start, stop, block in self._blocks():
            out[start:stop] = block @ directions
        return out

    def transposed_times(self, vectors):
        """W^T Y."""
        total = sum(block.T @ vectors[start:stop] for start, stop, block in self._blocks())
        return total if self.transform is None else self.transform.T @ total

    def r_factor(self, directions):
        """R of the QR of W V, by a tall-skinny QR over chunks of rows."""
        return _r_factor(self.rows, self.mean, _QR_CHUNK, self.pixel_max, directions=self._in_rows(directions))


def _norm_estimate(products, directions, random_state=0, n_probes=4, n_steps=6):
    """An estimate of ||W V||_2 (from below, within a few percent) by power iteration on W V."""
    probe = np.random.default_rng(random_state).standard_normal((directions.shape[1], n_probes))
    estimate = 0.0
    for _ in range(n_steps):
        probe = np.linalg.qr(probe)[0]
        image = products.times(directions @ probe)
        estimate = float(np.linalg.norm(image, 2))
        probe = directions.T @ products.transposed_times(image)
    return estimate


def _spectrum(gram, products, n_rows):
    """Singular values (descending) and right singular vectors of W from its Gram matrix W^T W.

    Where the Gram matrix cannot resolve the smallest singular values (below _GRAM_RESOLUTION of
    the largest: a rank-deficient or ill-conditioned W), those below _DEFLATE of the largest are
    recomputed in the subspace V of their Gram eigenvectors, well apart from the resolved ones.
    Exactly rank-deficient data (e.g. grey images stored as RGB) is found cheaply: when W V is
    below the numerical-rank tolerance (its norm, by a few power steps), those singular values
    are zero to float64 rounding and are so reported. Otherwise they come from the SVD of R in a
    chunked QR of W V, which costs n_rows x len(V)^2, not n_rows x n_columns^2.
    """
    eigenvalues, eigenvectors = np.linalg.eigh(gram)
    s = np.sqrt(np.clip(eigenvalues[::-1], 0, None))
    vectors = eigenvectors[:, ::-1]
    if not len(s) or (n_rows >= len(s) and s[-1] > _GRAM_RESOLUTION * s[0]):
        return s, vectors
    small = s <= _DEFLATE * s[0]
    subspace = vectors[:, small]
    tolerance = rank_tolerance(s[0], (n_rows, len(s)))
    if _norm_estimate(products, subspace) < 0.5 * tolerance:  # an estimate from below: a margin
        s_small, rotated = np.zeros(int(small.sum())), subspace
    else:
        _, s_small, vt = np.linalg.svd(products.r_factor(subspace), full_matrices=False)
        s_small = np.concatenate([s_small, np.zeros(int(small.sum()) - len(s_small))])
        rotated = np.hstack([subspace @ vt.T, np.zeros((len(subspace), int(small.sum()) - len(vt)))])
    return np.concatenate([s[~small], s_small]), np.hstack([vectors[:, ~small], rotated])


def singular_spectrum(rows, *, mean=None, chunk_size=DEFAULT_CHUNK_SIZE):
    """All singular values of W (a matrix given as rows, less ``mean``) and its right singular vectors.

    From the Gram matrix W^T W when that resolves the whole spectrum (every
    singular value above 1e-6 of the largest); otherwise its smallest are
    recomputed from the SVD of R in a chunked QR of W projected on their
    subspace, which is accurate to float64 rounding, as the numerical rank needs.

    Returns
    -------
    singular_values : ndarray, descending
    vectors : ndarray of shape (n_columns, len(singular_values))
    """
    return _spectrum(gram_matrix(rows, mean=mean, chunk_size=chunk_size), _Products(rows, mean), len(rows))


def transform_matrix(layout):
    """M with W = X M for flattened images X: row i is the transform of pixel basis image i."""
    n_pixels = int(np.prod(layout.image_shape))
    basis = np.eye(n_pixels).reshape((n_pixels,) + tuple(layout.image_shape))
    coefficients, _ = wavelet_transform(basis, wavelet=layout.wavelet, level=layout.level, mode=layout.mode,
                                        n_jobs=1)
    return coefficients.reshape(n_pixels, -1)


def dataset_spectra(images, layout, *, center=False, pixel_max=None, transform=None, pixel_gram=None,
                    chunk_size=DEFAULT_CHUNK_SIZE):
    """Singular values of the pixel matrix X and of the wavelet matrix W = X M, in float64.

    Both come from one pass over the pixels: W^T W = M^T (X^T X) M, and where
    the Gram matrices cannot resolve the spectrum, R_W = R_X M from a chunked
    QR of X. When the transform is orthogonal, W has X's singular values and
    right singular vectors M^T v. The wavelet coefficients themselves are never
    needed in float64.

    Returns
    -------
    pixel_singular_values : ndarray
    wavelet_singular_values : ndarray
    wavelet_vectors : ndarray of shape (n_coefficients, len(wavelet_singular_values))
    wavelet_mean : ndarray or None
        The mean row of W removed when ``center``.

    ``transform``, if given, is :func:`transform_matrix` of ``layout``, already computed;
    ``pixel_gram``, if given, is X^T X (uncentered), already computed.
    """
    n = len(images)
    mean = None
    if center:
        mean = np.zeros(int(np.prod(images.shape[1:])))
        for start, stop in chunk_bounds(n, chunk_size):
            mean += _rows(images, start, stop, None, pixel_max).sum(axis=0)
        mean /= n
    if pixel_gram is not None and not center:
        gram = pixel_gram
    else:
        gram = gram_matrix(images, mean=mean, pixel_max=pixel_max, chunk_size=chunk_size)
    transform = transform_matrix(layout) if transform is None else transform

    pixel_s, pixel_vectors = _spectrum(gram, _Products(images, mean, pixel_max), n)
    if layout.orthogonal:
        # W = X M with M orthogonal: the same singular values, right vectors M^T v.
        wavelet_s, vectors = pixel_s, transform.T @ pixel_vectors
    else:  # W V = X (M V)
        wavelet_s, vectors = _spectrum(transform.T @ gram @ transform, _Products(images, mean, pixel_max, transform),
                                       n)
    return pixel_s, wavelet_s, vectors, None if mean is None else mean @ transform


def numerical_rank(singular_values, shape):
    """numpy.linalg.matrix_rank's rule for float64 data: the singular values above :func:`rank_tolerance`."""
    if not len(singular_values):
        return 0
    return int((singular_values > rank_tolerance(singular_values[0], shape)).sum())


def numerical_rank_of_rows(matrix, *, center=False, chunk_size=DEFAULT_CHUNK_SIZE):
    """Numerical rank of a matrix given as rows (e.g. the pixel matrix of a dataset), in float64."""
    mean = np.asarray(matrix, np.float64).reshape(len(matrix), -1).mean(axis=0) if center else None
    s, _ = singular_spectrum(matrix, mean=mean, chunk_size=chunk_size)
    return numerical_rank(s, (len(matrix), int(np.prod(matrix.shape[1:]))))


def find_dataset_patterns(images, layout, *, n_patterns=100, energy=0.99, center=False, random_state=0, pixel_max=None,
                     pixel_gram=None, chunk_size=DEFAULT_CHUNK_SIZE, n_jobs=-1):
    """SVD of the dataset wavelet matrix and each image's share of the top patterns.

    Parameters
    ----------
    images : ndarray of shape (n_images,) + layout.image_shape
        The images: the spectrum is taken from the pixels, in float64, and the
        wavelet matrix W = X M is never formed when it fits the Gram route.
    layout : WaveletLayout
        The transform (from :func:`wavelens.wavelet_layout`).
    n_patterns : int, default=100
        Number of top dataset patterns to keep.
    energy : float, default=0.99
        Energy fraction for ``n_patterns_at_energy``.
    center : bool, default=False
        Remove the mean image first (then the patterns are principal components).
    random_state : int, default=0
        Seeds the randomized SVD used above ``GRAM_LIMIT`` coefficients.
    pixel_max : int, default=None
        For integer pixels (e.g. a :class:`Dataset`'s ``pixels``): the images
        are ``images / pixel_max``.
    pixel_gram : ndarray, default=None
        The pixel matrix's Gram matrix X^T X, if already computed (e.g. by a
        :class:`PixelGram` fed in the same pass as the per-image work); used
        only when uncentered and on the Gram route.
    chunk_size : int, default=2048
    n_jobs : int or None, default=-1
        Threads for the randomized route (above ``GRAM_LIMIT`` coefficients): -1 uses every
        core, None one. The result does not depend on it.

    Returns
    -------
    DatasetPatterns
    """
    n_patterns = check_positive_int(n_patterns, "n_patterns")
    energy = check_energy(energy)
    n_images = len(images)
    n_columns = int(np.prod(layout.matrix_shape)) * layout.n_channels
    n_pixels = int(np.prod(images.shape[1:]))
    k = min(n_patterns, n_images, n_columns)
    transform = None
    if on_gram_route(layout):
        transform = transform_matrix(layout)
        pixel_s, s, vectors, mean = dataset_spectra(images, layout, center=center, pixel_max=pixel_max,
                                                    transform=transform, pixel_gram=pixel_gram,
                                                    chunk_size=chunk_size)
        k = min(k, len(s))
        components = vectors[:, :k].T
        rank = numerical_rank(s, (n_images, n_columns))
        pixel_rank = numerical_rank(pixel_s, (n_images, n_pixels))
        at_energy = int(rank_at_energy(s[None, :], energy)[0])
    else:
        s, components, mean = _randomized_top_patterns(images, layout, k, center=center, pixel_max=pixel_max,
                                                       random_state=random_state, n_jobs=n_jobs)
        rank = pixel_rank = at_energy = None
    sign = np.sign(components[np.arange(k), np.abs(components).argmax(axis=1)])
    components = components * np.where(sign == 0, 1, sign)[:, None]
    # With an orthogonal transform and its matrix at hand, the pixels serve directly.
    shares = _shares(images, layout, components, mean, chunk_size, pixel_max,
                     transform if layout.orthogonal else None)
    return DatasetPatterns(s, components, shares, _dominant(shares), rank, pixel_rank, at_energy, mean)


def _dominant(shares):
    return np.where(shares.max(axis=1) > 0, shares.argmax(axis=1), -1)


def pattern_shares(images, layout, patterns, *, pixel_max=None, chunk_size=DEFAULT_CHUNK_SIZE):
    """Other images' shares of a dataset's patterns (e.g. the test images' shares of the training set's).

    Parameters
    ----------
    images : ndarray of shape (n_images,) + layout.image_shape
    layout : WaveletLayout
        The layout the patterns were found with.
    patterns : DatasetPatterns
        From :func:`find_dataset_patterns` on other images of the same shape.
    pixel_max : int, default=None
        For integer pixels: the images are ``images / pixel_max``.
    chunk_size : int, default=2048

    Returns
    -------
    DatasetPatterns
        ``patterns`` with the shares and dominant pattern of ``images``; the ranks, which
        describe the matrix the patterns came from, are None.

    Examples
    --------
    >>> import numpy as np
    >>> from wavelens import wavelet_layout
    >>> images = np.random.default_rng(0).random((50, 8, 8))
    >>> layout = wavelet_layout((8, 8))
    >>> found = find_dataset_patterns(images, layout, n_patterns=5)
    >>> bool(np.allclose(pattern_shares(images, layout, found).shares, found.shares, atol=1e-5))
    True
    """
    transform = transform_matrix(layout) if layout.orthogonal and on_gram_route(layout) else None
    shares = _shares(images, layout, patterns.components, patterns.mean, chunk_size, pixel_max, transform)
    return DatasetPatterns(patterns.singular_values, patterns.components, shares, _dominant(shares), None, None,
                           None, patterns.mean)


class _StreamedMatrix:
    """The dataset matrix (the pixels, or their wavelet coefficients, less ``mean``) as blocks of
    rows of about _BLOCK_BYTES, and its products with a few vectors, over blocks on ``n_jobs``
    threads. Integer and float32 images are multiplied in float32 (their pixels hold far less
    than float32 resolves), float64 images in float64; products are gathered in float64, in an
    order that does not depend on the number of threads."""

    def __init__(self, images, layout, pixel_max, pixels, n_jobs):
        self.images, self.layout, self.pixel_max, self.pixels = images, layout, pixel_max, pixels
        self.dtype = np.float64 if images.dtype == np.float64 else np.float32
        self.width = (int(np.prod(images.shape[1:])) if pixels
                      else int(np.prod(layout.matrix_shape)) * layout.n_channels)
        self.bounds = chunk_bounds(len(images), max(1, _BLOCK_BYTES // (8 * self.width)))
        self.n_jobs = resolve_n_jobs(n_jobs)
        self.mean = None

    def __getstate__(self):
        # Sent to Dask workers without the images: they come as the chunks' shared argument.
        return {**self.__dict__, "images": None}

    def block(self, start, stop, images=None):
        images = self.images if images is None else images
        rows = as_float(images[start:stop], self.dtype, self.pixel_max)
        if not self.pixels:
            rows = _forward(rows, self.layout)
        rows = rows.reshape(stop - start, -1)
        if self.mean is not None:
            rows = rows - self.mean  # not in place: float64 images come through as_float uncopied
        return rows

    def _grouped(self, work):
        """``work(rows, start, stop, slot)`` summed over fixed groups of blocks (rows start:stop of W
        at once: one product per group, not per block), the groups added in order in float64, so
        that the sum is the same on any number of threads. ``slot`` numbers the groups worked on
        at once (0 to n_jobs - 1): ``work`` may return its result in a buffer of its slot."""
        groups = [self.bounds[i:i + _BLOCKS_PER_GROUP] for i in range(0, len(self.bounds), _BLOCKS_PER_GROUP)]

        def group_sum(slot, group, images):
            start, stop = group[0][0], group[-1][1]  # the group's blocks are consecutive rows
            return work(self.block(start, stop, images), start, stop, slot)

        total = []

        def add(a, b, partial):
            # In place: a fresh float64 total per group cost as much as the products.
            if not total:
                total.append(np.array(partial, dtype=np.float64))
            else:
                np.add(total[0], partial, out=total[0])

        if dask_client() is not None:  # every group at once; the results are added in order as they come
            for_each_chunk(lambda a, b, images: group_sum(None, groups[a], images), len(groups), chunk_size=1,
                           store=add, shared=(self.images,))
            return total[0]
        for first in range(0, len(groups), self.n_jobs):  # a group per thread at a time: bounded memory
            batch = groups[first:first + self.n_jobs]
            for partial in for_each_chunk(lambda a, b, images: group_sum(a, batch[a], images), len(batch),
                                          chunk_size=1, n_jobs=self.n_jobs, shared=(self.images,)):
                add(None, None, partial)
        return total[0]

    def set_mean(self):
        self.mean = None
        self.mean = (self._grouped(lambda rows, start, stop, slot: rows.sum(axis=0, dtype=np.float64))
                     / len(self.images)).astype(self.dtype)

    def times(self, vectors):
        """W V, (n_images, k)."""
        out = np.empty((len(self.images), vectors.shape[1]))
        vectors = vectors.astype(self.dtype)

        def store(a, b, part):
            out[self.bounds[a][0]:self.bounds[a][1]] = part

        for_each_chunk(lambda a, b, images: self.block(*self.bounds[a], images) @ vectors, len(self.bounds),
                       chunk_size=1, n_jobs=self.n_jobs, store=store, shared=(self.images,))
        return out

    def transposed_times(self, vectors):
        """W^T Y, (width, k)."""
        vectors = vectors.astype(self.dtype)
        products = [] if dask_client() is not None else [  # a product buffer per group worked on at once
            np.empty((self.width, vectors.shape[1]), self.dtype) for _ in range(self.n_jobs)]
        return self._grouped(lambda rows, start, stop, slot: np.matmul(
            rows.T, vectors[start:stop], out=None if slot is None else products[slot]))


def _orthonormal(tall):
    """Q and R of a tall matrix's thin QR, by Cholesky QR twice (Fukaya et al., 2014): two
    products with the tall matrix instead of a Householder QR of it, several times faster for
    (n_coefficients x a hundred) and as accurate while its condition number is below 1e7;
    otherwise, or if the Cholesky factorization fails, a Householder QR."""
    import scipy.linalg  # here, not at the top: importing it costs every command 0.1 s

    q, r = tall, np.eye(tall.shape[1])
    try:
        for _ in range(2):
            factor = np.linalg.cholesky(q.T @ q).T  # upper: q = q' factor
            q = q @ scipy.linalg.solve_triangular(factor, np.eye(len(factor)))  # one product, not a tall solve
            r = factor @ r
    except np.linalg.LinAlgError:
        return np.linalg.qr(tall)
    if not np.isfinite(r).all() or np.linalg.cond(r) > 1e7:
        return np.linalg.qr(tall)
    return q, r


def _randomized_top_patterns(images, layout, k, *, center, pixel_max, random_state, n_oversamples=10,
                             n_power_iterations=4, n_jobs=-1):
    """The top ``k`` singular values and right vectors of the wavelet matrix, without holding it.

    A randomized SVD (Halko, Martinsson & Tropp, 2011, algorithms 4.4 and 5.1) whose every
    product with the matrix streams over blocks of images (:class:`_StreamedMatrix`), so memory
    is (n_images + n_coefficients) x (k + n_oversamples) whatever the image size. With an
    orthogonal transform, W = X M has the pixel matrix's singular values and right vectors
    M^T v: the pixels serve, and only the k vectors found are transformed.

    Returns
    -------
    singular_values, components (k, n_coefficients), mean (the removed mean row of W, or None)
    """
    matrix = _StreamedMatrix(images, layout, pixel_max, layout.orthogonal, n_jobs)
    if center:
        matrix.set_mean()
    size = min(k + n_oversamples, len(images), matrix.width)
    probe = np.random.default_rng(random_state).standard_normal((matrix.width, size))
    for _ in range(n_power_iterations):
        probe = _orthonormal(matrix.transposed_times(np.linalg.qr(matrix.times(probe))[0]))[0]
    basis = np.linalg.qr(matrix.times(probe))[0]
    # The SVD of B = Q^T W through the QR of the tall B^T = P R: B = R^T P^T, so B's right
    # singular vectors are P times those of R^T.
    tall, r = _orthonormal(matrix.transposed_times(basis))
    _, s, vt = np.linalg.svd(r.T)
    components, mean = (tall @ vt.T).T[:k], None if matrix.mean is None else matrix.mean.astype(np.float64)
    if layout.orthogonal:
        shape = (k,) + tuple(images.shape[1:])
        components = _forward(components.reshape(shape), layout).reshape(k, -1)
        if mean is not None:
            mean = _forward(mean.reshape((1,) + tuple(images.shape[1:])), layout).reshape(-1)
    return s[:k], components, mean


def _shares(images, layout, components, mean, chunk_size, pixel_max, transform):
    """(w_i . b_k)^2 / ||w_i||^2 for every image row w_i of W (less ``mean``), chunk by chunk.

    Given the orthogonal ``transform`` M, W = X M keeps the pixels' norms and
    w_i . b_k = x_i . (M b_k): the pixels serve directly. Otherwise each chunk
    is transformed.
    """
    n_images = len(images)
    shares = output_array((n_images, len(components)), np.float32, "the dataset-pattern shares")
    if transform is not None:
        directions = (transform @ components.T).astype(np.float32)
        offset = None if mean is None else (mean @ transform.T).astype(np.float32)
    else:
        directions = components.T.astype(np.float32)
        offset = None if mean is None else mean.astype(np.float32)

    def chunk_shares(start, stop, images):
        block = as_float(images[start:stop], np.float32, pixel_max)
        if transform is None:
            block = _forward(block, layout)
        block = block.reshape(stop - start, -1)
        if offset is not None:
            block = block - offset
        norms = np.einsum("ij,ij->i", block, block)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(norms[:, None] > 0, (block @ directions) ** 2 / norms[:, None], 0)

    for_each_chunk(chunk_shares, n_images, n_jobs=1, store=into_rows(shares), shared=(images,),
                   chunk_size=rows_per_chunk(chunk_size, 4 * max(directions.shape[0], int(np.prod(images.shape[1:])))))
    return shares
