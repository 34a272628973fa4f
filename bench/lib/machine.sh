# What the benchmark scripts share: a work folder and the machine's line.
# Sourced; needs nothing else.

# Sets $w to a new temporary folder, removed on exit; KEEP=DIR copies it
# there first (both sides' logs and outputs).
bench_workdir() {
  w="$(mktemp -d)"
  trap '[[ -n "${KEEP:-}" ]] && cp -r "$w/." "$KEEP/"; rm -rf "$w"' EXIT
}

# print_cpu THREADS: "cpu: MODEL, N cores, flags: ...; threads T", the
# flags that decide the matrix kernels (AVX2, AVX-512, AVX512-BF16, AMX).
print_cpu() {
  local cpu flags
  cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
  flags="$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|avx512f|avx512_bf16|amx_bf16)$' | xargs)"
  echo "cpu: $cpu, $(nproc) cores, flags: $flags; threads $1"
}
