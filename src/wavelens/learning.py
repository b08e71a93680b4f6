"""``learnability``: do the few rank-1 patterns keep what a classifier needs, and what does memorizing
random labels look like?

The paper says the rank-1 approximation "captures the structures and patterns essential for
learning", and places its random-label result in the memorization-vs-learning debate (Zhang et
al., ICLR 2017). Both are measured here with light classifiers (no network):

- every image is rebuilt from its top r rank-1 patterns (r = 1, 2, 4, ... up to the full rank,
  :func:`wavelens.rebuild_from_patterns`), and from the top m dataset patterns (its projection on
  them, :func:`wavelens.dataset_patterns.find_dataset_patterns`); the classifiers are trained on
  the rebuilt training images and tested on the rebuilt test images, beside the original images;
- the same classifiers are trained on randomly relabeled training images (a fraction of labels
  replaced, as :func:`wavelens.noise_curve` does): training accuracy (memorization) against test
  accuracy (chance), with the memorization cost and the image-pattern NMI of the analysis.

The classifiers:

- ``'linear'``: a least-squares (ridge) classifier on all pixels, one output per class, as
  scikit-learn's ``RidgeClassifier(alpha=1)`` (a test checks they agree), solved from the Gram
  matrix that is added up chunk by chunk: its capacity is fixed (pixels + 1 weights per class);
- ``'knn'``: scikit-learn's nearest neighbours (k = 5, distance-weighted, as
  ``KNeighborsClassifier(weights='distance')``) on the top 50 principal components of the
  (rebuilt) training images: it stores every training image, so it fits any labels (its training
  accuracy is 100% by construction: each image is its own neighbour at distance 0); its
  leave-one-out error measures what it must memorize.

Every pass over the images works in chunks; nothing is n x n. The pure computation returns a
:class:`Learnability`; files are :mod:`wavelens.results`' job and printing the CLI's.
"""

import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Sequence

import numpy as np

from ._parallel import for_each_chunk, resolve_n_jobs, rows_per_chunk, thread_limits
from ._progress import stage
from ._validation import WavelensError, check_fraction, check_n_jobs, check_positive_int, check_seed, param
from ._version import __version__
from .association import noisy_labels
from .datasets import Dataset, has_test_split, load_test_split
from .datasets._base import check_dataset, loaded_as, stratified_rows
from .decomposition import _channels_first, _channels_last, _truncate, as_float, psnr
from .summaries import learnability_findings
from .transform import _forward, _inverse, wavelet_layout

if TYPE_CHECKING:
    import os
    from pathlib import Path

    import pandas as pd

    from .analysis import Analysis

__all__ = ["CLASSIFIERS", "Learnability", "learnability"]

CLASSIFIERS = ("linear", "knn")
NOISE_FRACTIONS = (0.0, 0.25, 0.5, 0.75, 1.0)
MAX_VALUES = 4096  # values per image: the Gram matrices are values x values
_CHUNK = 1024
_EXACT_DB = 100.0
_SMALL_EVAL = 2000  # training images the kNN's training accuracy on rebuilt images is measured on

DESCRIPTIONS = {
    "linear": "the linear classifier (ridge least squares on all pixels)",
    "knn": "the kNN classifier (k = {k}, distance-weighted, on {d} principal components)",
}


@dataclass(repr=False)
class Learnability:
    """What :func:`learnability` measured: classifiers on rebuilt images, and on random labels.

    Attributes
    ----------
    dataset : Dataset
        The training images (all of them, or the part kept for training by the hold-out).
    test : Dataset
        The test images (the test split, or the stratified hold-out).
    params : dict
        Every parameter used, with ``holdout`` (the test share, or None for a given test set).
    rows : list of dict
        A row per (source, r, classifier): ``test_accuracy``, ``train_accuracy``, ``psnr_db``
        (median over the test images of the rebuilt images' PSNR; None where exact).
    noise_rows : list of dict
        A row per (label-noise fraction, classifier): ``train_accuracy``, ``test_accuracy``,
        ``loo_error`` (kNN: the share of training images whose label their neighbours, without
        them, do not give), ``nmi`` and ``random_nmi`` (image patterns, from the analysis).
    per_class_rows : list of dict
        A row per (source, r, classifier, class): test accuracy within the class.
    analysis : Analysis or None
        The analysis of the training images the NMI comes from.
    timings_s : dict

    Examples
    --------
    >>> import wavelens
    >>> found = wavelens.learnability(wavelens.load_dataset("digits", limit=400), label_noise=[0, 1])
    >>> found.table.columns[:4].tolist()
    ['source', 'r', 'classifier', 'test_accuracy']
    >>> found.noise_table[["fraction", "classifier"]].values.tolist()
    [[0.0, 'linear'], [0.0, 'knn'], [1.0, 'linear'], [1.0, 'knn']]
    """

    dataset: Dataset
    test: Dataset
    params: dict
    rows: list
    noise_rows: list
    per_class_rows: list
    analysis: "Analysis | None" = None
    timings_s: dict = field(default_factory=dict)
    command: "str | None" = None

    def __repr__(self):
        d = self.dataset
        original = ", ".join(f"{r['classifier']} {r['test_accuracy']:.3f}" for r in self.rows
                             if r["source"] == "original")
        return (f"Learnability({d.name} ({d.split}): {d.n_images} training and {self.test.n_images} test images; "
                f"test accuracy on the originals: {original})")

    @property
    def table(self) -> "pd.DataFrame":
        """A row per (source, r, classifier): test and training accuracy, and the median PSNR of the
        rebuilt test images (``inf`` for the originals)."""
        import pandas as pd

        table = pd.DataFrame(self.rows)
        table["r"] = table["r"].astype("Int64")
        table["psnr_db"] = table["psnr_db"].astype(float).fillna(np.inf)
        return table

    @property
    def noise_table(self) -> "pd.DataFrame":
        """A row per (label-noise fraction, classifier): training and test accuracy, the kNN's
        leave-one-out error, and the image-pattern NMI of the analysis with those labels."""
        import pandas as pd

        return pd.DataFrame(self.noise_rows)

    @property
    def per_class(self) -> "pd.DataFrame":
        """A row per (source, r, classifier, class): the test accuracy within that class."""
        import pandas as pd

        table = pd.DataFrame(self.per_class_rows)
        table["r"] = table["r"].astype("Int64")
        return table

    def within(self, points: float = 1.0) -> dict:
        """``{classifier: {source: r}}``: the fewest patterns from which the rebuilt images stay within
        ``points`` percentage points of the test accuracy on the originals, at that r and at every larger r
        measured (None if the largest does not)."""
        return _within(self.rows, points)

    def summary(self) -> str:
        """The findings in plain words (what the command line prints)."""
        return "\n".join(learnability_findings(self.to_dict()))

    def to_dict(self) -> dict:
        """The JSON-ready record written to ``summary.json`` (its ``learnability`` key)."""
        p = self.params
        k, d = p["n_neighbors"], p.get("knn_components", p["n_components"])
        return {
            "wavelens_version": __version__,
            "command": self.command,
            "dataset": self.dataset.record(),
            "params": dict(p),
            "learnability": {
                "test_dataset": self.test.record(),
                "holdout": p["test_size"] if p["holdout"] else None,
                "n_train": self.dataset.n_images, "n_test": self.test.n_images,
                "classifiers": {name: DESCRIPTIONS[name].format(k=k, d=d) for name in p["classifiers"]},
                "max_rank": p["max_rank"],
                "chance": _chance(self.test.labels, self.test.n_classes),
                "rows": self.rows,
                "within_one_point": _within(self.rows, 1.0),
                "noise": self.noise_rows,
                "per_class": _compact_per_class(self.per_class_rows, self.test.class_names),
            },
            "timings_s": {key: round(value, 4) for key, value in self.timings_s.items()},
        }

    def save(self, folder: "str | os.PathLike", *, overwrite: bool = False, report: bool = True) -> dict:
        """Write ``summary.json``, ``learnability.csv``, ``learnability_noise.csv``,
        ``learnability_per_class.csv`` and the report into ``folder``, all or nothing; returns the record."""
        from .results import write_learnability

        return write_learnability(self, folder, overwrite=overwrite, report=report)

    def report(self, path: "str | os.PathLike", *, overwrite: bool = False) -> "Path":
        """Write the HTML report to the file ``path``; returns the path."""
        from .results import write_report

        return write_report(self, path, overwrite=overwrite)


def _holdout_reason(train):
    """Why the test images are held out of the training images (said in the findings)."""
    if train.split == "test":
        return "both parts come from the test split"
    loaded = loaded_as(train)
    if loaded is None:  # arrays, or a dataset made in Python: nothing says where a test split is
        return "no test images were given"
    if train.split == "all" and has_test_split(loaded[0]):
        return "the images given are the whole dataset (split 'all')"
    return "the dataset has no test split"


def _chance(labels, n_classes):
    """The test accuracy of always answering the most frequent test class."""
    return float(np.bincount(labels, minlength=n_classes).max() / max(1, len(labels)))


def _within(rows, points):
    result = {}
    for classifier in dict.fromkeys(r["classifier"] for r in rows):
        mine = [r for r in rows if r["classifier"] == classifier]
        original = next(r["test_accuracy"] for r in mine if r["source"] == "original")
        result[classifier] = {}
        for source in ("image patterns", "dataset patterns"):
            # The smallest r from which every larger r stays within: one lucky r below a dip does not count.
            found = None
            for row in sorted((r for r in mine if r["source"] == source), key=lambda row: row["r"], reverse=True):
                if row["test_accuracy"] < original - points / 100 - 1e-12:
                    break
                found = row["r"]
            result[classifier][source] = found
    return result


def _compact_per_class(rows, class_names):
    grouped = {}
    for row in rows:
        key = (row["source"], row["r"], row["classifier"])
        grouped.setdefault(key, {})[row["class_name"]] = row["test_accuracy"]
    return [{"source": s, "r": r, "classifier": c, "accuracy": [values.get(name) for name in class_names]}
            for (s, r, c), values in grouped.items()]


# --- checks -----------------------------------------------------------------------------------

def _powers(limit):
    """1, 2, 4, ... below ``limit``, then ``limit``."""
    values, r = [], 1
    while r < limit:
        values.append(r)
        r *= 2
    return values + [limit]


def _check_counts(values, name, limit):
    if values is None:
        return _powers(limit)
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise WavelensError(f"The '{param(name)}' parameter must be a list of pattern counts from 1 to {limit}, "
                            f"e.g. [1, 2, 4]; got {values!r}.")
    counts = sorted({check_positive_int(v, name) for v in values})
    if not counts or counts[-1] > limit:
        found = "none" if not counts else counts[-1]
        raise WavelensError(f"The '{param(name)}' parameter takes pattern counts from 1 to {limit} (the most "
                            f"these images have); got {found}.")
    return counts


def _check_fractions(fractions):
    if isinstance(fractions, (str, bytes)) or not hasattr(fractions, "__iter__"):
        raise WavelensError(f"The '{param('label_noise')}' parameter must be a list of fractions in [0, 1], e.g. "
                            f"[0, 0.5, 1]; got {fractions!r}.")
    fractions = sorted({check_fraction(f, "label_noise") for f in fractions})
    if not fractions:
        raise WavelensError(f"The '{param('label_noise')}' parameter is empty; give at least one fraction, "
                            "e.g. [0, 0.5, 1].")
    return fractions


def _check_classifiers(classifiers):
    if isinstance(classifiers, str):
        classifiers = [part.strip() for part in classifiers.split(",") if part.strip()]
    try:
        chosen = set(classifiers)
    except TypeError:
        chosen = None
    if chosen is None or not chosen or chosen - set(CLASSIFIERS):
        raise WavelensError(f"The '{param('classifiers')}' parameter takes classifier names from "
                            f"{', '.join(CLASSIFIERS)}; got {classifiers!r}.")
    return [c for c in CLASSIFIERS if c in chosen]


def _check_labeled(dataset, what):
    if not dataset.labeled or len(np.unique(dataset.labels)) < 2:
        raise WavelensError(f"{dataset.source}: {param(what)} needs labeled images of at least two classes to "
                            "train and test classifiers; give labels (from_arrays(images, labels), class folders, "
                            "a label column).")


def _subset(dataset, rows):
    """The images ``rows`` of ``dataset``, as a Dataset of their own (ids, paths and index kept)."""
    array, pixel_max = dataset.stored
    return Dataset(None if pixel_max else array[rows], dataset.labels[rows], dataset.class_names,
                   name=dataset.name, split=dataset.split, source=dataset.source, index=dataset.index[rows],
                   ids=dataset.ids[rows], paths=None if dataset.paths is None else dataset.paths[rows],
                   pixels=array[rows] if pixel_max else None, pixel_max=pixel_max,
                   input_paths=dataset.input_paths)


# --- the passes over the images ---------------------------------------------------------------

class _Ordered:
    """Adds chunk results up in chunk order, whatever the thread that finishes first (so the sums, and
    everything fitted from them, do not depend on the number of threads)."""

    def __init__(self, add):
        self.add, self.next, self.waiting, self.lock = add, 0, {}, threading.Lock()

    def __call__(self, start, stop, part):
        with self.lock:
            self.waiting[start] = (stop, part)
            while self.next in self.waiting:
                stop, part = self.waiting.pop(self.next)
                self.add(part)
                self.next = stop


def _rebuilds(chunk, layout, ranks):
    """``{r: images rebuilt from their top r patterns}`` of a chunk of float32 images, flattened."""
    n = len(chunk)
    a = _channels_first(_forward(chunk, layout), layout, np.float32)
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    out = {}
    for r in ranks:
        truncated = _channels_last(_truncate(u, s, vt, np.full(n, r)), layout)
        out[r] = _inverse(truncated, layout).astype(np.float32, copy=False).reshape(n, -1)
    return out


def _pixel_rows(stored, pixel_max, start, stop):
    return as_float(np.asarray(stored[start:stop]), np.float32, pixel_max)


def _statistics(dataset, layout, ranks, label_sets, n_jobs):
    """Sum, Gram matrix and X^T Y (one-hot labels) of the training images, in float64: of the
    originals (key None; X^T Y for each of ``label_sets``) and of the images rebuilt from r patterns
    (key r; X^T Y for the first label set, the true labels)."""
    stored, pixel_max = dataset.stored
    n_values = int(np.prod(dataset.image_shape))
    n_classes = dataset.n_classes
    keys = [None] + list(ranks)
    totals = {key: [np.zeros(n_values), np.zeros((n_values, n_values)),
                    np.zeros((len(label_sets) if key is None else 1, n_values, n_classes))] for key in keys}

    def work(start, stop, stored):
        chunk = _pixel_rows(stored, pixel_max, start, stop)
        images = {None: chunk.reshape(stop - start, -1), **_rebuilds(chunk, layout, ranks)}
        onehots = np.stack([np.eye(n_classes, dtype=np.float32)[labels[start:stop]] for labels in label_sets])
        part = {}
        for key, x in images.items():
            sets = onehots if key is None else onehots[:1]
            part[key] = [x.sum(axis=0, dtype=np.float64), (x.T @ x).astype(np.float64),
                         np.einsum("ni,lnc->lic", x, sets).astype(np.float64)]
        return part

    def add(part):
        for key in keys:
            for total, value in zip(totals[key], part[key]):
                total += value

    with stage("learnability statistics", total=dataset.n_images) as bar:
        for_each_chunk(work, dataset.n_images, chunk_size=rows_per_chunk(_CHUNK, 4 * n_values * (len(keys) + 2)),
                       n_jobs=n_jobs, store=_Ordered(add), shared=(stored,), progress=bar.update)
    return totals


def _ridge(total, gram, xty, class_counts, n, alpha):
    """Weights (values x classes) and intercept of the least-squares classifier on one-hot targets."""
    import scipy.linalg

    mean = total / n
    y_mean = class_counts / n
    centered = gram - n * np.outer(mean, mean)
    centered[np.diag_indices_from(centered)] += alpha
    rhs = xty - n * np.outer(mean, y_mean)
    weights = scipy.linalg.solve(centered, rhs, assume_a="pos")
    return weights, y_mean - mean @ weights


def _principal(total, gram, n, n_components):
    """Mean and the top ``n_components`` principal directions (values x d) from the sums."""
    mean = total / n
    import scipy.linalg

    covariance = (gram - n * np.outer(mean, mean)) / max(1, n - 1)
    size = len(covariance)
    d = min(n_components, size)
    # Only the top d eigenpairs (ascending from the smallest of them), not the whole decomposition.
    values, vectors = scipy.linalg.eigh(covariance, subset_by_index=[size - d, size - 1])
    return mean, vectors[:, ::-1]


# --- the classifiers ---------------------------------------------------------------------------

def knn_vote(distances, indices, labels, n_classes):
    """Predictions of a distance-weighted kNN from each query's neighbours, as scikit-learn's
    ``KNeighborsClassifier(weights='distance')`` makes them: weights 1/d, and where a neighbour is at
    distance 0, only such neighbours count.

    Examples
    --------
    >>> knn_vote(np.array([[0.0, 1.0], [1.0, 2.0]]), np.array([[0, 1], [1, 0]]), np.array([0, 1]), 2).tolist()
    [0, 1]
    """
    distances = np.asarray(distances, np.float64)
    with np.errstate(divide="ignore"):
        weights = 1.0 / distances
    exact = distances == 0
    rows = exact.any(axis=1)
    weights[rows] = exact[rows]
    votes = np.zeros((len(distances), n_classes))
    np.add.at(votes, (np.repeat(np.arange(len(distances)), distances.shape[1]), labels[indices].ravel()),
              weights.ravel())
    return votes.argmax(axis=1)


def _neighbors(train_features, queries, k, n_jobs):
    from sklearn.neighbors import NearestNeighbors

    with thread_limits(resolve_n_jobs(n_jobs)):
        found = NearestNeighbors(n_neighbors=k, algorithm="brute").fit(train_features)
        return found.kneighbors(queries, n_neighbors=k)


def _without_self(distances, indices, rows):
    """Each query's neighbours without the query itself (``rows``: its row in the training set); the
    last neighbour goes where the query was not found (a copy at distance 0 took its place)."""
    keep = indices != rows[:, None]
    missing = keep.all(axis=1)
    keep[missing, -1] = False
    k = indices.shape[1] - 1
    return distances[keep].reshape(-1, k), indices[keep].reshape(-1, k)


def _accuracy(predicted, labels):
    return float(np.mean(predicted == labels)) if len(labels) else float("nan")


# --- the whole measurement ---------------------------------------------------------------------

def learnability(train: Dataset, test: "Dataset | None" = None, *, ranks: "Sequence[int] | None" = None,
                 pattern_counts: "Sequence[int] | None" = None, classifiers: Sequence[str] = CLASSIFIERS,
                 label_noise: Sequence[float] = NOISE_FRACTIONS, n_components: int = 50, n_neighbors: int = 5,
                 alpha: float = 1.0, test_size: float = 0.25, max_train_eval: int = 10000,
                 wavelet: str = "db1", level: int = 1, mode: str = "periodization", random_state: int = 0,
                 n_jobs: "int | None" = -1, params: "dict | None" = None) -> Learnability:
    """Train light classifiers on images rebuilt from their top r rank-1 patterns (and top m dataset
    patterns), and on randomly relabeled images; test them on the test images.

    Parameters
    ----------
    train : Dataset
        Labeled images the classifiers are trained on.
    test : Dataset, default=None
        Labeled images of the same shape and classes they are tested on. None: the test split of
        ``train``'s dataset when ``train`` is a train split read by :func:`wavelens.load_dataset`
        (read the same way, see :func:`wavelens.datasets.load_test_split`), as ``wavelens
        learnability`` does; else (no such split: ``train`` is a test or whole dataset, arrays, or a
        table whose split column never says test) a stratified hold-out of ``test_size`` of
        ``train`` (drawn with ``random_state``), said in the findings.
    ranks : list of int, default=None
        Image patterns r to rebuild from; None: 1, 2, 4, ... and the full rank (min(rows, cols) of
        the wavelet matrix), whose rebuild is the image itself.
    pattern_counts : list of int, default=None
        Dataset patterns m to rebuild from; None: 1, 2, 4, ... and every pattern.
    classifiers : list of str, default=('linear', 'knn')
        ``'linear'``: ridge least squares on all pixels (scikit-learn's ``RidgeClassifier(alpha)``);
        ``'knn'``: ``n_neighbors`` nearest neighbours, distance-weighted, on the top ``n_components``
        principal components of the (rebuilt) training images.
    label_noise : list of float, default=(0, 0.25, 0.5, 0.75, 1)
        Fractions of training labels replaced uniformly at random, as in :func:`wavelens.noise_curve`
        (the test labels stay true).
    n_components : int, default=50
    n_neighbors : int, default=5
    alpha : float, default=1.0
        The ridge penalty of the linear classifier.
    test_size : float, default=0.25
        Share of the images held out for testing when ``test`` is None.
    max_train_eval : int, default=10000
        Training images (a seeded random sample) on which the kNN's training accuracy on the originals
        and its leave-one-out error are measured (about 2,000 of them for its training accuracy on
        rebuilt images); the linear classifier's use every training image.
    wavelet, level, mode : see :func:`wavelens.wavelet_transform`
    random_state : int, default=0
    n_jobs : int or None, default=-1
        Threads: -1 uses every core, None one.
    params : dict, default=None
        Further options to record.

    Returns
    -------
    Learnability

    Examples
    --------
    >>> import wavelens
    >>> found = wavelens.learnability(wavelens.load_dataset("digits"), label_noise=[0, 1], classifiers=["linear"])
    >>> table = found.table.set_index(["source", "r"])["test_accuracy"]
    >>> bool(table["original"].iloc[0] > 0.9 and table["image patterns"].loc[1] < table["original"].iloc[0])
    True
    """
    check_dataset(train, "train")
    if test is not None:
        check_dataset(test, "test")
    classifiers = _check_classifiers(classifiers)
    fractions = _check_fractions(label_noise)
    n_components = check_positive_int(n_components, "n_components")
    n_neighbors = check_positive_int(n_neighbors, "n_neighbors")
    max_train_eval = check_positive_int(max_train_eval, "max_train_eval")
    test_size = check_fraction(test_size, "test_size", low_open=True)
    random_state = check_seed(random_state)
    check_n_jobs(n_jobs)
    if (isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating))
            or not np.isfinite(alpha) or not alpha > 0):
        raise WavelensError(f"The '{param('alpha')}' parameter must be a finite number > 0. Got {alpha!r} instead.")
    _check_labeled(train, "train")
    if test is None:
        test = load_test_split(train)
    n_values = int(np.prod(train.image_shape))
    if n_values > MAX_VALUES:
        raise WavelensError(f"{train.source}: images of {'x'.join(map(str, train.image_shape))} hold {n_values} "
                            f"values; learnability works on up to {MAX_VALUES} (e.g. 64x64, or 32x32x3): load "
                            f"smaller images ({param('resize', text='(H, W)')} for image folders).")
    holdout = test is None
    holdout_reason = _holdout_reason(train) if holdout else None
    if holdout:
        n_test = int(round(test_size * train.n_images))
        if test_size >= 1 or n_test < 1 or n_test >= train.n_images:
            raise WavelensError(f"{param('test_size', test_size)} leaves no images to train or to test on among "
                                f"{train.n_images}; give a share between 0 and 1 and more images.")
        test_rows = stratified_rows(train.labels, n_test, random_state)
        train_rows = np.setdiff1d(np.arange(train.n_images), test_rows)
        train, test = _subset(train, train_rows), _subset(train, test_rows)
    else:
        _check_labeled(test, "test")
        if test.image_shape != train.image_shape:
            raise WavelensError(f"{param('test')} has images of {'x'.join(map(str, test.image_shape))} but "
                                f"{param('train')} of {'x'.join(map(str, train.image_shape))}; load both at one size.")
        if list(test.class_names) != list(train.class_names):
            raise WavelensError(f"{param('test')} names its classes {list(test.class_names)[:5]} but "
                                f"{param('train')} {list(train.class_names)[:5]}; give splits of one dataset.")
    if n_neighbors >= train.n_images:
        raise WavelensError(f"{param('n_neighbors', n_neighbors)} needs more than {n_neighbors} training images; "
                            f"there are {train.n_images} (give a smaller value).")
    layout = wavelet_layout(train.image_shape, wavelet=wavelet, level=level, mode=mode)
    max_rank = int(min(layout.matrix_shape))
    ranks = _check_counts(ranks, "ranks", max_rank)
    n_coefficients = int(np.prod(layout.matrix_shape)) * layout.n_channels
    pattern_counts = _check_counts(pattern_counts, "pattern_counts", min(n_coefficients, train.n_images))

    timings, clock = {}, time.perf_counter()

    def lap(name):
        nonlocal clock
        now = time.perf_counter()
        timings[name], clock = now - clock, now

    n, n_classes = train.n_images, train.n_classes
    labels = train.labels
    noisy = [noisy_labels(labels, f, n_classes, random_state=random_state) for f in fractions]
    # The rebuild from every pattern is the image itself: computed once, as the original.
    rebuilt_ranks = [r for r in ranks if r < max_rank]
    totals = _statistics(train, layout, rebuilt_ranks, [labels] + noisy, n_jobs)
    lap("statistics")

    # The dataset patterns, and the pixel maps A_m that rebuild an image from its top m of them:
    # x -> inverse(transform(x) B_m^T B_m), linear, so everything about it follows from the originals' sums.
    from .dataset_patterns import find_dataset_patterns, transform_matrix

    stored, pixel_max = train.stored
    found = find_dataset_patterns(stored, layout, n_patterns=max(pattern_counts), random_state=random_state,
                                  pixel_max=pixel_max, n_jobs=n_jobs)
    pattern_counts = [m for m in pattern_counts if m <= len(found.components)]
    # Every one of the n_coefficients dataset patterns (an orthonormal basis) rebuilds each image exactly: the
    # map is the identity, so those figures are the originals', said once more (as for the full rank).
    exact_counts = [m for m in pattern_counts if m == n_coefficients]
    mapped_counts = [m for m in pattern_counts if m < n_coefficients]
    maps = {}
    if mapped_counts:
        forward = transform_matrix(layout)
        basis = np.eye(n_coefficients).reshape((n_coefficients,) + layout.matrix_shape + layout.image_shape[2:])
        inverse = _inverse(basis, layout).reshape(n_coefficients, -1)
    for m in mapped_counts:
        b = found.components[:m]
        maps[m] = (forward @ b.T) @ (b @ inverse)
    lap("dataset_patterns")

    # Fit every source's linear classifier and principal directions from its sums.
    total, gram, xty = totals[None]
    class_counts = [np.bincount(y, minlength=n_classes).astype(np.float64) for y in [labels] + noisy]
    sources = ([("original", None)] + [("image patterns", r) for r in rebuilt_ranks]
               + [("dataset patterns", m) for m in mapped_counts])
    fitted = {}
    for source, r in sources:
        if source == "dataset patterns":
            a = maps[r]
            s_total, s_gram, s_xty = total @ a, a.T @ gram @ a, a.T @ xty[0]
        else:
            s_total, s_gram, s_xty = totals[r][0], totals[r][1], totals[r][2][0]
        fit = {"mean": s_total / n}
        if "linear" in classifiers:
            fit["linear"] = _ridge(s_total, s_gram, s_xty, class_counts[0], n, alpha)
        if "knn" in classifiers:
            fit["knn"] = _principal(s_total, s_gram, n, n_components)
        fitted[(source, r)] = fit
    if "linear" in classifiers:
        fitted["noisy"] = [_ridge(total, gram, xty[1 + i], class_counts[1 + i], n, alpha)
                           for i in range(len(fractions))]
    lap("fit")

    outputs = _apply(train, test, layout, rebuilt_ranks, maps, fitted, classifiers, n_jobs)
    lap("apply")

    # A stream of its own: the same seed's first draws pick the images noisy_labels relabels.
    rng = np.random.default_rng([random_state, 1])
    sample = np.sort(rng.choice(n, size=min(n, max_train_eval), replace=False))
    # On rebuilt images the kNN's training accuracy is measured on fewer images: it fits its training
    # images by construction (each is its own nearest neighbour), and the queries cost.
    small = sample[:: max(1, len(sample) // _SMALL_EVAL)]
    rows, per_class_rows = [], []
    test_labels = test.labels
    knn_original = None
    for source, r in sources:
        out = outputs[(source, r)]
        for classifier in classifiers:
            if classifier == "linear":
                test_pred, train_pred, train_truth = out["linear_test"], out["linear_train"], labels
            else:
                features_train, features_test = out["knn_train"], out["knn_test"]
                distances, indices = _neighbors(features_train, features_test, n_neighbors, n_jobs)
                test_pred = knn_vote(distances, indices, labels, n_classes)
                queries = sample if source == "original" else small
                k_self = n_neighbors + 1 if source == "original" else n_neighbors
                self_d, self_i = _neighbors(features_train, features_train[queries], k_self, n_jobs)
                train_pred = knn_vote(self_d[:, :n_neighbors], self_i[:, :n_neighbors], labels, n_classes)
                train_truth = labels[queries]
                if source == "original":
                    knn_original = (distances, indices, self_d, self_i)
            rows.append({"source": source, "r": r, "classifier": classifier,
                         "test_accuracy": _accuracy(test_pred, test_labels),
                         "train_accuracy": _accuracy(train_pred, train_truth),
                         "psnr_db": out["psnr_db"]})
            for c, name in enumerate(test.class_names):
                members = test_labels == c
                per_class_rows.append({"source": source, "r": r, "classifier": classifier, "class_name": name,
                                       "n_test": int(members.sum()),
                                       "test_accuracy": _accuracy(test_pred[members], test_labels[members])
                                       if members.any() else None})
        if source == "original":
            # Every pattern rebuilds the image exactly: the same figures, said once more at r = the full rank.
            exact = ([("image patterns", x) for x in ranks if x == max_rank]
                     + [("dataset patterns", m) for m in exact_counts])
            for kind, r_full in exact:
                for row in [row for row in rows if row["source"] == "original"]:
                    rows.append({**row, "source": kind, "r": r_full})
                for row in [row for row in per_class_rows if row["source"] == "original"]:
                    per_class_rows.append({**row, "source": kind, "r": r_full})
    rows.sort(key=lambda row: (("original", "image patterns", "dataset patterns").index(row["source"]),
                               row["r"] or 0, classifiers.index(row["classifier"])))
    per_class_rows.sort(key=lambda row: (("original", "image patterns", "dataset patterns").index(row["source"]),
                                         row["r"] or 0, classifiers.index(row["classifier"])))
    lap("classifiers")

    analysis = _analysis(train, fractions, wavelet, level, mode, random_state, n_jobs)
    nmi = {row["fraction"]: row for row in analysis[1]} if analysis else {}
    lap("analysis")
    noise_rows = []
    for i, fraction in enumerate(fractions):
        y = noisy[i]
        for classifier in classifiers:
            if classifier == "linear":
                row = {"train_accuracy": _accuracy(outputs["noisy_train"][i], y),
                       "test_accuracy": _accuracy(outputs["noisy_test"][i], test_labels), "loo_error": None}
            else:
                distances, indices, self_d, self_i = knn_original
                loo_d, loo_i = _without_self(self_d, self_i, sample)
                row = {"train_accuracy": _accuracy(knn_vote(self_d[:, :n_neighbors], self_i[:, :n_neighbors], y,
                                                            n_classes), y[sample]),
                       "test_accuracy": _accuracy(knn_vote(distances, indices, y, n_classes), test_labels),
                       "loo_error": 1.0 - _accuracy(knn_vote(loo_d, loo_i, y, n_classes), y[sample])}
            stats = nmi.get(fraction, {})
            noise_rows.append({"fraction": fraction, "classifier": classifier, **row,
                               "nmi": stats.get("nmi"), "random_nmi": stats.get("random_nmi")})
    lap("label_noise")
    recorded = {"classifiers": classifiers, "ranks": ranks, "pattern_counts": pattern_counts,
                "label_noise": fractions, "n_components": n_components,
                "knn_components": min(n_components, n_values), "n_neighbors": n_neighbors,
                "alpha": float(alpha), "test_size": test_size, "holdout": holdout, "max_train_eval": max_train_eval,
                "wavelet": wavelet, "level": level, "mode": mode, "random_state": random_state,
                "max_rank": max_rank, "holdout_reason": holdout_reason,
                **(params or {})}
    return Learnability(train, test, recorded, rows, noise_rows, per_class_rows,
                        analysis=analysis[0] if analysis else None, timings_s=timings)


def _apply(train, test, layout, ranks, maps, fitted, classifiers, n_jobs):
    """Each source's kNN features and linear predictions for every training and test image, and the
    PSNR of the rebuilt test images, chunk by chunk. Dataset-pattern rebuilds are linear maps of the
    pixels, so their features and scores are the pixels times one small matrix each."""
    sources = [key for key in fitted if key != "noisy"]
    n_values = int(np.prod(train.image_shape))
    # Per source: (matrix, offset) giving the kNN features, and (matrix, offset) giving the linear scores,
    # both applied to the source's input (the pixels, or the rebuilt pixels for image patterns).
    plans = {}
    for key in sources:
        fit = fitted[key]
        a = maps.get(key[1]) if key[0] == "dataset patterns" else None
        plan = {}
        if "knn" in fit:
            mean, directions = fit["knn"]
            plan["knn"] = ((directions if a is None else a @ directions).astype(np.float32),
                           (mean @ directions).astype(np.float32))
        if "linear" in fit:
            weights, intercept = fit["linear"]
            plan["linear"] = ((weights if a is None else a @ weights).astype(np.float32), intercept.astype(np.float32))
        plans[key] = plan
    noisy = [(w.astype(np.float32), b.astype(np.float32)) for w, b in fitted.get("noisy", [])]
    maps32 = {m: a.astype(np.float32) for m, a in maps.items()}
    outputs = {key: {"psnr_db": None} for key in sources}
    d = plans[sources[0]]["knn"][0].shape[1] if "knn" in classifiers else 0
    for part, data in (("train", train), ("test", test)):
        stored, pixel_max = data.stored
        n = data.n_images
        for key in sources:
            if "knn" in classifiers:
                outputs[key][f"knn_{part}"] = np.empty((n, d), np.float32)
            if "linear" in classifiers:
                outputs[key][f"linear_{part}"] = np.empty(n, np.int64)
            if part == "test" and key[0] != "original":
                outputs[key]["psnr"] = np.empty(n)
        if noisy:
            outputs[f"noisy_{part}"] = np.empty((len(noisy), n), np.int64)

        def work(start, stop, stored, part=part):
            chunk = _pixel_rows(stored, pixel_max, start, stop)
            x = chunk.reshape(stop - start, -1)
            rebuilt = _rebuilds(chunk, layout, ranks)
            result = {}
            for key in sources:
                inputs = rebuilt[key[1]] if key[0] == "image patterns" else x
                out = {}
                if "knn" in plans[key]:
                    matrix, offset = plans[key]["knn"]
                    out["knn"] = inputs @ matrix - offset
                if "linear" in plans[key]:
                    matrix, offset = plans[key]["linear"]
                    out["linear"] = (inputs @ matrix + offset).argmax(axis=1)
                if part == "test" and key[0] != "original":
                    image = inputs if key[0] == "image patterns" else x @ maps32[key[1]]
                    out["psnr"] = psnr(x, image)
                result[key] = out
            if noisy:
                result["noisy"] = np.stack([(x @ w + b).argmax(axis=1) for w, b in noisy])
            return result

        def store(start, stop, result, part=part):
            for key in sources:
                for name, value in result[key].items():
                    target = outputs[key]["psnr" if name == "psnr" else f"{name}_{part}"]
                    target[start:stop] = value
            if noisy:
                outputs[f"noisy_{part}"][:, start:stop] = result["noisy"]

        with stage(f"learnability {part} images", total=n) as bar:
            for_each_chunk(work, n, chunk_size=rows_per_chunk(_CHUNK, 4 * n_values * (len(ranks) + 2)),
                           n_jobs=n_jobs, store=store, shared=(stored,), progress=bar.update)
    for key in sources:
        if "psnr" in outputs[key]:
            median = float(np.median(outputs[key].pop("psnr")))
            # Above 100 dB the difference is float32 rounding: the rebuild is exact.
            outputs[key]["psnr_db"] = median if np.isfinite(median) and median < _EXACT_DB else None
    return outputs


def _analysis(train, fractions, wavelet, level, mode, random_state, n_jobs):
    """The analysis of the training images and its image-pattern NMI at each label-noise fraction
    (the same relabeling the classifiers see: :func:`wavelens.association.noisy_labels`, same seed)."""
    from .analysis import analyze, noise_curve

    result = analyze(train, wavelet=wavelet, level=level, mode=mode,
                     n_patterns=min(100, max(2, train.n_images // 2)), random_state=random_state, n_jobs=n_jobs)
    curve = noise_curve(result, fractions, random_repeats=1, random_state=random_state, kinds=["image_patterns"])
    return result, curve.rows
