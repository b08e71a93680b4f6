"""The scripts in examples/ run, and print what they promise (the README's "Python" section)."""

import re
import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_notebook_tour(fashion_mnist_dir, tmp_path):
    # A subsample, so that it takes seconds; the full data takes about 40 s on 2 cores.
    run = subprocess.run([sys.executable, str(EXAMPLES / "notebook_tour.py"), "--limit", "1000"],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stderr
    out = run.stdout
    # The training set's summary and association table (image and dataset patterns, true and random labels).
    assert re.search(r"fashion-mnist \(train\): 1000 images of 28x28, 10 classes\.", out)
    assert re.search(r"The 100 image-pattern prototypes \(counts\) go with the classes: NMI 0\.\d+", out)
    assert re.search(r"The 100 dataset patterns \(energy shares\) go with the classes: NMI 0\.\d+", out)
    assert re.search(r"^image_patterns +true +0\.\d+", out, re.M)
    assert re.search(r"^dataset_patterns +true +0\.\d+", out, re.M)
    # The test images' patterns, assigned to the training set's prototypes, go with the test classes.
    nmi = re.search(r"Test images, train patterns: NMI (0\.\d+) \(random labels (0\.\d+)\)", out)
    assert nmi and float(nmi[1]) > 0.2 > float(nmi[2])
    table = out[nmi.end():]
    assert re.search(r"^image_patterns +true +0\.\d+ +0\.\d+ +0\.\d+$", table, re.M)
    assert re.search(r"^dataset_patterns +true +0\.\d+ +0\.\d+ +0\.\d+$", table, re.M)
    assert "Same test prototypes from the estimator: True" in out
    # The per-image table of the CSV of paths: a path column, sorted by PSNR.
    assert "Analysis(list (all): 100 images of 28x28, 10 classes;" in out
    header = re.search(r"^ +path +class_name +rank_at_energy +psnr_db$", out, re.M)
    assert header
    rows = re.findall(r"^\d+ +(/\S+/\d{3}\.png) +.+? +\d+ +(\d+\.\d+)$", out[header.end():], re.M)[:5]
    assert len(rows) == 5
    assert all(Path(path).is_absolute() for path, _ in rows)
    psnr = [float(value) for _, value in rows]
    assert psnr == sorted(psnr)
    # The near-duplicates of the test images among the training images.
    assert re.search(r"\d+ near-duplicate pairs \(similarity >= 0\.9 and standing out from each image's "
                     r"neighbours, ratio 0\.25\) between fashion-mnist \(test\) and fashion-mnist \(train\) in \d+ "
                     r"groups: \d+ exact cop", out)
    assert re.search(r"^ +id_a +id_b +similarity", out, re.M)
    assert re.search(r"test/\d+ +train/\d+ +0\.9\d*", out)
