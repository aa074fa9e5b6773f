#!/usr/bin/python3
"""An independent check of netc's safetensors layout, with the standard library only.

  check_safetensors.py read FILE    validates FILE as the safetensors reference implementation
                                    (which safetensors.torch.load_file uses) does, then prints
                                    the metadata and every tensor's dtype, shape and values
  check_safetensors.py write FILE   writes a file the way the reference serializer does (tensors
                                    sorted by dtype alignment then name, header padded with spaces
                                    to a multiple of 8), for netc's reader to load
"""
import json
import struct
import sys

SIZES = {"BOOL": 1, "U8": 1, "I8": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
         "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8}
FORMATS = {"F32": "f", "F64": "d", "I64": "q", "I32": "i", "U8": "B"}


def fail(message):
    print("error: " + message)
    sys.exit(1)


def read(path):
    data = open(path, "rb").read()
    if len(data) < 8:
        fail("too short")
    (n,) = struct.unpack("<Q", data[:8])
    if 8 + n > len(data):
        fail("header length beyond the file")
    header_bytes = data[8:8 + n]
    if not header_bytes.startswith(b"{"):
        fail("header does not start with '{'")
    if (8 + n) % 8 != 0:
        fail("tensor data is not 8-byte aligned (header length %d)" % n)
    header = json.loads(header_bytes.decode("utf-8"))
    metadata = header.pop("__metadata__", {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        fail("metadata must map strings to strings")
    buffer = data[8 + n:]
    entries = sorted(header.items(), key=lambda kv: kv[1]["data_offsets"])
    end = 0
    for name, info in entries:
        if set(info) != {"dtype", "shape", "data_offsets"}:
            fail("tensor %s: fields %s" % (name, sorted(info)))
        begin, stop = info["data_offsets"]
        if begin != end or stop < begin:
            fail("tensor %s: offsets %s not contiguous" % (name, info["data_offsets"]))
        count = 1
        for d in info["shape"]:
            count *= d
        if stop - begin != count * SIZES[info["dtype"]]:
            fail("tensor %s: %d bytes for shape %s" % (name, stop - begin, info["shape"]))
        end = stop
    if end != len(buffer):
        fail("data is %d bytes but tensors cover %d" % (len(buffer), end))

    for key in sorted(metadata):
        print("metadata %s=%s" % (key, metadata[key]))
    for name, info in entries:
        begin, stop = info["data_offsets"]
        fmt = FORMATS[info["dtype"]]
        values = struct.unpack("<%d%s" % ((stop - begin) // struct.calcsize(fmt), fmt), buffer[begin:stop])
        shown = " ".join(repr(v) for v in values)
        print("%s %s %s %s" % (name, info["dtype"], info["shape"], shown))


def write(path):
    tensors = {
        "fc.weight": ("F32", [2, 3], [0.5, -1.0, 2.25, 3.0, 1e-3, -0.0]),
        "fc.bias": ("F32", [2], [0.125, -8.0]),
        "step": ("I64", [], [1234567890123]),
        "conv.weight": ("F64", [1, 1, 1, 2], [1.5, -2.5]),
    }
    alignment = {"F64": 8, "I64": 8, "F32": 4}
    order = sorted(tensors, key=lambda name: (-alignment[tensors[name][0]], name))
    header = {"__metadata__": {"model": "tiny", "classes": "a,b"}}
    blobs = []
    offset = 0
    for name in order:
        dtype, shape, values = tensors[name]
        blob = struct.pack("<%d%s" % (len(values), FORMATS[dtype]), *values)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


if __name__ == "__main__":
    {"read": read, "write": write}[sys.argv[1]](sys.argv[2])
