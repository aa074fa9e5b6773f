#!/usr/bin/python3
"""Weights trained in PyTorch, compiled by netc: the MLP of examples/fashion_mlp.net trained with
torch on Fashion-MNIST, its state_dict saved as safetensors (the format is 8 bytes of header
length, a JSON header, then the raw tensors; Debian ships no safetensors package, so it is written
here in a few lines), then evaluated by `netc eval` and compiled into an object with the weights
inside by `netc FILE --weights W -o OBJ`.

    python3 examples/torch_to_netc.py NETC OUT_DIR [--epochs N] [--limit N]

netc reads a file without its own metadata as a state_dict: tensors under their torch names and
shapes (netc's names are torch's), class names 0..K-1, and pixels fed as they are, in [0, 1],
without normalization, as this script trains. Prints the two accuracies; exits 1 when they differ
by more than 0.001, 77 when PyTorch or the data set is missing (ctest's "skipped").
"""
import argparse
import gzip
import json
import os
import re
import struct
import subprocess
import sys

try:
    import numpy as np
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:
    print("skipped: %s (scripts/setup.sh bench installs PyTorch)" % e)
    sys.exit(77)

DATA = "/usr/share/datasets/fashion-mnist"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    magic, count = struct.unpack(">II", data[:8])
    if magic == 0x803:
        rows, cols = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, np.uint8, offset=16).reshape(count, 1, rows, cols)
    return np.frombuffer(data, np.uint8, offset=8).astype(np.int64)


def save_safetensors(path, state_dict):
    """A state_dict as safetensors: F32 tensors, no __metadata__ (so netc reads it as foreign)."""
    header, blobs, offset = {}, [], 0
    for name, t in state_dict.items():
        raw = t.detach().contiguous().to(torch.float32).numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)  # the tensors start 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


class Mlp(nn.Module):
    """examples/fashion_mlp.net: flatten, fc1 256, relu, fc2 128, relu, fc3 10."""

    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(784, 256), nn.Linear(256, 128), nn.Linear(128, 10)

    def forward(self, x):
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc3(F.relu(self.fc2(x)))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("netc")
    parser.add_argument("out")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--limit", type=int, default=60000, help="training images used")
    args = parser.parse_args()
    if not os.path.exists(os.path.join(DATA, "train-images-idx3-ubyte.gz")):
        print("skipped: no Fashion-MNIST in " + DATA)
        sys.exit(77)
    os.makedirs(args.out, exist_ok=True)
    torch.manual_seed(0)

    images = torch.from_numpy(read_idx(os.path.join(DATA, "train-images-idx3-ubyte.gz"))
                              [:args.limit].astype(np.float32) / 255.0)
    labels = torch.from_numpy(read_idx(os.path.join(DATA, "train-labels-idx1-ubyte.gz"))
                              [:args.limit])
    model = Mlp()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(args.epochs):
        order = torch.randperm(len(images))
        for i in range(0, len(images), 128):
            batch = order[i:i + 128]
            opt.zero_grad()
            F.cross_entropy(model(images[batch]), labels[batch]).backward()
            opt.step()

    test_x = torch.from_numpy(read_idx(os.path.join(DATA, "t10k-images-idx3-ubyte.gz"))
                              .astype(np.float32) / 255.0)
    test_y = torch.from_numpy(read_idx(os.path.join(DATA, "t10k-labels-idx1-ubyte.gz")))
    with torch.no_grad():
        torch_accuracy = (model(test_x).argmax(1) == test_y).float().mean().item()

    weights = os.path.join(args.out, "torch_mlp.safetensors")
    save_safetensors(weights, model.state_dict())
    model_file = os.path.join(ROOT, "examples", "fashion_mlp.net")
    out = subprocess.run([args.netc, "eval", model_file, "--weights", weights, "--data", DATA],
                         check=True, stdout=subprocess.PIPE, text=True).stdout
    netc_accuracy = float(re.search(r"accuracy ([0-9.]+)", out).group(1))
    obj = os.path.join(args.out, "torch_mlp.o")
    subprocess.run([args.netc, model_file, "--weights", weights, "-o", obj], check=True)

    print("PyTorch-trained fashion_mlp: test accuracy %.4f in PyTorch, %.4f in netc eval; "
          "compiled with its weights into %s" % (torch_accuracy, netc_accuracy, obj))
    sys.exit(0 if abs(torch_accuracy - netc_accuracy) <= 1e-3 else 1)


if __name__ == "__main__":
    main()
