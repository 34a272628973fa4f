// Token-file payload checksums: FNV-1a 64 (format version 1) against XXH64
// (version 2), over the same buffer in the same run. The checksum runs on the
// one thread that writes a token file (ember tokenize --format bin16) and
// once over the whole file when training maps it, so its speed bounds both.
//   build/bench/checksum_bench [MiB (256)] [repeats (5)]
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <fmt/core.h>

#include <ember/text/token_file.hpp>
#include <ember/text/xxh64.hpp>

namespace {

template <typename F>
double best_seconds(int repeats, F&& f) {
  double best = 1e30;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    best = std::min(
        best,
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count());
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  const size_t mib = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 256;
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 5;
  std::vector<unsigned char> buf(mib << 20);
  // Token-like bytes: little-endian uint16 ids below 50257.
  uint32_t x = 12345;
  for (size_t i = 0; i + 1 < buf.size(); i += 2) {
    x = x * 1103515245u + 12345u;
    const uint32_t id = (x >> 8) % 50257;
    buf[i] = static_cast<unsigned char>(id);
    buf[i + 1] = static_cast<unsigned char>(id >> 8);
  }
  uint64_t sink = 0;
  const double fnv = best_seconds(
      repeats, [&] { sink ^= ember::fnv1a64(buf.data(), buf.size()); });
  const double xxh = best_seconds(
      repeats, [&] { sink ^= ember::xxh64(buf.data(), buf.size()); });
  const double gb = static_cast<double>(buf.size()) / 1e9;
  fmt::print(
      "checksum over {} MiB of bin16 ids, best of {} (one thread)\n",
      mib,
      repeats);
  fmt::print(
      "| checksum | token file version | GB/s | s per GB of payload |\n");
  fmt::print("|---|---:|---:|---:|\n");
  fmt::print(
      "| FNV-1a 64 (reference: before) | 1 | {:.2f} | {:.3f} |\n",
      gb / fnv,
      fnv / gb);
  fmt::print("| XXH64 | 2 | {:.2f} | {:.3f} |\n", gb / xxh, xxh / gb);
  fmt::print(
      "XXH64 / FNV-1a speed: {:.1f}x (sink {:x})\n", fnv / xxh, sink & 0xff);
  return 0;
}
