#!/usr/bin/env bash
# Packs the libraries ember builds with (fmt, toml++, CLI11, nlohmann-json,
# utf8proc, Catch2, zlib headers) from Debian's packages into .gpudeps/, for a
# GPU machine that has a CUDA PyTorch but not these packages and cannot
# download them. Run it here (Debian 12, network to Debian's mirror), then
# carry .gpudeps and data/ to the GPU machine and run
#
#   bash scripts/gpu-check.sh
#
# which uses .gpudeps/root/usr by itself when it is there. Nothing is
# installed on this machine: `apt-get download` + `dpkg -x` into the folder.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="$root/.gpudeps"
pkgs=(libfmt-dev libfmt9 libtomlplusplus-dev libtomlplusplus3 libcli11-dev nlohmann-json3-dev
  libutf8proc-dev libutf8proc2 catch2 zlib1g-dev zlib1g libxxhash-dev libxxhash0
  libssl-dev libssl3 libsimdjson-dev libsimdjson14)
rm -rf "$out"
mkdir -p "$out/debs" "$out/root"
(cd "$out/debs" && apt-get download "${pkgs[@]}") || {
  echo "gpu-deps: apt-get download failed; run 'apt-get update' first" >&2
  exit 1
}
for deb in "$out"/debs/*.deb; do dpkg -x "$deb" "$out/root"; done
# Absolute links (libz.so -> /lib/...) would point outside the folder on the
# GPU machine: point them at the unpacked copy instead.
find "$out/root" -type l -lname '/*' | while read -r link; do
  ln -sfn "$(realpath -m --relative-to="$(dirname "$link")" "$out/root$(readlink "$link")")" "$link"
done
rm -rf "$out/debs"
echo "gpu-deps: $(du -sh "$out" | cut -f1) in $out (${#pkgs[@]} packages)"
