"""scikit-learn estimators over images: the wavelet transform, patterns, communities, duplicates.

- :class:`WaveletTransform`: images to rows of wavelet coefficients, and back exactly;
- :class:`PatternDecomposition`: each image's r(e) and its top patterns' energy shares;
- :class:`PatternDictionary`: prototypes of the image patterns, fitted on some images,
  assigned to others' patterns (``predict``) and bags of them (``transform``);
- :class:`SpectralCommunities`: communities of similar images (``fit_predict``);
- :class:`NearDuplicates`: an index of reference images (``fit``) queried by others.

They follow scikit-learn's conventions: keyword-only parameters that
``__init__`` only stores, checked in ``fit`` before any heavy work (a bad one
raises :class:`~wavelens.WavelensError`, a ``ValueError``, whose one line names
the parameter), fitted attributes ending in ``_``, ``random_state`` (an int
gives the same result on every run and for any ``n_jobs``) and ``n_jobs``
counted as scikit-learn counts it (None: one thread, -1: every core).

**X.** Images of shape ``(n_samples, height, width)`` or ``(n_samples, height,
width, channels)``, or rows ``(n_samples, n_features)`` of flattened images of
shape ``image_shape``. Without ``image_shape`` each row is a one-row image (1,
n_features), which has no columns to filter: its rows get the 1D transform
(:class:`RowLayout`), and a row has one rank-1
pattern, itself. That reading lets any numeric table through, as scikit-learn's
checks require; for flattened images give ``image_shape``. Unsigned integer
pixels are read as ``X / max`` of their type by the pattern estimators (as
:func:`wavelens.analyze` does); :class:`WaveletTransform` is linear and takes
values as they are.

**scikit-learn's checks.** Every estimator passes every check of
``sklearn.utils.estimator_checks.check_estimator`` (scikit-learn 1.9: 41 to 47
checks each, the array-API check too when ``SCIPY_ARRAY_API=1``; none is
expected to fail), as ``tests/test_estimators.py`` runs them. The checks fit
on 10 to 30 samples, so they run on small settings: ``PatternDictionary(n_patterns=2)``
and ``SpectralCommunities(n_neighbors=3, max_communities=4)``. With their
defaults those two need more samples than some checks give (100 prototypes;
11 images for 10 neighbours) and say so in one line, e.g. "X has 20 sample(s),
at most 60 patterns with top_k=3, fewer than the n_patterns=100 prototypes".
Other limits, each a one-line ``ValueError`` as the checks require: a one-row
image needs at least 2 values for a level-1 transform (``X has 1 feature(s)
per row...``); ``predict`` of :class:`PatternDictionary` gives ``(n_samples,
top_k)`` prototype ids, one per pattern, not one label per image, so it is not
a classifier or a clusterer (its ``transform`` is the bag of prototypes).
"""

from ._base import RowLayout
from ._communities import SpectralCommunities
from ._dictionary import PatternDictionary
from ._duplicates import NearDuplicates
from ._transform import PatternDecomposition, WaveletTransform

__all__ = [
    "NearDuplicates",
    "PatternDecomposition",
    "PatternDictionary",
    "RowLayout",
    "SpectralCommunities",
    "WaveletTransform",
]
