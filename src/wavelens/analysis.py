"""The ``analyze`` pipeline: transform, decompose, find patterns, relate them to classes.

Pure computation: it returns an :class:`Analysis`; writing files is
:mod:`wavelens.results`'s job and printing the CLI's.
"""

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from ._parallel import dask_client, resolve_n_jobs, single_threaded_blas
from ._validation import WavelensError, check_fraction, check_n_jobs, check_positive_int, check_seed, param
from ._version import __version__
from .association import (class_signatures, compare_with_random, contingency_table, noisy_labels,
                          share_table)
from .datasets import Dataset
from .datasets._base import check_dataset
from .dictionary import Prototypes, assign_patterns, build_pattern_dictionary
from .summaries import analysis_findings, image_shape_text, noise_curve_findings
from .decomposition import ImagePatterns, decompose_images
from .dataset_patterns import DatasetPatterns, PixelGram, find_dataset_patterns, on_gram_route, pattern_shares
from .transform import wavelet_layout

if TYPE_CHECKING:
    import os
    from pathlib import Path

    import pandas as pd

__all__ = ["Analysis", "NoiseCurve", "analyze", "lowrank_summary", "noise_curve"]

NOISE_CURVE_FRACTIONS = (0.0, 0.25, 0.5, 0.75, 1.0)

# The per-image pass adds up the pixel Gram matrix in one matrix per thread: only
# while they fit in this (5 MB a thread for 28x28 images, 75 MB for 32x32x3).
_ONE_PASS_GRAM_BYTES = 256 * 2 ** 20


@dataclass(repr=False)
class Analysis:
    """Everything ``analyze`` found for one dataset.

    Look at it through :attr:`per_image` (a row per image), :meth:`association_table`
    (true against random labels), :meth:`contingency` (patterns x classes) and
    :meth:`summary` (plain words); :meth:`save` writes the result files and
    :meth:`report` the HTML report.

    Attributes
    ----------
    dataset : Dataset
    params : dict
        Every parameter used.
    patterns : ImagePatterns
        The per-image rank-1 patterns.
    layout : WaveletLayout
    dictionary : Prototypes
        The prototypes of the image patterns and each image's bag of them.
    dataset_patterns : DatasetPatterns
    labels : ndarray
        The labels the association used: the dataset's, or noisy ones with
        ``label_noise``.
    association : dict
        The association statistics, as ``summary.json`` holds them.
    spectrum : dict
    timings_s : dict
        Seconds per stage.

    Examples
    --------
    >>> import wavelens
    >>> result = wavelens.analyze(wavelens.load_dataset("digits", limit=300), n_patterns=10)
    >>> result
    Analysis(digits (all): 300 images of 8x8, 10 classes; image-pattern NMI 0.111, random 0.0194)
    >>> result.per_image.columns[:5].tolist()
    ['id', 'index', 'label', 'class_name', 'rank_at_energy']
    """

    dataset: Dataset
    params: dict
    patterns: ImagePatterns
    layout: object
    dictionary: Prototypes
    dataset_patterns: DatasetPatterns
    labels: np.ndarray
    association: dict
    spectrum: dict
    timings_s: dict = field(default_factory=dict)
    command: str = None

    def __repr__(self):
        d, image = self.dataset, self.association["image_patterns"]
        shape = image_shape_text(d.image_shape)
        random = f", random {image['random']['nmi']:.4f}" if "random" in image else ""
        return (f"Analysis({d.name} ({d.split}): {d.n_images} images of {shape}, {d.n_classes} classes; "
                f"image-pattern NMI {image['true']['nmi']:.3f}{random})")

    def summary(self) -> str:
        """What the analysis found, in plain words (what the command line prints)."""
        return "\n".join(analysis_findings(self.to_dict()))

    @property
    def per_image(self) -> "pd.DataFrame":
        """A pandas DataFrame with a row per image: its id (and file path when it has one), position,
        label and class name, r(e), numerical rank, relative error and PSNR of the image rebuilt from
        its top r(e) patterns, its top-k pattern prototypes and their energy shares, and its dominant
        dataset pattern."""
        import pandas as pd

        d, p, dictionary = self.dataset, self.patterns, self.dictionary
        columns = d.image_columns()
        if self.params.get("label_noise"):
            columns["noisy_label"] = self.labels
        columns.update(rank_at_energy=p.rank_at_energy, numerical_rank=p.numerical_rank,
                       relative_error=p.relative_error, psnr_db=p.psnr_db)
        for j in range(dictionary.top_k):
            columns[f"image_pattern_{j + 1}"] = dictionary.assignments[:, j]
            columns[f"image_pattern_weight_{j + 1}"] = dictionary.weights[:, j]
        columns["dominant_dataset_pattern"] = self.dataset_patterns.dominant
        return pd.DataFrame(columns)

    def association_table(self) -> "pd.DataFrame":
        """A pandas DataFrame of the association statistics, a row per pattern kind and labelling
        (``true``, ``random``: the mean over permutations, with its standard deviation), with the
        z-score and permutation p-value of the NMI."""
        import pandas as pd

        rows = []
        for kind in ("image_patterns", "dataset_patterns"):
            stats = self.association[kind]
            rows.append({"kind": kind, "labels": "true", **stats["true"], "z_score": stats.get("z_score"),
                         "p_value": stats.get("p_value"), "n_patterns": stats["n_patterns"]})
            if "random" in stats:
                rows.append({"kind": kind, "labels": "random", **stats["random"], "n_patterns": stats["n_patterns"]})
        return pd.DataFrame(rows)

    def contingency(self, kind: str = "image_patterns", weighting: str = "counts") -> "pd.DataFrame":
        """The patterns x classes table of ``kind`` ('image_patterns' or 'dataset_patterns'),
        weighted by ``weighting`` ('counts' or 'energy'), as a pandas DataFrame."""
        import pandas as pd

        tables = self.tables()
        if kind not in tables or weighting not in tables[kind]:
            raise WavelensError(f"contingency(kind={kind!r}, weighting={weighting!r}): kind must be one of "
                                f"{', '.join(tables)} and weighting one of counts, energy.")
        table = tables[kind][weighting]
        return pd.DataFrame(table, columns=pd.Index(self.dataset.class_names, name="class"),
                            index=pd.RangeIndex(len(table), name="pattern"))

    def apply(self, dataset: Dataset, *, n_jobs: int | None = -1) -> "Analysis":
        """This analysis's patterns applied to other images, e.g. the training set's to the test set.

        Each image of ``dataset`` is decomposed as :func:`analyze` does (same wavelet,
        energy and ``top_k``); its top patterns are assigned to this analysis's prototypes,
        and its shares of this analysis's dataset patterns are measured. How those go with
        ``dataset``'s classes is then measured against randomly permuted labels, as in
        :func:`analyze`. Nothing is fitted on ``dataset``: an association found here is the
        training patterns generalizing to new images.

        Parameters
        ----------
        dataset : Dataset
            Labeled images of this analysis's image shape; their class names may differ.
        n_jobs : int or None, default=-1
            Threads: -1 uses every core, None one.

        Returns
        -------
        Analysis
            Of ``dataset``, with this analysis's prototypes and dataset patterns; its
            ``params`` record where the patterns came from (``patterns_from``).

        Examples
        --------
        >>> import wavelens
        >>> train = wavelens.load_dataset("digits", limit=600, random_state=0)
        >>> test = wavelens.load_dataset("digits", limit=300, random_state=1)
        >>> on_test = wavelens.analyze(train, n_patterns=10).apply(test)
        >>> on_test.params["patterns_from"]
        'digits (all)'
        >>> on_test.association_table().loc[0, ["kind", "labels"]].tolist()
        ['image_patterns', 'true']
        """
        check_dataset(dataset)
        _check_labels(dataset)
        own = self.dataset
        if dataset.image_shape != own.image_shape:
            raise WavelensError(
                f"{dataset.source}: images of {image_shape_text(dataset.image_shape)}, but the patterns were found on images "
                f"of {image_shape_text(own.image_shape)}; load them at that size (load_dataset(..., resize=...)).")
        lap = _Laps()
        p = self.params
        stored, pixel_max = dataset.stored
        patterns, layout = decompose_images(stored, wavelet=p["wavelet"], level=p["level"], mode=p["mode"],
                                            energy=p["energy"], top_k=p["top_k"], pixel_max=pixel_max,
                                            n_jobs=n_jobs)
        lap("decompose")
        assignments, weights = assign_patterns(patterns, self.dictionary.prototypes, factors=self.dictionary.factors,
                                               n_jobs=n_jobs)
        dictionary = Prototypes(self.dictionary.prototypes, assignments, weights, self.dictionary.random_state,
                                self.dictionary.factors)
        lap("dictionary")
        dp = pattern_shares(stored, layout, self.dataset_patterns, pixel_max=pixel_max)
        lap("dataset_patterns")
        params = {**p, "label_noise": 0.0, "patterns_from": f"{own.name} ({own.split})"}
        spectrum = {"energy": p["energy"], "centered": bool(p["center"])}
        return _associate(Analysis(dataset, params, patterns, layout, dictionary, dp, dataset.labels, {}, spectrum,
                                   timings_s=lap.timings), lap)

    def save(self, folder: "str | os.PathLike", *, overwrite: bool = False, report: bool = True) -> dict:
        """Write the result files into ``folder`` (see the README), all or nothing; returns
        the summary record written to ``summary.json``."""
        from .results import write_analysis

        return write_analysis(self, folder, overwrite=overwrite, report=report)

    def report(self, path: "str | os.PathLike", *, overwrite: bool = False) -> "Path":
        """Write the HTML report to the file ``path`` (one self-contained page); returns the path."""
        from .results import write_report

        return write_report(self, path, overwrite=overwrite)

    def tables(self) -> dict:
        """Contingency tables {kind: {"counts": ..., "energy": ...}} of both pattern kinds."""
        n_classes = self.dataset.n_classes
        dp = self.dataset_patterns
        return {
            "image_patterns": {
                "counts": contingency_table(self.dictionary.assignments, self.labels,
                                            self.dictionary.n_patterns, n_classes),
                "energy": contingency_table(self.dictionary.assignments, self.labels,
                                            self.dictionary.n_patterns, n_classes,
                                            weights=self.dictionary.weights),
            },
            "dataset_patterns": {
                "counts": contingency_table(dp.dominant, self.labels, dp.shares.shape[1], n_classes),
                "energy": share_table(dp.shares, self.labels, n_classes),
            },
        }

    def to_dict(self) -> dict:
        """The JSON-ready record written to ``summary.json``."""
        d = self.dataset
        return {
            "wavelens_version": __version__,
            "command": self.command,
            "dataset": d.record(),
            "params": dict(self.params),
            "wavelet_matrix_shape": list(self.layout.matrix_shape),
            "lowrank": lowrank_summary(self.patterns),
            "spectrum": self.spectrum,
            "association": self.association,
            "timings_s": {k: round(v, 4) for k, v in self.timings_s.items()},
        }



def _finite_or_none(value):
    value = float(value)
    return value if np.isfinite(value) else None


def lowrank_summary(patterns):
    """Rank statistics over all images, as plain Python numbers.

    ``psnr_db_median`` is None when more than half the images are rebuilt
    exactly (infinite PSNR), since JSON has no infinity.
    """
    r = patterns.rank_at_energy
    return {
        "energy": patterns.energy,
        "rank_median": float(np.median(r)),
        "rank_mean": float(np.mean(r)),
        "rank_p95": float(np.percentile(r, 95)),
        "rank_max": int(r.max()),
        "max_possible_rank": int(patterns.max_possible_rank),
        "numerical_rank_median": float(np.median(patterns.numerical_rank)),
        "relative_error_median": float(np.median(patterns.relative_error)),
        "psnr_db_median": _finite_or_none(np.median(patterns.psnr_db)),
    }


class _Laps:
    """Seconds per stage: ``lap(stage)`` records the time since the last lap (or :meth:`restart`)."""

    def __init__(self):
        self.timings = {}
        self.restart()

    def restart(self):
        self._clock = time.perf_counter()

    def __call__(self, stage):
        now = time.perf_counter()
        self.timings[stage], self._clock = now - self._clock, now


def _check_labels(dataset):
    if not dataset.labeled:
        raise WavelensError(
            f"{dataset.source}: the images have no labels, and relating patterns to classes needs them. Give "
            "labels (from_arrays(images, labels), class folders, a label column), or use find_near_duplicates "
            "or find_communities, which need none.")
    present = np.unique(dataset.labels)
    if len(present) < 2:
        only = dataset.class_names[present[0]] if len(present) else "none"
        raise WavelensError(
            f"{dataset.source}: the images hold a single class ({only}); relating patterns to classes "
            f"needs at least two. Use a dataset with several classes (or a larger {param('limit')})."
        )


def _check_classes(dataset, n_patterns):
    _check_labels(dataset)
    if dataset.n_images < n_patterns:
        raise WavelensError(
            f"{dataset.source}: {dataset.n_images} images are fewer than the {n_patterns} patterns "
            f"asked for; use {param('n_patterns', max(2, dataset.n_images // 2))} or fewer, or more images."
        )


def _association(dictionary, dp, labels, n_classes, class_names, *, top_k, repeats, random_state,
                 kinds=("image_patterns", "dataset_patterns")):
    result = {}
    if "image_patterns" in kinds:
        def image_table(labels):
            return contingency_table(dictionary.assignments, labels, dictionary.n_patterns, n_classes)

        image = compare_with_random(image_table, labels, repeats=repeats, random_state=random_state)
        image.update(n_patterns=dictionary.n_patterns, top_k=top_k, table="counts")
        image["signatures"] = class_signatures(image_table(labels), class_names)
        result["image_patterns"] = image
    if "dataset_patterns" in kinds:
        def dataset_table(labels):
            return share_table(dp.shares, labels, n_classes)

        data = compare_with_random(dataset_table, labels, repeats=repeats, random_state=random_state)
        data.update(n_patterns=int(dp.shares.shape[1]), table="energy shares")
        data["signatures"] = class_signatures(dataset_table(labels), class_names)
        result["dataset_patterns"] = data
    return result


@single_threaded_blas
def analyze(dataset: Dataset, *, wavelet: str = "db1", level: int = 1, mode: str = "periodization",
            energy: float = 0.99, top_k: int = 3, n_patterns: int = 100, center: bool = False,
            random_repeats: int = 5, label_noise: float = 0.0, random_state: int = 0, n_jobs: int | None = -1,
            params: dict | None = None) -> Analysis:
    """Run the whole analysis on a loaded dataset.

    Parameters
    ----------
    dataset : Dataset
    wavelet, level, mode : see :func:`wavelens.wavelet_transform`
    energy : float, default=0.99
        Energy fraction for r(e) and for the number of dataset patterns.
    top_k : int, default=3
        Rank-1 patterns taken from each image for the pattern dictionary.
    n_patterns : int, default=100
        Prototypes in the dictionary, and dataset patterns kept.
    center : bool, default=False
        Center the dataset wavelet matrix before its SVD.
    random_repeats : int, default=5
        Label permutations of the random-label control.
    label_noise : float, default=0.0
        Fraction of labels replaced uniformly at random before the association
        (1.0 is a randomly labeled dataset).
    random_state : int, default=0
    n_jobs : int or None, default=-1
        Threads: -1 uses every core, -2 all but one, None one (as in scikit-learn).
    params : dict, default=None
        Further options to record in the summary (loader options...).

    Returns
    -------
    Analysis

    Examples
    --------
    >>> import wavelens
    >>> result = wavelens.analyze(wavelens.load_dataset("digits"), random_repeats=19)
    >>> print(result.summary().splitlines()[3])  # doctest: +ELLIPSIS
    The 100 image-pattern prototypes (counts) go with the classes: NMI 0.37... the patterns go with the classes far beyond chance.
    >>> shuffled = wavelens.analyze(wavelens.load_dataset("digits"), label_noise=1.0)
    >>> round(shuffled.association["image_patterns"]["true"]["nmi"], 2)  # random labels: the association is gone
    0.03
    """
    check_dataset(dataset)
    top_k = check_positive_int(top_k, "top_k")
    random_state = check_seed(random_state)
    n_patterns = check_positive_int(n_patterns, "n_patterns", minimum=2)
    random_repeats = check_positive_int(random_repeats, "random_repeats", minimum=0)
    label_noise = check_fraction(label_noise, "label_noise")
    check_n_jobs(n_jobs)
    if params is not None and not isinstance(params, dict):
        raise WavelensError(f"The 'params' parameter must be a dict of further options to record; got "
                            f"{type(params).__name__}.")
    _check_classes(dataset, n_patterns)
    lap = _Laps()
    timings = lap.timings
    layout = wavelet_layout(dataset.image_shape, wavelet=wavelet, level=level, mode=mode)
    # Integer pixels are read as they are stored and made float chunk by chunk.
    stored, pixel_max = dataset.stored
    # The dataset patterns need the pixel matrix's Gram matrix. For integer pixels it
    # is exact whatever the order of the sums, so it is added up in the per-image pass,
    # on the same threads and chunks; otherwise it has its own pass. Either way, with
    # more than one thread the rest of that stage runs beside the dictionary (stage
    # times then overlap). On Dask the per-image tasks run elsewhere: its own pass.
    n_pixels = int(np.prod(dataset.image_shape))
    one_pass = (PixelGram.handles(pixel_max) and not center and on_gram_route(layout) and dask_client() is None
                and resolve_n_jobs(n_jobs) * n_pixels ** 2 * 8 <= _ONE_PASS_GRAM_BYTES)
    pixel_gram = PixelGram(n_pixels, pixel_max) if one_pass else None
    with ThreadPoolExecutor(max_workers=1) as beside:
        def dataset_stage():
            start = time.perf_counter()
            result = find_dataset_patterns(stored, layout, n_patterns=n_patterns, energy=energy, center=center,
                                      random_state=random_state, pixel_max=pixel_max, n_jobs=n_jobs,
                                      pixel_gram=pixel_gram.total() if one_pass else None)
            return result, time.perf_counter() - start

        parallel = resolve_n_jobs(n_jobs) > 1
        pending = beside.submit(dataset_stage) if parallel and not one_pass else None
        patterns, _ = decompose_images(stored, wavelet=wavelet, level=level, mode=mode, energy=energy,
                                       top_k=top_k, pixel_max=pixel_max, n_jobs=n_jobs,
                                       each_chunk=pixel_gram.add if one_pass else None)
        lap("decompose")
        if parallel and pending is None:
            pending = beside.submit(dataset_stage)
        dictionary = build_pattern_dictionary(patterns, n_patterns=n_patterns, random_state=random_state, n_jobs=n_jobs)
        lap("dictionary")
        dp, timings["dataset_patterns"] = pending.result() if pending else dataset_stage()
    lap.restart()
    spectrum = {
        "numerical_rank_wavelet": dp.numerical_rank,
        "numerical_rank_pixel": dp.numerical_rank_pixel,
        "n_patterns_at_energy": dp.n_patterns_at_energy,
        "max_possible_rank": int(min(dataset.n_images, np.prod(layout.matrix_shape) * layout.n_channels)),
        "energy": energy,
        "centered": bool(center),
    }
    recorded = {"wavelet": wavelet, "level": level, "mode": mode, "energy": energy, "top_k": top_k,
                "n_patterns": n_patterns, "center": bool(center), "random_repeats": random_repeats,
                "label_noise": float(label_noise), "random_state": random_state}
    recorded.update(params or {})
    return _associate(Analysis(dataset, recorded, patterns, layout, dictionary, dp, dataset.labels, {}, spectrum,
                               timings_s=timings), lap)


def _associate(result, lap):
    """Fill in ``result``'s labels (noisy ones with label_noise), association statistics and short
    noise curve: the part of an analysis that depends on the labels."""
    d, params = result.dataset, result.params
    label_noise, random_state = params["label_noise"], params["random_state"]
    if label_noise:
        result.labels = noisy_labels(d.labels, label_noise, d.n_classes, random_state=random_state)
    association = result.association
    association.update(_association(result.dictionary, result.dataset_patterns, result.labels, d.n_classes,
                                    d.class_names, top_k=result.dictionary.top_k, repeats=params["random_repeats"],
                                    random_state=random_state))
    association["label_noise"] = float(label_noise)
    lap("association")
    if not label_noise:
        # A short noise curve for the report: the patterns stay, only the labels change.
        curve = noise_curve(result, NOISE_CURVE_FRACTIONS, random_repeats=1, random_state=random_state,
                            kinds=("image_patterns",)).rows
        association["noise_curve"] = [
            {key: row[key] for key in ("fraction", "nmi", "random_nmi") if key in row} for row in curve]
        lap("noise_curve")
    return result


@dataclass(repr=False)
class NoiseCurve:
    """How the association of an analysis's patterns with the classes falls as labels are made random.

    Attributes
    ----------
    analysis : Analysis
        Whose patterns are followed (they do not depend on the labels).
    rows : list of dict
        One per fraction and pattern kind, as ``noise_curve.json`` holds them.
    params : dict
        ``fractions``, ``random_repeats``, ``random_state``, ``kinds``.

    Examples
    --------
    >>> import wavelens
    >>> result = wavelens.analyze(wavelens.load_dataset("digits", limit=500), n_patterns=20)
    >>> curve = wavelens.noise_curve(result, [0.0, 0.5, 1.0], kinds=["image_patterns"])
    >>> curve.table[["fraction", "kind"]].values.tolist()
    [[0.0, 'image_patterns'], [0.5, 'image_patterns'], [1.0, 'image_patterns']]
    >>> bool(curve.table["nmi"].is_monotonic_decreasing)
    True
    """

    analysis: Analysis
    rows: list
    params: dict
    command: str = None

    def __repr__(self) -> str:
        d, rows = self.analysis.dataset, [r for r in self.rows if r["kind"] == self.rows[0]["kind"]]  # never empty
        return (f"NoiseCurve({d.name} ({d.split}): {self.rows[0]['kind']} NMI {rows[0]['nmi']:.3f} at "
                f"{rows[0]['fraction']:.0%} random labels, {rows[-1]['nmi']:.4f} at {rows[-1]['fraction']:.0%})")

    @property
    def table(self) -> "pd.DataFrame":
        """A pandas DataFrame with a row per fraction and pattern kind: the statistics with the
        labels so corrupted, the means and standard deviations over permuted labels, and the
        z-score and permutation p-value of the NMI."""
        import pandas as pd

        return pd.DataFrame(self.rows)

    def summary(self) -> str:
        """The curve in plain words (what the command line prints)."""
        return "\n".join(noise_curve_findings(self.to_dict()))

    def to_dict(self) -> dict:
        """The JSON-ready record written to ``noise_curve.json``."""
        record = self.analysis.to_dict()
        return {"wavelens_version": __version__, "command": self.command, "dataset": record["dataset"],
                "params": {**record["params"], **self.params}, "rows": self.rows}

    def save(self, folder: "str | os.PathLike", *, overwrite: bool = False, report: bool = True) -> dict:
        """Write ``noise_curve.json``, ``noise_curve.csv`` and the report into ``folder``, all or
        nothing; returns the record written."""
        from .results import write_noise_curve

        return write_noise_curve(self, folder, overwrite=overwrite, report=report)

    def report(self, path: "str | os.PathLike", *, overwrite: bool = False) -> "Path":
        """Write the HTML report to the file ``path`` (one self-contained page); returns the path."""
        from .results import write_report

        return write_report(self, path, overwrite=overwrite)


def noise_curve(analysis: Analysis, fractions: Sequence[float], *, random_repeats: int = 5, random_state: int = 0,
                kinds: Sequence[str] = ("image_patterns", "dataset_patterns")) -> NoiseCurve:
    """Association statistics as a growing fraction of labels is made random.

    The patterns do not depend on the labels, so they are computed once (in
    ``analysis``) and only the association is recomputed for each fraction:
    that fraction of labels is replaced uniformly at random (1.0 is the paper's
    randomly labeled dataset), and compared with ``random_repeats`` permutations.

    Parameters
    ----------
    analysis : Analysis
    fractions : sequence of float
        Fractions of labels to replace, each in [0, 1].
    random_repeats : int, default=5
        Label permutations of the random-label control at each fraction.
    random_state : int, default=0
    kinds : sequence of str, default=("image_patterns", "dataset_patterns")
        Which pattern kinds to follow.

    Returns
    -------
    NoiseCurve

    Examples
    --------
    >>> import wavelens
    >>> result = wavelens.analyze(wavelens.load_dataset("digits", limit=500), n_patterns=20)
    >>> curve = wavelens.noise_curve(result, [0.0, 0.5, 1.0], kinds=["image_patterns"])
    >>> nmi = curve.table["nmi"].tolist()
    >>> nmi[0] > nmi[1] > nmi[2]
    True
    """
    if not isinstance(analysis, Analysis):
        raise WavelensError(f"The 'analysis' parameter must be the Analysis that wavelens.analyze returns, not "
                            f"{type(analysis).__name__}.")
    random_repeats = check_positive_int(random_repeats, "random_repeats", minimum=0)
    random_state = check_seed(random_state)
    if isinstance(fractions, (str, bytes)) or not hasattr(fractions, "__iter__"):
        raise WavelensError(f"The 'fractions' parameter must be a sequence of numbers in [0, 1], e.g. [0, 0.5, 1]; "
                            f"got {fractions!r}.")
    fractions = [check_fraction(f, "fractions") for f in fractions]
    if not fractions:
        raise WavelensError("The 'fractions' parameter is empty; give at least one fraction, e.g. [0, 0.5, 1].")
    kinds = list(kinds)
    unknown = sorted(set(kinds) - {"image_patterns", "dataset_patterns"})
    if unknown or not kinds:
        raise WavelensError(f"The 'kinds' parameter must name image_patterns and/or dataset_patterns; got {kinds!r}.")
    d = analysis.dataset
    rows = []
    for fraction in fractions:
        labels = noisy_labels(d.labels, fraction, d.n_classes, random_state=random_state)
        result = _association(analysis.dictionary, analysis.dataset_patterns, labels, d.n_classes,
                              d.class_names, top_k=analysis.dictionary.top_k, repeats=random_repeats,
                              random_state=random_state, kinds=kinds)
        for kind in kinds:
            stats = result[kind]
            row = {"fraction": fraction, "kind": kind, **stats["true"]}
            if "random" in stats:
                row.update({f"random_{k}": v for k, v in stats["random"].items() if k != "repeats"})
                row.update(z_score=stats["z_score"], p_value=stats["p_value"])
            rows.append(row)
    return NoiseCurve(analysis, rows, {"fractions": fractions, "random_repeats": random_repeats,
                                       "random_state": random_state, "kinds": kinds})
