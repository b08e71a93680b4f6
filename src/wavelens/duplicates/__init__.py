"""Near-duplicate images of a dataset, or between two (test against train): the pipeline and its result.

Pure computation: :func:`find_near_duplicates` takes datasets and returns a
:class:`DuplicateAnalysis`. Exact copies are found by a digest of the pixels;
near-duplicates by :mod:`wavelens.duplicates.near` (candidates by coarse
descriptors, verified by the best correlation over small shifts, flagged when
they stand out from each image's nearest neighbours). The fixed-cosine pair
search of earlier versions stays available as
:func:`wavelens.duplicates.search.find_duplicates`.
"""

import os
import time
from pathlib import Path
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .._validation import WavelensError, check_fraction, check_n_jobs, check_positive_int, param
from .._version import __version__
from .near import flag, score_candidates
from .search import DuplicatePairs, _exact_pairs, image_digests
from ..summaries import duplicates_findings
from ..datasets import Dataset
from ..datasets._base import check_dataset

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DuplicateAnalysis", "find_near_duplicates"]


@dataclass(repr=False)
class DuplicateAnalysis:
    """Near-duplicate pairs within ``dataset_a``, or between ``dataset_a`` and ``dataset_b``, and their groups.

    Attributes
    ----------
    dataset_a, dataset_b : Dataset
        ``dataset_b`` is ``dataset_a`` for a search within one dataset.
    pairs : DuplicatePairs
        Rows of A and B (``pairs.index_a``, ``pairs.index_b``: rows of the Datasets
        passed in, as ``row_a`` and ``row_b`` of :attr:`pairs_table`), similarity
        (the verified score, 1 for exact copies), whether they are exact copies and
        the reference similarity each pair stood out from; pairs whose labels
        disagree first, then the most similar.
    params : dict
    within : bool
    timings_s : dict

    Notes
    -----
    Each image of a pair is named three ways in :attr:`pairs_table`: ``id_a`` /
    ``id_b``, its id (unique and stable, see :attr:`wavelens.Dataset.ids`);
    ``row_a`` / ``row_b``, its row in the Dataset passed in (``dataset.pixels[row]``,
    ``dataset.select_images(rows)``, ``dataset.ids[row]``); and ``index_a`` /
    ``index_b``, its position in the whole split it was loaded from
    (:attr:`wavelens.Dataset.index`), which is the row only when the whole split
    was loaded: with ``limit``, ``index`` can run past the Dataset's last row.
    :attr:`per_image` has a row per image of A in the order of its rows, and names
    each one's best match by its id (``best_match``).

    Examples
    --------
    >>> import wavelens
    >>> digits = wavelens.load_dataset("digits")
    >>> found = wavelens.find_near_duplicates(digits)
    >>> found.pairs_table.columns[:4].tolist()
    ['id_a', 'id_b', 'similarity', 'exact']
    """

    dataset_a: object
    dataset_b: object
    pairs: DuplicatePairs
    params: dict
    within: bool
    timings_s: dict = field(default_factory=dict)
    command: str = None

    def __repr__(self):
        a, b = self.dataset_a, self.dataset_b
        where = f"{a.name} ({a.split})" if self.within else f"{a.name} ({a.split}) vs {b.name} ({b.split})"
        return (f"DuplicateAnalysis({where}: {len(self.pairs)} pairs in {self.n_groups} groups, "
                f"{int(self.pairs.exact.sum())} exact)")

    @property
    def labels_disagree(self) -> np.ndarray:
        """Whether each pair's class names differ (by name: two datasets may number their classes
        differently); always False when either dataset has no labels."""
        return _labels_disagree(self.dataset_a, self.dataset_b, self.pairs.index_a, self.pairs.index_b)

    def _components(self):
        """(group of each image of A, group of each image of B or None within, number of groups): the
        connected components of the pairs, numbered by their first image; -1 for images in no pair."""
        import scipy.sparse as sp
        from scipy.sparse.csgraph import connected_components

        p, n_a = self.pairs, self.dataset_a.n_images
        n_b = 0 if self.within else self.dataset_b.n_images
        ends_b = p.index_b if self.within else p.index_b + n_a
        graph = sp.coo_matrix((np.ones(len(p)), (p.index_a, ends_b)), shape=(n_a + n_b,) * 2)
        _, label = connected_components(graph, directed=False)
        in_pair = np.zeros(n_a + n_b, dtype=bool)
        in_pair[p.index_a] = True
        in_pair[ends_b] = True
        # Number the groups 0, 1, ... in the order of their first image (A before B).
        first = {}
        group = np.full(n_a + n_b, -1, dtype=np.int64)
        for node in np.flatnonzero(in_pair):
            group[node] = first.setdefault(label[node], len(first))
        return group[:n_a], (None if self.within else group[n_a:]), len(first)

    @property
    def n_groups(self) -> int:
        """The number of groups: connected components of the pairs (a group holds images that are
        near-duplicates of each other, directly or through others)."""
        return self._components()[2]

    @property
    def pairs_table(self) -> "pd.DataFrame":
        """A pandas DataFrame with a row per pair, label-disagreeing pairs first, then the most similar:
        both images' ids (and file paths when they have them), the similarity (the best correlation
        over small shifts; 1 for exact copies), whether the pixels are identical, ``index_a`` /
        ``index_b`` (positions in the whole split) and ``row_a`` / ``row_b`` (rows of the Datasets
        passed in: ``dataset_a.pixels[row_a]``), labels and class names, whether the labels disagree
        (False when either dataset has no labels), the ``reference`` similarity of the query image's
        reference neighbour the pair stood out from, and the pair's ``group``."""
        import pandas as pd

        a, b, p = self.dataset_a, self.dataset_b, self.pairs
        columns = {"id_a": a.ids[p.index_a], "id_b": b.ids[p.index_b],
                   "similarity": p.similarity, "exact": p.exact}
        for side, data, rows in (("a", a, p.index_a), ("b", b, p.index_b)):
            if data.paths is not None:
                columns[f"path_{side}"] = np.asarray(data.paths)[rows]
            columns[f"index_{side}"] = data.index[rows]
            columns[f"row_{side}"] = np.asarray(rows, dtype=np.int64)
            columns[f"label_{side}"] = data.labels[rows]
            columns[f"class_{side}"] = np.asarray(data.class_names, dtype=object)[data.labels[rows]]
        columns["labels_disagree"] = self.labels_disagree
        columns["reference"] = p.reference if p.reference is not None else np.full(len(p), np.nan)
        columns["group"] = self._components()[0][p.index_a]
        return pd.DataFrame(columns)

    @property
    def groups_table(self) -> "pd.DataFrame":
        """A pandas DataFrame with a row per group of near-duplicates: ``group``, ``n_images_a`` and
        ``n_images_b`` (within one dataset: ``n_images``), ``n_pairs``, ``classes`` (class names,
        ``;``-separated) and ``labels_disagree`` (the group's labeled images hold more than one class;
        False when no dataset has labels)."""
        import pandas as pd

        a, b, p = self.dataset_a, self.dataset_b, self.pairs
        group_a, group_b, n = self._components()
        names_a = np.asarray(a.class_names, dtype=object)[a.labels]
        names_b = np.asarray(b.class_names, dtype=object)[b.labels]
        classes = [set() for _ in range(n)]
        labeled = [set() for _ in range(n)]  # the classes of labeled images only, for labels_disagree
        for group, names, data in ((group_a, names_a, a), (group_b, names_b, b)):
            if group is None:
                continue
            for g, name in zip(group[group >= 0], names[group >= 0]):
                classes[g].add(name)
                if data.labeled:
                    labeled[g].add(name)
        table = {"group": np.arange(n)}
        if self.within:
            table["n_images"] = np.bincount(group_a[group_a >= 0], minlength=n)
        else:
            table["n_images_a"] = np.bincount(group_a[group_a >= 0], minlength=n)
            table["n_images_b"] = np.bincount(group_b[group_b >= 0], minlength=n)
        table["n_pairs"] = np.bincount(group_a[p.index_a], minlength=n)
        table["classes"] = [";".join(sorted(map(str, c))) for c in classes]
        table["labels_disagree"] = np.array([len(c) > 1 for c in labeled], dtype=bool)
        return pd.DataFrame(table)

    @property
    def per_image(self) -> "pd.DataFrame":
        """A pandas DataFrame with a row per image of A: its id (and path), label, class name, how
        many near-duplicates it has (``n_duplicates``), its ``duplicate_group`` (-1: none), its most
        similar near-duplicate (``best_match``) and their similarity (``duplicate_score``; NaN: none)."""
        import pandas as pd

        a = self.dataset_a
        ends, others, similarity = self._ends()
        count = np.bincount(ends, minlength=a.n_images)
        best = np.full(a.n_images, np.nan)
        best_id = np.full(a.n_images, None, dtype=object)
        order = np.lexsort((-others, similarity))  # each image's best pair is written last
        best[ends[order]] = similarity[order]
        best_id[ends[order]] = self.dataset_b.ids[others[order]]
        return pd.DataFrame({**a.image_columns(), "n_duplicates": count, "duplicate_group": self._components()[0],
                             "duplicate_score": best, "best_match": best_id})

    def _ends(self):
        """(image of A, its match, similarity) for every pair; within one dataset each pair i < j
        is stored once and counts for both of its images."""
        p = self.pairs
        if not self.within:
            return p.index_a, p.index_b, p.similarity
        return (np.concatenate([p.index_a, p.index_b]), np.concatenate([p.index_b, p.index_a]),
                np.concatenate([p.similarity, p.similarity]))

    def to_dict(self) -> dict:
        """The JSON-ready record written to ``summary.json``."""
        p = self.pairs
        ends, others, _ = self._ends()
        disagree = self.labels_disagree
        counts = {
            "n_pairs": int(len(p)),
            "n_exact": int(p.exact.sum()),
            "n_labels_disagree": int(disagree.sum()),
            "n_images_a_with_duplicate": int(len(np.unique(ends))),
            "n_images_b_with_duplicate": int(len(np.unique(others))),
            "n_groups": int(self.n_groups),
        }
        return {
            "wavelens_version": __version__,
            "command": self.command,
            "dataset_a": self.dataset_a.record(),
            "dataset_b": None if self.within else self.dataset_b.record(),
            "params": dict(self.params),
            "duplicates": counts,
            "timings_s": {k: round(v, 4) for k, v in self.timings_s.items()},
        }

    def summary(self) -> str:
        """What the search found and what to do about it, in plain words (what the command line prints)."""
        return "\n".join(duplicates_findings(self.to_dict()))

    def save(self, folder: "str | os.PathLike", *, overwrite: bool = False, report: bool = True) -> dict:
        """Write ``duplicates.csv``, ``summary.json`` and the report into ``folder``, all or nothing."""
        from ..results import write_duplicates

        return write_duplicates(self, folder, overwrite=overwrite, report=report)

    def report(self, path: "str | os.PathLike", *, overwrite: bool = False) -> Path:
        """Write the HTML report to the file ``path`` (one self-contained page); returns the path."""
        from ..results import write_report

        return write_report(self, path, overwrite=overwrite)


def _labels_disagree(dataset_a, dataset_b, rows_a, rows_b):
    """Whether the class names of rows ``rows_a`` of A and ``rows_b`` of B differ; False throughout when
    either dataset has no labels (its one class, "(unlabeled)", says nothing against the other's)."""
    if not (dataset_a.labeled and dataset_b.labeled):
        return np.zeros(len(rows_a), dtype=bool)
    names_a = np.asarray(dataset_a.class_names, dtype=object)[dataset_a.labels[rows_a]]
    names_b = np.asarray(dataset_b.class_names, dtype=object)[dataset_b.labels[rows_b]]
    return names_a != names_b


def _check_ratio(ratio):
    if ratio is None:
        return None
    return check_fraction(ratio, "ratio", low_open=True)


def _exact(dataset_a, b, within):
    """Pairs of identical images, by a digest of the pixels as stored when both hold one kind of
    integer pixels (float images are scaled by each dataset's own largest value, which two copies
    need not share), else of the float32 images."""
    stored_a, stored_b = dataset_a.stored[0], b.stored[0]
    same_kind = dataset_a.pixel_max is not None and stored_a.dtype == stored_b.dtype
    digests_a = image_digests(stored_a if same_kind else dataset_a.images)
    digests_b = digests_a if within else image_digests(stored_b if same_kind else b.images)
    return _exact_pairs(digests_a, digests_b, within)


def _merge(a, b, score, reference, exact_pairs):
    """Flagged pairs and exact copies in one DuplicatePairs (exact copies score 1)."""
    known = dict(zip(zip(a.tolist(), b.tolist()), range(len(a))))
    exact = np.zeros(len(a), dtype=bool)
    missing = []
    for pair in sorted(exact_pairs):
        if pair in known:
            exact[known[pair]] = True
        else:
            missing.append(pair)
    extra = np.array(missing, dtype=np.int64).reshape(-1, 2)
    a = np.concatenate([a, extra[:, 0]]).astype(np.int64)
    b = np.concatenate([b, extra[:, 1]]).astype(np.int64)
    score = np.concatenate([score, np.ones(len(extra))])
    reference = np.concatenate([reference, np.full(len(extra), np.nan)])
    exact = np.concatenate([exact, np.ones(len(extra), dtype=bool)])
    score = np.where(exact, 1.0, np.clip(score, -1.0, 1.0))
    return DuplicatePairs(a, b, score, exact, np.where(np.isfinite(reference), reference, np.nan))


def find_near_duplicates(dataset_a: Dataset, dataset_b: Dataset | None = None, *, threshold: float = 0.9,
                         ratio: float | None = 0.25, n_neighbors: int = 8, max_shift: int = 2, size: int = 32,
                         n_jobs: int | None = -1, params: dict | None = None) -> DuplicateAnalysis:
    """Exact copies and near-duplicates within a dataset, or of the images of A among those of B.

    Exact copies are images with identical pixels (a digest of each). Near-duplicates
    are found in three steps, on every image made gray (the mean of its channels) and
    area-resized to at most ``size`` pixels a side:

    1. *Candidates*: each image of A's ``n_neighbors`` nearest images of B (within one
       dataset: of A) by the cosine of a coarse descriptor, the 8 x 8 area average of the
       image at 16 pixels a side (the Haar approximation band), centered and at unit
       length, in two lists: the image as it is, or with either image *zoomed in* to its
       central 92% and moved by a pixel (crops resized back, also those that cut off part
       of the content); and *posed* (its intensity centroid moved to the center and its
       spread scaled to a fixed size, which undoes shifts and most crops). On images
       under 16 pixels a side the first list is plain, and a third takes the best cosine
       over the image's versions shifted by up to ``max_shift`` pixels. Chunked exact
       search: memory grows with the number of images, never their square.
    2. *Verification*: on images of at least 16 pixels a side, each image's candidates are
       ranked by their *aligned* correlation at 16 pixels: a zoom (0.8 to 1.25) and a
       sub-pixel shift fitted by Gauss-Newton steps, the overlap correlated as is and with
       either image slightly blurred. The 2 best (and the 6th, where a pair could pass) are
       then scored by the same aligned correlation at the working size; the others keep the
       best Pearson correlation of the two images over shifts of up to ``max_shift`` pixels
       (at the original size) on the pixels they share. On smaller images nothing is aligned:
       the score is the better shifted correlation of the images as they are and posed.
       Correlation ignores brightness and contrast; shifts and small zooms are undone.
    3. *The cut adapts to the dataset*: a candidate is flagged when its similarity s is
       at least ``threshold`` and its distance 1 - s is at most ``ratio`` times the image's
       distance to its 6th most similar candidate (the reference): a copy stands out from
       the images that merely look alike. In a dataset of very alike images (Fashion-MNIST:
       most images have another at correlation 0.93 or more) a fixed cut flags thousands of
       different garments of one outline; the ratio keeps only the pairs far closer than
       that. Within one dataset a pair is flagged when it stands out from either end.

    Limits: a group of more than 5 copies of one image raises the reference and can hide
    them (they are exact copies if identical); copies further apart than their
    ``n_neighbors`` nearest images by descriptor are not seen (about 1 in 20 crops of 5 to
    10% of Fashion-MNIST); a copy resized to 60-80% and back is a blurred copy, and blurred
    it looks as much like other items of one outline as like its source (1 in 10 such copies
    of Fashion-MNIST missed, and 1 in 10 of the pairs flagged for them wrong); on images under
    16 pixels a side (8 x 8 digits) nothing is aligned, so crops and resizing are not found
    there (``benchmarks/bench_duplicates.py`` measures each kind of change); two different
    images of one simple shape (a plain T-shirt photographed twice) may be flagged.

    Parameters
    ----------
    dataset_a : Dataset
    dataset_b : Dataset, default=None
        Look for each image of A among those of B (e.g. test against train: leakage);
        None searches within A.
    threshold : float, default=0.9
        In (0, 1]: the lowest similarity (correlation) of a near-duplicate pair.
    ratio : float or None, default=0.25
        In (0, 1]: how far a pair must stand out (1 - s <= ratio * (1 - reference)).
        None: no such test, every candidate with similarity >= ``threshold`` is flagged
        (a fixed cut; then set ``threshold`` high, e.g. 0.99).
    n_neighbors : int, default=8
        Candidates per image and descriptor (at least 6 for the reference to exist).
    max_shift : int, default=2
        Largest shift undone, in pixels of the original images.
    size : int, default=32
        Images are compared at most this many pixels a side (at least 8).
    n_jobs : int or None, default=-1
        Threads: -1 uses every core, -2 all but one, None one (as in scikit-learn).
    params : dict, default=None
        Further options to record (loader options...).

    Returns
    -------
    DuplicateAnalysis

    Examples
    --------
    >>> import numpy as np
    >>> import wavelens
    >>> rng = np.random.default_rng(0)
    >>> train = wavelens.from_arrays(rng.integers(0, 256, (20, 8, 8), dtype=np.uint8), ["a", "b"] * 10)
    >>> test = wavelens.from_arrays(train.pixels[[3, 7]], ["b", "a"])  # two copies, one relabelled
    >>> leaks = wavelens.find_near_duplicates(test, train)
    >>> leaks.pairs_table[["index_a", "index_b", "exact", "labels_disagree"]].values.tolist()
    [[1, 7, True, True], [0, 3, True, False]]
    """
    check_dataset(dataset_a, "dataset_a")
    if dataset_b is not None:
        check_dataset(dataset_b, "dataset_b")
    threshold = check_fraction(threshold, "threshold", low_open=True)
    ratio = _check_ratio(ratio)
    n_neighbors = check_positive_int(n_neighbors, "n_neighbors", minimum=6)
    max_shift = check_positive_int(max_shift, "max_shift", minimum=0)
    size = check_positive_int(size, "size", minimum=8)
    check_n_jobs(n_jobs)
    within = dataset_b is None
    b = dataset_a if within else dataset_b
    if b.image_shape != dataset_a.image_shape:
        raise WavelensError(f"{param('dataset_a')} has images of shape {dataset_a.image_shape} but "
                            f"{param('dataset_b')} of {b.image_shape}; compare datasets of one image size "
                            "(resize one of them).")
    timings = {}
    start = time.perf_counter()
    exact_pairs = _exact(dataset_a, b, within)
    timings["exact"] = time.perf_counter() - start
    start = time.perf_counter()
    stored_a, max_a = dataset_a.stored
    stored_b, max_b = (None, None) if within else b.stored
    candidates = score_candidates(stored_a, max_a, stored_b, max_b, size=size, n_neighbors=n_neighbors,
                                  max_shift=max_shift, threshold=threshold, ratio=ratio, n_jobs=n_jobs)
    timings["search"] = time.perf_counter() - start
    a, j, score, reference = flag(candidates, threshold=threshold, ratio=ratio, within=within)
    pairs = _merge(a, j, score, reference, exact_pairs)
    disagree = _labels_disagree(dataset_a, b, pairs.index_a, pairs.index_b)
    order = np.lexsort((pairs.index_b, pairs.index_a, -pairs.similarity, ~disagree))
    pairs = DuplicatePairs(pairs.index_a[order], pairs.index_b[order], pairs.similarity[order], pairs.exact[order],
                           pairs.reference[order])
    recorded = {"threshold": threshold, "ratio": ratio, "n_neighbors": n_neighbors, "max_shift": max_shift,
                "size": size, "split": dataset_a.split, "split_b": None if within else b.split, **(params or {})}
    return DuplicateAnalysis(dataset_a, b, pairs, recorded, within, timings_s=timings)
