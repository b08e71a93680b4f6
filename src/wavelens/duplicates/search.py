"""Near-duplicates: pairs of images whose cosine similarity in the wavelet space passes a threshold.

Within one dataset (pairs i < j) or across two (every image of A against every
image of B, e.g. test against train). A chunk of A's rows is compared with all
of B's at a time by one matrix product, so memory stays at
``chunk_size * n_b`` similarities whatever the sizes. Exact duplicates
(identical pixels) are found by hashing and flagged; they are listed even where
cosine is undefined (all-zero images).
"""

import hashlib
from dataclasses import dataclass

import numpy as np

from .._parallel import chunk_bounds
from .._progress import stage
from .._validation import WavelensError, check_fraction, param
from ..communities.graph import unit_rows

__all__ = ["DuplicatePairs", "find_duplicates", "image_digests", "match_rows"]


@dataclass
class DuplicatePairs:
    """Pairs (row of A, row of B) with their similarity and whether they are exact copies.

    ``index_a`` and ``index_b`` are rows of what was searched (the arrays, or the
    Datasets given to :func:`wavelens.find_near_duplicates`: ``dataset.pixels[index_a]``),
    not the images' positions in their split (:attr:`wavelens.Dataset.index`): in
    :attr:`wavelens.DuplicateAnalysis.pairs_table` they are the ``row_a`` and ``row_b``
    columns, and ``index_a`` and ``index_b`` there are the positions in the split.

    ``reference`` (near-duplicate search only) is, for each pair, the similarity of the
    query image to its reference neighbour, against which the pair stood out (NaN for
    exact copies found by their digest alone).
    """

    index_a: np.ndarray
    index_b: np.ndarray
    similarity: np.ndarray
    exact: np.ndarray
    reference: np.ndarray | None = None

    def __len__(self):
        return len(self.index_a)


def image_digests(images):
    """A 16-byte BLAKE2b digest of each image's bytes: equal digests mean identical images.

    Parameters
    ----------
    images : ndarray of shape (n_images, ...)
        Compare only digests of arrays of one dtype (the bytes are hashed).

    Returns
    -------
    list of bytes

    Examples
    --------
    >>> import numpy as np
    >>> a, b, c = image_digests(np.array([[[0, 1]], [[0, 1]], [[1, 0]]], dtype=np.uint8))
    >>> a == b, a == c, len(a)
    (True, False, 16)
    """
    return [hashlib.blake2b(np.ascontiguousarray(image).tobytes(), digest_size=16).digest() for image in images]


def _exact_pairs(digests_a, digests_b, within):
    by_digest = {}
    for j, digest in enumerate(digests_b):
        by_digest.setdefault(digest, []).append(j)
    pairs = set()
    for i, digest in enumerate(digests_a):
        for j in by_digest.get(digest, ()):
            if not within or i < j:
                pairs.add((i, j))
    return pairs


def _compare_chunk(a, b, start, stop, within, cut, found_a, found_b, found_s):
    similarity = a[start:stop] @ b.T
    if within:
        # Each pair once, and no image with itself: drop j <= i (only columns below stop).
        head = similarity[:, :stop]
        head[np.arange(stop)[None, :] <= np.arange(start, stop)[:, None]] = -1
    i, j = np.nonzero(similarity >= cut)
    found_a.append(i + start)
    found_b.append(j)
    found_s.append(np.minimum(similarity[i, j], 1.0))


def find_duplicates(rows_a, rows_b=None, *, threshold=0.98, images_a=None, images_b=None, chunk_size=512):
    """Pairs of rows whose cosine similarity is at least ``threshold``, and exact duplicates.

    Parameters
    ----------
    rows_a : ndarray of shape (n_a, ...)
        Features of A (e.g. wavelet coefficients), a row per image once flattened.
    rows_b : ndarray of shape (n_b, ...), default=None
        Features of B; None looks for duplicates within A.
    threshold : float, default=0.98
        In (0, 1].
    images_a, images_b : ndarray, default=None
        Pixels, to flag exact duplicates (identical images).
    chunk_size : int, default=512
        Rows of A compared at once.

    Returns
    -------
    DuplicatePairs
    """
    threshold = check_fraction(threshold, "threshold", low_open=True)
    within = rows_b is None
    a, _ = unit_rows(rows_a)
    b = None if within else unit_rows(rows_b)[0]
    if not within and a.shape[1] != b.shape[1]:
        raise WavelensError(
            f"The two datasets have images of different sizes ({a.shape[1]} vs {b.shape[1]} wavelet "
            "coefficients); compare datasets of one image size (load them with "
            f"{param('resize', text='(H, W)')})."
        )
    digests_a = digests_b = None
    if images_a is not None:
        digests_a = image_digests(images_a)
        digests_b = None if within else image_digests(images_b)
    return match_rows(a, b, threshold=threshold, digests_a=digests_a, digests_b=digests_b, chunk_size=chunk_size)


def match_rows(unit_a, unit_b=None, *, threshold=0.98, digests_a=None, digests_b=None, chunk_size=512):
    """The search of :func:`find_duplicates` on rows already scaled to unit length.

    Split from it so that one side (an index of reference images) is scaled and
    hashed once and then searched by any number of queries.

    Parameters
    ----------
    unit_a : ndarray of shape (n_a, n_features)
        Unit rows of A, float32 (:func:`wavelens.communities.graph.unit_rows`); zero rows match nothing.
    unit_b : ndarray of shape (n_b, n_features), default=None
        Unit rows of B; None looks for pairs i < j within A.
    threshold : float, default=0.98
        In (0, 1] (not checked here).
    digests_a, digests_b : list of bytes, default=None
        :func:`image_digests` of A's and B's images, to flag (and add) exact
        duplicates; ``digests_b`` is not used within A.
    chunk_size : int, default=512
        Rows of A compared at once.

    Returns
    -------
    DuplicatePairs

    Examples
    --------
    >>> import numpy as np
    >>> from wavelens.communities.graph import unit_rows
    >>> rows, _ = unit_rows(np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 0.01]]))
    >>> pairs = match_rows(rows, threshold=0.99)
    >>> pairs.index_a.tolist(), pairs.index_b.tolist()
    ([0], [2])
    """
    within = unit_b is None
    a = unit_a
    b = a if within else unit_b
    # float32 products carry about 1e-6 of error: keep pairs within it of the threshold.
    cut = np.float32(threshold - 2e-6)
    found_a, found_b, found_s = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0, np.float32)]
    with stage("comparing images", total=len(a)) as bar:
        for start, stop in chunk_bounds(len(a), chunk_size):
            _compare_chunk(a, b, start, stop, within, cut, found_a, found_b, found_s)
            bar.update(stop - start)
    index_a, index_b = np.concatenate(found_a), np.concatenate(found_b)
    similarity = np.concatenate(found_s).astype(np.float64)
    exact = np.zeros(len(index_a), dtype=bool)
    if digests_a is not None:
        exact_pairs = _exact_pairs(digests_a, digests_a if within else digests_b, within)
        known = dict(zip(zip(index_a.tolist(), index_b.tolist()), range(len(index_a))))
        missing = []
        for pair in exact_pairs:
            if pair in known:
                exact[known[pair]] = True
            else:
                missing.append(pair)
        if missing:
            index_a = np.concatenate([index_a, [p[0] for p in missing]]).astype(np.int64)
            index_b = np.concatenate([index_b, [p[1] for p in missing]]).astype(np.int64)
            similarity = np.concatenate([similarity, np.ones(len(missing))])
            exact = np.concatenate([exact, np.ones(len(missing), dtype=bool)])
    order = np.lexsort((index_b, index_a, -similarity))
    return DuplicatePairs(index_a[order].astype(np.int64), index_b[order].astype(np.int64), similarity[order],
                          exact[order])
