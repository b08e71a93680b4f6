"""``audit``: what to fix in a dataset, image by image, without training a network.

One call runs every check and returns an :class:`Audit`:

- **label errors**: images whose nearest images (in the wavelet scattering
  space of :mod:`wavelens.auditing.features`) speak for another class than their
  label, scored by leave-one-out label spreading (:func:`~wavelens.auditing.checks.label_error_scores`),
  flagged as many as confident learning estimates are wrong;
- **near-duplicates and leaks** (:func:`wavelens.find_near_duplicates`), within
  the dataset or between it and a second one (test against train);
- **outliers**: images far from every other image, or from their own class, and
  images with next to no information (blank, constant, clipped);
- **confusable classes**: classes whose images are each other's neighbours;
- **communities**: groups of similar images and how stable they are
  (:func:`wavelens.find_communities`);
- the **analysis** of the paper (:func:`wavelens.analyze`): how the patterns go with the classes.

Pure computation; files and printing live in :mod:`wavelens.results` and the CLI.
"""

import os
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .._progress import stage
from .._validation import WavelensError, check_n_jobs, check_positive_int, check_seed, param
from .._version import __version__
from ..datasets import Dataset
from ..datasets._base import check_dataset
from .checks import (CLASS_GROUP_OVERLAP, class_groups, class_overlap, clipped_share, information_scores, label_error_scores, outlier_scores,
                     pattern_label_scores, robust_z)
from .features import WORKING_SIZE, audit_features, unit_images
from .neighbors import LOCAL_SCALE_NEIGHBOR, Neighbors, nearest_neighbors
from ..summaries import audit_findings

if TYPE_CHECKING:
    import pandas as pd

    from ..analysis import Analysis
    from ..communities import CommunityAnalysis
    from ..duplicates import DuplicateAnalysis

__all__ = ["Audit", "CHECKS", "audit"]

CHECKS = ("label_errors", "duplicates", "outliers", "classes", "communities", "analysis")
OUTLIER_Z = 3.5  # robust z-score beyond which an image is flagged (Iglewicz and Hoaglin's cut)
LOW_SPREAD = 0.02  # pixel spread below this share of the dataset's median: next to no information
CLIPPED = 0.98  # share of pixels at 0 or 1 from which an image is flagged as clipped
MIN_RESIDUAL = 0.01  # energy left out by the dataset patterns below which no image is called unusual
N_SHOWN_NEIGHBORS = 5
# A label with less than a ninth of the support of another class is flagged whatever the estimate.
CLEAR_ERROR = 0.9


@dataclass(repr=False)
class Audit:
    """The findings of :func:`audit`, one row per image in :attr:`per_image`.

    Attributes
    ----------
    dataset : Dataset
        The dataset audited (each row of :attr:`per_image` is one of its images).
    dataset_b : Dataset or None
        The second dataset duplicates were looked for in (e.g. train for a test set).
    params : dict
    scores : dict of ndarray
        Every per-image score and flag (the columns of :attr:`per_image`).
    neighbors : Neighbors
        Each image's nearest other images in the audit's feature space.
    overlap : ndarray of shape (n_classes, n_classes) or None
        Row c: the class make-up of the neighbours of class c's images.
    n_label_errors_estimated : int
    analysis, duplicates, communities : Analysis, DuplicateAnalysis, CommunityAnalysis or None
        The results of the checks that ran.
    timings_s : dict

    Examples
    --------
    >>> import wavelens
    >>> found = wavelens.audit(wavelens.load_dataset("digits"), checks=["label_errors", "outliers", "classes"])
    >>> found.per_image.columns[:6].tolist()
    ['id', 'index', 'label', 'class_name', 'label_error_score', 'is_label_error']
    >>> bool(found.per_image["label_error_score"].between(0, 1).all())
    True
    """

    dataset: Dataset
    dataset_b: "Dataset | None"
    params: dict
    scores: dict
    neighbors: Neighbors
    overlap: "np.ndarray | None"
    n_label_errors_estimated: "int | None"
    analysis: "Analysis | None" = None
    duplicates: "DuplicateAnalysis | None" = None
    communities: "CommunityAnalysis | None" = None
    timings_s: dict = field(default_factory=dict)
    command: "str | None" = None

    def __repr__(self):
        d = self.dataset
        counts = ", ".join(f"{self.count(check)} {check.replace('_', ' ')}" for check in
                           ("label_errors", "outliers", "low_information") if f"is_{_flag(check)}" in self.scores)
        return f"Audit({d.name} ({d.split}): {d.n_images} images; {counts})"

    def count(self, check: str) -> int:
        """How many images a check flagged (``'label_errors'``, ``'outliers'``, ``'class_outliers'``,
        ``'low_information'``, ``'duplicates'``)."""
        column = f"is_{_flag(check)}"
        if column in self.scores:
            return int(np.count_nonzero(self.scores[column]))
        if check == "duplicates" and self.duplicates is not None:
            return int(np.count_nonzero(self.duplicates.per_image["n_duplicates"].to_numpy()))
        return 0

    @cached_property
    def per_image(self) -> "pd.DataFrame":
        """One row per image (``issues.csv``): its id, path, label and class name; for each check a
        ``*_score`` column and an ``is_*`` flag; the evidence (suggested label, nearest images,
        duplicate group, community). Made on first use and kept."""
        import pandas as pd

        d = self.dataset
        columns = dict(self.scores)
        if "suggested_label" in columns:
            columns = {key: value for key, value in columns.items() if key != "label_support"}
            at = list(columns).index("suggested_label") + 1
            items = list(columns.items())
            items.insert(at, ("suggested_class", np.asarray(d.class_names, dtype=object)[columns["suggested_label"]]))
            items.insert(at + 1, ("label_support", self.scores["label_support"]))
            columns = dict(items)
        table = pd.DataFrame({**d.image_columns(), **columns})
        nearest = self.neighbors.indices[:, :N_SHOWN_NEIGHBORS]
        table["nearest_ids"] = [";".join(row) for row in d.ids[nearest]]
        if self.duplicates is not None:
            extra = self.duplicates.per_image
            for column in extra.columns:
                if column not in table.columns and column not in ("id", "path", "index", "label", "class_name"):
                    table[column] = extra[column].to_numpy()
            table["is_duplicate"] = extra["n_duplicates"].to_numpy() > 0
        if self.communities is not None:
            communities = self.communities.per_image
            for column in ("community", "community_stability"):
                if column in communities:
                    table[column] = communities[column].to_numpy()
        return table

    @property
    def label_errors(self) -> "pd.DataFrame":
        """The flagged label-error candidates, most likely first."""
        return self._flagged("is_label_error", "label_error_score")

    @property
    def outliers(self) -> "pd.DataFrame":
        """Images far from every other image or from their class, farthest first."""
        table = self.per_image
        if "is_outlier" not in table:
            return table.iloc[:0]
        chosen = table[table["is_outlier"] | table["is_class_outlier"]]
        order = np.maximum(chosen["outlier_score"], chosen["class_outlier_score"]).sort_values(ascending=False)
        return chosen.loc[order.index]

    @property
    def low_information(self) -> "pd.DataFrame":
        """Blank, constant or clipped images."""
        return self._flagged("is_low_information", "pixel_spread", ascending=True)

    def _flagged(self, flag, score, ascending=False):
        table = self.per_image
        if flag not in table:
            return table.iloc[:0]
        return table[table[flag]].sort_values(score, ascending=ascending, kind="stable")

    @property
    def class_overlap(self) -> "pd.DataFrame":
        """Row class c, column class d: the share of the neighbours of c's images that are labeled d."""
        import pandas as pd

        names = list(self.dataset.class_names)
        return pd.DataFrame(self.overlap, index=names, columns=names)

    @property
    def confusable_classes(self) -> "pd.DataFrame":
        """Class pairs ranked by how much their neighbourhoods mix: ``overlap`` is the mean of the two
        shares (the neighbours of a's images labeled b, and the other way)."""
        return _confusable(self.overlap, self.dataset.class_names)

    def summary(self) -> str:
        """The findings in plain words, with what to do about each (what the command line prints)."""
        return "\n".join(audit_findings(self.to_dict()))

    def to_dict(self) -> dict:
        """The JSON-ready record written to ``summary.json``."""
        d, s = self.dataset, self.scores
        record = {
            "wavelens_version": __version__,
            "command": self.command,
            "audit": {
                "dataset": d.record(),
                "dataset_b": self.dataset_b.record() if self.dataset_b is not None else None,
                "checks": list(self.params["checks"]),
                "skipped": list(self.params.get("skipped", [])),
                "label_errors": None if "is_label_error" not in s else {
                    "n_flagged": self.count("label_errors"),
                    "n_estimated": self.n_label_errors_estimated,
                    "top_suggestions": _top_suggestions(self),
                },
                "outliers": None if "is_outlier" not in s else {
                    "n_outliers": self.count("outliers"), "n_class_outliers": self.count("class_outliers"),
                    "n_reconstruction_outliers": (self.count("reconstruction_outliers")
                                                  if "is_reconstruction_outlier" in s else None),
                    "n_low_information": self.count("low_information"), "z_cut": OUTLIER_Z,
                },
                "classes": None if self.overlap is None else _classes_record(self.overlap, d.class_names),
            },
            "params": dict(self.params),
            "timings_s": {k: round(v, 4) for k, v in self.timings_s.items()},
        }
        if self.duplicates is not None:
            record["audit"]["duplicates"] = {"summary": self.duplicates.summary().splitlines(),
                                             **self.duplicates.to_dict()["duplicates"]}
        if self.communities is not None:
            # Its first line names the dataset, as the audit's own first line does.
            record["audit"]["communities"] = {"summary": self.communities.summary().splitlines()[1:],
                                              "n_communities": int(self.communities.assignment.max()) + 1}
        if self.analysis is not None:
            record["audit"]["analysis"] = {"summary": self.analysis.summary().splitlines()}
        return record

    def save(self, folder: "str | os.PathLike", *, overwrite: bool = False, report: bool = True) -> dict:
        """Write ``issues.csv``, ``summary.json``, ``confusable_classes.csv`` and ``class_overlap.csv`` (with
        labels), ``duplicates.csv`` (when that check ran) and the report into ``folder``, all or nothing;
        returns the summary written."""
        from ..results import write_audit

        return write_audit(self, folder, overwrite=overwrite, report=report)

    def report(self, path: "str | os.PathLike", *, overwrite: bool = False) -> Path:
        """Write the HTML report to the file ``path``; returns the path."""
        from ..results import write_report

        return write_report(self, path, overwrite=overwrite)


def _flag(check):
    return {"label_errors": "label_error", "outliers": "outlier", "class_outliers": "class_outlier",
            "low_information": "low_information", "duplicates": "duplicate",
            "reconstruction_outliers": "reconstruction_outlier"}.get(check, check)


def _confusable(overlap, class_names):
    import pandas as pd

    if overlap is None:
        return pd.DataFrame(columns=["class_a", "class_b", "overlap", "share_a_to_b", "share_b_to_a"])
    rows = []
    n = len(class_names)
    for a in range(n):
        for b in range(a + 1, n):
            rows.append({"class_a": class_names[a], "class_b": class_names[b],
                         "overlap": float(overlap[a, b] + overlap[b, a]) / 2,
                         "share_a_to_b": float(overlap[a, b]), "share_b_to_a": float(overlap[b, a])})
    table = pd.DataFrame(rows, columns=["class_a", "class_b", "overlap", "share_a_to_b", "share_b_to_a"])
    return table.sort_values("overlap", ascending=False, kind="stable").reset_index(drop=True)


def _classes_record(overlap, class_names):
    groups, eigenvalues = class_groups(overlap)
    return {"confusable": _confusable(overlap, class_names).head(10).to_dict("records"),
            "self_share": [float(v) for v in np.diag(overlap)],
            "groups": [[class_names[c] for c in group] for group in groups],
            "group_overlap": CLASS_GROUP_OVERLAP,
            "spectrum": [round(float(v), 6) for v in eigenvalues]}


def _top_suggestions(result, limit=5):
    """The most frequent (label, suggested label) pairs among the flagged images."""
    s, names = result.scores, result.dataset.class_names
    flagged = np.flatnonzero(s["is_label_error"])
    if not len(flagged):
        return []
    pairs, counts = np.unique(np.stack([result.dataset.labels[flagged], s["suggested_label"][flagged]], axis=1),
                              axis=0, return_counts=True)
    order = np.argsort(-counts, kind="stable")[:limit]
    return [{"label": names[pairs[i, 0]], "suggested": names[pairs[i, 1]], "count": int(counts[i])} for i in order]


def check_checks(checks):
    """The checks to run, in :data:`CHECKS` order, or raise naming the unknown one."""
    if checks is None:
        return list(CHECKS)
    if isinstance(checks, str):
        checks = [part.strip() for part in checks.split(",") if part.strip()]
    try:
        chosen = set(checks)
    except TypeError:
        raise WavelensError(f"The '{param('checks')}' parameter must be a list of check names from "
                            f"{', '.join(CHECKS)}; got {checks!r}.") from None
    unknown = sorted(str(c) for c in chosen - set(CHECKS))
    if unknown or not chosen:
        got = f"unknown {unknown[0]!r}" if unknown else "none"
        raise WavelensError(f"The '{param('checks')}' parameter takes check names from {', '.join(CHECKS)}; "
                            f"got {got}.")
    return [c for c in CHECKS if c in chosen]


def _estimated_errors(support, labels, n_classes):
    """Confident learning's count of wrong labels (Northcutt et al. 2021): images whose support for
    their own label is below that class's mean self-support while another class's support reaches
    that class's mean."""
    rows = np.arange(len(labels))
    means = np.array([support[labels == c, c].mean() if np.any(labels == c) else np.inf for c in range(n_classes)])
    confident = support >= means
    own_confident = confident[rows, labels]
    confident[rows, labels] = False
    return int(np.count_nonzero(confident.any(axis=1) & ~own_confident))


def _pixel_information(dataset, n_jobs):
    from .._parallel import for_each_chunk, rows_per_chunk

    n = dataset.n_images
    columns = np.empty((5, n))
    step = rows_per_chunk(4096, 4 * int(np.prod(dataset.image_shape)))

    stored, pixel_max = dataset.stored

    def store(start, stop, part):
        columns[:, start:stop] = part

    for_each_chunk(lambda start, stop, images: information_scores(unit_images(images[start:stop], pixel_max)), n,
                   chunk_size=step, n_jobs=n_jobs, store=store, shared=(stored,))
    spread, low, high, at_low, at_high = columns
    return spread, clipped_share(low, high, at_low, at_high)


def audit(dataset: Dataset, dataset_b: "Dataset | None" = None, *, checks: "Sequence[str] | None" = None,
          n_neighbors: int = 40, n_components: int = 150, working_size: int = WORKING_SIZE,
          random_state: int = 0, n_jobs: "int | None" = -1, params: "dict | None" = None) -> Audit:
    """Audit a dataset: likely label errors, near-duplicates and leaks, outliers, confusable classes,
    communities, and the patterns of the paper.

    Parameters
    ----------
    dataset : Dataset
        The images audited: a row each in the result's :attr:`Audit.per_image`.
    dataset_b : Dataset, default=None
        A second dataset (e.g. the training set when ``dataset`` is the test set): its images are
        searched for near-duplicates of ``dataset``'s (leaks).
    checks : list of str, default=None
        The checks to run, from ``'label_errors'``, ``'duplicates'``, ``'outliers'``, ``'classes'``,
        ``'communities'``, ``'analysis'``; None runs them all.
    n_neighbors : int, default=40
        Neighbours of each image in the graph the label-error, outlier and class checks read.
    n_components : int, default=150
        Dimensions of the whitened image descriptor (:func:`wavelens.auditing.features.audit_features`).
    working_size : int, default=32
        Images are averaged down to at most this many pixels a side for the descriptor.
    random_state : int, default=0
    n_jobs : int or None, default=-1
        Threads: -1 uses every core, -2 all but one, None one (as in scikit-learn).
    params : dict, default=None
        Further options to record in the summary (loader options...).

    Returns
    -------
    Audit

    Examples
    --------
    >>> import wavelens
    >>> found = wavelens.audit(wavelens.load_dataset("digits"), checks=["label_errors"])
    >>> found.label_errors[["id", "class_name", "suggested_class"]].shape[1]
    3
    """
    check_dataset(dataset)
    if dataset_b is not None:
        check_dataset(dataset_b, "dataset_b")
    checks = check_checks(checks)
    n_neighbors = check_positive_int(n_neighbors, "n_neighbors", minimum=LOCAL_SCALE_NEIGHBOR)
    n_components = check_positive_int(n_components, "n_components")
    working_size = check_positive_int(working_size, "working_size")
    random_state = check_seed(random_state)
    check_n_jobs(n_jobs)
    if n_neighbors >= dataset.n_images:
        raise WavelensError(f"{param('n_neighbors', n_neighbors)} needs more than {n_neighbors} images; "
                            f"the dataset has {dataset.n_images} (give a smaller value).")
    if dataset_b is not None and "duplicates" in checks and dataset_b.image_shape != dataset.image_shape:
        raise WavelensError(f"{param('dataset_b')} has images of shape {dataset_b.image_shape} but "
                            f"{param('dataset')} of {dataset.image_shape}; the duplicates check compares images "
                            f"of one size (resize them, or leave 'duplicates' out of {param('checks')}).")
    labeled = dataset.labeled and dataset.n_classes > 1
    skipped = [] if labeled else [c for c in ("label_errors", "classes", "analysis") if c in checks]
    checks = [c for c in checks if c not in skipped]
    timings = {}
    clock = time.perf_counter()
    with stage("audit features", total=None):
        features = audit_features(dataset, n_components=n_components, working_size=working_size,
                                  random_state=random_state, n_jobs=n_jobs)
    with stage("nearest images", total=None):
        neighbors = nearest_neighbors(features, n_neighbors=n_neighbors, n_jobs=n_jobs)
    del features
    timings["neighbors"] = time.perf_counter() - clock
    scores, overlap, n_estimated = {}, None, None
    labels, n_classes = dataset.labels, dataset.n_classes
    if "label_errors" in checks and labeled:
        clock = time.perf_counter()
        score, suggested, support = label_error_scores(neighbors, labels, n_classes)
        n_estimated = _estimated_errors(support, labels, n_classes)
        flagged = score >= CLEAR_ERROR
        flagged[np.argsort(-score, kind="stable")[:n_estimated]] = True
        flagged &= score > 0
        scores.update(label_error_score=score, is_label_error=flagged, suggested_label=suggested,
                      label_support=support[np.arange(len(labels)), labels])
        timings["label_errors"] = time.perf_counter() - clock
    if "outliers" in checks:
        clock = time.perf_counter()
        z_all, z_class, _, _ = outlier_scores(neighbors, labels)
        spread, clipped = _pixel_information(dataset, n_jobs)
        typical = float(np.median(spread))
        low = (spread <= LOW_SPREAD * typical) | (clipped >= CLIPPED)
        if not labeled:
            z_class = np.full(len(labels), np.nan)  # one class: the same as outlier_score, so not given
        scores.update(outlier_score=z_all, is_outlier=z_all > OUTLIER_Z, class_outlier_score=z_class,
                      is_class_outlier=z_class > OUTLIER_Z, pixel_spread=spread, clipped_share=clipped,
                      is_low_information=low)
        timings["outliers"] = time.perf_counter() - clock
    if "classes" in checks and labeled:
        overlap = class_overlap(neighbors, labels, n_classes)
    result_parts = {}
    if "analysis" in checks:
        from ..analysis import analyze

        clock = time.perf_counter()
        # analyze's default of 100 patterns, or fewer for a small dataset (it takes at most half the images)
        result_parts["analysis"] = analyze(dataset, n_patterns=min(100, max(2, dataset.n_images // 2)),
                                           random_state=random_state, n_jobs=n_jobs)
        timings["analysis"] = time.perf_counter() - clock
        if "outliers" in checks:
            # The share of each image's energy the dataset patterns leave out: high for images unlike the rest.
            residual = np.clip(1.0 - result_parts["analysis"].dataset_patterns.shares.sum(axis=1), 0.0, 1.0)
            # On a log scale: the left-out energy is skewed (on Fashion-MNIST test a plain robust z flagged
            # 931 of 10,000 images).
            z_residual = robust_z(np.log(residual + 1e-6))
            scores.update(reconstruction_error=residual, reconstruction_outlier_score=z_residual,
                          is_reconstruction_outlier=(z_residual > OUTLIER_Z) & (residual > MIN_RESIDUAL))
        if "label_errors" in checks and labeled:
            dictionary = result_parts["analysis"].dictionary
            scores["pattern_label_score"] = pattern_label_scores(dictionary.assignments, labels, n_classes,
                                                                 dictionary.n_patterns)
    if "duplicates" in checks:
        from ..duplicates import find_near_duplicates

        clock = time.perf_counter()
        result_parts["duplicates"] = find_near_duplicates(dataset, dataset_b, n_jobs=n_jobs)
        timings["duplicates"] = time.perf_counter() - clock
    if "communities" in checks:
        from ..communities import find_communities

        clock = time.perf_counter()
        result_parts["communities"] = find_communities(dataset, random_state=random_state, n_jobs=n_jobs)
        timings["communities"] = time.perf_counter() - clock
    recorded = {"checks": checks, "skipped": skipped, "n_neighbors": n_neighbors, "n_components": n_components,
                "working_size": working_size, "random_state": random_state, **(params or {})}
    return Audit(dataset, dataset_b, recorded, scores, neighbors, overlap, n_estimated, timings_s=timings,
                 **result_parts)

