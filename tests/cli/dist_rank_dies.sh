#!/usr/bin/env bash
# A rank that dies makes the survivor fail with a clear error, not hang:
# rank 1 exits right after joining; rank 0's next all-reduce must throw
# (dist_worker exits 3) well inside the 20 s collective timeout + margin.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/dist.sh"
port=$((20000 + RANDOM % 20000))
RANK=1 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port "$worker" die-rank1 &
start=$(date +%s)
set +e
RANK=0 WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=$port timeout 60 "$worker" die-rank1
status=$?
set -e
wait || true
elapsed=$(($(date +%s) - start))
echo "rank 0 exit status $status after ${elapsed}s"
[[ $status -eq 3 ]] || { echo "expected exit 3 (clear failure), got $status"; exit 1; }
[[ $elapsed -le 40 ]] || { echo "took ${elapsed}s, expected <= 40s"; exit 1; }
