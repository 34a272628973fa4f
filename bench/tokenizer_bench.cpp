// Tokenizer throughput: ember's single-thread encode against npm tiktoken
// (WASM, the reference), measured in the same run on the same text,
// plus vocabulary load time and encode_parallel at 1 and 2 threads.
//
//   build/bench/tokenizer_bench [--no-tiktoken] [FILE...]
//
// Default files: data/the-verdict.txt and every *.txt corpus in
// $EMBER_BENCH_DIR (else ../shared/data/bench beside the source). Each figure
// is the median of repeated encodes of the whole file after one warm-up.
// EMBER_BENCH_LOAD_ONLY=1 prints only the vocabulary load line.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include <fmt/core.h>
#include <nlohmann/json.hpp>
#include <time.h>

#include <ember/text/tokenizer.hpp>
#include <ember/util/io.hpp>

namespace {

using Clock = std::chrono::steady_clock;

struct Timing {
  double median_s;
  double min_s;
  double cpu_median_s;  // CPU time of the calling thread
};

double thread_cpu_seconds() {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

double median_of(std::vector<double> t) {
  std::sort(t.begin(), t.end());
  const size_t n = t.size();
  return n % 2 ? t[n / 2] : (t[n / 2 - 1] + t[n / 2]) / 2;
}

template <class F>
Timing time_runs(int repeats, F&& f) {
  f();  // warm-up
  std::vector<double> t, cpu;
  for (int r = 0; r < repeats; ++r) {
    const double c = thread_cpu_seconds();
    const auto a = Clock::now();
    f();
    t.push_back(std::chrono::duration<double>(Clock::now() - a).count());
    cpu.push_back(thread_cpu_seconds() - c);
  }
  return {median_of(t), *std::min_element(t.begin(), t.end()), median_of(cpu)};
}

uint32_t ids_hash(const std::vector<ember::TokenId>& ids) {
  uint32_t h = 0;
  for (const auto id : ids) h = h * 31 + id;
  return h;
}

std::string shell_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

struct Reference {
  bool ok = false;
  double median_s = 0;
  double min_s = 0;
  double cpu_median_s = 0;
  size_t num_tokens = 0;
  uint32_t hash = 0;
};

Reference run_tiktoken(const std::string& file, int repeats) {
  const std::string cmd = fmt::format(
      "node {} {} {} 2>/dev/null",
      shell_quote(
          std::string(EMBER_BENCH_SOURCE_DIR) + "/bench/tiktoken_bench.js"),
      shell_quote(file),
      repeats);
  Reference ref;
  std::FILE* p = ::popen(cmd.c_str(), "r");
  if (p == nullptr) return ref;
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  if (::pclose(p) != 0) return ref;
  const auto j = nlohmann::json::parse(out, nullptr, false);
  if (j.is_discarded()) return ref;
  ref.ok = true;
  ref.median_s = j.at("median_s").get<double>();
  ref.min_s = j.at("min_s").get<double>();
  ref.cpu_median_s = j.at("cpu_median_s").get<double>();
  ref.num_tokens = j.at("num_tokens").get<size_t>();
  ref.hash = j.at("hash").get<uint32_t>();
  return ref;
}

}  // namespace

int main(int argc, char** argv) {
  bool with_tiktoken = true;
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--no-tiktoken") {
      with_tiktoken = false;
    } else {
      files.push_back(a);
    }
  }
  if (files.empty()) {
    files.push_back(
        std::string(EMBER_BENCH_SOURCE_DIR) + "/data/the-verdict.txt");
    const char* env = std::getenv("EMBER_BENCH_DIR");
    const std::filesystem::path dir =
        env && *env ? std::filesystem::path(env)
                    : std::filesystem::path(EMBER_BENCH_SOURCE_DIR) / ".." /
                          "shared" / "data" / "bench";
    std::vector<std::string> corpora;
    if (std::filesystem::is_directory(dir)) {
      for (const auto& e : std::filesystem::directory_iterator(dir)) {
        if (e.path().extension() == ".txt")
          corpora.push_back(e.path().string());
      }
    }
    std::sort(corpora.begin(), corpora.end());
    files.insert(files.end(), corpora.begin(), corpora.end());
  }

  const Timing load = time_runs(20, [] { (void)ember::Tokenizer::gpt2(); });
  const auto tok = ember::Tokenizer::gpt2();
  fmt::print(
      "vocabulary load (encoder.json + vocab.bpe, sha256 checks, tables): "
      "{:.1f} ms, CPU {:.1f} ms (median of 20; best {:.1f} ms)\n",
      load.median_s * 1e3,
      load.cpu_median_s * 1e3,
      load.min_s * 1e3);
  if (std::getenv("EMBER_BENCH_LOAD_ONLY") != nullptr) return 0;
  fmt::print(
      "hardware threads: {}; figures: median of the runs (best run in "
      "brackets)\n\n",
      std::thread::hardware_concurrency());
  fmt::print(
      "| corpus | MB | tokens | ember MB/s | ember M tok/s | tiktoken npm "
      "MB/s | tiktoken M tok/s | ember / tiktoken | parallel 1 thr MB/s | "
      "parallel 2 thr MB/s | ids identical |\n");
  fmt::print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
  std::vector<std::string> cpu_rows;
  for (const auto& file : files) {
    const std::string text = ember::read_file(file);
    const double mb = static_cast<double>(text.size()) / 1e6;
    // About 2 s of ember encoding and 10-30 s of tiktoken per corpus.
    const int reps =
        std::clamp(static_cast<int>(200.0 / std::max(mb, 0.001)), 5, 500);
    const int ref_reps =
        std::clamp(static_cast<int>(20.0 / std::max(mb, 0.001)), 5, 200);
    std::vector<ember::TokenId> ids;
    const Timing t = time_runs(
        reps, [&] { ids = tok.encode(text, ember::AllowedSpecial::all()); });
    const int par_reps = std::max(3, reps / 2);
    std::vector<ember::TokenId> p1, p2;
    const Timing t1 = time_runs(par_reps, [&] {
      p1 = tok.encode_parallel(
          text, ember::AllowedSpecial::all(), ember::Disallowed::kRaise, 1);
    });
    const Timing t2 = time_runs(par_reps, [&] {
      p2 = tok.encode_parallel(
          text, ember::AllowedSpecial::all(), ember::Disallowed::kRaise, 2);
    });
    const bool parallel_same = p1 == ids && p2 == ids;
    Reference ref;
    if (with_tiktoken) ref = run_tiktoken(file, ref_reps);
    const double ntok = static_cast<double>(ids.size()) / 1e6;
    const auto rate = [](double amount, const Timing& x) {
      return fmt::format(
          "{:.1f} ({:.1f})", amount / x.median_s, amount / x.min_s);
    };
    std::string ref_mbs = "n/a", ref_toks = "n/a", ratio = "n/a", same;
    if (ref.ok) {
      const Timing rt{ref.median_s, ref.min_s, ref.cpu_median_s};
      ref_mbs = rate(mb, rt);
      ref_toks = rate(static_cast<double>(ref.num_tokens) / 1e6, rt);
      ratio = fmt::format(
          "{:.1f}x ({:.1f}x)", ref.median_s / t.median_s, ref.min_s / t.min_s);
      same = ref.num_tokens == ids.size() && ref.hash == ids_hash(ids) ? "yes"
                                                                       : "NO";
    } else {
      same = "tiktoken not run";
    }
    if (!parallel_same) same += " (parallel DIFFERS)";
    fmt::print(
        "| {} | {:.2f} | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
        std::filesystem::path(file).filename().string(),
        mb,
        ids.size(),
        rate(mb, t),
        rate(ntok, t),
        ref_mbs,
        ref_toks,
        ratio,
        rate(mb, t1),
        rate(mb, t2),
        same);
    std::fflush(stdout);
    if (ref.ok) {
      cpu_rows.push_back(fmt::format(
          "| {} | {:.1f} | {:.2f} | {:.1f}x |",
          std::filesystem::path(file).filename().string(),
          mb / t.cpu_median_s,
          mb / ref.cpu_median_s,
          ref.cpu_median_s / t.cpu_median_s));
    }
  }
  if (!cpu_rows.empty()) {
    fmt::print(
        "\nSingle thread by CPU time (median; ember: the encoding thread, "
        "tiktoken: the Node process):\n\n"
        "| corpus | ember MB/s | tiktoken npm MB/s | ember / tiktoken |\n"
        "|---|---:|---:|---:|\n");
    for (const auto& row : cpu_rows) fmt::print("{}\n", row);
  }
  return 0;
}
