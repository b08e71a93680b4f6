"""Writing results to an output folder, all or nothing.

Everything is written into a temporary sibling folder that is renamed to the
output folder only once complete, so an error never leaves half a result.
"""

import csv
import io
import itertools
import json
import math
import os
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ._parallel import chunk_bounds
from ._outdir import OutputFolder, check_not_an_input
from ._validation import WavelensError, param, shown
from .report.arrays import report_arrays, write_member_images, write_pair_images

__all__ = ["OutputFolder", "write_analysis", "write_json", "write_learnability", "write_noise_curve"]


def _inputs(dataset):
    """The paths a dataset was read from: its files or folders, and the folders of its images."""
    folders = [] if dataset.paths is None else sorted({str(Path(path).parent) for path in dataset.paths})
    return list(dataset.input_paths) + folders


@contextmanager
def _staging(out, overwrite, inputs=()):
    """The folder to write into: ``out``'s staging folder if it is a claimed
    :class:`OutputFolder` (then ``overwrite`` and ``inputs`` were given to it), else
    that of ``out`` claimed for the block, kept clear of ``inputs``."""
    if isinstance(out, OutputFolder):
        # Claimed before the dataset was read: only now are all its inputs known (the image
        # folders a table lists), and the same rule holds for them.
        check_not_an_input(out.path, [path for path in inputs if path is not None])
        yield out.staging
        return
    with OutputFolder(out, overwrite=overwrite, inputs=inputs) as folder:
        yield folder.staging


def _format(value):
    if isinstance(value, (float, np.floating)):
        return "inf" if math.isinf(value) and value > 0 else f"{value:.6g}"
    return value


_CSV_ROWS = 65536  # rows of per_image.csv formatted at once


def _csv_field(text):
    """``text`` as the csv module writes it (quoted where needed)."""
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow([text])
    return buffer.getvalue()


def _csv_texts(values):
    """Text values as CSV fields: as they are, or quoted by the csv module where they need it."""
    special = (",", '"', "\r", "\n")
    return [_csv_field(v) if any(c in v for c in special) or v != v.strip() else v for v in map(str, values)]


def _pattern_ids(ids):
    """Each row's non-negative ids joined by ';' (one %-format over the whole column)."""
    rows, top_k = ids.shape
    full = (ids >= 0).all(axis=1)
    text = np.empty(rows, dtype=object)
    if full.any():
        fmt = ";".join(["%d"] * top_k) + "\n"
        text[full] = ((fmt * int(full.sum())) % tuple(ids[full].ravel().tolist())).split("\n")[:-1]
    for i in np.flatnonzero(~full):
        text[i] = ";".join(str(x) for x in ids[i] if x >= 0)
    return text.tolist()


def write_per_image_csv(path, analysis):
    """A row per image. Formatted by one %-format over a block of rows at a time (the csv
    module took a quarter of a second on 60,000 images; one format over every row held a
    Python object per value, 0.9 GB for a million images); floats as '%.6g'."""
    d, p = analysis.dataset, analysis.patterns
    noisy = bool(analysis.params.get("label_noise"))
    names = np.asarray([_csv_field(name) for name in d.class_names], dtype=object)
    # (column name, format, the column's values for rows start:stop)
    columns = [("id", "%s", lambda a, b: _csv_texts(d.ids[a:b]))]
    if d.paths is not None:
        columns.append(("path", "%s", lambda a, b: _csv_texts(d.paths[a:b])))
    columns += [("index", "%d", lambda a, b: d.index[a:b].tolist()),
                ("label", "%d", lambda a, b: d.labels[a:b].tolist()),
                ("class_name", "%s", lambda a, b: names[d.labels[a:b]].tolist())]
    if noisy:
        columns.append(("noisy_label", "%d", lambda a, b: analysis.labels[a:b].tolist()))
    columns += [("rank_at_energy", "%d", lambda a, b: p.rank_at_energy[a:b].tolist()),
                ("numerical_rank", "%d", lambda a, b: p.numerical_rank[a:b].tolist()),
                ("relative_error", "%.6g", lambda a, b: p.relative_error[a:b].tolist()),
                ("psnr_db", "%.6g", lambda a, b: p.psnr_db[a:b].tolist()),
                ("image_patterns", "%s", lambda a, b: _pattern_ids(analysis.dictionary.assignments[a:b])),
                ("dominant_dataset_pattern", "%d", lambda a, b: analysis.dataset_patterns.dominant[a:b].tolist())]
    row_format = ",".join(fmt for _, fmt, _ in columns) + "\r\n"
    with open(path, "w", newline="", encoding="utf-8") as handle:
        handle.write(",".join(name for name, _, _ in columns) + "\r\n")
        for start, stop in chunk_bounds(d.n_images, _CSV_ROWS):
            values = tuple(itertools.chain.from_iterable(zip(*(rows(start, stop) for _, _, rows in columns))))
            handle.write((row_format * (stop - start)) % values)


def write_contingency_csv(path, table, class_names):
    """A row per pattern: its size, entropy, most associated class, then a column per class."""
    from .association import pattern_profiles

    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["pattern", "total", "entropy_bits", "top_class", "lift"] + list(class_names))
        for profile, row in zip(pattern_profiles(table, class_names), table):
            writer.writerow([profile["pattern"], _format(profile["total"]), _format(profile["entropy_bits"]),
                             profile["top_class"] or "", _format(profile["lift"])] + [_format(x) for x in row])


def pattern_arrays(analysis):
    """Prototypes and dataset patterns, in the wavelet space and in pixels (``patterns.npz``)."""
    from .transform import inverse_wavelet_transform, wavelet_layout

    layout = analysis.layout
    prototypes = analysis.dictionary.prototypes
    gray = wavelet_layout(layout.image_shape[:2], wavelet=layout.wavelet, level=layout.level, mode=layout.mode)
    dp = analysis.dataset_patterns
    components = dp.components.reshape((len(dp.components),) + layout.matrix_shape + layout.image_shape[2:])
    return dict(
        prototypes_wavelet=prototypes,
        prototypes_pixel=inverse_wavelet_transform(prototypes, gray),
        prototype_counts=np.bincount(analysis.dictionary.assignments[analysis.dictionary.assignments >= 0],
                                     minlength=len(prototypes)),
        dataset_patterns_wavelet=components,
        dataset_patterns_pixel=inverse_wavelet_transform(components, layout),
        dataset_singular_values=dp.singular_values,
        dataset_mean=dp.mean if dp.mean is not None else np.zeros(0),
    )


def result_arrays(analysis):
    """Per-image arrays of ``arrays.npz``."""
    return dict(
        index=analysis.dataset.index,
        labels=analysis.dataset.labels,
        singular_values=analysis.patterns.singular_values.astype(np.float32, copy=False),
        rank_at_energy=analysis.patterns.rank_at_energy,
        numerical_rank=analysis.patterns.numerical_rank,
        image_patterns=analysis.dictionary.assignments,
        image_pattern_weights=analysis.dictionary.weights.astype(np.float32, copy=False),
        dataset_pattern_shares=analysis.dataset_patterns.shares.astype(np.float32, copy=False),
    )


def _analysis_arrays(analysis, tables_by_kind):
    """The arrays the result files hold and the report draws from, by file name."""
    return {"arrays.npz": result_arrays(analysis), "patterns.npz": pattern_arrays(analysis),
            "report.npz": report_arrays(analysis, tables_by_kind)}


def write_report(result, path, *, overwrite=False):
    """Write the HTML report of ``result`` (an :class:`Analysis`, :class:`NoiseCurve`,
    :class:`CommunityAnalysis` or :class:`DuplicateAnalysis`) to the file ``path``; nothing else is written.

    An existing ``path`` is replaced only with ``overwrite``; the report is built in a temporary
    folder beside it, from the files it draws on, and moved into place whole.
    """
    import tempfile

    from .report import start_report

    if not isinstance(path, (str, os.PathLike)):
        raise WavelensError(f"The 'path' parameter must be the path of an .html file to write, not "
                            f"{type(path).__name__}.")
    path = Path(path)
    if path.is_dir() or (path.exists() and not overwrite):
        what = "is a folder" if path.is_dir() else f"exists (pass {param('overwrite', True)} to replace it)"
        raise WavelensError(f"The report path {shown(path)} {what}; name a new .html file.")
    if not path.parent.is_dir():
        raise WavelensError(f"The report path {shown(path)}: its folder does not exist; create it first.")
    with tempfile.TemporaryDirectory(prefix=".wavelens-report-", dir=path.parent) as folder:
        folder = Path(folder)
        if hasattr(result, "scores"):
            _audit_files(result, folder)
            _build_report(folder)
        elif hasattr(result, "noise_rows"):
            _learnability_files(result, folder)
            _build_report(folder)
        elif hasattr(result, "tables"):
            start_report(folder, summary=result.to_dict(), saved=_analysis_arrays(result, result.tables())).write()
        else:
            if hasattr(result, "rows"):
                _noise_curve_files(result, folder)
            else:
                if hasattr(result, "pairs"):
                    _duplicate_files(result, folder)
                else:
                    write_member_images(folder / "report.npz", result)
                write_json(folder / "summary.json", result.to_dict())
            _build_report(folder)
        os.replace(folder / "report.html", path)
    return path


def write_analysis(analysis, out, *, overwrite=False, report=True):
    """Write every result of ``analysis`` into ``out``, all or nothing.

    ``out`` is a folder path (claimed here, as :class:`OutputFolder` does, and kept clear
    of the dataset's own files) or an :class:`OutputFolder` already claimed by the caller.

    Returns
    -------
    dict
        The summary that was written.
    """
    start = time.perf_counter()
    with _staging(out, overwrite, _inputs(analysis.dataset)) as staging:
        tables_by_kind = analysis.tables()
        arrays = _analysis_arrays(analysis, tables_by_kind)
        # The report's figures are drawn from these arrays while the files are written
        # (when a figure process was started; otherwise once they are written).
        pending = _start_report(staging, analysis.to_dict(), arrays) if report else None

        def contingency_csvs():
            for kind, tables in tables_by_kind.items():
                for weighting, suffix in (("counts", ""), ("energy", "_energy")):
                    write_contingency_csv(staging / f"contingency_{kind}{suffix}.csv", tables[weighting],
                                          analysis.dataset.class_names)

        def save(name):
            # Uncompressed: zlib took longer than the whole analysis of some stages.
            return lambda: np.savez(staging / name, **arrays[name])

        # Independent files, written side by side: checksums, compression and file
        # writes release the GIL.
        jobs = [lambda: write_per_image_csv(staging / "per_image.csv", analysis), contingency_csvs,
                *(save(name) for name in arrays)]
        with ThreadPoolExecutor(max_workers=2) as pool:
            for future in [pool.submit(job) for job in jobs]:
                future.result()
        summary = _finish(staging, analysis, start, pending)
    return summary


def _finish(staging, analysis, start, pending_report=None):
    """Record the write time, write summary.json, and finish ``pending_report`` if given."""
    analysis.timings_s["write"] = time.perf_counter() - start
    summary = analysis.to_dict()
    write_json(staging / "summary.json", summary)
    if pending_report is not None:
        pending_report.write()
    return summary


def _start_report(folder, summary, arrays):
    from .report import start_report

    return start_report(folder, summary=summary, saved=arrays)


def _build_report(folder):
    from .report import build_report

    build_report(folder)


def json_safe(value):
    """``value`` with every non-finite float written as the string 'inf', '-inf' or 'nan' (JSON has none)."""
    if isinstance(value, dict):
        return {key: json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    if isinstance(value, (float, np.floating)) and not math.isfinite(value):
        return str(float(value))
    return value


def write_json(path, content):
    """``content`` as strict JSON (UTF-8; non-finite numbers as strings, see :func:`json_safe`)."""
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(json_safe(content), handle, indent=2, allow_nan=False)
        handle.write("\n")


def write_noise_curve(curve, out, *, overwrite=False, report=True):
    """``noise_curve.json`` (:meth:`NoiseCurve.to_dict`), ``noise_curve.csv`` (a row per fraction and
    pattern kind) and the report of a :class:`~wavelens.analysis.NoiseCurve`; returns the record."""
    with _staging(out, overwrite, _inputs(curve.analysis.dataset)) as staging:
        record = _noise_curve_files(curve, staging)
        if report:
            _build_report(staging)
    return record


def _noise_curve_files(curve, folder):
    record = curve.to_dict()
    write_json(folder / "noise_curve.json", record)
    columns = list(dict.fromkeys(key for row in curve.rows for key in row))
    with open(folder / "noise_curve.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows({k: _format(v) for k, v in row.items()} for row in curve.rows)
    return record


def _write_result(result, out, datasets, write_files, *, overwrite, report):
    """Write ``result`` into ``out`` all or nothing: ``write_files(result, folder)`` into a staging
    folder kept clear of the ``datasets``' own files, then ``summary.json`` and the report."""
    start = time.perf_counter()
    inputs = [path for dataset in datasets if dataset is not None for path in _inputs(dataset)]
    with _staging(out, overwrite, inputs) as staging:
        write_files(result, staging)
        summary = _finish(staging, result, start)
        if report:
            _build_report(staging)
    return summary


def write_communities(analysis, out, *, overwrite=False, report=True):
    """``summary.json``, ``communities.csv`` (:attr:`CommunityAnalysis.per_image`: id, path, index, label,
    class, community) and the report."""
    return _write_result(analysis, out, [analysis.dataset], _community_files, overwrite=overwrite, report=report)


def _community_files(analysis, folder):
    with open(folder / "communities.csv", "w", newline="", encoding="utf-8") as handle:
        analysis.per_image.to_csv(handle, index=False)
    write_member_images(folder / "report.npz", analysis)


def write_duplicates(result, out, *, overwrite=False, report=True):
    """``duplicates.csv`` (a row per pair: :attr:`DuplicateAnalysis.pairs_table`), ``summary.json``
    and the report of a :class:`~wavelens.duplicates.DuplicateAnalysis`."""
    return _write_result(result, out, [result.dataset_a, result.dataset_b], _duplicate_files, overwrite=overwrite,
                         report=report)


def _duplicate_files(result, folder):
    result.pairs_table.to_csv(folder / "duplicates.csv", index=False, float_format="%.6f", encoding="utf-8")
    write_pair_images(folder / "report.npz", result.pairs, result.dataset_a, result.dataset_b)


def write_audit(result, out, *, overwrite=False, report=True):
    """``issues.csv`` (:attr:`Audit.per_image`), ``confusable_classes.csv``, ``class_overlap.csv``,
    ``duplicates.csv`` (when the duplicates check ran), ``summary.json`` and the report of an
    :class:`~wavelens.auditing.Audit`."""
    return _write_result(result, out, [result.dataset, result.dataset_b], _audit_files, overwrite=overwrite,
                         report=report)


def _audit_files(result, folder):
    from .report.arrays import audit_gallery_arrays

    result.per_image.to_csv(folder / "issues.csv", index=False, float_format="%.6g", encoding="utf-8")
    if result.overlap is not None:
        result.confusable_classes.to_csv(folder / "confusable_classes.csv", index=False, float_format="%.6f",
                                         encoding="utf-8")
        result.class_overlap.to_csv(folder / "class_overlap.csv", float_format="%.6f", encoding="utf-8")
    if result.duplicates is not None:
        result.duplicates.pairs_table.to_csv(folder / "duplicates.csv", index=False, float_format="%.6f",
                                             encoding="utf-8")
    np.savez(folder / "report.npz", **audit_gallery_arrays(result))
    write_json(folder / "summary.json", result.to_dict())


def write_learnability(result, out, *, overwrite=False, report=True):
    """``summary.json`` (its ``learnability`` key), ``learnability.csv`` (a row per source, r and classifier),
    ``learnability_noise.csv`` (a row per label-noise fraction and classifier), ``learnability_per_class.csv``
    and the report of a :class:`~wavelens.learning.Learnability`."""
    return _write_result(result, out, [result.dataset, result.test], _learnability_files, overwrite=overwrite,
                         report=report)


def _learnability_files(result, folder):
    result.table.to_csv(folder / "learnability.csv", index=False, float_format="%.6g", encoding="utf-8")
    result.noise_table.to_csv(folder / "learnability_noise.csv", index=False, float_format="%.6g", encoding="utf-8")
    result.per_class.to_csv(folder / "learnability_per_class.csv", index=False, float_format="%.6g",
                            encoding="utf-8")
    write_json(folder / "summary.json", result.to_dict())
