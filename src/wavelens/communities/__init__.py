"""The ``communities`` pipeline: wavelet features -> selection -> kNN graph -> communities.

Pure computation: it returns a :class:`CommunityAnalysis`; files and printing
live in :mod:`wavelens.results` and the CLI.
"""

import os
import numbers
import time
from pathlib import Path
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from .._progress import stage
from ..summaries import communities_findings
from .._validation import WavelensError, check_fraction, check_n_jobs, check_positive_int, check_seed, param
from .._version import __version__
from .clustering import describe_communities
from .features import METHODS, select_features
from .graph import knn_graph
from .stability import communities_of_rows
from ..dataset_patterns import GRAM_LIMIT, dataset_spectra, numerical_rank
from ..datasets import Dataset
from ..datasets._base import check_dataset
from ..transform import wavelet_transform

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["CommunityAnalysis", "find_communities"]

LAPLACIAN_SAMPLE = 10_000


@dataclass(repr=False)
class CommunityAnalysis:
    """Communities of a dataset, over all images or within each class.

    Attributes
    ----------
    groups : list of dict
        One per graph clustered (the whole dataset, or each class): ``name``,
        ``n_images``, ``eigenvalues``, ``eigengap_k``, ``n_communities``,
        ``sigma``, ``communities`` (described), ``mixed`` (their ids).
        ``count_from`` ('stable gap', 'eigengap' or 'fixed') and ``stability``
        (:meth:`wavelens.communities.stability.Stability.record`, or None without resampling).
        Each community's ``central_members`` are the positions in the split
        (:attr:`wavelens.Dataset.index`, not rows of the Dataset) of its images nearest its
        center, most central first; ``central_ids`` are their ids.
        ``eigengap_k`` is the largest gap of the group's own eigenvalues (as plotted); the
        count used is ``n_communities``.
    assignment : ndarray of shape (n_images,)
        Each image's community, numbered across groups.
    stability : ndarray of shape (n_images,)
        Share of the random halves holding each image in which it stayed in its community
        (NaN without resampling).

    Examples
    --------
    >>> import wavelens
    >>> found = wavelens.find_communities(wavelens.load_dataset("digits", limit=500), per_class=True)
    >>> found.communities.columns.tolist()[:4]
    ['group', 'community', 'size', 'purity']
    >>> bool((found.communities["purity"] == 1).all())  # found within each class: one class each
    True
    """

    dataset: object
    params: dict
    features: dict
    numerical_rank: dict
    groups: list
    assignment: np.ndarray
    timings_s: dict = field(default_factory=dict)
    command: str = None
    stability: np.ndarray | None = None

    def __repr__(self):
        d = self.dataset
        return (f"CommunityAnalysis({d.name} ({d.split}): {d.n_images} images, {int(self.assignment.max()) + 1} "
                f"communities, {sum(len(g['mixed']) for g in self.groups)} mixed)")

    def summary(self) -> str:
        """What the community analysis found, in plain words (what the command line prints)."""
        return "\n".join(communities_findings(self.to_dict()))

    @property
    def per_image(self) -> "pd.DataFrame":
        """A pandas DataFrame with a row per image: its id (and file path when it has one),
        position, label, class name, community and ``community_stability`` (the share of the
        random halves holding the image in which it stayed in its community; NaN without
        resampling)."""
        import pandas as pd

        d = self.dataset
        stability = np.full(len(self.assignment), np.nan) if self.stability is None else self.stability
        return pd.DataFrame({**d.image_columns(), "community": self.assignment, "community_stability": stability})

    @property
    def communities(self) -> "pd.DataFrame":
        """A pandas DataFrame with a row per community: its group (``all``, or the class with
        per_class), size, purity, most common class, whether it is mixed, its class make-up, and
        ``central_ids``: the ids of its images nearest its center, most central first (the ``id``
        column of :attr:`per_image`, whose rows are the dataset's rows)."""
        import pandas as pd

        rows = []
        for group in self.groups:
            for community in group["communities"]:
                rows.append({"group": group["name"], "community": community["community"], "size": community["size"],
                             "purity": community["purity"], "top_class": community["top_class"],
                             "mixed": community["mixed"], "classes": dict(community["classes"]),
                             "central_ids": list(community["central_ids"])})
        return pd.DataFrame(rows)

    def save(self, folder: "str | os.PathLike", *, overwrite: bool = False, report: bool = True) -> dict:
        """Write ``summary.json``, ``communities.csv`` and the report into ``folder``, all or nothing."""
        from ..results import write_communities

        return write_communities(self, folder, overwrite=overwrite, report=report)

    def report(self, path: "str | os.PathLike", *, overwrite: bool = False) -> Path:
        """Write the HTML report to the file ``path`` (one self-contained page); returns the path."""
        from ..results import write_report

        return write_report(self, path, overwrite=overwrite)

    def to_dict(self) -> dict:
        """The JSON-ready record written to ``summary.json``."""
        d = self.dataset
        whole = self.groups[0] if len(self.groups) == 1 else None
        return {
            "wavelens_version": __version__,
            "command": self.command,
            "dataset": d.record(),
            "params": dict(self.params),
            "communities": {
                "eigenvalues": whole["eigenvalues"] if whole else None,
                "eigengap_k": whole["eigengap_k"] if whole else None,
                "n_communities": int(self.assignment.max()) + 1,
                "count_from": whole["count_from"] if whole else None,
                "stability": whole["stability"] if whole else None,
                "mixed": [m for g in self.groups for m in g["mixed"]],
                "numerical_rank": self.numerical_rank,
                "features": self.features,
                "groups": self.groups,
            },
            "timings_s": {k: round(v, 4) for k, v in self.timings_s.items()},
        }


def _numerical_ranks(images, layout, shape):
    if max(shape[1], int(np.prod(images.shape[1:]))) > GRAM_LIMIT:
        return {"pixel": None, "wavelet": None}
    pixel_s, wavelet_s, _, _ = dataset_spectra(images, layout)
    pixel_shape = (len(images), int(np.prod(images.shape[1:])))
    return {"pixel": numerical_rank(pixel_s, pixel_shape), "wavelet": numerical_rank(wavelet_s, shape)}


def _cluster_group(name, rows, labels, index, ids, class_names, *, n_neighbors, n_communities, max_communities,
                   n_resamples, mixed_threshold, random_state, n_jobs, offset):
    with stage(f"similarity graph and communities ({name})", total=None):
        found, stability, _, sigma = communities_of_rows(
            rows, n_neighbors=n_neighbors, n_communities=n_communities, max_communities=max_communities,
            n_resamples=n_resamples, random_state=random_state, n_jobs=n_jobs)
    n = len(rows)
    described = describe_communities(found, labels, class_names, mixed_threshold=mixed_threshold, index=index)
    id_of = dict(zip(np.asarray(index).tolist(), np.asarray(ids).tolist()))
    for community in described:
        community["community"] += offset
        community["central_ids"] = [id_of[i] for i in community["central_members"]]
    return {
        "name": name,
        "n_images": int(n),
        "sigma": sigma,
        "eigenvalues": [float(v) for v in found.eigenvalues],
        "eigengap_k": found.eigengap_k,
        "n_communities": found.n_communities,
        "count_from": "fixed" if n_communities else ("stable gap" if stability else "eigengap"),
        "stability": stability.record() if stability else None,
        "mixed": [c["community"] for c in described if c["mixed"]],
        "communities": described,
    }, found.labels + offset, (stability.image_stability if stability else np.full(n, np.nan))


def find_communities(dataset: Dataset, *, wavelet: str = "db1", level: int = 1, mode: str = "periodization",
                     features: str = "qr", n_features: int | None = None, condition: float = 1e5,
                     max_features: int | None = 256, n_neighbors: int = 10, n_communities: int | None = None,
                     max_communities: int = 30, n_resamples: int = 12, per_class: bool = False,
                     mixed_threshold: float = 0.5, random_state: int = 0, n_jobs: int | None = -1,
                     params: dict | None = None) -> CommunityAnalysis:
    """Communities of similar images in the wavelet space.

    Parameters
    ----------
    dataset : Dataset
    wavelet, level, mode : see :func:`wavelens.wavelet_transform`
    features : {'qr', 'laplacian', 'all'}, default='qr'
        Feature selection (see :mod:`wavelens.communities.features`).
    n_features : int, default=None
        Features to keep; None keeps them up to condition number ``condition``.
    condition : float, default=1e5
    max_features : int, default=256
        Cap on the features kept by ``condition``: the exact neighbour search
        costs n^2 * n_features, and 256 well-chosen coefficients describe
        28x28 images closely. None lifts it.
    n_neighbors : int, default=10
        Neighbours of each image in the similarity graph.
    n_communities : int, default=None
        Fixed number of communities (per group); None chooses it from the eigengap.
    max_communities : int, default=30
    n_resamples : int, default=12
        Random halves of the images (in complementary pairs) on which the count and
        membership are checked: the count is the k with the largest eigengap averaged over
        the whole graph and the halves (see :mod:`wavelens.communities.stability`). 0 takes
        the whole graph's largest eigengap and measures no stability. Groups of fewer than
        about 2 * (max_communities + 3) images are not resampled.
    per_class : bool, default=False
        Find communities within each class instead of over all images.
    mixed_threshold : float, default=0.5
        A community is mixed when no class holds more than this share.
    random_state : int, default=0
        Seeds the halves, the eigensolver's start and k-means.
    n_jobs : int or None, default=-1
        Threads: -1 uses every core, -2 all but one, None one (as in scikit-learn).

    Returns
    -------
    CommunityAnalysis

    Examples
    --------
    >>> import wavelens
    >>> found = wavelens.find_communities(wavelens.load_dataset("digits", limit=500))
    >>> found.per_image.columns[:4].tolist()
    ['id', 'index', 'label', 'class_name']
    >>> int(found.per_image["community"].max()) + 1 == len(found.communities)
    True
    """
    check_dataset(dataset)
    n_neighbors = check_positive_int(n_neighbors, "n_neighbors")
    random_state = check_seed(random_state)
    max_communities = check_positive_int(max_communities, "max_communities", minimum=2)
    n_resamples = check_positive_int(n_resamples, "n_resamples", minimum=0)
    if n_communities is not None:
        n_communities = check_positive_int(n_communities, "n_communities", minimum=2)
    mixed_threshold = check_fraction(mixed_threshold, "mixed_threshold", low_open=True)
    check_n_jobs(n_jobs)
    if features not in METHODS:
        raise WavelensError(f"The '{param('features')}' parameter must be one of {', '.join(METHODS)}; "
                            f"got {features!r}.")
    for name, value in (("n_features", n_features), ("max_features", max_features)):
        if value is not None:
            check_positive_int(value, name)
    if condition is not None and (isinstance(condition, bool) or not isinstance(condition, numbers.Real)
                                  or not condition >= 1):
        raise WavelensError(f"The '{param('condition')}' parameter must be a number >= 1 (e.g. 1e5) or None; "
                            f"got {condition!r}.")
    timings = {}
    clock = time.perf_counter()
    coefficients, layout = wavelet_transform(dataset.images, wavelet=wavelet, level=level, mode=mode,
                                             n_jobs=n_jobs)
    rows = coefficients.reshape(len(coefficients), -1)
    timings["transform"] = time.perf_counter() - clock
    clock = time.perf_counter()
    ranks = _numerical_ranks(dataset.images, layout, rows.shape)
    graph = None
    if features == "laplacian":
        sample = np.arange(len(rows))
        if len(rows) > LAPLACIAN_SAMPLE:
            sample = np.sort(np.random.default_rng(random_state).choice(len(rows), LAPLACIAN_SAMPLE, replace=False))
        graph, _ = knn_graph(rows[sample], n_neighbors=min(n_neighbors, len(sample) - 1), n_jobs=n_jobs)
        selection = select_features(rows[sample], method=features, n_features=n_features, condition=condition,
                                    max_features=max_features, graph=graph)
    else:
        selection = select_features(rows, method=features, n_features=n_features, condition=condition,
                                    max_features=max_features)
    selected = np.ascontiguousarray(rows[:, selection.indices])
    timings["features"] = time.perf_counter() - clock
    clock = time.perf_counter()
    if per_class:
        parts = [(name, np.flatnonzero(dataset.labels == c)) for c, name in enumerate(dataset.class_names)]
        parts = [(name, members) for name, members in parts if len(members)]
    else:
        parts = [("all", np.arange(dataset.n_images))]
    groups, assignment, offset = [], np.empty(dataset.n_images, dtype=np.int64), 0
    stability = np.full(dataset.n_images, np.nan)
    for name, members in parts:
        group, found, stable = _cluster_group(
            name, selected[members], dataset.labels[members], dataset.index[members], dataset.ids[members],
            dataset.class_names,
            n_neighbors=n_neighbors, n_communities=n_communities, max_communities=max_communities,
            n_resamples=n_resamples, mixed_threshold=mixed_threshold, random_state=random_state, n_jobs=n_jobs,
            offset=offset)
        groups.append(group)
        assignment[members] = found
        stability[members] = stable
        offset += group["n_communities"]
    timings["communities"] = time.perf_counter() - clock
    recorded = {"wavelet": wavelet, "level": level, "mode": mode, "features": features, "n_features": n_features,
                "condition": condition, "max_features": max_features, "n_neighbors": n_neighbors,
                "n_communities": n_communities,
                "max_communities": max_communities, "n_resamples": n_resamples, "per_class": per_class,
                "mixed_threshold": mixed_threshold,
                "random_state": random_state}
    recorded.update(params or {})
    return CommunityAnalysis(dataset, recorded, selection.summary(rows.shape[1]), ranks, groups, assignment,
                             timings, stability=stability)
