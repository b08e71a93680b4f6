import numpy as np
import pytest

from wavelens import (WavelensError, decompose_images, image_patterns, psnr, rank_at_energy,
                      rebuild_from_patterns, wavelet_transform)
from wavelens.transform import wavelet_layout


def _orthogonal(rng, n):
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return q


def _with_singular_values(rng, singular_values, n):
    """Matrices U diag(s) V^T with random orthogonal U, V and the given s."""
    return np.stack([_orthogonal(rng, n) @ np.diag(s) @ _orthogonal(rng, n).T for s in singular_values])


def test_rank_at_energy_hand_computed():
    # energies 0.5, 0.3, 0.15, 0.05 of a total 1.0
    s = np.sqrt([[0.5, 0.3, 0.15, 0.05]])
    assert rank_at_energy(s, 0.5)[0] == 1
    assert rank_at_energy(s, 0.51)[0] == 2
    assert rank_at_energy(s, 0.8)[0] == 2
    assert rank_at_energy(s, 0.95)[0] == 3
    assert rank_at_energy(s, 0.96)[0] == 4
    assert rank_at_energy(s, 1.0)[0] == 4


def test_rank_at_energy_pools_channels():
    # two channels: the first pattern holds 0.4 + 0.2, the second 0.3 + 0.1
    s = np.sqrt([[[0.4, 0.3], [0.2, 0.1]]])
    assert rank_at_energy(s, 0.6)[0] == 1
    assert rank_at_energy(s, 0.61)[0] == 2


def test_zero_image_needs_no_pattern():
    assert rank_at_energy(np.zeros((1, 4)), 0.99)[0] == 0


def test_known_singular_values_give_exact_rank_and_energy(rng):
    n = 8
    spectra = np.array([
        [4.0, 2.0, 1.0, 0.5, 0, 0, 0, 0],
        [3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 3.0],
        [1.0, 0, 0, 0, 0, 0, 0, 0],
    ])
    matrices = _with_singular_values(rng, spectra, n)
    layout = wavelet_layout((n, n), wavelet="db1", level=1, mode="periodization")
    images = np.zeros_like(matrices)  # only used for rebuild errors; checked separately below
    result = image_patterns(matrices, layout, images, energy=0.9)
    np.testing.assert_allclose(result.singular_values[:, 0], spectra, atol=1e-12)
    # energies 16, 4, 1, .25 of 21.25: 90% is 19.125, first reached by 16 + 4 (2 patterns);
    # a flat spectrum of 8 equal energies needs ceil(0.9 * 8) = 8
    assert result.rank_at_energy.tolist() == [2, 8, 1]
    assert result.numerical_rank.tolist() == [4, 8, 1]
    assert result.max_possible_rank == n


def test_all_patterns_rebuild_exactly(rng):
    images = rng.random((6, 16, 16))
    coefficients, layout = wavelet_transform(images, wavelet="db2", level=2, mode="symmetric")
    rebuilt = rebuild_from_patterns(coefficients, layout, layout.matrix_shape[0])
    np.testing.assert_allclose(rebuilt, images, atol=1e-10)


def test_top_r_rebuild_is_best_rank_r_in_wavelet_space(rng):
    images = rng.random((4, 16, 16))
    coefficients, layout = wavelet_transform(images, wavelet="db1", level=1)
    rebuilt = rebuild_from_patterns(coefficients, layout, 3)
    back, _ = wavelet_transform(rebuilt, wavelet="db1", level=1)
    assert all(np.linalg.matrix_rank(m) == 3 for m in back)
    s = np.linalg.svd(coefficients, compute_uv=False)
    error = np.linalg.norm((back - coefficients).reshape(4, -1), axis=1)
    np.testing.assert_allclose(error, np.sqrt((s[:, 3:] ** 2).sum(axis=1)))


@pytest.mark.parametrize("wavelet, mode, shape", [
    ("db1", "periodization", (16, 16)),      # orthogonal: errors from singular values
    ("db2", "periodization", (16, 16, 3)),   # orthogonal, colour
    ("bior2.2", "symmetric", (15, 17)),      # not orthogonal: errors from an explicit rebuild
    ("db3", "zero", (16, 16, 3)),
])
def test_errors_match_an_explicit_rebuild(rng, wavelet, mode, shape):
    images = rng.random((7,) + shape)
    result, layout = decompose_images(images, wavelet=wavelet, level=1, mode=mode, energy=0.9)
    coefficients, _ = wavelet_transform(images, wavelet=wavelet, level=1, mode=mode)
    rebuilt = rebuild_from_patterns(coefficients, layout, result.rank_at_energy)
    np.testing.assert_allclose(result.psnr_db, psnr(images, rebuilt), rtol=1e-9)
    expected = (np.linalg.norm((images - rebuilt).reshape(7, -1), axis=1)
                / np.linalg.norm(images.reshape(7, -1), axis=1))
    np.testing.assert_allclose(result.relative_error, expected, rtol=1e-8)


def test_low_rank_images_are_found_low_rank(rng):
    # Images that are exactly rank 2 in pixels stay rank 2 under an orthogonal separable transform.
    images = np.einsum("nik,njk->nij", rng.random((5, 16, 2)), rng.random((5, 16, 2)))
    result, _ = decompose_images(images, energy=1.0)
    assert result.numerical_rank.tolist() == [2] * 5
    assert result.rank_at_energy.tolist() == [2] * 5
    assert np.all(result.psnr_db > 250)  # only float64 rounding is left
    np.testing.assert_allclose(result.relative_error, 0, atol=1e-7)


def test_decompose_equals_transform_then_patterns(rng):
    images = rng.random((9, 12, 12, 3)).astype(np.float32)
    a, layout = decompose_images(images, wavelet="sym2", level=1, mode="symmetric", chunk_size=4, n_jobs=2)
    coefficients, _ = wavelet_transform(images, wavelet="sym2", level=1, mode="symmetric")
    b = image_patterns(coefficients, layout, images, chunk_size=100, n_jobs=1)
    np.testing.assert_array_equal(a.rank_at_energy, b.rank_at_energy)
    np.testing.assert_allclose(a.singular_values, b.singular_values)
    assert layout.matrix_shape == (14, 14)  # symmetric mode pads 12 to 2 * 7
    assert a.singular_values.shape == (9, 3, 14)


def test_zero_images_are_handled(rng):
    images = np.zeros((3, 8, 8), np.float32)
    images[1] = rng.random((8, 8))
    result, _ = decompose_images(images)
    assert result.rank_at_energy[0] == 0 and result.rank_at_energy[2] == 0
    assert result.relative_error[0] == 0
    assert result.rank_at_energy[1] > 0


@pytest.mark.parametrize("energy", [0, -0.1, 1.5, "high"])
def test_energy_out_of_range(energy):
    with pytest.raises(WavelensError, match="'energy' parameter must be a number in \\(0, 1\\]"):
        decompose_images(np.ones((2, 8, 8)), energy=energy)


@pytest.mark.parametrize("wavelet, level, mode", [("db1", 1, "periodization"), ("db2", 1, "symmetric")])
def test_agrees_with_a_per_image_loop_on_digits(wavelet, level, mode):
    """Reference: PyWavelets and numpy's SVD image by image, as a researcher writes it."""
    import pywt

    from wavelens import load_dataset

    images = load_dataset("digits").images.astype(np.float64)
    result, _ = decompose_images(images, wavelet=wavelet, level=level, mode=mode, energy=0.95)
    for i in range(0, len(images), 97):
        array, slices = pywt.coeffs_to_array(pywt.wavedec2(images[i], wavelet, mode=mode, level=level))
        u, s, vt = np.linalg.svd(array)
        r = int(np.searchsorted(np.cumsum(s ** 2) / np.sum(s ** 2), 0.95) + 1)
        rebuilt = pywt.waverec2(pywt.array_to_coeffs((u[:, :r] * s[:r]) @ vt[:r], slices,
                                                     output_format="wavedec2"), wavelet, mode=mode)
        assert result.rank_at_energy[i] == r
        np.testing.assert_allclose(result.singular_values[i, 0], s, atol=1e-12)
        np.testing.assert_allclose(result.psnr_db[i], 10 * np.log10(1 / np.mean((rebuilt - images[i]) ** 2)))
        assert result.numerical_rank[i] == np.linalg.matrix_rank(array, tol=s[0] * max(array.shape)
                                                                 * np.finfo(np.float64).eps)


@pytest.mark.parametrize("shape", [(16, 16), (16, 16, 3), (16, 8)])
def test_top_patterns_are_the_svd_patterns_with_canonical_sign(rng, shape):
    images = rng.random((6,) + shape)
    for dtype in (np.float64, np.float32):  # exact SVD, and the Gram eigen-decomposition for float32
        x = images.astype(dtype)
        coefficients, layout = wavelet_transform(x, wavelet="db1", level=1)
        result = image_patterns(coefficients, layout, x, top_k=3)
        a = coefficients.astype(np.float64)
        a = a[:, None] if a.ndim == 3 else np.moveaxis(a, -1, 1)
        u, s, vt = np.linalg.svd(a, full_matrices=False)
        for i in range(len(images)):
            candidates = [(s[i, c, j] ** 2, c, j) for c in range(a.shape[1]) for j in range(s.shape[-1])]
            for slot, (energy, c, j) in enumerate(sorted(candidates, reverse=True)[:3]):
                expected = np.outer(u[i, c, :, j], vt[i, c, j])
                expected *= np.sign(expected.flat[np.abs(expected).argmax()])
                got = np.outer(result.top_u[i, slot], result.top_v[i, slot])
                np.testing.assert_allclose(got, expected, atol=2e-4 if dtype == np.float32 else 1e-6)  # stored as float32
                assert result.top_channel[i, slot] == c
                np.testing.assert_allclose(result.top_energy[i, slot], energy, rtol=1e-5)
                assert got.flat[np.abs(got).argmax()] > 0


def test_float32_gram_path_agrees_with_float64_svd(rng):
    images = np.einsum("nik,njk->nij", rng.random((40, 16, 5)), rng.random((40, 16, 5)))  # rank 5
    fast, _ = decompose_images(images.astype(np.float32), energy=0.95)
    exact, _ = decompose_images(images, energy=0.95)
    scale = exact.singular_values[..., :1]
    np.testing.assert_allclose(fast.singular_values / scale, exact.singular_values / scale, atol=1e-6)
    np.testing.assert_array_equal(fast.rank_at_energy, exact.rank_at_energy)
    assert fast.numerical_rank.tolist() == [5] * 40
