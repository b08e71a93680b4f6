"""The ``analyze`` pipeline: load a dataset, transform, decompose, summarize.

Pure computation: it returns an :class:`Analysis`; writing files is
:mod:`wavelens.results`'s job and printing the CLI's.
"""

import time
from dataclasses import dataclass, field

import numpy as np

from ._version import __version__
from .datasets import Dataset
from .lowrank import ImagePatterns, decompose_images

__all__ = ["Analysis", "analyze", "lowrank_summary"]


@dataclass
class Analysis:
    """Everything ``wavelens analyze`` computed for one dataset."""

    dataset: Dataset
    params: dict
    patterns: ImagePatterns
    layout: object
    timings_s: dict = field(default_factory=dict)

    def summary(self):
        """The JSON-ready summary written to ``summary.json``."""
        d = self.dataset
        return {
            "wavelens_version": __version__,
            "dataset": {
                "name": d.name,
                "split": d.split,
                "source": d.source,
                "n_images": d.n_images,
                "image_shape": list(d.image_shape),
                "n_classes": d.n_classes,
                "class_names": list(d.class_names),
            },
            "params": dict(self.params),
            "wavelet_matrix_shape": list(self.layout.matrix_shape),
            "lowrank": lowrank_summary(self.patterns),
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


def analyze(dataset, *, wavelet="db1", level=1, mode="periodization", energy=0.99,
            n_jobs=None, params=None):
    """Run the low-rank analysis on a loaded dataset.

    Parameters
    ----------
    dataset : Dataset
    wavelet, level, mode : see :func:`wavelens.wavelet_transform`
    energy : float, default=0.99
        Energy fraction for r(e).
    n_jobs : int, default=None
    params : dict, default=None
        Options to record in the summary (loader options, seed...).

    Returns
    -------
    Analysis
    """
    start = time.perf_counter()
    patterns, layout = decompose_images(dataset.images, wavelet=wavelet, level=level, mode=mode,
                                        energy=energy, n_jobs=n_jobs)
    recorded = {"wavelet": wavelet, "level": level, "mode": mode, "energy": energy}
    recorded.update(params or {})
    return Analysis(dataset, recorded, patterns, layout,
                    timings_s={"transform_and_decompose": time.perf_counter() - start})
