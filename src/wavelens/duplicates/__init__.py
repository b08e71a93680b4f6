"""Near-duplicate images of a dataset, or between two (test against train): the pipeline and its result.

Pure computation: :func:`find_near_duplicates` takes datasets and returns a
:class:`DuplicateAnalysis`; the pair search itself is
:func:`wavelens.duplicates.search.find_duplicates`.
"""

import os
import time
from pathlib import Path
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .._validation import WavelensError, check_fraction, check_n_jobs, param
from .._version import __version__
from .search import DuplicatePairs, find_duplicates
from ..summaries import duplicates_findings
from ..datasets import Dataset
from ..datasets._base import check_dataset
from ..transform import wavelet_transform

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["DuplicateAnalysis", "find_near_duplicates"]



@dataclass(repr=False)
class DuplicateAnalysis:
    """Near-duplicate pairs within ``dataset_a``, or between ``dataset_a`` and ``dataset_b``.

    Attributes
    ----------
    dataset_a, dataset_b : Dataset
        ``dataset_b`` is ``dataset_a`` for a search within one dataset.
    pairs : DuplicatePairs
        Positions in A and B, cosine similarity, exact copies; most similar first.
    params : dict
    timings_s : dict

    Examples
    --------
    >>> import wavelens
    >>> digits = wavelens.load_dataset("digits")
    >>> found = wavelens.find_near_duplicates(digits, threshold=0.99)
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
        return (f"DuplicateAnalysis({where}: {len(self.pairs)} pairs at cosine >= {self.params['threshold']}, "
                f"{int(self.pairs.exact.sum())} exact)")

    @property
    def labels_disagree(self):
        """Whether each pair's class names differ (by name: two datasets may number their classes
        differently)."""
        a, b, p = self.dataset_a, self.dataset_b, self.pairs
        names_a = np.asarray(a.class_names, dtype=object)[a.labels[p.index_a]]
        names_b = np.asarray(b.class_names, dtype=object)[b.labels[p.index_b]]
        return names_a != names_b

    @property
    def pairs_table(self) -> "pd.DataFrame":
        """A pandas DataFrame with a row per pair, most similar first: both images' ids (and file
        paths when they have them), positions, labels and class names, the cosine similarity,
        whether the labels disagree and whether the pixels are identical."""
        import pandas as pd

        a, b, p = self.dataset_a, self.dataset_b, self.pairs
        columns = {"id_a": a.ids[p.index_a], "id_b": b.ids[p.index_b],
                   "similarity": p.similarity, "exact": p.exact}
        for side, data, rows in (("a", a, p.index_a), ("b", b, p.index_b)):
            if data.paths is not None:
                columns[f"path_{side}"] = np.asarray(data.paths)[rows]
            columns[f"index_{side}"] = data.index[rows]
            columns[f"label_{side}"] = data.labels[rows]
            columns[f"class_{side}"] = np.asarray(data.class_names, dtype=object)[data.labels[rows]]
        columns["labels_disagree"] = self.labels_disagree
        return pd.DataFrame(columns)

    @property
    def per_image(self) -> "pd.DataFrame":
        """A pandas DataFrame with a row per image of A: its id (and path), label, class name, how
        many near-duplicates it has and its most similar one (id and similarity)."""
        import pandas as pd

        a = self.dataset_a
        ends, others, similarity = self._ends()
        count = np.bincount(ends, minlength=a.n_images)
        best = np.full(a.n_images, np.nan)
        best_id = np.full(a.n_images, None, dtype=object)
        order = np.argsort(similarity, kind="stable")  # the most similar pair of each image is written last
        best[ends[order]] = similarity[order]
        best_id[ends[order]] = self.dataset_b.ids[others[order]]
        return pd.DataFrame({**a.image_columns(), "n_duplicates": count, "best_similarity": best,
                             "best_match": best_id})

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
        return {
            "wavelens_version": __version__,
            "command": self.command,
            "dataset_a": self.dataset_a.record(),
            "dataset_b": None if self.within else self.dataset_b.record(),
            "params": dict(self.params),
            "duplicates": {
                "n_pairs": int(len(p)),
                "n_exact": int(p.exact.sum()),
                "n_labels_disagree": int(self.labels_disagree.sum()),
                "n_images_a_with_duplicate": int(len(np.unique(ends))),
                "n_images_b_with_duplicate": int(len(np.unique(others))),
            },
            "timings_s": {k: round(v, 4) for k, v in self.timings_s.items()},
        }

    def summary(self) -> str:
        """What the search found, in plain words (what the command line prints)."""
        return "\n".join(duplicates_findings(self.to_dict()))

    def save(self, folder: "str | os.PathLike", *, overwrite: bool = False, report: bool = True) -> dict:
        """Write ``duplicates.csv``, ``summary.json`` and the report into ``folder``, all or nothing."""
        from ..results import write_duplicates

        return write_duplicates(self, folder, overwrite=overwrite, report=report)


    def report(self, path: "str | os.PathLike", *, overwrite: bool = False) -> Path:
        """Write the HTML report to the file ``path`` (one self-contained page); returns the path."""
        from ..results import write_report

        return write_report(self, path, overwrite=overwrite)

def find_near_duplicates(dataset_a: Dataset, dataset_b: Dataset | None = None, *, threshold: float = 0.98,
                         wavelet: str = "db1", level: int = 1, mode: str = "periodization", n_jobs: int | None = -1,
                         params: dict | None = None) -> DuplicateAnalysis:
    """Pairs of images whose wavelet coefficients have cosine similarity >= ``threshold``.

    Parameters
    ----------
    dataset_a : Dataset
    dataset_b : Dataset, default=None
        Compare every image of A with every image of B (e.g. test against train);
        None searches within A.
    threshold : float, default=0.98
        In (0, 1].
    wavelet, level, mode :
        The wavelet transform (see :func:`wavelens.wavelet_transform`).
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
    [[0, 3, True, False], [1, 7, True, True]]
    """
    check_dataset(dataset_a, "dataset_a")
    if dataset_b is not None:
        check_dataset(dataset_b, "dataset_b")
    threshold = check_fraction(threshold, "threshold", low_open=True)
    check_n_jobs(n_jobs)
    within = dataset_b is None
    b = dataset_a if within else dataset_b
    if b.image_shape != dataset_a.image_shape:
        raise WavelensError(f"{param('dataset_a')} has images of shape {dataset_a.image_shape} but "
                            f"{param('dataset_b')} of {b.image_shape}; compare datasets of one image size "
                            "(resize one of them).")
    timings = {}
    start = time.perf_counter()
    rows_a, _ = wavelet_transform(dataset_a.images, wavelet=wavelet, level=level, mode=mode, n_jobs=n_jobs)
    rows_b = None if within else wavelet_transform(b.images, wavelet=wavelet, level=level, mode=mode,
                                                   n_jobs=n_jobs)[0]
    timings["transform"] = time.perf_counter() - start
    start = time.perf_counter()
    # Exact copies are found on the pixels as stored when both hold one kind of integer pixels
    # (float images are scaled by each dataset's own largest value, which two copies need not share).
    stored_a, stored_b = dataset_a.stored[0], b.stored[0]
    same_kind = dataset_a.pixel_max is not None and stored_a.dtype == stored_b.dtype
    pairs = find_duplicates(rows_a, rows_b, threshold=threshold,
                            images_a=stored_a if same_kind else dataset_a.images,
                            images_b=None if within else (stored_b if same_kind else b.images))
    timings["search"] = time.perf_counter() - start
    recorded = {"threshold": threshold, "wavelet": wavelet, "level": level, "mode": mode,
                "split": dataset_a.split, "split_b": None if within else b.split, **(params or {})}
    return DuplicateAnalysis(dataset_a, b, pairs, recorded, within, timings_s=timings)
