#!/usr/bin/python3
"""Benchmarks netc's schedule strategies against PyTorch: runs `netc bench --json` on every example
(examples/*.net) and times PyTorch's twin of the same model (architecture, batch, loss,
regularization and optimizer) in the same run, then prints netc's figure over PyTorch's for the
train step, predict at batch 256 and batch-1 latency, per model and strategy.

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
import torch.nn as nn
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "bench"))
import fashion  # noqa: E402  the PyTorch twins of the Fashion-MNIST examples


class Resnet(nn.Module):
    """examples/cifar_resnet.net: a stem and three basic blocks (16, 32 downsampled, 32)."""

    def __init__(self):
        super().__init__()

        def conv(cin, cout, k=3, stride=1):
            return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False)

        self.stem_conv, self.stem_bn = conv(3, 16), nn.BatchNorm2d(16)
        self.block1_conv1, self.block1_bn1 = conv(16, 16), nn.BatchNorm2d(16)
        self.block1_conv2, self.block1_bn2 = conv(16, 16), nn.BatchNorm2d(16)
        self.block2_conv1, self.block2_bn1 = conv(16, 32, stride=2), nn.BatchNorm2d(32)
        self.block2_conv2, self.block2_bn2 = conv(32, 32), nn.BatchNorm2d(32)
        self.block2_proj, self.block2_proj_bn = conv(16, 32, k=1, stride=2), nn.BatchNorm2d(32)
        self.block3_conv1, self.block3_bn1 = conv(32, 32), nn.BatchNorm2d(32)
        self.block3_conv2, self.block3_bn2 = conv(32, 32), nn.BatchNorm2d(32)
        self.fc = nn.Linear(32, 10)

    def forward(self, x):
        stem = F.relu(self.stem_bn(self.stem_conv(x)))
        y = F.relu(self.block1_bn1(self.block1_conv1(stem)))
        block1 = F.relu(self.block1_bn2(self.block1_conv2(y)) + stem)
        y = F.relu(self.block2_bn1(self.block2_conv1(block1)))
        block2 = F.relu(self.block2_bn2(self.block2_conv2(y)) +
                        self.block2_proj_bn(self.block2_proj(block1)))
        y = F.relu(self.block3_bn1(self.block3_conv1(block2)))
        y = F.relu(self.block3_bn2(self.block3_conv2(y)) + block2)
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(y, 1), 1))


# Each example's twin: the model, its input, and how it trains (examples/<name>.net).
SETUPS = {"fashion_%s" % name: dict(setup, input=(1, 28, 28))
          for name, setup in fashion.SETUPS.items()}
SETUPS["cifar_resnet"] = dict(
    model=Resnet, loss=F.cross_entropy, l2=5e-4, batch=128, input=(3, 32, 32),
    optimizer=lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True))


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
    parser.add_argument("--models", help="comma-separated example names (default: every "
                        "examples/*.net)")
    parser.add_argument("--strategies", help="passed to netc bench (default: all)")
    parser.add_argument("--steps", type=int, default=20, help="timed train steps (default 20)")
    parser.add_argument("--timeout", type=float, default=120,
                        help="seconds per strategy and model for netc bench (default 120)")
    args = parser.parse_args()
    torch.set_num_threads(2)

    models = (args.models.split(",") if args.models else
              sorted(f[:-4] for f in os.listdir(os.path.join(ROOT, "examples"))
                     if f.endswith(".net")))
    lines = []
    for name in models:
        if name not in SETUPS:
            sys.exit("%s: no PyTorch twin in bench/schedules.py" % name)
        command = [args.netc, "bench", os.path.join(ROOT, "examples", name + ".net"), "--json",
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
        train, predict, latency = torch_figures(SETUPS[name], batch, args.steps)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
