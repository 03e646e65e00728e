"""A PyTorch peer for tests/weights_test.ts: a minimal safetensors reader and writer (json, struct, torch),
written from the format's description, independent of lib/model/weights.ts.

    python3 safetensors_peer.py roundtrip IN OUT

reads IN, prints a JSON report on standard output (tensor order, shapes, metadata, the exact sum of each
tensor and one probe value at multi-index (1, 1, …) clipped to the shape), and writes OUT with every tensor
t replaced by t * 2 + 1 computed in float32 by torch, in the same order, with the metadata of IN plus
{"peer": "torch"}.
"""

import json
import math
import struct
import sys

import torch


def read(path):
    with open(path, "rb") as file:
        raw = file.read()
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + length].decode("utf-8"))
    data = raw[8 + length :]
    metadata = header.pop("__metadata__", {})
    tensors = {}
    covered = 0
    for name, entry in sorted(header.items(), key=lambda item: item[1]["data_offsets"][0]):
        assert entry["dtype"] == "F32", entry
        begin, end = entry["data_offsets"]
        assert begin == covered, (name, begin, covered)
        count = (end - begin) // 4
        assert count == math.prod(entry["shape"]), (name, entry)
        values = struct.unpack(f"<{count}f", data[begin:end])
        tensors[name] = torch.tensor(values, dtype=torch.float32).reshape(entry["shape"])
        covered = end
    assert covered == len(data), (covered, len(data))
    return tensors, metadata


def write(path, tensors, metadata):
    header = {"__metadata__": metadata}
    chunks = []
    offset = 0
    for name, tensor in tensors.items():
        values = tensor.contiguous().flatten().tolist()
        chunk = struct.pack(f"<{len(values)}f", *values)
        header[name] = {
            "dtype": "F32",
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + len(chunk)],
        }
        chunks.append(chunk)
        offset += len(chunk)
    encoded = json.dumps(header).encode("utf-8")
    encoded += b" " * (-len(encoded) % 8)
    with open(path, "wb") as file:
        file.write(struct.pack("<Q", len(encoded)) + encoded + b"".join(chunks))


def main():
    command, source, target = sys.argv[1:]
    assert command == "roundtrip", command
    tensors, metadata = read(source)
    report = {
        "order": list(tensors),
        "shapes": {name: list(t.shape) for name, t in tensors.items()},
        "metadata": metadata,
        "sums": {name: math.fsum(t.flatten().tolist()) for name, t in tensors.items()},
        "probes": {
            name: t[tuple(min(1, size - 1) for size in t.shape)].item()
            for name, t in tensors.items()
        },
    }
    json.dump(report, sys.stdout)
    changed = {name: t * 2 + 1 for name, t in tensors.items()}
    write(target, changed, {**metadata, "peer": "torch"})


if __name__ == "__main__":
    main()
