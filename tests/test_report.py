"""The report: figures drawn headless (Agg), and report.html opened in a real headless Chromium."""

import io
import os
import re
import shutil

import numpy as np
import pytest
from PIL import Image

from conftest import run_cli
from wavelens.report import figures
from wavelens.report import build_report

PNG = b"\x89PNG\r\n\x1a\n"


def _png_ok(png):
    assert png.startswith(PNG)
    image = np.asarray(Image.open(io.BytesIO(png)).convert("L"), dtype=float)
    assert image.std() > 5  # something was drawn


@pytest.mark.parametrize("make", [
    lambda rng: figures.image_grid(rng.random((20, 8, 8)), np.repeat([0, 1], 10), ["a", "b"]),
    lambda rng: figures.image_grid(rng.random((6, 8, 8, 3)), np.arange(6) % 3, ["a", "b", "c"]),
    lambda rng: figures.wavelet_decomposition(rng.random((8, 8)), rng.standard_normal((8, 8))),
    lambda rng: figures.singular_value_decay(np.sort(rng.random((50, 1, 8)), axis=-1)[..., ::-1]),
    lambda rng: figures.rank_distribution(rng.integers(1, 8, 100), 8, 0.99),
    lambda rng: figures.rebuild_series(rng.random((8, 8)), rng.random((3, 8, 8)), [1, 2, 4]),
    lambda rng: figures.pattern_gallery(rng.standard_normal((10, 8, 8)), rng.random((10, 3)), ["a", "b", "c"]),
    lambda rng: figures.association_heatmaps(rng.random((10, 3)), rng.random((10, 3)), ["a", "b", "c"]),
    lambda rng: figures.noise_curve_plot([0, 0.5, 1], [0.3, 0.1, 0.0], [0.001, 0.001, 0.001]),
    lambda rng: figures.eigenvalue_plot(np.linspace(0, 0.5, 10), 3),
    lambda rng: figures.community_members([rng.random((5, 8, 8)), rng.random((3, 8, 8))], ["#0", "#1"]),
    lambda rng: figures.duplicate_pairs(rng.random((2, 8, 8)), rng.random((2, 8, 8)), ["x", "y"]),
])
def test_figures_render_headless(rng, make):
    _png_ok(figures.to_png(make(rng)))


def test_figures_drawn_by_worker_processes_equal_those_drawn_in_turn(tmp_path, monkeypatch):
    import wavelens.report._drawing as drawing

    out = tmp_path / "digits"
    assert run_cli("analyze", "digits", "--limit", "400", "--out", out, "--no-report").returncode == 0
    if not drawing.sys.platform.startswith("linux"):
        pytest.skip("figures are drawn by forked workers on Linux only")
    monkeypatch.setattr(drawing, "_can_fork_workers", lambda: True)
    forked = build_report(out).read_text()
    monkeypatch.setattr(drawing, "_can_fork_workers", lambda: False)
    in_turn = build_report(out).read_text()
    assert forked == in_turn
    assert "\x00" not in forked and forked.count("data:image/png;base64,iVBOR") == 9
    # By the figure process forked early (which forks the two workers itself).
    monkeypatch.setattr(drawing, "_can_fork_workers", lambda: True)
    assert drawing.start_figure_process()
    process = drawing._figure_process.process
    try:
        by_figure_process = build_report(out).read_text()
    finally:
        drawing.stop_figure_process()
    assert by_figure_process == in_turn
    assert not process.is_alive() and drawing._figure_process is None


def test_report_of_a_folder_without_results(tmp_path):
    result = run_cli("report", tmp_path)
    assert result.returncode == 2 and "holds no wavelens results" in result.stderr
    result = run_cli("report", tmp_path / "missing")
    assert result.returncode == 2 and "is not a folder" in result.stderr


# --- in a real browser ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not (chromium and driver):
        pytest.skip("Chromium is not installed here: apt-get install chromium chromium-driver "
                    "(.ci/run does it) to open the reports in a browser")
    os.environ["SE_OFFLINE"] = "true"  # never let Selenium Manager look for a driver online
    from selenium import webdriver

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1200,2400",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    session = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver))
    yield session
    session.quit()


def _open(browser, path):
    browser.get(path.as_uri())
    browser.get_log("browser")  # clear what an earlier page left
    browser.refresh()
    return browser


def _check_page(browser, path, sections):
    html = path.read_text()
    # Self-contained: no scripts, no external images, styles, fonts or links.
    assert "<script" not in html and not re.search(r'(src|href)="(?!data:)', html)
    _open(browser, path)
    ids = set(browser.execute_script("return Array.from(document.querySelectorAll('section')).map(s => s.id)"))
    assert set(sections) <= ids, ids
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt])")
    assert images and all(done and width > 0 for done, width, _ in images), images
    errors = [entry for entry in browser.get_log("browser") if entry["level"] in ("SEVERE", "WARNING")]
    assert errors == []
    shot = np.asarray(Image.open(io.BytesIO(browser.get_screenshot_as_png())).convert("L"), dtype=float)
    assert shot.std() > 10  # not blank
    return browser


def test_analyze_report_in_browser(browser, tmp_path):
    out = tmp_path / "digits"
    assert run_cli("analyze", "digits", "--out", out).returncode == 0
    _check_page(browser, out / "report.html",
                ["findings", "samples", "wavelets", "lowrank", "patterns", "association", "provenance"])
    text = browser.find_element("tag name", "body").text
    assert "the median image is the sum of" in text and "rank-1 patterns" in text
    assert "image-pattern prototypes (counts) go with the classes: NMI" in text
    assert "wavelens analyze digits --out" in text
    assert len(browser.execute_script("return document.images")) == 9
    # wavelens report rebuilds the same sections from the saved results
    (out / "report.html").unlink()
    assert run_cli("report", out).returncode == 0
    _check_page(browser, out / "report.html", ["findings", "association"])


def test_communities_duplicates_and_noise_reports_in_browser(browser, tmp_path):
    runs = {
        "c": (["communities", "digits", "--max-communities", "12"], ["findings", "spectrum", "communities"]),
        "d": (["duplicates", "digits", "--threshold", "0.97"], ["findings", "duplicates"]),
        "n": (["noise-curve", "digits", "--fractions", "0,0.5,1", "--random-repeats", "2"],
              ["findings", "noise-curve"]),
    }
    for name, (args, sections) in runs.items():
        result = run_cli(*args, "--out", tmp_path / name)
        assert result.returncode == 0, result.stderr
        _check_page(browser, tmp_path / name / "report.html", sections)


def test_no_report(tmp_path):
    out = tmp_path / "o"
    assert run_cli("analyze", "digits", "--limit", "300", "--patterns", "10", "--no-report", "--out", out).returncode == 0
    assert not (out / "report.html").exists() and (out / "report.npz").exists()
    assert build_report(out).name == "report.html"


def test_figure_process_draws_falls_back_and_stops_with_the_command(tmp_path):
    import subprocess
    import sys

    out = tmp_path / "digits"
    assert run_cli("analyze", "digits", "--limit", "300", "--out", out, "--no-report").returncode == 0
    code = f"""
import multiprocessing, sys
import wavelens.report._drawing as drawing
from wavelens.report import build_report
if not drawing.start_figure_process():
    print("no fork here"); sys.exit()
assert "matplotlib" not in sys.modules  # loaded by the figure process, not here
html = build_report({str(out)!r}).read_text()
assert html.count("data:image/png;base64,iVBOR") == 9 and "matplotlib" not in sys.modules
drawing._figure_process.process.kill()  # a figure process that died: the figures are drawn here
drawing._figure_process.process.join()
assert build_report({str(out)!r}).read_text() == html
print("ok")
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    if result.stdout.strip() == "no fork here":
        pytest.skip("the figure process needs fork (Linux) and two cores")
    assert result.stdout.strip() == "ok" and not result.stderr


def test_report_drawn_during_the_writes_equals_the_report_rebuilt_from_the_files(tmp_path):
    out = tmp_path / "digits"
    assert run_cli("analyze", "digits", "--limit", "400", "--out", out).returncode == 0
    during = (out / "report.html").read_text()
    assert run_cli("report", out).returncode == 0
    assert (out / "report.html").read_text() == during
    assert during.count("data:image/png;base64,iVBOR") == 9


def test_to_png_crops_to_the_drawing_and_keeps_what_lies_outside_the_canvas():
    plt = figures._pyplot()
    figure, axis = plt.subplots(figsize=(4, 3))
    axis.plot([0, 1], [0, 1])
    inside = Image.open(io.BytesIO(figures.to_png(figure, dpi=90)))
    assert 200 < inside.size[0] <= 360 and 150 < inside.size[1] <= 270  # cropped, never larger
    figure, axis = plt.subplots(figsize=(4, 3))
    axis.plot([0, 1], [0, 1])
    axis.text(-1.5, 0.5, "a label far to the left", transform=axis.transAxes)
    outside = Image.open(io.BytesIO(figures.to_png(figure, dpi=90)))
    assert outside.size[0] > 360  # grown to show the label, as savefig's bbox_inches="tight" does
    from matplotlib.backend_bases import FigureCanvasBase
    from matplotlib.figure import Figure

    figure = Figure(figsize=(4, 3))  # made without pyplot, under a canvas that cannot render
    FigureCanvasBase(figure)
    figure.add_subplot().plot([0, 1], [0, 1])
    _png_ok(figures.to_png(figure))


def test_audit_report_in_browser_shows_each_gallery(browser, tmp_path):
    out = tmp_path / "audit"
    result = run_cli("audit", "digits", "--checks", "label_errors,duplicates,outliers,classes", "--out", out)
    assert result.returncode == 0, result.stderr
    _check_page(browser, out / "report.html",
                ["findings", "issues", "label-errors", "outliers", "low-information", "duplicates",
                 "confusable-classes", "provenance"])
    alts = browser.execute_script("return Array.from(document.images).map(i => i.alt)")
    assert {"Likely label errors", "Outliers", "Near-duplicates and leaks", "class overlap"} <= set(alts)
    text = browser.find_element("tag name", "body").text
    assert "Label errors:" in text and "Confusable classes:" in text
