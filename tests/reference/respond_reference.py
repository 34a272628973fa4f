#!/usr/bin/env python3
"""The book's section 7.7 ("Generating responses", rasbt LLMs-from-scratch
ch07 gpt_instruction_finetuning.py), on the weights of an ember run.

Loads RUN's model as generate_reference.py does, reads the run's instruction
file (data.path) and takes the first N entries of its test split (the book's
split: train int(n * train_ratio), then test int(n * test_ratio)); for each,
the book's loop: format_input, text_to_token_ids, generate (greedy, eos_id
50256, context_size = the model's context_length), token_ids_to_text, and
generated_text[len(input_text):].replace("### Response:", "").strip(); then
json.dump(test_data, file, indent=4), as the book writes
instruction-data-with-response.json.

  /usr/bin/python3 tests/reference/respond_reference.py RUN OUT.json \
      [--limit N] [--max-new-tokens N]
"""
import argparse
import json
import sys

try:
    import torch
except ModuleNotFoundError as e:
    if e.name != "torch":
        raise
    print(f"skipped: respond_reference.py: no torch ({e})", file=sys.stderr)
    sys.exit(77)

from generate_reference import generate, load_run, tiktoken
from train_reference import format_input  # the book's, verbatim



def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("run")
    p.add_argument("out")
    p.add_argument("--limit", type=int, default=None)
    p.add_argument("--max-new-tokens", type=int, default=256)
    args = p.parse_args()
    model, config = load_run(args.run)
    d = config["data"]
    with open(d["path"], "r", encoding="utf-8") as f:
        data = json.load(f)
    train_portion = int(len(data) * d["train_ratio"])
    test_portion = int(len(data) * d["test_ratio"])
    test_data = data[train_portion:train_portion + test_portion][:args.limit]
    for i, entry in enumerate(test_data):
        input_text = format_input(entry)
        prompt_ids, _ = tiktoken(input_text, [])
        token_ids = generate(model=model, idx=torch.tensor([prompt_ids]),
                             max_new_tokens=args.max_new_tokens,
                             context_size=config["model"]["context_length"], eos_id=50256)
        _, raw = tiktoken("", token_ids[0].tolist())
        generated_text = raw.decode("utf-8", errors="replace")  # tiktoken's decode
        response_text = generated_text[len(input_text):].replace("### Response:", "").strip()
        test_data[i]["model_response"] = response_text
    with open(args.out, "w") as file:
        json.dump(test_data, file, indent=4)


if __name__ == "__main__":
    main()
