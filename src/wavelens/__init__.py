"""wavelens: what an image-classification dataset is made of, with wavelets and spectral methods.

The pipeline, one module each: :mod:`~wavelens.datasets` (loading) ->
:mod:`~wavelens.transform` (batched 2D wavelet transform) ->
:mod:`~wavelens.lowrank` (per-image rank-1 patterns) ->
:mod:`~wavelens.analyze` (the analysis) -> :mod:`~wavelens.results` (files),
with the command line in :mod:`wavelens.cli` on top.
"""

from ._validation import WavelensError
from ._version import __version__
from .analyze import Analysis, analyze
from .datasets import Dataset, load_dataset
from .lowrank import (ImagePatterns, decompose_images, image_patterns, psnr, rank_at_energy,
                      rebuild_from_patterns)
from .transform import WaveletLayout, inverse_wavelet_transform, wavelet_layout, wavelet_transform

__all__ = [
    "Analysis",
    "Dataset",
    "ImagePatterns",
    "WaveletLayout",
    "WavelensError",
    "__version__",
    "analyze",
    "decompose_images",
    "image_patterns",
    "inverse_wavelet_transform",
    "load_dataset",
    "psnr",
    "rank_at_energy",
    "rebuild_from_patterns",
    "wavelet_layout",
    "wavelet_transform",
]
