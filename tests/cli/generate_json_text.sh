#!/usr/bin/env bash
# `ember generate --format json` prints valid JSON whatever the ids decode
# to: bytes that are not UTF-8 (ids that end inside a character, common in
# a random model's output) become U+FFFD exactly as Python's
# bytes.decode("utf-8", errors="replace") (tiktoken's decode) makes them.
# 12 random id rows, most drawn from the ids whose bytes are not UTF-8 alone.
#   bash generate_json_text.sh <ember> <source-dir>
source "$(dirname "${BASH_SOURCE[0]}")/lib/start.sh"
python3 - "$ember" <<'PY'
import json, random, subprocess, sys
sys.path.insert(0, "tests/cli/lib")
from checks import check
ember = sys.argv[1]
enc = json.load(open("data/gpt2/encoder.json"))
dec = {v: k for k, v in enc.items()}
# GPT-2's bytes_to_unicode, inverted.
bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + \
    list(range(ord("®"), ord("ÿ") + 1))
cs, n = bs[:], 0
for b in range(256):
    if b not in bs:
        bs.append(b)
        cs.append(256 + n)
        n += 1
byte_of = {chr(c): b for b, c in zip(bs, cs)}
raw = lambda ids: bytes(byte_of[ch] for i in ids for ch in dec[i])
partial = [i for i in range(50000) if raw([i]).decode("utf-8", "ignore") != raw([i]).decode("utf-8", "replace")]
check(len(partial) > 100, f"only {len(partial)} ids with partial UTF-8")
rng = random.Random(20261130)
for _ in range(12):
    ids = [rng.choice(partial) if rng.random() < 0.7 else rng.randrange(50000)
           for _ in range(rng.randrange(1, 8))]
    out = subprocess.run([ember, "generate", "--config", "configs/debug.toml", "--ids",
                          " ".join(map(str, ids)), "--max-new-tokens", "0", "--format", "json"],
                         capture_output=True, check=True).stdout
    got = json.loads(out.decode("utf-8"))["text"]  # raises on invalid UTF-8 / JSON
    want = raw(ids).decode("utf-8", "replace")
    check(got == want, f"ids {ids}: ember's text {got!r}, Python's {want!r}")
print(f"ok: 12 rows ({len(partial)} ids end inside a character): valid JSON, U+FFFD as Python's decode")
PY
