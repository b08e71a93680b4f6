"""The report under bad input and faults.

- Any channel count the analysis accepts is drawn (3 channels as RGB, any other
  number as the mean of the channels, in gray, said in the caption).
- Text from the data (class and dataset names, file names, the command line)
  is safe in figures (no mathtext, no crash) and in the page (escaped, UTF-8).
- ``wavelens report DIR`` on a malformed folder: one line, exit 2, nothing
  touched; report.html is replaced atomically or not at all.
- Ctrl-C, SIGTERM, SIGHUP, SIGKILL or a full disk while the figures are drawn:
  no traceback or BrokenPipeError noise, no process left behind.

Everything goes through the real entry point, ``wavelens.cli.main``, in this
process (or, for signals, in a subprocess).
"""

import csv
import errno
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from conftest import run_cli
from wavelens import Dataset, analyze
from wavelens.report import figures
from wavelens.cli import main
from wavelens.results import write_analysis

LINUX = sys.platform.startswith("linux")


# --- helpers -------------------------------------------------------------------------------------------

def _run(argv, capsys):
    with pytest.raises(SystemExit) as stopped:
        main([str(a) for a in argv])
    captured = capsys.readouterr()
    return stopped.value.code, captured.out, captured.err


def _assert_one_line(code, err, match="", expected_code=2):
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    lines = err.strip().splitlines()
    assert code == expected_code, (code, err)
    assert len(lines) == 1, err
    assert lines[0].startswith("wavelens: error: "), lines[0]
    assert match.lower() in lines[0].lower(), lines[0]


def _snapshot(root):
    """Every path under ``root``, with a hash of each file's bytes."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            state[path] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "dir"
    return state


def _images(html):
    return html.count("<img ")


def _copy(source, tmp_path, name="r"):
    target = tmp_path / name
    shutil.copytree(source, target)
    return target


def _edit_json(path, change):
    content = json.loads(path.read_text())
    content = change(content) or content
    path.write_text(json.dumps(content))


def _edit_npz(path, change):
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    change(arrays)
    with open(path, "wb") as handle:  # np.savez would add '.npz' to a name without it
        np.savez(handle, **arrays)


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    """A results folder of each command (without report.html), made once for the module."""
    root = tmp_path_factory.mktemp("results")
    runs = {
        "analyze": ["analyze", "digits", "--limit", "200", "--patterns", "10", "--random-repeats", "2"],
        "communities": ["communities", "digits", "--limit", "200", "--max-communities", "6"],
        "duplicates": ["duplicates", "digits", "--limit", "300", "--threshold", "0.97"],
        "noise-curve": ["noise-curve", "digits", "--limit", "200", "--patterns", "10", "--fractions", "0,1",
                        "--random-repeats", "1"],
    }
    folders = {}
    for kind, args in runs.items():
        out = root / kind
        result = run_cli(*args, "--out", out, "--no-report")
        assert result.returncode == 0, result.stderr
        folders[kind] = out
    return folders


# --- 1. any channel count is drawn -----------------------------------------------------------------

def _dataset(channels, n_per_class=16, size=8, names=("a", "b", "c"), seed=0):
    rng = np.random.default_rng(seed)
    shape = (n_per_class * len(names), size, size) + ((channels,) if channels else ())
    return Dataset(rng.random(shape).astype(np.float32), np.repeat(np.arange(len(names)), n_per_class),
                   list(names), name="synthetic", split="all", source="synthetic")


@pytest.mark.parametrize("channels", [None, 1, 2, 3, 4, 5])
def test_any_channel_count_is_drawn(tmp_path, capsys, channels):
    out = tmp_path / "out"
    write_analysis(analyze(_dataset(channels), n_patterns=6, random_repeats=2, n_jobs=1), out)
    html = (out / "report.html").read_text(encoding="utf-8")
    assert _images(html) == 9 and "\x00" not in html
    noted = "each is drawn as the mean of its channels, in gray" in html
    assert noted == (channels not in (None, 1, 3))
    # Rebuilt from the files by the command line: the same page.
    code, _, err = _run(["report", out], capsys)
    assert code == 0, err
    assert (out / "report.html").read_text(encoding="utf-8") == html


@pytest.mark.parametrize("channels", [2, 4, 5])
def test_channel_counts_from_an_npz_through_every_command(tmp_path, capsys, channels):
    rng = np.random.default_rng(channels)
    data = tmp_path / "data.npz"
    images = (rng.random((48, 8, 8, channels)) * 255).astype(np.uint8)
    images[47] = images[0]  # a copy, for the duplicates report to show
    np.savez(data, images=images, labels=np.repeat([0, 1, 2], 16))
    runs = {"analyze": (["--patterns", "6", "--random-repeats", "2"], 9),
            "communities": (["--max-communities", "4"], 3),
            "duplicates": (["--threshold", "0.5"], 1),
            "noise-curve": (["--patterns", "6", "--fractions", "0,1", "--random-repeats", "1"], 2)}
    for command, (args, n_images) in runs.items():
        out = tmp_path / command
        code, _, err = _run([command, data, *args, "--out", out, "--quiet"], capsys)
        assert code == 0, (command, err)
        html = (out / "report.html").read_text(encoding="utf-8")
        assert _images(html) == n_images, command
        if command != "noise-curve":
            assert f"The images have {channels} channels" in html, command


def test_the_channel_rule():
    rng = np.random.default_rng(0)
    rgb, five = rng.random((4, 4, 3)), rng.random((4, 4, 5))
    assert np.array_equal(figures.shown(rgb), rgb)  # 3 channels: RGB
    assert np.allclose(figures.shown(five), five.mean(axis=-1))  # any other number: their mean
    assert figures.shown(rng.random((4, 4, 1))).shape == (4, 4)
    assert figures.shown(rgb, signed=True).shape == (4, 4)  # signed patterns: always the mean
    assert figures.shown(rng.random((2, 4, 4, 3)), stack=True).shape == (2, 4, 4, 3)
    assert figures.shown(rng.random((2, 4, 4)), stack=True).shape == (2, 4, 4)  # a stack of gray images
    assert figures.channel_note(3) == figures.channel_note(1) == figures.channel_note(None) == ""
    assert "4 channels" in figures.channel_note(4) and "3 channels" in figures.channel_note(3, signed=True)


@pytest.mark.parametrize("channels", [2, 4, 5])
def test_every_image_figure_draws_any_channel_count(rng, channels):
    images = rng.random((6, 8, 8, channels))
    for figure in (figures.image_grid(images, np.arange(6) % 2, ["a", "b"]),
                   figures.wavelet_decomposition(images[0], rng.standard_normal((8, 8, channels))),
                   figures.rebuild_series(images[0], images[1:4], [1, 2, 4]),
                   figures.community_members([images[:3], images[3:3], images[3:]], ["#0", "#1", "#2"]),
                   figures.duplicate_pairs(images[:2], images[2:4], ["A0 B1\n0.99", "A2 B3\n0.98"]),
                   figures.pattern_gallery(rng.standard_normal((5, 8, 8, channels)), rng.random((5, 2)),
                                           ["a", "b"])):
        assert figures.to_png(figure).startswith(b"\x89PNG")


# --- 2. text from the data -------------------------------------------------------------------------------

WEIRD = ["$\\foo$", "$x$", "a_b^c", "<script>alert(1)</script>", "&amp;", "two\nlines", "ctrl\x00\x07\x1b\x7f",
         "x" * 10_000, "", "caf\udce9", "\ud800", "猫", "\\", "$", "\u202eevil", '"quoted" \'too\'']


def test_figures_draw_any_text(rng):
    names = WEIRD
    k = len(names)
    for figure in (figures.image_grid(rng.random((2 * k, 8, 8)), np.arange(2 * k) % k, names),
                   figures.pattern_gallery(rng.standard_normal((k, 8, 8)), np.eye(k), names),
                   figures.association_heatmaps(rng.random((6, k)), rng.random((6, k)), names),
                   figures.community_members([rng.random((2, 8, 8))] * k, names),
                   figures.duplicate_pairs(rng.random((k, 8, 8)), rng.random((k, 8, 8)), names)):
        png = figures.to_png(figure)
        assert png.startswith(b"\x89PNG") and len(png) < 5_000_000  # long names are cut: no giant image


def test_figure_text_is_never_mathtext():
    assert figures.figure_text("$\\foo$") == "\\$\\foo\\$"
    assert figures.figure_text("a\nb\x00") == "a\\nb\\x00"
    assert figures.figure_text("caf\udce9") == "caf\ufffd"
    assert figures.figure_text("x" * 100, 10, mark_cut=True) == "x" * 9 + "\u2026"


def _check_page(path, n_images=None):
    raw = path.read_bytes()
    html = raw.decode("utf-8")  # strictly: every byte is UTF-8
    assert "<script" not in html and "\x00" not in html and "\ufffe" not in html
    assert not any(0xD800 <= ord(ch) <= 0xDFFF for ch in html)
    if n_images is not None:
        assert _images(html) == n_images
    return html


def test_text_in_a_summary_is_escaped_in_the_page(tmp_path, capsys, results):
    folder = _copy(results["analyze"], tmp_path)
    names = WEIRD[:10]

    def change(s):
        s["dataset"]["class_names"] = names
        s["dataset"]["name"] = "<b>bold</b> $x$ \udce9\n"
        s["dataset"]["split"] = "<i>"
        s["command"] = "wavelens analyze '<script>' $\\foo$ \x1b[31m"
        s["params"]["wavelet"] = "<db1>"
        s["params"]["<key>"] = "\udce9"

    _edit_json(folder / "summary.json", change)
    code, out, err = _run(["report", folder], capsys)
    assert code == 0, err
    html = _check_page(folder / "report.html", 9)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" not in html  # class names appear in figures, not as text
    assert "&lt;b&gt;bold&lt;/b&gt; $x$ \ufffd\\n" in html and "&lt;script&gt;" in html
    assert "&lt;db1&gt;" in html and "&lt;key&gt;" in html and "&lt;i&gt;" in html


def test_text_in_communities_and_duplicates_is_escaped(tmp_path, capsys, results):
    folder = _copy(results["communities"], tmp_path, "c")

    def change(s):
        group = s["communities"]["groups"][0]
        for i, community in enumerate(group["communities"]):
            community["top_class"] = WEIRD[i % len(WEIRD)]
            community["classes"] = {WEIRD[(i + j) % len(WEIRD)]: j + 1 for j in range(3)}
            community["mixed"] = True
        group["name"] = "<all>"

    _edit_json(folder / "summary.json", change)
    code, _, err = _run(["report", folder], capsys)
    assert code == 0, err
    html = _check_page(folder / "report.html", 3)  # the gap profile, the eigenvalues, the members
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;all&gt;" in html

    folder = _copy(results["duplicates"], tmp_path, "d")
    _edit_json(folder / "summary.json", lambda s: s["dataset_a"].update(name="<a>\udce9", split="$x$"))
    with open(folder / "duplicates.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    # Class names as a CSV writer writes them, and bytes that are not UTF-8 (a folder name's).
    with open(folder / "duplicates.csv", "w", newline="", encoding="utf-8", errors="surrogateescape") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        for i, row in enumerate(rows):
            row["class_a"] = WEIRD[i % len(WEIRD)].replace("\x00", "").replace("\ud800", "\udcff")
            writer.writerow(row)
    code, _, err = _run(["report", folder], capsys)
    assert code == 0, err
    html = _check_page(folder / "report.html", 1)
    assert "&lt;a&gt;\ufffd" in html


def test_names_from_the_data_through_the_analysis(tmp_path, capsys):
    names = ["$\\foo$", "<script>", "caf\udce9", "x" * 10_000]
    dataset = _dataset(None, names=names)
    dataset.name = "<data>$x$"
    result = analyze(dataset, n_patterns=6, random_repeats=2, n_jobs=1)
    result.command = "wavelens analyze '<data>$x$' --out \udce9"
    out = tmp_path / "out"
    write_analysis(result, out)
    html = _check_page(out / "report.html", 9)
    assert "&lt;data&gt;$x$" in html
    code, _, err = _run(["report", out], capsys)
    assert code == 0, err
    assert _check_page(out / "report.html") == html


# --- 3. malformed results folders ------------------------------------------------------------------

def _npz_member_header(path, member, shape):
    """Rewrite ``member`` of an .npz to declare ``shape`` (its data left as it is)."""
    with zipfile.ZipFile(path) as archive:
        contents = {info.filename: archive.read(info) for info in archive.infolist()}
    data = contents[member + ".npy"]
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': %r, }" % (shape,)
    header += " " * (118 - len(header)) + "\n"
    contents[member + ".npy"] = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + data[128:]
    with zipfile.ZipFile(path, "w") as archive:
        for name, payload in contents.items():
            archive.writestr(name, payload)


def _object_member(path, member):
    with np.load(path, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    arrays[member] = np.array([{"pickled": "object"}, None], dtype=object)
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


def _flip_byte(path, member):
    """Flip a byte in the middle of ``member``'s data (its CRC then fails)."""
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member + ".npy")
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra) + 128
    data[start + (info.file_size - 128) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _unrelated(folder):
    shutil.rmtree(folder)
    folder.mkdir()
    (folder / "notes.txt").write_text("thesis notes\n")
    (folder / "photo.jpg").write_bytes(os.urandom(300))
    (folder / "sub").mkdir()
    (folder / "sub" / "summary.json").write_text("{}")


def _summary_folder(folder):
    (folder / "summary.json").unlink()
    (folder / "summary.json").mkdir()


def _set(path, *keys, value):
    def change(s):
        target = s
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    _edit_json(path, change)


def _member(name, member, value):
    return lambda f: _edit_npz(f / name, lambda a: a.__setitem__(member, value))


def _drop(name, member):
    return lambda f: _edit_npz(f / name, lambda a: a.pop(member))


def _like(name, member, make):
    """Replace ``member`` by ``make(the member)``."""
    return lambda f: _edit_npz(f / name, lambda a: a.__setitem__(member, make(a[member])))


S = "summary.json"
BAD_FOLDERS = {
    # the folder itself
    "DIR missing": ("analyze", lambda f: f.parent / "missing", "is not a folder: it does not exist"),
    "DIR is a file": ("analyze", lambda f: (f / S), "is not a folder: it is a file"),
    "DIR empty": ("analyze", lambda f: [p.unlink() for p in f.iterdir()], "is empty"),
    "DIR unrelated": ("analyze", _unrelated, "holds no wavelens results"),
    "DIR missing, newline in its name": ("analyze", lambda f: f.parent / "two\nlines", "two\\nlines"),
    "summary.json a folder": ("analyze", _summary_folder, "holds no wavelens results"),
    # summary.json
    "summary.json missing": ("analyze", lambda f: (f / S).unlink(), "holds no wavelens results"),
    "summary.json not JSON": ("analyze", lambda f: (f / S).write_text("{not json"), "not readable JSON"),
    "summary.json empty": ("analyze", lambda f: (f / S).write_text(""), "not readable JSON"),
    "summary.json not UTF-8": ("analyze", lambda f: (f / S).write_bytes(b'{"a": "\xff\xfe"}'), "not readable JSON"),
    "summary.json deeply nested": ("analyze", lambda f: (f / S).write_text("[" * 200_000 + "]" * 200_000),
                                   "not readable JSON"),
    "summary.json a list": ("analyze", lambda f: (f / S).write_text("[1, 2, 3]"), "should be an object"),
    "summary.json {}": ("analyze", lambda f: (f / S).write_text("{}"), "'dataset' is missing"),
    "summary.json without lowrank": ("analyze", lambda f: _edit_json(f / S, lambda s: s.pop("lowrank") and None),
                                     "'lowrank' is missing"),
    "rank_median a string": ("analyze", lambda f: _set(f / S, "lowrank", "rank_median", value="4"),
                             "'lowrank.rank_median' should be a number"),
    "class_names a string": ("analyze", lambda f: _set(f / S, "dataset", "class_names", value="0123456789"),
                             "'dataset.class_names' should be a list"),
    "class_names too few": ("analyze", lambda f: _set(f / S, "dataset", "class_names", value=["a", "b"]),
                            "should hold dataset.n_classes = 10 names"),
    "negative repeats": ("analyze", lambda f: _set(f / S, "association", "image_patterns", "random", "repeats",
                                                   value=-1), "should be an integer >= 0"),
    "params a list": ("analyze", lambda f: _set(f / S, "params", value=[1, 2]), "'params' should be an object"),
    "max_possible_rank huge": ("analyze", lambda f: _set(f / S, "lowrank", "max_possible_rank", value=10**9),
                               "singular_values"),
    "noise curve row without nmi": ("analyze", lambda f: _edit_json(
        f / S, lambda s: s["association"]["noise_curve"][1].pop("nmi") and None),
        "'association.noise_curve[1].nmi' is missing"),
    # report.npz
    "report.npz missing": ("analyze", lambda f: (f / "report.npz").unlink(), "report.npz is missing"),
    "report.npz random bytes": ("analyze", lambda f: (f / "report.npz").write_bytes(os.urandom(2000)),
                                "not a readable .npz"),
    "report.npz truncated": ("analyze", lambda f: (f / "report.npz").write_bytes(
        (f / "report.npz").read_bytes()[:3000]), "not a readable .npz"),
    "report.npz a byte flipped": ("analyze", lambda f: _flip_byte(f / "report.npz", "sample_images"), "CRC"),
    "report.npz without sample_images": ("analyze", _drop("report.npz", "sample_images"),
                                         "has no array 'sample_images'"),
    "sample_images 1-D": ("analyze", _member("report.npz", "sample_images", np.zeros(5, np.uint8)),
                          "'sample_images' should be an array of 3 or 4 axes"),
    "sample_images of objects": ("analyze", lambda f: _object_member(f / "report.npz", "sample_images"),
                                 "never unpickles"),
    "sample_images of text": ("analyze", _member("report.npz", "sample_images", np.array(["a", "b"])),
                              "should be an array of numbers"),
    "sample_labels floats": ("analyze", _like("report.npz", "sample_labels", lambda a: a.astype(float)),
                             "should be an array of integers"),
    "sample_labels out of range": ("analyze", _like("report.npz", "sample_labels", lambda a: np.full_like(a, 99)),
                                   "class numbers in [0, 10)"),
    "sample_labels wrong length": ("analyze", _member("report.npz", "sample_labels", np.zeros(3, int)),
                                   "'sample_labels' should be of shape (s,)"),
    "table of the wrong class count": ("analyze", _member("report.npz", "table_image_true", np.ones((10, 3))),
                                       "'table_image_true' should be of shape (P, 10)"),
    "example_image NaN": ("analyze", _member("report.npz", "example_image", np.full((8, 8), np.nan)),
                          "finite numbers"),
    "example_image another size": ("analyze", _member("report.npz", "example_image", np.zeros((4, 8))),
                                   "'example_image' should be of shape (H, W, [C])"),
    "member declaring a huge shape": ("analyze", lambda f: _npz_member_header(f / "report.npz", "table_image_true",
                                                                             (10**6, 10**6)), "declares"),
    # arrays.npz, patterns.npz
    "arrays.npz missing": ("analyze", lambda f: (f / "arrays.npz").unlink(), "arrays.npz is missing"),
    "singular_values complex": ("analyze", _member("arrays.npz", "singular_values", np.ones((200, 1, 8), complex)),
                                "should be an array of numbers"),
    "rank_at_energy too short": ("analyze", _member("arrays.npz", "rank_at_energy", np.ones(3)), "rank_at_energy"),
    "prototype_counts too short": ("analyze", _member("patterns.npz", "prototype_counts", np.ones(2)),
                                   "prototype_counts"),
    "patterns.npz a folder": ("analyze", lambda f: (f / "patterns.npz").unlink() or (f / "patterns.npz").mkdir(),
                              "patterns.npz is not a file"),
    # noise_curve.json
    "noise_curve.json not JSON": ("noise-curve", lambda f: (f / "noise_curve.json").write_text("[1,"),
                                  "not readable JSON"),
    "noise rows not a list": ("noise-curve", lambda f: _set(f / "noise_curve.json", "rows", value={"a": 1}),
                              "'rows' should be a list"),
    "noise rows empty": ("noise-curve", lambda f: _set(f / "noise_curve.json", "rows", value=[]),
                         "'rows' should be a list of at least 1 items"),
    "noise rows of one kind": ("noise-curve", lambda f: _edit_json(
        f / "noise_curve.json", lambda s: s.update(rows=[r for r in s["rows"] if r["kind"] != "image_patterns"])),
        "image_patterns"),
    "noise fraction a string": ("noise-curve", lambda f: _edit_json(
        f / "noise_curve.json", lambda s: s["rows"][0].update(fraction="half")), "'rows[0].fraction'"),
    # communities
    "communities without groups": ("communities", lambda f: _set(f / S, "communities", "groups", value=[]),
                                   "'communities.groups' should be a list of at least 1"),
    "community classes as text": ("communities", lambda f: _edit_json(
        f / S, lambda s: s["communities"]["groups"][0]["communities"][0].update(classes={"1": "many"})),
        "should be an integer >= 0"),
    "member_counts beyond the images": ("communities", _member("report.npz", "member_counts",
                                                               np.array([10**6] * 6)), "member_counts"),
    "member_communities of another length": ("communities", _member("report.npz", "member_communities",
                                                                    np.arange(99)), "should be of shape (g,)"),
    # duplicates
    "duplicates.csv missing": ("duplicates", lambda f: (f / "duplicates.csv").unlink(), "duplicates.csv is missing"),
    "dataset_b a string": ("duplicates", lambda f: _set(f / S, "dataset_b", value="mnist"),
                           "'dataset_b' should be an object"),
    "pair_captions numbers": ("duplicates", _member("report.npz", "pair_captions", np.arange(12)),
                              "'pair_captions' should be an array of text"),
    "pair images of two counts": ("duplicates", _member("report.npz", "pair_images_b", np.zeros((3, 8, 8), np.uint8)),
                                  "pair_images_b"),
}


@pytest.mark.parametrize("case", list(BAD_FOLDERS))
def test_malformed_results_folder_gets_one_line(tmp_path, capsys, results, case):
    kind, damage, match = BAD_FOLDERS[case]
    folder = _copy(results[kind], tmp_path)
    given = damage(folder)  # the path to give, or whatever the damage returned
    given = given if isinstance(given, Path) else folder
    if (folder / S).is_file() or (folder / "noise_curve.json").is_file():
        (folder / "report.html").write_text("the old report")
    before = _snapshot(tmp_path)
    code, out, err = _run(["report", given], capsys)
    _assert_one_line(code, err, match)
    assert _snapshot(tmp_path) == before  # nothing touched, the old report.html kept, no temporary file


def test_report_touches_nothing_but_report_html(tmp_path, capsys, results):
    folder = _copy(results["analyze"], tmp_path)
    (folder / "report.html").write_text("the old report")
    before = _snapshot(tmp_path)
    code, out, err = _run(["report", folder], capsys)
    assert code == 0 and err == "", err
    assert out.strip() == f"Wrote {folder / 'report.html'}."
    after = _snapshot(tmp_path)
    changed = {path for path in before.keys() | after.keys() if before.get(path) != after.get(path)}
    assert changed == {folder / "report.html"}
    assert _images((folder / "report.html").read_text()) == 9


def test_a_full_disk_while_writing_report_html_keeps_the_old_one(tmp_path, capsys, results, monkeypatch):
    folder = _copy(results["analyze"], tmp_path)
    (folder / "report.html").write_text("the old report")
    before = _snapshot(tmp_path)
    real_fdopen = os.fdopen

    class Full:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, data):
            self.handle.write(data[:1000])  # half written, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fdopen", lambda fd, *args, **kwargs: Full(real_fdopen(fd, *args, **kwargs)))
    code, _, err = _run(["report", folder], capsys)
    _assert_one_line(code, err, "No space left on device")
    assert _snapshot(tmp_path) == before


def test_report_html_that_is_a_folder(tmp_path, capsys, results):
    folder = _copy(results["analyze"], tmp_path)
    (folder / "report.html").mkdir()
    (folder / "report.html" / "keep.txt").write_text("mine")
    before = _snapshot(tmp_path)
    code, _, err = _run(["report", folder], capsys)
    _assert_one_line(code, err, "cannot write")
    assert _snapshot(tmp_path) == before


def test_duplicates_without_pairs_are_reported(tmp_path, capsys):
    out = tmp_path / "out"
    code, _, err = _run(["duplicates", "digits", "--limit", "100", "--threshold", "0.99999", "--out", out,
                         "--quiet"], capsys)
    assert code == 0, err
    html = _check_page(out / "report.html", 0)
    assert "No pairs." in html


def test_sample_classes_without_images_are_reported(tmp_path):
    """Samples come from the first 20 classes: when none of them has images, the report goes on without."""
    names = [f"c{i}" for i in range(25)]
    dataset = Dataset(np.random.default_rng(0).random((48, 8, 8)).astype(np.float32), np.repeat([21, 22, 23], 16),
                      names, name="synthetic", split="all", source="synthetic")
    write_analysis(analyze(dataset, n_patterns=6, random_repeats=2, n_jobs=1), tmp_path / "out")
    _check_page(tmp_path / "out" / "report.html", 8)


def test_a_summary_without_a_random_control_is_reported(tmp_path, capsys):
    out = tmp_path / "out"
    write_analysis(analyze(_dataset(None), n_patterns=6, random_repeats=0, n_jobs=1), out)
    html = _check_page(out / "report.html", 9)
    assert "no random-label control" in html
    code, _, err = _run(["report", out], capsys)
    assert code == 0, err


# --- 4. signals and faults while figures are drawn ---------------------------------------------------

def _session(sid):
    """Processes of session ``sid`` that are still alive (zombies are dead: init reaps them)."""
    alive = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == sid and fields[0] not in "ZX":
            alive.append(int(entry))
    return alive


def _children(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append((int(entry), fields[0]))
    return found


def _wait_until_gone(sid, timeout=10):
    deadline = time.monotonic() + timeout
    while _session(sid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return _session(sid)


# Figures drawn slowly, so that a signal surely comes while they are being drawn; the marker file
# says when the first one starts (in the figure process or a worker).
SLOW_FIGURES = textwrap.dedent("""
    import os, sys, time
    from pathlib import Path
    import wavelens.report._drawing as drawing
    real = drawing._draw
    def slow(index):
        Path(os.environ["MARK"]).touch()
        time.sleep(0.4)
        return real(index)
    drawing._draw = slow
    drawing._can_fork_workers = lambda: True  # figure process and workers even on one core
    from wavelens.cli import main
    main(sys.argv[1:])
""")


def _interrupted_run(tmp_path, argv, signum, whole_group):
    mark = tmp_path / "drawing"
    run = subprocess.Popen([sys.executable, "-c", SLOW_FIGURES, *map(str, argv)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, start_new_session=True,
                           env={**os.environ, "MARK": str(mark)})
    try:
        deadline = time.monotonic() + 120
        while not mark.exists() and run.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert mark.exists(), run.communicate()
        time.sleep(0.1)
        if whole_group:
            os.killpg(run.pid, signum)  # as Ctrl-C does, or a service manager stopping everything
        else:
            os.kill(run.pid, signum)
        stdout, stderr = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            os.killpg(run.pid, signal.SIGKILL)
            run.wait()
    return run.returncode, stderr, run.pid


@pytest.mark.skipif(not LINUX, reason="the figure process and its workers are forked on Linux only")
@pytest.mark.parametrize("command", ["analyze", "report"])
@pytest.mark.parametrize("signame, whole_group, code", [("SIGINT", True, 130), ("SIGTERM", False, 143),
                                                        ("SIGTERM", True, 143), ("SIGHUP", False, 129)])
def test_signal_while_figures_are_drawn(tmp_path, results, command, signame, whole_group, code):
    if command == "analyze":  # drawn by the figure process (forked at the start) and its two workers
        out = tmp_path / "out"
        argv = ["analyze", "digits", "--limit", "200", "--patterns", "10", "--random-repeats", "2", "--out", out]
    else:  # drawn by two workers forked by the command itself
        out = _copy(results["analyze"], tmp_path)
        argv = ["report", out]
    before = _snapshot(tmp_path)
    returncode, stderr, pid = _interrupted_run(tmp_path, argv, getattr(signal, signame), whole_group)
    _assert_one_line(returncode, stderr, expected_code=code)
    assert _wait_until_gone(pid) == [], "processes left behind"
    after = _snapshot(tmp_path)
    after.pop(tmp_path / "drawing")
    assert after == before  # analyze: nothing written; report: no report.html, no temporary file


@pytest.mark.skipif(not LINUX, reason="the figure process and its workers are forked on Linux only")
@pytest.mark.parametrize("command", ["analyze", "report"])
def test_figure_processes_die_with_a_killed_command(tmp_path, results, command):
    if command == "analyze":
        argv = ["analyze", "digits", "--limit", "200", "--patterns", "10", "--out", tmp_path / "out"]
    else:
        argv = ["report", _copy(results["analyze"], tmp_path)]
    returncode, stderr, pid = _interrupted_run(tmp_path, argv, signal.SIGKILL, False)
    assert returncode == -signal.SIGKILL and stderr == ""
    assert _wait_until_gone(pid) == [], "processes left behind"


@pytest.mark.skipif(not LINUX, reason="the figure process and its workers are forked on Linux only")
@pytest.mark.parametrize("where", ["drawing", "writing"])
def test_a_full_disk_while_figures_are_drawn(tmp_path, capfd, monkeypatch, where):
    import wavelens.report._drawing as drawing

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    drawing.stop_figure_process()  # one an earlier command of this process started, before the patch
    # In the figure process's workers (they inherit the patch by fork), or in the command while they draw.
    if where == "drawing":
        monkeypatch.setattr(figures, "to_png", full)
    else:
        monkeypatch.setattr(np, "savez", full)
    monkeypatch.setattr(drawing, "_can_fork_workers", lambda: True)
    out = tmp_path / "out"
    try:
        with pytest.raises(SystemExit) as stopped:
            main(["analyze", "digits", "--limit", "200", "--patterns", "10", "--random-repeats", "2", "--out",
                  str(out)])
        assert drawing._figure_process is not None  # the figures were handed to the figure process
        figure_process = drawing._figure_process.process.pid
    finally:
        drawing.stop_figure_process()  # what atexit does when the command ends
    captured = capfd.readouterr()  # the children's stderr too: they share this one
    _assert_one_line(stopped.value.code, captured.err, "No space left on device")
    assert list(tmp_path.iterdir()) == []
    deadline = time.monotonic() + 5
    while _children(os.getpid()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _children(os.getpid()) == [], "processes left behind"
    assert not Path(f"/proc/{figure_process}").exists()


@pytest.mark.skipif(not LINUX, reason="the figure process and its workers are forked on Linux only")
def test_a_report_abandoned_halfway_does_not_answer_the_next(tmp_path, results, monkeypatch):
    """A command that fails after handing its figures over: the next report (in the same process)
    gets its own figures, not the abandoned report's."""
    import wavelens.report._drawing as drawing
    from wavelens.report import build_report, start_report

    monkeypatch.setattr(drawing, "_can_fork_workers", lambda: True)
    drawing.stop_figure_process()
    analyze_folder = _copy(results["analyze"], tmp_path, "a")
    noise_folder = _copy(results["noise-curve"], tmp_path, "n")
    try:
        assert drawing.start_figure_process()
        start_report(analyze_folder)  # handed over, never written
        html = build_report(noise_folder).read_text()
    finally:
        drawing.stop_figure_process()
    assert _images(html) == 2
    assert html == build_report(noise_folder).read_text()  # drawn here, in turn: the same figures


def test_build_report_tells_python_callers_of_results_folders_not_flags(tmp_path, capsys, results):
    """The messages build_report gives name no command-line flag: a results folder is what a wavelens
    command or a result's .save() wrote; the command line gives the same one line."""
    from wavelens import WavelensError
    from wavelens.report import build_report

    (tmp_path / "empty").mkdir()
    (tmp_path / "a file").write_text("x")
    broken = _copy(results["analyze"], tmp_path, "broken")
    (broken / S).write_text("{}")
    for folder in (tmp_path / "missing", tmp_path / "a file", tmp_path / "empty", broken):
        with pytest.raises(WavelensError) as error:
            build_report(folder)
        message = str(error.value)
        assert "--" not in message and "results folder that a wavelens command" in message, message
        assert "a result's .save() wrote" in message, message
        code, _, err = _run(["report", folder], capsys)
        _assert_one_line(code, err, message)
