"""wavelens.learnability: classifiers on images rebuilt from a few patterns, and on random labels."""

import json

import numpy as np
import pytest
from PIL import Image

import wavelens
from wavelens import Dataset, WavelensError, inverse_wavelet_transform, wavelet_layout
from wavelens.learning import _principal, _ridge, _within, knn_vote
from wavelens.summaries import learnability_findings

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
    (dict(alpha=0), "'alpha' parameter must be a finite number > 0"),
    (dict(alpha=float("inf")), "'alpha' parameter must be a finite number > 0"),
    (dict(alpha=float("nan")), "'alpha' parameter must be a finite number > 0"),
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
    (["--alpha", "inf"], "--alpha"),
    (["--alpha", "nan"], "alpha"),
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


# --- the review of issue 14 --------------------------------------------------------------------

def test_a_table_whose_split_column_is_all_train_gets_the_holdout(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    lines = ["path,label,split"]
    (tmp_path / "data").mkdir()
    for i in range(40):
        Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(tmp_path / "data" / f"{i}.png")
        lines.append(f"{i}.png,{'ab'[i % 2]},train")
    (tmp_path / "data" / "t.csv").write_text("\n".join(lines) + "\n")
    done = run_cli("learnability", tmp_path / "data" / "t.csv", "--label-noise", "0,1", "--classifiers", "linear",
                   "--no-report", "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    assert "tested on 10 held out from them" in done.stdout and "the dataset has no test split" in done.stdout


def _ant_bee_cat_folder(root):
    """Issue 11's reproducer: train/{ant,bee,cat} and test/{bee,cat}, 8x8 noisy images, each class bright in
    its own rows (rows 0-1 ant, 3-4 bee, 6-7 cat), so that a linear classifier tells them apart."""
    rng = np.random.default_rng(0)
    from PIL import Image

    for split, classes, n in (("train", ("ant", "bee", "cat"), 12), ("test", ("bee", "cat"), 6)):
        for name in classes:
            (root / split / name).mkdir(parents=True)
            first = {"ant": 0, "bee": 3, "cat": 6}[name]
            for i in range(n):
                pixels = rng.integers(0, 60, (8, 8))
                pixels[first:first + 2] += 180
                Image.fromarray(pixels.astype(np.uint8)).save(root / split / name / f"{i}.png")
    return root


def test_a_test_split_lacking_a_class_is_a_split_of_the_same_dataset(tmp_path):
    root = _ant_bee_cat_folder(tmp_path / "data")
    train = wavelens.load_dataset(root, split="train")
    found = wavelens.learnability(train, label_noise=[0], classifiers="linear")  # its test split, found alone
    record = found.to_dict()["learnability"]
    assert record["holdout"] is None and record["n_train"] == 36 and record["n_test"] == 12
    assert found.test.split == "test" and found.test.class_names == ["ant", "bee", "cat"]
    assert found.test.labels.tolist() == [1] * 6 + [2] * 6
    original = found.table[found.table["source"] == "original"]["test_accuracy"].iloc[0]
    assert original == 1.0  # the classes are bright in different rows: every test image is told apart
    test = wavelens.load_dataset(root, split="test")
    assert found.rows == wavelens.learnability(train, test, label_noise=[0], classifiers="linear").rows
    done = run_cli("learnability", root, "--label-noise", "0,1", "--classifiers", "linear", "--no-report",
                   "--out", tmp_path / "out")
    assert done.returncode == 0, done.stderr
    assert "tested on the 12 images of data (test)" in done.stdout, done.stdout
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["learnability"]["test_dataset"]["class_names"] == ["ant", "bee", "cat"]


def test_a_table_without_test_rows_gets_the_holdout_in_python_too(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    lines = ["path,label,split"]
    for i in range(40):
        Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(tmp_path / f"{i}.png")
        lines.append(f"{i}.png,{'ab'[i % 2]},train")
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    train = wavelens.load_dataset(tmp_path / "t.csv")
    assert train.split == "train"
    found = wavelens.learnability(train, label_noise=[0], classifiers="linear")
    assert found.to_dict()["learnability"]["n_test"] == 10
    assert "seed 0: the dataset has no test split)" in found.summary()


def test_the_holdout_says_why_and_a_test_split_is_not_called_missing():
    data = wavelens.load_dataset("digits", limit=200, random_state=0)
    array = data.images
    for split, why in (("test", "both parts come from the test split"), ("train", "no test images were given"),
                       ("all", "no test images were given")):
        d = Dataset(array, data.labels, data.class_names, name="d", split=split, source="memory")
        text = wavelens.learnability(d, label_noise=[0], classifiers="linear").summary()
        assert f"seed 0: {why})" in text, text
    # Read by load_dataset: digits has one split; Fashion-MNIST's 'all' holds its test split too.
    text = wavelens.learnability(data, label_noise=[0], classifiers="linear").summary()
    assert "seed 0: the dataset has no test split)" in text, text


def test_whole_dataset_with_a_test_split_is_said_to_be_whole(fashion_mnist_dir):
    data = wavelens.load_dataset("fashion-mnist", split="all", limit=300, random_state=0)
    text = wavelens.learnability(data, label_noise=[0], classifiers="linear", ranks=[1],
                                 pattern_counts=[1]).summary()
    assert "the images given are the whole dataset (split 'all')" in text, text


def test_a_train_split_without_test_files_gets_the_holdout(tmp_path, fashion_mnist_dir):
    import shutil

    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"):
        shutil.copy(fashion_mnist_dir / name, tmp_path / name)
    train = wavelens.load_dataset(tmp_path, split="train", limit=300, random_state=0)
    assert wavelens.load_test_split(train) is None
    found = wavelens.learnability(train, label_noise=[0], classifiers="linear", ranks=[1], pattern_counts=[1])
    assert found.to_dict()["learnability"]["n_test"] == 75
    assert "the dataset has no test split" in found.summary()


def test_load_test_split_finds_the_dataset_from_another_folder(tmp_path, monkeypatch):
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for label in ("a", "b"):
            folder = tmp_path / "data" / split / label
            folder.mkdir(parents=True)
            for i in range(3):
                Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(folder / f"{i}.png")
    monkeypatch.chdir(tmp_path)
    train = wavelens.load_dataset("data", split="train")
    monkeypatch.chdir("/")
    test = wavelens.load_test_split(train)
    assert test.split == "test" and test.n_images == 6 and test.class_names == ["a", "b"]


def test_within_one_point_is_where_every_larger_r_stays():
    rows = [{"source": "original", "r": None, "classifier": "knn", "test_accuracy": 0.6}] + [
        {"source": "image patterns", "r": r, "classifier": "knn", "test_accuracy": a}
        for r, a in ((1, 0.5), (2, 0.6), (4, 0.5), (8, 0.6))] + [
        {"source": "dataset patterns", "r": m, "classifier": "knn", "test_accuracy": a}
        for m, a in ((1, 0.6), (2, 0.5))]
    assert _within(rows, 1.0) == {"knn": {"image patterns": 8, "dataset patterns": None}}


def _record(planted, noise, chance=0.1):
    """The planted run's record with these noise rows (fraction, classifier, train, test, loo, nmi, random nmi)."""
    record = json.loads(json.dumps(planted.to_dict()))
    record["learnability"]["chance"] = chance
    named = {row[1] for row in noise}
    record["learnability"]["classifiers"] = {c: d for c, d in record["learnability"]["classifiers"].items()
                                             if c in named}
    record["learnability"]["noise"] = [
        {"fraction": f, "classifier": c, "train_accuracy": tr, "test_accuracy": te, "loo_error": loo, "nmi": nmi,
         "random_nmi": base} for f, c, tr, te, loo, nmi, base in noise]
    return "\n".join(learnability_findings(record))


def test_the_memorization_verdict_needs_all_labels_random_or_chance(planted):
    text = _record(planted, [(0, "linear", 0.99, 0.83, None, 0.3, 0.01), (0.25, "linear", 0.95, 0.76, None, 0.2, 0.01),
                             (0, "knn", 1.0, 0.86, 0.14, 0.3, 0.01), (0.25, "knn", 1.0, 0.80, 0.35, 0.2, 0.01)])
    assert "learns nothing that generalizes" not in text
    assert text.count("it still learns from the labels left true") == 2
    assert "above the 0.0100 of a random relabeling" in text
    text = _record(planted, [(0, "linear", 0.99, 0.83, None, 0.3, 0.01), (1, "linear", 0.95, 0.11, None, 0.01, 0.01)])
    assert "it memorizes the random labels and learns nothing that generalizes" in text


def test_one_noise_fraction_or_a_rising_nmi_is_not_said_to_fall(planted):
    text = _record(planted, [(1, "linear", 0.3, 0.1, None, 0.036, 0.035), (1, "knn", 1.0, 0.096, 0.892, 0.036, 0.035)])
    assert "(with 100%" not in text and "grows from" not in text and "falls from" not in text
    assert "(NMI) is 0.0360 with 100% random labels, where a random relabeling gives 0.0350" in text
    text = _record(planted, [(0, "linear", 1.0, 0.8, None, 0.059, 0.035), (1, "linear", 1.0, 0.6, None, 0.0765, 0.035)])
    assert "rises from 0.0590 with 0% to 0.0765 with 100% random labels" in text
    text = _record(planted, [(0, "linear", 1.0, 0.8, None, 0.036, 0.035), (1, "linear", 1.0, 0.1, None, 0.0356, 0.035)])
    assert "stays at about 0.0356 from 0% to 100% random labels" in text


def test_the_linear_model_fits_some_random_labels_above_chance_and_the_knn_leads_with_its_loo_error(planted):
    text = _record(planted, [(0, "linear", 0.83, 0.81, None, 0.3, 0.01), (1, "linear", 0.163, 0.095, None, 0.01, 0.01),
                             (0, "knn", 1.0, 0.86, 0.137, 0.3, 0.01), (1, "knn", 1.0, 0.093, 0.9, 0.01, 0.01)])
    assert "cannot memorize" not in text
    assert "fits 16.3% of its training labels, against 10.0% chance" in text
    knn = next(line for line in text.splitlines() if "kNN classifier's" in line)
    assert knn.startswith("With 100% random training labels, the kNN classifier's leave-one-out error")
    assert "90.0% (13.7% with 0%)" in knn and "built in: each training image is its own nearest neighbour" in knn


def test_the_knn_says_how_many_components_it_used():
    data = wavelens.load_dataset("digits", limit=200, random_state=0)
    found = wavelens.learnability(data, label_noise=[0], classifiers="knn", n_components=1000, ranks=[8],
                                  pattern_counts=[4])
    assert found.to_dict()["learnability"]["classifiers"]["knn"].endswith("on 64 principal components)")
    assert found.params["n_components"] == 1000


def test_few_test_images_and_originals_at_chance_are_warned_about():
    data = wavelens.load_dataset("digits", limit=100, random_state=0)
    text = wavelens.learnability(data, label_noise=[0, 1], classifiers="linear", alpha=1e300).summary()
    assert "Caution: only 25 test images" in text
    assert "Caution: the linear classifier does no better than chance on the original images" in text
    text = wavelens.learnability(wavelens.load_dataset("digits", limit=400, random_state=0), label_noise=[0],
                                 classifiers="linear").summary()
    assert "Caution" not in text


def test_principal_directions_are_the_top_eigenvectors_without_a_full_decomposition(monkeypatch):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((200, 30)) * np.linspace(3, 0.1, 30)
    mean, directions = _principal(x.sum(axis=0), x.T @ x, len(x), 5)
    full = np.linalg.eigh(np.cov(x, rowvar=False))[1][:, ::-1][:, :5]
    assert np.allclose(np.abs(directions.T @ full), np.eye(5), atol=1e-8)

    def refused(*args, **kwargs):
        raise AssertionError("a full eigendecomposition")

    monkeypatch.setattr(np.linalg, "eigh", refused)
    assert _principal(x.sum(axis=0), x.T @ x, len(x), 5)[1].shape == (30, 5)


def test_every_dataset_pattern_is_the_originals_without_a_map(monkeypatch):
    import sys

    import wavelens.dataset_patterns

    original = wavelens.dataset_patterns.transform_matrix

    def refused(*args, **kwargs):  # the dataset patterns themselves may use it; learnability's maps may not
        assert sys._getframe(1).f_globals["__name__"] != "wavelens.learning", "the identity map was built"
        return original(*args, **kwargs)

    monkeypatch.setattr(wavelens.dataset_patterns, "transform_matrix", refused)
    data = wavelens.load_dataset("digits", limit=300, random_state=0)
    found = wavelens.learnability(data, label_noise=[0], pattern_counts=[64], ranks=[8])
    table = found.table.set_index(["source", "classifier"])
    for classifier in ("linear", "knn"):
        assert (table.loc[("dataset patterns", classifier), "test_accuracy"]
                == table.loc[("original", classifier), "test_accuracy"])
        assert np.isinf(table.loc[("dataset patterns", classifier), "psnr_db"])
