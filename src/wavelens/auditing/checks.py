"""The audit's checks, each a pure function of the neighbour graph, labels or pixels.

- :func:`label_error_scores`: how strongly an image's neighbours speak for another class
  than its label (leave-one-out label spreading on the kNN graph);
- :func:`pattern_label_scores`: the same question asked of the pattern dictionary;
- :func:`outlier_scores`: how far an image lies from everything, and from its class;
- :func:`information_scores`: images that are blank, constant or clipped;
- :func:`class_overlap`: which classes share neighbourhoods.
"""

import numpy as np

from .neighbors import Neighbors, neighbor_graph

__all__ = ["class_overlap", "clipped_share", "information_scores", "label_error_scores", "outlier_scores", "pattern_label_scores",
           "robust_z"]

SPREAD_STEPS = 2
SPREAD_ALPHA = 0.5


def label_error_scores(neighbors: Neighbors, labels, n_classes, *, steps=SPREAD_STEPS, alpha=SPREAD_ALPHA):
    """Label-error score, suggested label and class support of every image.

    The labels are spread over the symmetric neighbour graph (label spreading,
    Zhou et al. 2004: F <- alpha P F + (1 - alpha) Y, ``steps`` times, P the
    row-normalized graph), and each image is then judged by what its neighbours
    hold, s = P F, so its own label enters only through paths of two edges or
    more (leave-one-out). The score is ``b / (b + s_label)``, with b the support
    of the best other class: 0 when the neighbours all agree with the label,
    0.5 when another class is supported as much, 1 when nothing supports it.

    Returns
    -------
    score : ndarray of shape (n_images,)
    suggested : ndarray of int, shape (n_images,)
        The best-supported class other than the label.
    support : ndarray of shape (n_images, n_classes)
        The class support s, each row summing to 1.

    Examples
    --------
    >>> from wavelens.auditing.neighbors import nearest_neighbors
    >>> points = np.array([[0.0], [0.1], [0.2], [0.3], [5.0], [5.1], [5.2], [5.3]])
    >>> found = nearest_neighbors(points, n_neighbors=3)
    >>> score, suggested, _ = label_error_scores(found, np.array([0, 0, 0, 1, 1, 1, 1, 1]), 2)
    >>> int(np.argmax(score)), int(suggested[3])
    (3, 0)
    """
    labels = np.asarray(labels)
    graph = neighbor_graph(neighbors)
    degree = np.asarray(graph.sum(axis=1)).ravel()
    import scipy.sparse as sp

    transition = sp.diags(1.0 / np.maximum(degree, 1e-300)) @ graph
    given = np.zeros((len(labels), n_classes))
    given[np.arange(len(labels)), labels] = 1.0
    spread = given
    for _ in range(steps):
        spread = alpha * (transition @ spread) + (1 - alpha) * given
    support = transition @ spread
    support /= np.maximum(support.sum(axis=1, keepdims=True), 1e-300)
    own = support[np.arange(len(labels)), labels]
    others = support.copy()
    others[np.arange(len(labels)), labels] = -1.0
    suggested = others.argmax(axis=1)
    best_other = others[np.arange(len(labels)), suggested]
    total = best_other + own
    score = np.divide(best_other, total, out=np.zeros_like(total), where=total > 0)
    return score, suggested, support


def pattern_label_scores(image_patterns, labels, n_classes, n_patterns):
    """How little an image's pattern prototypes speak for its label, leaving the image out.

    Each prototype's class counts (how many images of each class hold it) are
    summed over the image's prototypes, its own occurrences taken out; the score
    is 1 minus the share of its label. Prototypes are coarse: the score is weak
    on classes that share outlines (see the README).

    Parameters
    ----------
    image_patterns : ndarray of int, shape (n_images, top_k)
        Each image's prototype ids (-1 for none).
    """
    labels = np.asarray(labels)
    ids = np.asarray(image_patterns)
    valid = ids >= 0
    counts = np.zeros((n_patterns, n_classes))
    rows = np.repeat(labels[:, None], ids.shape[1], axis=1)
    np.add.at(counts, (ids[valid], rows[valid]), 1.0)
    held = np.zeros((len(labels), n_classes))
    for column in range(ids.shape[1]):
        present = valid[:, column]
        held[present] += counts[ids[present, column]]
        held[present, labels[present]] -= 1.0  # leave the image out
    total = held.sum(axis=1)
    own = held[np.arange(len(labels)), labels]
    return np.where(total > 0, 1.0 - own / np.maximum(total, 1e-300), 0.0)


def robust_z(values, groups=None):
    """(x - median) / (1.4826 MAD), within each group when ``groups`` is given.

    >>> robust_z(np.array([1.0, 2.0, 3.0, 4.0, 100.0])).round(2).tolist()
    [-1.35, -0.67, 0.0, 0.67, 65.43]
    """
    values = np.asarray(values, dtype=np.float64)
    out = np.zeros_like(values)
    for members in ([np.arange(len(values))] if groups is None else
                    [np.flatnonzero(groups == g) for g in np.unique(groups)]):
        part = values[members]
        center = np.median(part)
        spread = 1.4826 * np.median(np.abs(part - center))
        if spread <= 0:
            spread = max(float(np.std(part)), 1e-12)
        out[members] = (part - center) / spread
    return out


def outlier_scores(neighbors: Neighbors, labels, *, n_near=10):
    """How far each image lies from everything and from its own class.

    ``isolation`` is the mean distance to the image's ``n_near`` nearest images;
    ``class_isolation`` the mean distance to its nearest images of its own class
    among its neighbours (the distance to the farthest neighbour when none of
    them shares its class). Both are returned as robust z-scores (the
    class one within each class).
    """
    labels = np.asarray(labels)
    distances = neighbors.distances.astype(np.float64)
    isolation = distances[:, :n_near].mean(axis=1)
    same = labels[neighbors.indices] == labels[:, None]
    near_same = np.cumsum(same, axis=1) <= n_near
    chosen = same & near_same
    counted = chosen.sum(axis=1)
    class_distance = np.where(counted > 0, (distances * chosen).sum(axis=1) / np.maximum(counted, 1),
                              distances[:, -1] * 1.5)
    return robust_z(isolation), robust_z(class_distance, labels), isolation, class_distance


def information_scores(images):
    """Per-image pixel statistics for a chunk of images: the spread (standard deviation), the lowest
    and highest value, and the shares of pixels at the lowest and at the highest value.

    With the extremes of the whole dataset, :func:`clipped_share` says which images are mostly
    black or white (whatever the range of the values).
    """
    flat = np.asarray(images, dtype=np.float32).reshape(len(images), -1)
    low, high = flat.min(axis=1), flat.max(axis=1)
    return (flat.std(axis=1), low, high, (flat == low[:, None]).mean(axis=1),
            (flat == high[:, None]).mean(axis=1))


def clipped_share(low, high, at_low, at_high):
    """The share of each image's pixels at the dataset's lowest or highest value (whichever is more),
    from :func:`information_scores`' columns."""
    at_dataset_low = np.where(low == low.min(), at_low, 0.0)
    at_dataset_high = np.where(high == high.max(), at_high, 0.0)
    return np.maximum(at_dataset_low, at_dataset_high)


def class_overlap(neighbors: Neighbors, labels, n_classes):
    """The (n_classes, n_classes) matrix whose row c is the class make-up of the neighbours of the
    images labeled c (each row sums to 1; an empty class gives a row of zeros).

    >>> from wavelens.auditing.neighbors import nearest_neighbors
    >>> found = nearest_neighbors(np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]]), n_neighbors=2)
    >>> class_overlap(found, np.array([0, 0, 0, 1, 1, 1]), 2).tolist()
    [[1.0, 0.0], [0.0, 1.0]]
    """
    labels = np.asarray(labels)
    counts = np.zeros((n_classes, n_classes))
    np.add.at(counts, (np.repeat(labels, neighbors.n_neighbors), labels[neighbors.indices].ravel()), 1.0)
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)


CLASS_GROUP_OVERLAP = 0.05


def class_groups(overlap, *, min_overlap=CLASS_GROUP_OVERLAP):
    """Groups of classes that mix, and the class-similarity graph's spectrum.

    The graph joins two classes with weight the mean of their two neighbourhood shares
    (``overlap[a, b]`` and ``overlap[b, a]``); in the spirit of the cumulative spectral
    gradient (Branchaud-Charron et al. 2019), its normalized Laplacian's eigenvalues
    say how separable the classes are (many near 0: classes in separate groups; all near
    1: everything mixes). The groups are the connected components of the pairs whose
    overlap is at least ``min_overlap``.

    Returns
    -------
    groups : list of list of int
        Classes in each group of two or more, largest group first.
    eigenvalues : ndarray of shape (n_classes,)

    Examples
    --------
    >>> m = np.array([[0.8, 0.2, 0.0], [0.3, 0.7, 0.0], [0.0, 0.01, 0.99]])
    >>> groups, eigenvalues = class_groups(m)
    >>> groups
    [[0, 1]]
    """
    import scipy.sparse as sp
    from scipy.sparse.csgraph import connected_components

    similar = (np.asarray(overlap, dtype=np.float64) + np.asarray(overlap, dtype=np.float64).T) / 2
    np.fill_diagonal(similar, 0.0)
    degree = similar.sum(axis=1)
    scale = np.divide(1.0, np.sqrt(degree), out=np.zeros_like(degree), where=degree > 0)
    laplacian = np.eye(len(similar)) - scale[:, None] * similar * scale[None, :]
    eigenvalues = np.clip(np.linalg.eigvalsh(laplacian), 0.0, None)
    _, component = connected_components(sp.csr_matrix(similar >= min_overlap), directed=False)
    groups = [np.flatnonzero(component == c).tolist() for c in np.unique(component)]
    groups = sorted((g for g in groups if len(g) > 1), key=lambda g: (-len(g), g))
    return groups, eigenvalues
