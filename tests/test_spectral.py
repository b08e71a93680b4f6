import csv
import json

import numpy as np
import pytest
import scipy.sparse as sp
from scipy.linalg import qr

from conftest import run_cli
from wavelens import Dataset, WavelensError
from wavelens.communities.clustering import eigengap, spectral_communities
from wavelens.duplicates.search import find_duplicates
from wavelens.communities.features import laplacian_scores, select_features
from wavelens.communities.graph import knn_graph
from wavelens.communities import find_communities


def test_laplacian_score_two_nodes():
    # f = (1, 3), d = (1, 1): f~ = (-1, 1); f~' L f~ = (−1 − 1)^2 = 4; f~' D f~ = 2; score 2.
    graph = sp.csr_matrix(np.array([[0.0, 1.0], [1.0, 0.0]]))
    assert laplacian_scores(np.array([[1.0], [3.0]]), graph)[0] == pytest.approx(2.0)


def test_laplacian_score_path_graph():
    # Path 0-1-2 with unit weights: d = (1, 2, 1). f = (0, 0, 4): D-mean 1, f~ = (-1, -1, 3),
    # numerator (f~0 - f~1)^2 + (f~1 - f~2)^2 = 16, denominator 1 + 2 + 9 = 12: 4/3.
    # g = (1, 2, 3): D-mean 2, g~ = (-1, 0, 1): numerator 2, denominator 2: 1. A constant scores inf.
    graph = sp.csr_matrix(np.array([[0.0, 1, 0], [1, 0, 1], [0, 1, 0]]))
    features = np.array([[0.0, 1, 5], [0, 2, 5], [4, 3, 5]])
    scores = laplacian_scores(features, graph)
    assert scores[0] == pytest.approx(4 / 3) and scores[1] == pytest.approx(1.0) and np.isinf(scores[2])
    assert select_features(features, method="laplacian", graph=graph, n_features=2).indices.tolist() == [1, 0]


def test_pivoted_qr_order_matches_scipy(rng):
    x = rng.standard_normal((200, 12)) * np.linspace(1, 5, 12)
    _, _, pivots = qr(x, pivoting=True, mode="economic")
    assert select_features(x, method="qr", n_features=6).indices.tolist() == pivots[:6].tolist()


def test_qr_drops_dependent_columns_and_respects_condition(rng):
    base = rng.standard_normal((100, 3))
    x = np.column_stack([base[:, 0], 2 * base[:, 0], base[:, 1] * 1e-3, base[:, 2] * 1e-7])
    everything = select_features(x, method="qr", condition=1e12)
    assert sorted(everything.indices.tolist()) == [1, 2, 3]  # column 0 duplicates column 1
    limited = select_features(x, method="qr", condition=1e5)
    assert limited.indices.tolist() == [1, 2] and limited.condition_number < 1e5
    assert select_features(x, method="all").indices.tolist() == [0, 1, 2, 3]


def test_feature_errors():
    with pytest.raises(WavelensError, match="Unknown feature selection 'pca'"):
        select_features(np.eye(3), method="pca")
    with pytest.raises(WavelensError, match="n_features=9 is more than the 3"):
        select_features(np.eye(3), method="qr", n_features=9)


def _clusters(rng, n_clusters=4, per_cluster=50, dim=30, noise=0.05):
    centers = rng.standard_normal((n_clusters, dim)) * 3
    labels = np.repeat(np.arange(n_clusters), per_cluster)
    return centers[labels] + noise * rng.standard_normal((len(labels), dim)), labels


def test_knn_graph_is_sparse_symmetric_without_self_loops(rng):
    x, _ = _clusters(rng)
    graph, sigma = knn_graph(x, n_neighbors=5)
    assert sp.issparse(graph) and graph.shape == (200, 200)
    assert abs(graph - graph.T).max() == 0 and graph.diagonal().sum() == 0
    assert (np.diff(graph.indptr) >= 5).all() and graph.nnz <= 200 * 10
    assert sigma > 0 and graph.data.min() > 0 and graph.data.max() <= 1


@pytest.mark.parametrize("n_clusters", [3, 4, 6])
def test_eigengap_finds_the_number_of_communities(rng, n_clusters):
    x, labels = _clusters(rng, n_clusters=n_clusters)
    graph, _ = knn_graph(x, n_neighbors=8)
    found = spectral_communities(graph, max_communities=10, random_state=0)
    assert found.eigengap_k == n_clusters
    assert np.sum(found.eigenvalues[:n_clusters]) < 1e-6  # one zero eigenvalue per separate community
    # each community is exactly one planted cluster
    pairs = {(a, b) for a, b in zip(labels.tolist(), found.labels.tolist())}
    assert len(pairs) == n_clusters


def test_eigengap_on_given_eigenvalues():
    assert eigengap([0, 0, 0, 0.5, 0.55, 0.6], 5) == 3
    assert eigengap([0, 0.01, 0.02, 0.03, 0.9], 4) == 4


def _as_dataset(x, labels):
    images = x.reshape(len(x), 5, 6).astype(np.float32)
    return Dataset(images, labels, [f"c{i}" for i in range(labels.max() + 1)], name="blobs", split="all",
                   source="synthetic")


def test_find_communities_describes_mixing(rng):
    x, clusters = _clusters(rng, n_clusters=3)
    labels = clusters.copy()
    labels[clusters == 2] = np.arange((clusters == 2).sum()) % 2  # cluster 2 is half class 0, half class 1
    result = find_communities(_as_dataset(x, labels), features="all", n_neighbors=8, max_communities=8)
    summary = result.to_dict()["communities"]
    assert summary["eigengap_k"] == summary["n_communities"] == 3
    described = summary["groups"][0]["communities"]
    assert sorted(c["size"] for c in described) == [50, 50, 50]
    assert len(summary["mixed"]) == 1
    mixed = described[summary["mixed"][0]]
    assert mixed["classes"] == {"c0": 25, "c1": 25} and mixed["purity"] == 0.5
    assert all(np.isin(mixed["central_members"], np.flatnonzero(clusters == 2)))


def test_find_communities_per_class(rng):
    x, clusters = _clusters(rng, n_clusters=4)
    labels = clusters // 2  # each class holds two separate clusters
    result = find_communities(_as_dataset(x, labels), features="all", n_neighbors=8, max_communities=6,
                              per_class=True)
    groups = result.to_dict()["communities"]["groups"]
    assert [g["name"] for g in groups] == ["c0", "c1"]
    assert [g["eigengap_k"] for g in groups] == [2, 2]
    assert sorted(np.unique(result.assignment).tolist()) == [0, 1, 2, 3]
    assert len({(a, b) for a, b in zip(clusters.tolist(), result.assignment.tolist())}) == 4


def _smooth_images(rng, n, size=32):
    from scipy.ndimage import gaussian_filter

    noise = rng.standard_normal((n, size, size))
    fields = np.stack([gaussian_filter(f, 3.0, mode="wrap") for f in noise])
    fields /= fields.std(axis=(1, 2), keepdims=True)
    # A small offset: cosine of images with a large common mean is high whatever they show.
    return np.clip(0.3 + 0.1 * fields, 0, 1).astype(np.float32)


@pytest.mark.parametrize("chunk_size", [7, 512])
def test_planted_near_duplicates_are_found_and_nothing_else(rng, chunk_size):
    from wavelens import wavelet_transform

    originals = _smooth_images(rng, 60)
    shifted = np.roll(originals[:5], 1, axis=2)
    noisy = originals[5:10] + 0.002 * rng.standard_normal((5, 32, 32)).astype(np.float32)
    exact = originals[10:12].copy()
    images = np.concatenate([originals, shifted, noisy, exact])
    coefficients, _ = wavelet_transform(images)
    pairs = find_duplicates(coefficients, threshold=0.98, images_a=images, chunk_size=chunk_size)
    found = set(zip(pairs.index_a.tolist(), pairs.index_b.tolist()))
    planted = {(i, 60 + i) for i in range(12)}
    assert found == planted
    assert pairs.exact.tolist().count(True) == 2
    assert set(zip(pairs.index_a[pairs.exact].tolist(), pairs.index_b[pairs.exact].tolist())) == {(10, 70), (11, 71)}
    assert np.all(pairs.similarity >= 0.98) and np.all(np.diff(pairs.similarity) <= 0)


def test_duplicates_across_two_sets(rng):
    from wavelens import wavelet_transform

    train = _smooth_images(rng, 40)
    test = np.concatenate([_smooth_images(rng, 10), train[[3, 17]] * 0.9])  # two leaked, rescaled images
    a, _ = wavelet_transform(test)
    b, _ = wavelet_transform(train)
    pairs = find_duplicates(a, b, threshold=0.98)
    assert set(zip(pairs.index_a.tolist(), pairs.index_b.tolist())) == {(10, 3), (11, 17)}
    assert pairs.similarity == pytest.approx([1.0, 1.0], abs=1e-5)


def test_blank_exact_duplicates_are_flagged():
    images = np.zeros((3, 8, 8), np.float32)
    images[2, 1, 1] = 1
    pairs = find_duplicates(images, threshold=0.99, images_a=images)
    assert list(zip(pairs.index_a.tolist(), pairs.index_b.tolist())) == [(0, 1)] and pairs.exact.all()


def test_communities_cli_on_digits(tmp_path):
    out = tmp_path / "c"
    result = run_cli("communities", "digits", "--out", out, "--max-communities", "15")
    assert result.returncode == 0, result.stderr
    assert "community" in result.stdout and "purity" in result.stdout
    summary = json.loads((out / "summary.json").read_text())["communities"]
    assert set(summary) >= {"eigenvalues", "eigengap_k", "n_communities", "mixed", "numerical_rank", "features"}
    assert summary["numerical_rank"] == {"pixel": 61, "wavelet": 61}
    assert 2 <= summary["eigengap_k"] <= 15 and summary["features"]["method"] == "qr"
    with open(out / "communities.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1797 and list(rows[0]) == ["id", "index", "label", "class_name", "community",
                                                 "community_stability"]
    sizes = np.bincount([int(r["community"]) for r in rows])
    assert sizes.tolist() == [c["size"] for c in summary["groups"][0]["communities"]]


def test_duplicates_cli_across_npz_files(tmp_path, rng):
    train = (_smooth_images(rng, 30) * 255).astype(np.uint8)
    test = np.concatenate([(_smooth_images(rng, 5) * 255).astype(np.uint8), train[[4]]])
    np.savez(tmp_path / "train.npz", images=train, labels=np.arange(30) % 3)
    np.savez(tmp_path / "test.npz", images=test, labels=np.array([0, 1, 2, 0, 1, 2]))
    out = tmp_path / "d"
    result = run_cli("duplicates", tmp_path / "test.npz", tmp_path / "train.npz", "--out", out)
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())["duplicates"]
    assert summary == {"n_pairs": 1, "n_exact": 1, "n_labels_disagree": 1, "n_images_a_with_duplicate": 1,
                       "n_images_b_with_duplicate": 1, "n_groups": 1}
    with open(out / "duplicates.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert float(rows[0].pop("reference")) < 0.95  # the similarity the copy stood out from
    assert rows == [{"id_a": "5", "id_b": "4", "index_a": "5", "index_b": "4", "row_a": "5", "row_b": "4", "similarity": "1.000000",
                     "label_a": "2", "label_b": "1", "class_a": "2", "class_b": "1", "labels_disagree": "True",
                     "exact": "True", "group": "0"}]


@pytest.mark.parametrize("args, match", [
    (["duplicates", "digits", "--threshold", "1.5"], "--threshold"),
    (["communities", "digits", "--communities", "1"], "--communities"),
    (["communities", "digits", "--n-features", "100"], "--n-features 100 is more than the 64"),
    (["communities", "digits", "--features", "pca"], "--features"),
    (["communities", "digits", "--limit", "5", "--neighbors", "10"], "--neighbors 10 needs more than 10 images"),
])
def test_spectral_bad_input(tmp_path, args, match):
    out = tmp_path / "o"
    result = run_cli(*args, "--out", out)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.startswith("wavelens: error:") and match in result.stderr, result.stderr
    assert not out.exists()


def test_duplicates_of_different_sizes(tmp_path, rng):
    np.savez(tmp_path / "a.npz", images=rng.random((4, 8, 8)), labels=np.arange(4))
    np.savez(tmp_path / "b.npz", images=rng.random((4, 9, 9)), labels=np.arange(4))
    result = run_cli("duplicates", tmp_path / "a.npz", tmp_path / "b.npz", "--out", tmp_path / "o")
    assert result.returncode == 2 and "compare datasets of one image size" in result.stderr


def test_duplicates_compare_class_names_and_stored_pixels_across_datasets():
    from wavelens import find_near_duplicates, from_arrays

    pixels = np.random.default_rng(1).integers(0, 256, (30, 8, 8)).astype(np.uint8)
    names = np.array(["zero", "one", "two"])
    train = from_arrays(pixels, names[np.arange(30) % 3])
    test = from_arrays(pixels[[10, 11]], names[[1, 2]])  # class numbers differ: test has no "zero"
    found = find_near_duplicates(test, train, threshold=0.999)
    table = found.pairs_table
    assert len(table) == 2 and table.exact.all()
    assert not table.labels_disagree.any() and (table.class_a == table.class_b).all()


def test_neighbours_at_equal_distance_are_taken_in_image_order_across_chunks():
    from wavelens.communities.graph import knn_graph

    features = np.random.default_rng(0).random((5000, 30))
    features[2040:2060] = features[2040]  # 20 copies of one image, across the chunk boundary at 2048
    graph, _ = knn_graph(features, n_neighbors=5, n_jobs=2)
    for row in (2040, 2047, 2048, 2059):
        expected = [i for i in range(2040, 2060) if i != row][:5]
        # Symmetrized: each copy links at least to the 5 lowest other copies.
        assert set(expected) <= set(graph[row].indices.tolist()), row
    assert sorted(graph[2059].indices.tolist()) == list(range(2040, 2045))  # chosen by no other copy
