// Tokenizer scaling without LibTorch (issue 7): the loop of `ember tokenize
// --format bin16` (Tokenizer::encode_stream into a TokenFileWriter) at each
// thread count given, on one input; MB/s, speedup, efficiency and peak RSS.
// Links ember_base only (no LibTorch); the in-process side of the
// whole-process table in bench/README.md ("Start-up of `ember tokenize`"):
//   EMBER_GPT2_DIR=data/gpt2 build/bench/tokenize_scale corpus.txt 1 2 4
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <fmt/core.h>
#include <sys/resource.h>
#include <unistd.h>

#include <ember/text/token_file.hpp>
#include <ember/text/tokenizer.hpp>

namespace {

// User + system CPU seconds of the whole process (all threads).
double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  const auto sec = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) +
           static_cast<double>(t.tv_usec) * 1e-6;
  };
  return sec(ru.ru_utime) + sec(ru.ru_stime);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: tokenize_scale INPUT THREADS...\n");
    return 2;
  }
  const std::string input = argv[1];
  const auto tok = ember::Tokenizer::gpt2();
  double t1 = 0;
  fmt::print(
      "| threads | s | MB/s | speedup | efficiency | tokens | CPU s |\n");
  fmt::print("|---:|---:|---:|---:|---:|---:|---:|\n");
  for (int a = 2; a < argc; ++a) {
    const auto threads = static_cast<unsigned>(std::stoul(argv[a]));
    // Every run starts alike: no previous output to free, no dirty pages of
    // the run before still being written back (the kernel throttles writers
    // while it catches up, which showed up as seconds of noise).
    std::remove("/tmp/tokenize_scale.bin");
    sync();
    std::FILE* in = std::fopen(input.c_str(), "rb");
    if (in == nullptr) return 1;
    ember::TokenFileWriter out("/tmp/tokenize_scale.bin", 16);
    const double cpu0 = cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    const uint64_t bytes = tok.encode_stream(
        in,
        [&](const std::vector<ember::TokenId>& ids) { out.append(ids); },
        ember::AllowedSpecial::all(),
        ember::Disallowed::kRaise,
        threads);
    out.finish();
    const double s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0)
            .count();
    const double cpu = cpu_seconds() - cpu0;
    std::fclose(in);
    if (t1 == 0) t1 = s * threads;  // the first row is the reference
    const double speedup = t1 / s;
    fmt::print(
        "| {} | {:.2f} | {:.1f} | {:.2f} | {:.0f}% | {} | {:.2f} |\n",
        threads,
        s,
        static_cast<double>(bytes) / 1e6 / s,
        speedup,
        100 * speedup / threads,
        out.num_tokens(),
        cpu);
    std::fflush(stdout);
  }
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  fmt::print("peak RSS {:.1f} MB\n", static_cast<double>(ru.ru_maxrss) / 1024);
  std::remove("/tmp/tokenize_scale.bin");
  return 0;
}
