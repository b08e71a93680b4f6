"""The report a person reads: one self-contained HTML file built from a results folder.

``build_report(folder)`` reads what a command saved (``summary.json`` or
``noise_curve.json``, the arrays beside them, and ``report.npz`` with the few
images the figures show), draws the figures that its data allows, and writes
``report.html`` with every image embedded, inline styles and no scripts, so
it opens offline anywhere.

A results folder is input like any other: :mod:`wavelens._saved_results`
reads and checks every file the report uses before anything is drawn (the
JSON's layout and types, each array's dtype, shape and values, ``.npz``
members read without unpickling), and this module adds the checks across
files (e.g. as many patterns as table rows), each failure one
:class:`WavelensError` line naming the file, what was expected and what was
found. Text that comes from the data (class names, dataset and file names,
the command line) goes through :func:`_h` into the page (HTML-escaped,
control characters and undecodable bytes replaced) and through
:func:`wavelens.report.figures.figure_text` into figures. ``report.html`` is written
to a temporary file beside it and renamed over it, so a failure leaves the old
one; nothing else in the folder is touched.
"""

import base64
import csv
import errno
import html
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from . import figures
from ._drawing import Drawings
from .._saved_results import INTEGERS, NUMBERS, RERUN, TEXT, SavedArrays, check_summary, read_summary, summary_kind
from ..summaries import analysis_findings, communities_findings, duplicates_findings, noise_curve_findings
from .._validation import WavelensError, printable, shown

__all__ = ["PendingReport", "build_report", "start_report"]

_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ddd; padding-bottom: 0.2em; margin-top: 1.8em; }
.headline { background: #f3f7ff; border-left: 4px solid #4472c4; padding: 0.6em 1.2em; }
.headline li { margin: 0.3em 0; }
figure { margin: 1em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; }
table { border-collapse: collapse; font-size: 0.9em; } td, th { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; }
code, pre { background: #f6f6f6; padding: 0.1em 0.3em; } pre { padding: 0.8em; overflow-x: auto; }
.muted { color: #666; font-size: 0.9em; }
"""


# --- text from the data -----------------------------------------------------------------------

def _h(text):
    """Text from the data (any value), safe in the page: made printable (_validation.printable) and HTML-escaped."""
    return html.escape(printable(text))


# --- pieces of the page -----------------------------------------------------------------------

def _channels(array, image_axes=2):
    """The channel count of an image (stack) whose images have ``image_axes`` axes without channels."""
    return array.shape[-1] if array.ndim > image_axes else None


def _unit(images):
    images = np.asarray(images)
    return images / 255.0 if images.dtype == np.uint8 else images


def _img(png, alt, caption):
    """A figure: ``png`` is PNG bytes or a placeholder from :class:`Drawings`."""
    data = png if isinstance(png, str) else base64.b64encode(png).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'
            f"<figcaption>{caption}</figcaption></figure>")


def _section(section_id, title, intro, body):
    return f'<section id="{section_id}"><h2>{html.escape(title)}</h2><p>{intro}</p>{body}</section>'


def _analyze_headline(s):
    return [_h(sentence) for sentence in analysis_findings(s)]


def _association_table(a):
    rows = []
    for kind, name in (("image_patterns", "image-pattern prototypes (counts)"),
                       ("dataset_patterns", "dataset patterns (energy shares)")):
        stats = a[kind]
        random = stats.get("random")
        rows.append(
            f"<tr><td>{name}</td>" + "".join(
                f"<td>{stats['true'][k]:.4f}</td><td>{'n/a' if random is None else format(random[k], '.4f')}</td>"
                for k in ("nmi", "mi_bits", "cramers_v", "purity")) + "</tr>")
    head = "".join(f"<th>{k} (true)</th><th>{k} (random)</th>" for k in ("NMI", "MI bits", "Cramer's V", "purity"))
    return f"<table><tr><th>patterns</th>{head}</tr>{''.join(rows)}</table>"


def _curve_values(values):
    """A noise curve's control values for the plot: None where a row has none, or None for all."""
    values = [np.nan if v is None else v for v in values]
    return None if all(v is np.nan for v in values) else values


def _analyze_inputs(folder, s, saved):
    """The arrays the analyze report draws, checked against each other and the summary."""
    n_classes = len(s["dataset"]["class_names"])
    data = SavedArrays(folder, "report.npz", {
        "sample_images": (NUMBERS, ("s", "H", "W", "[C]")),
        "sample_labels": (INTEGERS, ("s",)),
        "example_image": (NUMBERS, ("H", "W", "[C]")),
        "example_coefficients": (NUMBERS, ("h", "w", "[c]")),
        "example_rebuilds": (NUMBERS, ("r", "H", "W", "[C]")),
        "example_counts": (INTEGERS, ("r",)),
        "table_image_true": (NUMBERS, ("P", n_classes)),
        "table_image_random": (NUMBERS, ("P", n_classes)),
        "table_dataset_true": (NUMBERS, ("D", n_classes)),
    }, saved)
    labels = data["sample_labels"]
    data.need(min(data.dims["H"], data.dims["W"]) >= 1 and data.dims["C"] != 0, "sample_images",
              "images of at least 1x1 pixels", f"shape {data['sample_images'].shape}")
    data.need(not len(labels) or (labels.min() >= 0 and labels.max() < n_classes), "sample_labels",
              f"class numbers in [0, {n_classes}) (summary.json names {n_classes} classes)",
              f"values from {labels.min() if len(labels) else 0} to {labels.max() if len(labels) else 0}")
    arrays = SavedArrays(folder, "arrays.npz", {
        "singular_values": (NUMBERS, ("n", "channels", "[k]")),  # (n, k) or (n, channels, k)
        "rank_at_energy": (NUMBERS, ("n",)),
    }, saved)
    values = arrays["singular_values"]
    arrays.need(values.size > 0, "singular_values",
                "at least one image's singular values", f"shape {values.shape}")
    max_rank = s["lowrank"]["max_possible_rank"]
    arrays.need(max_rank <= values.shape[-1], "singular_values",
                f"{max_rank} values per image (summary.json's lowrank.max_possible_rank)",
                f"{values.shape[-1]}")
    patterns = SavedArrays(folder, "patterns.npz", {
        "prototypes_pixel": (NUMBERS, ("P", "ph", "pw", "[pc]")),
        "prototype_counts": (NUMBERS, ("P",)),
        "dataset_patterns_pixel": (NUMBERS, ("D", "dh", "dw", "[dc]")),
    }, saved)
    for member, letter, other in (("prototypes_pixel", "P", "table_image_true"),
                                  ("dataset_patterns_pixel", "D", "table_dataset_true")):
        found = patterns[member].shape[0]
        patterns.need(found == data.dims[letter], member, f"{data.dims[letter]} patterns (the rows of report.npz's "
                      f"{other})", f"{found}")
    patterns.need(len(patterns["prototype_counts"]) == data.dims["P"], "prototype_counts",
                  f"{data.dims['P']} counts (one per prototype)", f"{len(patterns['prototype_counts'])}")
    patterns.need(data.dims["P"] >= 1 and min(patterns["prototypes_pixel"].shape[1:3]) >= 1, "prototypes_pixel",
                  "at least one prototype of at least 1x1 pixels", f"shape {patterns['prototypes_pixel'].shape}")
    patterns.need(min(patterns["dataset_patterns_pixel"].shape[1:3]) >= 1, "dataset_patterns_pixel",
                  "patterns of at least 1x1 pixels", f"shape {patterns['dataset_patterns_pixel'].shape}")
    return data, arrays, patterns


def _analyze_sections(folder, s, draw, saved=None):
    data, arrays, patterns = _analyze_inputs(folder, s, saved)
    names = s["dataset"]["class_names"]
    lr = s["lowrank"]
    params = s["params"]
    channels = _channels(data["sample_images"], 3)
    note = figures.channel_note(channels)
    samples = ""
    if len(data["sample_images"]):  # (none when the first classes the samples come from are empty)
        samples = _img(draw(figures.image_grid, _unit(data["sample_images"]), data["sample_labels"], names),
                       "sample images per class", "Sample images, a row per class." + note)
    sections = [_section(
        "samples", "The dataset",
        f"{s['dataset']['n_images']} images of {'x'.join(map(str, s['dataset']['image_shape']))} pixels in "
        f"{s['dataset']['n_classes']} classes; a few of each class:", samples)]
    matrix_note = (" The wavelet matrix shows, for each coefficient, the norm over the image's channels."
                   if _channels(data["example_coefficients"]) not in (None, 1) else "")
    sections.append(_section(
        "wavelets", "Into the wavelet space",
        f"Each image goes through a 2D discrete wavelet transform ({_h(params['wavelet'])}, level "
        f"{_h(params['level'])}, mode {_h(params['mode'])}). Its coefficients form the image's wavelet "
        "matrix: the coarse approximation at the top left, the horizontal, vertical and diagonal details "
        "around it. The transform is exactly invertible.",
        _img(draw(figures.wavelet_decomposition, data["example_image"], data["example_coefficients"]),
             "an image and its wavelet matrix",
             "A typical image (its r(e) is the median) and its wavelet matrix." + note + matrix_note)))
    body = _img(draw(figures.singular_value_decay, arrays["singular_values"]),
                "singular value decay", "Singular values of the wavelet matrices, relative to the largest: "
                "a few patterns carry almost all of each image.")
    body += _img(draw(figures.rank_distribution, arrays["rank_at_energy"], lr["max_possible_rank"], lr["energy"]),
                 "distribution of r(e)", f"How many rank-1 patterns each image needs for {lr['energy']:.0%} "
                 "of its energy.")
    if len(data["example_rebuilds"]):
        body += _img(draw(figures.rebuild_series, data["example_image"], data["example_rebuilds"],
                          data["example_counts"]),
                     "image rebuilt from a few patterns", "The same image rebuilt from its top 1, 2, 4, ... "
                     "rank-1 patterns (inverse wavelet transform), beside the original." + note)
    sections.append(_section(
        "lowrank", "Each image is a sum of a few rank-1 patterns",
        "The wavelet matrix of an image is written as a sum of rank-1 patterns (outer products u v<sup>T</sup> "
        "from its singular value decomposition), largest first. r(e) is the fewest patterns that keep fraction "
        f"e = {lr['energy']:.0%} of the image's energy. Median r(e): <b>{lr['rank_median']:g}</b> of "
        f"{lr['max_possible_rank']}; mean {lr['rank_mean']:.2f}; 95th percentile {lr['rank_p95']:g}.", body))
    true_image, random_image = data["table_image_true"], data["table_image_random"]
    order = np.argsort(-patterns["prototype_counts"], kind="stable")
    body = _img(draw(figures.pattern_gallery, patterns["prototypes_pixel"], true_image, names, order=order),
                "pattern prototypes", "The most frequent prototypes (red positive, blue negative, in pixels), "
                "each above its class distribution; the label names its most frequent class."
                + figures.channel_note(_channels(patterns["prototypes_pixel"], 3), signed=True))
    if len(patterns["dataset_patterns_pixel"]):
        body += _img(draw(figures.pattern_gallery, patterns["dataset_patterns_pixel"], data["table_dataset_true"],
                          names, title_prefix="D"),
                     "dataset patterns", "The top dataset patterns (right singular vectors of the dataset's "
                     "wavelet matrix, in pixels), each above the share of it held by each class."
                     + figures.channel_note(_channels(patterns["dataset_patterns_pixel"], 3), signed=True))
    association = s["association"]
    sections.append(_section(
        "patterns", "The patterns the dataset is made of",
        f"Every image's top {association['image_patterns']['top_k']} rank-1 patterns are clustered into "
        f"{association['image_patterns']['n_patterns']} prototypes (the pattern dictionary). Dataset "
        "patterns come from the singular value decomposition of the whole dataset's wavelet matrix.", body))
    body = _association_table(association)
    body += _img(draw(figures.association_heatmaps, true_image, random_image, names),
                 "association heatmaps", "P(class | prototype) for the largest prototypes, with the true labels "
                 "(left) and with the labels randomly permuted (right). Rows concentrated on one class mean "
                 "the pattern goes with that class; with random labels every row looks alike.")
    curve = association.get("noise_curve")
    if curve:
        body += _img(draw(figures.noise_curve_plot, [r["fraction"] for r in curve], [r["nmi"] for r in curve],
                          _curve_values([r.get("random_nmi") for r in curve])),
                     "noise curve", "The association as a growing fraction of labels is replaced at random: it "
                     "falls to the level of the permuted-label control.")
    sections.append(_section(
        "association", "Do the patterns go with the classes?",
        "A contingency table counts how often each prototype occurs in images of each class. Mutual information "
        "(in bits), normalized mutual information (NMI, 0 = independent, 1 = each pattern tells the class), "
        "Cramer's V and purity measure the association. The same statistics with randomly permuted labels are "
        "the control: what chance alone gives.", body))
    return sections


# --- communities, duplicates, noise curve -----------------------------------------------------

def _make_up(classes, n):
    return ", ".join(f"{_h(k)} {v}" for k, v in sorted(classes.items(), key=lambda kv: -kv[1])[:n])


def _communities_headline(s):
    return [_h(sentence) for sentence in communities_findings(s)]


def _communities_sections(folder, s, draw):
    c = s["communities"]
    data = SavedArrays(folder, "report.npz", {
        "member_images": (NUMBERS, ("m", "H", "W", "[C]")),
        "member_communities": (INTEGERS, ("g",)),
        "member_counts": (INTEGERS, ("g",)),
    })
    counts = data["member_counts"]
    data.need(not len(counts) or (counts.min() >= 0 and int(counts.sum()) <= len(data["member_images"])),
              "member_counts", f"counts >= 0 adding up to at most the {len(data['member_images'])} member images",
              f"counts from {counts.min() if len(counts) else 0} adding up to {int(counts.sum())}")
    data.need(min(data.dims["H"], data.dims["W"]) >= 1 and data.dims["C"] != 0, "member_images",
              "images of at least 1x1 pixels", f"shape {data['member_images'].shape}")
    sections = []
    body = ""
    groups = c["groups"]
    for i, group in enumerate(groups):
        label = "" if group["name"] == "all" else f" within class {_h(group['name'])}"
        stability = group.get("stability")
        if isinstance(stability, dict) and stability.get("gap_profile"):
            verdict = ("a clear structure: the gap stands out and random halves agree" if stability.get("clear")
                       else "no clear structure: the gap hardly stands out, or random halves disagree; treat the "
                            "communities as a coarse grouping")
            body += _img(draw(figures.gap_profile_plot, stability["gap_profile"], group["n_communities"]),
                         "eigengap profile", f"The gap after each count k{label}, averaged over the whole graph and "
                         f"{stability.get('n_resamples', 0)} random halves of it; {group['n_communities']} "
                         f"communities were used ({_h(group.get('count_from', ''))}): {verdict}.")
        body += _img(draw(figures.eigenvalue_plot, group["eigenvalues"], group["eigengap_k"]),
                     "Laplacian eigenvalues", f"Smallest eigenvalues of the graph's normalized Laplacian{label}, "
                     f"with the whole graph's own largest gap (after {group['eigengap_k']}).")
        if i == 2 and len(groups) > 3:
            body += '<p class="muted">(one plot per class; the first three are shown.)</p>'
            break
    sections.append(_section(
        "spectrum", "How many communities?",
        "Images are joined to their nearest neighbours (cosine distance on selected wavelet coefficients) in a "
        "sparse graph. A graph made of k well separated communities has k eigenvalues near 0 and then a jump; "
        "real datasets rarely show one, so the count is taken where the gap is largest on average over the whole "
        "graph and random halves of it, and how much halves agree says how far to trust it.", body))
    rows = []
    for group in groups:
        for x in group["communities"]:
            rows.append(f"<tr><td>{x['community']}</td><td>{_h(group['name'])}</td><td>{x['size']}</td>"
                        f"<td>{x['purity']:.2f}</td><td>{_make_up(x['classes'], 4)}</td>"
                        f"<td>{'mixed' if x['mixed'] else ''}</td></tr>")
    body = ("<table><tr><th>community</th><th>group</th><th>images</th><th>purity</th><th>classes</th><th></th></tr>"
            + "".join(rows) + "</table>")
    if len(counts) and counts.sum() > 0:
        stacks, titles, start = [], [], 0
        for c_id, count in zip(data["member_communities"], counts):
            stacks.append(_unit(data["member_images"][start:start + count]))
            titles.append(f"#{c_id}")
            start += int(count)
        body += _img(draw(figures.community_members, stacks, titles), "community members",
                     "The members nearest each community's center, a row per community."
                     + figures.channel_note(_channels(data["member_images"], 3)))
    sections.append(_section("communities", "The communities and their classes",
                             "Purity is the share of a community's largest class.", body))
    return sections


def _split(dataset):
    return _h(dataset.get("split", ""))


def _duplicates_headline(s):
    return [_h(sentence) for sentence in duplicates_findings(s)]


_PAIR_COLUMNS = ("index_a", "index_b", "similarity", "class_a", "class_b", "labels_disagree", "exact")


def _duplicate_rows(folder, limit=20):
    path = folder / "duplicates.csv"
    if not path.is_file():
        raise WavelensError(f"{shown(path)} is missing (the report lists its first pairs); {RERUN}.")
    rows = []
    try:
        with open(path, newline="", encoding="utf-8", errors="replace") as handle:
            for row in csv.DictReader(handle):
                if len(rows) == limit:
                    break
                rows.append("<tr>" + "".join(f"<td>{_h(row.get(k) or '')}</td>" for k in _PAIR_COLUMNS) + "</tr>")
    except OSError as exc:
        raise WavelensError(f"cannot read {shown(path)}: {exc.strerror or exc}; check its permissions.") from None
    except csv.Error as exc:
        reason = printable(str(exc))[:120]
        raise WavelensError(f"{shown(path)} is not a readable CSV file ({reason}); {RERUN}.") from None
    return rows


def _duplicates_sections(folder, s, draw):
    data = SavedArrays(folder, "report.npz", {
        "pair_images_a": (NUMBERS, ("q", "H", "W", "[C]")),
        "pair_images_b": (NUMBERS, ("q", "H", "W", "[C]")),
        "pair_captions": (TEXT, ("q",)),
    })
    data.need(min(data.dims["H"], data.dims["W"]) >= 1 and data.dims["C"] != 0, "pair_images_a",
              "images of at least 1x1 pixels", f"shape {data['pair_images_a'].shape}")
    body = ""
    if len(data["pair_images_a"]):
        body = _img(draw(figures.duplicate_pairs, _unit(data["pair_images_a"]), _unit(data["pair_images_b"]),
                         [str(c) for c in data["pair_captions"]]),
                    "duplicate pairs", "The first pairs: A above, B below, with their indices and score."
                    + figures.channel_note(_channels(data["pair_images_a"], 3)))
    rows = _duplicate_rows(folder)
    table = ("<table><tr><th>A</th><th>B</th><th>score</th><th>class A</th><th>class B</th><th>labels disagree</th>"
             "<th>exact</th></tr>" + "".join(rows) + "</table>") if rows else "<p>No pairs.</p>"
    return [_section("duplicates", "Near-duplicates",
                     "Pairs of images that are copies of each other, up to small shifts, brightness, contrast and "
                     "re-encoding: their best correlation over small shifts (the score) is high and stands out from "
                     "each image's other look-alikes. Pairs with different labels come first: one of the two labels "
                     "may be wrong. Test images that copy training images inflate test accuracy.", body + table)]


def _noise_headline(c):
    return [_h(sentence) for sentence in noise_curve_findings(c)]


def _noise_sections(c, draw):
    body = ""
    for kind in ("image_patterns", "dataset_patterns"):
        rows = [r for r in c["rows"] if r["kind"] == kind]
        if not rows:
            continue
        body += _img(draw(figures.noise_curve_plot, [r["fraction"] for r in rows], [r["nmi"] for r in rows],
                          _curve_values([r.get("random_nmi") for r in rows]), label=kind.replace("_", " ")),
                     f"noise curve {kind}", f"NMI of {kind.replace('_', ' ')} with the classes against the fraction "
                     "of labels replaced at random, with the permuted-label control.")
    return [_section("noise-curve", "The association under label noise",
                     "The paper's memorization-vs-learning question: patterns found in the images stay the same, "
                     "only the labels are corrupted. If the patterns carry the classes, their association falls "
                     "with the fraction of random labels, down to the control's level.", body)]


# --- assembly ---------------------------------------------------------------------------------

def build_report(folder):
    """Write ``folder/report.html`` from the results saved in ``folder``; return its path."""
    return start_report(folder).write()


def _write_error(target, exc):
    hint = {errno.ENOSPC: "free some space", errno.EDQUOT: "free some space",
            errno.EACCES: "make the folder writable", errno.EPERM: "make the folder writable",
            errno.EROFS: "the folder is on a read-only file system",
            errno.EISDIR: "remove or rename the folder of that name"}.get(exc.errno, "check the folder")
    return WavelensError(f"cannot write {shown(target)}: {exc.strerror or exc}; {hint} and run the command "
                         "again (nothing else was changed).")


class PendingReport:
    """A report laid out, its figures being drawn; :meth:`write` finishes it."""

    def __init__(self, folder, page, drawings):
        self.folder, self.page, self.drawings = folder, page, drawings

    def write(self):
        """Wait for the figures, write ``report.html`` (atomically) and return its path.

        The page goes to a temporary file in the folder, renamed over
        ``report.html`` once complete: on any failure the temporary file is
        removed and an earlier ``report.html`` stays as it was.
        """
        # Text from the data was cleaned on its way in; "replace" is the last guard of the encoding.
        page = self.drawings.fill(self.page).encode("utf-8", "replace")
        target = self.folder / "report.html"
        try:
            handle, temporary = tempfile.mkstemp(prefix=".report-", suffix=".html.tmp", dir=self.folder)
        except OSError as exc:
            raise _write_error(target, exc) from None
        try:
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(page)
                os.chmod(temporary, 0o644)
                os.replace(temporary, target)
            except OSError as exc:
                raise _write_error(target, exc) from None
        except BaseException:
            try:
                os.unlink(temporary)
            except OSError:
                pass
            raise
        return target


def start_report(folder, *, summary=None, saved=None):
    """Lay out ``folder``'s report and start drawing its figures.

    Parameters
    ----------
    folder : path
        The results folder, where ``report.html`` goes.
    summary : dict, default=None
        The content of ``summary.json``, if it is not written yet (else it is read).
    saved : dict, default=None
        ``{file name: arrays}`` standing in for ``.npz`` files not written yet
        (``report.npz``, ``arrays.npz``, ``patterns.npz`` of ``analyze``).

    Returns
    -------
    PendingReport
        Its figures are drawn meanwhile by the figure process, if one was
        started (:func:`wavelens.report._drawing.start_figure_process`), and otherwise
        when :meth:`PendingReport.write` is called.

    Raises
    ------
    WavelensError
        If ``folder`` is not a results folder, or a file the report reads is
        missing or malformed (one line naming the file and what is wrong).
    """
    folder = Path(folder)
    if not folder.is_dir():
        what = "it is a file" if folder.exists() else "it does not exist"
        raise WavelensError(f"{shown(folder)} is not a folder: {what}; give a results folder that a wavelens "
                            "command or a result's .save() wrote.")
    if summary is not None:
        name, s = "summary.json", summary
    else:
        name, s = read_summary(folder)
    kind = summary_kind(name, s)
    if summary is None:
        check_summary(folder / name, kind, s)
    draw = Drawings()
    try:
        if kind == "noise-curve":
            title, headline, sections = "Noise curve", _noise_headline(s), _noise_sections(s, draw)
            dataset = s["dataset"]
        elif kind == "communities":
            title, headline, sections = "Communities", _communities_headline(s), _communities_sections(folder, s, draw)
            dataset = s["dataset"]
        elif kind == "audit":
            from ._audit import audit_headline, audit_sections

            title, headline = "Audit", audit_headline(s)
            sections = audit_sections(folder, s, draw, saved)
            dataset = s["audit"]["dataset"]
        elif kind == "learnability":
            from ._learnability import learnability_headline, learnability_sections

            title, headline = "Learnability", learnability_headline(s)
            sections = learnability_sections(s, draw)
            dataset = s["dataset"]
        elif kind == "duplicates":
            title, headline, sections = "Near-duplicates", _duplicates_headline(s), _duplicates_sections(folder, s,
                                                                                                          draw)
            dataset = s["dataset_a"]
        else:
            title, headline, sections = "Patterns", _analyze_headline(s), _analyze_sections(folder, s, draw, saved)
            dataset = s["dataset"]
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, ZeroDivisionError) as exc:
        if summary is not None or isinstance(exc, WavelensError):
            raise  # a summary made in memory is not input: that would be a bug, worth its traceback
        reason = printable(f"{type(exc).__name__}: {exc}")[:120]
        raise WavelensError(f"{shown(folder / name)} does not have the layout this version of wavelens writes "
                            f"({reason}); {RERUN}.") from None
    command = s.get("command") or "(not recorded)"
    params = "".join(f"<tr><td>{_h(k)}</td><td>{_h(json.dumps(v, default=str))}</td></tr>"
                     for k, v in (s.get("params") or {}).items())
    name_text = _h(dataset["name"])
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>wavelens: {html.escape(title)} of {name_text}</title>
<style>{_STYLE}</style></head><body>
<h1>{html.escape(title)} of {name_text} ({_split(dataset)})</h1>
<p class="muted">wavelens {_h(s.get('wavelens_version', ''))}: what an image-classification dataset
is made of, with wavelets and spectral methods.</p>
<section id="findings" class="headline"><h2>Findings</h2><ul>{''.join(f'<li>{item}</li>' for item in headline)}</ul></section>
{''.join(sections)}
<section id="provenance"><h2>How this report was made</h2><p>Command:</p><pre>{_h(command)}</pre>
<table><tr><th>parameter</th><th>value</th></tr>{params}</table></section>
</body></html>
"""
    draw.start()
    return PendingReport(folder, page, draw)
