"""What each analysis found, in plain words: written once, for the result objects, the CLI and the report.

Each function takes the JSON-ready record of a result (what ``summary.json``
holds, so that ``wavelens report`` can say the same from the saved files) and
returns a list of sentences. Text from the data (dataset and class names) is
made printable here; the report HTML-escapes the sentences.
"""

from ._validation import printable
from .datasets._base import UNLABELED

__all__ = ["analysis_findings", "communities_findings", "duplicates_findings", "noise_curve_findings",
           "association_verdict", "learnability_findings"]


def _number(value, digits=3):
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return printable(value)


def _z(z):
    return "n/a" if z is None else f"{z:,.0f}" if abs(z) >= 10 else f"{z:.2f}"


def _p(stats):
    """The permutation p-value, or nothing when it is only the floor the repeats allow (1 / (repeats + 1)):
    then z says more."""
    repeats = stats["random"]["repeats"]
    if stats["p_value"] <= 1 / (repeats + 1):
        return ""
    return f", permutation p = {stats['p_value']:.2g}"


def association_verdict(stats):
    """Whether patterns go with the classes beyond what randomly permuted labels give, in words."""
    true, random = stats["true"]["nmi"], stats["random"]["nmi"]
    if true > random + 4 * stats["random"]["nmi_std"] and true > 2 * random:
        return "the patterns go with the classes far beyond chance"
    return "no more association with the classes than random labels give"


def _association(stats, what):
    line = (f"{what} with the classes: NMI {stats['true']['nmi']:.3f} (Cramer's V {stats['true']['cramers_v']:.3f}, "
            f"purity {stats['true']['purity']:.3f})")
    if "random" not in stats:
        return line + "; no random-label control was run (random_repeats was 0)."
    return (line + f", against {stats['random']['nmi']:.4f} +/- {stats['random']['nmi_std']:.2g} with randomly "
            f"permuted labels (z = {_z(stats['z_score'])}{_p(stats)}): {association_verdict(stats)}.")


def _unlabeled(record):
    """Whether a dataset's record is of images without labels (their one class is "(unlabeled)")."""
    return record is not None and record.get("class_names") == [UNLABELED]


def _classes(record):
    """'10 classes', '1 class', or 'unlabeled', from a dataset's record."""
    if _unlabeled(record):
        return "unlabeled"
    n = record["n_classes"]
    return f"{n} class" if n == 1 else f"{n} classes"


def image_shape_text(shape):
    """An image shape as people write it: 28x28, 32x32x3."""
    return "x".join(str(s) for s in shape)


def analysis_findings(summary):
    """Sentences on what ``analyze`` found, from its ``summary.json`` record."""
    d, lr, p = summary["dataset"], summary["lowrank"], summary["params"]
    a, sp = summary["association"], summary.get("spectrum") or {}
    psnr = "exact" if lr["psnr_db_median"] is None else f"{lr['psnr_db_median']:.1f} dB"
    lines = [
        f"{printable(d['name'])} ({d['split']}): {d['n_images']} images of {image_shape_text(d['image_shape'])}, "
        f"{_classes(d)}.",
        f"Wavelet {p['wavelet']}, level {p['level']}, mode {p['mode']}: the median image is the sum of "
        f"{lr['rank_median']:g} of {lr['max_possible_rank']} rank-1 patterns for {lr['energy']:.0%} of its energy "
        f"(mean {lr['rank_mean']:.2f}; 95% of images need at most {lr['rank_p95']:g}, the most {lr['rank_max']}).",
        f"Rebuilt from those patterns, the median image has PSNR {psnr} and relative error "
        f"{lr['relative_error_median']:.3f}; the median image needs {lr['numerical_rank_median']:g} patterns to be "
        "rebuilt exactly (its numerical rank).",
    ]
    if a.get("label_noise"):
        lines.append(f"Labels: {a['label_noise']:.0%} replaced at random (label noise).")
    image, data = a["image_patterns"], a["dataset_patterns"]
    source = f" of {printable(p['patterns_from'])}" if p.get("patterns_from") else ""
    if source:
        lines.append(f"The patterns are those found on {printable(p['patterns_from'])}, applied to these images: "
                     "nothing was fitted on them.")
    lines.append(_association(image, f"The {image['n_patterns']} image-pattern prototypes{source} (counts) go"))
    lines.append(_association(data, f"The {data['n_patterns']} dataset patterns{source} (energy shares) go"))
    if sp.get("numerical_rank_wavelet") is not None:
        lines.append(f"Together the images span {_number(sp['numerical_rank_wavelet'])} independent directions "
                     f"(the numerical rank of the dataset matrix; {_number(sp.get('numerical_rank_pixel'))} in "
                     f"pixels), and {_number(sp.get('n_patterns_at_energy'))} dataset patterns hold "
                     f"{sp.get('energy', lr['energy']):.0%} of their energy.")
    curve = a.get("noise_curve")
    if curve:
        half = min(curve, key=lambda r: abs(r["fraction"] - 0.5))
        lines.append(f"As labels are made random the association falls: NMI {curve[0]['nmi']:.3f} with clean "
                     f"labels, {half['nmi']:.3f} with {half['fraction']:.0%} random, {curve[-1]['nmi']:.4f} with "
                     f"{curve[-1]['fraction']:.0%} random.")
    return lines


def _make_up(classes, n):
    return ", ".join(f"{printable(k)} {v}" for k, v in sorted(classes.items(), key=lambda kv: -kv[1])[:n])


def _stability_sentence(n, stability):
    """Plain words on how stable ``n`` communities are under random halves (a group's ``stability``)."""
    halves = stability["n_resamples"]
    votes = round(stability["votes"] * halves)
    agreement = (f"halves of the images agree with the whole on who belongs together "
                 f"(adjusted Rand index {stability['mean_ari']:.2f}; 1 is identical, 0 chance)")
    if stability["clear"]:
        return (f"A clear community structure: the count is stable under resampling (the largest gap was at {n} "
                f"on {votes} of {halves} random halves) and {agreement}.")
    others = sorted(set(stability["half_counts"]) - {n})
    count = (f"The largest gap was at {n} on {votes} of {halves} random halves"
             + (f", elsewhere at {', '.join(map(str, others))}" if others else "")
             + (f"; it is {stability['confidence']:.2f}x the next largest gap" if stability["confidence"] else "")
             + ".")
    if stability["count_stable"]:
        return (f"No clear community structure: membership is not stable under resampling; treat communities "
                f"as a coarse grouping. Only {agreement}. {count}")
    return (f"No clear community structure: the count is not stable under resampling; treat communities as a "
            f"coarse grouping. {count} At this count, {agreement}.")


def communities_findings(summary):
    """Sentences on what ``communities`` found, from its ``summary.json`` record."""
    d, c = summary["dataset"], summary["communities"]
    f = c["features"]
    condition = "n/a" if f.get("condition_number") is None else format(f["condition_number"], ".3g")
    whole = c["groups"][0] if len(c["groups"]) == 1 else None
    basis = {"stable gap": " (the largest eigengap averaged over the whole graph and random halves)",
             "eigengap": " (the largest eigengap)", "fixed": " (as asked)"}
    unlabeled = _unlabeled(d)  # no classes: no purity, nothing mixed
    lines = [
        f"{printable(d['name'])} ({d['split']}): {d['n_images']} images, "
        + ("without labels." if unlabeled else f"{_classes(d)}."),
        f"{c['n_communities']} communities of similar images"
        + (basis.get(whole.get("count_from"), f" (eigengap estimate {whole['eigengap_k']})") if whole
           else " over the classes")
        + ("." if unlabeled else
           f"; {len(c['mixed'])} of them mixed (no class above {summary['params']['mixed_threshold']:.0%})."),
    ]
    if whole and whole.get("stability"):
        lines.append(_stability_sentence(whole["n_communities"], whole["stability"]))
    elif not whole:
        measured = [g for g in c["groups"] if g.get("stability")]
        if measured:
            clear = [printable(g["name"]) for g in measured if g["stability"]["clear"]]
            lines.append(f"A clear community structure (stable under resampling) in {len(clear)} of "
                         f"{len(measured)} classes" + (f": {', '.join(clear[:5])}" if clear else "")
                         + "; elsewhere treat communities as a coarse grouping.")
    communities = [] if unlabeled else [x for g in c["groups"] for x in g["communities"]]
    for x in sorted(communities, key=lambda x: (-x["purity"], -x["size"]))[:1]:
        lines.append(f"The purest community: {x['size']} images, {x['purity']:.0%} {printable(x['top_class'])}.")
    for x in [x for x in communities if x["mixed"]][:3]:
        lines.append(f"Mixed community {x['community']} ({x['size']} images): {_make_up(x['classes'], 3)}: "
                     "these classes overlap.")
    lines.append(f"Images were compared on {f['n_features']} of their {f['n_total']} wavelet coefficients "
                 f"(chosen by {printable(f['method'])}, condition number {condition}); together the images span "
                 f"{_number(c['numerical_rank']['wavelet'])} independent directions (numerical rank; "
                 f"{_number(c['numerical_rank']['pixel'])} in pixels).")
    return lines


def duplicates_findings(summary):
    """Sentences on what ``duplicates`` found and what to do about it, from its ``summary.json`` record."""
    d, a, b, params = summary["duplicates"], summary["dataset_a"], summary["dataset_b"], summary["params"]
    name_a = f"{printable(a['name'])} ({a.get('split', '')})"
    where = f"within {printable(a['name'])}" if b is None else f"between {name_a} and {printable(b['name'])} ({b.get('split', '')})"
    ratio = params.get("ratio")
    if "ratio" not in params:  # results of wavelens before 0.x: a fixed cosine
        how = f"cosine >= {params['threshold']}"
    elif ratio is None:
        how = f"similarity >= {params['threshold']}, a fixed cut"
    else:
        how = f"similarity >= {params['threshold']} and standing out from each image's neighbours, ratio {ratio}"
    n_pairs, groups = d["n_pairs"], d.get("n_groups")
    # Labels can disagree only between two labeled images: say instead which images have none.
    no_labels = [record for record in (a, b) if _unlabeled(record)]
    if not no_labels:
        labels = f", {_count(d['n_labels_disagree'], 'pair')} whose labels disagree"
    elif b is None or len(no_labels) == 2:
        labels = "; the images have no labels"
    else:
        unlabeled = no_labels[0]
        labels = f"; the images of {printable(unlabeled['name'])} ({unlabeled.get('split', '')}) have no labels"
    lines = [f"{n_pairs} near-duplicate {'pair' if n_pairs == 1 else 'pairs'} ({how}) {where}"
             + (f" in {_count(groups, 'group')}" if groups is not None else "")
             + f": {d['n_exact']} exact {'copy' if d['n_exact'] == 1 else 'copies'}{labels}."]
    n = d["n_images_a_with_duplicate"]
    if b is None:
        lines.append(f"{_count(n, 'image')} of {name_a} {_have(n)} a near-duplicate in it"
                     + (": keep one image of each group, or they weigh double in training and evaluation."
                        if n_pairs else "."))
    else:
        name_b = f"{printable(b['name'])} ({b.get('split', '')})"
        if (a.get("split"), b.get("split")) == ("test", "train"):
            advice = ": drop them from the test set, or the test accuracy is inflated by images trained on."
        else:
            advice = (f": if {name_a} is for testing and {name_b} for training, drop them from {name_a}, or the "
                      "test accuracy is inflated.")
        lines.append(f"{_count(n, 'image')} of {name_a} {_have(n)} a near-duplicate in {name_b}" + (advice if n else "."))
    if d["n_labels_disagree"] and not no_labels:
        n_disagree = d["n_labels_disagree"]
        lines.append(f"{_count(n_disagree, 'pair')} {_have(n_disagree)} different labels (listed "
                     "first): check which label is right.")
    return lines


def noise_curve_findings(record):
    """Sentences on the noise curve, from its ``noise_curve.json`` record."""
    lines = []
    for kind, what in (("image_patterns", "image patterns"), ("dataset_patterns", "dataset patterns")):
        rows = [r for r in record["rows"] if r["kind"] == kind]
        if rows:
            lines.append(f"NMI of {what} with classes: {rows[0]['nmi']:.3f} at {rows[0]['fraction']:.0%} random "
                         f"labels, {rows[-1]['nmi']:.4f} at {rows[-1]['fraction']:.0%} (permuted-label control "
                         f"{_number(rows[-1].get('random_nmi'))}).")
    return lines


def _have(n):
    """'has' for one, 'have' for any other number."""
    return "has" if n == 1 else "have"


def _count(n, noun):
    """'1 image', '2 images'."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _share(part, whole):
    return f"{100 * part / whole:.1f}%" if whole else "0%"


def audit_findings(summary):
    """What ``wavelens audit`` found, each finding with what to do about it (from ``summary.json``)."""
    a = summary["audit"]
    d = a["dataset"]
    n = d["n_images"]
    name = f"{printable(d['name'])} ({printable(d.get('split', ''))})"
    lines = [f"{name}: {n} images of {image_shape_text(d['image_shape'])}, {_classes(d)}; "
             f"checks: {', '.join(a['checks'])}."]
    if a.get("skipped"):
        lines.append(f"Skipped, as the images have no labels (or one class): {', '.join(a['skipped'])}.")
    errors = a.get("label_errors")
    if errors is not None:
        flagged = errors["n_flagged"]
        if flagged:
            top = "; ".join(f"{printable(s['label'])} -> {printable(s['suggested'])} ({s['count']})"
                            for s in errors["top_suggestions"][:3])
            lines.append(f"Label errors: {_count(flagged, 'image')} ({_share(flagged, n)}) look mislabeled: their "
                         f"nearest images are mostly of another class (most often {top}). Look at them in "
                         "issues.csv, highest label_error_score first, and relabel (suggested_class) or drop those "
                         "that are wrong; some are only ambiguous images, or unusual members of their class "
                         "(is_class_outlier too).")
            if flagged > 0.2 * n:
                lines.append("That is too many to be only wrong labels: the classes hardly separate in this "
                             "image description, so treat these as images that look like another class, not as "
                             "errors.")
        else:
            lines.append("Label errors: no image looks mislabeled: every image's nearest images agree with "
                         "its label as much as is usual for its class.")
    outliers = a.get("outliers")
    if outliers is not None:
        labeled = "classes" not in (a.get("skipped") or [])
        far_class = f", and {outliers['n_class_outliers']} far from the rest of their class" if labeled else ""
        lines.append(f"Outliers: {_count(outliers['n_outliers'], 'image')} far from every other image{far_class} "
                     f"(robust z > {outliers['z_cut']:g}): check that they belong in the dataset"
                     + (" and in their class." if labeled else "."))
        if outliers.get("n_reconstruction_outliers"):
            lines.append(f"{_count(outliers['n_reconstruction_outliers'], 'image')} poorly rebuilt from the "
                         "dataset patterns (robust z of the energy they leave out above "
                         f"{outliers['z_cut']:g}): unusual content; check them too.")
        low = outliers["n_low_information"]
        if low:
            lines.append(f"Low information: {_count(low, 'image')} blank, near-constant or clipped: drop them, or "
                         "find what broke when they were made.")
    classes = a.get("classes")
    if classes is not None and classes["confusable"]:
        first = classes["confusable"][0]
        others = ", ".join(f"{printable(c['class_a'])} / {printable(c['class_b'])}"
                           for c in classes["confusable"][1:3])
        lines.append(f"Confusable classes: {printable(first['class_a'])} and {printable(first['class_b'])} mix "
                     f"most ({100 * first['share_a_to_b']:.0f}% of the nearest images of "
                     f"{printable(first['class_a'])} are {printable(first['class_b'])}, "
                     f"{100 * first['share_b_to_a']:.0f}% the other way)"
                     + (f", then {others}" if others else "")
                     + ": expect a classifier to confuse them; check that the labeling rules separate them.")
        groups = classes.get("groups") or []
        if groups:
            listed = "; ".join("{" + ", ".join(printable(c) for c in group) + "}" for group in groups)
            grouped = sum(len(group) for group in groups)
            apart = "; the other classes stand apart" if grouped < len(classes["self_share"]) else ""
            lines.append(f"Classes that mix (each pair in a group shares at least {classes['group_overlap']:.0%} "
                         f"of its neighbourhoods): {listed}{apart}.")
    for part in ("duplicates", "communities"):
        if a.get(part) is not None:
            lines.extend(a[part]["summary"])
    if a.get("analysis") is not None:
        lines.extend(line for line in a["analysis"]["summary"] if "go with the classes" in line)
    return lines


def _percent(value):
    return "n/a" if value is None else f"{100 * value:.1f}%"


_FEW_TEST_IMAGES = 50  # below this, the learnability findings warn that the accuracies are rough


def _trend(start, end, text, at_start, at_end):
    """'rises from A with at_start to B with at_end', 'falls ...', or 'stays at about B from at_start to
    at_end' (within 0.001 and 2% of each other).

    >>> _trend(0.059, 0.0765, str, "0%", "100% random labels")
    'rises from 0.059 with 0% to 0.0765 with 100% random labels'
    >>> _trend(0.036, 0.0356, str, "0%", "100% random labels")
    'stays at about 0.0356 from 0% to 100% random labels'
    """
    if abs(end - start) <= max(1e-3, 0.02 * max(abs(start), abs(end))):
        return f"stays at about {text(end)} from {at_start} to {at_end}"
    return f"{'rises' if end > start else 'falls'} from {text(start)} with {at_start} to {text(end)} with {at_end}"


def learnability_findings(summary):
    """Sentences on what ``wavelens learnability`` measured, from its ``summary.json`` record."""
    import math

    d, lb, p = summary["dataset"], summary["learnability"], summary["params"]
    test = lb["test_dataset"]
    name = f"{printable(d['name'])} ({printable(d.get('split', ''))})"
    n_test, chance = lb["n_test"], lb["chance"]
    if lb["holdout"] is not None:
        reason = p.get("holdout_reason", "the dataset has no test split")
        where = (f"tested on {n_test} held out from them (a stratified {lb['holdout']:.0%} hold-out drawn "
                 f"with seed {p.get('random_state', 0)}{': ' + printable(reason) if reason else ''})")
    else:
        where = f"tested on the {n_test} images of {printable(test['name'])} ({printable(test.get('split', ''))})"
    lines = [f"{name}: classifiers trained on {lb['n_train']} images of {image_shape_text(d['image_shape'])}, "
             f"{where}; chance (the most frequent test class) is {_percent(chance)}."]
    if n_test < _FEW_TEST_IMAGES:
        lines.append(f"Caution: only {n_test} test images, each worth {100 / max(1, n_test):.1f} points of "
                     "accuracy: the figures below move by several points by chance alone; use more images.")
    # Test accuracy within this of chance is what chance gives (two standard errors, at least 2 points).
    margin = max(0.02, 2 * math.sqrt(max(chance * (1 - chance), 0.0) / max(1, n_test)))
    rows = lb["rows"]
    for classifier, description in lb["classifiers"].items():
        mine = [r for r in rows if r["classifier"] == classifier]
        original = next(r for r in mine if r["source"] == "original")["test_accuracy"]
        within = lb["within_one_point"].get(classifier, {})
        image = [r for r in mine if r["source"] == "image patterns"]
        series = ", ".join(f"{r['r']}: {_percent(r['test_accuracy'])}" for r in image)
        reached = within.get("image patterns")
        if reached is None:
            verdict = "no number of patterns reaches within 1 point of the originals"
        else:
            at = next(r for r in image if r["r"] == reached)
            psnr = "exact" if at["psnr_db"] is None else f"median PSNR {at['psnr_db']:.1f} dB"
            verdict = (f"{reached} of {lb['max_rank']} rank-1 patterns per image reach within 1 point of the "
                       f"originals ({psnr}), and every larger r measured stays there")
        line = (f"{description[0].upper() + description[1:]}: {_percent(original)} test accuracy on the original "
                f"images; rebuilt from their top r patterns (r: accuracy) {series}: {verdict}")
        dataset_reached = within.get("dataset patterns")
        if dataset_reached is not None:
            line += f"; from the top m dataset patterns, m = {dataset_reached} and up"
        lines.append(line + ".")
        if original <= chance + 0.01:
            what = "kNN" if classifier == "knn" else classifier
            lines.append(f"Caution: the {what} classifier does no better than chance on the original images "
                         f"({_percent(original)}, chance {_percent(chance)}), so what the patterns keep or lose "
                         "says nothing here"
                         + (" (is alpha, the ridge penalty, far too large?)" if classifier == "linear" else "")
                         + ".")
    noise = lb["noise"]
    fractions = sorted({r["fraction"] for r in noise})
    if fractions and fractions[-1] > 0:
        last, first = fractions[-1], fractions[0]
        compare = len(fractions) > 1
        for classifier in lb["classifiers"]:
            end = next(r for r in noise if r["classifier"] == classifier and r["fraction"] == last)
            start = next(r for r in noise if r["classifier"] == classifier and r["fraction"] == first)
            trained, tested = end["train_accuracy"], end["test_accuracy"]
            # Nothing generalizes: every label random, or the test accuracy at chance.
            nothing = last >= 1 or tested <= chance + margin
            if end.get("loo_error") is not None:
                # The kNN: each training image is its own nearest neighbour (distance 0), so its training
                # accuracy is built in; what it must memorize is its leave-one-out error.
                line = (f"With {last:.0%} random training labels, the kNN classifier's leave-one-out error (the "
                        "share of training labels its neighbours, without the image, contradict: the labels it "
                        f"must memorize rather than infer) is {_percent(end['loo_error'])}")
                if compare and start.get("loo_error") is not None:
                    line += f" ({_percent(start['loo_error'])} with {first:.0%})"
                line += f", and it is right on {_percent(tested)} of the test images"
                if compare:
                    line += f" ({_percent(start['test_accuracy'])} with {first:.0%})"
                if nothing:
                    line += ": it memorizes the random labels and learns nothing that generalizes"
                else:
                    line += (f": it still learns from the labels left true ({_percent(chance)} is chance)")
                if trained is not None:
                    line += (f". Its {_percent(trained)} training accuracy is built in: each training image is its "
                             "own nearest neighbour, at distance 0, so it fits any labels")
            else:
                what = "kNN" if classifier == "knn" else classifier
                line = (f"With {last:.0%} random training labels, the {what} classifier is right on "
                        f"{_percent(trained)} of its training labels and {_percent(tested)} of the test images")
                if compare:
                    line += (f" (with {first:.0%}: {_percent(start['train_accuracy'])} and "
                             f"{_percent(start['test_accuracy'])})")
                if trained is None:
                    pass
                elif nothing and trained > 0.9:
                    line += ": it memorizes the random labels and learns nothing that generalizes"
                elif nothing:
                    fits = ("no more than chance" if trained <= chance + margin
                            else f"{_percent(trained)} of its training labels, against {_percent(chance)} chance")
                    line += f": at its fixed capacity it fits {fits}, and learns nothing that generalizes"
                else:
                    line += (f": it still learns from the labels left true ({_percent(chance)} is chance)")
            lines.append(line + ".")
        first_row = next((r for r in noise if r["fraction"] == first), {})
        last_row = next((r for r in noise if r["fraction"] == last), {})
        first_nmi, last_nmi, baseline = first_row.get("nmi"), last_row.get("nmi"), last_row.get("random_nmi")
        if last_nmi is not None:
            if compare and first_nmi is not None:
                line = (f"Meanwhile the image patterns' association with the labels (NMI) "
                        f"{_trend(first_nmi, last_nmi, lambda v: format(v, '.4f'), f'{first:.0%}', f'{last:.0%} random labels')}")
            else:
                line = f"The image patterns' association with the labels (NMI) is {last_nmi:.4f} with {last:.0%} random labels"
            if baseline is not None:
                # With every label random, the NMI is that of a random relabeling, whatever the difference.
                if last >= 1 or last_nmi <= 1.5 * baseline + 1e-3:
                    line += (f", where a random relabeling gives {baseline:.4f}: the patterns stay, the random labels "
                             "no longer go with them")
                else:
                    line += (f", above the {baseline:.4f} of a random relabeling: the labels left true still go with "
                             "the patterns")
            lines.append(line + ".")
    return lines
