#!/usr/bin/env python3
"""Writes the broken weight files tests/cli/bad_input.sh feeds to
`ember forward --weights`: one defect each (see the names).

  /usr/bin/python3 tests/reference/bad_weights.py DIR
"""
import json, struct, sys
d = sys.argv[1]
def st(header, data=b""):
    t = json.dumps(header).encode()
    return struct.pack("<Q", len(t)) + t + data
open(f"{d}/st_short", "wb").write(b"\x05\x00\x00")
open(f"{d}/st_len", "wb").write(struct.pack("<Q", 1000) + b"{}")
open(f"{d}/st_json", "wb").write(struct.pack("<Q", 9) + b'{"a": [1,')
open(f"{d}/st_offsets", "wb").write(st({"tok_emb.weight": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0\0\0\0"))
open(f"{d}/st_dtype", "wb").write(st({"tok_emb.weight": {"dtype": "F8_E4M3", "shape": [2], "data_offsets": [0, 2]}}, b"\0\0"))
open(f"{d}/st_size", "wb").write(st({"tok_emb.weight": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, bytes(8)))
open(f"{d}/st_overlap", "wb").write(st({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}}, bytes(12)))
t = b'{"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}'
open(f"{d}/st_dup", "wb").write(struct.pack("<Q", len(t)) + t + bytes(8))
open(f"{d}/st_missing", "wb").write(st({"tok_emb.weight": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, bytes(4)))
open(f"{d}/not_weights", "wb").write(b"hello world, not weights")
