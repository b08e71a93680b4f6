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


def test_duplicates_within_one_dataset_count_both_images_of_a_pair():
    x = np.random.default_rng(0).integers(0, 256, (6, 8, 8), dtype=np.uint8)
    x[3] = x[0]
    x[5] = x[0]
    found = wavelens.find_near_duplicates(wavelens.from_arrays(x, list("ababab")))
    assert found.per_image["n_duplicates"].tolist() == [2, 0, 0, 2, 0, 2]
    assert found.to_dict()["duplicates"]["n_images_a_with_duplicate"] == 3
    assert "3 images of arrays (all) have a near-duplicate in it: keep one image of each group" in found.summary()
    assert found.per_image["duplicate_group"].tolist() == [0, -1, -1, 0, -1, 0] and found.n_groups == 1


def test_the_command_line_keeps_out_of_the_image_folders_a_table_lists(tmp_path):
    from PIL import Image

    from conftest import run_cli

    (tmp_path / "imgs").mkdir()
    rng = np.random.default_rng(0)
    for i in range(20):
        Image.fromarray(rng.integers(0, 256, (8, 8), dtype=np.uint8)).save(tmp_path / "imgs" / f"{i}.png")
    (tmp_path / "list.csv").write_text("path,label\n" + "".join(f"imgs/{i}.png,{'ab'[i % 2]}\n" for i in range(20)))
    before = sorted(p.name for p in (tmp_path / "imgs").iterdir())
    run = run_cli("analyze", tmp_path / "list.csv", "--patterns", "5", "--out", tmp_path / "imgs" / "out")
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.strip().endswith("lies inside the input " + str(tmp_path / "imgs") + "; wavelens never writes "
                                       "into its inputs: choose a folder outside them.")
    assert sorted(p.name for p in (tmp_path / "imgs").iterdir()) == before


@pytest.mark.parametrize("call, message", [
    (lambda d, r: wavelens.analyze(d, label_noise="a"), "'label_noise' parameter must be a number in [0, 1]"),
    (lambda d, r: wavelens.analyze(d, n_jobs=1.5), "'n_jobs' parameter must be a nonzero integer or None"),
    (lambda d, r: wavelens.analyze(d, params=[1]), "'params' parameter must be a dict"),
    (lambda d, r: wavelens.find_communities(d, mixed_threshold="0.5"), "'mixed_threshold' parameter must be a number"),
    (lambda d, r: wavelens.find_communities(d, n_features=0), "'n_features' parameter must be an integer >= 1"),
    (lambda d, r: wavelens.find_communities(d, features="pca"), "'features' parameter must be one of qr, laplacian"),
    (lambda d, r: wavelens.load_dataset(np.zeros((3, 8, 8))), "use wavelens.from_arrays(images, labels)"),
    (lambda d, r: wavelens.noise_curve(np.zeros(3), [0]), "'analysis' parameter must be the Analysis"),
    (lambda d, r: wavelens.noise_curve(r, []), "'fractions' parameter is empty"),
    (lambda d, r: wavelens.noise_curve(r, [0, 50]), "'fractions' parameter must be a number in [0, 1]. Got 50"),
    (lambda d, r: wavelens.noise_curve(r, "0,1"), "'fractions' parameter must be a sequence of numbers"),
    (lambda d, r: r.save(None), "'folder' parameter must be a path to a folder, not NoneType"),
    (lambda d, r: r.report(None), "'path' parameter must be the path of an .html file"),
])
def test_plausible_mistakes_get_one_line_naming_the_parameter(digits, result, call, message):
    with pytest.raises(WavelensError) as error:
        call(digits, result)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_noise_curve_of_dataset_patterns_alone_is_said(result):
    curve = wavelens.noise_curve(result, [0.0, 1.0], kinds=["dataset_patterns"])
    assert curve.summary().startswith("NMI of dataset patterns with classes:")
    assert "dataset_patterns NMI" in repr(curve)


def test_wavelet_transform_of_a_dataset_follows_its_scaling_rule():
    from wavelens.estimators import WaveletTransform

    pixels = np.random.default_rng(0).integers(0, 256, (10, 8, 8), dtype=np.uint8)
    as_uint8 = wavelens.from_arrays(pixels, [0, 1] * 5)
    as_float = wavelens.from_arrays(pixels / 255.0, [0, 1] * 5)
    np.testing.assert_allclose(WaveletTransform().fit_transform(as_uint8), WaveletTransform().fit_transform(as_float),
                               atol=1e-6)


# --- issue 11 leftovers: rows and ids, unlabeled wording, parameters rather than flags ----------------------

def test_unlabeled_images_get_no_class_purity_or_label_sentences(digits):
    images = digits.images.copy()
    images[5] = images[0]  # one exact copy
    unlabeled = wavelens.from_arrays(images)
    communities = wavelens.find_communities(unlabeled, n_resamples=0).summary()
    assert "without labels" in communities, communities
    for word in ("mixed", "purest", "(unlabeled)", "class"):
        assert word not in communities, communities
    within = wavelens.find_near_duplicates(unlabeled).summary()
    assert "the images have no labels" in within and "disagree" not in within, within
    assert "1 exact copy;" in within, within
    # Unlabeled test images against labeled training images: "(unlabeled)" is no label to disagree with.
    found = wavelens.find_near_duplicates(wavelens.from_arrays(digits.images[:40]), digits)
    assert len(found.pairs) >= 40 and not found.labels_disagree.any()
    assert not found.pairs_table["labels_disagree"].any() and not found.groups_table["labels_disagree"].any()
    text = found.summary()
    assert "the images of arrays (all) have no labels" in text and "disagree" not in text, text
    # Labeled on both sides, the sentence stays.
    assert "0 pairs whose labels disagree" in wavelens.find_near_duplicates(digits, threshold=0.99).summary()


def test_central_members_are_also_given_as_ids(digits):
    found = wavelens.find_communities(digits, n_resamples=0, max_communities=6)
    assert digits.index.max() >= digits.n_images  # a subsample: positions in the split are not rows
    row_of = {int(position): row for row, position in enumerate(digits.index)}
    table = found.communities
    for community, ids in zip([c for g in found.groups for c in g["communities"]], table["central_ids"]):
        assert ids == community["central_ids"] == [digits.ids[row_of[p]] for p in community["central_members"]]
        assert set(found.per_image.set_index("id").loc[ids, "community"]) == {community["community"]}


def test_a_learnability_summary_names_the_parameter_not_the_flag():
    result = wavelens.learnability(wavelens.load_dataset("digits"), classifiers=["linear"], ranks=[1],
                                   pattern_counts=[1], label_noise=[0], alpha=1e12)
    text = result.summary()
    assert "(is alpha, the ridge penalty, far too large?)" in text and "--" not in text, text
