"""Figures of wavelens results: arrays in, matplotlib figures out.

matplotlib is imported lazily, with the non-interactive Agg backend, so the
library works without a display. Each function returns a ``Figure``; the
report turns them into PNG bytes with :func:`to_png`.

Two rules hold for every figure:

- **Channels.** An image of shape (H, W) or (H, W, 1) is drawn in gray, one of
  shape (H, W, 3) in colour (RGB), and one with any other number of channels
  (2, 4, 5, ...) as the mean of its channels, in gray: wavelens cannot know
  what a 4th channel means (alpha, infrared...), so it draws none of them as
  colour. Signed patterns (prototypes, dataset patterns) are drawn on a
  red-blue scale, so always as the mean of their channels. :func:`shown`
  applies the rule, and :func:`channel_note` is the sentence the report adds
  to a figure's caption where the rule changed what is drawn.
- **Text from the data** (class names, captions) goes through
  :func:`figure_text`: made printable by :func:`wavelens._validation.printable` (undecodable bytes
  become U+FFFD, control characters their escapes), ``$`` escaped so that
  matplotlib never parses it as mathtext, and long names cut.
"""

import io
import warnings

import numpy as np

from .._validation import printable

__all__ = [
    "association_heatmaps",
    "channel_note",
    "community_members",
    "duplicate_pairs",
    "eigenvalue_plot",
    "figure_text",
    "image_grid",
    "learnability_plot",
    "memorization_plot",
    "noise_curve_plot",
    "pattern_gallery",
    "rank_distribution",
    "rebuild_series",
    "shown",
    "singular_value_decay",
    "to_png",
    "warm_up",
    "wavelet_decomposition",
]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


# --- the two rules: channels, and text from the data ----------------------------------------

def shown(images, *, stack=False, signed=False):
    """What is drawn for an image (or, with ``stack``, each image of a stack) of any channel count.

    (H, W) stays gray; (H, W, 3) stays colour (RGB), unless ``signed``; any
    other last axis (1, 2, 4, 5... channels) is replaced by the mean over it,
    drawn in gray. Returns float64.
    """
    images = np.asarray(images, dtype=np.float64)
    if images.ndim == (4 if stack else 3) and (signed or images.shape[-1] != 3):
        images = images.mean(axis=-1)
    return images


def channel_note(n_channels, *, signed=False):
    """The caption's sentence on how images of ``n_channels`` channels are drawn ("" where there is nothing to say)."""
    if n_channels in (None, 1) or (n_channels == 3 and not signed):
        return ""
    if signed:
        return f" The patterns have {n_channels} channels: each is drawn as the mean of its channels."
    return (f" The images have {n_channels} channels: each is drawn as the mean of its channels, in gray "
            "(wavelens draws 3 channels as RGB, and any other number this way).")


def figure_text(text, limit=None, *, mark_cut=False):
    """Text from the data as a matplotlib label: :func:`~wavelens._validation.printable`, at most ``limit`` characters
    (ending with an ellipsis if ``mark_cut``), and ``$`` escaped so that matplotlib draws it as it
    is rather than parsing it as mathtext."""
    text = printable(text)
    if limit is not None and len(text) > limit:
        text = text[:limit - 1] + "\u2026" if mark_cut else text[:limit]
    return text.replace("$", "\\$")


# --- drawing --------------------------------------------------------------------------------

def warm_up():
    """Load matplotlib and draw one small figure, so that fonts, text layout and the PNG
    encoder are loaded before the figures that matter (e.g. in a process about to fork)."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(1, 1))
    axis.imshow(np.eye(2), cmap="RdBu_r")
    axis.set_title("warm-up", fontsize=8)
    axis.set_xlabel("x", fontsize=7)
    to_png(figure)


def to_png(figure, *, dpi=90, pad_inches=0.1):
    """PNG bytes of a figure cropped to what is drawn on it, plus ``pad_inches`` (the figure is then closed).

    The result of ``savefig(bbox_inches="tight")``, for a figure drawn once:
    savefig draws it twice (once to measure, once to render), which was a
    quarter of the report's time. When something lies outside the canvas,
    cropping cannot show it, and savefig is used.
    """
    plt = _pyplot()
    try:
        with warnings.catch_warnings():
            # A name in a script the font lacks (CJK...) is drawn as boxes: not worth a warning per figure.
            warnings.filterwarnings("ignore", message="Glyph .* missing from", category=UserWarning)
            return _render(figure, dpi, pad_inches)
    finally:
        plt.close(figure)


def _render(figure, dpi, pad_inches):
    from PIL import Image

    figure.set_dpi(dpi)
    canvas = figure.canvas
    if not hasattr(canvas, "buffer_rgba"):  # a figure made under another backend
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        canvas = FigureCanvasAgg(figure)
    canvas.draw()
    content = figure.get_tightbbox(canvas.get_renderer())
    width, height = figure.get_size_inches()
    buffer = io.BytesIO()
    if content.x0 >= 0 and content.y0 >= 0 and content.x1 <= width and content.y1 <= height:
        box = content.padded(pad_inches)
        pixels = np.asarray(canvas.buffer_rgba())
        rows = pixels.shape[0]
        left, right = max(0, int(np.floor(box.x0 * dpi))), min(pixels.shape[1], int(np.ceil(box.x1 * dpi)))
        top, bottom = max(0, rows - int(np.ceil(box.y1 * dpi))), min(rows, rows - int(np.floor(box.y0 * dpi)))
        Image.fromarray(pixels[top:bottom, left:right]).save(buffer, format="png", dpi=(dpi, dpi))
    else:
        figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", pad_inches=pad_inches)
    return buffer.getvalue()


def _show(axis, image, *, diverging=False):
    image = shown(image, signed=diverging)
    if diverging:
        limit = np.abs(image).max() or 1.0
        axis.imshow(image, cmap="RdBu_r", vmin=-limit, vmax=limit)
    elif image.ndim == 3:
        axis.imshow(np.clip(image, 0, 1))
    else:
        axis.imshow(image, cmap="gray", vmin=0, vmax=max(1.0, float(image.max())))
    axis.set_xticks([])
    axis.set_yticks([])


def _mosaic(rows_of_images, gap=2):
    """Images laid out in rows on a white canvas (grey or RGB), and each tile's top-left corner.

    Each row is a stack of images, drawn by the rule of :func:`shown`; a row may be empty.
    """
    rows_of_images = [shown(row, stack=True) for row in rows_of_images]
    first = next((row[0] for row in rows_of_images if len(row)), np.zeros((1, 1)))
    h, w = first.shape[:2]
    columns = max([len(row) for row in rows_of_images] + [1])
    colour = any(row.ndim == 4 for row in rows_of_images if len(row))
    canvas = np.ones((max(1, len(rows_of_images) * (h + gap) - gap), columns * (w + gap) - gap)
                     + ((3,) if colour else ()))
    for r, row in enumerate(rows_of_images):
        for c, image in enumerate(row):
            image = np.clip(image, 0, 1)
            if colour and image.ndim == 2:
                image = np.repeat(image[..., None], 3, axis=-1)
            canvas[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = image
    return canvas, h, w, gap


def image_grid(images, labels, class_names, *, per_class=8, max_classes=20):
    """Sample images, a row per class (one mosaic, drawn at once)."""
    plt = _pyplot()
    classes = [c for c in range(len(class_names)) if np.any(labels == c)][:max_classes]
    canvas, h, w, gap = _mosaic([images[labels == c][:per_class] for c in classes])
    figure, axis = plt.subplots(figsize=(per_class * 0.9 + 1.2, max(1, len(classes)) * 0.9))
    axis.imshow(canvas, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    for row, c in enumerate(classes):
        axis.text(-gap * 2, row * (h + gap) + h / 2, figure_text(class_names[c], 40, mark_cut=True), ha="right",
                  va="center", fontsize=8)
    axis.axis("off")
    return figure


def wavelet_decomposition(image, coefficients):
    """An image beside its wavelet matrix (log of absolute values)."""
    plt = _pyplot()
    figure, axes = plt.subplots(1, 2, figsize=(6, 3))
    _show(axes[0], image)
    axes[0].set_title("image", fontsize=9)
    matrix = np.asarray(coefficients, dtype=np.float64)
    if matrix.ndim == 3:
        matrix = np.sqrt((matrix ** 2).sum(axis=-1))
    axes[1].imshow(np.log10(np.abs(matrix) + 1e-3), cmap="magma")
    axes[1].set_xticks([])
    axes[1].set_yticks([])
    axes[1].set_title("wavelet matrix (log10 |coefficient|)", fontsize=9)
    return figure


def singular_value_decay(singular_values):
    """Median and spread over images of s_j / s_1 against j."""
    plt = _pyplot()
    s = np.asarray(singular_values, dtype=np.float64)
    s = np.sqrt((s ** 2).sum(axis=1)) if s.ndim == 3 else s
    s = s[s[:, 0] > 0]
    if not len(s):  # every image is blank: nothing decays
        s = np.ones((1, s.shape[1]))
    ratio = s / s[:, :1]
    index = np.arange(1, s.shape[1] + 1)
    low, median, high = np.percentile(ratio, [10, 50, 90], axis=0)
    figure, axis = plt.subplots(figsize=(5, 3))
    axis.fill_between(index, np.maximum(low, 1e-8), np.maximum(high, 1e-8), alpha=0.3,
                      label="10th to 90th percentile")
    axis.semilogy(index, np.maximum(median, 1e-8), marker="o", markersize=3, label="median image")
    # Plain "1e-03" labels: the default mathtext ones cost a tenth of a second to typeset.
    from matplotlib import ticker

    axis.yaxis.set_major_formatter(ticker.FuncFormatter(lambda y, _: "1" if y == 1 else f"{y:.0e}"))
    axis.yaxis.set_minor_formatter(ticker.NullFormatter())
    axis.set_xlabel("pattern j")
    axis.set_ylabel("s_j / s_1")
    axis.legend(fontsize=8)
    return figure


def rank_distribution(ranks, max_rank, energy):
    """Histogram of r(e) over images."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5, 3))
    axis.hist(ranks, bins=np.arange(0, max_rank + 2) - 0.5, color="#4472c4")
    axis.axvline(np.median(ranks), color="black", linestyle="--", label=f"median {np.median(ranks):g}")
    axis.set_xlabel(f"rank-1 patterns for {energy:.0%} of the energy, r(e)")
    axis.set_ylabel("images")
    axis.legend(fontsize=8)
    return figure


def rebuild_series(original, rebuilds, counts):
    """An image rebuilt from 1, 2, 4, ... rank-1 patterns, beside the original."""
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(rebuilds) + 1, figsize=(1.3 * (len(rebuilds) + 1), 1.7), squeeze=False)
    axes = axes[0]
    for axis, image, count in zip(axes, rebuilds, counts):
        _show(axis, image)
        axis.set_title(f"{count} pattern{'s' if count > 1 else ''}", fontsize=8)
    _show(axes[-1], original)
    axes[-1].set_title("original", fontsize=8)
    return figure


def pattern_gallery(patterns, tables, class_names, *, title_prefix="P", order=None, max_patterns=24, columns=8):
    """Patterns in pixel space, each above a bar chart of its class distribution.

    One axis for the whole gallery (a mosaic and one bar call), which draws
    far faster than an axis per pattern.
    """
    plt = _pyplot()
    patterns = shown(patterns, stack=True, signed=True)
    tables = np.asarray(tables, dtype=np.float64)
    order = (np.arange(len(patterns)) if order is None else np.asarray(order))[:max_patterns]
    h, w = patterns.shape[1:3]
    gap, bar_height = max(1, w // 4), 0.6 * h
    cell_w, cell_h = w + gap, h + bar_height + 2 * gap
    rows = max(1, int(np.ceil(len(order) / columns)))
    mosaic = np.full((int(np.ceil(rows * cell_h)), columns * cell_w), np.nan)
    bar_x, bar_height_list, bar_bottom, labels = [], [], [], []
    n_classes = tables.shape[1]
    for slot, p in enumerate(order):
        row, col = divmod(slot, columns)
        top, left = int(round(row * cell_h)), col * cell_w
        tile = patterns[p]
        mosaic[top:top + h, left:left + w] = tile / (np.abs(tile).max() or 1.0)
        counts = tables[p]
        share = counts / counts.sum() if counts.sum() > 0 else counts
        width = w / n_classes
        bar_x.extend(left - 0.5 + width * (np.arange(n_classes) + 0.5))
        bar_height_list.extend(-share * bar_height)
        bar_bottom.extend([top + h + gap + bar_height - 0.5] * n_classes)
        best = figure_text(class_names[int(share.argmax())], 10) if counts.sum() > 0 else ""
        labels.append((left + w / 2, top - 0.8, f"{title_prefix}{p} {best}"))
    from matplotlib.collections import LineCollection, PolyCollection

    cmap = plt.get_cmap("RdBu_r").with_extremes(bad="white")
    figure, axis = plt.subplots(figsize=(columns * 1.25, rows * 1.25 * cell_h / w))
    axis.imshow(mosaic, cmap=cmap, vmin=-1, vmax=1, interpolation="nearest")
    # One collection for all bars and one for their baselines: an artist per bar drew 3x slower.
    half = w / n_classes * 0.85 / 2
    x, top, bottom = np.asarray(bar_x), np.asarray(bar_bottom) + np.asarray(bar_height_list), np.asarray(bar_bottom)
    bars = np.stack([np.stack([x - half, bottom], 1), np.stack([x - half, top], 1),
                     np.stack([x + half, top], 1), np.stack([x + half, bottom], 1)], axis=1)
    axis.add_collection(PolyCollection(bars, facecolors="#4472c4", edgecolors="none"))
    baselines = sorted(set(bar_bottom))
    axis.add_collection(LineCollection(
        [[((slot % columns) * cell_w - 0.5, baselines[slot // columns]),
          ((slot % columns) * cell_w + w - 0.5, baselines[slot // columns])] for slot in range(len(order))],
        colors="#999", linewidths=0.5))
    for x, y, text in labels:
        axis.text(x, y, text, ha="center", va="bottom", fontsize=6)
    axis.set_xlim(-0.5, mosaic.shape[1] - 0.5)
    axis.set_ylim(mosaic.shape[0] - 0.5, -0.5 - 0.15 * h)
    axis.axis("off")
    return figure


def association_heatmaps(true_table, random_table, class_names, *, max_patterns=40):
    """P(class | pattern) for true and random labels, side by side, the largest patterns first.

    Both tables are one image on one axis, split by a blank gap: half the tick
    and label artists of two axes, which dominated the drawing time.
    """
    plt = _pyplot()
    true_table = np.asarray(true_table, dtype=np.float64)
    random_table = np.asarray(random_table, dtype=np.float64)
    order = np.argsort(-true_table.sum(axis=1), kind="stable")[:max_patterns]
    n_classes, gap = len(class_names), max(1, len(class_names) // 5)

    def conditional(table):
        rows = table[order]
        return rows / np.maximum(rows.sum(axis=1, keepdims=True), 1e-300)

    both = np.hstack([conditional(true_table), np.full((len(order), gap), np.nan), conditional(random_table)])
    figure, axis = plt.subplots(figsize=(10, 0.18 * len(order) + 1.8))
    cmap = plt.get_cmap("viridis").with_extremes(bad="white")
    image = axis.imshow(both, aspect="auto", cmap=cmap, vmin=0, vmax=1, interpolation="nearest")
    for spine in axis.spines.values():
        spine.set_visible(False)
    short = [figure_text(n, 12) for n in class_names]
    axis.set_xticks(np.r_[np.arange(n_classes), np.arange(n_classes) + n_classes + gap], short + short,
                    rotation=90, fontsize=7)
    axis.set_yticks(np.arange(len(order)), [f"P{p}" for p in order], fontsize=6)
    for left, title in ((0, "true labels"), (n_classes + gap, "random labels")):
        axis.text(left + (n_classes - 1) / 2, -0.8, title, ha="center", va="bottom", fontsize=9)
    figure.colorbar(image, ax=axis, fraction=0.03, label="P(class | pattern)")
    return figure


def noise_curve_plot(fractions, nmi, random_nmi=None, *, label="image patterns"):
    """NMI of patterns with classes against the fraction of random labels."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5, 3))
    axis.plot(fractions, nmi, marker="o", label=f"{label}, corrupted labels")
    if random_nmi is not None:
        axis.plot(fractions, random_nmi, linestyle="--", color="gray", label="permuted-label control")
    axis.set_xlabel("fraction of labels replaced at random")
    axis.set_ylabel("NMI(pattern, class)")
    axis.set_ylim(bottom=0)
    axis.legend(fontsize=8)
    return figure


def eigenvalue_plot(eigenvalues, eigengap_k):
    """The smallest Laplacian eigenvalues with the eigengap marked."""
    plt = _pyplot()
    values = np.asarray(eigenvalues)
    figure, axis = plt.subplots(figsize=(5, 3))
    index = np.arange(1, len(values) + 1)
    axis.plot(index, values, marker="o", markersize=3)
    axis.axvline(eigengap_k + 0.5, color="red", linestyle="--", label=f"largest gap after {eigengap_k}")
    axis.set_xlabel("k")
    axis.set_ylabel("eigenvalue of the normalized Laplacian")
    axis.legend(fontsize=8)
    return figure


def gap_profile_plot(gap_profile, chosen):
    """The average eigengap after each count k = 2, 3, ... with the count used marked."""
    plt = _pyplot()
    values = np.asarray(gap_profile, dtype=float)
    counts = np.arange(2, len(values) + 2)
    figure, axis = plt.subplots(figsize=(5, 3))
    axis.bar(counts, values, color=["#c0392b" if k == chosen else "#4472c4" for k in counts])
    axis.set_xlabel("number of communities k")
    axis.set_ylabel("average gap after k")
    return figure


def community_members(members, titles, *, per_row=5):
    """A row of central members per community. ``members``: list of image stacks."""
    plt = _pyplot()
    canvas, h, w, gap = _mosaic([stack[:per_row] for stack in members])
    figure, axis = plt.subplots(figsize=(per_row * 0.9 + 1.0, max(1, len(members)) * 0.9))
    axis.imshow(canvas, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    for row, title in enumerate(titles):
        axis.text(-gap * 2, row * (h + gap) + h / 2, figure_text(title, 40, mark_cut=True), ha="right",
                  va="center", fontsize=7)
    axis.axis("off")
    return figure


def duplicate_pairs(images_a, images_b, captions):
    """Duplicate pairs side by side, a pair per column."""
    plt = _pyplot()
    n = len(images_a)
    figure, axes = plt.subplots(2, n, figsize=(max(n, 1) * 1.2, 2.9), squeeze=False)
    for i in range(n):
        _show(axes[0, i], images_a[i])
        _show(axes[1, i], images_b[i])
        # A caption is two lines (the pair, the similarity); each is data text.
        axes[0, i].set_title("\n".join(figure_text(line, 24, mark_cut=True)
                                       for line in str(captions[i]).split("\n")[:2]), fontsize=6)
    axes[0, 0].set_ylabel("A", rotation=0, ha="right")
    axes[1, 0].set_ylabel("B", rotation=0, ha="right")
    return figure


def gallery(images, captions, *, first_column_marked=True):
    """A grid of images, each with its caption below (``images``: (rows, columns, H, W[, C])); the
    first column's captions in red (the images a row is about) when ``first_column_marked``."""
    plt = _pyplot()
    rows, columns = images.shape[:2]
    canvas, h, w, gap = _mosaic(list(images), gap=max(2, images.shape[3] // 2))
    figure, axis = plt.subplots(figsize=(columns * 1.25 + 0.4, max(1, rows) * 1.45))
    axis.imshow(canvas, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    for r in range(rows):
        for c in range(columns):
            lines = [figure_text(line, 22, mark_cut=True) for line in str(captions[r, c]).split("\n")[:2]]
            axis.text(c * (w + gap) + w / 2, r * (h + gap) + h + 0.5, "\n".join(lines), ha="center", va="top",
                      fontsize=6, color="#b00020" if c == 0 and first_column_marked else "#333")
    axis.set_ylim(rows * (h + gap) + h * 0.1, -1)
    axis.axis("off")
    return figure


def overlap_heatmap(overlap, class_names):
    """The class overlap matrix off its diagonal: row c, the class make-up of the neighbours of class
    c's images."""
    plt = _pyplot()
    n = len(class_names)
    figure, axis = plt.subplots(figsize=(max(4, n * 0.45 + 2), max(3.5, n * 0.45 + 1.5)))
    shown_values = np.array(overlap, dtype=float)
    np.fill_diagonal(shown_values, np.nan)  # the own-class share would drown the overlaps
    image = axis.imshow(shown_values, cmap="viridis", vmin=0, vmax=max(1e-9, float(np.nanmax(shown_values, initial=0))))
    labels = [figure_text(name, 18, mark_cut=True) for name in class_names]
    axis.set_xticks(range(n), labels, rotation=60, ha="right", fontsize=7)
    axis.set_yticks(range(n), labels, fontsize=7)
    axis.set_xlabel("class of the neighbours")
    axis.set_ylabel("class of the image")
    figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04)
    return figure


_CLASSIFIER_COLOURS = ("#4472c4", "#c0392b", "#2e8b57", "#8e44ad")


def learnability_plot(series, originals, psnr, *, chance=None, max_rank=None):
    """Test accuracy against the number of patterns images are rebuilt from, one panel per kind of pattern.

    ``series``: {kind: {classifier: (counts, accuracies)}}; ``originals``: {classifier: accuracy on the
    original images} (dashed lines); ``psnr``: {kind: (counts, median PSNR in dB, None where exact)},
    drawn in gray on a second axis.
    """
    plt = _pyplot()
    kinds = list(series)
    figure, axes = plt.subplots(1, len(kinds), figsize=(5.2 * len(kinds), 3.4), squeeze=False)
    for axis, kind in zip(axes[0], kinds):
        for colour, (classifier, (counts, accuracies)) in zip(_CLASSIFIER_COLOURS, series[kind].items()):
            name = figure_text(classifier, 20)
            axis.plot(counts, np.asarray(accuracies) * 100, marker="o", color=colour, label=name)
            if classifier in originals:
                axis.axhline(originals[classifier] * 100, color=colour, linestyle="--", linewidth=1,
                             label=f"{name}, original images")
        if chance is not None:
            axis.axhline(chance * 100, color="gray", linestyle=":", linewidth=1, label="chance")
        axis.set_xscale("log", base=2)
        axis.set_xlabel(f"{kind.replace('_', ' ')} kept" + (f" (of {max_rank})" if kind == "image patterns" and
                                                              max_rank else ""))
        axis.set_ylabel("test accuracy (%)")
        counts, values = psnr.get(kind, ([], []))
        shown_counts = [c for c, v in zip(counts, values) if v is not None]
        if shown_counts:
            second = axis.twinx()
            second.plot(shown_counts, [v for v in values if v is not None], color="gray", marker="s", markersize=3,
                        linewidth=1, alpha=0.7)
            second.set_ylabel("median PSNR of the rebuilt images (dB)", color="gray", fontsize=8)
            second.tick_params(axis="y", colors="gray", labelsize=7)
        axis.set_title(f"rebuilt from the top {kind}", fontsize=9)
        axis.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    return figure


def memorization_plot(fractions, train, test, nmi=None, *, loo_error=None, chance=None):
    """Training (solid) and test (dashed) accuracy against the fraction of random training labels, per
    classifier (``train``, ``test``, ``loo_error``: {classifier: values}), with the image-pattern NMI on a
    second axis."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(6.4, 4.4))
    percent = 100 * np.asarray(fractions, dtype=float)
    for colour, classifier in zip(_CLASSIFIER_COLOURS, train):
        name = figure_text(classifier, 20)
        axis.plot(percent, 100 * np.asarray(train[classifier], float), marker="o", color=colour,
                  label=f"{name}, training images")
        axis.plot(percent, 100 * np.asarray(test[classifier], float), marker="o", color=colour, linestyle="--",
                  label=f"{name}, test images")
        if loo_error and loo_error.get(classifier) is not None:
            axis.plot(percent, 100 * np.asarray(loo_error[classifier], float), color=colour, linestyle=":",
                      label=f"{name}, leave-one-out error")
    if chance is not None:
        axis.axhline(chance * 100, color="gray", linestyle=":", linewidth=1, label="chance")
    axis.set_xlabel("training labels replaced at random (%)")
    axis.set_ylabel("accuracy (%)")
    axis.set_ylim(0, 102)
    handles, labels = axis.get_legend_handles_labels()
    if nmi is not None and any(v is not None for v in nmi):
        second = axis.twinx()
        second.plot(percent, [np.nan if v is None else v for v in nmi], color="black", marker="s", markersize=3,
                    linewidth=1, alpha=0.6, label="NMI(image pattern, label)")
        second.set_ylabel("NMI(image pattern, label)", fontsize=8)
        second.set_ylim(bottom=0)
        more_handles, more_labels = second.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    axis.legend(handles, labels, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3)
    figure.tight_layout()
    return figure
