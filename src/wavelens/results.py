"""Writing results to an output folder, all or nothing.

Everything is written into a temporary sibling folder that is renamed to the
output folder only once complete, so an error never leaves half a result.
"""

import csv
import json
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from ._validation import WavelensError

__all__ = ["check_output_dir", "output_dir", "write_analysis"]


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
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["index", "label", "class_name", "rank_at_energy", "numerical_rank",
                         "relative_error", "psnr_db"])
        for i in range(d.n_images):
            label = int(d.labels[i])
            writer.writerow([int(d.index[i]), label, d.class_names[label], int(p.rank_at_energy[i]),
                             int(p.numerical_rank[i]), _format(p.relative_error[i]), _format(p.psnr_db[i])])


def write_analysis(analysis, out, *, overwrite=False):
    """Write ``summary.json``, ``per_image.csv`` and ``arrays.npz`` into ``out``.

    Returns
    -------
    dict
        The summary that was written.
    """
    import time

    start = time.perf_counter()
    with output_dir(out, overwrite=overwrite) as staging:
        write_per_image_csv(staging / "per_image.csv", analysis)
        np.savez_compressed(
            staging / "arrays.npz",
            index=analysis.dataset.index,
            labels=analysis.dataset.labels,
            singular_values=analysis.patterns.singular_values.astype(np.float32),
            rank_at_energy=analysis.patterns.rank_at_energy,
            numerical_rank=analysis.patterns.numerical_rank,
        )
        analysis.timings_s["write"] = time.perf_counter() - start
        summary = analysis.summary()
        with open(staging / "summary.json", "w") as handle:
            json.dump(summary, handle, indent=2)
            handle.write("\n")
    return summary
