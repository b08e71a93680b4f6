"""The hand-written baseline for `wavelens analyze` (issue: patterns and classes).

What a researcher writes by hand for the same question on Fashion-MNIST train:
read the IDX files, loop over images with PyWavelets + numpy's SVD keeping each
image's top-3 rank-1 patterns (sign made canonical), cluster all of them with
scikit-learn's MiniBatchKMeans into 100 prototypes, and compare sklearn's NMI of
prototype vs class with true and with shuffled labels (5 shuffles).

The patterns are clustered in float32 (half the memory and time of the
float64 that ``np.array(patterns)`` gives); ``--float64`` keeps them as
NumPy makes them, which is slower.

    python benchmarks/baseline_analyze.py [DATA_DIR] [--float64]
"""

import gzip
import sys
import time

import numpy as np
import pywt
from sklearn.cluster import MiniBatchKMeans
from sklearn.metrics import normalized_mutual_info_score

start = time.perf_counter()
arguments = [a for a in sys.argv[1:] if a != "--float64"]
folder = arguments[0] if arguments else "/usr/share/datasets/fashion-mnist"
dtype = np.float64 if "--float64" in sys.argv else np.float32
with gzip.open(f"{folder}/train-images-idx3-ubyte.gz") as f:
    images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 28, 28) / 255.0
with gzip.open(f"{folder}/train-labels-idx1-ubyte.gz") as f:
    labels = np.frombuffer(f.read(), np.uint8, offset=8).astype(int)

patterns = []
for image in images:
    array, _ = pywt.coeffs_to_array(pywt.wavedec2(image, "db1", mode="periodization", level=1))
    u, s, vt = np.linalg.svd(array)
    for j in range(3):
        pattern = np.outer(u[:, j], vt[j])
        if pattern.flat[np.abs(pattern).argmax()] < 0:
            pattern = -pattern
        patterns.append(pattern.ravel())
patterns = np.array(patterns, dtype=dtype)

kmeans = MiniBatchKMeans(n_clusters=100, random_state=0).fit(patterns)
pattern_labels = np.repeat(labels, 3)
nmi = normalized_mutual_info_score(pattern_labels, kmeans.labels_)
rng = np.random.default_rng(0)
shuffled = [normalized_mutual_info_score(np.repeat(rng.permutation(labels), 3), kmeans.labels_)
            for _ in range(5)]
print(f"NMI true {nmi:.4f}, shuffled {np.mean(shuffled):.5f}; {time.perf_counter() - start:.2f} s")
