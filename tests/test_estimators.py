"""The scikit-learn estimators: scikit-learn's own checks, the same results as the functions they wrap,
fit on train and predict on test, determinism, and every bad parameter in one line."""

import doctest
import importlib
import inspect
import pickle

import numpy as np
import pandas as pd
import pytest
import pywt
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from conftest import planted_patterns
from wavelens import Dataset, WavelensError, analyze, decompose_images, wavelet_transform
from wavelens._parallel import resolve_n_jobs
from wavelens.estimators import (NearDuplicates, PatternDecomposition, PatternDictionary, RowLayout,
                                 SpectralCommunities, WaveletTransform)
from wavelens.estimators._base import threads
from wavelens.communities import find_communities

# Small-data settings: scikit-learn's checks fit on 10 to 30 samples, fewer than the defaults need
# (100 prototypes; 10 neighbours and a few more images), which say so in one line.
CHECKED = [
    WaveletTransform(),
    PatternDecomposition(),
    PatternDictionary(n_patterns=2),
    SpectralCommunities(n_neighbors=3, max_communities=4),
    NearDuplicates(),
]


@parametrize_with_checks(CHECKED)
def test_scikit_learn_checks(estimator, check):
    check(estimator)


def _random_state_kwarg(function, value):
    """``random_state=value`` for a library function (``seed=value`` should one still name it so)."""
    return {"random_state" if "random_state" in inspect.signature(function).parameters else "seed": value}


def _smooth_images(rng, n, size=16):
    from scipy.ndimage import gaussian_filter

    fields = np.stack([gaussian_filter(f, 2.0, mode="wrap") for f in rng.standard_normal((n, size, size))])
    fields /= fields.std(axis=(1, 2), keepdims=True)
    return np.clip(0.3 + 0.1 * fields, 0, 1).astype(np.float32)


def _dataset(images, labels):
    return Dataset(images, labels, [f"c{c}" for c in range(int(labels.max()) + 1)], name="test", split="all",
                   source="synthetic")


# --- the wavelet transform ---------------------------------------------------------------------

@pytest.mark.parametrize("shape", [(7, 32, 32), (7, 32, 28, 3)])
@pytest.mark.parametrize("wavelet, level, mode", [("db1", 1, "periodization"), ("sym4", 2, "symmetric")])
def test_wavelet_transform_is_the_function_and_inverts_exactly(rng, shape, wavelet, level, mode):
    images = rng.random(shape)
    transform = WaveletTransform(wavelet=wavelet, level=level, mode=mode).fit(images)
    expected, layout = wavelet_transform(images, wavelet=wavelet, level=level, mode=mode)
    coefficients = transform.transform(images)
    np.testing.assert_array_equal(coefficients, expected.reshape(len(images), -1))
    assert transform.layout_ == layout
    assert len(transform.get_feature_names_out()) == coefficients.shape[1]
    # sym4's published filters are orthonormal to about 1e-12 only.
    np.testing.assert_allclose(transform.inverse_transform(coefficients), images, rtol=0, atol=1e-10)
    np.testing.assert_allclose(transform.inverse_transform(expected), images, rtol=0, atol=1e-10)
    # Flattened rows with image_shape: the same coefficients, and rows back.
    rows = images.reshape(len(images), -1)
    flat = WaveletTransform(wavelet=wavelet, level=level, mode=mode, image_shape=shape[1:]).fit(rows)
    np.testing.assert_array_equal(flat.transform(rows), coefficients)
    np.testing.assert_allclose(flat.inverse_transform(coefficients), rows, rtol=0, atol=1e-10)
    assert transform.transform(rows).shape == coefficients.shape  # fitted on images, rows are accepted


def test_wavelet_transform_keeps_float32_and_reads_integers_as_they_are(rng):
    images = rng.random((4, 8, 8)).astype(np.float32)
    assert WaveletTransform().fit_transform(images).dtype == np.float32
    pixels = (images * 255).astype(np.uint8)
    coefficients = WaveletTransform().fit_transform(pixels)
    assert coefficients.dtype == np.float64
    np.testing.assert_allclose(coefficients, wavelet_transform(pixels.astype(np.float64))[0].reshape(4, -1))


@pytest.mark.parametrize("width, wavelet, level", [(8, "db1", 3), (7, "db2", 1), (3, "db1", 1)])
def test_rows_without_image_shape_are_one_row_images_with_the_1d_transform(rng, width, wavelet, level):
    rows = rng.random((5, width))
    transform = WaveletTransform(wavelet=wavelet, level=level).fit(rows)
    assert isinstance(transform.layout_, RowLayout) and transform.image_shape_ == (1, width)
    expected = np.concatenate(pywt.wavedec(rows, wavelet, mode="periodization", level=level, axis=1), axis=1)
    np.testing.assert_array_equal(transform.transform(rows), expected)
    np.testing.assert_allclose(transform.inverse_transform(expected), rows, rtol=0, atol=1e-12)
    assert transform.layout_.orthogonal == (width % 2 ** level == 0)


# --- per-image patterns --------------------------------------------------------------------------

@pytest.mark.parametrize("shape, level", [((20, 12, 12), 1), ((20, 12, 12), 2), ((20, 8, 8, 3), 1)])
def test_pattern_decomposition_is_decompose_images(rng, shape, level):
    images = rng.random(shape).astype(np.float32)
    images[0] = 0  # a blank image: r(e) 0, no patterns
    decomposition = PatternDecomposition(level=level, energy=0.9, top_k=3).fit(images)
    expected, _ = decompose_images(images, level=level, energy=0.9, top_k=3)
    found = decomposition.decompose(images)
    for name in ("singular_values", "rank_at_energy", "numerical_rank", "relative_error", "psnr_db", "top_energy",
                 "top_u", "top_v", "top_channel"):
        np.testing.assert_array_equal(getattr(found, name), getattr(expected, name), err_msg=name)
    table = decomposition.transform(images)
    np.testing.assert_array_equal(table[:, 0], expected.rank_at_energy)
    np.testing.assert_allclose(table[1:, 1:], expected.top_energy[1:] / expected.total_energy[1:, None])
    assert (table[0] == 0).all()
    assert (table[:, 1:].sum(axis=1) <= 1 + 1e-12).all()


def test_pattern_decomposition_reads_unsigned_pixels_as_a_dataset_does(rng):
    pixels = rng.integers(0, 256, size=(10, 8, 8), dtype=np.uint8)
    found = PatternDecomposition().fit(pixels).decompose(pixels)
    expected, _ = decompose_images(pixels, pixel_max=255, top_k=3)
    np.testing.assert_array_equal(found.psnr_db, expected.psnr_db)
    np.testing.assert_array_equal(found.top_v, expected.top_v)


def test_pattern_decomposition_as_a_pandas_table(rng):
    images = rng.random((6, 8, 8))
    table = PatternDecomposition(top_k=2).set_output(transform="pandas").fit_transform(images)
    assert isinstance(table, pd.DataFrame)
    assert table.columns.tolist() == ["rank_at_energy", "energy_share_1", "energy_share_2"]


def test_one_row_images_have_one_pattern_each(rng):
    rows = rng.random((6, 10))
    rows[2] = 0
    patterns = PatternDecomposition(top_k=2).fit(rows).decompose(rows)
    assert patterns.rank_at_energy.tolist() == [1, 1, 0, 1, 1, 1]
    assert (patterns.top_energy[:, 1] == 0).all()
    coefficients = WaveletTransform().fit_transform(rows)
    np.testing.assert_allclose(patterns.top_energy[:, 0], (coefficients ** 2).sum(axis=1))
    assert np.abs(patterns.top_v[[0, 1, 3, 4, 5], 0]).max(axis=1).min() > 0  # unit shapes of the rows
    np.testing.assert_allclose(np.linalg.norm(patterns.top_v[[0, 1, 3, 4, 5], 0], axis=1), 1, rtol=1e-6)


# --- the pattern dictionary ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def planted_split():
    """Planted patterns (4 classes); even rows to train, odd rows to test."""
    dataset, truth = planted_patterns(n_per_class=80)
    return dataset.images[::2], dataset.labels[::2], dataset.images[1::2], dataset.labels[1::2], truth


@pytest.mark.parametrize("top_k, n_patterns, level", [(3, 8, 1), (1, 4, 1), (2, 6, 2)])
def test_pattern_dictionary_has_the_prototypes_of_analyze(planted_split, top_k, n_patterns, level):
    images, labels = planted_split[0], planted_split[1]
    result = analyze(_dataset(images, labels), top_k=top_k, n_patterns=n_patterns, level=level, random_repeats=0,
                     **_random_state_kwarg(analyze, 3))
    dictionary = PatternDictionary(n_patterns=n_patterns, top_k=top_k, level=level, random_state=3).fit(images)
    np.testing.assert_array_equal(dictionary.prototypes_, result.dictionary.prototypes)
    np.testing.assert_array_equal(dictionary.assignments_, result.dictionary.assignments)
    np.testing.assert_array_equal(dictionary.weights_, result.dictionary.weights)
    np.testing.assert_array_equal(dictionary.predict(images), result.dictionary.assignments)


def test_pattern_dictionary_of_unsigned_pixels_is_that_of_analyze(rng):
    pixels = rng.integers(0, 256, size=(60, 8, 8), dtype=np.uint8)
    labels = np.arange(60) % 3
    result = analyze(_dataset(pixels, labels), n_patterns=5, random_repeats=0, **_random_state_kwarg(analyze, 0))
    dictionary = PatternDictionary(n_patterns=5, random_state=0).fit(pixels)
    np.testing.assert_array_equal(dictionary.prototypes_, result.dictionary.prototypes)


def test_pattern_dictionary_fit_on_train_predicts_test(planted_split):
    train, train_labels, test, test_labels, truth = planted_split
    dictionary = PatternDictionary(n_patterns=4, top_k=1, random_state=0).fit(train)
    # Each prototype is one class's planted pattern...
    prototype_class = np.array([np.bincount(train_labels[dictionary.assignments_[:, 0] == p], minlength=4).argmax()
                                for p in range(4)])
    assert sorted(prototype_class.tolist()) == [0, 1, 2, 3]
    cosines = np.abs(dictionary.prototypes_.reshape(4, -1) @ truth.reshape(4, -1).T)
    assert (cosines[np.arange(4), prototype_class] > 0.99).all()
    # ...and the test images of class c get class c's prototype.
    predicted = dictionary.predict(test)
    assert predicted.shape == (len(test), 1)
    np.testing.assert_array_equal(prototype_class[predicted[:, 0]], test_labels)
    bags = dictionary.transform(test)
    assert bags.shape == (len(test), 4)
    np.testing.assert_array_equal(bags.argmax(axis=1), predicted[:, 0])
    np.testing.assert_allclose(dictionary.fit_transform(train), dictionary.transform(train))


def test_prototype_images_are_the_prototypes_in_pixels(planted_split):
    train = planted_split[0]
    dictionary = PatternDictionary(n_patterns=4, top_k=1).fit(train)
    pixels = dictionary.prototype_images()
    assert pixels.shape == (4,) + train.shape[1:]
    back = WaveletTransform().fit(pixels).transform(pixels)
    np.testing.assert_allclose(back.reshape(dictionary.prototypes_.shape), dictionary.prototypes_, atol=1e-6)


def test_prototype_images_of_colour_and_one_row_images(rng):
    colour = PatternDictionary(n_patterns=3, top_k=2).fit(rng.random((20, 8, 8, 3)))
    assert colour.prototype_images().shape == (3, 8, 8)
    rows = PatternDictionary(n_patterns=3).fit(rng.random((20, 6)))
    assert rows.prototypes_.shape == (3, 1, 6) and rows.prototype_images().shape == (3, 1, 6)


def test_blank_and_low_rank_images_have_fewer_patterns(rng):
    images = rng.random((12, 8, 8))
    images[0] = 0
    images[1] = np.outer(rng.random(8), rng.random(8))  # rank 1
    dictionary = PatternDictionary(n_patterns=3).fit(images)
    predicted = dictionary.predict(images[:2])
    assert predicted[0].tolist() == [-1, -1, -1] and (predicted[1, 1:] == -1).all() and predicted[1, 0] >= 0
    assert dictionary.transform(images[:1]).sum() == 0


# --- communities -----------------------------------------------------------------------------------

def _clusters(rng, n_clusters, n_per=40, size=(5, 6)):
    centers = 3 * rng.standard_normal((n_clusters,) + size)
    labels = np.repeat(np.arange(n_clusters), n_per)
    return (centers[labels] + 0.3 * rng.standard_normal((len(labels),) + size)).astype(np.float32), labels


@pytest.mark.parametrize("features, n_communities", [("qr", None), ("all", None), ("laplacian", None), ("qr", 4)])
def test_spectral_communities_are_those_of_find_communities(rng, features, n_communities):
    dataset = _dataset(*_clusters(rng, 3))
    images = dataset.images  # as find_communities reads them (a Dataset scales floats into [-1, 1])
    found = find_communities(dataset, features=features, n_neighbors=8, max_communities=8,
                             n_communities=n_communities, **_random_state_kwarg(find_communities, 5))
    estimator = SpectralCommunities(features=features, n_neighbors=8, max_communities=8,
                                    n_communities=n_communities, random_state=5)
    labels = estimator.fit_predict(images)
    np.testing.assert_array_equal(labels, found.assignment)
    np.testing.assert_array_equal(estimator.labels_, labels)
    group = found.groups[0]
    np.testing.assert_allclose(estimator.eigenvalues_, group["eigenvalues"], rtol=0, atol=0)
    assert estimator.n_communities_ == group["n_communities"] == (n_communities or 3)
    assert estimator.eigengap_k_ == group["eigengap_k"] == 3


# --- near-duplicates -------------------------------------------------------------------------------

def _duplicates_case(rng):
    train = _smooth_images(rng, 40)
    leaked = train[[3, 17, 17]].copy()
    leaked[1] = leaked[1] * 0.9  # rescaled: near, not exact
    test = np.concatenate([_smooth_images(rng, 10), leaked])
    return train, test


def _same_pairs(table, pairs, first, second):
    np.testing.assert_array_equal(table[first].to_numpy(), pairs.index_a)
    np.testing.assert_array_equal(table[second].to_numpy(), pairs.index_b)
    np.testing.assert_array_equal(table["similarity"].to_numpy(), pairs.similarity)
    np.testing.assert_array_equal(table["exact"].to_numpy(), pairs.exact)


def _function_pairs(test, train=None):
    """The pairs of wavelens.find_near_duplicates, most similar first (the estimator's order)."""
    from wavelens import find_near_duplicates, from_arrays

    found = find_near_duplicates(from_arrays(test), None if train is None else from_arrays(train)).pairs
    order = np.lexsort((found.index_b, found.index_a, -found.similarity))
    return type(found)(found.index_a[order], found.index_b[order], found.similarity[order], found.exact[order])


def test_near_duplicates_query_is_find_near_duplicates_across_two_sets(rng):
    train, test = _duplicates_case(rng)
    table = NearDuplicates().fit(train).query(test)
    assert table.columns.tolist() == ["index_query", "index_reference", "similarity", "exact"]
    _same_pairs(table, _function_pairs(test, train), "index_query", "index_reference")
    assert set(zip(table.index_query, table.index_reference, table.exact)) == {(10, 3, True), (11, 17, False),
                                                                               (12, 17, True)}


def test_near_duplicates_find_is_find_near_duplicates_within_a_set(rng):
    train, test = _duplicates_case(rng)
    images = np.concatenate([train, test, np.zeros((2, 16, 16), np.float32)])  # and two blank copies
    table = NearDuplicates().find(images)
    assert table.columns.tolist() == ["index_a", "index_b", "similarity", "exact"]
    _same_pairs(table, _function_pairs(images), "index_a", "index_b")
    assert set(zip(table.index_a, table.index_b)) == {(3, 50), (17, 51), (17, 52), (51, 52), (53, 54)}


def test_exact_copies_are_exact_whatever_their_dtype(rng):
    train, test = _duplicates_case(rng)
    float32 = NearDuplicates().fit(train).query(test)
    float64 = NearDuplicates().fit(train.astype(np.float64)).query(test)
    pd.testing.assert_frame_equal(float32[["index_query", "index_reference", "exact"]],
                                  float64[["index_query", "index_reference", "exact"]])


def test_threshold_and_ratio_are_read_when_searching(rng):
    train, test = _duplicates_case(rng)
    index = NearDuplicates().fit(train)
    # No ratio test and the lowest threshold: every candidate (at most 2 x 8 per image) is a pair.
    everything = index.set_params(threshold=1e-6, ratio=None).query(test)
    assert len(test) * 8 <= len(everything) <= len(test) * 16


# --- scikit-learn behaviour: determinism, threads, parameters, cloning -------------------------------

def test_an_int_random_state_gives_the_same_result_and_none_draws_one(planted_split):
    images = planted_split[0]
    first = PatternDictionary(n_patterns=6, random_state=1).fit(images).prototypes_
    np.testing.assert_array_equal(PatternDictionary(n_patterns=6, random_state=1).fit(images).prototypes_, first)
    state = np.random.RandomState(4)
    drawn = PatternDictionary(n_patterns=6, random_state=state).fit(images).prototypes_
    again = PatternDictionary(n_patterns=6, random_state=np.random.RandomState(4)).fit(images).prototypes_
    np.testing.assert_array_equal(drawn, again)
    assert PatternDictionary(n_patterns=6, random_state=None).fit(images).prototypes_.shape == first.shape


def test_n_jobs_minus_one_uses_every_core_and_changes_nothing(planted_split, rng):
    import os

    cores = len(os.sched_getaffinity(0))
    assert threads(PatternDictionary(n_jobs=-1)) == resolve_n_jobs(-1) == cores
    assert threads(PatternDictionary(n_jobs=None)) == resolve_n_jobs(None) == 1
    assert threads(PatternDictionary(n_jobs=-2)) == resolve_n_jobs(-2) == max(1, cores - 1)
    images = planted_split[0]
    one = PatternDictionary(n_patterns=6, n_jobs=1).fit(images)
    every = PatternDictionary(n_patterns=6, n_jobs=-1).fit(images)
    np.testing.assert_array_equal(one.prototypes_, every.prototypes_)
    np.testing.assert_array_equal(one.predict(images), every.predict(images))
    np.testing.assert_array_equal(PatternDecomposition(n_jobs=-1).fit_transform(images),
                                  PatternDecomposition().fit_transform(images))
    clusters, _ = _clusters(rng, 3)
    np.testing.assert_array_equal(SpectralCommunities(n_jobs=-1).fit_predict(clusters),
                                  SpectralCommunities().fit_predict(clusters))


@pytest.mark.parametrize("estimator", CHECKED, ids=lambda e: type(e).__name__)
def test_parameters_are_keyword_only_and_clone_and_pickle(estimator, rng):
    cls = type(estimator)
    with pytest.raises(TypeError):
        cls("db1")
    params = estimator.get_params()
    assert params == clone(estimator).get_params()
    name = "max_shift" if cls is NearDuplicates else "level"  # NearDuplicates has no wavelet parameters
    assert clone(estimator).set_params(**{name: 2}).get_params()[name] == 2
    images = rng.random((30, 8, 8))
    fitted = clone(estimator).fit(images)
    restored = pickle.loads(pickle.dumps(fitted))
    for name in [n for n in vars(fitted) if n.endswith("_") and isinstance(getattr(fitted, n), np.ndarray)]:
        np.testing.assert_array_equal(getattr(restored, name), getattr(fitted, name))


def test_estimators_in_a_pipeline(rng):
    from sklearn.linear_model import LogisticRegression

    dataset, _ = planted_patterns(n_per_class=30)
    pipeline = make_pipeline(PatternDictionary(n_patterns=4, top_k=1), LogisticRegression())
    rows = dataset.images.reshape(len(dataset.images), -1)
    pipeline.set_params(patterndictionary__image_shape=dataset.images.shape[1:]).fit(rows, dataset.labels)
    assert pipeline.score(rows, dataset.labels) == 1.0


BAD = [
    (WaveletTransform(level=0), "'level' parameter of WaveletTransform must be an int in the range [1, inf)"),
    (WaveletTransform(level=1.5), "'level' parameter"),
    (WaveletTransform(level=4), "Images of 8x8 pixels are too small for level 4 of wavelet db1"),
    (WaveletTransform(wavelet="morl"), "'wavelet' parameter of WaveletTransform must be the name of a discrete"),
    (WaveletTransform(mode="wrap-around"), "'mode' parameter of WaveletTransform must be one of"),
    (WaveletTransform(image_shape=(8,)), "'image_shape' parameter"),
    (WaveletTransform(image_shape=(4, 4)), "'image_shape' parameter of WaveletTransform is (4, 4)"),
    (WaveletTransform(n_jobs=0), "'n_jobs' parameter of WaveletTransform must be a nonzero int or None"),
    (PatternDecomposition(energy=0), "'energy' parameter of PatternDecomposition must be a float in the range (0, 1]"),
    (PatternDecomposition(energy="all"), "'energy' parameter"),
    (PatternDecomposition(top_k=-1), "'top_k' parameter of PatternDecomposition must be an int in the range [0, inf)"),
    (PatternDictionary(n_patterns=0), "'n_patterns' parameter of PatternDictionary must be an int in the range [1"),
    (PatternDictionary(top_k=0), "'top_k' parameter of PatternDictionary must be an int in the range [1, inf)"),
    (PatternDictionary(n_patterns=100), "X has 20 sample(s), at most 60 patterns with top_k=3, fewer than the "
                                        "n_patterns=100 prototypes"),
    (PatternDictionary(random_state=-1), "'random_state' parameter of PatternDictionary must be an int in the range"),
    (PatternDictionary(random_state="seed"), "'random_state' parameter"),
    (SpectralCommunities(n_neighbors=0), "'n_neighbors' parameter of SpectralCommunities must be an int"),
    (SpectralCommunities(n_neighbors=20), "X has 20 sample(s), too few for n_neighbors=20: it needs at least 21"),
    (SpectralCommunities(n_neighbors=3, n_communities=20), "too few for n_neighbors=3 and n_communities=20"),
    (SpectralCommunities(n_communities=1), "'n_communities' parameter of SpectralCommunities must be an int in the "
                                           "range [2, inf) or None"),
    (SpectralCommunities(max_communities=1), "'max_communities' parameter"),
    (SpectralCommunities(features="pca"), "'features' parameter of SpectralCommunities must be one of 'qr', "
                                          "'laplacian', 'all'"),
    (SpectralCommunities(condition=0.5), "'condition' parameter of SpectralCommunities must be a float in the range "
                                         "[1, inf)"),
    (SpectralCommunities(n_features=65), "'n_features' parameter of SpectralCommunities is 65, more than the 64"),
    (SpectralCommunities(max_features=0), "'max_features' parameter"),
    (NearDuplicates(threshold=0), "'threshold' parameter of NearDuplicates must be a float in the range (0, 1]"),
    (NearDuplicates(threshold=1.5), "'threshold' parameter"),
    (NearDuplicates(ratio=0), "'ratio' parameter of NearDuplicates must be a float in the range (0, 1]"),
    (NearDuplicates(n_neighbors=2), "'n_neighbors' parameter"),
]


@pytest.mark.parametrize("estimator, message", BAD, ids=[f"{type(e).__name__}-{m[:30]}" for e, m in BAD])
def test_bad_parameters_are_one_line_naming_the_parameter(rng, estimator, message):
    with pytest.raises(WavelensError) as raised:
        estimator.fit(rng.random((20, 8, 8)))
    text = str(raised.value)
    assert message in text
    assert "\n" not in text and "--" not in text


def test_bad_inputs(rng):
    fitted = WaveletTransform().fit(rng.random((3, 8, 8)))
    with pytest.raises(WavelensError, match=r"X holds images of shape \(8, 6\), but WaveletTransform was fitted on "
                                            r"images of shape \(8, 8\)"):
        fitted.transform(rng.random((3, 8, 6)))
    with pytest.raises(ValueError, match="X has 10 features, but WaveletTransform is expecting 64 features"):
        fitted.transform(rng.random((3, 10)))
    with pytest.raises(WavelensError, match="got an array of 5 dimensions"):
        WaveletTransform().fit(rng.random((2, 4, 4, 3, 1)))
    with pytest.raises(WavelensError, match="without pixels"):
        WaveletTransform().fit(np.zeros((2, 4, 0)))
    with pytest.raises(ValueError, match="NaN"):
        PatternDictionary().fit(np.full((2, 4, 4), np.nan))
    with pytest.raises(WavelensError, match=r"X has 1 feature\(s\) per row, too few for level 1"):
        WaveletTransform().fit(rng.random((3, 1)))
    with pytest.raises(WavelensError, match="must hold wavelet coefficients"):
        fitted.inverse_transform(rng.random((3, 10)))


@pytest.mark.parametrize("module", ["_transform", "_dictionary", "_communities", "_duplicates"])
def test_docstring_examples_run(module):
    result = doctest.testmod(importlib.import_module(f"wavelens.estimators.{module}"),
                             optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted and not result.failed


@pytest.mark.parametrize("kind", ["images", "rows", "dataset"])
def test_pattern_dictionary_fit_predict_is_fit_then_predict(rng, kind):
    images = rng.random((40, 8, 8))
    images[0] = 0  # a blank image: -1 throughout, as predict gives
    X = {"images": images, "rows": images.reshape(40, -1),
         "dataset": _dataset(images, np.arange(40) % 2)}[kind]
    params = {"n_patterns": 6, "random_state": 0, "image_shape": (8, 8) if kind == "rows" else None}
    fitted = PatternDictionary(**params).fit(X)
    both = PatternDictionary(**params)
    predicted = both.fit_predict(X)
    np.testing.assert_array_equal(predicted, fitted.predict(X))
    assert predicted.shape == (40, 3) and predicted[0].tolist() == [-1, -1, -1]
    np.testing.assert_array_equal(both.prototypes_, fitted.prototypes_)
    predicted[:] = -2  # the result is the caller's: the fitted assignments stay
    assert (both.assignments_ >= -1).all()
