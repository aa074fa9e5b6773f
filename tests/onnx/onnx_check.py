#!/usr/bin/python3
"""`netc --emit=onnx` checked by the tools that consume ONNX.

  onnx_check.py NETC MODEL.net WORKDIR [--opencv-lacks OP,...]

Trains MODEL.net for a few steps (`netc train --steps`: on Fashion-MNIST for a 1x28x28 input, on
synthetic CIFAR-10 batches written here for 3x32x32; a kNN model stores 512 images' worth),
exports it with the checkpoint, then:

- onnx.checker.check_model(full_check=True) passes, the opset is 13 or later, the input is
  [N, C, H, W] with N symbolic, and shape inference, from a copy whose output shape is erased,
  gives the output [N, classes] and a shape to every node's value;
- every parameter of `netc --emit=params` is an initializer of that torch name and shape holding
  the checkpoint's values bit for bit (a kNN model's stored set, its reference.features and
  reference.labels);
- OpenCV's DNN module (cv2.dnn.readNetFromONNX) computes, on 64 test images, the probabilities
  `netc predict --json` prints, to 1e-4.

--opencv-lacks names ONNX ops OpenCV 4.6 cannot import or run: a model using one is checked by
onnx and, where it uses only the ops numpy_run() implements (the feature extractors', the kNN
classifier's), by those ops
run in numpy against `netc predict` to 1e-4; OpenCV must then fail on it (so the list stays
true).

Exit status 0 when everything agrees, 1 when not, 77 (skipped, for ctest) where python3-onnx,
python3-opencv or python3-numpy is missing: scripts/setup.sh installs them.
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

try:
    import numpy as np
    import onnx
    import onnx.checker
    import onnx.helper
    import onnx.numpy_helper
    import onnx.shape_inference
    import cv2
except ImportError as e:
    print("skipped: %s (scripts/setup.sh installs python3-onnx, python3-opencv, python3-numpy)" % e)
    sys.exit(77)

FASHION = "/usr/share/datasets/fashion-mnist"
IMAGES = 64
TOLERANCE = 1e-4


def run(args, **kwargs):
    result = subprocess.run(args, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit("FAIL: %s exited with %d" % (" ".join(args), result.returncode))
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


def test_images(shape, work, rng):
    """64 images as netc predict's inputs, and the same pixels as floats [64, C, H, W] in [0, 1]
    computed as netc computes them (u8 / 255 in float)."""
    c, h, w = shape
    if shape == (1, 28, 28):
        with gzip.open(os.path.join(FASHION, "t10k-images-idx3-ubyte.gz")) as f:
            f.read(16)
            pixels = np.frombuffer(f.read(IMAGES * h * w), np.uint8).reshape(IMAGES, 1, h, w)
        path = os.path.join(work, "test64-idx3-ubyte")
        with open(path, "wb") as f:
            f.write(struct.pack(">IIII", 0x803, IMAGES, h, w) + pixels.tobytes())
        inputs = [path]
    else:
        pixels = rng.integers(0, 256, (IMAGES, c, h, w)).astype(np.uint8)
        inputs = []
        for i in range(IMAGES):
            path = os.path.join(work, "image%02d.png" % i)
            hwc = np.transpose(pixels[i], (1, 2, 0))
            cv2.imwrite(path, hwc[:, :, ::-1] if c == 3 else hwc)  # OpenCV writes BGR
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


def dims_of(value_info):
    return [d.dim_param if d.HasField("dim_param") else d.dim_value
            for d in value_info.type.tensor_type.shape.dim]


def check_model(model, shape, classes, params, checkpoint, metadata):
    onnx.checker.check_model(model, full_check=True)
    opset = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    assert opset and opset[0] >= 13, "opset %s" % opset
    (inp,) = model.graph.input
    assert inp.name == "input" and dims_of(inp)[1:] == list(shape), dims_of(inp)
    assert isinstance(dims_of(inp)[0], str), "the batch dimension is not symbolic"

    # Shape inference from the graph alone: the declared output shape is erased first.
    erased = onnx.ModelProto()
    erased.CopyFrom(model)
    erased.graph.output[0].type.tensor_type.ClearField("shape")
    inferred = onnx.shape_inference.infer_shapes(erased, check_type=True, strict_mode=True)
    out = inferred.graph.output[0]
    assert out.name == "probs", out.name
    assert dims_of(out) == [dims_of(inp)[0], classes], "inferred %s" % dims_of(out)
    known = {v.name: v for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    for node in inferred.graph.node:
        for o in node.output:
            assert o in known and known[o].type.tensor_type.HasField("shape"), \
                "no shape inferred for %s (%s)" % (o, node.op_type)

    # Every parameter under its torch name and shape, holding the checkpoint's values.
    inits = {t.name: t for t in model.graph.initializer}
    for name, torch_shape in params.items():
        assert name in inits, "no initializer %s" % name
        value = onnx.numpy_helper.to_array(inits[name])
        assert list(value.shape) == torch_shape, "%s: %s, torch %s" % (name, value.shape,
                                                                        torch_shape)
        assert np.array_equal(value, checkpoint[name]), "%s differs from the checkpoint" % name
    if "normalization_mean" in metadata:
        first = [n.op_type for n in model.graph.node[:2]]
        assert first == ["Sub", "Div"], "the normalization is not leading: %s" % first
        mean = onnx.numpy_helper.to_array(inits["normalization_mean"]).ravel()
        assert np.array_equal(mean, np.array(
            [float(v) for v in metadata["normalization_mean"].split(",")], np.float32))
    if metadata.get("kind") == "knn":
        # The stored set under the checkpoint's names, the vote shares last.
        for name in ("reference.features", "reference.labels"):
            assert name in inits, "no initializer %s" % name
            value = onnx.numpy_helper.to_array(inits[name])
            assert np.array_equal(value, checkpoint[name]), "%s differs from the checkpoint" % name
        assert model.graph.node[-1].op_type == "Div"
    else:
        assert model.graph.node[-1].op_type == "Softmax"


def numpy_run(model, pixels):
    """The model computed by a few ONNX ops written here in numpy, in float32: the second
    consumer where OpenCV has none. (probabilities, None), or (None, the first op it lacks)."""
    values = {i.name: onnx.numpy_helper.to_array(i) for i in model.graph.initializer}
    values[model.graph.input[0].name] = pixels.astype(np.float32)

    def attr(node, name, default=None):
        for a in node.attribute:
            if a.name == name:
                return onnx.helper.get_attribute_value(a)
        return default

    binary = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide,
              "Min": np.minimum, "Max": np.maximum, "Less": np.less, "Greater": np.greater}
    unary = {"Floor": np.floor, "Abs": np.abs, "Neg": np.negative, "Sqrt": np.sqrt,
             "Atan": np.arctan, "Reciprocal": np.reciprocal, "Relu": lambda v: np.maximum(v, 0)}
    for node in model.graph.node:
        x = [values[i] for i in node.input if i]
        t = node.op_type
        if t in binary:
            y = binary[t](x[0], x[1])
        elif t in unary:
            y = unary[t](x[0])
        elif t == "Where":
            y = np.where(x[0], x[1], x[2])
        elif t == "Pad" and attr(node, "mode") == b"edge":
            rank = x[0].ndim
            y = np.pad(x[0], [(int(x[1][i]), int(x[1][i + rank])) for i in range(rank)], "edge")
        elif t == "Slice" and len(x) == 4:
            index = [slice(None)] * x[0].ndim
            for start, end, axis in zip(x[1], x[2], x[3]):
                index[int(axis)] = slice(int(start), int(end))
            y = x[0][tuple(index)]
        elif t == "ArgMax" and attr(node, "keepdims", 1) and not attr(node, "select_last_index", 0):
            y = np.expand_dims(np.argmax(x[0], axis=attr(node, "axis", 0)), attr(node, "axis", 0))
        elif t == "TopK" and attr(node, "largest") == 0 and attr(node, "sorted", 1):
            # the smallest first; of equal values the lower index first (a stable sort)
            axis = attr(node, "axis", -1)
            order = np.argsort(x[0], axis=axis, kind="stable").take(range(int(x[1][0])), axis)
            values[node.output[1]] = order.astype(np.int64)
            y = np.take_along_axis(x[0], order, axis)
        elif t == "Gather" and attr(node, "axis", 0) == 0:
            y = np.take(x[0], x[1], axis=0)
        elif (t == "AveragePool" and attr(node, "kernel_shape") == attr(node, "strides") and
              not any(attr(node, "pads", [0])) and
              all(d % k == 0 for d, k in zip(x[0].shape[2:], attr(node, "kernel_shape")))):
            (kh, kw), (n, c, h, w) = attr(node, "kernel_shape"), x[0].shape
            y = x[0].reshape(n, c, h // kh, kh, w // kw, kw).mean(axis=(3, 5), dtype=np.float32)
        elif t == "GatherElements":
            y = np.take_along_axis(x[0], x[1], axis=attr(node, "axis", 0))
        elif t == "Reshape":
            shape = [x[0].shape[i] if d == 0 else int(d) for i, d in enumerate(x[1])]
            y = x[0].reshape(shape)
        elif t == "ReduceSum":
            y = x[0].sum(axis=tuple(int(a) for a in x[1]),
                         keepdims=bool(attr(node, "keepdims", 1)), dtype=np.float32)
        elif t == "ReduceSumSquare":
            y = (x[0] * x[0]).sum(axis=tuple(attr(node, "axes")),
                                  keepdims=bool(attr(node, "keepdims", 1)), dtype=np.float32)
        elif t == "Concat":
            y = np.concatenate(x, axis=attr(node, "axis"))
        elif t == "Transpose":
            y = np.transpose(x[0], attr(node, "perm"))
        elif t == "Clip":
            y = np.minimum(np.maximum(x[0], x[1]), x[2])
        elif t == "Unsqueeze":
            y = np.expand_dims(x[0], tuple(int(a) for a in x[1]))
        elif t == "Equal":
            y = x[0] == x[1]
        elif t == "Cast" and attr(node, "to") == onnx.TensorProto.FLOAT:
            y = x[0].astype(np.float32)
        elif t == "ReduceMean":
            y = x[0].mean(axis=tuple(attr(node, "axes")), keepdims=bool(attr(node, "keepdims", 1)),
                          dtype=np.float32)
        elif t == "Flatten":
            axis = attr(node, "axis", 1)
            y = x[0].reshape(int(np.prod(x[0].shape[:axis])), -1)
        elif (t == "Gemm" and not attr(node, "transA", 0) and attr(node, "alpha", 1.0) == 1.0
              and attr(node, "beta", 1.0) == 1.0):
            b = x[1].T if attr(node, "transB", 0) else x[1]
            y = x[0] @ b + (x[2] if len(x) > 2 else 0)
        elif t == "Softmax":
            axis = attr(node, "axis", -1)
            e = np.exp(x[0] - x[0].max(axis=axis, keepdims=True))
            y = e / e.sum(axis=axis, keepdims=True)
        else:
            return None, t
        values[node.output[0]] = np.asarray(y)
    return values[model.graph.output[0].name], None


def main():
    args = sys.argv[1:]
    lacks = set()
    if "--opencv-lacks" in args:
        i = args.index("--opencv-lacks")
        lacks = set(args[i + 1].split(","))
        del args[i:i + 2]
    netc, model_path, work = args
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
    onnx_path = os.path.join(work, "model.onnx")
    run([netc, model_path, "--weights", ckpt, "--emit=onnx", "-o", onnx_path])
    params = {}
    for line in run([netc, "--emit=params", model_path]).splitlines():
        m = re.match(r"(\S+) \[([0-9, ]+)\] offset", line)
        if m:
            params[m[1]] = [int(d) for d in m[2].split(",")]
    metadata, checkpoint = read_safetensors(ckpt)
    classes = len(json.loads(metadata["class_names"]))

    model = onnx.load(onnx_path)
    check_model(model, shape, classes, params, checkpoint, metadata)
    ops = sorted({n.op_type for n in model.graph.node})
    print("%s: onnx checker and shape inference pass; %d nodes, ops %s" %
          (os.path.basename(model_path), len(model.graph.node), ", ".join(ops)))

    inputs, pixels = test_images(shape, work, rng)
    predicted = json.loads(run([netc, "predict", model_path, "--weights", ckpt, "--json"] +
                               inputs))
    expected = np.array([p["probabilities"] for p in predicted["predictions"]], np.float64)
    assert expected.shape == (IMAGES, classes), expected.shape

    missing = sorted(lacks.intersection(ops))
    try:
        net = cv2.dnn.readNetFromONNX(onnx_path)
        # The graph as written: OpenCV 4.6's layer fusion computes a batchnorm that follows an
        # add wrongly (tests/onnx/ops_flat.net: off by 0.2 fused, 4e-6 not).
        net.enableFusion(False)
        net.setInput(pixels)
        got = net.forward().astype(np.float64)
        error = None
    except cv2.error as e:
        error = str(e).strip().splitlines()[-1]
    if missing:
        if error is None:
            raise SystemExit("FAIL: OpenCV %s ran a model with %s, which --opencv-lacks says it "
                             "cannot: update the list (and docs/export.md)" %
                             (cv2.__version__, ", ".join(missing)))
        print("OpenCV %s cannot run it (it lacks %s): %s" %
              (cv2.__version__, ", ".join(missing), error))
        got, unknown = numpy_run(model, pixels)
        if unknown:
            print("checked by onnx only (no numpy rule here for %s)" % unknown)
            return
        diff = np.abs(got.astype(np.float64) - expected).max()
        print("numpy, running the exported ops, against netc predict on %d images: max "
              "|difference| %.3g (tolerance %g)" % (IMAGES, diff, TOLERANCE))
        if not diff <= TOLERANCE:
            raise SystemExit("FAIL: the ONNX graph's probabilities (numpy) differ from netc's "
                             "by %g" % diff)
        return
    if error is not None:
        raise SystemExit("FAIL: OpenCV %s: %s" % (cv2.__version__, error))
    assert got.shape == expected.shape, "OpenCV gives %s" % (got.shape,)
    diff = np.abs(got - expected).max()
    print("OpenCV %s against netc predict on %d images: max |difference| %.3g (tolerance %g); "
          "top-1 agrees on %d; %.1f s" % (cv2.__version__, IMAGES, diff, TOLERANCE,
                                          int((got.argmax(1) == expected.argmax(1)).sum()),
                                          time.time() - start))
    if not diff <= TOLERANCE:
        raise SystemExit("FAIL: OpenCV's probabilities differ from netc's by %g" % diff)


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        raise SystemExit("FAIL: %s" % e)
