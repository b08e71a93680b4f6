"""Benchmark: wavelet transform + per-image rank-1 decomposition of Fashion-MNIST train.

Runs, side by side in one session, the way a researcher writes it by hand (a
Python loop over images: PyWavelets' wavedec2, numpy's SVD, rebuild from the
top r(e) patterns, PSNR) and wavelens' batched ``decompose_images``; reports the
median of several runs of each, their ratio, and checks both give the same r(e).

    python benchmarks/bench_lowrank.py [--repeats 5] [--baseline-repeats 3] [--limit N]
"""

import argparse
import statistics
import time

import numpy as np
import pywt

from wavelens import decompose_images, load_dataset


def baseline(images, *, wavelet, level, mode, energy):
    """The hand-written per-image loop."""
    ranks = np.empty(len(images), int)
    psnrs = np.empty(len(images))
    for i, image in enumerate(images):
        coeffs = pywt.wavedec2(image, wavelet, mode=mode, level=level)
        array, slices = pywt.coeffs_to_array(coeffs)
        u, s, vt = np.linalg.svd(array)
        fraction = np.cumsum(s ** 2) / np.sum(s ** 2)
        r = int(np.searchsorted(fraction, energy) + 1)
        truncated = (u[:, :r] * s[:r]) @ vt[:r]
        rebuilt = pywt.waverec2(pywt.array_to_coeffs(truncated, slices, output_format="wavedec2"),
                                wavelet, mode=mode)
        ranks[i] = r
        psnrs[i] = 10 * np.log10(1.0 / np.mean((rebuilt - image) ** 2))
    return ranks, psnrs


def timed(func, repeats):
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), times, result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline-repeats", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="use a subsample (default: all 60,000)")
    parser.add_argument("--level", type=int, default=1)
    parser.add_argument("--wavelet", default="db1")
    parser.add_argument("--mode", default="periodization")
    args = parser.parse_args()
    params = dict(wavelet=args.wavelet, level=args.level, mode=args.mode, energy=0.99)

    data = load_dataset("fashion-mnist", split="train", limit=args.limit)
    images64 = data.images.astype(np.float64)
    print(f"Fashion-MNIST train: {data.n_images} images, {params}")

    base_s, base_all, (base_r, base_psnr) = timed(lambda: baseline(images64, **params), args.baseline_repeats)
    ours_s, ours_all, (ours, _) = timed(lambda: decompose_images(data.images, **params), args.repeats)

    same_r = np.mean(base_r == ours.rank_at_energy)
    # Above ~200 dB a rebuild is exact and only rounding differs.
    inexact = base_psnr < 200
    psnr_gap = np.max(np.abs(base_psnr - ours.psnr_db)[inexact])
    print(f"baseline per-image loop : median {base_s:7.3f} s  runs {[round(t, 3) for t in base_all]}")
    print(f"wavelens decompose_images: median {ours_s:7.3f} s  runs {[round(t, 3) for t in ours_all]}")
    print(f"speed-up: {base_s / ours_s:.1f}x")
    print(f"same r(e) for {same_r:.2%} of images; largest PSNR difference {psnr_gap:.2e} dB "
          f"(over the {inexact.sum()} images not rebuilt exactly)")
    print(f"median r(e) {np.median(ours.rank_at_energy):g}, median PSNR {np.median(ours.psnr_db):.2f} dB")


if __name__ == "__main__":
    main()
