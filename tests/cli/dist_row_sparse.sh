#!/usr/bin/env bash
# GradientReducer's row-sparse path over Gloo on loopback, 2 processes: for
# random ids (few, many with repeats, none on one rank, a rank without
# backward) the table's averaged gradient has the dense path's bits and the
# closed form's values; a tied table stays dense (dist_worker row-sparse).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/dist.sh"
two_ranks 60 - "$worker" row-sparse
