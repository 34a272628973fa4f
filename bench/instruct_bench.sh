#!/usr/bin/env bash
# Chapter-7 instruction fine-tuning and responses, ember against the book's
# PyTorch code on the same machine, threads and weights:
#   1. fine-tuning: `ember train` vs tests/reference/train_reference.py (the
#      book's InstructionDataset, custom_collate_fn, DataLoader and
#      train_model_simple, checked by cli.train_parity_instruction) on
#      configs/gpt2-small-instruct.toml (GPT-2 small, batch 8, padded as the
#      book pads) from the same --init-from weights (a seeded model exported
#      as the book's .pth; this machine cannot download OpenAI's). tokens/s
#      = input tokens (padding included, the book's tokens_seen) / the
#      session's loop time from each side's last line; peak RSS of each
#      process (/usr/bin/time).
#   2. responses: `ember respond` (KV cache) vs tests/reference/
#      respond_reference.py (the book's generate loop, no cache) on the
#      first RESPOND_LIMIT test prompts, RESPOND_TOKENS new tokens each,
#      whole process (start-up, loading, tokenizing, writing), and the two
#      files compared byte for byte.
# Prints the CPU, then a markdown table.
#   bash bench/instruct_bench.sh [ember-binary]
# Environment: THREADS (2), STEPS (optimizer steps, default 10; one
#   evaluation after step 1), RESPOND_LIMIT (10), RESPOND_TOKENS (64)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ember="${1:-$root/build/ember}"
threads="${THREADS:-2}"
steps="${STEPS:-10}"
limit="${RESPOND_LIMIT:-10}"
new_tokens="${RESPOND_TOKENS:-64}"
py=/usr/bin/python3
cd "$root"
source "$root/bench/lib/machine.sh"
bench_workdir
print_cpu "$threads"

sets=(--config configs/gpt2-small-instruct.toml --set train.threads="$threads"
  --set train.device=cpu --set train.max_steps="$steps" --set train.eval_freq=1000
  --set train.sample_prompt=)
"$ember" export "${sets[@]}" --set train.seed=77 --out "$w/init.pth" 2>/dev/null

/usr/bin/time -f "%M %e" -o "$w/ember.time" "$ember" train "${sets[@]}" \
  --init-from "$w/init.pth" --set run.dir="$w/run" >"$w/ember.log"
/usr/bin/time -f "%M %e" -o "$w/ref.time" "$py" tests/reference/train_reference.py \
  "$w/run/config.toml" "$w/ref.jsonl" --init-from "$w/init.pth" >"$w/ref.log"

/usr/bin/time -f "%M %e" -o "$w/respond.time" "$ember" respond --run "$w/run" \
  --limit "$limit" --max-new-tokens "$new_tokens" --out "$w/ember.json" 2>/dev/null
/usr/bin/time -f "%M %e" -o "$w/respond_ref.time" bash -c \
  "cd tests/reference && $py respond_reference.py '$w/run' '$w/book.json' --limit $limit --max-new-tokens $new_tokens"
same=identical
cmp -s "$w/ember.json" "$w/book.json" || same=DIFFERENT

"$py" - "$w" "$same" "$limit" "$new_tokens" <<'PY'
import json, sys
w, same, limit, new_tokens = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
def rss_wall(name):
    rss, wall = open(f"{w}/{name}.time").read().split()[-2:]
    return int(rss) / 1024, float(wall)
# "done: 10 steps, 5632 tokens seen; 60.7 s, ..." and
# "reference: 10 steps, 5632 tokens, 111.10 s, ...".
def loop(log, word):
    line = [l for l in open(f"{w}/{log}") if l.startswith(word) and " steps," in l][-1]
    if word == "done:":
        tokens = int(line.split(",")[1].split()[0])
        return tokens, float(line.split(";")[1].split()[0])
    return int(line.split(",")[1].split()[0]), float(line.split(",")[2].split()[0])
et, es = loop("ember.log", "done:")
rt, rs = loop("ref.log", "reference:")
if et != rt:
    sys.exit(f"FAIL: ember trained {et} tokens, the reference {rt}")
ours = [json.loads(l) for l in open(f"{w}/run/metrics.jsonl")]
ref = [json.loads(l) for l in open(f"{w}/ref.jsonl")]
diff = max(abs(a[k] - b[k]) for a, b in zip(ours, ref) for k in ("train_loss", "val_loss"))
e_rss, _ = rss_wall("ember"); r_rss, _ = rss_wall("ref")
g_rss, g_wall = rss_wall("respond"); b_rss, b_wall = rss_wall("respond_ref")
print()
print("| | ember | PyTorch (the book's code) | ratio |")
print("|---|---|---|---|")
print(f"| fine-tuning GPT-2 small, batch 8 ({et} tokens): tokens/s | {et / es:.1f} | {rt / rs:.1f} | {(et / es) / (rt / rs):.2f}x |")
print(f"| fine-tuning: peak RSS | {e_rss:.0f} MB | {r_rss:.0f} MB | {e_rss / r_rss:.2f} |")
print(f"| responses: {limit} test prompts x {new_tokens} new tokens, whole process | {g_wall:.1f} s | {b_wall:.1f} s | {b_wall / g_wall:.2f}x |")
print(f"| responses: peak RSS | {g_rss:.0f} MB | {b_rss:.0f} MB | {g_rss / b_rss:.2f} |")
print()
print(f"losses at the evaluation: max |diff| {diff:.2e}; response files {same}")
PY
