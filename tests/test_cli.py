import csv
import json

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli, write_idx_folder
from wavelens import __version__


def _assert_one_line_error(result, match):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("wavelens: error: ")
    assert match in lines[0], lines[0]


def test_analyze_digits_end_to_end(tmp_path):
    out = tmp_path / "out"
    result = run_cli("analyze", "digits", "--out", out, "--energy", "0.95", "--seed", "1")
    assert result.returncode == 0, result.stderr
    assert "1797 images of 8x8" in result.stdout
    summary = json.loads((out / "summary.json").read_text())
    assert summary["wavelens_version"] == __version__
    assert summary["dataset"] == {
        "name": "digits", "split": "all", "source": "sklearn.datasets.load_digits",
        "n_images": 1797, "image_shape": [8, 8], "n_classes": 10, "class_names": [str(i) for i in range(10)],
    }
    assert summary["params"]["wavelet"] == "db1" and summary["params"]["energy"] == 0.95
    assert summary["params"]["random_state"] == 1
    lowrank = summary["lowrank"]
    assert lowrank["max_possible_rank"] == 8
    assert 1 <= lowrank["rank_median"] <= lowrank["rank_p95"] <= lowrank["rank_max"] <= 8
    assert set(summary["timings_s"]) >= {"load", "decompose", "dictionary", "dataset_patterns",
                                         "association", "write"}

    with open(out / "per_image.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 1797
    assert list(rows[0]) == ["id", "index", "label", "class_name", "rank_at_energy", "numerical_rank",
                             "relative_error", "psnr_db", "image_patterns", "dominant_dataset_pattern"]
    assert all(len(r["image_patterns"].split(";")) == min(3, int(r["numerical_rank"])) for r in rows)
    ranks = np.array([int(r["rank_at_energy"]) for r in rows])
    assert np.median(ranks) == lowrank["rank_median"]
    arrays = np.load(out / "arrays.npz")
    assert arrays["singular_values"].shape == (1797, 1, 8)
    # The saved singular values give back the saved ranks.
    s2 = (arrays["singular_values"][:, 0].astype(np.float64)) ** 2
    cumulative = np.cumsum(s2, axis=1) / s2.sum(axis=1, keepdims=True)
    np.testing.assert_array_equal(ranks, (cumulative < 0.95 - 1e-6).sum(axis=1) + 1)


def test_same_seed_same_results(tmp_path):
    for name in ("a", "b"):
        assert run_cli("analyze", "digits", "--limit", "300", "--seed", "7", "--out", tmp_path / name).returncode == 0
    a = json.loads((tmp_path / "a" / "summary.json").read_text())
    b = json.loads((tmp_path / "b" / "summary.json").read_text())
    for summary in (a, b):
        summary.pop("timings_s")
        assert summary.pop("command").startswith("wavelens analyze digits")  # differs only by --out
    assert a == b
    assert (tmp_path / "a" / "per_image.csv").read_text() == (tmp_path / "b" / "per_image.csv").read_text()


def test_analyze_colour_image_folder_with_options(tmp_path, rng):
    for i in range(6):
        folder = tmp_path / "data" / ("red" if i % 2 else "blue")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (10 + i % 3, 12, 3), dtype=np.uint8)).save(folder / f"{i}.png")
    out = tmp_path / "out"
    result = run_cli("analyze", tmp_path / "data", "--resize", "16x16", "--wavelet", "sym2", "--level", "2",
                     "--mode", "symmetric", "--patterns", "2", "--top-k", "1", "--out", out)
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["dataset"]["image_shape"] == [16, 16, 3]
    assert summary["dataset"]["class_names"] == ["blue", "red"]
    assert summary["params"]["resize"] == [16, 16]


def test_help_explains_every_option():
    result = run_cli("analyze", "--help")
    assert result.returncode == 0
    for option in ("--out", "--wavelet", "--level", "--mode", "--energy", "--seed", "--limit", "--split",
                   "--data-dir", "--resize", "--overwrite", "--jobs"):
        assert option in result.stdout
    top = run_cli("--help")
    assert top.returncode == 0 and "analyze" in top.stdout and "datasets" in top.stdout


def test_datasets_lists_names_and_places(tmp_path, monkeypatch):
    monkeypatch.setenv("WAVELENS_DATA", str(tmp_path))
    result = run_cli("datasets")
    assert result.returncode == 0
    for text in ("digits", "fashion-mnist", "mnist", f"{tmp_path}/mnist", "/usr/share/datasets/fashion-mnist",
                 "apt-get install dataset-fashion-mnist", ".npz"):
        assert text in result.stdout


def test_wavelets_lists_discrete_wavelets():
    result = run_cli("wavelets")
    assert result.returncode == 0 and "db1" in result.stdout and "bior2.2" in result.stdout
    assert "morl" not in result.stdout


def test_version():
    assert __version__ in run_cli("--version").stdout


# --- bad input: one line, exit 2, nothing written ---------------------------------------------

def _bad_inputs(tmp_path, rng):
    corrupt = write_idx_folder(tmp_path / "corrupt", rng.integers(0, 255, (4, 8, 8)), np.arange(4))
    (corrupt / "train-images-idx3-ubyte.gz").write_bytes(b"\x1f\x8b\x08\x00broken")
    mismatch = write_idx_folder(tmp_path / "mismatch", rng.integers(0, 255, (4, 8, 8)), np.arange(5))
    mixed = tmp_path / "mixed"
    for i, shape in enumerate([(8, 8), (9, 9)]):
        (mixed / "a").mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.zeros(shape, np.uint8)).save(mixed / "a" / f"{i}.png")
    np.savez(tmp_path / "empty.npz", images=np.zeros((0, 8, 8)), labels=np.zeros(0, int))
    nan_images = np.ones((3, 8, 8))
    nan_images[0, 0, 0] = np.nan
    np.savez(tmp_path / "nan.npz", images=nan_images, labels=np.arange(3))
    return {
        "missing path": ([tmp_path / "nowhere"], "does not exist"),
        "unknown name": (["cifar11"], "'cifar11' is neither a built-in dataset name"),
        "corrupt gzip": ([corrupt], "corrupt or truncated gzip file"),
        "count mismatch": ([mismatch], "holds 4 images but"),
        "unknown wavelet": (["digits", "--wavelet", "haar2"], "wavelens wavelets"),
        "level too high": (["digits", "--level", "5"], "Level 5 is too high for 8x8 images"),
        "mixed sizes": ([mixed], "--resize HxW"),
        "empty dataset": ([tmp_path / "empty.npz"], "the dataset is empty"),
        "nan": ([tmp_path / "nan.npz"], "NaN or infinite"),
        "unknown option": (["digits", "--frobnicate"], "No such option '--frobnicate'"),
        "energy out of range": (["digits", "--energy", "1.5"], "--energy"),
        "bad resize": (["digits", "--resize", "big"], "expected HEIGHTxWIDTH"),
        "bad split": (["digits", "--split", "validation"], "--split"),
        "split of unsplit dataset": (["digits", "--split", "test"], "use --split all"),
    }


@pytest.mark.parametrize("case", [
    "missing path", "unknown name", "corrupt gzip", "count mismatch", "unknown wavelet", "level too high",
    "mixed sizes", "empty dataset", "nan", "unknown option", "energy out of range", "bad resize",
    "bad split", "split of unsplit dataset",
])
def test_bad_input(tmp_path, rng, case):
    args, match = _bad_inputs(tmp_path, rng)[case]
    out = tmp_path / "out"
    result = run_cli("analyze", *args, "--out", out)
    _assert_one_line_error(result, match)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_out_not_empty_is_refused_even_with_overwrite_unless_wavelens_wrote_it(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    result = run_cli("analyze", "digits", "--limit", "200", "--patterns", "10", "--out", out)
    _assert_one_line_error(result, "exists and is not empty")
    result = run_cli("analyze", "digits", "--limit", "200", "--patterns", "10", "--out", out, "--overwrite")
    _assert_one_line_error(result, "is not a wavelens result")
    assert [p.name for p in out.iterdir()] == ["keep.txt"] and (out / "keep.txt").read_text() == "precious"
    out = tmp_path / "result"
    assert run_cli("analyze", "digits", "--limit", "200", "--patterns", "10", "--out", out).returncode == 0
    result = run_cli("analyze", "digits", "--limit", "200", "--patterns", "10", "--out", out, "--overwrite")
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        ".wavelens-result", "arrays.npz", "contingency_dataset_patterns.csv",
        "contingency_dataset_patterns_energy.csv", "contingency_image_patterns.csv",
        "contingency_image_patterns_energy.csv", "patterns.npz", "per_image.csv", "report.html", "report.npz",
        "summary.json"]


def test_failed_overwrite_keeps_old_results(tmp_path):
    out = tmp_path / "out"
    assert run_cli("analyze", "digits", "--limit", "200", "--patterns", "10", "--out", out).returncode == 0
    before = (out / "summary.json").read_text()
    result = run_cli("analyze", "digits", "--level", "9", "--out", out, "--overwrite")
    _assert_one_line_error(result, "too high")
    assert (out / "summary.json").read_text() == before


def test_out_is_a_file(tmp_path):
    (tmp_path / "f").write_text("x")
    _assert_one_line_error(run_cli("analyze", "digits", "--out", tmp_path / "f"), "is a file, not a folder")


def test_missing_builtin_files(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    result = run_cli("analyze", "mnist", "--data-dir", data_dir, "--out", tmp_path / "out")
    _assert_one_line_error(result, f"Cannot find the mnist files: looked in {data_dir}")


def test_out_parents_are_created(tmp_path):
    out = tmp_path / "results" / "deeper" / "digits"
    result = run_cli("analyze", "digits", "--limit", "200", "--patterns", "10", "--out", out)
    assert result.returncode == 0, result.stderr
    assert (out / "summary.json").is_file()
    assert [p.name for p in out.parent.iterdir()] == ["digits"]


def test_out_under_a_file_is_an_error(tmp_path):
    (tmp_path / "f").write_text("x")
    result = run_cli("analyze", "digits", "--limit", "200", "--patterns", "10", "--out", tmp_path / "f" / "out")
    _assert_one_line_error(result, "is a file, so no folder can be made under it")
