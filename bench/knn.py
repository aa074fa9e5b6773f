#!/usr/bin/python3
"""Benchmarks netc's compiled k-nearest-neighbour classifier against scikit-learn's brute-force
KNeighborsClassifier and FAISS's flat index, in the same run, on Fashion-MNIST: 60,000 training
images stored, the 10,000 test images classified, k = 5, majority vote.

  bench/knn.py [--netc PATH] [--data DIR] [--out DIR] [--repeats N] [--sklearn-l1-queries N]
               [--single-queries N]

Run it through bench/knn.sh, which installs scikit-learn and FAISS (Debian's python3-sklearn and
python3-faiss), builds netc and gives each library the machine's cores. Prints, for L2 and L1,
each one's queries per second, accuracy and netc's speed over it; then netc's rate at batch 1
(one query per pipeline call, as an application classifying images one by one gets it, on the
first --single-queries test images).

What is timed: classification alone, the training set already in memory (netc's `eval --json`
"seconds": every test image's features, distances, neighbours and vote; scikit-learn's `predict`;
FAISS's `search` plus the vote in numpy). Loading and normalizing the data, and netc's JIT
compilation, are outside all three. Each figure is the median of --repeats runs, except
scikit-learn with L1, which is slow: it classifies the first --sklearn-l1-queries test images
once, and its classes are compared with netc's on those images (through `netc predict`).

netc normalizes pixels by the training set's mean and standard deviation; the others see pixels
scaled to [0, 1]. One scale factor separates the two, so the neighbours are the same.
"""
import argparse
import json
import os
import statistics
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from fashion import read_idx  # noqa: E402

K = 5


def run(command):
    print("$ " + " ".join(command), flush=True)
    return subprocess.run(command, check=True, stdout=subprocess.PIPE, text=True).stdout


def model_variant(directory, distance, batch):
    """examples/fashion_knn.net with another distance and queries per call, storing the whole
    training set as the others do (no validation split)."""
    with open(os.path.join(ROOT, "examples", "fashion_knn.net")) as f:
        text = f.read()
    for old, new in (("distance=l1", "distance=%s" % distance), ("batch 1024", "batch %d" % batch),
                     ("validation 0.1", "validation 0")):
        if old not in text:
            sys.exit("bench/knn.py: examples/fashion_knn.net no longer says '%s'" % old)
        text = text.replace(old, new)
    path = os.path.join(directory, "knn_%s_b%d.net" % (distance, batch))
    with open(path, "w") as f:
        f.write(text)
    return path


def netc_figures(args, directory, distance, batch, repeats, limit=None, weights=None):
    """(queries per second, accuracy, the model file, its checkpoint) of netc's model, on the
    first `limit` test images (all by default); `weights`, a stored set of the same model at
    another batch, spares storing it again."""
    model = model_variant(directory, distance, batch)
    if weights is None:
        run_dir = os.path.join(directory, "run_%s_b%d" % (distance, batch))
        run([args.netc, "train", model, "--data", args.data, "--out", run_dir])
        weights = os.path.join(run_dir, "best.safetensors")
    rates, accuracy = [], None
    for _ in range(repeats):
        command = [args.netc, "eval", model, "--weights", weights, "--data", args.data, "--json"]
        report = json.loads(run(command + (["--limit", str(limit)] if limit else [])))
        rates.append(report["samples"] / report["seconds"])
        accuracy = report["accuracy"]
    return statistics.median(rates), accuracy, model, weights


def netc_classes(args, directory, model, weights, images):
    """netc's class for each of `images` (uint8 [N, 28, 28]), through `netc predict`."""
    path = os.path.join(directory, "queries.idx")
    with open(path, "wb") as f:
        f.write(struct.pack(">IIII", 0x803, len(images), 28, 28))
        f.write(np.ascontiguousarray(images, np.uint8).tobytes())
    report = json.loads(run([args.netc, "predict", model, "--weights", weights, path, "--json"]))
    return np.array([np.argmax(p["probabilities"]) for p in report["predictions"]])


def vote(labels, neighbours, classes=10):
    """Each row's majority class; ties to the lower class index (netc's rule, and
    scikit-learn's)."""
    votes = np.zeros((len(neighbours), classes), np.int64)
    rows = np.arange(len(neighbours))
    for j in range(neighbours.shape[1]):
        np.add.at(votes, (rows, labels[neighbours[:, j]]), 1)
    return votes.argmax(axis=1)


def sklearn_figures(train_x, train_y, test_x, test_y, metric, repeats, classes=False):
    from sklearn.neighbors import KNeighborsClassifier
    model = KNeighborsClassifier(n_neighbors=K, algorithm="brute", metric=metric, n_jobs=-1)
    model.fit(train_x, train_y)
    rates, predicted = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        predicted = model.predict(test_x)
        rates.append(len(test_x) / (time.perf_counter() - start))
    figures = (statistics.median(rates), float(np.mean(predicted == test_y)))
    return figures + (predicted,) if classes else figures


def faiss_figures(train_x, train_y, test_x, test_y, repeats):
    import faiss
    faiss.omp_set_num_threads(os.cpu_count())
    index = faiss.IndexFlatL2(train_x.shape[1])
    index.add(train_x)
    rates, predicted = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        _, neighbours = index.search(test_x, K)
        predicted = vote(train_y, neighbours)
        rates.append(len(test_x) / (time.perf_counter() - start))
    return statistics.median(rates), float(np.mean(predicted == test_y))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--netc", default=os.path.join(ROOT, "build", "netc"))
    parser.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    parser.add_argument("--out", help="netc's models and runs (default: a temporary directory)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sklearn-l1-queries", type=int, default=500)
    parser.add_argument("--single-queries", type=int, default=500,
                        help="test images classified one per call for the batch-1 figure")
    args = parser.parse_args()

    def images(name):
        x = read_idx(os.path.join(args.data, name)).reshape(-1, 784)
        return np.ascontiguousarray(x, np.float32) / np.float32(255)

    train_x, test_x = images("train-images-idx3-ubyte.gz"), images("t10k-images-idx3-ubyte.gz")
    train_y = read_idx(os.path.join(args.data, "train-labels-idx1-ubyte.gz"))
    test_y = read_idx(os.path.join(args.data, "t10k-labels-idx1-ubyte.gz"))

    q = args.sklearn_l1_queries
    with tempfile.TemporaryDirectory() as scratch:
        directory = args.out or scratch
        os.makedirs(directory, exist_ok=True)
        netc_l2, netc_l2_acc, _, l2_weights = netc_figures(args, directory, "l2", 1024,
                                                           args.repeats)
        netc_l1, netc_l1_acc, l1_model, l1_weights = netc_figures(args, directory, "l1", 1024,
                                                                  args.repeats)
        raw_queries = np.rint(test_x[:q] * 255).reshape(-1, 28, 28)
        netc_l1_subset = netc_classes(args, directory, l1_model, l1_weights, raw_queries)
        single = {d: netc_figures(args, directory, d, 1, 1, args.single_queries, w)[0]
                  for d, w in (("l2", l2_weights), ("l1", l1_weights))}

    sk_l2, sk_l2_acc = sklearn_figures(train_x, train_y, test_x, test_y, "euclidean", args.repeats)
    fa_l2, fa_l2_acc = faiss_figures(train_x, train_y, test_x, test_y, args.repeats)
    sk_l1, sk_l1_acc, sk_l1_classes = sklearn_figures(train_x, train_y, test_x[:q], test_y[:q],
                                                      "manhattan", 1, classes=True)
    print()
    print("k-nearest neighbours, Fashion-MNIST: 60,000 stored, k = %d, %d cores" %
          (K, os.cpu_count()))
    print("%-28s %12s %9s %8s" % ("", "queries/s", "accuracy", "netc is"))
    rows = [
        ("L2  netc", netc_l2, netc_l2_acc, None),
        ("L2  scikit-learn (brute)", sk_l2, sk_l2_acc, netc_l2 / sk_l2),
        ("L2  FAISS IndexFlatL2", fa_l2, fa_l2_acc, netc_l2 / fa_l2),
        ("L1  netc", netc_l1, netc_l1_acc, None),
        ("L1  scikit-learn (brute)", sk_l1, sk_l1_acc, netc_l1 / sk_l1),
    ]
    for name, rate, accuracy, ratio in rows:
        print("%-28s %12.0f %9.4f %8s" % (name, rate, accuracy,
                                          "" if ratio is None else "%.1fx" % ratio))
    print("(scikit-learn with L1 over the first %d test images, the rest over all 10,000)" % q)
    print("one query per call (batch 1, the first %d test images): netc %.0f queries/s with L2, "
          "%.0f with L1" % (args.single_queries, single["l2"], single["l1"]))
    print()
    faster_l2 = max(sk_l2, fa_l2)
    print("L2: netc / the faster of scikit-learn and FAISS = %.2fx (target 2x)" %
          (netc_l2 / faster_l2))
    print("L1: netc / scikit-learn = %.1fx (target 30x)" % (netc_l1 / sk_l1))
    print("L2 accuracy: netc %.4f, scikit-learn %.4f (difference %+.4f, target within 0.005)" %
          (netc_l2_acc, sk_l2_acc, netc_l2_acc - sk_l2_acc))
    subset_acc = float(np.mean(netc_l1_subset == test_y[:q]))
    print("L1 accuracy on the first %d: netc %.4f, scikit-learn %.4f; the same class for %.1f%%"
          % (q, subset_acc, sk_l1_acc, 100 * np.mean(netc_l1_subset == sk_l1_classes)))


if __name__ == "__main__":
    main()
