"""Feature selection on the dataset wavelet matrix (a row per image, a column per coefficient).

Two criteria, as the authors use:

- **Pivoted (rank-revealing) QR.** Greedy: take the coefficient with the
  largest residual norm, project it out of the others, repeat. Column-pivoted
  QR of W and diagonally pivoted Cholesky of the Gram matrix W^T W pick the
  same columns, so wavelens runs LAPACK's pivoted Cholesky (``?pstrf``) on the
  Gram matrix, which is accumulated chunk by chunk and never needs W whole.
- **Laplacian score** (He, Cai & Niyogi, 2005). On a similarity graph S with
  degrees d and Laplacian L = D - S, feature f scores
  f~^T L f~ / f~^T D f~ with f~ = f - (f^T d / sum d) 1: low scores mark
  features that vary little between neighbouring images, i.e. that respect
  the data's local structure. Features are ranked by increasing score.

Either way, features are kept in rank order up to ``n_features``, or until the
condition number of the kept columns would pass ``condition`` (about 1e5 in
the authors' work), and then at most ``max_features`` of them. The condition number of nested column sets never
decreases, so the cut is found by bisection.
"""

from dataclasses import dataclass

import numpy as np

from .._parallel import DEFAULT_CHUNK_SIZE
from .._validation import WavelensError, param
from ..dataset_patterns import gram_matrix

__all__ = ["FeatureSelection", "laplacian_scores", "select_features"]

METHODS = ("qr", "laplacian", "all")


@dataclass
class FeatureSelection:
    """The coefficients kept, in rank order.

    Attributes
    ----------
    indices : ndarray of int
        Columns of the flattened wavelet matrix, best first.
    method : str
    condition_number : float
        Condition number of the kept columns.
    scores : ndarray or None
        Laplacian scores of all columns (``laplacian`` only).
    """

    indices: np.ndarray
    method: str
    condition_number: float
    scores: object = None

    def summary(self, n_total):
        finite = np.isfinite(self.condition_number)
        return {"method": self.method, "n_features": int(len(self.indices)), "n_total": int(n_total),
                "condition_number": float(self.condition_number) if finite else None}


def laplacian_scores(features, graph):
    """Laplacian score of every column of ``features`` on a similarity graph.

    Parameters
    ----------
    features : ndarray of shape (n_images, n_features)
    graph : scipy.sparse matrix of shape (n_images, n_images)
        Symmetric non-negative similarities.

    Returns
    -------
    ndarray of shape (n_features,)
        Lower is better; constant features score inf.
    """
    x = np.asarray(features, dtype=np.float64)
    degree = np.asarray(graph.sum(axis=1)).ravel()
    centered = x - (degree @ x) / degree.sum()
    spread = degree @ centered ** 2
    smoothness = spread - np.einsum("ij,ij->j", centered, graph @ centered)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(spread > 0, smoothness / spread, np.inf)


def _condition(gram, indices):
    eigenvalues = np.linalg.eigvalsh(gram[np.ix_(indices, indices)])
    if eigenvalues[0] <= 0:
        return np.inf
    return float(np.sqrt(eigenvalues[-1] / eigenvalues[0]))


def _cut_at_condition(gram, order, condition):
    """Longest prefix of ``order`` whose columns' condition number is at most ``condition``."""
    low, high = 1, len(order)
    if _condition(gram, order[:high]) <= condition:
        return high
    while low < high:
        middle = (low + high + 1) // 2
        if _condition(gram, order[:middle]) <= condition:
            low = middle
        else:
            high = middle - 1
    return low


def _pivoted_cholesky_order(gram):
    from scipy.linalg import lapack

    factor, pivots, rank, info = lapack.dpstrf(gram, lower=0, tol=-1.0)
    if info < 0:
        raise RuntimeError(f"LAPACK dpstrf failed with info={info}")
    # Columns past the numerical rank are dependent on the ones before.
    return pivots[:max(rank, 1)] - 1


def select_features(rows, *, method="qr", n_features=None, condition=1e5, max_features=None, graph=None,
                    chunk_size=DEFAULT_CHUNK_SIZE):
    """Choose wavelet coefficients to keep.

    Parameters
    ----------
    rows : ndarray of shape (n_images, ...)
        The dataset, a row per image once flattened.
    method : {'qr', 'laplacian', 'all'}, default='qr'
    n_features : int, default=None
        Keep this many (best first). When None, keep features while their
        condition number stays at most ``condition``.
    condition : float, default=1e5
    max_features : int, default=None
        With ``condition``: keep at most this many.
    graph : scipy.sparse matrix, default=None
        Similarity graph, needed by ``laplacian``.

    Returns
    -------
    FeatureSelection
    """
    if method not in METHODS:
        raise WavelensError(f"Unknown feature selection {method!r}: expected one of {', '.join(METHODS)}.")
    if condition is not None and not condition >= 1:
        raise WavelensError(f"The '{param('condition')}' parameter must be a number >= 1; got {condition}.")
    gram = gram_matrix(rows, chunk_size=chunk_size)
    n_total = gram.shape[0]
    scores = None
    if method == "all":
        order = np.arange(n_total)
    elif method == "qr":
        order = _pivoted_cholesky_order(gram)
    else:
        if graph is None:
            raise WavelensError("The Laplacian score needs a similarity graph.")
        scores = laplacian_scores(np.asarray(rows).reshape(len(rows), -1), graph)
        order = np.argsort(scores, kind="stable")
        order = order[np.isfinite(scores[order])]
    if n_features is not None:
        if n_features > n_total:
            raise WavelensError(
                f"{param('n_features', n_features)} is more than the {n_total} wavelet coefficients per image."
            )
        keep = min(n_features, len(order))
    elif method == "all":
        keep = n_total
    else:
        keep = _cut_at_condition(gram, order, condition)
    if n_features is None and max_features is not None:
        keep = min(keep, max_features)
    indices = np.asarray(order[:keep])
    return FeatureSelection(indices, method, _condition(gram, indices), scores)
