#!/usr/bin/python3
"""Benchmarks netc's schedule strategies against PyTorch: runs `netc bench --json` on every example
(examples/*.net) and every model of bench/models/ (shapes the examples do not have), and times
PyTorch's twin of the same model (bench/twin.py: architecture, batch, loss, regularization and
optimizer) in the same run, then prints netc's figure over PyTorch's for the train step, predict
at batch 256 and batch-1 latency, per model and strategy. A model without a twin (a kNN, HOG) is
listed as skipped.

  bench/schedules.py [--netc PATH] [--models a,b] [--strategies a,b] [--steps N] [--timeout S]

Run it through bench/schedules.sh, which installs PyTorch, builds netc and sets PyTorch's threads
and OpenBLAS up as DESIGN.md says. Both sides use synthetic data (images in [0, 1], random labels)
already in memory, on the same cores; a ratio above 1 means netc is faster. PyTorch's rate moves by
up to 2x between runs (DESIGN.md): compare within one run, and run twice.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import twin  # noqa: E402  the PyTorch twin of a .net model


def median_seconds(fn, reps, warmup=2):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def torch_figures(setup, batch, steps):
    """PyTorch's train step (s), predict at batch 256 (s) and batch-1 latency (s)."""
    torch.manual_seed(1)
    model = setup["model"]()
    weights = [p for name, p in model.named_parameters()
               if name.endswith("weight") and p.dim() > 1]  # netc's l2 takes weights only
    optimizer = setup["optimizer"](model.parameters())
    x = torch.rand(batch, *setup["input"])
    y = torch.randint(0, 10, (batch,))

    def step():
        optimizer.zero_grad(set_to_none=True)
        loss = setup["loss"](model(x), y) + setup["l2"] * sum((w * w).sum() for w in weights)
        loss.backward()
        optimizer.step()

    model.train()
    train = median_seconds(step, steps, warmup=5)
    model.eval()
    with torch.no_grad():
        big, one = torch.rand(256, *setup["input"]), torch.rand(1, *setup["input"])
        predict = median_seconds(lambda: F.softmax(model(big), 1), 5)
        latency = median_seconds(lambda: F.softmax(model(one), 1), 20)
    return train, predict, latency


# model, strategy, then each figure with netc's ratio to PyTorch beside it
ROW = "%-14s %-14s %12s %8s %14s %8s %11s %8s"


def ratio(value):
    return "%.2fx" % value if value is not None else ""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--netc", default=os.path.join(ROOT, "build", "netc"))
    parser.add_argument("--models", help="comma-separated example names or .net files "
                        "(default: every examples/*.net and bench/models/*.net with a twin)")
    parser.add_argument("--strategies", help="passed to netc bench (default: all)")
    parser.add_argument("--steps", type=int, default=20, help="timed train steps (default 20)")
    parser.add_argument("--timeout", type=float, default=120,
                        help="seconds per strategy and model for netc bench (default 120)")
    args = parser.parse_args()
    torch.set_num_threads(2)

    if args.models:
        paths = [m if m.endswith(".net") else os.path.join(ROOT, "examples", m + ".net")
                 for m in args.models.split(",")]
    else:
        paths = [os.path.join(ROOT, d, f) for d in ("examples", "bench/models")
                 for f in sorted(os.listdir(os.path.join(ROOT, d))) if f.endswith(".net")]
    lines, skipped = [], []
    for path in paths:
        name = os.path.basename(path)[:-4]
        try:
            setup = twin.setup(path, args.netc)
        except twin.NoTwin as e:
            if args.models:
                sys.exit(str(e))
            skipped.append("%s (%s)" % (name, e))
            continue
        command = [args.netc, "bench", path, "--json",
                   "--steps", str(args.steps), "--timeout", str(args.timeout)]
        if args.strategies:
            command += ["--strategies", args.strategies]
        print("$ " + " ".join(command), file=sys.stderr, flush=True)
        out = subprocess.run(command, stdout=subprocess.PIPE, text=True).stdout
        if not out.strip():
            sys.exit("netc bench printed nothing for %s (see its errors above)" % name)
        report = json.loads(out)
        batch = report["batch"]
        print("PyTorch %s: %s at batch %d ..." % (torch.__version__, name, batch),
              file=sys.stderr, flush=True)
        train, predict, latency = torch_figures(setup, batch, args.steps)
        lines.append(ROW % (name, "pytorch", "%.0f" % (batch / train), "",
                            "%.0f" % (256 / predict), "", "%.3f" % (latency * 1e3), ""))
        for row in report["strategies"]:
            failure = None
            if row["status"] != "ok":
                error = row["error"].split("\n")[0]
                failure = error if row["status"] == "timed out" else "failed: " + error
                if row.get("compile_s") is None:  # nothing measured
                    lines.append("%-14s %-14s %s" % ("", row["strategy"], failure))
                    continue
            # A pipeline that failed when run leaves the figures measured before it.
            img_s, pred_s, ms = row["train_img_s"], row["predict_img_s"], row["latency_ms"]
            lines.append(ROW % (
                "", row["strategy"], "%.0f" % img_s if img_s is not None else "-",
                ratio(img_s * train / batch if img_s is not None else None),
                "%.0f" % pred_s if pred_s is not None else "-",
                ratio(pred_s * predict / 256 if pred_s is not None else None),
                "%.3f" % ms if ms is not None else "-",
                ratio(latency * 1e3 / ms if ms is not None else None)))
            if failure:
                lines.append("%-14s %-14s %s" % ("", "", failure))
        print("%s: peak %.1f GFLOP/s, %s" % (name, report["peak_gflops"] or 0, report["target"]),
              file=sys.stderr)

    print("netc over PyTorch %s (above 1: netc faster), synthetic data, train batch of each model"
          % torch.__version__)
    print(ROW % ("model", "strategy", "train img/s", "", "predict img/s", "", "batch-1 ms", ""))
    for line in lines:
        print(line)
    for line in skipped:
        print("skipped: " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
