"""gpu_train_table.py W: the table of bench/gpu_train_bench.sh from the rows
in W (rows.tsv: id, label, kind, precision, batch, rc, wall seconds, plan
file; ID.log, ID.smi, and for ember ID/metrics.jsonl; machine.txt).

tokens/s after warm-up, two ways, both leaving out the first interval
(step 0: CUDA start, cuBLAS handles, torch.compile's first compile):
  - median of the per-interval rates: the book's "Step tok/sec" lines, or
    ember's metrics.jsonl (tokens_seen, elapsed_s) differences; what the
    book quotes for 01_opt_single_gpu.py ("Step tok/sec at the end of
    epoch 1"), robust to the recompiles that land in later intervals;
  - the book's "Avg tok/sec" of the last evaluation: all tokens after step
    0 over all their time (for ember: (tokens_last - tokens_first) /
    (elapsed_last - elapsed_first)); what the book quotes for 00_orig.py.
Each interval holds one evaluation (eval_iter batches of each loader) on
both sides, and the sample generation at an epoch's end.
Peak memory: the largest sum of used_memory over the compute processes that
nvidia-smi listed during the row (polled; the same for PyTorch and ember),
and for the book's rows torch.cuda.max_memory_allocated / reserved.
MFU = tokens/s (median) x (6 N + 12 L T D) / peak, N = 123,625,728
parameters in matmuls (GPT-2 small with V = 50,257; the same count for
01_opt's padded 50,304 rows and ember's vocab_pad_to), against the card's
dense bf16 peak for bf16 rows and its dense TF32 peak for fp32 rows
(PEAK_TFLOPS=BF16[,TF32] overrides the table below)."""
import json
import os
import re
import statistics
import sys

from gpt_flops import flop_per_token, matmul_params

w = sys.argv[1]
L, D, T, V = 12, 768, 1024, 50257
MATMUL_PARAMS = matmul_params(L, D, V)
FLOP_PER_TOKEN = flop_per_token(L, D, T, V)

# Dense (no sparsity) tensor-core peaks, TFLOP/s: (substring of
# nvidia-smi's name, label, bf16, tf32); the first match wins.
PEAKS = (
    ("H100 PCIe", "H100 PCIe", 756, 378),
    ("H100 NVL", "H100 NVL", 835, 418),
    ("H100", "H100 SXM", 989, 494),
    ("H200", "H200 (as H100 SXM)", 989, 494),
    ("A100", "A100", 312, 156),
    ("L40S", "L40S", 362, 183),
)


def machine():
    info = {}
    path = f"{w}/machine.txt"
    if os.path.exists(path):
        for line in open(path):
            key, _, value = line.partition(":")
            info[key.strip()] = value.strip()
    return info


def peaks(gpu):
    env = os.environ.get("PEAK_TFLOPS", "").strip()
    if env:
        parts = [float(x) for x in env.split(",")]
        bf16, tf32 = parts[0], parts[1] if len(parts) > 1 else parts[0] / 2
        return {"bf16": bf16, "tf32": tf32}, f"PEAK_TFLOPS={env}: bf16 {bf16:g}, tf32 {tf32:g} TFLOP/s"
    for key, label, bf16, tf32 in PEAKS:
        if key in gpu:
            return ({"bf16": bf16, "tf32": tf32},
                    f"{label} dense peaks: bf16 {bf16} TFLOP/s, tf32 {tf32} TFLOP/s "
                    "(bench/lib/gpu_train_table.py; PEAK_TFLOPS=BF16[,TF32] overrides)")
    return {}, f"no peak known for '{gpu or 'no GPU'}': MFU n/a (set PEAK_TFLOPS=BF16[,TF32])"


BOOK_LINE = re.compile(r"Ep (\d+), Step (\d+), Train: ([\d.naninf]+), Val: ([\d.naninf]+), "
                       r"Step tok/sec: (\d+), Avg tok/sec: (\d+)")


def book(row):
    """Rates, final losses and torch's peaks from a book script's log."""
    text = open(f"{w}/{row['id']}.log", errors="replace").read()
    lines = [m.groups() for m in BOOK_LINE.finditer(text)]
    out = {"evals": len(lines)}
    if lines:
        steps = [int(x[4]) for x in lines if int(x[1]) > 0]
        out["median"] = statistics.median(steps) if steps else None
        out["avg"] = float(lines[-1][5]) if len(lines) > 1 else None
        out["loss"] = (lines[-1][2], lines[-1][3])
        out["last_step"] = int(lines[-1][1])
    m = re.search(r"max_memory_allocated (\d+) MiB, max_memory_reserved (\d+) MiB", text)
    if m:
        out["torch_mem"] = f"{m.group(1)} / {m.group(2)}"
    return out


def ember(row):
    path = f"{w}/{row['id']}/metrics.jsonl"
    recs = [json.loads(x) for x in open(path) if x.strip()] if os.path.exists(path) else []
    out = {"evals": len(recs)}
    if recs:
        rates = [(b["tokens_seen"] - a["tokens_seen"]) / (b["elapsed_s"] - a["elapsed_s"])
                 for a, b in zip(recs, recs[1:]) if b["elapsed_s"] > a["elapsed_s"]]
        out["median"] = statistics.median(rates) if rates else None
        first, last = recs[0], recs[-1]
        out["avg"] = ((last["tokens_seen"] - first["tokens_seen"]) / (last["elapsed_s"] - first["elapsed_s"])
                      if last["elapsed_s"] > first["elapsed_s"] else None)
        out["loss"] = (f"{last['train_loss']:.3f}", f"{last['val_loss']:.3f}")
        out["last_step"] = last["step"] - 1  # the book's 0-based global_step
    return out


def smi(row):
    """Largest sum of the compute processes' used_memory over one poll
    (MiB), and the largest memory.used of the card less its value before
    the row; None where nvidia-smi gave nothing."""
    path = f"{w}/{row['id']}.smi"
    if not os.path.exists(path):
        return None, None
    base, best_apps, best_gpu, cur = None, None, None, None
    for line in open(path):
        kind, _, rest = line.strip().partition(" ")
        if kind == "B" and rest.strip().isdigit():
            base = int(rest)
        elif kind == "S":
            cur = 0
        elif kind == "A" and cur is not None:
            field = rest.split(",")[-1].strip()
            if field.isdigit():
                cur += int(field)
                best_apps = max(best_apps or 0, cur)
        elif kind == "G" and rest.strip().isdigit():
            best_gpu = max(best_gpu or 0, int(rest) - (base or 0))
    return best_apps, best_gpu


def fmt_rate(x):
    return f"{x:,.0f}" if x else "n/a"


def main():
    info = machine()
    gpu = info.get("gpu", "")
    peak, peak_line = peaks(gpu.split(",")[0])
    rows = []
    for line in open(f"{w}/rows.tsv"):
        f = line.rstrip("\n").split("\t")
        row = dict(zip(("id", "label", "kind", "precision", "batch", "rc", "wall"), f))
        row.update(book(row) if row["kind"] == "book" else ember(row))
        row["smi_apps"], row["smi_gpu"] = smi(row)
        rows.append(row)
    ref = {r["id"]: r for r in rows}
    orig, opt = ref.get("orig", {}), ref.get("opt", {})

    for k, v in info.items():
        print(f"{k}: {v}")
    print(f"peak: {peak_line}")
    print(f"FLOPs per trained token: 6 N + 12 L T D = {FLOP_PER_TOKEN / 1e9:.3f} GFLOP "
          f"(N = {MATMUL_PARAMS:,}, L {L}, T {T}, D {D}); evaluations not counted")
    print()
    print("| row | precision | batch | tokens/s (median interval) | Avg tok/s (book's) | x 00_orig | x 01_opt "
          "| peak memory, nvidia-smi (MiB) | torch max allocated / reserved (MiB) | MFU | final train / val loss "
          "| evaluations | wall (s) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    notes = []
    for r in rows:
        med, avg = r.get("median"), r.get("avg")

        def ratio(base):
            if not (med and base.get("median")):
                return "n/a"
            s = f"{med / base['median']:.2f}x"
            if avg and base.get("avg"):
                s += f" ({avg / base['avg']:.2f}x)"
            return s

        kind = "bf16" if r["precision"].startswith("bf16") else "tf32"
        mfu = f"{100 * med * FLOP_PER_TOKEN / (peak[kind] * 1e12):.1f}% ({kind})" if med and peak else "n/a"
        mem = f"{r['smi_apps']:,}" if r["smi_apps"] else "n/a"
        if r["smi_gpu"]:
            mem += f" (card +{r['smi_gpu']:,})"
        loss = " / ".join(r["loss"]) if r.get("loss") else "n/a"
        status = {"0": "", "124": " (timed out)", "skip": " (skipped)"}.get(r["rc"], f" (failed, rc {r['rc']})")
        print(f"| {r['label']}{status} | {r['precision']} | {r['batch']} | {fmt_rate(med)} | {fmt_rate(avg)} "
              f"| {ratio(orig) if r['id'] != 'orig' or not med else '1.00x'} "
              f"| {ratio(opt) if r['id'] != 'opt' or not med else '1.00x'} "
              f"| {mem} | {r.get('torch_mem', '-' if r['kind'] == 'ember' else 'n/a')} | {mfu} | {loss} "
              f"| {r['evals']} | {r['wall']} |")
        if r["rc"] not in ("0", "skip"):
            log = f"{w}/{r['id']}.log"
            lines = [x.strip() for x in open(log, errors="replace") if x.strip()] if os.path.exists(log) else []
            # The error (Python's exception line, ember's "ember: error: ..."), else the last line.
            tail = ([x for x in lines if "rror" in x and not x.startswith("File ")] or lines)[-1:]
            notes.append(f"- {r['id']}: rc {r['rc']}; {r['id']}.log: {tail[0] if tail else '(empty)'}")
    print()
    print("x 00_orig / x 01_opt: on the median interval rates (on the Avg rates in brackets); "
          "'card +' = the card's memory.used above its value before the row.")
    for n in notes:
        print(n)

    # Issue 25's targets, where the rows to judge them ran.
    def get(rid, key):  # from a row that ran (to its end, or to its timeout)
        r = ref.get(rid, {})
        return r.get(key) if r.get("rc") in ("0", "124") else None

    big = opt.get("batch")
    checks = []
    if get("ember-bf16-b8", "median") and get("orig", "median"):
        x = get("ember-bf16-b8", "median") / orig["median"]
        checks.append(f"ember bf16 batch 8 >= 8x 00_orig: {x:.2f}x, {'met' if x >= 8 else 'NOT met'}")
    eb = f"ember-bf16-b{big}"
    if big and get(eb, "median") and get("opt", "median"):
        x = get(eb, "median") / opt["median"]
        checks.append(f"ember bf16 batch {big} >= 01_opt (batch {big}): {x:.2f}x, {'met' if x >= 1 else 'NOT met'}")
    if big and get(eb, "smi_apps") and get("opt", "smi_apps"):
        a, b = get(eb, "smi_apps"), opt["smi_apps"]
        checks.append(f"ember bf16 batch {big} peak memory <= 01_opt's: {a:,} vs {b:,} MiB, "
                      f"{'met' if a <= b else 'NOT met'}")
    if checks:
        print()
        for c in checks:
            print(f"target: {c}")


main()
