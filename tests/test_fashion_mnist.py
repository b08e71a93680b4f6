"""Real data: the full Fashion-MNIST from Debian's dataset-fashion-mnist package.

Skipped, saying why, where the package is not installed; .ci/run installs it.
"""

import json

import numpy as np
import pytest

from conftest import run_cli
from wavelens import load_dataset


def test_loads_both_splits(fashion_mnist_dir):
    train = load_dataset("fashion-mnist", split="train")
    test = load_dataset("fashion-mnist", split="test")
    assert train.images.shape == (60000, 28, 28) and test.images.shape == (10000, 28, 28)
    assert train.class_names[0] == "T-shirt/top" and train.class_names[9] == "Ankle boot"
    # Fashion-MNIST is balanced: 6,000 training and 1,000 test images per class.
    assert np.bincount(train.labels).tolist() == [6000] * 10
    assert np.bincount(test.labels).tolist() == [1000] * 10
    assert train.images.min() == 0.0 and train.images.max() == 1.0


def test_analyze_full_training_set(fashion_mnist_dir, tmp_path):
    out = tmp_path / "fmnist"
    result = run_cli("analyze", "fashion-mnist", "--split", "train", "--level", "2", "--out", out)
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["dataset"]["n_images"] == 60000
    lowrank = summary["lowrank"]
    # METHOD.md's orientation figure, measured independently with a per-image
    # PyWavelets + numpy SVD loop: the median image needs 6 to 8 patterns of 28.
    assert 6 <= lowrank["rank_median"] <= 8
    assert lowrank["max_possible_rank"] == 28
    assert lowrank["rank_max"] <= 28
    # Far fewer patterns than the matrix size: the paper's low-rank claim.
    assert lowrank["rank_p95"] < 28 / 2


def test_limit_on_test_split(fashion_mnist_dir, tmp_path):
    result = run_cli("analyze", "fashion-mnist", "--split", "test", "--limit", "1000", "--out", tmp_path / "o")
    assert result.returncode == 0, result.stderr
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["dataset"]["n_images"] == 1000 and summary["dataset"]["split"] == "test"


def test_association_and_random_labels_on_full_training_set(fashion_mnist_dir, tmp_path):
    true_run = run_cli("analyze", "fashion-mnist", "--split", "train", "--out", tmp_path / "true")
    assert true_run.returncode == 0, true_run.stderr
    image = json.loads((tmp_path / "true" / "summary.json").read_text())["association"]["image_patterns"]
    # METHOD.md's orientation figures: NMI about 0.34 with the true labels, about 0.001 with shuffled ones.
    assert 0.25 < image["true"]["nmi"] < 0.45
    assert image["random"]["nmi"] < 0.005
    assert image["true"]["nmi"] > 50 * image["random"]["nmi"]

    noisy = run_cli("analyze", "fashion-mnist", "--split", "train", "--label-noise", "1", "--out", tmp_path / "r")
    assert noisy.returncode == 0, noisy.stderr
    image = json.loads((tmp_path / "r" / "summary.json").read_text())["association"]["image_patterns"]
    assert image["true"]["nmi"] < 0.005


def test_noise_curve_on_test_split(fashion_mnist_dir, tmp_path):
    result = run_cli("noise-curve", "fashion-mnist", "--split", "test", "--fractions", "0,0.5,1",
                     "--out", tmp_path / "c")
    assert result.returncode == 0, result.stderr
    rows = json.loads((tmp_path / "c" / "noise_curve.json").read_text())["rows"]
    nmi = [r["nmi"] for r in rows if r["kind"] == "image_patterns"]
    assert nmi[0] > nmi[1] > nmi[2] and nmi[2] < 0.01 < nmi[0] / 10


def test_test_versus_train_duplicates(fashion_mnist_dir, tmp_path):
    out = tmp_path / "dup"
    result = run_cli("duplicates", "fashion-mnist", "--split", "test", "fashion-mnist", "--split-b", "train",
                     "--out", out)
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    counts = summary["duplicates"]
    assert summary["dataset_a"]["n_images"] == 10000 and summary["dataset_b"]["n_images"] == 60000
    # The adaptive cut flags the few copies (186 pairs when measured), not the 33,324 pairs of a fixed cosine 0.98.
    assert 50 <= counts["n_pairs"] <= 500 and counts["n_labels_disagree"] <= counts["n_pairs"]
    assert "drop them from the test set" in result.stdout
    import csv

    with open(out / "duplicates.csv") as handle:
        rows = list(csv.DictReader(handle))
    similarity, reference = (np.array([float(r[k]) for r in rows]) for k in ("similarity", "reference"))
    assert (similarity >= 0.9).all() and ((1 - similarity) <= 0.25 * (1 - reference) + 1e-6).all()
    # The top pair re-checked from the pixels: a correlation at least its similarity at some shift of <= 2 px.
    top = max(rows, key=lambda r: float(r["similarity"]))
    test = load_dataset("fashion-mnist", split="test").images[int(top["index_a"])].astype(np.float64)
    train = load_dataset("fashion-mnist", split="train").images[int(top["index_b"])].astype(np.float64)
    best = max(np.corrcoef(test[max(dy, 0):28 + min(dy, 0), max(dx, 0):28 + min(dx, 0)].ravel(),
                           train[max(-dy, 0):28 + min(-dy, 0), max(-dx, 0):28 + min(-dx, 0)].ravel())[0, 1]
               for dy in range(-2, 3) for dx in range(-2, 3))
    assert best == pytest.approx(float(top["similarity"]), abs=1e-4)


def test_communities_on_a_subsample(fashion_mnist_dir, tmp_path):
    out = tmp_path / "comm"
    result = run_cli("communities", "fashion-mnist", "--split", "all", "--limit", "7000", "--out", out)
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())["communities"]
    images = load_dataset("fashion-mnist", split="all", limit=7000, random_state=0).images
    expected = np.linalg.matrix_rank(images.reshape(7000, -1).astype(np.float64))
    assert summary["numerical_rank"] == {"pixel": expected, "wavelet": expected}
    assert 2 <= summary["n_communities"] <= 30
    groups = summary["groups"][0]["communities"]
    assert sum(c["size"] for c in groups) == 7000
    # Trousers and bags are distinctive: some community is nearly all one of them.
    assert any(c["top_class"] in ("Trouser", "Bag") and c["purity"] > 0.9 for c in groups)


def test_audit_finds_flipped_labels_in_the_test_split(fashion_mnist_dir):
    """5% of the 10,000 test labels flipped uniformly: the label-error score ranks them first."""
    from sklearn.metrics import average_precision_score

    import wavelens

    data = load_dataset("fashion-mnist", split="test", data_dir=fashion_mnist_dir)
    rng = np.random.default_rng(0)
    flipped = rng.random(data.n_images) < 0.05
    noisy = data.labels.copy()
    noisy[flipped] = (noisy[flipped] + rng.integers(1, 10, flipped.sum())) % 10
    found = wavelens.audit(wavelens.Dataset(None, noisy, data.class_names, name="fm", split="test",
                                            source="test", pixels=data.pixels),
                           checks=["label_errors", "classes"])
    table = found.per_image
    assert average_precision_score(flipped, table["label_error_score"]) > 0.85
    chosen = table["is_label_error"].to_numpy()
    assert flipped[chosen].mean() > 0.5 and chosen[flipped].mean() > 0.8  # precision, recall of the flagged set
    assert (table.loc[flipped & chosen, "suggested_label"] == data.labels[flipped & chosen]).mean() > 0.8
    pairs = found.confusable_classes.head(3)
    assert {"Shirt", "T-shirt/top"} in [{a, b} for a, b in zip(pairs["class_a"], pairs["class_b"])]
