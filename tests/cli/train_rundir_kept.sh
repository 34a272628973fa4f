#!/usr/bin/env bash
# A fresh `ember train` into a run.dir that already holds a run never destroys
# it: the old run is moved to the first free <run.dir>.N, byte-identical, and a
# note says where.   bash train_rundir_kept.sh <ember> <source-dir>
source "$(dirname "${BASH_SOURCE[0]}")/lib/start.sh"
cfg=(--config configs/debug.toml --set train.threads=1 --set train.max_steps=5)
"$ember" train "${cfg[@]}" --set run.dir="$w/r" >/dev/null 2>&1
first="$(cd "$w/r" && sha256sum checkpoint.pt metrics.jsonl config.toml)"
"$ember" train "${cfg[@]}" --set run.dir="$w/r" >"$w/err1" 2>&1
grep -qF "note: $w/r held an earlier run; moved it to $w/r.1" "$w/err1" || { cat "$w/err1"; exit 1; }
[[ "$(cd "$w/r.1" && sha256sum checkpoint.pt metrics.jsonl config.toml)" == "$first" ]] ||
  { echo "the earlier run was modified"; exit 1; }
[[ -f "$w/r/checkpoint.pt" ]] || { echo "no new run"; exit 1; }
# Again: .1 is taken, so .2; a trailing slash names the same folder.
"$ember" train "${cfg[@]}" --set run.dir="$w/r/" >"$w/err2" 2>&1
grep -qF "moved it to $w/r.2" "$w/err2" || { cat "$w/err2"; exit 1; }
[[ "$(cd "$w/r.1" && sha256sum checkpoint.pt metrics.jsonl config.toml)" == "$first" ]]
[[ -f "$w/r.2/checkpoint.pt" && -f "$w/r/checkpoint.pt" ]]
# --resume continues in place and moves nothing.
"$ember" train --resume "$w/r" --set train.max_steps=8 >/dev/null 2>&1
[[ ! -e "$w/r.3" ]] || { echo "--resume moved the run"; exit 1; }
echo "ok"
