#!/usr/bin/env python3
"""Writes the broken weight files tests/cli/bad_input.sh feeds to
`ember forward --weights`: one defect each (see the names).

  /usr/bin/python3 tests/reference/bad_weights.py DIR
"""
import json, struct, sys, zipfile
d = sys.argv[1]
def st(header, data=b""):
    t = json.dumps(header).encode()
    return struct.pack("<Q", len(t)) + t + data
open(f"{d}/st_short", "wb").write(b"\x05\x00\x00")
open(f"{d}/st_len", "wb").write(struct.pack("<Q", 1000) + b"{}")
open(f"{d}/st_json", "wb").write(struct.pack("<Q", 9) + b'{"a": [1,')
open(f"{d}/st_number", "wb").write(struct.pack("<Q", 12) + b'{"a": 1e999}')
open(f"{d}/st_offsets", "wb").write(st({"tok_emb.weight": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0\0\0\0"))
open(f"{d}/st_dtype", "wb").write(st({"tok_emb.weight": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}}, b"\0\0"))
open(f"{d}/st_size", "wb").write(st({"tok_emb.weight": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, bytes(8)))
open(f"{d}/st_overlap", "wb").write(st({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, bytes(12)))
t = b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}'
open(f"{d}/st_dup", "wb").write(struct.pack("<Q", len(t)) + t + bytes(8))
open(f"{d}/st_missing", "wb").write(st({"tok_emb.weight": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, bytes(4)))
open(f"{d}/not_weights", "wb").write(b"hello world, not weights")
# Hostile files (issue 22): JSON nested 100,000 deep; a .pth whose pickle is
# a dict {'a': [None] * 48 Mi} (one byte a None), stored as torch.save does.
t = b'{"a": ' + b"[" * 100000 + b"]" * 100000 + b"}"
open(f"{d}/st_deep", "wb").write(struct.pack("<Q", len(t)) + t)
with zipfile.ZipFile(f"{d}/nones.pth", "w", zipfile.ZIP_STORED) as z:
    z.writestr("archive/data.pkl", b"\x80\x02}X\x01\x00\x00\x00a](" + b"N" * (48 << 20) + b"es.")
    z.writestr("archive/version", "3\n")

# PyTorch .pth files (torch.save), when this Python has torch.
try:
    import torch
except ModuleNotFoundError:
    torch = None
if torch is not None:
    import os

    class Evil:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    torch.save({"tok_emb.weight": torch.zeros(2), "x": Evil()}, f"{d}/evil.pth")
    torch.save(torch.nn.Linear(2, 2), f"{d}/module.pth")
    good = open(f"{d}/evil.pth", "rb").read()
    torch.save({"tok_emb.weight": torch.zeros(4, 4)}, f"{d}/small.pth")
    raw = open(f"{d}/small.pth", "rb").read()
    open(f"{d}/truncated.pth", "wb").write(raw[: len(raw) // 2])
