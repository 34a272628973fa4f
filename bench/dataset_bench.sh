#!/usr/bin/env bash
# Dataset benchmark (issue 3 section 6): ember's GptDataset + Loader against
# the book's GPTDatasetV1 + DataLoader (Debian python3-torch), same tokens
# (the-verdict's ids repeated), batch 8, max_length 256, strides 1 and 128,
# one thread each, in one run. Prints the markdown table of bench/README.md.
#   bash bench/dataset_bench.sh [build-dir] [tokens]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${1:-$root/build}"
tokens="${2:-200000}"
bin="$build/bench/dataset_bench"
[[ -x "$bin" ]] || { echo "dataset_bench: build it first: cmake --build $build --target dataset_bench" >&2; exit 1; }
py=/usr/bin/python3
"$py" -c 'import torch' 2>/dev/null || { echo "dataset_bench: $py has no torch (apt install python3-torch)" >&2; exit 1; }
cd "$root"
results="$(mktemp)"
trap 'rm -f "$results"' EXIT
for stride in 1 128; do
  "$bin" --tokens "$tokens" --max-length 256 --stride "$stride" --batch-size 8 >>"$results"
  "$py" bench/dataset_bench.py --tokens "$tokens" --max-length 256 --stride "$stride" --batch-size 8 >>"$results"
done
"$py" - "$results" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print(f"{rows[0]['tokens']} tokens, batch {rows[0]['batch_size']}, max_length {rows[0]['max_length']}, "
      f"shuffle, 1 thread; Python: torch {rows[1]['torch']}\n")
print("| pipeline | stride | windows | build (s) | resident bytes/token | batches/s | ember / Python |")
print("|---|---:|---:|---:|---:|---:|---:|")
for e, p in zip(rows[0::2], rows[1::2]):
    for r in (e, p):
        name = "ember GptDataset + Loader" if r["impl"] == "ember" else "book GPTDatasetV1 + DataLoader"
        ratio = f"{e['batches_per_s'] / p['batches_per_s']:.1f}x" if r is e else ""
        print(f"| {name} | {r['stride']} | {r['windows']} | {r['build_s']:.4f} | "
              f"{r['rss_bytes_per_token']:.2f} | {r['batches_per_s']:,.0f} | {ratio} |")
PY
