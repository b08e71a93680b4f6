"""wavelens.audit and `wavelens audit`: known answers on synthetic data and digits."""

import json

import numpy as np
import pytest

import wavelens
from conftest import run_cli
from wavelens import Dataset, WavelensError
from wavelens.auditing.checks import class_overlap, label_error_scores, robust_z
from wavelens._resize import area_resize
from wavelens.auditing.features import scattering_descriptors
from wavelens.auditing.neighbors import nearest_neighbors

FAST = ["label_errors", "outliers", "classes"]


def _blobs(n_per_class=80, n_classes=3, size=16, seed=0):
    """Each class a smooth blob at its own place, jittered; returns images and labels."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    centers = [(4, 4), (4, 11), (11, 7), (11, 12)][:n_classes]
    images, labels = [], []
    for c, (cy, cx) in enumerate(centers):
        for _ in range(n_per_class):
            dy, dx = rng.normal(0, 0.6, 2)
            blob = np.exp(-((yy - cy - dy) ** 2 + (xx - cx - dx) ** 2) / 6.0)
            images.append(blob * rng.uniform(0.7, 1.0) + rng.normal(0, 0.02, (size, size)))
            labels.append(c)
    return np.clip(np.array(images, np.float32), 0, 1), np.array(labels)


@pytest.fixture(scope="module")
def flipped():
    images, labels = _blobs()
    noisy = labels.copy()
    flips = np.array([3, 50, 100, 170, 200])
    noisy[flips] = (labels[flips] + 1) % 3
    data = Dataset(images, noisy, ["left", "right", "bottom"], name="blobs", split="all", source="synthetic")
    return data, labels, flips


def test_flipped_labels_come_first_with_their_true_class_suggested(flipped):
    data, truth, flips = flipped
    found = wavelens.audit(data, checks=FAST, n_neighbors=10)
    table = found.per_image
    top = table.sort_values("label_error_score", ascending=False, kind="stable").index[:len(flips)]
    assert sorted(top) == sorted(flips)
    assert (table.loc[flips, "suggested_label"] == truth[flips]).all()
    assert set(found.label_errors.index) == set(flips)
    assert table["label_error_score"].between(0, 1).all()
    assert (table.loc[~table.index.isin(flips), "label_error_score"] < 0.5).all()


def test_blank_and_stray_images_are_flagged():
    images, labels = _blobs(seed=1)
    images[7] = 0.5  # constant
    rng = np.random.default_rng(3)
    images[90] = rng.uniform(0, 1, images.shape[1:])  # noise, like nothing else
    data = Dataset(images, labels, None, name="blobs", split="all", source="synthetic")
    found = wavelens.audit(data, checks=["outliers", "analysis"], n_neighbors=10)
    table = found.per_image
    assert table["is_low_information"].sum() == 1 and table.loc[7, "is_low_information"]
    # 240 images, 100 dataset patterns: the noise image gets a pattern of its own, so its energy is kept
    assert table["reconstruction_error"].max() < 0.01 and not table["is_reconstruction_outlier"].any()
    assert table["outlier_score"].idxmax() == 90 and table.loc[90, "is_outlier"]
    assert 90 in found.outliers.index[:2]


def test_overlapping_classes_rank_first():
    images, labels = _blobs(n_classes=4, seed=2)
    labels = labels.copy()
    # classes 2 and 3 share their images at random: their neighbourhoods mix, the others do not
    mixed = np.flatnonzero(labels >= 2)
    labels[mixed] = 2 + np.random.default_rng(0).integers(0, 2, len(mixed))
    data = Dataset(images, labels, ["a", "b", "c", "d"], name="blobs", split="all", source="synthetic")
    found = wavelens.audit(data, checks=["classes"], n_neighbors=10)
    first = found.confusable_classes.iloc[0]
    assert {first["class_a"], first["class_b"]} == {"c", "d"}
    assert first["overlap"] > 0.3
    assert np.allclose(found.class_overlap.to_numpy().sum(axis=1), 1)
    classes = found.to_dict()["audit"]["classes"]
    assert classes["groups"] == [["c", "d"]]
    assert classes["spectrum"][0] < 1e-9 and len(classes["spectrum"]) == 4


def test_label_error_score_on_a_line():
    points = np.array([[0.0], [0.1], [0.2], [0.3], [5.0], [5.1], [5.2], [5.3]])
    found = nearest_neighbors(points, n_neighbors=3)
    score, suggested, support = label_error_scores(found, np.array([0, 0, 0, 1, 1, 1, 1, 1]), 2)
    assert np.argmax(score) == 3 and suggested[3] == 0 and score[3] > 0.5
    assert np.allclose(support.sum(axis=1), 1)


def test_neighbors_leave_the_image_out_and_break_ties_in_order():
    points = np.zeros((6, 2))
    points[3:] = 1
    found = nearest_neighbors(points, n_neighbors=2)
    assert found.indices.tolist() == [[1, 2], [0, 2], [0, 1], [4, 5], [3, 5], [3, 4]]


def test_helpers():
    assert area_resize(np.ones((1, 6, 6), np.float32), (4, 4)).tolist() == np.ones((1, 4, 4)).tolist()
    assert scattering_descriptors(np.ones((2, 64, 64, 3), np.float32)).shape == (2, 32 * 32 * 3)
    assert np.isfinite(robust_z(np.array([1.0, 1.0, 1.0, 5.0]))).all()
    found = nearest_neighbors(np.array([[0.0], [0.1], [5.0], [5.1]]), n_neighbors=1)
    assert class_overlap(found, np.array([0, 0, 1, 1]), 2).tolist() == [[1.0, 0.0], [0.0, 1.0]]


def test_digits_audit_is_deterministic_and_saves(tmp_path):
    digits = wavelens.load_dataset("digits")
    first = wavelens.audit(digits, checks=FAST)
    second = wavelens.audit(digits, checks=FAST)
    assert first.per_image.equals(second.per_image)
    assert "Label errors:" in first.summary() and "Confusable classes:" in first.summary()
    first.save(tmp_path / "out")
    issues = (tmp_path / "out" / "issues.csv").read_text().splitlines()
    assert len(issues) == 1 + digits.n_images
    assert {"id", "label_error_score", "is_label_error", "suggested_class", "outlier_score", "is_outlier",
            "nearest_ids"} <= set(issues[0].split(","))
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["audit"]["label_errors"]["n_flagged"] == first.count("label_errors")
    assert (tmp_path / "out" / "report.html").is_file()


def test_unlabeled_images_get_only_the_checks_that_need_no_labels():
    images, _ = _blobs()
    found = wavelens.audit(Dataset(images, None, None, name="u", split="all", source="synthetic"), n_neighbors=10)
    assert "label_error_score" not in found.per_image and found.overlap is None and found.analysis is None
    assert found.params["skipped"] == ["label_errors", "classes", "analysis"]
    assert "Skipped, as the images have no labels (or one class): label_errors, classes, analysis." in found.summary()
    assert "Label errors" not in found.summary() and "far from the rest of their class" not in found.summary()
    assert found.per_image["class_outlier_score"].isna().all() and not found.per_image["is_class_outlier"].any()
    assert {"duplicate_group", "community"} <= set(found.per_image.columns)


def test_a_small_dataset_gets_every_check():
    images, labels = _blobs(n_per_class=20)
    found = wavelens.audit(Dataset(images, labels, None, name="s", split="all", source="synthetic"), n_neighbors=10)
    assert found.analysis is not None and found.analysis.dictionary.n_patterns == 30
    assert len(found.per_image) == 60


def test_signed_images_are_not_called_clipped():
    images, labels = _blobs()
    signed = Dataset(images * 2 - 1, labels, None, name="s", split="all", source="synthetic")
    found = wavelens.audit(signed, checks=["outliers"], n_neighbors=10)
    plain = wavelens.audit(Dataset(images, labels, None, name="p", split="all", source="synthetic"),
                           checks=["outliers"], n_neighbors=10)
    assert np.allclose(found.per_image["clipped_share"], plain.per_image["clipped_share"])
    assert not found.per_image["is_low_information"].any()


def test_a_second_dataset_of_another_size_is_refused_before_any_work():
    images, labels = _blobs()
    a = Dataset(images, labels, None, name="a", split="test", source="synthetic")
    b = Dataset(images[:, :8, :8], labels, None, name="b", split="train", source="synthetic")
    with pytest.raises(WavelensError, match="'dataset_b' parameter|dataset_b"):
        wavelens.audit(a, b, n_neighbors=10)


@pytest.mark.parametrize("kwargs, words", [
    ({"checks": ["spelling"]}, "'checks' parameter takes check names"),
    ({"checks": []}, "got none"),
    ({"n_neighbors": 3}, "'n_neighbors' parameter must be an integer >= 7"),
    ({"n_neighbors": 500}, "needs more than 500 images"),
    ({"n_components": 0}, "'n_components'"),
    ({"random_state": -1}, "'random_state'"),
])
def test_bad_parameters_name_themselves(kwargs, words):
    images, labels = _blobs()
    data = Dataset(images, labels, None, name="b", split="all", source="synthetic")
    with pytest.raises(WavelensError, match=words):
        wavelens.audit(data, **kwargs)


def test_cli_audit_writes_everything_and_report_rebuilds(tmp_path):
    out = tmp_path / "a"
    done = run_cli("audit", "digits", "--out", out)
    assert done.returncode == 0, done.stderr
    assert "Label errors:" in done.stdout and "near-duplicate" in done.stdout
    for name in ("issues.csv", "summary.json", "confusable_classes.csv", "class_overlap.csv", "duplicates.csv",
                 "report.html", "report.npz"):
        assert (out / name).is_file(), name
    page = (out / "report.html").read_text()
    for section in ("label-errors", "outliers", "duplicates", "confusable-classes", "communities"):
        assert f'id="{section}"' in page
    (out / "report.html").unlink()
    assert run_cli("report", out).returncode == 0 and (out / "report.html").is_file()
    again = run_cli("audit", "digits", "--checks", "outliers", "--out", out, "--overwrite")
    assert again.returncode == 0, again.stderr
    assert not (out / "duplicates.csv").exists() and (out / "issues.csv").is_file()


def test_cli_bad_checks_is_one_line_and_writes_nothing(tmp_path):
    done = run_cli("audit", "digits", "--checks", "label_errors,typo", "--out", tmp_path / "x")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "--checks" in done.stderr and "typo" in done.stderr
    assert not (tmp_path / "x").exists()
