import numpy as np
import pytest
import pywt

from wavelens import (WavelensError, decompose_images, image_patterns, inverse_wavelet_transform, wavelet_layout,
                      wavelet_transform)
from wavelens.dataset_patterns import find_dataset_patterns
from wavelens.transform import ORTHONORMALITY_TOLERANCE, orthonormality_error

WAVELETS = ["db1", "db3", "sym4", "coif1", "bior2.2"]
MODES = ["periodization", "symmetric", "zero", "reflect"]
SHAPES = [(32, 32), (33, 29), (32, 32, 3), (37, 30, 3)]


def _images(shape, n=5, dtype=np.float32, seed=0):
    return np.random.default_rng(seed).random((n,) + shape).astype(dtype)


@pytest.mark.parametrize("wavelet", WAVELETS)
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("level", [1, 2])
@pytest.mark.parametrize("shape", SHAPES)
def test_perfect_reconstruction(wavelet, mode, level, shape):
    images = _images(shape)
    coefficients, layout = wavelet_transform(images, wavelet=wavelet, level=level, mode=mode)
    rebuilt = inverse_wavelet_transform(coefficients, layout)
    assert rebuilt.shape == images.shape
    assert rebuilt.dtype == np.float32
    np.testing.assert_allclose(rebuilt, images, atol=5e-5)


@pytest.mark.parametrize("wavelet", ["db1", "db3", "bior2.2"])
@pytest.mark.parametrize("mode", ["periodization", "symmetric"])
@pytest.mark.parametrize("shape", [(32, 32), (33, 29), (37, 30, 3)])
def test_matches_pywavelets_per_image(wavelet, mode, shape):
    images = _images(shape, n=3, dtype=np.float64)
    coefficients, layout = wavelet_transform(images, wavelet=wavelet, level=2, mode=mode)
    for image, matrix in zip(images, coefficients):
        channels = [image] if image.ndim == 2 else [image[..., c] for c in range(image.shape[-1])]
        for c, channel in enumerate(channels):
            expected, _ = pywt.coeffs_to_array(pywt.wavedec2(channel, wavelet, mode=mode, level=2))
            got = matrix if image.ndim == 2 else matrix[..., c]
            np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
    assert coefficients.shape[1:3] == layout.matrix_shape


def test_periodization_keeps_shape_and_energy():
    images = _images((32, 32), n=4, dtype=np.float64)
    coefficients, layout = wavelet_transform(images, wavelet="db2", level=3, mode="periodization")
    assert layout.matrix_shape == (32, 32)
    assert layout.orthogonal
    np.testing.assert_allclose((coefficients ** 2).sum(axis=(1, 2)), (images ** 2).sum(axis=(1, 2)))


@pytest.mark.parametrize("wavelet, mode, shape, expected", [
    ("db1", "periodization", (28, 28), True),
    ("db1", "symmetric", (28, 28), False),
    ("bior2.2", "periodization", (28, 28), False),
    ("db1", "periodization", (27, 28), False),
    ("dmey", "periodization", (128, 128), False),  # PyWavelets says orthogonal; its filters are not quite
])
def test_orthogonal_flag(wavelet, mode, shape, expected):
    assert wavelet_layout(shape, wavelet=wavelet, level=1, mode=mode).orthogonal is expected


@pytest.mark.parametrize("wavelet", [name for family in ("db", "sym", "coif", "haar")
                                     for name in pywt.wavelist(family, kind="discrete")])
def test_exactly_orthogonal_wavelets_stay_orthogonal(wavelet):
    assert orthonormality_error(pywt.Wavelet(wavelet)) <= ORTHONORMALITY_TOLERANCE
    length = pywt.Wavelet(wavelet).dec_len
    size = 2 * (length - 1)  # the smallest images one level fits (pywt.dwt_max_level)
    layout = wavelet_layout((size, size), wavelet=wavelet, level=1)
    assert layout.orthogonal
    images = _images((size, size), n=2, dtype=np.float64)
    coefficients, _ = wavelet_transform(images, wavelet=wavelet)
    np.testing.assert_allclose((coefficients ** 2).sum(axis=(1, 2)), (images ** 2).sum(axis=(1, 2)), rtol=1e-9)


def test_dmey_is_not_orthogonal_enough():
    """Its transform loses about 0.2% of the energy: far beyond rounding."""
    assert pywt.Wavelet("dmey").orthogonal  # what PyWavelets says
    assert orthonormality_error(pywt.Wavelet("dmey")) > 1e-3
    images = _images((128, 128), n=3, dtype=np.float64)
    coefficients, layout = wavelet_transform(images, wavelet="dmey")
    assert not layout.orthogonal
    kept = (coefficients ** 2).sum(axis=(1, 2)) / (images ** 2).sum(axis=(1, 2))
    assert np.all(np.abs(kept - 1) > 1e-4)
    # Nor is PyWavelets' inverse exact for it: what the non-orthogonal path measures by rebuilding.
    rebuilt = inverse_wavelet_transform(coefficients, layout)
    assert 1e-4 < np.abs(rebuilt - images).max() < 1e-2


def _dmey_images(n=4, size=128, seed=0):
    """Smooth images with noise, in [0, 1]: a few patterns hold most of the energy."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] / size
    waves = [0.5 + 0.3 * np.sin(2 * np.pi * (rng.integers(1, 6) * xx + rng.integers(1, 6) * yy)) for _ in range(n)]
    return np.clip(np.stack(waves) + 0.1 * rng.standard_normal((n, size, size)), 0, 1)


def _per_image_reference(image, wavelet, energy):
    """PyWavelets and NumPy's SVD, image by image, as a researcher writes it."""
    array, slices = pywt.coeffs_to_array(pywt.wavedec2(image, wavelet, mode="periodization", level=1))
    u, s, vt = np.linalg.svd(array)
    r = int(np.searchsorted(np.cumsum(s ** 2) / np.sum(s ** 2), energy) + 1)
    coeffs = pywt.array_to_coeffs((u[:, :r] * s[:r]) @ vt[:r], slices, output_format="wavedec2")
    rebuilt = pywt.waverec2(coeffs, wavelet, mode="periodization")
    return s, r, 10 * np.log10(1 / np.mean((rebuilt - image) ** 2))


@pytest.mark.parametrize("energy", [0.9, 0.999])
def test_dmey_matches_a_per_image_reference(energy):
    images = _dmey_images()
    pixels = np.round(images * 255).astype(np.uint8)
    # float64 images, and uint8 pixels read in float32 as analyze() reads a dataset's
    for given, pixel_max, floats, tolerance in ((images, None, images, 1e-12),
                                                (pixels, 255, pixels / np.float32(255), 1e-5)):
        result, layout = decompose_images(given, wavelet="dmey", energy=energy, pixel_max=pixel_max)
        assert not layout.orthogonal
        coefficients, _ = wavelet_transform(floats, wavelet="dmey")
        from_coefficients = image_patterns(coefficients, layout, floats, energy=energy)
        for i, image in enumerate(floats.astype(np.float64)):
            s, r, psnr_db = _per_image_reference(image, "dmey", energy)
            for got in (result, from_coefficients):
                assert got.rank_at_energy[i] == r
                np.testing.assert_allclose(got.singular_values[i, 0], s, rtol=0, atol=tolerance * s[0])
                np.testing.assert_allclose(got.psnr_db[i], psnr_db, rtol=tolerance)


def test_dmey_dataset_patterns_match_the_svd_of_the_wavelet_matrix():
    images = _dmey_images(n=12)
    layout = wavelet_layout(images.shape[1:], wavelet="dmey")
    dp = find_dataset_patterns(images, layout, n_patterns=5)
    coefficients, _ = wavelet_transform(images, wavelet="dmey")
    expected = np.linalg.svd(coefficients.reshape(len(images), -1), compute_uv=False)[:5]
    np.testing.assert_allclose(dp.singular_values[:5], expected, rtol=1e-9)


@pytest.mark.parametrize("chunk_size, n_jobs", [(1, 1), (3, 2), (1000, 2)])
def test_chunks_and_threads_do_not_change_results(chunk_size, n_jobs):
    images = _images((12, 12, 3), n=10)
    reference, _ = wavelet_transform(images, wavelet="sym2", level=2)
    got, _ = wavelet_transform(images, wavelet="sym2", level=2, chunk_size=chunk_size, n_jobs=n_jobs)
    np.testing.assert_array_equal(got, reference)


def test_float32_and_float64_agree():
    images = _images((32, 32), n=4, dtype=np.float64)
    c64, _ = wavelet_transform(images, wavelet="db3", level=2, mode="symmetric")
    c32, _ = wavelet_transform(images.astype(np.float32), wavelet="db3", level=2, mode="symmetric")
    assert c32.dtype == np.float32 and c64.dtype == np.float64
    np.testing.assert_allclose(c32, c64, atol=1e-5)


def test_unknown_wavelet_says_how_to_list():
    with pytest.raises(WavelensError, match=r"Unknown wavelet 'db99'.*see pywt.wavelist\(kind='discrete'\)"):
        wavelet_transform(_images((8, 8)), wavelet="db99")


def test_continuous_wavelet_is_refused_with_reason():
    with pytest.raises(WavelensError, match="continuous wavelet"):
        wavelet_transform(_images((8, 8)), wavelet="morl")


def test_level_too_high():
    with pytest.raises(WavelensError, match=r"Level 4 is too high for 8x8 images.*level=3 or less"):
        wavelet_transform(_images((8, 8)), wavelet="db1", level=4)


@pytest.mark.parametrize("level", [0, -1, 1.5])
def test_level_must_be_positive_integer(level):
    with pytest.raises(WavelensError, match="'level' parameter must be an integer >= 1"):
        wavelet_transform(_images((8, 8)), level=level)


def test_unknown_mode():
    with pytest.raises(WavelensError, match="Unknown mode 'wrap'"):
        wavelet_transform(_images((8, 8)), mode="wrap")


def test_inverse_checks_shape():
    coefficients, layout = wavelet_transform(_images((8, 8)))
    with pytest.raises(WavelensError, match="coefficients must have shape"):
        inverse_wavelet_transform(coefficients[:, :4], layout)
