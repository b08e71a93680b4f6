"""Association between patterns and classes, and the random-label control.

Everything starts from a contingency table: patterns x classes, holding counts
(how often a pattern occurs in images of a class) or energy (the summed energy
shares). From it: mutual information in bits, normalized mutual information
(arithmetic mean of the two entropies, as scikit-learn's default), Cramer's V,
weighted purity, and per pattern its class distribution, entropy and lift.

The control permutes the labels across images, keeping each image's patterns,
and recomputes every statistic: a null distribution, a z-score and a
permutation p-value for the observed NMI.
"""

import numpy as np

from ._parallel import chunk_bounds, rows_per_chunk
from ._validation import check_fraction

__all__ = [
    "STATISTICS",
    "association_statistics",
    "class_signatures",
    "compare_with_random",
    "contingency_table",
    "noisy_labels",
    "pattern_profiles",
    "share_table",
]

STATISTICS = ("nmi", "mi_bits", "cramers_v", "purity")


def contingency_table(pattern_ids, labels, n_patterns, n_classes, *, weights=None):
    """Patterns x classes table from each image's pattern ids and its label.

    Parameters
    ----------
    pattern_ids : ndarray of shape (n_images,) or (n_images, m)
        Pattern ids per image; negative ids are skipped.
    labels : ndarray of shape (n_images,)
    n_patterns, n_classes : int
    weights : ndarray shaped like ``pattern_ids``, default=None
        Weight of each occurrence (counts when None).

    Returns
    -------
    ndarray of shape (n_patterns, n_classes)
    """
    ids = np.asarray(pattern_ids).reshape(len(labels), -1)
    label_per_id = np.broadcast_to(np.asarray(labels)[:, None], ids.shape)
    keep = ids >= 0
    flat = ids[keep].astype(np.int64) * n_classes + label_per_id[keep]
    w = None if weights is None else np.broadcast_to(np.asarray(weights).reshape(ids.shape), ids.shape)[keep]
    counts = np.bincount(flat, weights=w, minlength=n_patterns * n_classes)
    return counts.reshape(n_patterns, n_classes).astype(np.float64)


def _entropy_bits(p):
    p = p[p > 0]
    return float(-(p * np.log2(p)).sum())


def association_statistics(table):
    """Mutual information (bits), NMI, Cramer's V and weighted purity of a table.

    Parameters
    ----------
    table : ndarray of shape (n_patterns, n_classes)
        Counts or weights.

    Returns
    -------
    dict
        ``nmi``, ``mi_bits``, ``cramers_v``, ``purity``.
    """
    table = np.asarray(table, dtype=np.float64)
    total = table.sum()
    if total <= 0:
        return dict.fromkeys(STATISTICS, 0.0)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    joint = table / total
    rows, cols = joint.sum(axis=1), joint.sum(axis=0)
    nonzero = joint > 0
    expected = np.outer(rows, cols)
    mi = float((joint[nonzero] * np.log2(joint[nonzero] / expected[nonzero])).sum())
    mi = max(mi, 0.0)
    h_rows, h_cols = _entropy_bits(rows), _entropy_bits(cols)
    mean_entropy = (h_rows + h_cols) / 2
    nmi = mi / mean_entropy if mean_entropy > 0 else 0.0
    chi2 = total * float((joint ** 2 / expected).sum() - 1.0)
    dof = min(table.shape) - 1
    cramers_v = float(np.sqrt(max(chi2, 0.0) / (total * dof))) if dof > 0 else 0.0
    purity = float(table.max(axis=1).sum() / total)
    return {"nmi": float(nmi), "mi_bits": mi, "cramers_v": cramers_v, "purity": purity}


def pattern_profiles(table, class_names):
    """Per pattern: its size, class distribution, entropy and most associated class.

    The most associated class is the one with the highest lift
    P(class | pattern) / P(class).

    Returns
    -------
    list of dict
        One per pattern: ``pattern``, ``total``, ``entropy_bits``,
        ``top_class``, ``lift``, ``distribution`` (class -> share).
    """
    table = np.asarray(table, dtype=np.float64)
    class_share = table.sum(axis=0) / max(table.sum(), 1e-300)
    profiles = []
    for pattern, row in enumerate(table):
        total = row.sum()
        dist = row / total if total > 0 else np.zeros_like(row)
        with np.errstate(divide="ignore", invalid="ignore"):
            lift = np.where(class_share > 0, dist / class_share, 0.0)
        best = int(lift.argmax())
        profiles.append({
            "pattern": pattern,
            "total": float(total),
            "entropy_bits": _entropy_bits(dist),
            "top_class": class_names[best] if total > 0 else None,
            "lift": float(lift[best]) if total > 0 else 0.0,
            "distribution": {name: float(x) for name, x in zip(class_names, dist)},
        })
    return profiles


def class_signatures(table, class_names, *, top=5, min_share=0.01):
    """Per class, its signature patterns: highest lift among its common patterns.

    A pattern counts for a class when it holds at least ``min_share`` of the
    class's occurrences, so that rare patterns with a lucky lift are left out.

    Returns
    -------
    dict
        class name -> list of ``{"pattern", "lift", "share_of_class"}``.
    """
    table = np.asarray(table, dtype=np.float64)
    pattern_share = table.sum(axis=1) / max(table.sum(), 1e-300)
    signatures = {}
    for c, name in enumerate(class_names):
        column = table[:, c]
        if column.sum() <= 0:
            signatures[name] = []
            continue
        share_of_class = column / column.sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            lift = np.where(pattern_share > 0, share_of_class / pattern_share, 0.0)
        candidates = np.flatnonzero(share_of_class >= min_share)
        best = candidates[np.argsort(-lift[candidates], kind="stable")[:top]]
        signatures[name] = [{"pattern": int(p), "lift": float(lift[p]),
                             "share_of_class": float(share_of_class[p])} for p in best]
    return signatures


def compare_with_random(table_for, labels, *, repeats=5, random_state=0):
    """Statistics with the true labels and with ``repeats`` random permutations of them.

    Parameters
    ----------
    table_for : callable
        ``table_for(labels)`` returns the patterns x classes table for labels.
    labels : ndarray of shape (n_images,)
    repeats : int, default=5
    random_state : int, default=0

    Returns
    -------
    dict
        ``true`` (the statistics), ``random`` (their means over permutations,
        ``<statistic>_std`` and ``repeats``), and for NMI a ``z_score``
        ((true - mean) / std) and a permutation ``p_value``
        ((1 + #{random >= true}) / (repeats + 1)).
    """
    true = association_statistics(table_for(labels))
    result = {"true": true}
    if repeats < 1:
        return result
    rng = np.random.default_rng(random_state)
    null = [association_statistics(table_for(rng.permutation(labels))) for _ in range(repeats)]
    random = {}
    for key in STATISTICS:
        values = np.array([n[key] for n in null])
        random[key] = float(values.mean())
        random[f"{key}_std"] = float(values.std(ddof=1)) if repeats > 1 else 0.0
    random["repeats"] = repeats
    result["random"] = random
    nulls = np.array([n["nmi"] for n in null])
    std = random["nmi_std"]
    result["z_score"] = float((true["nmi"] - random["nmi"]) / std) if std > 0 else None
    result["p_value"] = float((1 + (nulls >= true["nmi"]).sum()) / (repeats + 1))
    return result


def share_table(shares, labels, n_classes):
    """Patterns x classes table of summed shares: how much of each pattern each class holds.

    Parameters
    ----------
    shares : ndarray of shape (n_images, n_patterns)
        Each image's share of each pattern.
    """
    # By blocks of rows (one block for all but the largest datasets), so that shares
    # kept on disk are read a block at a time.
    block = rows_per_chunk(len(labels), shares.shape[1] * shares.dtype.itemsize)
    table = np.zeros((shares.shape[1], n_classes))
    for start, stop in chunk_bounds(len(labels), max(1, block)):
        one_hot = np.zeros((stop - start, n_classes), dtype=shares.dtype)
        one_hot[np.arange(stop - start), labels[start:stop]] = 1
        table += shares[start:stop].T @ one_hot
    return table


def noisy_labels(labels, fraction, n_classes, *, random_state=0):
    """Replace a fraction of the labels by labels drawn uniformly at random.

    ``round(fraction * n)`` images, chosen at random, get a label drawn
    uniformly from all classes (so some keep their label by chance). A
    fraction of 1 gives the paper's randomly labeled dataset.
    """
    fraction = check_fraction(fraction, "label_noise")
    rng = np.random.default_rng(random_state)
    labels = np.array(labels, copy=True)
    chosen = rng.choice(len(labels), size=int(round(fraction * len(labels))), replace=False)
    labels[chosen] = rng.integers(0, n_classes, size=len(chosen))
    return labels
