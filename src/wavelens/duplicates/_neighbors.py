"""Exact k nearest neighbours by cosine of unit descriptors, chunked (never an n_a x n_b matrix).

A chunk of queries is multiplied with every reference row. Rather than sorting
each row of that block, its columns are cut into groups of ``_GROUP`` and each
group's maximum taken: the k largest values of a row lie in the k groups with
the largest maxima, so only those k groups are gathered and sorted. Ties are
broken by reference order.
"""

import numpy as np

from .._parallel import for_each_chunk

__all__ = ["nearest"]

_GROUP = 64
_QUERIES = 256


def nearest(queries: np.ndarray, references: np.ndarray | None, k: int, *,
            n_jobs: int | None = -1, variants: list | None = None,
            reference_variants: list | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` references most cosine-similar to each query, most similar first.

    Parameters
    ----------
    queries : ndarray of float32 of shape (n_q, d)
        Unit rows (or zero rows).
    references : ndarray of float32 of shape (n_r, d) or None
        Unit rows; None searches ``queries`` among themselves, without each query itself.
    k : int
        At most ``n_r`` (``n_q - 1`` within one set).
    n_jobs : int or None, default=-1
    variants : list of ndarray of shape (n_q, d), default=None
        Other versions of each query (e.g. shifted): a reference's similarity is then the
        largest over the query and its variants.
    reference_variants : list of ndarray of shape (n_r, d), default=None
        Other versions of each reference, compared with the queries as they are; not
        with ``references=None``.

    Returns
    -------
    index : ndarray of int64 of shape (n_q, k)
    similarity : ndarray of float32 of shape (n_q, k)
    """
    within = references is None
    ref = queries if within else references
    n_ref = len(ref)
    groups = -(-n_ref // _GROUP)

    def padded_rows(rows):
        out = np.zeros((groups * _GROUP, ref.shape[1]), np.float32)
        out[:n_ref] = rows
        return out

    padded = padded_rows(ref)
    padded_variants = [padded_rows(rows) for rows in reference_variants or ()]
    k_groups = min(k, groups)

    def chunk(start, stop):
        block = queries[start:stop] @ padded.T
        for variant in variants or ():
            np.maximum(block, variant[start:stop] @ padded.T, out=block)
        for variant in padded_variants:
            np.maximum(block, queries[start:stop] @ variant.T, out=block)
        block[:, n_ref:] = -np.inf
        if within:
            block[np.arange(stop - start), np.arange(start, stop)] = -np.inf
        by_group = block.reshape(stop - start, groups, _GROUP)
        top = np.argpartition(-by_group.max(axis=2), k_groups - 1, axis=1)[:, :k_groups]
        top.sort(axis=1)
        values = np.take_along_axis(by_group, top[:, :, None], axis=1).reshape(stop - start, -1)
        columns = (top[:, :, None] * _GROUP + np.arange(_GROUP)).reshape(stop - start, -1)
        order = np.lexsort((columns, -values), axis=1)[:, :k]
        return np.take_along_axis(columns, order, 1), np.take_along_axis(values, order, 1)

    parts = for_each_chunk(chunk, len(queries), chunk_size=_QUERIES, n_jobs=n_jobs)
    if not parts:
        return np.zeros((0, k), np.int64), np.zeros((0, k), np.float32)
    index, similarity = (np.concatenate(p) for p in zip(*parts))
    return index.astype(np.int64), similarity
