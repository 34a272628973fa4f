#!/usr/bin/env bash
# ember::dist over Gloo on loopback: 2 processes broadcast, all-reduce and
# average gradients in buckets (dist_worker collectives).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/dist.sh"
two_ranks 60 - "$worker" collectives
