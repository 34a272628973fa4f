#!/usr/bin/env bash
# LibTorch 2.x check on a CPU machine: builds ember against Debian 13's
# LibTorch 2.6 (libtorch-dev 2.6.0+dfsg) inside a Debian 13 (trixie) chroot
# and runs the CTest suite there, against that chroot's python3-torch 2.6 as
# the reference. It checks what Debian 12's LibTorch 1.13 cannot: the
# TORCH_VERSION_MAJOR >= 2 branches (scaled_dot_product_attention, the 2.4+
# autocast API, ATen's fused AdamW, c10d's newer process-group API) build
# and give the numbers the tests expect. CUDA-only code still needs
# scripts/gpu-check.sh on a GPU machine.
#
#   sudo bash scripts/torch2-check.sh [ctest arguments, e.g. -R attention]
#
# Without arguments it runs the whole suite but the layout checks (-E
# '^layout[.]'): Debian 13's clang-format formats otherwise than the main
# suite's, which keeps them.
# Needs root (debootstrap, chroot, bind mounts), debootstrap, and Debian's
# mirror (about 1.5 GB the first time; the chroot is kept for the next run).
# The tests use Catch2 2 (Debian 12's) and Debian 13 ships Catch2 3, so
# Debian 12's catch2 package is unpacked into the chroot's /opt/catch2v2.
# Environment:
#   CHROOT  where the Debian 13 system lives (default /opt/ember-trixie)
#   BUILD   build folder, relative to the checkout (default build-torch2)
#   MIRROR  Debian mirror (default http://deb.debian.org/debian)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
chroot_dir="${CHROOT:-/opt/ember-trixie}"
build="${BUILD:-build-torch2}"
mirror="${MIRROR:-http://deb.debian.org/debian}"
say() { printf '[torch2-check] %s\n' "$*"; }
die() {
  say "error: $*" >&2
  exit 1
}
(($(id -u) == 0)) || die "needs root (debootstrap, chroot, mount): run it with sudo"
command -v debootstrap >/dev/null || die "debootstrap is missing: apt-get install debootstrap"

packages=(build-essential cmake ninja-build pkg-config git nodejs time
  libtorch-dev libopenblas0-openmp libgloo-dev python3-torch python3-numpy
  libfmt-dev libtomlplusplus-dev libcli11-dev nlohmann-json3-dev
  libutf8proc-dev zlib1g-dev libxxhash-dev libssl-dev libsimdjson-dev)
catch2_deb="pool/main/c/catch2/catch2_2.13.10-1_amd64.deb"
catch2_sha256="0b32d3017609fecef1ecb0827729c2f3cda61332dd1f50da73ea9066fb4fc7ca"

make_system() {
  if [[ ! -f "$chroot_dir/etc/debian_version" ]]; then
    say "Debian 13 into $chroot_dir (debootstrap, a few minutes)"
    mkdir -p "$chroot_dir"
    debootstrap --variant=minbase --include=ca-certificates trixie "$chroot_dir" "$mirror" >/dev/null ||
      die "debootstrap trixie failed (network to $mirror?)"
  fi
  cp /etc/resolv.conf "$chroot_dir/etc/resolv.conf"
  say "Debian 13 packages (LibTorch $(in_chroot dpkg-query -W -f='${Version}' libtorch-dev 2>/dev/null || echo 'not yet installed'))"
  in_chroot apt-get update -q >/dev/null
  in_chroot env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    "${packages[@]}" >/dev/null || die "apt-get install in the chroot failed"
  if [[ ! -f "$chroot_dir/opt/catch2v2/usr/include/catch2/catch.hpp" ]]; then
    local deb="$chroot_dir/tmp/catch2v2.deb"
    curl -fsSL "$mirror/$catch2_deb" -o "$deb" || die "could not download $mirror/$catch2_deb"
    echo "$catch2_sha256  $deb" | sha256sum -c --quiet - || die "$catch2_deb: sha256 differs"
    dpkg -x "$deb" "$chroot_dir/opt/catch2v2"
  fi
}

# The checkout's parent is mounted at the same path inside, so the checkout,
# ../shared and every absolute path the tests print are the same there.
mounted=()
mount_all() {
  local parent
  parent="$(dirname "$root")"
  for dir in /proc /dev /dev/pts /sys "$parent"; do
    mkdir -p "$chroot_dir$dir"
    mountpoint -q "$chroot_dir$dir" || { mount --bind "$dir" "$chroot_dir$dir" && mounted+=("$chroot_dir$dir"); }
  done
}
unmount_all() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount "${mounted[i]}" || true; done
}
in_chroot() { chroot "$chroot_dir" "$@"; }

mount_all
trap unmount_all EXIT
make_system
export EMBER_DATA_DIR="${EMBER_DATA_DIR:-$(dirname "$root")/shared/data}"
say "configure and build $build (LibTorch 2.6, $(nproc) jobs)"
in_chroot env -C "$root" cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH=/opt/catch2v2/usr >/dev/null || die "cmake configure failed"
in_chroot env -C "$root" cmake --build "$build" --parallel "$(nproc)" || die "build failed"
in_chroot "$root/$build/ember" --version
(($#)) || set -- -E '^layout[.]'
say "ctest $*"
in_chroot env -C "$root" EMBER_DATA_DIR="$EMBER_DATA_DIR" \
  ctest --test-dir "$build" --no-tests=error --output-on-failure --timeout 1500 -j "$(nproc)" "$@"
