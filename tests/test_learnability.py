"""wavelens.learnability: classifiers on images rebuilt from a few patterns, and on random labels."""

import json

import numpy as np
import pytest

import wavelens
from wavelens import Dataset, WavelensError, inverse_wavelet_transform, wavelet_layout
from wavelens.learning import _ridge, knn_vote

from conftest import run_cli


def third_pattern_classes(n_per_class, seed, n_classes=4, size=16, noise=0.01):
    """Images whose wavelet matrix (db1, level 1) is a1 P1 + a2 P2 + 2 Q_c + noise: two patterns shared
    by every class, with random signs and larger weights (|a1| ~ 10, |a2| ~ 5), and the class's own
    pattern Q_c third. The patterns are orthogonal rank-1 matrices, so each image's top 3 rank-1
    patterns are exactly P1, P2, Q_c: the class is in the 3rd pattern and nowhere else."""
    rng = np.random.default_rng(0)  # the same patterns for every split
    left, _ = np.linalg.qr(rng.standard_normal((size, size)))
    right, _ = np.linalg.qr(rng.standard_normal((size, size)))
    patterns = np.stack([np.outer(left[:, j], right[:, j]) for j in range(2 + n_classes)])
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(n_classes), n_per_class)
    n = len(labels)
    a1 = rng.choice([-1, 1], n) * rng.uniform(9.5, 10.5, n)
    a2 = rng.choice([-1, 1], n) * rng.uniform(4.5, 5.5, n)
    matrices = (a1[:, None, None] * patterns[0] + a2[:, None, None] * patterns[1] + 2.0 * patterns[2 + labels]
                + noise * rng.standard_normal((n, size, size)))
    layout = wavelet_layout((size, size), wavelet="db1", level=1, mode="periodization")
    images = inverse_wavelet_transform(matrices, layout).astype(np.float32)
    return Dataset(images, labels, [f"class{c}" for c in range(n_classes)], name="third", split="train",
                   source="synthetic")


@pytest.fixture(scope="module")
def planted():
    train, test = third_pattern_classes(80, seed=1), third_pattern_classes(40, seed=2)
    return wavelens.learnability(train, test, ranks=[1, 2, 3, 4, 16], pattern_counts=[1, 2, 8],
                                 label_noise=[0, 0.5, 1], n_components=20)


def test_accuracy_jumps_exactly_when_r_reaches_the_class_pattern(planted):
    table = planted.table
    assert table.columns[:6].tolist() == ["source", "r", "classifier", "test_accuracy", "train_accuracy", "psnr_db"]
    for classifier in ("linear", "knn"):
        mine = table[(table["classifier"] == classifier) & (table["source"] == "image patterns")]
        accuracy = dict(zip(mine["r"], mine["test_accuracy"]))
        assert accuracy[1] < 0.45 and accuracy[2] < 0.45, (classifier, accuracy)  # chance is 0.25
        assert accuracy[3] >= 0.97 and accuracy[4] >= 0.97, (classifier, accuracy)
        original = table[(table["classifier"] == classifier) & (table["source"] == "original")]
        assert original["test_accuracy"].iloc[0] >= 0.97
        assert planted.within()[classifier]["image patterns"] == 3
    psnr = table[(table["source"] == "image patterns") & (table["classifier"] == "linear")].set_index("r")["psnr_db"]
    assert psnr[1] < psnr[2] < psnr[3] and np.isinf(psnr[16])  # r = 16, the full rank: exact
    assert "3 of 16 rank-1 patterns per image reach within 1 point" in planted.summary()


def test_random_labels_are_memorized_by_the_knn_not_by_the_linear_model(planted):
    noise = planted.noise_table.set_index(["fraction", "classifier"])
    assert noise.loc[(1.0, "knn"), "train_accuracy"] == 1.0  # it stores every training image
    for classifier in ("knn", "linear"):
        assert noise.loc[(1.0, classifier), "test_accuracy"] < 0.45  # chance 0.25: nothing generalizes
        assert noise.loc[(0.0, classifier), "test_accuracy"] > 0.95
    assert noise.loc[(1.0, "linear"), "train_accuracy"] < 0.7  # fixed capacity: 257 weights a class, 320 images
    loo = noise.xs("knn", level="classifier")["loo_error"]
    assert loo[0.0] < 0.05 < loo[0.5] < loo[1.0]
    nmi = noise.xs("knn", level="classifier")["nmi"]
    assert nmi[0.0] > nmi[0.5] > nmi[1.0]
    assert planted.analysis is not None and planted.analysis.dataset.n_images == 320
    per_class = planted.per_class
    assert set(per_class["class_name"]) == {f"class{c}" for c in range(4)}
    assert per_class.groupby(["source", "r", "classifier"], dropna=False).size().eq(4).all()


def test_the_linear_classifier_is_sklearns_ridge_classifier_and_the_vote_its_knn():
    from sklearn.linear_model import RidgeClassifier
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(0)
    x, y = rng.random((300, 12)), rng.integers(0, 3, 300)
    queries = rng.random((50, 12))
    onehot = np.eye(3)[y]
    weights, intercept = _ridge(x.sum(axis=0), x.T @ x, x.T @ onehot, onehot.sum(axis=0), len(x), 1.0)
    ours = (queries @ weights + intercept).argmax(axis=1)
    assert np.array_equal(ours, RidgeClassifier(alpha=1.0).fit(x, y).predict(queries))
    knn = KNeighborsClassifier(n_neighbors=5, weights="distance").fit(x, y)
    for points in (queries, x[:40]):  # x[:40]: each is its own neighbour at distance 0
        distances, indices = knn.kneighbors(points)
        assert np.array_equal(knn_vote(distances, indices, y, 3), knn.predict(points))


def test_a_dataset_without_test_split_gets_a_stratified_holdout_said_in_the_findings():
    data = wavelens.load_dataset("digits", limit=400, random_state=0)
    found = wavelens.learnability(data, label_noise=[0, 1], classifiers="linear", random_state=3)
    record = found.to_dict()["learnability"]
    assert record["holdout"] == 0.25 and record["n_test"] == 100 and record["n_train"] == 300
    assert np.bincount(found.test.labels).max() - np.bincount(found.test.labels).min() <= 1
    assert not set(found.test.ids) & set(found.dataset.ids)
    assert "25% hold-out drawn with seed 3" in found.summary()
    assert set(found.table["classifier"]) == {"linear"}


def test_results_do_not_depend_on_the_threads():
    data = wavelens.load_dataset("digits", limit=500, random_state=0)
    kwargs = dict(label_noise=[0, 1], ranks=[1, 2], pattern_counts=[4])
    one, two = (wavelens.learnability(data, n_jobs=jobs, **kwargs) for jobs in (1, 2))
    assert one.rows == two.rows and one.noise_rows == two.noise_rows


@pytest.mark.parametrize("kwargs, match", [
    (dict(classifiers=["svm"]), "'classifiers' parameter takes classifier names from linear, knn"),
    (dict(ranks=[0]), "'ranks' parameter must be an integer >= 1"),
    (dict(ranks=[2, 9]), "'ranks' parameter takes pattern counts from 1 to 8"),
    (dict(pattern_counts=[65]), "'pattern_counts' parameter takes pattern counts from 1 to 64"),
    (dict(label_noise=[0, 1.5]), "'label_noise' parameter must be a number in \\[0, 1\\]"),
    (dict(label_noise=0.5), "'label_noise' parameter must be a list of fractions"),
    (dict(n_neighbors=500), "n_neighbors=500 needs more than 500 training images"),
    (dict(alpha=0), "'alpha' parameter must be a number > 0"),
    (dict(test_size=1.0), "test_size=1.0 leaves no images"),
])
def test_bad_parameters_name_themselves(kwargs, match):
    data = wavelens.load_dataset("digits", limit=200, random_state=0)
    with pytest.raises(WavelensError, match=match):
        wavelens.learnability(data, **kwargs)


def test_bad_datasets():
    data = wavelens.load_dataset("digits", limit=200, random_state=0)
    with pytest.raises(WavelensError, match="'train' parameter must be a wavelens Dataset"):
        wavelens.learnability(np.zeros((10, 8, 8)))
    unlabeled = Dataset(np.zeros((20, 8, 8), np.float32), None, None, name="u", split="all", source="memory")
    with pytest.raises(WavelensError, match="needs labeled images of at least two classes"):
        wavelens.learnability(unlabeled)
    other = Dataset(np.zeros((20, 4, 4), np.float32), np.arange(20) % 10, data.class_names, name="o", split="test",
                    source="memory")
    with pytest.raises(WavelensError, match="test has images of 4x4 but train of 8x8"):
        wavelens.learnability(data, other)


def test_cli_end_to_end_on_digits_and_the_report_rebuilds(tmp_path):
    out = tmp_path / "l"
    done = run_cli("learnability", "digits", "--limit", "300", "--label-noise", "0,1", "--out", out)
    assert done.returncode == 0, done.stderr
    assert "rank-1 patterns per image reach within 1 point" in done.stdout and "hold-out" in done.stdout
    for name in ("summary.json", "learnability.csv", "learnability_noise.csv", "learnability_per_class.csv",
                 "report.html"):
        assert (out / name).is_file(), name
    record = json.loads((out / "summary.json").read_text())
    assert record["learnability"]["n_train"] + record["learnability"]["n_test"] == 300
    assert record["params"]["dataset"] == "digits" and record["command"].startswith("wavelens learnability")
    page = (out / "report.html").read_text()
    for section in ('id="learnability"', 'id="memorization"', 'id="per-class"', "Memorizing random labels"):
        assert section in page
    (out / "report.html").unlink()
    assert run_cli("report", out).returncode == 0 and (out / "report.html").is_file()
    again = run_cli("learnability", "digits", "--limit", "300", "--classifiers", "linear", "--label-noise", "1",
                    "--no-report", "--out", out, "--overwrite")
    assert again.returncode == 0, again.stderr
    assert not (out / "report.html").exists()
    assert "knn" not in (out / "learnability.csv").read_text()


@pytest.mark.parametrize("args, flag", [
    (["--classifiers", "svm"], "--classifiers"),
    (["--ranks", "1,99"], "--ranks"),
    (["--label-noise", "2"], "--label-noise"),
])
def test_cli_bad_parameters_are_one_line_and_write_nothing(tmp_path, args, flag):
    done = run_cli("learnability", "digits", "--limit", "100", *args, "--out", tmp_path / "x")
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("wavelens: error: ") and done.stderr.count("\n") == 1, done.stderr
    assert flag in done.stderr
    assert not (tmp_path / "x").exists()


def test_a_tampered_summary_is_one_line(tmp_path):
    out = tmp_path / "l"
    wavelens.learnability(wavelens.load_dataset("digits", limit=200), label_noise=[0]).save(out, report=False)
    record = json.loads((out / "summary.json").read_text())
    record["learnability"]["rows"][0]["test_accuracy"] = "high"
    (out / "summary.json").write_text(json.dumps(record))
    done = run_cli("report", out)
    assert done.returncode == 2 and "learnability.rows[0].test_accuracy" in done.stderr
