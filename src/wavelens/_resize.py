"""Resampling of image stacks: area (box) averaging, each output pixel the mean of the input area it
covers, and bilinear interpolation (for enlarging)."""

import numpy as np

__all__ = ["area_matrix", "area_resize", "bilinear_matrix"]


def area_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Weights of area (box) resampling of ``n_in`` pixels to ``n_out``: ``(n_out, n_in)``, rows sum to 1.

    Examples
    --------
    >>> area_matrix(4, 2).tolist()
    [[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.5, 0.5]]
    """
    edges = np.arange(n_out + 1) * (n_in / n_out)
    k = np.arange(n_in)[None, :]
    weights = np.clip(np.minimum(edges[1:, None], k + 1) - np.maximum(edges[:-1, None], k), 0, None)
    return (weights / weights.sum(1, keepdims=True)).astype(np.float32)


def bilinear_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Weights of bilinear resampling of ``n_in`` pixels to ``n_out`` (pixel centers aligned, edges
    repeated): ``(n_out, n_in)``, rows sum to 1.

    Examples
    --------
    >>> bilinear_matrix(2, 4).tolist()
    [[1.0, 0.0], [0.75, 0.25], [0.25, 0.75], [0.0, 1.0]]
    """
    x = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
    left = np.minimum(np.floor(x).astype(np.int64), n_in - 1)
    right = np.minimum(left + 1, n_in - 1)
    weights = np.zeros((n_out, n_in))
    np.add.at(weights, (np.arange(n_out), left), 1 - (x - left))
    np.add.at(weights, (np.arange(n_out), right), x - left)
    return weights.astype(np.float32)


def area_resize(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Images of shape (n, h, w[, c]) averaged over areas to (n, size_h, size_w[, c]).

    Fractions of pixels are weighted, so nothing aliases.

    >>> area_resize(np.arange(16, dtype=np.float32).reshape(1, 4, 4), (2, 2))[0].tolist()
    [[2.5, 4.5], [10.5, 12.5]]
    """
    images = np.asarray(images, dtype=np.float32)
    rows = area_matrix(images.shape[1], size[0])
    columns = area_matrix(images.shape[2], size[1])
    if images.ndim == 4:
        return np.einsum("ih,nhwc,jw->nijc", rows, images, columns, optimize=True)
    return np.einsum("ih,nhw,jw->nij", rows, images, columns, optimize=True)
