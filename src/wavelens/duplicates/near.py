"""Near-duplicate pairs: candidates by descriptor, verified by shifted correlation, cut adaptively.

1. Every image is made gray and small (at most ``size`` pixels a side), in two
   versions, plain and posed (:mod:`wavelens.duplicates._images`).
2. Candidates: each query image's ``n_neighbors`` nearest images of the other
   set (or of its own set) by the cosine of each version's coarse descriptor, the
   lists joined. The plain list takes the best cosine with either image also
   zoomed in to its central ``ZOOM`` share and moved by a pixel (crops resized
   back); on images under ``SMALL`` pixels it is plain, and a third list takes the
   best cosine over the query's shifted versions.
3. Verification (:mod:`wavelens.duplicates._verify`): on images of at least
   ``SMALL`` pixels a side, the candidates are ranked by their aligned correlation
   (a fitted zoom and sub-pixel shift) at ``SMALL`` pixels; the ``REFINED`` best,
   and the reference where a pair could pass, are scored by the aligned
   correlation at the working size, the others by the best correlation over
   shifts of up to ``max_shift`` pixels (counted at the original size). On smaller
   images the score is the better shifted correlation of the plain and posed images.
4. The cut: a pair is flagged when its score is at least ``threshold`` and,
   unless ``ratio`` is None, its distance 1 - score is at most ``ratio`` times
   the query's distance to its ``reference_rank``-th best candidate: it stands
   out from what is merely similar in this dataset.
"""

from dataclasses import dataclass

import numpy as np

from .._parallel import for_each_chunk, into_rows
from ._images import descriptors, posed, shifted, working_images, zoomed
from ._neighbors import nearest
from ._verify import aligned_correlation, best_correlation

__all__ = ["Candidates", "flag", "score_candidates"]

REFERENCE_RANK = 6
REFINED = 2  # best candidates of each image scored by aligned correlation (with the reference)
SMALL = 16
ZOOM = 0.92  # share of the frame a crop of 4% off each side keeps (crops of up to about 10% are found)
ZOOM_MOVES = ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1))
RANKING_BLURS = (0.6, 1.2)  # ranks candidates as well as three blurs (0.6, 0.9, 1.2), in less time


@dataclass
class Candidates:
    """Each query's verified candidates: ``index`` into the reference set and ``score``, best first
    (``-inf`` where a row has fewer), and ``reference``, the score of its ``REFERENCE_RANK``-th best."""

    index: np.ndarray
    score: np.ndarray
    reference: np.ndarray


def _posed(images, n_jobs):
    out = np.empty_like(images)
    for_each_chunk(lambda start, stop: posed(images[start:stop]), len(images), n_jobs=n_jobs, store=into_rows(out))
    return out


def _versions(stored, pixel_max, size, n_jobs):
    """The plain images (at most ``size`` a side), their small (at most ``SMALL``) and posed small
    versions, and the descriptors of the small and posed ones."""
    plain = working_images(stored, pixel_max, size, n_jobs=n_jobs)
    small = working_images(plain, None, SMALL, n_jobs=n_jobs) if max(plain.shape[1:]) > SMALL else plain
    pose = _posed(small, n_jobs)
    return plain, small, pose, descriptors(small), descriptors(pose)


def _union(index_1, index_2):
    """Each row's indices of both lists, first occurrences kept, the rest set to -1."""
    both = np.concatenate([index_1, index_2], axis=1)
    order = np.argsort(both, axis=1, kind="stable")
    ranked = np.take_along_axis(both, order, 1)
    repeat = np.zeros_like(ranked, dtype=bool)
    repeat[:, 1:] = ranked[:, 1:] == ranked[:, :-1]
    out = both.copy()
    np.put_along_axis(out, order, np.where(repeat, -1, ranked), 1)
    return out


def _zoomed_descriptors(plain, n_jobs):
    """Descriptors of each image's central ``ZOOM`` share magnified to the frame (what a crop of
    its border resized back looks like), moved by 0 or 1 pixel (at ``SMALL``) up, down, left, right."""
    zoom = np.empty_like(plain)
    for_each_chunk(lambda start, stop: zoomed(plain[start:stop], ZOOM), len(plain), n_jobs=n_jobs,
                   store=into_rows(zoom))
    zoom = working_images(zoom, None, SMALL, n_jobs=n_jobs)
    return [descriptors(shifted(zoom, dy, dx)) for dy, dx in ZOOM_MOVES]


def score_candidates(stored_a, pixel_max_a, stored_b=None, pixel_max_b=None, *, size=16, n_neighbors=8,
                     max_shift=2, threshold=0.9, ratio=0.25, n_jobs=-1) -> Candidates:
    """Verified candidates of each image of A among B (or among A without itself).

    Parameters
    ----------
    stored_a, stored_b : ndarray of shape (n, H, W) or (n, H, W, C)
        Pixels (with their ``pixel_max``) or float images; ``stored_b`` None searches within A.
    size, n_neighbors, max_shift, threshold, ratio, n_jobs :
        See :func:`wavelens.find_near_duplicates`.

    Returns
    -------
    Candidates
    """
    within = stored_b is None
    plain_a, small_a, pose_a, d_plain_a, d_pose_a = _versions(stored_a, pixel_max_a, size, n_jobs)
    if within:
        plain_b, small_b, pose_b, d_plain_b, d_pose_b = plain_a, small_a, pose_a, None, None
        n_b = len(plain_a) - 1
    else:
        plain_b, small_b, pose_b, d_plain_b, d_pose_b = _versions(stored_b, pixel_max_b, size, n_jobs)
        n_b = len(plain_b)
    k = min(n_neighbors, n_b)
    n_a = len(plain_a)
    if k < 1 or n_a == 0:
        empty = np.zeros((n_a, 0))
        return Candidates(empty.astype(np.int64), empty, np.full(n_a, -np.inf))
    shift = max(1, round(max_shift * plain_a.shape[1] / stored_a.shape[1]))
    posed_list = nearest(d_pose_a, d_pose_b, k, n_jobs=n_jobs)[0]
    tiny = min(plain_a.shape[1:]) < SMALL
    if tiny:
        # On small images (8 x 8 digits) a shift of 1-2 pixels moves the descriptor far, and
        # posing (centroid and spread) does not undo it where the shift cuts off strokes: a
        # third list by the best cosine over the query's shifted versions.
        moves = [(dy, dx) for dy in range(-shift, shift + 1) for dx in range(-shift, shift + 1) if dy or dx]
        variants = [descriptors(shifted(small_a, dy, dx)) for dy, dx in moves]
        index = _union(_union(nearest(d_plain_a, d_plain_b, k, n_jobs=n_jobs)[0], posed_list),
                       nearest(d_plain_a, d_plain_b, k, n_jobs=n_jobs, variants=variants)[0])
    else:
        # Crops resized back: posing misses those that cut off part of the content. The other list
        # is by the best cosine of the images as they are or with either zoomed in (and moved by a
        # pixel).
        index = _union(nearest(d_plain_a, d_plain_b, k, n_jobs=n_jobs, variants=_zoomed_descriptors(plain_a, n_jobs),
                               reference_variants=None if within else _zoomed_descriptors(plain_b, n_jobs))[0],
                       posed_list)
    valid = index >= 0
    rows_a = np.broadcast_to(np.arange(n_a)[:, None], index.shape)[valid]
    rows_b = index[valid]
    plain = best_correlation(plain_a, plain_b, rows_a, rows_b, max_shift=shift, n_jobs=n_jobs)
    score = np.full(index.shape, -np.inf)
    if tiny:
        # Too few pixels for a fitted zoom: it lifts different images (8 x 8 digits) as much as
        # copies; the tolerant score (plain or posed, shifted) is kept.
        score[valid] = np.maximum(plain, best_correlation(pose_a, pose_b, rows_a, rows_b, max_shift=1,
                                                          n_jobs=n_jobs))
        order = np.lexsort((index, -score), axis=1)
        index, score = np.take_along_axis(index, order, 1), np.take_along_axis(score, order, 1)
        rank = min(REFERENCE_RANK, index.shape[1]) - 1
        return Candidates(index, score, score[:, rank].copy())
    # Rank by the aligned correlation of the small versions; then the pairs that decide the cut
    # (the best REFINED and the reference) are scored by aligned correlation at the working size,
    # the rest by the plain shifted one.
    score[valid] = aligned_correlation(small_a, small_b, rows_a, rows_b, blurs=RANKING_BLURS, resamples=(),
                                       n_jobs=n_jobs)
    order = np.lexsort((index, -score), axis=1)
    index = np.take_along_axis(index, order, 1)
    rank = min(REFERENCE_RANK, index.shape[1]) - 1
    final = np.full(index.shape, -np.inf)
    final[valid] = plain
    final = np.take_along_axis(final, order, 1)
    top = min(REFINED, index.shape[1])

    def refine(rows, columns):
        """Scores of candidates (rows, columns) raised to their aligned correlation."""
        take = index[rows, columns] >= 0
        rows, columns = rows[take], columns[take]
        aligned = aligned_correlation(plain_a, plain_b, rows, index[rows, columns], n_jobs=n_jobs)
        final[rows, columns] = np.maximum(final[rows, columns], aligned)

    refine(np.repeat(np.arange(n_a), top), np.tile(np.arange(top), n_a))
    # The reference is aligned too where a candidate could pass the cut: aligning raises it, and a
    # pair failing against the plain reference fails against any higher one.
    needed = _passes(final[:, :top].max(axis=1), final[:, rank], threshold, ratio) \
        if rank >= top and ratio is not None else np.zeros(n_a, bool)
    refine(np.flatnonzero(needed), np.full(int(needed.sum()), rank))
    reference = final[:, rank].copy()
    order = np.lexsort((index, -final), axis=1)
    index, final = np.take_along_axis(index, order, 1), np.take_along_axis(final, order, 1)
    return Candidates(index, final, reference)


def _passes(score, reference, threshold, ratio):
    """The cut: ``score >= threshold`` and, unless ``ratio`` is None, ``1 - score <= ratio * (1 - reference)``."""
    keep = score >= threshold - 1e-9
    if ratio is not None:
        keep &= (1.0 - score) <= ratio * (1.0 - np.maximum(reference, -1.0)) + 1e-12
    return keep


def flag(candidates: Candidates, *, threshold: float, ratio: float | None, within: bool):
    """The flagged pairs (index_a, index_b, score, reference): score >= threshold and, with a ratio,
    1 - score <= ratio * (1 - reference). Within one set each pair i < j is given once, flagged when
    it passes from either end."""
    index, score = candidates.index, candidates.score
    reference = np.broadcast_to(candidates.reference[:, None], score.shape)
    keep = (index >= 0) & _passes(score, reference, threshold, ratio)
    rows, cols = np.nonzero(keep)
    a, b, s, ref = rows.astype(np.int64), index[rows, cols], score[rows, cols], reference[rows, cols]
    if within:
        a, b = np.minimum(a, b), np.maximum(a, b)
        # A pair passed from both ends is kept once: the end where it stands out most.
        distance = np.where(np.isfinite(ref), (1 - s) / np.maximum(1 - ref, 1e-12), 0.0)
        order = np.lexsort((distance, b, a))
        a, b, s, ref = a[order], b[order], s[order], ref[order]
        first = np.ones(len(a), dtype=bool)
        first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
        a, b, s, ref = a[first], b[first], s[first], ref[first]
    return a, b, s, ref
