"""Scale: the pattern dictionary through the patterns' factors, dataset patterns of large images by a
streamed randomized SVD. Each is checked against the written-out computation it replaces."""

import numpy as np
import pytest

from wavelens import decompose_images, wavelet_layout, wavelet_transform
from wavelens.dataset_patterns import _randomized_top_patterns, find_dataset_patterns
from wavelens.dictionary import _factored_is_cheaper, assign_patterns, build_pattern_dictionary


def _families(rng, shape, n_images=600, n_families=6):
    """Images near one of a few random base images: their patterns fall into families."""
    base = rng.random((n_families,) + shape)
    return (base[rng.integers(0, n_families, n_images)] + 0.3 * rng.random((n_images,) + shape)).astype(np.float32)


@pytest.mark.parametrize("shape", [(32, 32), (24, 40, 3)])
def test_factored_dictionary_is_the_written_out_one(rng, shape):
    patterns, _ = decompose_images(_families(rng, shape), top_k=3)
    dense = build_pattern_dictionary(patterns, n_patterns=12, factored=False)
    factored = build_pattern_dictionary(patterns, n_patterns=12, factored=True)
    assert dense.factors is None and factored.factors is not None
    np.testing.assert_allclose(factored.prototypes, dense.prototypes, atol=1e-5)
    np.testing.assert_array_equal(factored.assignments, dense.assignments)
    np.testing.assert_allclose(factored.weights, dense.weights)
    # Assigning other images through the factors or through the written-out prototypes agrees.
    others, _ = decompose_images(_families(rng, shape, n_images=50), top_k=3)
    through_factors, _ = assign_patterns(others, factored.prototypes, factors=factored.factors)
    np.testing.assert_array_equal(through_factors, assign_patterns(others, factored.prototypes)[0])


def test_the_cheaper_route_is_taken_for_the_matrix_size():
    assert not _factored_is_cheaper(3200, 28, 28, 100)  # Fashion-MNIST keeps the written-out route
    assert _factored_is_cheaper(3200, 224, 224, 100)    # a 224x224 channel does not write out patterns
    assert _factored_is_cheaper(3200, 128, 128, 100)


@pytest.mark.parametrize("shape, wavelet, mode", [((72, 72), "db1", "periodization"),
                                                  ((40, 40, 3), "db2", "symmetric")])
@pytest.mark.parametrize("center", [False, True])
def test_streamed_randomized_svd_finds_the_top_patterns(rng, shape, wavelet, mode, center):
    # A dataset of rank 8 plus a little noise: the top 6 patterns are well separated.
    n_pixels = int(np.prod(shape))
    images = (rng.random((300, 8)) ** 3 @ rng.random((8, n_pixels)) + 0.01 * rng.random((300, n_pixels)))
    images = images.reshape((300,) + shape)
    before = images.copy()
    layout = wavelet_layout(shape, wavelet=wavelet, mode=mode)
    w = wavelet_transform(images, wavelet=wavelet, mode=mode)[0].reshape(300, -1)
    exact = w - w.mean(axis=0) if center else w
    _, s_exact, vt = np.linalg.svd(exact, full_matrices=False)
    s, components, mean = _randomized_top_patterns(images, layout, 6, center=center, pixel_max=None, random_state=0)
    np.testing.assert_allclose(s, s_exact[:6], rtol=1e-9)
    np.testing.assert_allclose(np.abs(np.sum(components * vt[:6], axis=1)), 1, atol=1e-9)
    if center:
        np.testing.assert_allclose(mean, w.mean(axis=0))
    np.testing.assert_array_equal(images, before)  # the caller's images are left as they were


def test_dataset_patterns_of_large_images_hold_no_coefficient_matrix(rng, monkeypatch):
    import wavelens.dataset_patterns as module

    def refuse(*args, **kwargs):
        raise AssertionError("the whole wavelet matrix was computed")

    monkeypatch.setattr(module, "wavelet_transform", refuse)
    monkeypatch.setattr(module, "_BLOCK_BYTES", 8 * 4608 * 7)  # blocks of 7 images
    images = (rng.random((60, 3)) @ rng.random((3, 64 * 72))).reshape(60, 64, 72)  # rank 3
    found = find_dataset_patterns(images, wavelet_layout((64, 72)), n_patterns=3)
    _, s_exact, _ = np.linalg.svd(images.reshape(60, -1), full_matrices=False)
    np.testing.assert_allclose(found.singular_values, s_exact[:3], rtol=1e-9)
    np.testing.assert_allclose(found.shares.sum(axis=1), 1, atol=1e-5)  # rank 3: the top 3 hold everything


def test_rank_deficient_colour_data_skips_the_qr(rng, monkeypatch):
    # Grey images stored as RGB: rank 8x8 = 64 of 192 columns, the rest exactly zero.
    from wavelens.dataset_patterns import _Products, numerical_rank, singular_spectrum

    def refuse(self, directions):
        raise AssertionError("a QR of the unresolved subspace, for exact zeros")

    monkeypatch.setattr(_Products, "r_factor", refuse)
    grey = rng.random((500, 8, 8))
    rows = np.repeat(grey[..., None], 3, axis=3).reshape(500, -1)
    s, vectors = singular_spectrum(rows)
    assert numerical_rank(s, rows.shape) == np.linalg.matrix_rank(rows) == 64
    np.testing.assert_allclose(s, np.linalg.svd(rows, compute_uv=False), atol=1e-12 * s[0])
    np.testing.assert_allclose(np.linalg.norm(rows @ vectors, axis=0), s, atol=1e-12 * s[0])
    np.testing.assert_allclose(vectors.T @ vectors, np.eye(192), atol=1e-12)


def test_ill_conditioned_data_gets_its_small_singular_values_by_qr(rng):
    from wavelens.dataset_patterns import numerical_rank, singular_spectrum

    rows = rng.random((400, 120)) * np.logspace(0, -10, 120)  # below what the Gram matrix resolves
    s, vectors = singular_spectrum(rows)
    exact = np.linalg.svd(rows, compute_uv=False)
    np.testing.assert_allclose(s, exact, rtol=1e-6, atol=1e-14 * s[0])
    assert numerical_rank(s, rows.shape) == np.linalg.matrix_rank(rows)
    np.testing.assert_allclose(np.linalg.norm(rows @ vectors, axis=0), s, rtol=1e-6, atol=1e-14 * s[0])


def test_chunks_of_large_images_hold_fewer_images_and_give_the_same_patterns(rng):
    from wavelens._parallel import CHUNK_BYTES, rows_per_chunk

    assert rows_per_chunk(2048, 28 * 28 * 8) == 2048               # small images: chunks as before
    assert rows_per_chunk(2048, 224 * 224 * 3 * 8) == CHUNK_BYTES // (224 * 224 * 3 * 8)
    assert rows_per_chunk(2048, 10 ** 12) == 8
    images = rng.random((30, 16, 16, 3)).astype(np.float32)
    whole, _ = decompose_images(images, top_k=2, chunk_size=30)
    chunked, _ = decompose_images(images, top_k=2, chunk_size=4)
    np.testing.assert_array_equal(whole.singular_values, chunked.singular_values)
    np.testing.assert_array_equal(whole.top_u, chunked.top_u)


def test_image_folders_decode_in_worker_processes_as_in_one(rng, tmp_path, monkeypatch):
    from PIL import Image

    import wavelens.datasets._folder as folder
    from wavelens import WavelensError, load_dataset

    for c in ("a", "b"):
        (tmp_path / c).mkdir()
        for i in range(40):
            Image.fromarray(rng.integers(0, 256, (12, 10, 3), dtype=np.uint8)).save(tmp_path / c / f"{i:02d}.png")
    one = load_dataset(tmp_path)
    monkeypatch.setattr(folder, "_PROCESS_MIN_FILES", 8)  # 80 files: the worker processes decode
    workers = load_dataset(tmp_path)
    np.testing.assert_array_equal(workers.pixels, one.pixels)
    assert workers.ids.tolist() == one.ids.tolist()
    broken = tmp_path / "b" / "17.png"
    broken.write_bytes(broken.read_bytes()[:120])  # its header reads, its pixels do not: found by a worker
    with pytest.raises(WavelensError, match=r"17\.png") as error:
        load_dataset(tmp_path)
    assert "\n" not in str(error.value)


@pytest.mark.parametrize("condition", [1e2, 1e10])
def test_orthonormal_factor_of_a_tall_matrix(rng, condition):
    from wavelens.dataset_patterns import _orthonormal

    tall = rng.standard_normal((3000, 20)) * np.logspace(0, -np.log10(condition), 20)
    q, r = _orthonormal(tall)
    np.testing.assert_allclose(q.T @ q, np.eye(20), atol=1e-10)
    np.testing.assert_allclose(q @ r, tall, atol=1e-12 * np.abs(tall).max())
    assert np.allclose(r, np.triu(r))


def test_randomized_route_in_float32_matches_float64_and_any_thread_count(rng):
    from wavelens.dataset_patterns import _randomized_top_patterns

    pixels = (rng.random((80, 6)) @ rng.random((6, 72 * 72)) * 40).astype(np.uint8).reshape(80, 72, 72)
    layout = wavelet_layout((72, 72))
    one = _randomized_top_patterns(pixels, layout, 4, center=True, pixel_max=255, random_state=0, n_jobs=1)
    two = _randomized_top_patterns(pixels, layout, 4, center=True, pixel_max=255, random_state=0, n_jobs=2)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)
    wide = _randomized_top_patterns(pixels / 255.0, layout, 4, center=True, pixel_max=None, random_state=0)
    np.testing.assert_allclose(one[0], wide[0], rtol=1e-5)
    np.testing.assert_allclose(np.abs(np.sum(one[1] * wide[1], axis=1)), 1, atol=1e-6)


def test_per_image_csv_is_the_same_written_in_blocks(tmp_path, monkeypatch):
    import wavelens
    import wavelens.results as results

    result = wavelens.analyze(wavelens.load_dataset("digits", limit=300), n_patterns=10)
    result.save(tmp_path / "one", report=False)
    monkeypatch.setattr(results, "_CSV_ROWS", 7)  # 43 blocks, the last one short
    result.save(tmp_path / "blocks", report=False)
    whole = (tmp_path / "one" / "per_image.csv").read_bytes()
    assert whole == (tmp_path / "blocks" / "per_image.csv").read_bytes()
    assert whole.count(b"\r\n") == 301
