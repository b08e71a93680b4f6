"""The community count from a stable gap, and its stability under random halves."""

import json

import numpy as np
import pytest

from conftest import run_cli
from wavelens import WavelensError, from_arrays
from wavelens.communities import find_communities
from wavelens.communities.graph import graph_from_lists, knn_graph, knn_lists
from wavelens.communities.stability import half_samples
from wavelens.estimators import SpectralCommunities

K = 5


def _planted(n_per_group=80, seed=0, size=8):
    """K groups of images, each a distinct random pattern plus a little noise."""
    rng = np.random.default_rng(seed)
    patterns = rng.random((K, size, size))
    labels = np.repeat(np.arange(K), n_per_group)
    images = patterns[labels] + 0.03 * rng.standard_normal((len(labels), size, size))
    return np.clip(images, 0, 1).astype(np.float32), labels


def test_planted_groups_give_their_count_at_full_size_and_on_halves():
    images, labels = _planted()
    found = find_communities(from_arrays(images, labels), max_communities=12)
    assert found.groups[0]["n_communities"] == K and found.groups[0]["count_from"] == "stable gap"
    stability = found.groups[0]["stability"]
    assert stability["clear"] and stability["half_counts"] == [K] * 12 and stability["mean_ari"] == 1.0
    assert stability["confidence"] > 3 and stability["votes"] == 1.0
    assert np.all(found.per_image["community_stability"] == 1.0)
    assert "A clear community structure" in found.summary()
    for seed in range(3):
        half = np.sort(np.random.default_rng(seed).choice(len(labels), len(labels) // 2, replace=False))
        assert find_communities(from_arrays(images[half], labels[half]), max_communities=12).groups[0][
            "n_communities"] == K


def test_noise_has_no_clear_structure():
    images = np.random.default_rng(1).random((400, 8, 8)).astype(np.float32)
    found = find_communities(from_arrays(images), max_communities=12)
    stability = found.groups[0]["stability"]
    assert not stability["clear"] and not stability["membership_stable"] and stability["mean_ari"] < 0.3
    assert "No clear community structure" in found.summary()
    assert "treat communities as a coarse grouping" in found.summary()


def test_deterministic_under_random_state():
    images = np.random.default_rng(2).random((300, 8, 8)).astype(np.float32)
    runs = [find_communities(from_arrays(images), max_communities=10, random_state=seed) for seed in (3, 3, 4)]
    assert np.array_equal(runs[0].assignment, runs[1].assignment)
    assert runs[0].groups[0]["stability"] == runs[1].groups[0]["stability"]
    assert runs[0].groups[0]["stability"]["ari"] != runs[2].groups[0]["stability"]["ari"]


def test_halves_come_in_complementary_pairs():
    halves = half_samples(11, 3, np.random.default_rng(0))
    assert len(halves) == 3 and [len(h) for h in halves] == [5, 6, 5]
    assert sorted(np.concatenate(halves[:2]).tolist()) == list(range(11))


def test_half_graph_is_the_subset_of_longer_lists():
    x = np.random.default_rng(5).random((120, 6))
    distances, neighbors = knn_lists(x, n_neighbors=30)
    full, sigma = graph_from_lists(distances, neighbors, n_neighbors=7)
    direct, direct_sigma = knn_graph(x, n_neighbors=7)
    assert abs(full - direct).max() < 1e-12 and sigma == pytest.approx(direct_sigma)
    rows = np.arange(0, 120, 2)
    half, _ = graph_from_lists(distances, neighbors, n_neighbors=7, rows=rows)
    exact, _ = knn_graph(x[rows], n_neighbors=7)
    assert half.shape == (60, 60) and (half > 0).toarray().tolist() == (exact > 0).toarray().tolist()


def test_no_resamples_and_small_groups_measure_no_stability():
    images, labels = _planted()
    found = find_communities(from_arrays(images, labels), max_communities=12, n_resamples=0)
    assert found.groups[0]["stability"] is None and found.groups[0]["count_from"] == "eigengap"
    assert found.per_image["community_stability"].isna().all() and found.groups[0]["n_communities"] == K
    fixed = find_communities(from_arrays(images, labels), n_communities=3, max_communities=12)
    assert fixed.groups[0]["count_from"] == "fixed" and fixed.groups[0]["stability"]["confidence"] is None
    few = find_communities(from_arrays(images[:40], labels[:40]), n_neighbors=5, max_communities=30)
    assert few.groups[0]["stability"] is None


def test_estimator_reports_stability():
    images, _ = _planted()
    fitted = SpectralCommunities(max_communities=12, n_neighbors=10).fit(images)
    assert fitted.n_communities_ == K and fitted.stability_.clear and fitted.stability_.chosen == K
    with pytest.raises(WavelensError, match="n_resamples"):
        SpectralCommunities(n_resamples=-1).fit(images)


@pytest.mark.parametrize("value", [-1, 1.5, True, "6"])
def test_bad_n_resamples(value):
    images, labels = _planted(n_per_group=10)
    with pytest.raises(WavelensError, match="'n_resamples' parameter must be an integer >= 0"):
        find_communities(from_arrays(images, labels), n_resamples=value)


def test_cli_resamples(tmp_path):
    bad = run_cli("communities", "digits", "--resamples", "-1", "--out", tmp_path / "bad", "--no-report")
    assert bad.returncode == 2 and "--resamples" in bad.stderr and not (tmp_path / "bad").exists()
    out = tmp_path / "c"
    good = run_cli("communities", "digits", "--limit", "400", "--resamples", "2", "--max-communities", "10",
                   "--out", out, "--no-report")
    assert good.returncode == 0, good.stderr
    assert "community structure" in good.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["params"]["n_resamples"] == 2 and summary["communities"]["stability"]["n_resamples"] == 2
    assert "community_stability" in (out / "communities.csv").read_text().splitlines()[0]
