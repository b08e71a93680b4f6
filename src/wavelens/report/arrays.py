"""The few images and tables each report draws, saved beside the results.

``wavelens report DIR`` rebuilds a report from the results folder alone, so
whatever a figure shows that the results do not otherwise hold (sample images,
an example image's rebuilds, a random-label table) is saved in ``report.npz``.
"""

import numpy as np

__all__ = ["report_arrays", "sample_indices", "write_member_images", "write_pair_images"]


def _as_uint8(images):
    return np.round(np.clip(images, 0, 1) * 255).astype(np.uint8)


def sample_indices(labels, n_classes, *, per_class=8, max_classes=20):
    """The first ``per_class`` images of each of the first ``max_classes`` classes."""
    picks = [np.flatnonzero(labels == c)[:per_class] for c in range(min(n_classes, max_classes))]
    return np.concatenate(picks) if picks else np.zeros(0, int)


def report_arrays(analysis, tables):
    """The images and tables the analyze report shows, as saved in ``report.npz``
    (``tables``: from ``analysis.tables()``)."""
    from ..association import contingency_table, share_table
    from ..decomposition import rebuild_from_patterns
    from ..transform import wavelet_transform

    d, p, layout = analysis.dataset, analysis.patterns, analysis.layout
    picks = sample_indices(d.labels, d.n_classes)
    median = np.median(p.rank_at_energy)
    example = int(np.flatnonzero(p.rank_at_energy == np.round(median))[0]) if np.any(
        p.rank_at_energy == np.round(median)) else 0
    example_image = d.select_images(slice(example, example + 1))
    # Images of one channel, (H, W, 1), are rebuilt as (H, W): rebuild_from_patterns returns a
    # layout's single channel without its axis, which inverse_wavelet_transform then refuses.
    single = example_image.ndim == 4 and example_image.shape[-1] == 1
    coefficients, example_layout = wavelet_transform(example_image[..., 0] if single else example_image,
                                                     wavelet=layout.wavelet, level=layout.level, mode=layout.mode,
                                                     n_jobs=1)
    counts = [c for c in (1, 2, 4, 8, 16, 32, 64) if c < p.max_possible_rank]
    rebuilds = (np.concatenate([rebuild_from_patterns(coefficients, example_layout, c) for c in counts])
                if counts else np.zeros((0,) + example_image.shape[1:], np.float32))
    rebuilds = rebuilds.reshape((len(rebuilds),) + example_image.shape[1:])
    rng = np.random.default_rng(analysis.params.get("random_state", 0))
    shuffled = rng.permutation(analysis.labels)
    n_classes, dictionary, dp = d.n_classes, analysis.dictionary, analysis.dataset_patterns
    return dict(
        sample_images=_as_uint8(d.select_images(picks)),
        sample_labels=d.labels[picks],
        example_index=int(d.index[example]),
        example_image=example_image[0],
        example_coefficients=coefficients[0],
        example_rebuilds=rebuilds.astype(np.float32),
        example_counts=np.array(counts),
        table_image_true=tables["image_patterns"]["counts"],
        table_image_random=contingency_table(dictionary.assignments, shuffled, dictionary.n_patterns, n_classes),
        table_dataset_true=tables["dataset_patterns"]["energy"],
        table_dataset_random=share_table(dp.shares, shuffled, n_classes),
    )


def write_member_images(path, analysis, *, per_community=5, max_communities=30):
    d = analysis.dataset
    communities = [c for g in analysis.groups for c in g["communities"]][:max_communities]
    images, ids, counts = [], [], []
    for community in communities:
        rows = np.searchsorted(d.index, community["central_members"][:per_community])
        images.append(_as_uint8(d.select_images(rows)))
        ids.append(community["community"])
        counts.append(len(rows))
    np.savez(path, member_images=np.concatenate(images) if images else np.zeros((0,) + d.image_shape, np.uint8),
             member_communities=np.array(ids, dtype=np.int64), member_counts=np.array(counts, dtype=np.int64))


def write_pair_images(path, pairs, dataset_a, dataset_b, *, n_pairs=12):
    """The closest duplicate pairs' images and captions."""
    rows_a, rows_b = pairs.index_a[:n_pairs], pairs.index_b[:n_pairs]
    captions = [f"A{dataset_a.index[i]} B{dataset_b.index[j]}\n{s:.4f}"
                for i, j, s in zip(rows_a, rows_b, pairs.similarity[:n_pairs])]
    np.savez(path, pair_images_a=_as_uint8(dataset_a.select_images(rows_a)),
             pair_images_b=_as_uint8(dataset_b.select_images(rows_b)), pair_captions=np.array(captions))


GALLERY_SIZE = 64  # images larger than this are averaged down for the report's galleries
GALLERY_ROWS = 12


def _gallery_pixels(dataset, rows):
    from .._resize import area_resize

    images = dataset.select_images(np.asarray(rows, dtype=np.int64))
    height, width = images.shape[1:3]
    scale = GALLERY_SIZE / max(height, width)
    if scale < 1 and len(images):
        images = area_resize(images, (max(1, round(height * scale)), max(1, round(width * scale))))
    return _as_uint8(images)


def audit_gallery_arrays(result, *, n_neighbors=5):
    """The images of each gallery of an :class:`~wavelens.auditing.Audit` report: ``{name}_images``
    (rows, columns, H, W[, C]) and ``{name}_captions`` (rows, columns), and the class overlap."""
    d = result.dataset
    names = np.asarray(d.class_names, dtype=object)
    table = result.per_image
    arrays = {}

    def add(name, grid_rows, captions, source=d):
        shape = (len(grid_rows), len(grid_rows[0]) if grid_rows else 1)
        flat = [j for row in grid_rows for j in row]
        pixels = _gallery_pixels(source, flat) if flat else np.zeros((0,) + _gallery_pixels(d, [0]).shape[1:],
                                                                      np.uint8)
        arrays[f"{name}_images"] = pixels.reshape(shape + pixels.shape[1:])
        arrays[f"{name}_captions"] = np.array(captions, dtype=str).reshape(shape)

    neighbors = result.neighbors.indices[:, :n_neighbors]
    for name, chosen in (("label_error", result.label_errors), ("outlier", result.outliers),
                         ("low_information", result.low_information)):
        rows = chosen.index.to_numpy()[:GALLERY_ROWS]
        grid = [[i, *neighbors[i]] for i in rows]
        captions = []
        for i in rows:
            head = f"{d.ids[i]}\n{names[d.labels[i]]}"
            if name == "label_error":
                head += f" -> {names[table['suggested_label'].iat[i]]}"
            captions.append([head] + [f"{names[d.labels[j]]}" for j in neighbors[i]])
        add(name, grid, captions)
    if result.duplicates is not None:
        pairs = result.duplicates.pairs
        disagree = np.asarray(result.duplicates.labels_disagree, dtype=bool)
        order = np.argsort(~disagree, kind="stable")[:GALLERY_ROWS]  # label-disagreeing pairs first
        b = result.duplicates.dataset_b
        b_names = np.asarray(b.class_names, dtype=object)
        a_pixels = _gallery_pixels(d, pairs.index_a[order]) if len(order) else None
        b_pixels = _gallery_pixels(b, pairs.index_b[order]) if len(order) else None
        if len(order) and a_pixels.shape[1:] == b_pixels.shape[1:]:
            arrays["duplicate_images"] = np.stack([a_pixels, b_pixels], axis=1)
        else:
            empty = _gallery_pixels(d, [0])
            arrays["duplicate_images"] = np.zeros((0, 2) + empty.shape[1:], np.uint8)
            order = order[:0]
        arrays["duplicate_captions"] = np.array(
            [[f"{d.ids[i]}\n{names[d.labels[i]]}", f"{b.ids[j]}\n{b_names[b.labels[j]]}"]
             for i, j in zip(pairs.index_a[order], pairs.index_b[order])], dtype=str).reshape(len(order), 2)
    if result.overlap is not None:
        arrays["class_overlap"] = result.overlap
    return arrays
