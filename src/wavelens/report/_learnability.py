"""The sections of a learnability report: accuracy against the patterns kept, and memorizing random labels.

Everything is drawn from ``summary.json`` alone (its ``learnability`` key): no arrays are read.
"""

from . import figures
from ..summaries import learnability_findings

__all__ = ["learnability_headline", "learnability_sections"]

_KINDS = ("image patterns", "dataset patterns")


def learnability_headline(s):
    from . import _h

    return [_h(sentence) for sentence in learnability_findings(s)]


def _percent(value):
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _accuracy_table(lb):
    from . import _h

    names = list(lb["classifiers"])
    head = "".join(f"<th>{_h(c)} test</th><th>{_h(c)} train</th>" for c in names)
    by_key = {}
    for row in lb["rows"]:
        by_key.setdefault((row["source"], row["r"]), {})[row["classifier"]] = row
    lines = []
    for (source, r), cells in by_key.items():
        psnr = next(iter(cells.values()))["psnr_db"]
        lines.append(f"<tr><td>{_h(source)}</td><td>{'' if r is None else r}</td>"
                     f"<td>{'exact' if psnr is None else format(psnr, '.1f')}</td>"
                     + "".join(f"<td>{_percent(cells[c]['test_accuracy']) if c in cells else ''}</td>"
                               f"<td>{_percent(cells[c]['train_accuracy']) if c in cells else ''}</td>" for c in names)
                     + "</tr>")
    return (f"<table><tr><th>images</th><th>patterns</th><th>median PSNR (dB)</th>{head}</tr>{''.join(lines)}"
            "</table>")


def _noise_table(lb):
    from . import _h

    lines = "".join(
        f"<tr><td>{100 * r['fraction']:.0f}%</td><td>{_h(r['classifier'])}</td><td>{_percent(r['train_accuracy'])}</td>"
        f"<td>{_percent(r['test_accuracy'])}</td><td>{_percent(r['loo_error'])}</td>"
        f"<td>{'n/a' if r['nmi'] is None else format(r['nmi'], '.4f')}</td></tr>" for r in lb["noise"])
    return ("<table><tr><th>random labels</th><th>classifier</th><th>training accuracy</th><th>test accuracy</th>"
            f"<th>leave-one-out error</th><th>NMI (image patterns)</th></tr>{lines}</table>")


def _per_class_table(lb, class_names):
    from . import _h

    rows = [r for r in lb.get("per_class") or [] if r["source"] in ("original", "image patterns")]
    if not rows:
        return ""
    head = "".join(f"<th>{_h(r['classifier'])}, {'original' if r['r'] is None else 'r = ' + str(r['r'])}</th>"
                   for r in rows)
    lines = "".join(f"<tr><td>{_h(name)}</td>" + "".join(
        f"<td>{_percent(r['accuracy'][c]) if c < len(r['accuracy']) else ''}</td>" for r in rows) + "</tr>"
                    for c, name in enumerate(class_names))
    return f"<table><tr><th>class</th>{head}</tr>{lines}</table>"


def learnability_sections(s, draw):
    """The report's sections for the learnability summary ``s``."""
    from . import _img, _section

    lb = s["learnability"]
    names = list(lb["classifiers"])
    series, psnr, originals = {}, {}, {}
    for row in lb["rows"]:
        if row["source"] == "original":
            originals[row["classifier"]] = row["test_accuracy"]
    for kind in _KINDS:
        rows = [r for r in lb["rows"] if r["source"] == kind]
        if not rows:
            continue
        series[kind] = {c: ([r["r"] for r in rows if r["classifier"] == c],
                            [r["test_accuracy"] for r in rows if r["classifier"] == c]) for c in names}
        first = [r for r in rows if r["classifier"] == names[0]]
        psnr[kind] = ([r["r"] for r in first], [r["psnr_db"] for r in first])
    described = "; ".join(f"{c}: {d}" for c, d in lb["classifiers"].items())
    body = ""
    if series:
        body += _img(draw(figures.learnability_plot, series, originals, psnr, chance=lb["chance"],
                          max_rank=lb["max_rank"]), "accuracy against the patterns kept",
                     "Test accuracy of classifiers trained and tested on images rebuilt from their top r rank-1 "
                     "patterns (left) and from the top m dataset patterns (right); dashed: on the original "
                     "images; gray squares: the median PSNR of the rebuilt test images (right axis).")
    body += _accuracy_table(lb)
    sections = [_section(
        "learnability", "Do the patterns keep what a classifier needs?",
        f"The paper says the rank-1 approximation keeps the structure essential for learning. Each image is rebuilt "
        f"from its top r rank-1 patterns (r of {lb['max_rank']}: all of them rebuild it exactly), or from the top m "
        f"patterns of the whole training set; light classifiers are trained on the {lb['n_train']} rebuilt training "
        f"images and tested on the {lb['n_test']} rebuilt test images ({described}). Where the accuracy meets the "
        "dashed line, the patterns kept hold everything that classifier uses.", body)]
    noise = lb["noise"]
    if noise:
        fractions = sorted({r["fraction"] for r in noise})

        def values(classifier, key):
            by_fraction = {r["fraction"]: r[key] for r in noise if r["classifier"] == classifier}
            return [by_fraction.get(f) for f in fractions]

        train = {c: values(c, "train_accuracy") for c in names}
        test = {c: values(c, "test_accuracy") for c in names}
        loo = {c: values(c, "loo_error") for c in names if any(v is not None for v in values(c, "loo_error"))}
        nmi_by_fraction = {r["fraction"]: r["nmi"] for r in noise}
        body = _img(draw(figures.memorization_plot, fractions, train, test, [nmi_by_fraction[f] for f in fractions],
                         loo_error=loo, chance=lb["chance"]), "memorizing random labels",
                    "Training (solid) and test (dashed) accuracy as a growing share of the training labels is "
                    "replaced at random; dotted: the kNN's leave-one-out error (the share of training labels its "
                    "neighbours contradict: what it must memorize); black squares: the image patterns' NMI with "
                    "the labels (right axis).")
        body += _noise_table(lb)
        sections.append(_section(
            "memorization", "Memorizing random labels",
            "Zhang et al. (ICLR 2017) showed that networks fit random labels perfectly on the training set and "
            "generalize not at all. Here the same light classifiers are trained on randomly relabeled training "
            "images (the test labels stay true). The kNN stores every training image: its training accuracy is "
            "100% by construction (each training image is its own nearest neighbour, at distance 0), so its "
            "memorization is measured by its leave-one-out error, the share of training labels its neighbours "
            "contradict. The linear classifier has a fixed number of weights and fits only some random labels "
            "above chance. With every label random neither learns anything that generalizes; the patterns stay "
            "the same, while their association with the labels vanishes.", body))
    table = _per_class_table(lb, list(s["dataset"]["class_names"]))
    if table:
        sections.append(_section("per-class", "Per class",
                                 "Test accuracy within each class, on the original images and on images rebuilt "
                                 "from r patterns: which classes need more patterns.", table))
    return sections
