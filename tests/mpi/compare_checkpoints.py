#!/usr/bin/python3
"""Compares two netc checkpoints tensor by tensor, with the standard library only.

  compare_checkpoints.py A B [--rtol R] [--atol T] [--prefix P]

Every tensor of A (or those whose names start with P) must be in B with the same shape, and
differ from it by at most R relative to the tensor's largest magnitude, plus T:
max|a - b| <= R * max(max|b|, 1e-12) + T. Prints the worst tensor; exits 1 when any exceeds that.
The metadata keys named by --same must hold equal values in both (step, best accuracy, ...).
"""
import argparse
import json
import struct
import sys
from array import array


def read(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    meta = header.pop("__metadata__", {})
    tensors = {}
    for name, t in header.items():
        if t["dtype"] != "F32":
            continue
        begin, end = t["data_offsets"]
        values = array("f")
        values.frombytes(data[8 + n + begin:8 + n + end])
        if sys.byteorder != "little":
            values.byteswap()
        tensors[name] = (t["shape"], values)
    return meta, tensors


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--rtol", type=float, default=1e-5)
    parser.add_argument("--atol", type=float, default=0.0)
    parser.add_argument("--prefix", default="")
    parser.add_argument("--same", action="append", default=[])
    args = parser.parse_args()
    meta_a, a = read(args.a)
    meta_b, b = read(args.b)
    failed = False
    for key in args.same:
        if meta_a.get(key) != meta_b.get(key):
            print(f"metadata {key}: {meta_a.get(key)!r} != {meta_b.get(key)!r}")
            failed = True
    worst_name, worst = "", 0.0
    compared = 0
    for name, (shape, values) in sorted(a.items()):
        if not name.startswith(args.prefix):
            continue
        if name not in b or b[name][0] != shape:
            print(f"{name}: missing or of another shape in {args.b}")
            failed = True
            continue
        other = b[name][1]
        scale = max(max((abs(v) for v in other), default=0.0), 1e-12)
        diff = max((abs(x - y) for x, y in zip(values, other)), default=0.0)
        compared += 1
        if diff / scale > worst:
            worst_name, worst = name, diff / scale
        if diff > args.rtol * scale + args.atol:
            print(f"{name}: max |a - b| = {diff:.3g}, {diff / scale:.3g} of its scale {scale:.3g}")
            failed = True
    if compared == 0:
        print("no tensors compared")
        failed = True
    print(f"{compared} tensors compared; worst relative difference {worst:.3g} ({worst_name})")
    sys.exit(1 if failed else 0)


main()
