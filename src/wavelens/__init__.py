"""wavelens: what an image-classification dataset is made of, with wavelets and spectral methods.

The modules follow the pipeline:

- :mod:`~wavelens.datasets`: load images and labels (files, folders, tables, arrays);
- :mod:`~wavelens.transform`: the batched 2D wavelet transform;
- :mod:`~wavelens.decomposition`: each image's rank-1 patterns (SVD of its wavelet matrix);
- :mod:`~wavelens.dictionary` (prototypes of the image patterns) and
  :mod:`~wavelens.dataset_patterns` (the dataset matrix's singular vectors);
- :mod:`~wavelens.association`: how patterns go with classes, against random labels;
- :mod:`~wavelens.analysis` (``analyze`` -> :class:`Analysis`), :mod:`~wavelens.communities`
  (``find_communities`` -> :class:`CommunityAnalysis`) and :mod:`~wavelens.duplicates`
  (``find_near_duplicates`` -> :class:`DuplicateAnalysis`): the analyses and their results;
- :mod:`~wavelens.auditing` (``audit`` -> :class:`Audit`): every check at once, a row per image
  of what to fix (label errors, duplicates, outliers, confusable classes);
- :mod:`~wavelens.learning` (``learnability`` -> :class:`Learnability`): light classifiers on
  images rebuilt from a few patterns, and on random labels;
- :mod:`~wavelens.summaries` (findings in words), :mod:`~wavelens.results` (result files) and
  :mod:`~wavelens.report` (the HTML report);
- :mod:`~wavelens.estimators`: the same steps as scikit-learn estimators;
- :mod:`wavelens.cli`: the command line, which only displays results.
"""

import importlib

from ._version import __version__

# Attributes load their module on first use (PEP 562), so that the command line
# can configure BLAS before NumPy loads, and `import wavelens` stays cheap.
_HOMES = {
    "WavelensError": "._validation",
    "Analysis": ".analysis", "analyze": ".analysis", "noise_curve": ".analysis", "NoiseCurve": ".analysis",
    "CommunityAnalysis": ".communities", "find_communities": ".communities",
    "Audit": ".auditing", "audit": ".auditing",
    "Learnability": ".learning", "learnability": ".learning",
    "DuplicateAnalysis": ".duplicates", "find_near_duplicates": ".duplicates",
    "Dataset": ".datasets", "load_dataset": ".datasets", "from_arrays": ".datasets", "from_huggingface": ".datasets",
    "load_test_split": ".datasets",
    "ImagePatterns": ".decomposition", "decompose_images": ".decomposition", "image_patterns": ".decomposition",
    "psnr": ".decomposition", "rank_at_energy": ".decomposition", "rebuild_from_patterns": ".decomposition",
    "WaveletTransform": ".estimators", "PatternDecomposition": ".estimators", "PatternDictionary": ".estimators",
    "SpectralCommunities": ".estimators", "NearDuplicates": ".estimators",
    "WaveletLayout": ".transform", "inverse_wavelet_transform": ".transform", "wavelet_layout": ".transform",
    "wavelet_transform": ".transform", "use_dask": "._parallel",
}


def __getattr__(name):
    if name in _HOMES:
        value = getattr(importlib.import_module(_HOMES[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'wavelens' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_HOMES))


__all__ = [
    "Analysis",
    "Audit",
    "CommunityAnalysis",
    "DuplicateAnalysis",
    "Dataset",
    "ImagePatterns",
    "Learnability",
    "NearDuplicates",
    "NoiseCurve",
    "PatternDecomposition",
    "PatternDictionary",
    "SpectralCommunities",
    "WaveletLayout",
    "WaveletTransform",
    "WavelensError",
    "__version__",
    "analyze",
    "audit",
    "decompose_images",
    "find_communities",
    "find_near_duplicates",
    "from_arrays",
    "from_huggingface",
    "image_patterns",
    "inverse_wavelet_transform",
    "learnability",
    "load_dataset",
    "load_test_split",
    "noise_curve",
    "psnr",
    "rank_at_energy",
    "rebuild_from_patterns",
    "use_dask",
    "wavelet_layout",
    "wavelet_transform",
]
