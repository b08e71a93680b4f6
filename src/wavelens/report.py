"""The report a person reads: one self-contained HTML file built from a results folder.

``build_report(folder)`` reads what a command saved (``summary.json`` or
``noise_curve.json``, the arrays beside them, and ``report.npz`` with the few
images the figures show), draws the figures that its data allows, and writes
``report.html`` with every image embedded, inline styles and no scripts, so
it opens offline anywhere.
"""

import base64
import csv
import html
import json
import os
import tempfile
from pathlib import Path

import numpy as np

from . import figures
from ._drawing import Drawings
from ._validation import WavelensError

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


def _img(png, alt, caption):
    """A figure: ``png`` is PNG bytes or a placeholder from :class:`Drawings`."""
    data = png if isinstance(png, str) else base64.b64encode(png).decode("ascii")
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(alt)}">'
            f"<figcaption>{caption}</figcaption></figure>")


def _section(section_id, title, intro, body):
    return f'<section id="{section_id}"><h2>{html.escape(title)}</h2><p>{intro}</p>{body}</section>'


def _fmt(value, digits=3):
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return str(value)


def _z_text(z):
    return "n/a" if z is None else f"{z:,.0f}" if abs(z) >= 10 else f"{z:.2f}"


def _p_text(stats):
    repeats = stats["random"]["repeats"]
    if stats["p_value"] <= 1 / (repeats + 1):
        return f"p &le; {stats['p_value']:.2g}, the smallest {repeats} permutations can give"
    return f"p = {stats['p_value']:.2g}"


def _load(folder, name):
    path = folder / name
    if not path.is_file():
        return None
    return np.load(path, allow_pickle=False)


def _unit(images):
    images = np.asarray(images)
    return images / 255.0 if images.dtype == np.uint8 else images


# --- analyze ---------------------------------------------------------------------------------

def _association_verdict(stats):
    true, random = stats["true"]["nmi"], stats["random"]["nmi"]
    spread = stats["random"]["nmi_std"]
    if true > random + 4 * spread and true > 2 * random:
        return "the patterns go with the classes far beyond chance"
    return "no more association with the classes than random labels give"


def _analyze_headline(s):
    lr, a, sp = s["lowrank"], s["association"], s["spectrum"]
    image = a["image_patterns"]
    psnr = "exact" if lr["psnr_db_median"] is None else f"{lr['psnr_db_median']:.1f} dB"
    items = [
        f"The median image is the sum of <b>{lr['rank_median']:g} rank-1 patterns</b> (of "
        f"{lr['max_possible_rank']} possible) for {lr['energy']:.0%} of its energy; 95% of images need at most "
        f"{lr['rank_p95']:g}. Rebuilt from them, the median image has PSNR {psnr}.",
        f"Pattern-class NMI <b>{image['true']['nmi']:.3f}</b> with the labels, "
        f"<b>{image['random']['nmi']:.4f}</b> &plusmn; {image['random']['nmi_std']:.2g} with randomly permuted "
        f"labels (z = {_z_text(image['z_score'])}, {_p_text(image)}): {_association_verdict(image)}.",
    ]
    if a.get("label_noise"):
        items.append(f"This run replaced <b>{a['label_noise']:.0%}</b> of the labels at random (--label-noise).")
    if sp.get("numerical_rank_wavelet") is not None:
        items.append(f"The dataset matrix has numerical rank {sp['numerical_rank_wavelet']} (pixels: "
                     f"{sp['numerical_rank_pixel']}); {sp['n_patterns_at_energy']} dataset patterns hold "
                     f"{sp['energy']:.0%} of its energy.")
    curve = a.get("noise_curve")
    if curve:
        half = min(curve, key=lambda r: abs(r["fraction"] - 0.5))
        items.append(f"As labels are corrupted the association falls: NMI {curve[0]['nmi']:.3f} with clean "
                     f"labels, {half['nmi']:.3f} with {half['fraction']:.0%} random, {curve[-1]['nmi']:.4f} with "
                     f"{curve[-1]['fraction']:.0%} random.")
    return items


def _association_table(a):
    rows = []
    for kind, name in (("image_patterns", "image-pattern prototypes (counts)"),
                       ("dataset_patterns", "dataset patterns (energy shares)")):
        stats = a[kind]
        rows.append(
            f"<tr><td>{name}</td>" + "".join(
                f"<td>{stats['true'][k]:.4f}</td><td>{stats['random'][k]:.4f}</td>"
                for k in ("nmi", "mi_bits", "cramers_v", "purity")) + "</tr>")
    head = "".join(f"<th>{k} (true)</th><th>{k} (random)</th>" for k in ("NMI", "MI bits", "Cramer's V", "purity"))
    return f"<table><tr><th>patterns</th>{head}</tr>{''.join(rows)}</table>"


def _analyze_sections(folder, s, draw, saved=None):
    def load(name):
        return saved[name] if saved and name in saved else _load(folder, name)

    data, arrays, patterns = load("report.npz"), load("arrays.npz"), load("patterns.npz")
    names = s["dataset"]["class_names"]
    lr = s["lowrank"]
    sections = []
    if data is not None and "sample_images" in data:
        sections.append(_section(
            "samples", "The dataset",
            f"{s['dataset']['n_images']} images of {'x'.join(map(str, s['dataset']['image_shape']))} pixels in "
            f"{s['dataset']['n_classes']} classes; a few of each class:",
            _img(draw(figures.image_grid, _unit(data["sample_images"]), data["sample_labels"], names),
                 "sample images per class", "Sample images, a row per class.")))
        sections.append(_section(
            "wavelets", "Into the wavelet space",
            f"Each image goes through a 2D discrete wavelet transform ({s['params']['wavelet']}, level "
            f"{s['params']['level']}, mode {s['params']['mode']}). Its coefficients form the image's wavelet "
            "matrix: the coarse approximation at the top left, the horizontal, vertical and diagonal details "
            "around it. The transform is exactly invertible.",
            _img(draw(figures.wavelet_decomposition, data["example_image"], data["example_coefficients"]),
                 "an image and its wavelet matrix", "A typical image (its r(e) is the median) and its wavelet matrix.")))
    if arrays is not None:
        body = _img(draw(figures.singular_value_decay, arrays["singular_values"]),
                    "singular value decay", "Singular values of the wavelet matrices, relative to the largest: "
                    "a few patterns carry almost all of each image.")
        body += _img(draw(figures.rank_distribution, arrays["rank_at_energy"], lr["max_possible_rank"],
                                                              lr["energy"]),
                     "distribution of r(e)", f"How many rank-1 patterns each image needs for {lr['energy']:.0%} "
                     "of its energy.")
        if data is not None and "example_rebuilds" in data:
            body += _img(draw(figures.rebuild_series, data["example_image"], data["example_rebuilds"],
                                                               data["example_counts"]),
                         "image rebuilt from a few patterns", "The same image rebuilt from its top 1, 2, 4, ... "
                         "rank-1 patterns (inverse wavelet transform), beside the original.")
        sections.append(_section(
            "lowrank", "Each image is a sum of a few rank-1 patterns",
            "The wavelet matrix of an image is written as a sum of rank-1 patterns (outer products u v<sup>T</sup> "
            "from its singular value decomposition), largest first. r(e) is the fewest patterns that keep fraction "
            f"e = {lr['energy']:.0%} of the image's energy. Median r(e): <b>{lr['rank_median']:g}</b> of "
            f"{lr['max_possible_rank']}; mean {lr['rank_mean']:.2f}; 95th percentile {lr['rank_p95']:g}.", body))
    if patterns is not None and data is not None and "table_image_true" in data:
        true_image, random_image = data["table_image_true"], data["table_image_random"]
        order = np.argsort(-patterns["prototype_counts"], kind="stable")
        body = _img(draw(figures.pattern_gallery, patterns["prototypes_pixel"], true_image, names,
                                                           order=order),
                    "pattern prototypes", "The most frequent prototypes (red positive, blue negative, in pixels), "
                    "each above its class distribution; the label names its most frequent class.")
        body += _img(draw(figures.pattern_gallery, patterns["dataset_patterns_pixel"],
                                                            data["table_dataset_true"], names, title_prefix="D"),
                     "dataset patterns", "The top dataset patterns (right singular vectors of the dataset's "
                     "wavelet matrix, in pixels), each above the share of it held by each class.")
        sections.append(_section(
            "patterns", "The patterns the dataset is made of",
            f"Every image's top {s['association']['image_patterns']['top_k']} rank-1 patterns are clustered into "
            f"{s['association']['image_patterns']['n_patterns']} prototypes (the pattern dictionary). Dataset "
            "patterns come from the singular value decomposition of the whole dataset's wavelet matrix.", body))
        body = _association_table(s["association"])
        body += _img(draw(figures.association_heatmaps, true_image, random_image, names),
                     "association heatmaps", "P(class | prototype) for the largest prototypes, with the true labels "
                     "(left) and with the labels randomly permuted (right). Rows concentrated on one class mean "
                     "the pattern goes with that class; with random labels every row looks alike.")
        curve = s["association"].get("noise_curve")
        if curve:
            body += _img(draw(figures.noise_curve_plot, [r["fraction"] for r in curve],
                                                                 [r["nmi"] for r in curve],
                                                                 [r.get("random_nmi") for r in curve]),
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

def _communities_headline(s):
    c = s["communities"]
    groups = c["groups"]
    items = [f"<b>{c['n_communities']} communities</b> of similar images" +
             (f" (eigengap estimate {c['eigengap_k']})" if c["eigengap_k"] else " over the classes") +
             f"; <b>{len(c['mixed'])}</b> of them mixed (no class above {s['params']['mixed_threshold']:.0%})."]
    communities = [x for g in groups for x in g["communities"]]
    purest = sorted(communities, key=lambda x: (-x["purity"], -x["size"]))[:1]
    for x in purest:
        items.append(f"The purest community: {x['size']} images, {x['purity']:.0%} {html.escape(x['top_class'])}.")
    for x in [x for x in communities if x["mixed"]][:3]:
        make_up = ", ".join(f"{html.escape(k)} {v}" for k, v in sorted(x["classes"].items(), key=lambda kv: -kv[1])[:3])
        items.append(f"Mixed community {x['community']} ({x['size']} images): {make_up}: these classes overlap.")
    items.append(f"Numerical rank: pixel matrix {c['numerical_rank']['pixel']}, wavelet matrix "
                 f"{c['numerical_rank']['wavelet']}; {c['features']['n_features']} of {c['features']['n_total']} "
                 f"coefficients used ({c['features']['method']}).")
    return items


def _communities_sections(folder, s, draw):
    c = s["communities"]
    sections = []
    body = ""
    for group in c["groups"]:
        label = "" if group["name"] == "all" else f" within class {html.escape(group['name'])}"
        body += _img(draw(figures.eigenvalue_plot, group["eigenvalues"], group["eigengap_k"]),
                     "Laplacian eigenvalues", f"Smallest eigenvalues of the graph's normalized Laplacian{label}; "
                     f"the largest gap, after {group['eigengap_k']}, estimates the number of communities.")
        if len(c["groups"]) > 3:
            body += '<p class="muted">(one plot per class; the first three are shown.)</p>'
            break
    sections.append(_section(
        "spectrum", "How many communities?",
        "Images are joined to their nearest neighbours (cosine distance on selected wavelet coefficients) in a "
        "sparse graph. A graph made of k separate communities has k eigenvalues near 0 before a jump.", body))
    rows = []
    for group in c["groups"]:
        for x in group["communities"]:
            make_up = ", ".join(f"{html.escape(k)} {v}" for k, v in sorted(x["classes"].items(), key=lambda kv: -kv[1])[:4])
            rows.append(f"<tr><td>{x['community']}</td><td>{html.escape(group['name'])}</td><td>{x['size']}</td>"
                        f"<td>{x['purity']:.2f}</td><td>{make_up}</td><td>{'mixed' if x['mixed'] else ''}</td></tr>")
    body = ("<table><tr><th>community</th><th>group</th><th>images</th><th>purity</th><th>classes</th><th></th></tr>"
            + "".join(rows) + "</table>")
    data = _load(folder, "report.npz")
    if data is not None and "member_images" in data.files:
        stacks, titles = [], []
        for c_id, count in zip(data["member_communities"], data["member_counts"]):
            start = int(np.sum(data["member_counts"][:len(stacks)]))
            stacks.append(_unit(data["member_images"][start:start + count]))
            titles.append(f"#{c_id}")
        body += _img(draw(figures.community_members, stacks, titles), "community members",
                     "The members nearest each community's center, a row per community.")
    sections.append(_section("communities", "The communities and their classes",
                             "Purity is the share of a community's largest class.", body))
    return sections


def _duplicates_headline(s):
    d = s["duplicates"]
    where = (f"within {html.escape(s['dataset_a']['name'])}" if s["dataset_b"] is None else
             f"between {html.escape(s['dataset_a']['name'])} ({s['dataset_a']['split']}) and "
             f"{html.escape(s['dataset_b']['name'])} ({s['dataset_b']['split']})")
    return [f"<b>{d['n_pairs']}</b> near-duplicate pairs (cosine &ge; {s['params']['threshold']}) {where}; "
            f"{d['n_exact']} exact copies; <b>{d['n_labels_disagree']}</b> pairs whose labels disagree.",
            f"{d['n_images_a_with_duplicate']} images of A have a near-duplicate."]


def _duplicates_sections(folder, s, draw):
    data = _load(folder, "report.npz")
    body = ""
    if data is not None and "pair_images_a" in data.files and len(data["pair_images_a"]):
        body = _img(draw(figures.duplicate_pairs, _unit(data["pair_images_a"]), _unit(data["pair_images_b"]),
                                                           [str(c) for c in data["pair_captions"]]),
                    "duplicate pairs", "The most similar pairs: A above, B below, with their indices and similarity.")
    rows = []
    path = folder / "duplicates.csv"
    if path.is_file():
        with open(path) as handle:
            for i, row in enumerate(csv.DictReader(handle)):
                if i == 20:
                    break
                rows.append("<tr>" + "".join(f"<td>{html.escape(row[k])}</td>" for k in
                                             ("index_a", "index_b", "similarity", "class_a", "class_b",
                                              "labels_disagree", "exact")) + "</tr>")
    table = ("<table><tr><th>A</th><th>B</th><th>cosine</th><th>class A</th><th>class B</th><th>labels disagree</th>"
             "<th>exact</th></tr>" + "".join(rows) + "</table>") if rows else "<p>No pairs.</p>"
    return [_section("duplicates", "Near-duplicates",
                     "Pairs whose wavelet coefficients have cosine similarity at or above the threshold. Pairs with "
                     "different labels are worth a look: one of the two labels may be wrong, and test images that "
                     "nearly copy training images inflate test accuracy.", body + table)]


def _noise_headline(c):
    rows = [r for r in c["rows"] if r["kind"] == "image_patterns"]
    return [f"NMI of image patterns with classes: <b>{rows[0]['nmi']:.3f}</b> at {rows[0]['fraction']:.0%} random "
            f"labels, <b>{rows[-1]['nmi']:.4f}</b> at {rows[-1]['fraction']:.0%} (permuted-label control "
            f"{_fmt(rows[-1].get('random_nmi'))})."]


def _noise_sections(c, draw):
    body = ""
    for kind in ("image_patterns", "dataset_patterns"):
        rows = [r for r in c["rows"] if r["kind"] == kind]
        body += _img(draw(figures.noise_curve_plot, [r["fraction"] for r in rows], [r["nmi"] for r in rows],
                                                             [r.get("random_nmi") for r in rows],
                                                             label=kind.replace("_", " ")),
                     f"noise curve {kind}", f"NMI of {kind.replace('_', ' ')} with the classes against the fraction "
                     "of labels replaced at random, with the permuted-label control.")
    return [_section("noise-curve", "The association under label noise",
                     "The paper's memorization-vs-learning question: patterns found in the images stay the same, "
                     "only the labels are corrupted. If the patterns carry the classes, their association falls "
                     "with the fraction of random labels, down to the control's level.", body)]


# --- assembly ---------------------------------------------------------------------------------

def _read_summary(folder):
    for name in ("summary.json", "noise_curve.json"):
        path = folder / name
        if path.is_file():
            try:
                return name, json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                raise WavelensError(f"{path} is not readable JSON ({exc}); run the command again.") from None
    raise WavelensError(
        f"{folder} holds no wavelens results (no summary.json or noise_curve.json); give the --out folder of "
        "'wavelens analyze', 'communities', 'duplicates' or 'noise-curve'."
    )


def build_report(folder):
    """Write ``folder/report.html`` from the results saved in ``folder``; return its path."""
    return start_report(folder).write()


class PendingReport:
    """A report laid out, its figures being drawn; :meth:`write` finishes it."""

    def __init__(self, folder, page, drawings):
        self.folder, self.page, self.drawings = folder, page, drawings

    def write(self):
        """Wait for the figures, write ``report.html`` (atomically) and return its path."""
        page = self.drawings.fill(self.page)
        handle, temporary = tempfile.mkstemp(prefix=".report-", suffix=".html", dir=self.folder)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(page)
        target = self.folder / "report.html"
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
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
        started (:func:`wavelens._drawing.start_figure_process`), and otherwise
        when :meth:`PendingReport.write` is called.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise WavelensError(f"{folder} is not a folder; give the --out folder of a wavelens command.")
    name, s = ("summary.json", summary) if summary is not None else _read_summary(folder)
    draw = Drawings()
    if name == "noise_curve.json":
        title, headline, sections = "Noise curve", _noise_headline(s), _noise_sections(s, draw)
        dataset = s["dataset"]
    elif "communities" in s:
        title, headline, sections = "Communities", _communities_headline(s), _communities_sections(folder, s, draw)
        dataset = s["dataset"]
    elif "duplicates" in s:
        title, headline, sections = "Near-duplicates", _duplicates_headline(s), _duplicates_sections(folder, s, draw)
        dataset = s["dataset_a"]
    else:
        title, headline, sections = "Patterns", _analyze_headline(s), _analyze_sections(folder, s, draw, saved)
        dataset = s["dataset"]
    command = s.get("command") or "(not recorded)"
    params = "".join(f"<tr><td>{html.escape(str(k))}</td><td>{html.escape(json.dumps(v))}</td></tr>"
                     for k, v in s.get("params", {}).items())
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>wavelens: {html.escape(title)} of {html.escape(dataset['name'])}</title>
<style>{_STYLE}</style></head><body>
<h1>{html.escape(title)} of {html.escape(dataset['name'])} ({html.escape(str(dataset.get('split', '')))})</h1>
<p class="muted">wavelens {html.escape(str(s.get('wavelens_version', '')))}: what an image-classification dataset
is made of, with wavelets and spectral methods.</p>
<section id="findings" class="headline"><h2>Findings</h2><ul>{''.join(f'<li>{item}</li>' for item in headline)}</ul></section>
{''.join(sections)}
<section id="provenance"><h2>How this report was made</h2><p>Command:</p><pre>{html.escape(command)}</pre>
<table><tr><th>parameter</th><th>value</th></tr>{params}</table></section>
</body></html>
"""
    draw.start()
    return PendingReport(folder, page, draw)
