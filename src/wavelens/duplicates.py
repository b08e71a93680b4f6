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

from ._chunks import chunk_bounds
from ._progress import stage
from ._validation import WavelensError
from .graph import unit_rows

__all__ = ["DuplicatePairs", "find_duplicates"]


@dataclass
class DuplicatePairs:
    """Pairs (index in A, index in B) with their cosine similarity, most similar first."""

    index_a: np.ndarray
    index_b: np.ndarray
    similarity: np.ndarray
    exact: np.ndarray

    def __len__(self):
        return len(self.index_a)


def _digests(images):
    return [hashlib.blake2b(np.ascontiguousarray(image).tobytes(), digest_size=16).digest() for image in images]


def _exact_pairs(images_a, images_b, within):
    by_digest = {}
    for j, digest in enumerate(_digests(images_b)):
        by_digest.setdefault(digest, []).append(j)
    pairs = set()
    for i, digest in enumerate(_digests(images_a)):
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
    if not 0 < threshold <= 1:
        raise WavelensError(f"--threshold must be in (0, 1], e.g. 0.98; got {threshold}.")
    within = rows_b is None
    a, _ = unit_rows(rows_a)
    b = a if within else unit_rows(rows_b)[0]
    if a.shape[1] != b.shape[1]:
        raise WavelensError(
            f"The two datasets have images of different sizes ({a.shape[1]} vs {b.shape[1]} wavelet "
            "coefficients); compare datasets of one image size (or use --resize)."
        )
    # float32 products carry about 1e-6 of error: keep pairs within it of the threshold.
    cut = np.float32(threshold - 2e-6)
    found_a, found_b, found_s = [], [], []
    with stage("comparing images", total=len(a)) as bar:
        for start, stop in chunk_bounds(len(a), chunk_size):
            _compare_chunk(a, b, start, stop, within, cut, found_a, found_b, found_s)
            bar.update(stop - start)
    index_a, index_b = np.concatenate(found_a), np.concatenate(found_b)
    similarity = np.concatenate(found_s).astype(np.float64)
    exact = np.zeros(len(index_a), dtype=bool)
    if images_a is not None:
        exact_pairs = _exact_pairs(images_a, images_a if within else images_b, within)
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
