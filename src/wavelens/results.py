"""Writing results to an output folder, all or nothing.

Everything is written into a temporary sibling folder that is renamed to the
output folder only once complete, so an error never leaves half a result.
"""

import csv
import math
import os
import json
import shutil
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ._validation import WavelensError

__all__ = ["check_output_dir", "output_dir", "write_analysis", "write_json", "write_noise_curve"]


def check_output_dir(out, *, overwrite=False):
    """Refuse an ``out`` that is a file, or a non-empty folder without ``overwrite``."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise WavelensError(f"--out {out} is a file, not a folder; choose another path.")
    ancestor = out.parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise WavelensError(f"--out {out}: {ancestor} is a file, so no folder can be made under it; "
                            "choose another path.")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise WavelensError(
            f"--out {out} exists and is not empty; choose another folder or pass --overwrite to replace it."
        )
    return out


@contextmanager
def output_dir(out, *, overwrite=False):
    """Yield a temporary folder that replaces ``out`` when the block succeeds.

    Missing parent folders of ``out`` are created, as ``mkdir -p`` would.
    """
    out = check_output_dir(out, overwrite=overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # mkdtemp's folder is private; results are ordinary files
    try:
        yield staging
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    old = None
    if out.exists():
        old = out.parent / f".{out.name}.old-{staging.name.rsplit('-', 1)[-1]}"
        out.rename(old)
    staging.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _format(value):
    if isinstance(value, (float, np.floating)):
        return "inf" if np.isposinf(value) else f"{value:.6g}"
    return value


def write_per_image_csv(path, analysis):
    d, p = analysis.dataset, analysis.patterns
    noisy = bool(analysis.params.get("label_noise"))
    ids = analysis.dictionary.assignments
    dominant = analysis.dataset_patterns.dominant
    relative = [f"{x:.6g}" for x in p.relative_error.tolist()]
    psnr = ["inf" if math.isinf(x) else f"{x:.6g}" for x in p.psnr_db.tolist()]
    image_ids = [";".join(str(i) for i in row if i >= 0) for row in ids.tolist()]
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "label", "class_name"] + (["noisy_label"] if noisy else [])
                        + ["rank_at_energy", "numerical_rank", "relative_error", "psnr_db",
                           "image_patterns", "dominant_dataset_pattern"])
        labels = d.labels.tolist()
        columns = [d.index.tolist(), labels, [d.class_names[c] for c in labels]]
        if noisy:
            columns.append(analysis.labels.tolist())
        columns += [p.rank_at_energy.tolist(), p.numerical_rank.tolist(), relative, psnr, image_ids,
                    dominant.tolist()]
        writer.writerows(zip(*columns))


def write_contingency_csv(path, table, class_names):
    """A row per pattern: its size, entropy, most associated class, then a column per class."""
    from .association import pattern_profiles

    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["pattern", "total", "entropy_bits", "top_class", "lift"] + list(class_names))
        for profile, row in zip(pattern_profiles(table, class_names), table):
            writer.writerow([profile["pattern"], _format(profile["total"]), _format(profile["entropy_bits"]),
                             profile["top_class"] or "", _format(profile["lift"])] + [_format(x) for x in row])


def write_patterns_npz(path, analysis):
    """Prototypes and dataset patterns, in the wavelet space and in pixels."""
    from .transform import inverse_wavelet_transform, wavelet_layout

    layout = analysis.layout
    prototypes = analysis.dictionary.prototypes
    gray = wavelet_layout(layout.image_shape[:2], wavelet=layout.wavelet, level=layout.level, mode=layout.mode)
    dp = analysis.dataset_patterns
    components = dp.components.reshape((len(dp.components),) + layout.matrix_shape + layout.image_shape[2:])
    # Uncompressed: zlib took longer than the whole analysis of some stages.
    np.savez(
        path,
        prototypes_wavelet=prototypes,
        prototypes_pixel=inverse_wavelet_transform(prototypes, gray),
        prototype_counts=np.bincount(analysis.dictionary.assignments[analysis.dictionary.assignments >= 0],
                                     minlength=len(prototypes)),
        dataset_patterns_wavelet=components,
        dataset_patterns_pixel=inverse_wavelet_transform(components, layout),
        dataset_singular_values=dp.singular_values,
        dataset_mean=dp.mean if dp.mean is not None else np.zeros(0),
    )


def write_analysis(analysis, out, *, overwrite=False, report=True):
    """Write every result of ``analysis`` into ``out``, all or nothing.

    Returns
    -------
    dict
        The summary that was written.
    """
    start = time.perf_counter()
    with output_dir(out, overwrite=overwrite) as staging:
        write_per_image_csv(staging / "per_image.csv", analysis)
        for kind, tables in analysis.tables().items():
            write_contingency_csv(staging / f"contingency_{kind}.csv", tables["counts"],
                                  analysis.dataset.class_names)
            write_contingency_csv(staging / f"contingency_{kind}_energy.csv", tables["energy"],
                                  analysis.dataset.class_names)
        write_patterns_npz(staging / "patterns.npz", analysis)
        np.savez(
            staging / "arrays.npz",
            index=analysis.dataset.index,
            labels=analysis.dataset.labels,
            singular_values=analysis.patterns.singular_values.astype(np.float32),
            rank_at_energy=analysis.patterns.rank_at_energy,
            numerical_rank=analysis.patterns.numerical_rank,
            image_patterns=analysis.dictionary.assignments,
            image_pattern_weights=analysis.dictionary.weights.astype(np.float32),
            dataset_pattern_shares=analysis.dataset_patterns.shares.astype(np.float32),
        )
        write_report_data(staging / "report.npz", analysis)
        analysis.timings_s["write"] = time.perf_counter() - start
        summary = analysis.summary()
        write_json(staging / "summary.json", summary)
        if report:
            _build_report(staging)
    return summary


def _build_report(folder):
    from .report import build_report

    build_report(folder)


def _as_uint8(images):
    return np.round(np.clip(images, 0, 1) * 255).astype(np.uint8)


def sample_indices(labels, n_classes, *, per_class=8, max_classes=20):
    """The first ``per_class`` images of each of the first ``max_classes`` classes."""
    picks = [np.flatnonzero(labels == c)[:per_class] for c in range(min(n_classes, max_classes))]
    return np.concatenate(picks) if picks else np.zeros(0, int)


def write_report_data(path, analysis):
    """The few images and tables the analyze report shows, so ``wavelens report`` can rebuild it."""
    from .association import contingency_table, share_table
    from .lowrank import rebuild_from_patterns
    from .transform import wavelet_transform

    d, p, layout = analysis.dataset, analysis.patterns, analysis.layout
    picks = sample_indices(d.labels, d.n_classes)
    median = np.median(p.rank_at_energy)
    example = int(np.flatnonzero(p.rank_at_energy == np.round(median))[0]) if np.any(
        p.rank_at_energy == np.round(median)) else 0
    coefficients, _ = wavelet_transform(d.images[example:example + 1], wavelet=layout.wavelet, level=layout.level,
                                        mode=layout.mode, n_jobs=1)
    counts = [c for c in (1, 2, 4, 8, 16, 32, 64) if c < p.max_possible_rank]
    rebuilds = np.concatenate([rebuild_from_patterns(coefficients, layout, c) for c in counts])
    rng = np.random.default_rng(analysis.params.get("seed", 0))
    shuffled = rng.permutation(analysis.labels)
    n_classes, dictionary, dp = d.n_classes, analysis.dictionary, analysis.dataset_patterns
    np.savez(
        path,
        sample_images=_as_uint8(d.images[picks]),
        sample_labels=d.labels[picks],
        example_index=int(d.index[example]),
        example_image=d.images[example],
        example_coefficients=coefficients[0],
        example_rebuilds=rebuilds.astype(np.float32),
        example_counts=np.array(counts),
        table_image_true=contingency_table(dictionary.assignments, analysis.labels, dictionary.n_patterns, n_classes),
        table_image_random=contingency_table(dictionary.assignments, shuffled, dictionary.n_patterns, n_classes),
        table_dataset_true=share_table(dp.shares, analysis.labels, n_classes),
        table_dataset_random=share_table(dp.shares, shuffled, n_classes),
    )


def write_json(path, content):
    with open(path, "w") as handle:
        json.dump(content, handle, indent=2)
        handle.write("\n")


def write_noise_curve(rows, out, *, overwrite=False, context=None, report=True):
    """``noise_curve.json`` (with ``context``), ``noise_curve.csv`` and the report."""
    with output_dir(out, overwrite=overwrite) as staging:
        write_json(staging / "noise_curve.json", {**(context or {}), "rows": rows})
        columns = list(dict.fromkeys(key for row in rows for key in row))
        with open(staging / "noise_curve.csv", "w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows({k: _format(v) for k, v in row.items()} for row in rows)
        if report:
            _build_report(staging)


def write_communities(analysis, out, *, overwrite=False, report=True):
    """``summary.json``, ``communities.csv`` (image index, label, class, community) and the report."""
    start = time.perf_counter()
    d = analysis.dataset
    with output_dir(out, overwrite=overwrite) as staging:
        with open(staging / "communities.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["index", "label", "class_name", "community"])
            labels = d.labels.tolist()
            writer.writerows(zip(d.index.tolist(), labels, [d.class_names[c] for c in labels],
                                 analysis.assignment.tolist()))
        _write_member_images(staging / "report.npz", analysis)
        analysis.timings_s["write"] = time.perf_counter() - start
        summary = analysis.summary()
        write_json(staging / "summary.json", summary)
        if report:
            _build_report(staging)
    return summary


def _write_member_images(path, analysis, *, per_community=5, max_communities=30):
    d = analysis.dataset
    communities = [c for g in analysis.groups for c in g["communities"]][:max_communities]
    images, ids, counts = [], [], []
    for community in communities:
        rows = np.searchsorted(d.index, community["central_members"][:per_community])
        images.append(_as_uint8(d.images[rows]))
        ids.append(community["community"])
        counts.append(len(rows))
    np.savez(path, member_images=np.concatenate(images) if images else np.zeros((0,) + d.image_shape, np.uint8),
             member_communities=np.array(ids, dtype=np.int64), member_counts=np.array(counts, dtype=np.int64))


def write_duplicates(pairs, dataset_a, dataset_b, out, *, overwrite=False, summary=None, report=True):
    """``duplicates.csv`` (a row per pair), ``summary.json`` and the report."""
    labels_a = dataset_a.labels[pairs.index_a]
    labels_b = dataset_b.labels[pairs.index_b]
    with output_dir(out, overwrite=overwrite) as staging:
        with open(staging / "duplicates.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["index_a", "index_b", "similarity", "label_a", "label_b", "class_a", "class_b",
                             "labels_disagree", "exact"])
            writer.writerows(zip(
                dataset_a.index[pairs.index_a].tolist(), dataset_b.index[pairs.index_b].tolist(),
                [f"{s:.6f}" for s in pairs.similarity.tolist()], labels_a.tolist(), labels_b.tolist(),
                [dataset_a.class_names[c] for c in labels_a.tolist()],
                [dataset_b.class_names[c] for c in labels_b.tolist()],
                (labels_a != labels_b).tolist(), pairs.exact.tolist()))
        write_json(staging / "summary.json", summary or {})
        top = slice(0, 12)
        rows_a, rows_b = pairs.index_a[top], pairs.index_b[top]
        np.savez(staging / "report.npz", pair_images_a=_as_uint8(dataset_a.images[rows_a]),
                 pair_images_b=_as_uint8(dataset_b.images[rows_b]),
                 pair_captions=np.array([f"A{dataset_a.index[i]} B{dataset_b.index[j]}\n{s:.4f}" for i, j, s in
                                         zip(rows_a, rows_b, pairs.similarity[top])]))
        if report:
            _build_report(staging)
