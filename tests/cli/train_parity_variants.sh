#!/usr/bin/env bash
# Parity for the extension path: sinusoidal positional encoding with tied
# weights, against the same PyTorch reference (train_parity.sh).
exec bash "$(dirname "$0")/train_parity.sh" "$1" "$2" \
  --set model.pos_encoding=sinusoidal --set model.tie_weights=true
