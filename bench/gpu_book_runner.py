"""gpu_book_runner.py: runs one of the book's speed scripts
(rasbt/LLMs-from-scratch, ch05/10_llm-training-speed: 00_orig.py,
01_opt_single_gpu.py) unmodified on a machine with no network, for
bench/gpu_train_bench.sh.

The scripts import tiktoken (whose GPT-2 files come from the network),
matplotlib and requests, and download middlemarch.txt unless the working
directory has it. Before the script runs, this puts into sys.modules:
  tiktoken    get_encoding("gpt2"): encode(text, allowed_special=...) and
              decode(ids) by `ember tokenize` / `ember decode` (one
              subprocess per call; the scripts call them a few times);
  matplotlib  no-op pyplot, only when matplotlib is not importable
              (otherwise the real one with MPLBACKEND=Agg);
  requests    a get() that fails, only when requests is not importable.
The working directory must hold middlemarch.txt (the bench's corpus slice).
After the script (also when it fails or is stopped by SIGTERM) it prints
  runner: peak torch.cuda.max_memory_allocated A MiB, max_memory_reserved R MiB
and the wall time.

  gpu_book_runner.py run EMBER SCRIPT      run SCRIPT as __main__ in the cwd
  gpu_book_runner.py check EMBER TEXT      the tiktoken shim against `ember
                                           tokenize` on TEXT (same ids, decode
                                           gives TEXT back)
  gpu_book_runner.py plan EMBER TEXT BATCH EVAL_FREQ
                                           the scripts' split of TEXT (90% of
                                           the characters), windows, steps
                                           over their 15 epochs and tokens
                                           trained, as one line and as JSON
"""
import json
import os
import signal
import subprocess
import sys
import time
import types

CONTEXT, EPOCHS, TRAIN_RATIO = 1024, 15, 0.90  # both scripts' settings
EOT = "<|endoftext|>"


class Encoding:
    """tiktoken's gpt2 Encoding, the parts the book's scripts use."""

    name = "gpt2"
    n_vocab = 50257
    eot_token = 50256
    max_token_value = 50256
    special_tokens_set = {EOT}

    def __init__(self, ember, log=False):
        self.ember = ember
        self.log = log  # a line on stderr per call (the runs' logs show the shim at work)

    def _run(self, args, data):
        p = subprocess.run([self.ember, *args], input=data, capture_output=True)
        if p.returncode != 0:
            raise ValueError(f"ember {args[0]}: {p.stderr.decode(errors='replace').strip()}")
        return p.stdout

    def encode(self, text, *, allowed_special=frozenset(), disallowed_special="all"):
        # ember refuses special-token text that is not allowed, as tiktoken
        # does with its default disallowed_special="all".
        if allowed_special == "all":
            spec = "all"
        elif allowed_special:
            spec = ",".join(sorted(allowed_special))
        else:
            spec = "none"
        t0 = time.perf_counter()
        out = self._run(["tokenize", "--allowed-special", spec], text.encode("utf-8"))
        ids = [int(t) for t in out.split()]
        if self.log:
            print(f"runner: tiktoken shim: encode {len(text):,} characters -> {len(ids):,} tokens "
                  f"({time.perf_counter() - t0:.2f} s)", file=sys.stderr, flush=True)
        return ids

    def decode_bytes(self, tokens):
        return self._run(["decode"], " ".join(str(int(t)) for t in tokens).encode())

    def decode(self, tokens, errors="replace"):
        return self.decode_bytes(tokens).decode("utf-8", errors=errors)


def tiktoken_shim(ember, log=False):
    m = types.ModuleType("tiktoken")
    enc = Encoding(ember, log)

    def get_encoding(name):
        if name != "gpt2":
            raise ValueError(f"tiktoken shim (bench/gpu_book_runner.py): only gpt2, not {name!r}")
        return enc

    m.get_encoding = get_encoding
    m.Encoding = Encoding
    m.__file__ = __file__
    return m


class _Null:
    """Any attribute, any call: does nothing (the scripts' plots)."""

    def __getattr__(self, name):
        return _Null()

    def __call__(self, *args, **kwargs):
        return _Null()


def install_shims(ember):
    sys.modules["tiktoken"] = tiktoken_shim(ember, log=True)
    os.environ.setdefault("MPLBACKEND", "Agg")
    try:
        import matplotlib.pyplot  # noqa: F401
    except ImportError:
        mpl = types.ModuleType("matplotlib")
        plt = types.ModuleType("matplotlib.pyplot")
        plt.subplots = lambda *a, **k: (_Null(), _Null())
        plt.__getattr__ = lambda name: _Null()
        mpl.pyplot = plt
        sys.modules["matplotlib"], sys.modules["matplotlib.pyplot"] = mpl, plt
        print("runner: matplotlib not installed: plots are no-ops", flush=True)
    try:
        import requests  # noqa: F401
    except ImportError:
        req = types.ModuleType("requests")

        def get(url, *a, **k):
            raise RuntimeError(f"no network here ({url}); middlemarch.txt should be in the cwd")

        req.get = get
        sys.modules["requests"] = req


def peaks():
    try:
        import torch
    except ImportError:
        return
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        mib = 1024 * 1024
        print(f"runner: peak torch.cuda.max_memory_allocated {torch.cuda.max_memory_allocated() / mib:.0f} MiB, "
              f"max_memory_reserved {torch.cuda.max_memory_reserved() / mib:.0f} MiB", flush=True)


def run(ember, script):
    import runpy

    if not os.path.exists("middlemarch.txt"):
        sys.exit("runner: no middlemarch.txt in the working directory (the script would download it)")
    install_shims(ember)
    # `timeout` stops a row with SIGTERM: end through `finally`, so the peaks
    # are printed for a run cut short too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    sys.argv = [script]
    t0 = time.perf_counter()
    try:
        runpy.run_path(script, run_name="__main__")
    finally:
        peaks()
        print(f"runner: wall {time.perf_counter() - t0:.1f} s", flush=True)


def check(ember, path):
    text = open(path, encoding="utf-8").read()
    enc = tiktoken_shim(ember).get_encoding("gpt2")
    ids = enc.encode(text, allowed_special={EOT})
    direct = subprocess.run([ember, "tokenize", "--allowed-special", EOT, "--input", path],
                            capture_output=True, check=True).stdout.split()
    same = ids == [int(t) for t in direct]
    back = enc.decode(ids) == text
    print(f"shim check: {len(text)} characters, {len(ids)} tokens; ids equal to `ember tokenize`: "
          f"{'yes' if same else 'NO'}; decode(encode(text)) == text: {'yes' if back else 'NO'}")
    prompt = enc.encode("Every effort moves you")
    print(f"shim check: 'Every effort moves you' -> {prompt} -> {enc.decode(prompt)!r}")
    if not (same and back):
        sys.exit(1)


def plan(ember, path, batch, eval_freq):
    """What the scripts do with this text at this batch: the numbers of
    their create_dataloader_v1 (stride = max_length = 1024, training
    drop_last, validation not) and train_model_simple_with_timing."""
    text = open(path, encoding="utf-8").read()
    enc = tiktoken_shim(ember).get_encoding("gpt2")
    split = int(TRAIN_RATIO * len(text))
    n_train = len(enc.encode(text[:split], allowed_special={EOT}))
    n_val = len(enc.encode(text[split:], allowed_special={EOT}))
    w_train = len(range(0, n_train - CONTEXT, CONTEXT))
    w_val = len(range(0, n_val - CONTEXT, CONTEXT))
    per_epoch = w_train // batch
    steps = EPOCHS * per_epoch
    evals = len(range(0, steps, eval_freq))
    p = dict(bytes=os.path.getsize(path), tokens=n_train + n_val, train_tokens=n_train,
             val_tokens=n_val, train_windows=w_train, val_windows=w_val, batch=batch,
             steps_per_epoch=per_epoch, steps=steps, evaluations=evals, eval_freq=eval_freq,
             tokens_trained=steps * batch * CONTEXT)
    print(f"plan: {p['bytes']:,} bytes, {p['tokens']:,} tokens (train {n_train:,}: {w_train} windows; "
          f"val {n_val:,}: {w_val} windows); batch {batch}: {per_epoch} steps/epoch, {steps} steps over "
          f"{EPOCHS} epochs, {p['tokens_trained']:,} tokens trained, {evals} evaluations (every {eval_freq} steps)")
    if per_epoch == 0:
        sys.exit(f"plan: fewer than {batch} training windows of {CONTEXT} tokens: raise the slice's bytes")
    if w_val < batch:
        print(f"plan: note: the validation part has {w_val} windows, fewer than a batch of {batch}: "
              "its batch is short (for 01_opt a new shape, compiled anew inside a timed interval)")
    print("plan-json: " + json.dumps(p))


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    cmd, ember = sys.argv[1], sys.argv[2]
    if cmd == "run":
        run(ember, os.path.abspath(sys.argv[3]))
    elif cmd == "check":
        check(ember, sys.argv[3])
    elif cmd == "plan" and len(sys.argv) == 6:
        plan(ember, sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
