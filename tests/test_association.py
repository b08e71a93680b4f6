import numpy as np
import pytest
from scipy.stats.contingency import association as scipy_association
from sklearn.metrics import mutual_info_score, normalized_mutual_info_score

from wavelens.association import (association_statistics, class_signatures, compare_with_random,
                                  contingency_table, noisy_labels, pattern_profiles, share_table)


def _expand(table):
    """Label vectors (pattern, class) with the table's counts."""
    rows, cols = np.nonzero(table)
    counts = table[rows, cols].astype(int)
    return np.repeat(rows, counts), np.repeat(cols, counts)


def test_contingency_counts_and_weights():
    ids = np.array([[0, 1], [1, -1], [2, 2]])
    labels = np.array([0, 1, 1])
    np.testing.assert_array_equal(contingency_table(ids, labels, 3, 2), [[1, 0], [1, 1], [0, 2]])
    weights = np.array([[0.5, 0.25], [0.9, 0.0], [0.1, 0.2]])
    np.testing.assert_allclose(contingency_table(ids, labels, 3, 2, weights=weights),
                               [[0.5, 0], [0.25, 0.9], [0, 0.3]])


def test_perfect_association():
    stats = association_statistics(np.array([[10, 0], [0, 10]]))
    assert stats == pytest.approx({"nmi": 1.0, "mi_bits": 1.0, "cramers_v": 1.0, "purity": 1.0})


def test_independence():
    stats = association_statistics(np.array([[5, 5], [10, 10]]))
    assert stats == pytest.approx({"nmi": 0.0, "mi_bits": 0.0, "cramers_v": 0.0, "purity": 0.5}, abs=1e-12)


def test_hand_computed_table():
    # p = [[.25, .25], [.5, 0]]: rows (.5, .5), cols (.75, .25).
    # MI = .25 log2(.25/.375) + .25 log2(.25/.125) + .5 log2(.5/.375) = 0.3112781 bits
    # H(rows) = 1, H(cols) = 0.8112781, NMI = 0.3112781 / 0.9056391 = 0.3437110
    # chi2 / N = sum p^2 / (p_r p_c) - 1 = 1/3, V = sqrt(1/3) = 0.5773503; purity (1 + 2) / 4 = .75
    stats = association_statistics(np.array([[1, 1], [2, 0]]))
    assert stats["mi_bits"] == pytest.approx(0.3112781, abs=1e-7)
    assert stats["nmi"] == pytest.approx(0.3437110, abs=1e-7)
    assert stats["cramers_v"] == pytest.approx(0.5773503, abs=1e-7)
    assert stats["purity"] == pytest.approx(0.75)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_agrees_with_scikit_learn_and_scipy(seed):
    table = np.random.default_rng(seed).integers(0, 30, size=(7, 4))
    table[3] = 0  # an empty pattern is ignored
    rows, cols = _expand(table)
    stats = association_statistics(table)
    assert stats["mi_bits"] == pytest.approx(mutual_info_score(cols, rows) / np.log(2))
    assert stats["nmi"] == pytest.approx(normalized_mutual_info_score(cols, rows))
    assert stats["cramers_v"] == pytest.approx(scipy_association(table[table.sum(1) > 0], method="cramer"))


def test_pattern_profiles():
    profiles = pattern_profiles(np.array([[3, 1], [1, 3], [0, 0]]), ["a", "b"])
    assert profiles[0]["top_class"] == "a" and profiles[1]["top_class"] == "b"
    assert profiles[0]["lift"] == pytest.approx(0.75 / 0.5)
    assert profiles[0]["entropy_bits"] == pytest.approx(-(0.75 * np.log2(0.75) + 0.25 * np.log2(0.25)))
    assert profiles[0]["distribution"] == {"a": 0.75, "b": 0.25}
    assert profiles[2]["total"] == 0 and profiles[2]["top_class"] is None


def test_class_signatures():
    table = np.array([[50, 0], [25, 25], [0, 50], [1, 0]])
    signatures = class_signatures(table, ["a", "b"], top=2, min_share=0.05)
    assert [s["pattern"] for s in signatures["a"]] == [0, 1]  # pattern 3 is too rare for class a
    assert signatures["a"][0]["lift"] == pytest.approx((50 / 76) / (50 / 151))
    assert [s["pattern"] for s in signatures["b"]] == [2, 1]


def test_random_control_separates_real_from_random_association():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 2000)
    ids = labels * 2 + rng.integers(0, 2, 2000)  # each class has its own two patterns

    def table(y):
        return contingency_table(ids, y, 8, 4)

    result = compare_with_random(table, labels, repeats=19, random_state=1)
    assert result["true"]["nmi"] > 0.6
    assert result["random"]["nmi"] < 0.01 and result["random"]["repeats"] == 19
    assert result["p_value"] == pytest.approx(1 / 20)
    assert result["z_score"] > 50

    unrelated = rng.integers(0, 8, 2000)
    null = compare_with_random(lambda y: contingency_table(unrelated, y, 8, 4), labels, repeats=19, random_state=1)
    assert null["true"]["nmi"] < 0.01
    assert null["p_value"] > 0.05


def test_noisy_labels():
    labels = np.repeat(np.arange(5), 200)
    assert np.array_equal(noisy_labels(labels, 0.0, 5, random_state=0), labels)
    half = noisy_labels(labels, 0.5, 5, random_state=0)
    changed = (half != labels).mean()
    assert 0.5 * 0.8 - 0.05 < changed <= 0.5  # a fifth of the redrawn labels land on the true one
    full = noisy_labels(labels, 1.0, 5, random_state=0)
    assert abs((full == labels).mean() - 0.2) < 0.05
    assert np.array_equal(noisy_labels(labels, 0.3, 5, random_state=3), noisy_labels(labels, 0.3, 5, random_state=3))


def test_share_table():
    shares = np.array([[0.5, 0.5], [1.0, 0.0], [0.2, 0.8]])
    np.testing.assert_allclose(share_table(shares, np.array([0, 1, 1]), 2), [[0.5, 1.2], [0.5, 0.8]])
