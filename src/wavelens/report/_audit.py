"""The sections of an audit's report: a gallery per check, the class overlap, the other analyses."""

import csv

from . import figures
from .._saved_results import NUMBERS, RERUN, TEXT, SavedArrays
from .._validation import WavelensError, printable, shown
from ..summaries import audit_findings

__all__ = ["audit_headline", "audit_sections"]

_GALLERIES = (
    ("label_error", "label-errors", "Likely label errors",
     "Each row: an image whose nearest images speak for another class (its id, its label -> the suggested one, in "
     "red), then its nearest images with their labels. Relabel the image when the suggestion is right; drop it when "
     "no label fits; keep it when it is only ambiguous."),
    ("outlier", "outliers", "Outliers",
     "Each row: an image far from every other image or from its own class, then its nearest images. Check that it "
     "belongs in the dataset and in its class."),
    ("low_information", "low-information", "Blank, constant or clipped images",
     "Images with next to no variation, or whose pixels are nearly all at black or white: usually broken files or "
     "failed captures; drop them."),
    ("duplicate", "duplicates", "Near-duplicates and leaks",
     "Each column: a pair of images found to be copies (the audited image above its copy), pairs with "
     "different labels first. A copy of a training image in the test set inflates test accuracy: drop it from the test set. "
     "Copies with different labels mean one label is wrong."),
)


def audit_headline(s):
    from . import _h

    return [_h(sentence) for sentence in audit_findings(s)]


def _confusable_table(a):
    from . import _h

    classes = a.get("classes")
    if classes is None:
        return ""
    rows = "".join(f"<tr><td>{_h(c['class_a'])}</td><td>{_h(c['class_b'])}</td><td>{100 * c['share_a_to_b']:.1f}%"
                   f"</td><td>{100 * c['share_b_to_a']:.1f}%</td></tr>" for c in classes["confusable"])
    return ("<table><tr><th>class a</th><th>class b</th><th>neighbours of a in b</th><th>neighbours of b in a</th>"
            f"</tr>{rows}</table>")


def _issue_count(folder):
    path = folder / "issues.csv"
    if not path.is_file():
        raise WavelensError(f"{shown(path)} is missing (the report counts its rows); {RERUN}.")
    try:
        with open(path, newline="", encoding="utf-8", errors="replace") as handle:
            return sum(1 for _ in csv.reader(handle)) - 1
    except OSError as exc:
        raise WavelensError(f"cannot read {shown(path)}: {exc.strerror or exc}; check its permissions.") from None
    except csv.Error as exc:
        raise WavelensError(f"{shown(path)} is not a readable CSV file ({printable(str(exc))[:120]}); "
                            f"{RERUN}.") from None


def audit_sections(folder, s, draw, saved=None):
    """The report's sections for the audit summary ``s`` and the arrays of ``report.npz``."""
    from . import _channels, _h, _img, _section

    a = s["audit"]
    names = [str(n) for n in a["dataset"]["class_names"]]
    wanted = {"label_error": a.get("label_errors") is not None, "outlier": a.get("outliers") is not None,
              "low_information": a.get("outliers") is not None, "duplicate": a.get("duplicates") is not None}
    members = {}
    for name in (name for name, *_ in _GALLERIES if wanted[name]):
        members[f"{name}_images"] = (NUMBERS, (f"{name}_rows", f"{name}_columns", "H", "W", "[C]"))
        members[f"{name}_captions"] = (TEXT, (f"{name}_rows", f"{name}_columns"))
    if a.get("classes") is not None:
        members["class_overlap"] = (NUMBERS, ("K", "K"))
    data = SavedArrays(folder, "report.npz", members, saved)
    if "class_overlap" in members:
        data.need(data.dims["K"] == len(names), "class_overlap", f"{len(names)} x {len(names)} (the classes)",
                  f"shape {data['class_overlap'].shape}")
    n_rows = _issue_count(folder) if saved is None else a["dataset"]["n_images"]
    sections = [_section("issues", "Every image", f"issues.csv holds a row for each of the {n_rows} images: a score "
                         "and a flag per check, the suggested label, the nearest images' ids, the duplicate group "
                         "and the community. Sort it by a score to go through the images that most need a look.", "")]
    for name, anchor, title, intro in _GALLERIES:
        if not wanted[name]:
            continue
        images, captions = data[f"{name}_images"], data[f"{name}_captions"]
        if name == "duplicate":  # a pair per column, the audited image above its copy
            images, captions = images.swapaxes(0, 1), captions.swapaxes(0, 1)
        if len(images) and images.shape[1]:
            body = _img(draw(figures.gallery, images / 255.0, captions, first_column_marked=name != "duplicate"),
                        title,
                        f"{len(data[name + '_images'])} shown; every one is in issues.csv." + figures.channel_note(
                            _channels(images, 4)))
        else:
            body = "<p>None found.</p>"
        sections.append(_section(anchor, title, intro, body))
    if "class_overlap" in members:
        sections.append(_section("confusable-classes", "Confusable classes",
                                 "How the neighbourhoods of the classes mix: row c shows which classes the nearest "
                                 "images of class c's images belong to (the figure leaves its own class out; "
                                 "class_overlap.csv has it). Bright cells are "
                                 "classes a classifier will confuse and labelers may mix up.",
                                 _img(draw(figures.overlap_heatmap, data["class_overlap"], names), "class overlap",
                                      "The share of each class's neighbours in each other class.")
                                 + _confusable_table(a)))
    for part, title in (("communities", "Communities"), ("analysis", "Patterns and classes")):
        if a.get(part) is not None:
            sections.append(_section(part, title, "", "<ul>" + "".join(f"<li>{_h(line)}</li>"
                                                                       for line in a[part]["summary"]) + "</ul>"))
    return sections
