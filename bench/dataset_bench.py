#!/usr/bin/python3
"""The book's pipeline (ch02 GPTDatasetV1 + create_dataloader_v1's
DataLoader(batch_size, shuffle=True, drop_last=True, num_workers=0)) measured
like bench/dataset_bench.cpp: build time, resident bytes per token, batches/s.
Prints one JSON line.  /usr/bin/python3 bench/dataset_bench.py --stride 1"""
import argparse
import json
import os
import sys
import time

import torch
from torch.utils.data import DataLoader

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "reference"))
from book_dataset import GPTDatasetV1  # noqa: E402


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--tokens", type=int, default=200000)
    p.add_argument("--max-length", type=int, default=256)
    p.add_argument("--stride", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--ids", default="tests/golden/the_verdict_ids.txt")
    a = p.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(123)
    verdict = [int(x) for line in open(a.ids) if not line.startswith("#")
               for x in line.split()]
    ids = [verdict[i % len(verdict)] for i in range(a.tokens)]
    # Warm-up on a small slice, as in dataset_bench.cpp.
    warm = GPTDatasetV1(ids[:a.max_length + 1], a.max_length, a.stride)
    next(iter(DataLoader(warm, batch_size=1, shuffle=True)))
    del warm
    rss0 = rss_bytes()
    t0 = time.perf_counter()
    dataset = GPTDatasetV1(ids, a.max_length, a.stride)
    build_s = time.perf_counter() - t0
    rss1 = rss_bytes()
    loader = DataLoader(dataset, batch_size=a.batch_size, shuffle=True,
                        drop_last=True, num_workers=0)
    batches = 0
    checksum = 0
    t1 = time.perf_counter()
    while True:
        for x, y in loader:
            checksum += int(x[0, 0])
            batches += 1
        elapsed = time.perf_counter() - t1
        if elapsed >= a.seconds:
            break
    print(json.dumps({
        "impl": "python", "tokens": a.tokens, "max_length": a.max_length,
        "stride": a.stride, "batch_size": a.batch_size,
        "windows": len(dataset), "build_s": round(build_s, 6),
        "rss_bytes_per_token": round((rss1 - rss0) / a.tokens, 2),
        "batches": batches, "batches_per_s": round(batches / elapsed, 1),
        "checksum": checksum, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
