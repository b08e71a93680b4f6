"""The result objects' API: patterns applied to other images, reports of every result, clear errors."""

import html

import numpy as np
import pytest

import wavelens
from wavelens import WavelensError
from wavelens.estimators import PatternDictionary


@pytest.fixture(scope="module")
def digits():
    return wavelens.load_dataset("digits", limit=600, random_state=0)


@pytest.fixture(scope="module")
def result(digits):
    return wavelens.analyze(digits, n_patterns=12)


def test_applied_to_its_own_images_gives_its_own_patterns(digits, result):
    again = result.apply(digits)
    np.testing.assert_array_equal(again.dictionary.assignments, result.dictionary.assignments)
    np.testing.assert_allclose(again.dataset_patterns.shares, result.dataset_patterns.shares, atol=1e-5)
    np.testing.assert_array_equal(again.dataset_patterns.dominant, result.dataset_patterns.dominant)
    for kind in ("image_patterns", "dataset_patterns"):
        assert again.association[kind]["true"]["nmi"] == pytest.approx(result.association[kind]["true"]["nmi"])
    assert again.params["patterns_from"] == "digits (all)"
    assert "nothing was fitted on them" in again.summary()


def test_applied_to_new_images_matches_the_estimator(digits, result):
    test = wavelens.load_dataset("digits", limit=300, random_state=1)
    applied = result.apply(test)
    estimator = PatternDictionary(n_patterns=12, random_state=0).fit(digits)
    np.testing.assert_array_equal(estimator.prototypes_, result.dictionary.prototypes)
    np.testing.assert_array_equal(estimator.predict(test), applied.dictionary.assignments)
    assert applied.per_image["id"].tolist() == test.ids.tolist()
    table = applied.association_table().set_index(["kind", "labels"])
    assert table.loc[("image_patterns", "true"), "nmi"] > 3 * table.loc[("image_patterns", "random"), "nmi"]


def test_applied_needs_images_of_the_same_shape(result):
    rng = np.random.default_rng(0)
    other = wavelens.from_arrays(rng.random((20, 16, 16)), [0, 1] * 10)
    with pytest.raises(WavelensError, match=r"images of 16x16, but the patterns were found on images of 8x8"):
        result.apply(other)


@pytest.mark.parametrize("call", [
    lambda x: wavelens.analyze(x), lambda x: wavelens.find_communities(x),
    lambda x: wavelens.find_near_duplicates(x), lambda x: wavelens.analyze(
        wavelens.load_dataset("digits", limit=50), n_patterns=10).apply(x)])
def test_arrays_where_a_dataset_is_expected_get_one_line(call):
    with pytest.raises(WavelensError, match=r"must be a wavelens Dataset, not ndarray: make one with "
                                            r"wavelens\.from_arrays\(images, labels\)"):
        call(np.zeros((10, 8, 8)))


def test_unlabeled_images_are_told_what_needs_no_labels():
    images = np.random.default_rng(0).random((30, 8, 8))
    with pytest.raises(WavelensError, match="have no labels.*find_near_duplicates or find_communities"):
        wavelens.analyze(wavelens.from_arrays(images))
    assert wavelens.find_near_duplicates(wavelens.from_arrays(images)).pairs.index_a.size == 0


def test_every_result_writes_its_report(digits, result, tmp_path):
    communities = wavelens.find_communities(digits)
    duplicates = wavelens.find_near_duplicates(digits, threshold=0.95)
    curve = wavelens.noise_curve(result, [0.0, 1.0])
    assert curve.table["fraction"].tolist() == [0.0, 0.0, 1.0, 1.0]
    for name, found in [("analysis", result), ("communities", communities), ("duplicates", duplicates),
                        ("noise_curve", curve)]:
        path = found.report(tmp_path / f"{name}.html")
        page = path.read_text(encoding="utf-8")
        assert page.startswith("<!DOCTYPE html>") and "data:image/png;base64," in page
        assert html.escape(found.summary().splitlines()[0].split(":")[0]) in page
    assert sorted(p.name for p in tmp_path.iterdir()) == ["analysis.html", "communities.html", "duplicates.html",
                                                             "noise_curve.html"]
    with pytest.raises(WavelensError, match="exists"):
        communities.report(tmp_path / "communities.html")


def test_estimators_take_a_dataset(digits):
    from_dataset = PatternDictionary(n_patterns=6).fit(digits).prototypes_
    np.testing.assert_array_equal(from_dataset, PatternDictionary(n_patterns=6).fit(digits.images).prototypes_)
