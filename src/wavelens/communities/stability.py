"""The number of communities from a stable eigengap, and how stable the communities are.

The eigengap of one graph is a noisy estimate when the graph has no clear
structure: on Fashion-MNIST's test set the largest gap of the 10-neighbour
graph falls after 9 on all 10,000 images and after 24, 9 or 21 on random
halves of them. So the count is read off the gap *profile* averaged over the
whole graph and ``n_resamples`` random halves of the images:

1. Each image's neighbour list is found once, a few times longer than
   ``n_neighbors``; a half's graph joins each of its images to its
   ``n_neighbors`` nearest in that list that are in the half (no new search).
   Halves come in complementary pairs, so every image is in as many halves.
2. For each graph, the gaps l_{k+1} - l_k (2 <= k <= max_communities) of its
   normalized Laplacian are divided by l_{max_communities + 1}, which makes
   graphs of different sizes comparable; the profiles are averaged.
3. The count is the k with the largest average gap. Its *confidence* is that
   gap over the largest of the others (1 means a tie); its *votes* are the
   share of the halves whose own largest gap falls at the same k.
4. The whole graph and each half are clustered into that many communities;
   the agreement of a half with the whole is the adjusted Rand index (ARI) on
   the half's images, and an image's *stability* is the share of its halves
   in which it lands in the community matching its own (each community of a
   half matched to the community of the whole it overlaps most).

The structure is called *clear* when the confidence is at least
``CLEAR_CONFIDENCE``, the votes at least ``CLEAR_VOTES`` and the mean ARI at
least ``CLEAR_ARI``.
"""

from dataclasses import dataclass, field

import numpy as np

from .clustering import Communities, check_community_count, kmeans_labels, laplacian_spectrum
from .graph import graph_from_lists, knn_lists

__all__ = ["CLEAR_ARI", "CLEAR_CONFIDENCE", "CLEAR_VOTES", "Stability", "communities_of_rows", "half_samples",
           "stable_communities"]

CLEAR_CONFIDENCE = 1.5
CLEAR_VOTES = 0.5
CLEAR_ARI = 0.8
LIST_FACTOR = 3  # neighbour lists this many times n_neighbors (plus 8) serve the halves


@dataclass
class Stability:
    """How stable a group's community count and membership are under random halves.

    Attributes
    ----------
    n_resamples : int
        Random halves drawn.
    chosen : int
        The number of communities used.
    confidence : float
        The chosen k's average gap over the largest other one (eigengap choice only, else None).
    votes : float
        Share of the halves whose own largest gap is at ``chosen``.
    half_counts : list of int
        Each half's own eigengap estimate.
    ari : list of float
        Adjusted Rand index of each half's communities against the whole's, on the half's images.
    image_stability : ndarray of shape (n_images,)
        Share of each image's halves in which it stays in its community (NaN: in no half).
    gap_profile : list of float
        The average normalized gap for k = 2 .. max_communities.
    """

    n_resamples: int
    chosen: int
    confidence: float | None
    votes: float
    half_counts: list
    ari: list
    image_stability: np.ndarray = field(repr=False)
    gap_profile: list = field(repr=False)

    @property
    def mean_ari(self) -> float:
        return float(np.mean(self.ari))

    @property
    def count_stable(self) -> bool:
        """Whether the chosen gap stands out (``CLEAR_CONFIDENCE``) and most halves find it (``CLEAR_VOTES``)."""
        confident = self.confidence is None or self.confidence >= CLEAR_CONFIDENCE
        return bool(confident and self.votes >= CLEAR_VOTES)

    @property
    def membership_stable(self) -> bool:
        """Whether the halves' communities agree with the whole's (mean ARI at least ``CLEAR_ARI``)."""
        return bool(self.mean_ari >= CLEAR_ARI)

    @property
    def clear(self) -> bool:
        """Whether the count and membership are stable enough to call the structure clear."""
        return self.count_stable and self.membership_stable

    def record(self) -> dict:
        """JSON-ready figures (``summary.json``'s ``stability`` of a group)."""
        finite = self.image_stability[np.isfinite(self.image_stability)]
        return {
            "n_resamples": self.n_resamples,
            "clear": self.clear,
            "count_stable": self.count_stable,
            "membership_stable": self.membership_stable,
            "confidence": None if self.confidence is None else round(float(self.confidence), 4),
            "votes": round(float(self.votes), 4),
            "half_counts": [int(k) for k in self.half_counts],
            "ari": [round(float(a), 4) for a in self.ari],
            "mean_ari": round(self.mean_ari, 4),
            "mean_image_stability": round(float(finite.mean()), 4) if len(finite) else None,
            "gap_profile": [round(float(g), 6) for g in self.gap_profile],
        }


def half_samples(n, n_resamples, rng):
    """``n_resamples`` random halves of range(n), ascending, in complementary pairs."""
    halves = []
    while len(halves) < n_resamples:
        order = rng.permutation(n)
        halves.append(np.sort(order[:n // 2]))
        if len(halves) < n_resamples:
            halves.append(np.sort(order[n // 2:]))
    return halves


def _gaps(eigenvalues, max_communities):
    """Gaps for k = 2 .. max_communities over l_{max_communities + 1} (shorter for small graphs)."""
    values = np.asarray(eigenvalues)[:max_communities + 1]
    top = values[-1] if len(values) and values[-1] > 0 else 1.0
    return np.diff(values)[1:] / top


def _average(profiles):
    length = min(len(p) for p in profiles)
    return np.mean([p[:length] for p in profiles], axis=0)


def _matched(half_labels, full_labels, k):
    """Whether each image's half community matches its community in the whole."""
    table = np.zeros((k, k), dtype=np.int64)
    np.add.at(table, (half_labels, full_labels), 1)
    return table.argmax(axis=1)[half_labels] == full_labels


def stable_communities(graph_of, n_images, *, n_communities=None, max_communities=30, n_resamples=12,
                       random_state=0):
    """Communities of a graph, their count from the gap profile averaged over random halves.

    Parameters
    ----------
    graph_of : callable
        ``graph_of(rows)`` returns the sparse similarity graph of those images
        (``rows=None``: all of them).
    n_images : int
    n_communities : int, default=None
        Fixed count; None chooses it from the averaged gap profile.
    max_communities : int, default=30
    n_resamples : int, default=12
        Random halves; 0 reads the count off the whole graph's eigengap alone
        and measures no stability.
    random_state : int, default=0

    Returns
    -------
    communities : Communities
        Its ``eigengap_k`` is the whole graph's own largest gap (what a plot of its
        eigenvalues shows), which may differ from the count chosen.
    stability : Stability or None
        None when ``n_resamples`` is 0.
    """
    from sklearn.metrics import adjusted_rand_score

    wanted = max(max_communities, n_communities or 0) + 1
    eigenvalues, vectors = laplacian_spectrum(graph_of(None), wanted, random_state=random_state)
    top = min(max_communities, len(eigenvalues) - 1)
    full_gaps = _gaps(eigenvalues, top)
    gap_k = int(np.argmax(full_gaps) + 2) if len(full_gaps) else 2
    rng = np.random.default_rng(random_state)
    halves = half_samples(n_images, n_resamples, rng)
    spectra = []
    for rows in halves:
        spectra.append((rows, *laplacian_spectrum(graph_of(rows), wanted, random_state=random_state)))
    profiles = [full_gaps] + [_gaps(values, top) for _, values, _ in spectra]
    profile = _average(profiles) if len(full_gaps) else full_gaps
    chosen = int(np.argmax(profile) + 2) if len(profile) else 2
    k = n_communities or chosen
    labels, distance = kmeans_labels(vectors[:, :k], k, random_state)
    found = Communities(eigenvalues, gap_k, labels, distance)
    if not halves:
        return found, None
    others = np.delete(profile, chosen - 2)
    confidence = None
    if n_communities is None:
        confidence = float(profile[chosen - 2] / others.max()) if len(others) and others.max() > 0 else float("inf")
    half_counts = [int(np.argmax(p) + 2) if len(p) else 2 for p in profiles[1:]]
    ari, kept, seen = [], np.zeros(n_images), np.zeros(n_images)
    for rows, _, half_vectors in spectra:
        half_labels, _ = kmeans_labels(half_vectors[:, :k], k, random_state)
        ari.append(float(adjusted_rand_score(labels[rows], half_labels)))
        kept[rows] += _matched(half_labels, labels[rows], k)
        seen[rows] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        image_stability = np.where(seen > 0, kept / np.maximum(seen, 1), np.nan)
    votes = float(np.mean([c == chosen for c in half_counts]))
    return found, Stability(len(halves), k, confidence, votes, half_counts, ari, image_stability,
                            [float(g) for g in profile])


def communities_of_rows(rows, *, n_neighbors=10, n_communities=None, max_communities=30, n_resamples=12,
                        random_state=0, n_jobs=-1):
    """The kNN graph of feature rows and its communities, checked on random halves.

    Groups too small for halves of more than ``max(n_neighbors, max_communities) + 2``
    images are not resampled.

    Parameters
    ----------
    rows : ndarray of shape (n_images, n_features)
    n_neighbors, n_communities, max_communities, n_resamples, random_state
        See :func:`stable_communities` and :func:`wavelens.communities.graph.knn_graph`.
    n_jobs : int or None, default=-1

    Returns
    -------
    communities : Communities
    stability : Stability or None
    graph : scipy.sparse.csr_matrix
        The similarity graph of all the rows.
    sigma : float
        Its weight scale.
    """
    n = len(rows)
    resamples = n_resamples if n // 2 > max(n_neighbors, max_communities) + 2 else 0
    size = n_neighbors if not resamples or n_neighbors >= n - 1 else min(LIST_FACTOR * n_neighbors + 8, n - 1)
    distances, neighbors = knn_lists(rows, n_neighbors=size, n_jobs=n_jobs)
    graph, sigma = graph_from_lists(distances, neighbors, n_neighbors=n_neighbors)
    check_community_count(n, n_communities)

    def graph_of(subset):
        return graph if subset is None else graph_from_lists(distances, neighbors, n_neighbors=n_neighbors,
                                                             rows=subset)[0]

    found, stability = stable_communities(graph_of, n, n_communities=n_communities,
                                          max_communities=max_communities, n_resamples=resamples,
                                          random_state=random_state)
    return found, stability, graph, sigma
