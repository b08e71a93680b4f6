"""Benchmark: training-free label-error detection against cleanlab, on Fashion-MNIST with flipped labels.

5% of the training labels are flipped, two ways, with several seeds:

- uniform: each flipped label replaced by one of the other 9 classes at random;
- class-conditional: the flipped images are drawn from the six classes that
  look alike, and each gets its look-alike's label (T-shirt/top <-> Shirt,
  Pullover <-> Coat, Sneaker <-> Ankle boot).

Each method gives every image a score (higher: more likely mislabeled) and a
flagged set. Printed for each: average precision and AUROC of the score against
the flipped images, precision and recall of the flagged set, and CPU seconds
(process time, every thread counted):

- wavelens: ``wavelens.audit(..., checks=["label_errors"])`` (the features and the
  neighbour graph do not depend on the labels, but are counted in every run);
- cleanlab ``find_label_issues`` with out-of-sample probabilities from 5-fold
  cross-validated logistic regression on the pixels (scikit-learn), scored by
  ``get_label_quality_scores`` (1 - quality);
- cleanlab ``Datalab`` given the wavelens features (its kNN label check).

    pip install -e '.[bench]'     # cleanlab
    python benchmarks/bench_label_errors.py [--seeds 3] [--limit N] [--skip-cleanlab]
"""

import argparse
import statistics
import time

import numpy as np

import wavelens

LOOK_ALIKE = {"T-shirt/top": "Shirt", "Shirt": "T-shirt/top", "Pullover": "Coat", "Coat": "Pullover",
              "Sneaker": "Ankle boot", "Ankle boot": "Sneaker"}


def flip(labels, class_names, kind, seed, fraction=0.05):
    rng = np.random.default_rng(seed)
    n, k = len(labels), len(class_names)
    noisy = labels.copy()
    if kind == "uniform":
        chosen = rng.choice(n, int(fraction * n), replace=False)
        noisy[chosen] = (labels[chosen] + rng.integers(1, k, len(chosen))) % k
    else:
        partner = {class_names.index(a): class_names.index(b) for a, b in LOOK_ALIKE.items()}
        candidates = np.flatnonzero(np.isin(labels, list(partner)))
        chosen = rng.choice(candidates, int(fraction * n), replace=False)
        noisy[chosen] = [partner[c] for c in labels[chosen]]
    flipped = np.zeros(n, bool)
    flipped[chosen] = True
    return noisy, flipped


def measure(score, flagged, flipped):
    from sklearn.metrics import average_precision_score, roc_auc_score

    return {"ap": average_precision_score(flipped, score), "auroc": roc_auc_score(flipped, score),
            "precision": flipped[flagged].mean() if flagged.any() else 0.0, "recall": flagged[flipped].mean(),
            "flagged": int(flagged.sum())}


def with_labels(data, noisy):
    return wavelens.Dataset(None, noisy, data.class_names, name=data.name, split=data.split, source=data.source,
                            pixels=data.pixels, pixel_max=data.pixel_max)


def run_wavelens(data, noisy):
    start = time.process_time()
    found = wavelens.audit(with_labels(data, noisy), checks=["label_errors"])
    table = found.per_image
    return (table["label_error_score"].to_numpy(), table["is_label_error"].to_numpy(),
            time.process_time() - start, found)


def run_cleanlab_lr(data, noisy, seed):
    from cleanlab.filter import find_label_issues
    from cleanlab.rank import get_label_quality_scores
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_predict

    start = time.process_time()
    pixels = data.pixels.reshape(len(noisy), -1) / 255.0
    probabilities = cross_val_predict(LogisticRegression(max_iter=200), pixels, noisy, cv=5, method="predict_proba")
    flagged = find_label_issues(noisy, probabilities)
    score = 1 - get_label_quality_scores(noisy, probabilities)
    return score, flagged, time.process_time() - start


def run_datalab(features, noisy):
    from cleanlab import Datalab

    start = time.process_time()
    lab = Datalab(data={"label": noisy}, label_name="label", verbosity=0)
    lab.find_issues(features=features, issue_types={"label": {}})
    issues = lab.get_issues("label")
    return (1 - issues["label_score"].to_numpy(), issues["is_label_issue"].to_numpy(),
            time.process_time() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--limit", type=int, default=None, help="a stratified subsample of the training set")
    parser.add_argument("--skip-cleanlab", action="store_true")
    args = parser.parse_args()
    data = wavelens.load_dataset("fashion-mnist", split="train", limit=args.limit)
    print(f"Fashion-MNIST train: {data.n_images} images; 5% of labels flipped; seeds 0..{args.seeds - 1}")
    results = {}
    for kind in ("uniform", "class-conditional"):
        for seed in range(args.seeds):
            noisy, flipped = flip(data.labels, list(data.class_names), kind, seed)
            score, flagged, cpu, found = run_wavelens(data, noisy)
            rows = {"wavelens": (measure(score, flagged, flipped), cpu)}
            if not args.skip_cleanlab:
                from wavelens.auditing.features import audit_features

                features = audit_features(data)
                score, flagged, cpu = run_cleanlab_lr(data, noisy, seed)
                rows["cleanlab LR"] = (measure(score, flagged, flipped), cpu)
                score, flagged, cpu = run_datalab(features, noisy)
                rows["cleanlab Datalab"] = (measure(score, flagged, flipped), cpu)
            for method, (m, cpu) in rows.items():
                results.setdefault((kind, method), []).append((m, cpu))
                print(f"{kind:17s} seed {seed} {method:16s} AP {m['ap']:.3f} AUROC {m['auroc']:.4f} "
                      f"flagged {m['flagged']:5d} precision {m['precision']:.3f} recall {m['recall']:.3f} "
                      f"CPU {cpu:7.1f} s", flush=True)
    print("\nmedians over seeds")
    for (kind, method), runs in results.items():
        med = {key: statistics.median(m[key] for m, _ in runs) for key in ("ap", "auroc", "precision", "recall")}
        cpu = statistics.median(c for _, c in runs)
        print(f"{kind:17s} {method:16s} AP {med['ap']:.3f} AUROC {med['auroc']:.4f} precision "
              f"{med['precision']:.3f} recall {med['recall']:.3f} CPU {cpu:7.1f} s")
    for kind in ("uniform", "class-conditional"):
        if (kind, "cleanlab LR") in results:
            ours = statistics.median(c for _, c in results[(kind, "wavelens")])
            theirs = statistics.median(c for _, c in results[(kind, "cleanlab LR")])
            print(f"{kind}: wavelens CPU / cleanlab LR CPU = {ours / theirs:.3f}")


if __name__ == "__main__":
    main()
