#!/usr/bin/python3
"""`netc --emit=mlir` compiled and run by MLIR 14's own tools.

  mlir_check.py NETC MODEL.net WORKDIR [--images N]

Trains MODEL.net for a few steps (`netc train --steps`: on Fashion-MNIST for a 1x28x28 input, on
synthetic CIFAR-10 batches written here for 3x32x32), exports it with the checkpoint at a batch of
N images (default 8), then:

- mlir-opt-14 parses it (which runs every operation's verifier), and the text is what
  docs/export.md says: one `builtin.func @predict` from [N, C, H, W] to [N, classes], every
  parameter of `netc --emit=params` a tosa.const of its torch name and shape holding the
  checkpoint's floats bit for bit, the normalization (when the checkpoint has one) leading, the
  softmax last;
- a `main` written here feeds N test images to @predict as a constant and prints the result with
  the runner utils' print_memref_f32; mlir-opt-14 lowers the whole with its own passes (TOSA to
  linalg, bufferization, linalg to loops, on to the LLVM dialect) and mlir-cpu-runner-14 runs it:
  the probabilities printed equal those of `netc predict --json` to 1e-4.

Exit status 0 when everything agrees, 1 when not, 77 (skipped, for ctest) where mlir-opt-14,
mlir-cpu-runner-14, the runner utils or python3-numpy are missing: scripts/setup.sh installs them.
"""
import gzip
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import time
import zlib

try:
    import numpy as np
except ImportError as e:
    print("skipped: %s (scripts/setup.sh installs python3-numpy)" % e)
    sys.exit(77)

MLIR_OPT = "mlir-opt-14"
RUNNER = "mlir-cpu-runner-14"
# Debian's libmlir-14 puts the runner utils here, under their versioned names only.
RUNNER_LIBS = ["/usr/lib/llvm-14/lib/libmlir_runner_utils.so.14",
               "/usr/lib/llvm-14/lib/libmlir_c_runner_utils.so.14"]
FASHION = "/usr/share/datasets/fashion-mnist"
TOLERANCE = 1e-4

# From TOSA to the LLVM dialect with MLIR 14's passes, as they are named there: TOSA to linalg
# on tensors (named ops first, so conv2d and fully_connected become linalg.conv_2d_nhwc_hwcf and
# linalg.matmul), bufferization, linalg to loops, then every dialect to LLVM. arith-expand turns
# the maxf/minf of the pools and clamps into compares and selects, which 14's arith-to-llvm needs.
LOWERING = [
    "--pass-pipeline=builtin.func(tosa-to-linalg-named,tosa-to-linalg,tosa-to-standard)",
]
TO_LLVM = [
    "--linalg-bufferize", "--arith-bufferize", "--tensor-bufferize", "--std-bufferize",
    "--func-bufferize", "--finalizing-bufferize", "--buffer-deallocation",
    "--convert-linalg-to-loops", "--lower-affine", "--convert-scf-to-std", "--arith-expand",
    "--convert-memref-to-llvm", "--convert-math-to-llvm", "--convert-math-to-libm",
    "--convert-arith-to-llvm", "--convert-std-to-llvm", "--reconcile-unrealized-casts",
]


def run(args, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-4000:])
        raise SystemExit("FAIL: %s exited with %d" % (" ".join(args)[:300], result.returncode))
    return result.stdout


def input_shape(model_path):
    with open(model_path) as f:
        m = re.search(r"^\s*input\s+(\d+)x(\d+)x(\d+)", f.read(), re.M)
    return tuple(int(d) for d in m.groups())


def write_cifar(directory, rng):
    """Synthetic CIFAR-10 batches: random pixels and labels, 64 records per training batch."""
    os.makedirs(directory, exist_ok=True)
    for name in ["data_batch_%d.bin" % i for i in range(1, 6)] + ["test_batch.bin"]:
        records = np.zeros((64, 1 + 3 * 32 * 32), np.uint8)
        records[:, 0] = rng.integers(0, 10, 64)
        records[:, 1:] = rng.integers(0, 256, (64, 3 * 32 * 32))
        with open(os.path.join(directory, name), "wb") as f:
            f.write(records.tobytes())


def write_png(path, hwc):
    """An 8-bit gray or RGB PNG of `hwc` [H, W, C], every row unfiltered."""
    h, w, c = hwc.shape

    def chunk(kind, data):
        return (struct.pack(">I", len(data)) + kind + data +
                struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    rows = b"".join(b"\0" + hwc[y].tobytes() for y in range(h))
    header = struct.pack(">IIBBBBB", w, h, 8, {1: 0, 3: 2}[c], 0, 0, 0)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) +
                chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def test_images(shape, count, work, rng):
    """`count` images as netc predict's inputs, and the same pixels as floats [count, C, H, W] in
    [0, 1] computed as netc computes them (u8 / 255 in float)."""
    c, h, w = shape
    if shape == (1, 28, 28):
        with gzip.open(os.path.join(FASHION, "t10k-images-idx3-ubyte.gz")) as f:
            f.read(16)
            pixels = np.frombuffer(f.read(count * h * w), np.uint8).reshape(count, 1, h, w)
        path = os.path.join(work, "test-idx3-ubyte")
        with open(path, "wb") as f:
            f.write(struct.pack(">IIII", 0x803, count, h, w) + pixels.tobytes())
        inputs = [path]
    else:
        pixels = rng.integers(0, 256, (count, c, h, w)).astype(np.uint8)
        inputs = []
        for i in range(count):
            path = os.path.join(work, "image%02d.png" % i)
            write_png(path, np.ascontiguousarray(np.transpose(pixels[i], (1, 2, 0))))
            inputs.append(path)
    return inputs, pixels.astype(np.float32) / np.float32(255)


DTYPES = {"F32": np.float32, "I32": np.int32}


def read_safetensors(path):
    with open(path, "rb") as f:
        size = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(size))
        data = f.read()
    return header.get("__metadata__", {}), {
        name: np.frombuffer(data[t["data_offsets"][0]:t["data_offsets"][1]], DTYPES[t["dtype"]])
        .reshape(t["shape"])
        for name, t in header.items() if name != "__metadata__" and t["dtype"] in DTYPES}


def tensor_type(dims):
    return "tensor<%sxf32>" % "x".join(str(d) for d in dims)


OP = re.compile(r'^\s*(%[\w.$-]+) = "([\w.]+)"\((.*?)\)')
CONST = re.compile(r'^\s*(%[\w.$-]+) = "tosa.const"\(\) \{value = dense<"0x([0-9A-F]+)"> : '
                   r'tensor<([0-9x]+)xf32>\}')


def check_text(text, shape, batch, classes, params, checkpoint, metadata):
    """The exported text as docs/export.md describes it."""
    signature = "builtin.func @predict(%%input: %s) -> %s {" % (
        tensor_type((batch,) + shape), tensor_type((batch, classes)))
    assert signature in text, "no %s" % signature
    ops = [m.groups() for m in map(OP.match, text.splitlines()) if m]
    consts = {}
    for line in text.splitlines():
        m = CONST.match(line)
        if m:
            consts[m[1]] = (bytes.fromhex(m[2]), [int(d) for d in m[3].split("x")])
    for name, torch_shape in params.items():
        assert "%" + name in consts, "no constant %%%s" % name
        data, dims = consts["%" + name]
        assert dims == torch_shape, "%s: %s, torch %s" % (name, dims, torch_shape)
        assert data == checkpoint[name].astype("<f4").tobytes(), \
            "%s differs from the checkpoint" % name
    if metadata.get("kind") == "knn":
        # The stored set under the checkpoint's names: its features, its labels as floats.
        stored = {"reference.features": checkpoint["reference.features"],
                  "reference.labels": checkpoint["reference.labels"].astype(np.float32)[None, :]}
        for name, value in stored.items():
            assert "%" + name in consts, "no constant %%%s" % name
            data, dims = consts["%" + name]
            assert dims == list(value.shape) and data == value.astype("<f4").tobytes(), \
                "%s differs from the checkpoint" % name
    computed = [(name, op) for name, op, _ in ops if op != "tosa.const"]
    if "normalization_mean" in metadata:
        first = [op for _, op in computed[:2]]
        assert first == ["tosa.sub", "tosa.mul"], "the normalization is not leading: %s" % first
        assert computed[0][0] == "%input.centred", computed[0]
    last = [op for _, op in computed[-5:]]
    assert last == ["tosa.reduce_max", "tosa.sub", "tosa.exp", "tosa.reduce_sum",
                    "tosa.reciprocal"] or computed[-1][1] == "tosa.mul", last
    assert re.search(r"return %classes.probs : " + re.escape(tensor_type((batch, classes))), text)
    return sorted({op for _, op, _ in ops})


def main_function(pixels, classes):
    """`main`: @predict of the images, a tosa.const, printed by print_memref_f32."""
    images = tensor_type(pixels.shape)
    probs = tensor_type((pixels.shape[0], classes))
    memref = probs.replace("tensor", "memref")
    return "\n".join([
        "builtin.func private @print_memref_f32(memref<*xf32>)",
        "builtin.func @main() {",
        '    %%images = "tosa.const"() {value = dense<"0x%s"> : %s} : () -> %s' % (
            pixels.astype("<f4").tobytes().hex().upper(), images, images),
        "    %%probs = call @predict(%%images) : (%s) -> %s" % (images, probs),
        "    %%buffer = bufferization.to_memref %%probs : %s" % memref,
        "    %%unranked = memref.cast %%buffer : %s to memref<*xf32>" % memref,
        "    call @print_memref_f32(%unranked) : (memref<*xf32>) -> ()",
        "    return",
        "}",
        ""])


def printed_values(output):
    """The floats print_memref_f32 printed after `data =`."""
    data = output.split("data =", 1)[1]
    return np.array([float(v) for v in re.findall(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|"
                                                   r"[-+]?(?:inf|nan)", data)], np.float64)


def main():
    args = sys.argv[1:]
    images = 8
    if "--images" in args:
        i = args.index("--images")
        images = int(args[i + 1])
        del args[i:i + 2]
    netc, model_path, work = args
    missing = [tool for tool in (MLIR_OPT, RUNNER) if shutil.which(tool) is None]
    missing += [lib for lib in RUNNER_LIBS if not os.path.exists(lib)]
    if missing:
        print("skipped: %s missing (scripts/setup.sh installs mlir-14-tools and libmlir-14)" %
              ", ".join(missing))
        sys.exit(77)
    start = time.time()
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    rng = np.random.default_rng(14)
    shape = input_shape(model_path)
    if shape == (1, 28, 28):
        data = FASHION
    else:
        data = os.path.join(work, "cifar")
        write_cifar(data, rng)

    # A kNN model stores the training split (its checkpoint is best.safetensors); any other
    # trains for 3 steps.
    knn = re.search(r"^\s*classify\s+knn", open(model_path).read(), re.M) is not None
    run([netc, "train", model_path, "--data", data, "--limit", "512"] +
        ([] if knn else ["--steps", "3"]) + ["--out", os.path.join(work, "run")])
    ckpt = os.path.join(work, "run", "best.safetensors" if knn else "last.safetensors")
    mlir_path = os.path.join(work, "model.mlir")
    export = [netc, model_path, "--weights", ckpt, "--emit=mlir", "--batch", str(images),
              "-o", mlir_path]
    run(export)
    params = {}
    for line in run([netc, "--emit=params", model_path]).splitlines():
        m = re.match(r"(\S+) \[([0-9, ]+)\] offset", line)
        if m:
            params[m[1]] = [int(d) for d in m[2].split(",")]
    metadata, checkpoint = read_safetensors(ckpt)
    classes = len(json.loads(metadata["class_names"]))
    trained = time.time()

    run([MLIR_OPT, mlir_path, "-o", os.devnull])  # parsing runs the verifiers
    with open(mlir_path) as f:
        text = f.read()
    ops = check_text(text, shape, images, classes, params, checkpoint, metadata)
    print("%s: mlir-opt-14 verifies it; %d operations, %s" %
          (os.path.basename(model_path), text.count(' = "tosa.'),
           ", ".join(ops)))

    inputs, pixels = test_images(shape, images, work, rng)
    predicted = json.loads(run([netc, "predict", model_path, "--weights", ckpt, "--json"] +
                               inputs))
    expected = np.array([p["probabilities"] for p in predicted["predictions"]], np.float64)
    assert expected.shape == (images, classes), expected.shape

    program = os.path.join(work, "program.mlir")
    with open(program, "w") as f:
        f.write(text + "\n" + main_function(pixels, classes))
    linalg = os.path.join(work, "program.linalg.mlir")
    llvm = os.path.join(work, "program.llvm.mlir")
    run([MLIR_OPT, program] + LOWERING + ["-o", linalg])
    run([MLIR_OPT, linalg] + TO_LLVM + ["-o", llvm])
    lowered = time.time()
    output = run([RUNNER, llvm, "-O3", "-e", "main", "-entry-point-result=void",
                  "-shared-libs=" + ",".join(RUNNER_LIBS)])
    ran = time.time()
    got = printed_values(output)
    assert got.size == images * classes, "printed %d values, not %d x %d:\n%s" % (
        got.size, images, classes, output[:2000])
    got = got.reshape(images, classes)
    diff = np.abs(got - expected).max()
    print("mlir-cpu-runner-14 against netc predict on %d images: max |difference| %.3g "
          "(tolerance %g; printed to 6 digits); top-1 agrees on %d; train+export %.1f s, "
          "lower %.1f s, run %.1f s" % (images, diff, TOLERANCE,
                                        int((got.argmax(1) == expected.argmax(1)).sum()),
                                        trained - start, lowered - trained, ran - lowered))
    if not diff <= TOLERANCE:
        raise SystemExit("FAIL: the probabilities MLIR computes differ from netc's by %g" % diff)


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        raise SystemExit("FAIL: %s" % e)
