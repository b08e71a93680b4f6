"""The compiled per-image kernel and the shortcuts around it, against NumPy's SVD."""

import os
import subprocess
import sys

import numpy as np
import pytest

import wavelens.decomposition as lowrank
from wavelens import analyze, decompose_images, image_patterns, load_dataset, wavelet_transform
from wavelens.dataset_patterns import find_dataset_patterns
from wavelens.transform import _forward, separable_factors, wavelet_layout

try:
    from wavelens import _kernels as kernels
except ImportError:  # installed without a C compiler: the tests of NumPy's fallback still run
    kernels = None

needs_kernel = pytest.mark.skipif(kernels is None, reason="wavelens was built without its compiled kernel "
                                  "(no C compiler at install); NumPy's fallback is what runs")


def _check_against_svd(matrices, k):
    """top_spectra's singular values, and its vectors by their defining equations."""
    values, left, right = kernels.top_spectra(np.ascontiguousarray(matrices), k)
    x = np.asarray(matrices, np.float64)
    expected = np.linalg.svd(x, compute_uv=False)
    scale = np.maximum(expected[:, :1], 1e-300)
    # Through the Gram matrix, singular values are resolved to about 1e-8 of the largest.
    np.testing.assert_allclose(values / scale, expected / scale, atol=5e-8)
    assert np.all(np.diff(values, axis=1) <= 0)
    for i in range(len(x)):
        for j in range(k):
            s = values[i, j]
            if s == 0:  # no pattern: no vectors
                assert not left[i, j].any() and not right[i, j].any()
            if s <= 1e-6 * values[i, 0]:  # rounding noise of a rank-deficient matrix
                continue
            np.testing.assert_allclose(x[i] @ right[i, j], s * left[i, j], atol=1e-10 * values[i, 0])
            np.testing.assert_allclose(x[i].T @ left[i, j], s * right[i, j], atol=1e-8 * values[i, 0])
            np.testing.assert_allclose(np.linalg.norm(right[i, j]), 1, atol=1e-10)
        live = values[i, :k] > 1e-6 * values[i, 0]
        gram = right[i, live] @ right[i, live].T
        np.testing.assert_allclose(gram, np.eye(live.sum()), atol=1e-8)
    return values, left, right


@needs_kernel
@pytest.mark.parametrize("shape", [(9, 9), (12, 7), (7, 12), (1, 5), (5, 1)])
def test_random_matrices(rng, shape):
    _check_against_svd(rng.standard_normal((30,) + shape), min(3, *shape))


@needs_kernel
def test_float32_input_and_k_zero(rng):
    x = rng.random((20, 10, 10)).astype(np.float32)
    values, left, right = _check_against_svd(x, 3)
    only_values, no_left, no_right = kernels.top_spectra(x, 0)
    np.testing.assert_array_equal(only_values, values)
    assert no_left.shape == (20, 0, 10) and no_right.shape == (20, 0, 10)


@needs_kernel
def test_sparse_rank_deficient_and_degenerate_matrices(rng):
    sparse = rng.random((40, 12, 12)) * (rng.random((40, 12, 12)) < 0.15)  # many zero rows and columns
    rank_two = np.einsum("nik,njk->nij", rng.random((10, 12, 2)), rng.random((10, 12, 2)))
    repeated = np.stack([np.diag([3.0, 3.0, 2.0, 1.0, 0, 0, 0, 0])] * 3)  # a tie at the top
    _check_against_svd(sparse, 3)
    values, _, _ = _check_against_svd(rank_two, 3)
    assert np.all(values[:, 2:] < 1e-6 * values[:, :1])
    _check_against_svd(repeated, 3)
    values, left, right = kernels.top_spectra(np.zeros((2, 6, 6)), 3)
    assert not values.any() and not left.any() and not right.any()


@needs_kernel
def test_digits(rng):
    images = load_dataset("digits").images[:300]
    _check_against_svd(images, 3)


@needs_kernel
def test_k_out_of_range():
    with pytest.raises(ValueError, match="k must be between 0"):
        kernels.top_spectra(np.zeros((2, 4, 3)), 4)


@needs_kernel
def test_same_results_as_numpy_eigh(rng, monkeypatch):
    images = np.clip(rng.random((50, 16, 16)) - 0.3, 0, 1).astype(np.float32)
    coefficients, layout = wavelet_transform(images)
    fast = image_patterns(coefficients, layout, images, top_k=3)
    monkeypatch.setattr(lowrank, "_top_spectra", None)  # what an install without a C compiler runs
    slow = image_patterns(coefficients, layout, images, top_k=3)
    scale = slow.singular_values[..., :1]
    np.testing.assert_allclose(fast.singular_values / scale, slow.singular_values / scale, atol=5e-8)
    np.testing.assert_array_equal(fast.rank_at_energy, slow.rank_at_energy)
    np.testing.assert_array_equal(fast.numerical_rank, slow.numerical_rank)
    np.testing.assert_allclose(fast.top_u, slow.top_u, atol=1e-5)
    np.testing.assert_allclose(fast.top_v, slow.top_v, atol=1e-5)


def test_without_the_kernel_numpy_does_the_work(rng, monkeypatch):
    """What an install without a C compiler runs, against float64 SVD (with or without the kernel here)."""
    monkeypatch.setitem(sys.modules, "wavelens._kernels", None)  # importing it raises ImportError
    monkeypatch.setattr(lowrank, "_top_spectra", False)  # not looked up yet
    assert lowrank.load_kernel() is None
    images = np.clip(rng.random((40, 16, 12)) - 0.3, 0, 1)
    coefficients, layout = wavelet_transform(images.astype(np.float32))
    got = image_patterns(coefficients, layout, images.astype(np.float32), top_k=2)
    expected = np.linalg.svd(coefficients.astype(np.float64), compute_uv=False)
    np.testing.assert_allclose(got.singular_values[:, 0] / expected[:, :1], expected / expected[:, :1], atol=5e-8)
    reference = image_patterns(coefficients.astype(np.float64), layout, images, top_k=2)
    np.testing.assert_array_equal(got.rank_at_energy, reference.rank_at_energy)
    np.testing.assert_allclose(np.abs(got.top_u), np.abs(reference.top_u), atol=1e-5)


@pytest.mark.parametrize("wavelet,mode,shape", [("db1", "periodization", (28, 28)), ("db2", "periodization", (16, 12)),
                                                ("sym3", "symmetric", (10, 13))])
def test_one_level_transforms_are_separable(rng, wavelet, mode, shape):
    layout = wavelet_layout(shape, wavelet=wavelet, level=1, mode=mode)
    a, b = separable_factors(layout)
    x = rng.standard_normal((4,) + shape)
    np.testing.assert_allclose(a @ x @ b.T, _forward(x, layout), atol=1e-12)
    if layout.orthogonal:
        np.testing.assert_allclose(a.T @ a, np.eye(shape[0]), atol=1e-12)
        np.testing.assert_allclose(b.T @ b, np.eye(shape[1]), atol=1e-12)


def test_two_level_transforms_are_not_separable():
    assert separable_factors(wavelet_layout((16, 16), wavelet="db1", level=2)) is None


@pytest.mark.parametrize("shape", [(16, 16), (16, 8, 3)])
def test_decomposing_pixels_equals_decomposing_wavelet_matrices(rng, shape):
    images = rng.random((25,) + shape).astype(np.float32)
    from_pixels, layout = decompose_images(images, top_k=3)
    coefficients, _ = wavelet_transform(images)
    from_coefficients = image_patterns(coefficients, layout, images, top_k=3)
    scale = from_coefficients.singular_values[..., :1]
    np.testing.assert_allclose(from_pixels.singular_values / scale, from_coefficients.singular_values / scale,
                               atol=1e-6)
    np.testing.assert_array_equal(from_pixels.rank_at_energy, from_coefficients.rank_at_energy)
    np.testing.assert_array_equal(from_pixels.top_channel, from_coefficients.top_channel)
    for name in ("top_u", "top_v", "top_energy", "psnr_db"):
        np.testing.assert_allclose(getattr(from_pixels, name), getattr(from_coefficients, name), rtol=1e-4,
                                   atol=1e-5)


def test_dataset_shares_for_a_non_orthogonal_transform(rng):
    images = rng.random((60, 10, 13)).astype(np.float32)
    layout = wavelet_layout(images.shape[1:], wavelet="sym3", level=1, mode="symmetric")
    dp = find_dataset_patterns(images, layout, n_patterns=5)
    w = _forward(images.astype(np.float64), layout).reshape(len(images), -1)
    expected = (w @ dp.components.T) ** 2 / (w ** 2).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(dp.shares, expected, rtol=1e-4, atol=1e-6)


@needs_kernel
def test_analysis_without_the_kernel_agrees(monkeypatch):
    data = load_dataset("digits")
    fast = analyze(data, random_repeats=2, n_jobs=2).to_dict()
    monkeypatch.setattr(lowrank, "_top_spectra", None)
    slow = analyze(data, random_repeats=2, n_jobs=2).to_dict()
    assert fast["lowrank"] == pytest.approx(slow["lowrank"], rel=1e-6)
    true_fast = fast["association"]["image_patterns"]["true"]
    true_slow = slow["association"]["image_patterns"]["true"]
    assert true_fast["nmi"] == pytest.approx(true_slow["nmi"], abs=0.01)


def _blas_setting(command):
    code = ("import os, sys; sys.argv = ['wavelens', %r]; import wavelens.cli; "
            "print(os.environ.get('OPENBLAS_NUM_THREADS'))" % command)
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env).stdout.strip()


def test_blas_is_single_threaded_only_for_the_commands_with_their_own_threads():
    assert _blas_setting("analyze") == "1"
    assert _blas_setting("noise-curve") == "1"
    assert _blas_setting("communities") == "None"


def test_package_attributes_load_lazily_and_stay_functions():
    code = ("import wavelens, sys; assert 'numpy' not in sys.modules; import wavelens.cli, wavelens.analysis; "
            "print(callable(wavelens.analyze), wavelens.WavelensError.__name__)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["True", "WavelensError"]


# --- integer pixels, read as stored ------------------------------------------------------------

def test_datasets_of_integer_pixels_make_float_images_only_when_asked(rng):
    from wavelens.datasets._base import make_dataset, stratified_subsample

    pixels = rng.integers(0, 256, (50, 6, 5)).astype(np.uint8)
    data = make_dataset(pixels, np.arange(50) % 5, None, name="t", split="all", source="test")
    array, pixel_max = data.stored
    assert array is pixels and pixel_max == 255 and data.image_shape == (6, 5)
    np.testing.assert_array_equal(data.select_images([3, 7]), (pixels[[3, 7]] / np.float32(255)).astype(np.float32))
    small = stratified_subsample(data, 20, random_state=0)
    np.testing.assert_array_equal(small.images, data.images[small.index])
    assert data.images.dtype == np.float32 and data.stored[1] is None  # made once, then kept


def test_exact_gram_of_8_bit_pixels(rng):
    from wavelens.dataset_patterns import gram_matrix

    pixels = rng.integers(0, 256, (1000, 40)).astype(np.uint8)
    exact = pixels.astype(np.int64).T @ pixels.astype(np.int64) / 255.0 ** 2
    np.testing.assert_allclose(gram_matrix(pixels, pixel_max=255, chunk_size=300), exact, rtol=1e-15)
    mean = (pixels / 255.0).mean(axis=0)
    centered = (pixels / 255.0 - mean).T @ (pixels / 255.0 - mean)
    np.testing.assert_allclose(gram_matrix(pixels, mean=mean, pixel_max=255), centered, rtol=1e-12, atol=1e-9)


def test_pixels_and_their_float_images_give_the_same_analysis(rng):
    pixels = rng.integers(0, 256, (300, 16, 16)).astype(np.uint8)
    pixels[:, :3] = 0  # zero rows, as images have
    images = (pixels / np.float32(255)).astype(np.float32)
    a, layout = decompose_images(pixels, top_k=3, pixel_max=255)
    b, _ = decompose_images(images, top_k=3)
    for name in ("singular_values", "rank_at_energy", "numerical_rank", "top_u", "top_v", "psnr_db"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    for center in (False, True):
        da = find_dataset_patterns(pixels, layout, n_patterns=5, center=center, pixel_max=255)
        db = find_dataset_patterns(images, layout, n_patterns=5, center=center)
        np.testing.assert_allclose(da.singular_values, db.singular_values, rtol=1e-6, atol=1e-9 * db.singular_values[0])
        np.testing.assert_allclose(da.shares, db.shares, rtol=1e-4, atol=1e-6)
        assert da.numerical_rank == db.numerical_rank and da.numerical_rank_pixel == db.numerical_rank_pixel


def test_large_images_never_build_the_transform_matrix(rng, monkeypatch):
    import wavelens.dataset_patterns as spectrum

    def refuse(layout):
        raise AssertionError("a coefficients x coefficients matrix for images above GRAM_LIMIT")

    monkeypatch.setattr(spectrum, "transform_matrix", refuse)
    images = rng.random((40, 64, 72)).astype(np.float32)  # 4,608 pixels > GRAM_LIMIT
    layout = wavelet_layout(images.shape[1:])
    dp = find_dataset_patterns(images, layout, n_patterns=4)
    w = _forward(images.astype(np.float64), layout).reshape(len(images), -1)
    expected = (w @ dp.components.T) ** 2 / (w ** 2).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(dp.shares, expected, rtol=1e-4, atol=1e-6)

