"""Near-duplicates: planted copies found (precision, recall per kind of change), and Fashion-MNIST test vs train.

Part 1 plants transformed copies of random images of scikit-learn's digits and of
Fashion-MNIST's test set into a copy of the set (within-set search), one kind of
change per copy: a shift of 1 or 2 pixels (zero fill), a crop of 5-10% of each
side resized back, brightness and contrast, a resize to 60-80% and back, and JPEG
quality 75 (Pillow). Recall: planted pairs (source, copy) flagged. Precision:
flagged pairs involving a copy that are right: its source, or an image the source
itself is flagged with in the set as shipped (an organic duplicate of the source).

Part 2 runs Fashion-MNIST test against train as shipped, prints the number of
flagged pairs and times, and saves a seeded random sample of 50 flagged pairs side
by side (test image left, train image right) as one PNG to judge by eye.

    .venv/bin/python benchmarks/bench_duplicates.py [--out /tmp/duplicates_sample.png] [--skip-fm]
"""

import argparse
import io
import time

import numpy as np
from PIL import Image, ImageDraw

import wavelens

KINDS = ("shift", "crop", "brightness_contrast", "resize", "jpeg75")


def transform(image, kind, rng):
    """One uint8 gray image (H, W), changed by ``kind``, of the same shape."""
    h, w = image.shape
    if kind == "shift":
        dy, dx = 0, 0
        while max(abs(dy), abs(dx)) == 0:
            dy, dx = (int(v) for v in rng.integers(-2, 3, 2))
        out = np.zeros_like(image)
        out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = \
            image[max(-dy, 0):h + min(-dy, 0), max(-dx, 0):w + min(-dx, 0)]
        return out
    pil = Image.fromarray(image)
    if kind == "crop":
        f = rng.uniform(0.05, 0.10)
        ch, cw = max(1, round(f * h)), max(1, round(f * w))
        top, left = int(rng.integers(0, ch + 1)), int(rng.integers(0, cw + 1))
        return np.asarray(pil.crop((left, top, left + w - cw, top + h - ch)).resize((w, h), Image.BILINEAR))
    if kind == "brightness_contrast":
        a, b = rng.uniform(0.7, 1.3), rng.uniform(-0.15, 0.15) * 255
        x = image.astype(np.float64)
        return np.clip(a * (x - x.mean()) + x.mean() + b, 0, 255).round().astype(np.uint8)
    if kind == "resize":
        f = rng.uniform(0.6, 0.8)
        small = pil.resize((max(2, round(w * f)), max(2, round(h * f))), Image.BILINEAR)
        return np.asarray(small.resize((w, h), Image.BILINEAR))
    if kind == "jpeg75":
        buffer = io.BytesIO()
        pil.save(buffer, format="JPEG", quality=75)
        return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("L"))
    raise ValueError(kind)


def planted(pixels, labels, per_kind, seed):
    rng = np.random.default_rng(seed)
    sources = rng.choice(len(pixels), per_kind * len(KINDS), replace=False)
    kinds = np.repeat(KINDS, per_kind)
    copies = np.stack([transform(pixels[s], k, rng) for s, k in zip(sources, kinds)])
    return np.concatenate([pixels, copies]), np.concatenate([labels, labels[sources]]), sources, kinds


def pair_set(found):
    return set(zip(found.pairs.index_a.tolist(), found.pairs.index_b.tolist()))


def bench_planted(name, pixels, labels, per_kind, seed=0):
    n = len(pixels)
    shipped = pair_set(wavelens.find_near_duplicates(wavelens.from_arrays(pixels, labels)))
    images, all_labels, sources, kinds = planted(pixels, labels, per_kind, seed)
    start, cpu = time.perf_counter(), time.process_time()
    found = wavelens.find_near_duplicates(wavelens.from_arrays(images, all_labels))
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    pairs = pair_set(found)
    source_of = {n + k: int(s) for k, s in enumerate(sources)}
    print(f"{name}: {n} images + {len(sources)} planted copies ({per_kind} per kind); "
          f"{len(found.pairs)} pairs flagged, {len(shipped)} in the set as shipped; {wall:.2f} s wall, {cpu:.2f} s CPU")
    totals = np.zeros(3, int)
    for kind in KINDS + ("all",):
        copies = set(n + np.flatnonzero((kinds == kind) | (kind == "all"))) if kind != "all" else set(source_of)
        planted_pairs = {(source_of[c], c) for c in copies}
        involving = [p for p in pairs if p[1] in copies or p[0] in copies]
        right = 0
        for i, j in involving:
            copy, other = (j, i) if j in copies else (i, j)
            source = source_of[copy]
            right += other == source or (min(source, other), max(source, other)) in shipped or (
                other in source_of and source_of[other] == source)
        hits = len(planted_pairs & pairs)
        recall = hits / len(planted_pairs)
        precision = right / len(involving) if involving else float("nan")
        print(f"  {kind:20s} recall {recall:.3f} ({hits}/{len(planted_pairs)})  "
              f"precision {precision:.3f} ({right}/{len(involving)})")


def save_grid(test, train, pairs, path, scale=3, columns=5):
    h, w = test.image_shape[:2]
    cell_w, cell_h = (2 * w + 4) * scale + 12, h * scale + 14
    rows = -(-len(pairs) // columns)
    canvas = Image.new("L", (columns * cell_w, rows * cell_h), 96)
    draw = ImageDraw.Draw(canvas)
    for k, (i, j, s) in enumerate(pairs):
        r, c = divmod(k, columns)
        for side, image in enumerate((test.select_images([i])[0], train.select_images([j])[0])):
            tile = Image.fromarray((np.clip(image, 0, 1) * 255).astype(np.uint8))
            canvas.paste(tile.resize((w * scale, h * scale), Image.NEAREST),
                         (c * cell_w + side * (w + 4) * scale, r * cell_h + 12))
        draw.text((c * cell_w, r * cell_h), f"{k + 1}: {i}~{j} {s:.3f}", fill=255)
    canvas.save(path)


def bench_fashion_mnist(out, sample=50, seed=0):
    test = wavelens.load_dataset("fashion-mnist", split="test")
    train = wavelens.load_dataset("fashion-mnist", split="train")
    start, cpu = time.perf_counter(), time.process_time()
    found = wavelens.find_near_duplicates(test, train)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    p = found.pairs
    print(f"Fashion-MNIST test vs train: {len(p)} pairs flagged ({int(p.exact.sum())} exact), "
          f"{found.to_dict()['duplicates']['n_images_a_with_duplicate']} test images, {found.n_groups} groups; "
          f"{wall:.2f} s wall, {cpu:.2f} s CPU ({', '.join(f'{k} {v:.2f} s' for k, v in found.timings_s.items())})")
    print(found.summary())
    rows = np.random.default_rng(seed).choice(len(p), min(sample, len(p)), replace=False)
    save_grid(test, train, [(int(p.index_a[r]), int(p.index_b[r]), float(p.similarity[r])) for r in rows], out)
    print(f"  {len(rows)} random flagged pairs (seed {seed}), test left, train right: {out}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="/tmp/duplicates_sample.png", help="PNG of the sampled pairs")
    parser.add_argument("--skip-fm", action="store_true", help="digits only")
    args = parser.parse_args()
    from sklearn.datasets import load_digits

    digits = load_digits()
    bench_planted("digits", (digits.images / 16 * 255).round().astype(np.uint8), digits.target, 50)
    if not args.skip_fm:
        test = wavelens.load_dataset("fashion-mnist", split="test")
        bench_planted("fashion-mnist test", test.pixels, test.labels, 100)
        bench_fashion_mnist(args.out)


if __name__ == "__main__":
    main()
