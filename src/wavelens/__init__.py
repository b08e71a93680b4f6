"""wavelens: what an image-classification dataset is made of, with wavelets and spectral methods.

The pipeline, one module each: :mod:`~wavelens.datasets` (loading) ->
:mod:`~wavelens.transform` (batched 2D wavelet transform) ->
:mod:`~wavelens.lowrank` (per-image rank-1 patterns) ->
:mod:`~wavelens.analysis` (the analysis) -> :mod:`~wavelens.results` (files),
with the command line in :mod:`wavelens.cli` on top.
"""

import importlib

from ._version import __version__

# Attributes load their module on first use (PEP 562), so that the command line
# can configure BLAS before NumPy loads, and `import wavelens` stays cheap.
_HOMES = {
    "WavelensError": "._validation",
    "Analysis": ".analysis", "analyze": ".analysis", "noise_curve": ".analysis",
    "CommunityAnalysis": ".spectral_analysis", "find_communities": ".spectral_analysis",
    "DuplicateAnalysis": ".duplicate_analysis", "find_near_duplicates": ".duplicate_analysis",
    "Dataset": ".datasets", "load_dataset": ".datasets", "from_arrays": ".datasets",
    "ImagePatterns": ".lowrank", "decompose_images": ".lowrank", "image_patterns": ".lowrank",
    "psnr": ".lowrank", "rank_at_energy": ".lowrank", "rebuild_from_patterns": ".lowrank",
    "WaveletTransform": ".estimators", "PatternDecomposition": ".estimators", "PatternDictionary": ".estimators",
    "SpectralCommunities": ".estimators", "NearDuplicates": ".estimators",
    "WaveletLayout": ".transform", "inverse_wavelet_transform": ".transform", "wavelet_layout": ".transform",
    "wavelet_transform": ".transform",
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
    "CommunityAnalysis",
    "DuplicateAnalysis",
    "Dataset",
    "ImagePatterns",
    "NearDuplicates",
    "PatternDecomposition",
    "PatternDictionary",
    "SpectralCommunities",
    "WaveletLayout",
    "WaveletTransform",
    "WavelensError",
    "__version__",
    "analyze",
    "decompose_images",
    "find_communities",
    "find_near_duplicates",
    "from_arrays",
    "image_patterns",
    "inverse_wavelet_transform",
    "load_dataset",
    "noise_curve",
    "psnr",
    "rank_at_energy",
    "rebuild_from_patterns",
    "wavelet_layout",
    "wavelet_transform",
]
