import copy
import json

import numpy as np
import pytest

from conftest import planted_patterns, run_cli
from wavelens import WavelensError, analyze, decompose_images, load_dataset, wavelet_transform
from wavelens.analysis import noise_curve
from wavelens.dataset_patterns import find_dataset_patterns, numerical_rank_of_rows
from wavelens.transform import wavelet_layout


@pytest.fixture(scope="module")
def shared_planted():
    dataset, truth = planted_patterns()
    for array in (dataset.images, dataset.labels, dataset.index, truth):
        array.setflags(write=False)  # shared by the module's tests: no test may change it in place
    return dataset, truth


@pytest.fixture
def planted(shared_planted):
    """The module's planted dataset (made once); a test that needs it changed works on a copy."""
    dataset, _ = shared_planted
    before = dict(vars(dataset))
    yield shared_planted
    after = vars(dataset)
    changed = sorted(key for key in before.keys() | after.keys()
                     if key not in before or key not in after or after[key] is not before[key])
    assert not changed, f"the test changed the shared planted dataset's {changed}: change a copy"


def test_dictionary_recovers_planted_patterns(planted):
    dataset, truth = planted
    result = analyze(dataset, top_k=1, n_patterns=4, random_state=0)
    prototypes = result.dictionary.prototypes.reshape(4, -1)
    norms = np.linalg.norm(prototypes, axis=1)
    # Canonical signs make every copy of a pattern agree, so the means do not cancel out.
    assert np.all(norms > 0.99)
    cosines = np.abs((prototypes / norms[:, None]) @ truth.reshape(4, -1).T)
    assert sorted(cosines.argmax(axis=1).tolist()) == [0, 1, 2, 3]
    assert np.all(cosines.max(axis=1) > 0.999)


def test_planted_patterns_go_with_their_classes(planted):
    dataset, _ = planted
    association = analyze(dataset, top_k=1, n_patterns=4, random_repeats=19, random_state=0).association
    image = association["image_patterns"]
    assert image["true"]["nmi"] > 0.99 and image["true"]["purity"] == 1.0
    assert image["random"]["nmi"] < 0.05
    assert image["p_value"] == pytest.approx(1 / 20)
    data = association["dataset_patterns"]
    assert data["true"]["nmi"] > 0.9 and data["random"]["nmi"] < 0.05
    assert set(image["signatures"]) == {"class0", "class1", "class2", "class3"}


def test_random_labels_dissociate(planted):
    dataset, _ = planted
    association = analyze(dataset, top_k=1, n_patterns=4, random_repeats=19, label_noise=1.0, random_state=0).association
    for kind in ("image_patterns", "dataset_patterns"):
        assert association[kind]["true"]["nmi"] < 0.05
        assert association[kind]["p_value"] > 0.05
    assert association["label_noise"] == 1.0


def test_noise_curve_falls(planted):
    dataset, _ = planted
    result = analyze(dataset, top_k=1, n_patterns=4, random_state=0)
    rows = noise_curve(result, [0.0, 0.5, 1.0], random_repeats=3, random_state=0).rows
    nmi = [r["nmi"] for r in rows if r["kind"] == "image_patterns"]
    assert nmi[0] > 0.99 and nmi[0] > nmi[1] > nmi[2] and nmi[2] < 0.05


def test_dataset_patterns_span_the_planted_patterns(planted):
    dataset, truth = planted
    coefficients, layout = wavelet_transform(dataset.images)
    dp = find_dataset_patterns(dataset.images, layout, n_patterns=6, energy=0.99)
    assert dp.n_patterns_at_energy == 4
    top4 = dp.components[:4]
    projection = top4.T @ (top4 @ truth.reshape(4, -1).T)
    np.testing.assert_allclose(projection, truth.reshape(4, -1).T, atol=0.02)
    assert np.all(dp.shares[np.arange(len(dp.dominant)), dp.dominant] > 0.9)


def test_numerical_ranks_of_pixel_and_wavelet_matrices_agree_on_digits():
    images = load_dataset("digits").images
    # db2 coefficients in float32 carry rounding; the ranks are taken from the pixels in float64.
    coefficients, layout = wavelet_transform(images, wavelet="db2", level=1, mode="periodization")
    dp = find_dataset_patterns(images, layout, n_patterns=10)
    # Three pixels are blank in every digit: numpy's rank of the float64 pixel matrix is 61.
    expected = np.linalg.matrix_rank(images.reshape(len(images), -1).astype(np.float64))
    assert expected == 61
    assert dp.numerical_rank == dp.numerical_rank_pixel == numerical_rank_of_rows(images) == expected


@pytest.mark.parametrize("wavelet, mode", [("bior2.2", "symmetric"), ("db3", "zero")])
def test_wavelet_spectrum_from_pixels_matches_the_wavelet_matrix(rng, wavelet, mode):
    from wavelens.dataset_patterns import dataset_spectra

    images = rng.random((300, 12, 12))
    coefficients, layout = wavelet_transform(images, wavelet=wavelet, level=1, mode=mode)
    pixel_s, wavelet_s, vectors, _ = dataset_spectra(images, layout)
    direct = np.linalg.svd(coefficients.reshape(300, -1), compute_uv=False)
    # Singular values below the numerical-rank tolerance are rounding noise; wavelens reports them as 0.
    tolerance = direct[0] * max(coefficients.reshape(300, -1).shape) * np.finfo(np.float64).eps
    np.testing.assert_allclose(wavelet_s, direct[:len(wavelet_s)], rtol=1e-9, atol=tolerance)
    np.testing.assert_allclose(pixel_s, np.linalg.svd(images.reshape(300, -1), compute_uv=False), rtol=1e-9)
    assert np.all(direct[len(wavelet_s):] < 1e-10 * direct[0])  # the redundant coefficients add no rank


def test_numerical_rank_resolves_what_the_gram_matrix_cannot(rng):
    x = rng.standard_normal((500, 6))
    x[:, 5] = x[:, 0] + 1e-9 * rng.standard_normal(500)  # s_min ~ 1e-9 s_max: only QR sees it
    assert numerical_rank_of_rows(x) == np.linalg.matrix_rank(x) == 6
    x[:, 5] = x[:, 0]
    assert numerical_rank_of_rows(x) == np.linalg.matrix_rank(x) == 5


def test_centered_dataset_patterns_are_principal_components(planted):
    dataset, _ = planted
    coefficients, layout = wavelet_transform(dataset.images)
    dp = find_dataset_patterns(dataset.images, layout, n_patterns=3, center=True)
    flat = coefficients.reshape(len(coefficients), -1).astype(np.float64)
    _, s, vt = np.linalg.svd(flat - flat.mean(axis=0), full_matrices=False)
    np.testing.assert_allclose(dp.singular_values[:3], s[:3], rtol=1e-6)
    np.testing.assert_allclose(np.abs(dp.components @ vt[:3].T), np.eye(3), atol=1e-6)


def test_single_class_is_refused(planted):
    dataset = copy.copy(planted[0])  # the fixture is shared by the module: never change it
    dataset.labels = np.zeros_like(dataset.labels)
    with pytest.raises(WavelensError, match="single class .*needs at least two"):
        analyze(dataset)


def test_fewer_images_than_patterns_is_refused():
    with pytest.raises(WavelensError, match="1797 images are fewer than the 2000 patterns"):
        analyze(load_dataset("digits"), n_patterns=2000)


def test_digits_true_association_far_above_random(tmp_path):
    out = tmp_path / "digits"
    result = run_cli("analyze", "digits", "--out", out)
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    image = summary["association"]["image_patterns"]
    assert image["true"]["nmi"] > 10 * image["random"]["nmi"]
    assert image["n_patterns"] == 100 and image["top_k"] == 3
    spectrum = summary["spectrum"]
    assert spectrum["numerical_rank_wavelet"] == spectrum["numerical_rank_pixel"] <= 64
    assert 1 <= spectrum["n_patterns_at_energy"] <= spectrum["numerical_rank_wavelet"]


def test_outputs_of_analyze_agree_with_each_other(tmp_path):
    import csv

    from wavelens import inverse_wavelet_transform, wavelet_layout

    out = tmp_path / "d"
    assert run_cli("analyze", "digits", "--patterns", "20", "--wavelet", "db2", "--out", out).returncode == 0
    summary = json.loads((out / "summary.json").read_text())
    patterns = np.load(out / "patterns.npz")
    assert patterns["prototypes_wavelet"].shape == (20, 8, 8)
    layout = wavelet_layout((8, 8), wavelet="db2", level=1, mode="periodization")
    np.testing.assert_allclose(patterns["prototypes_pixel"],
                               inverse_wavelet_transform(patterns["prototypes_wavelet"], layout), atol=1e-6)
    with open(out / "contingency_image_patterns.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 20 and list(rows[0])[5:] == [str(i) for i in range(10)]
    counts = np.array([[float(r[str(c)]) for c in range(10)] for r in rows])
    np.testing.assert_array_equal(counts.sum(axis=1), patterns["prototype_counts"])
    with open(out / "per_image.csv") as handle:
        per_image = list(csv.DictReader(handle))
    ids = [int(i) for r in per_image for i in r["image_patterns"].split(";")]
    assert np.bincount(ids, minlength=20).tolist() == patterns["prototype_counts"].tolist()
    from wavelens.association import association_statistics
    assert association_statistics(counts)["nmi"] == pytest.approx(summary["association"]["image_patterns"]["true"]["nmi"])


def test_label_noise_one_removes_the_association_on_digits(tmp_path):
    out = tmp_path / "noisy"
    result = run_cli("analyze", "digits", "--label-noise", "1", "--random-repeats", "19", "--out", out)
    assert result.returncode == 0, result.stderr
    assert "100% replaced at random" in result.stdout
    association = json.loads((out / "summary.json").read_text())["association"]
    image = association["image_patterns"]
    # With random labels the "true" NMI is one more draw from the null distribution.
    assert image["true"]["nmi"] < image["random"]["nmi"] + 4 * image["random"]["nmi_std"]
    assert image["p_value"] > 0.05


def test_noise_curve_command_on_digits(tmp_path):
    out = tmp_path / "curve"
    result = run_cli("noise-curve", "digits", "--fractions", "0,0.5,1", "--random-repeats", "3", "--out", out)
    assert result.returncode == 0, result.stderr
    curve = json.loads((out / "noise_curve.json").read_text())
    assert curve["dataset"]["name"] == "digits"
    image = [r for r in curve["rows"] if r["kind"] == "image_patterns"]
    assert [r["fraction"] for r in image] == [0.0, 0.5, 1.0]
    assert image[0]["nmi"] > image[1]["nmi"] > image[2]["nmi"]
    assert image[2]["nmi"] < 2 * image[2]["random_nmi"]
    lines = (out / "noise_curve.csv").read_text().splitlines()
    assert lines[0].startswith("fraction,kind,nmi,mi_bits,cramers_v,purity,random_nmi") and len(lines) == 7


@pytest.mark.parametrize("fractions", ["0,2", "a,b", ""])
def test_noise_curve_bad_fractions(tmp_path, fractions):
    result = run_cli("noise-curve", "digits", "--fractions", fractions, "--out", tmp_path / "o")
    assert result.returncode == 2 and "wavelens: error:" in result.stderr and "--fractions" in result.stderr
    assert not (tmp_path / "o").exists()


def test_single_class_and_too_many_patterns_through_the_cli(tmp_path):
    np.savez(tmp_path / "one.npz", images=np.random.default_rng(0).random((30, 8, 8)), labels=np.zeros(30, int))
    result = run_cli("analyze", tmp_path / "one.npz", "--patterns", "5", "--out", tmp_path / "a")
    assert result.returncode == 2 and "single class" in result.stderr and "Traceback" not in result.stderr
    result = run_cli("analyze", "digits", "--limit", "40", "--out", tmp_path / "b")
    assert result.returncode == 2 and "40 images are fewer than the 100 patterns" in result.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_pixel_gram_is_exact_and_the_same_whichever_thread_adds_which_chunk(rng):
    from concurrent.futures import ThreadPoolExecutor

    from wavelens.dataset_patterns import PixelGram

    pixels = rng.integers(0, 256, (2000, 30)).astype(np.uint8)
    pixels[:700] = 255  # sums far beyond float32's 2^24: exact only by blocks
    exact = pixels.astype(np.int64).T @ pixels.astype(np.int64) / 255.0 ** 2
    totals = []
    for order_seed in range(3):
        chunks = [(s, min(s + 173, 2000)) for s in range(0, 2000, 173)]
        np.random.default_rng(order_seed).shuffle(chunks)
        gram = PixelGram(30, 255)
        with ThreadPoolExecutor(max_workers=3) as pool:
            list(pool.map(lambda b: gram.add(pixels[b[0]:b[1]]), chunks))
        totals.append(gram.total())
    np.testing.assert_array_equal(totals[0], exact)
    for total in totals[1:]:
        np.testing.assert_array_equal(total, totals[0])
    with pytest.raises(ValueError, match="4095 levels"):
        PixelGram(30, 65535)


def test_decompose_images_hands_each_chunk_to_each_chunk(rng):
    pixels = rng.integers(0, 256, (530, 8, 8)).astype(np.uint8)
    seen = []
    decompose_images(pixels, top_k=1, pixel_max=255, chunk_size=100, n_jobs=2, each_chunk=seen.append)
    # Each chunk is rows start:stop of the images as given (a view: no copy is made for it).
    spans = sorted(((c.ctypes.data - pixels.ctypes.data) // pixels[0].nbytes, len(c)) for c in seen)
    assert spans == [(0, 100), (100, 100), (200, 100), (300, 100), (400, 100), (500, 30)]
    assert all(np.shares_memory(c, pixels) for c in seen)


@pytest.mark.parametrize("center, budget, one_pass", [(False, None, True), (True, None, False), (False, 0, False)])
def test_analysis_of_pixels_gives_the_dataset_patterns_of_a_separate_pass(rng, monkeypatch, center, budget, one_pass):
    import wavelens.analysis as analysis
    from wavelens.datasets._base import make_dataset

    if budget is not None:  # a Gram matrix per thread that would not fit: its own pass
        monkeypatch.setattr(analysis, "_ONE_PASS_GRAM_BYTES", budget)
    hooks = []
    decompose = analysis.decompose_images
    monkeypatch.setattr(analysis, "decompose_images",
                        lambda *args, **kwargs: (hooks.append(kwargs.get("each_chunk")), decompose(*args, **kwargs))[1])
    pixels = rng.integers(0, 256, (400, 12, 12)).astype(np.uint8)
    pixels[:, :2] = 0
    data = make_dataset(pixels, np.arange(400) % 4, None, name="t", split="all", source="test")
    layout = wavelet_layout((12, 12))
    separate = find_dataset_patterns(pixels, layout, n_patterns=10, center=center, pixel_max=255)
    for n_jobs in (1, 2):
        hooks.clear()
        dp = analyze(data, n_patterns=10, center=center, random_repeats=1, n_jobs=n_jobs).dataset_patterns
        assert (hooks[0] is not None) == one_pass  # the Gram matrix added up in the per-image pass, or not
        np.testing.assert_array_equal(dp.singular_values, separate.singular_values)
        np.testing.assert_array_equal(dp.components, separate.components)
        np.testing.assert_array_equal(dp.shares, separate.shares)
