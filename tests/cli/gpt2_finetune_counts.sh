#!/usr/bin/env bash
# The book's printed parameter counts of fine-tuning, from `ember forward`'s
# num_parameters / num_trainable_parameters on fresh GPT-2-sized models:
#   appendix-E.ipynb: GPT-2 small (qkv_bias) with a 2-class head,
#     "Total trainable parameters before: 124,441,346", and with LoRA
#     (rank 16 on every Linear) "Total trainable LoRA parameters: 2,666,528";
#   chapter 6's trainable part (last block, final norm, head): 7,090,946
#     (7,087,872 + 1,536 + 1,538, the sizes of those modules);
#   ch07 exercise-solutions.ipynb (exercise 7.5, LoRA on GPT-2 medium):
#     "Total trainable LoRA parameters: 7,898,384".
# The classification config names no CSV files: model-only commands need none.
# GPT-2 medium is built once (~10 s): plain suite only (gpt2_*).
#   bash gpt2_finetune_counts.sh <ember> <source-dir>
source "$(dirname "${BASH_SOURCE[0]}")/lib/start.sh"
source "$(dirname "${BASH_SOURCE[0]}")/lib/expect.sh"
cat >"$w/spam.toml" <<'EOF2'
[data]
format = "classification"
[model]
preset = "gpt2-small"
qkv_bias = true
head = "classifier"
EOF2
counts() { # config, --set arguments...: "total trainable"
  local config="$1"
  shift
  "$ember" forward --config "$config" --ids "1 2" "$@" 2>"$w/err" |
    sed -nE 's/^\{"num_parameters": ([0-9]+), "num_trainable_parameters": ([0-9]+),.*/\1 \2/p'
}
expect_counts() { # what, want-total, want-trainable, config, --set arguments...
  local what="$1" total="$2" trainable="$3"
  shift 3
  local got
  got=$(counts "$@")
  [[ "$got" == "$total $trainable" ]] ||
    fail "$what: (total trainable) '$got' ($(cat "$w/err")), expected '$total $trainable'"
  echo "ok: $what: $total parameters, $trainable trainable"
}
expect_counts "GPT-2 small, 2-class head, trainable all" 124441346 124441346 \
  "$w/spam.toml" --set train.trainable=all
expect_counts "GPT-2 small, 2-class head, the book's last block" 124441346 7090946 "$w/spam.toml"
expect_counts "GPT-2 small, 2-class head, LoRA 16" 127107874 2666528 \
  "$w/spam.toml" --set train.lora_rank=16
expect_counts "GPT-2 medium (instruct), LoRA 16" 414184720 7898384 \
  configs/gpt2-medium-instruct.toml --set train.lora_rank=16
