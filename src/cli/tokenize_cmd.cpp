// `ember tokenize` and `ember decode`: thin shells over ember::Tokenizer and
// the token-file format. The contract (issue 2) that scripts rely on:
//   ember tokenize [--input PATH|DIR|- ...] [--allowed-special
//   none|all|TOKEN[,...]]
//                  [--format ids|bin16|bin32] [--output PATH] [--threads N]
//     ids: decimal ids separated by single spaces, then one newline.
//     Several inputs (a folder: its files, sorted) are one stream of
//     documents with the id of <|endoftext|> between each two.
//   ember decode [--input PATH|-]
//     whitespace-separated ids (or a token file) in, the exact bytes out.
// tokenize streams the input in chunks (Tokenizer::encode_stream), with a
// progress bar on stderr when it is a terminal.
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "app.hpp"
#include <CLI/CLI.hpp>
#include <fmt/core.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ember/text/id_text.hpp>
#include <ember/text/token_file.hpp>
#include <ember/text/tokenizer.hpp>
#include <ember/util/error.hpp>
#include <ember/util/io.hpp>

namespace ember::cli {
namespace {

struct TokenizeOptions {
  std::vector<std::string> inputs{"-"};
  std::string allowed_special = "none";
  std::string format = "ids";
  std::string output;
  unsigned threads = 0;
};

struct DecodeOptions {
  std::string input = "-";
};

std::string input_name(const std::string& path) {
  return path == "-" ? "<stdin>" : path;
}

std::string read_input(const std::string& path) {
  if (path != "-") return read_file(path);
  std::string data;
  std::vector<char> buf(1 << 16);
  for (;;) {
    const size_t n = std::fread(buf.data(), 1, buf.size(), stdin);
    data.append(buf.data(), n);
    if (n < buf.size()) {
      if (std::ferror(stdin)) {
        throw Error(fmt::format("read <stdin>: {}", std::strerror(errno)));
      }
      break;
    }
  }
  return data;
}

void write_stdout(std::string_view data) {
  if (std::fwrite(data.data(), 1, data.size(), stdout) != data.size() ||
      std::fflush(stdout) != 0) {
    throw Error(fmt::format("write <stdout>: {}", std::strerror(errno)));
  }
}

AllowedSpecial parse_allowed_special(
    const std::string& spec, const Tokenizer& tok) {
  if (spec == "none") return AllowedSpecial::none();
  if (spec == "all") return AllowedSpecial::all();
  const std::vector<std::string> known = tok.special_tokens();
  std::set<std::string> names;
  size_t start = 0;
  for (;;) {
    const size_t comma = spec.find(',', start);
    const std::string name = spec.substr(
        start, comma == std::string::npos ? std::string::npos : comma - start);
    if (std::find(known.begin(), known.end(), name) == known.end()) {
      throw ConfigError(fmt::format(
          "tokenize: --allowed-special: unknown special token '{}' (expected "
          "none, all, or a comma-separated list of: {})",
          name,
          fmt::join(known, ", ")));
    }
    names.insert(name);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return AllowedSpecial(std::move(names));
}

// Appends decimal ids separated by single spaces; `first` tells whether a
// separator is due before the first one.
void append_ids(const std::vector<TokenId>& ids, bool first, std::string& out) {
  const size_t at = out.size();
  out.resize(at + ids.size() * 11);
  char* p = out.data() + at;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i > 0 || !first) *p++ = ' ';
    char digits[10];
    int n = 0;
    TokenId v = ids[i];
    do {
      digits[n++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v != 0);
    while (n > 0) *p++ = digits[--n];
  }
  out.resize(static_cast<size_t>(p - out.data()));
}

// An open input; stdin for "-".
struct Input {
  explicit Input(const std::string& path) : name(input_name(path)) {
    if (path == "-") {
      file = stdin;
      return;
    }
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec)) {
      throw Error(fmt::format("read {}: {}", path, errno_text(EISDIR)));
    }
    file = std::fopen(path.c_str(), "rb");
    if (file == nullptr) {
      throw Error(fmt::format("read {}: {}", path, errno_text(errno)));
    }
    owned = true;
  }
  ~Input() {
    if (owned) std::fclose(file);
  }
  Input(const Input&) = delete;
  Input& operator=(const Input&) = delete;
  std::string name;
  std::FILE* file = nullptr;
  bool owned = false;
};

// The documents named by --input, in order: a folder stands for its regular
// files (recursively, hidden names skipped), sorted by path, so the order
// never depends on the file system.
std::vector<std::string> expand_inputs(const std::vector<std::string>& inputs) {
  namespace fs = std::filesystem;
  std::vector<std::string> out;
  for (const auto& in : inputs) {
    std::error_code ec;
    if (in == "-" || !fs::is_directory(in, ec)) {
      out.push_back(in);
      continue;
    }
    std::vector<std::string> files;
    fs::recursive_directory_iterator it(
        in, fs::directory_options::follow_directory_symlink, ec);
    for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (!name.empty() && name[0] == '.') {
        if (it->is_directory(ec)) it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file(ec)) files.push_back(it->path().string());
    }
    if (ec) {
      throw Error(fmt::format("read {}: {}", in, errno_text(ec.value())));
    }
    if (files.empty()) {
      throw Error(fmt::format(
          "tokenize: --input {}: the folder holds no files to tokenize", in));
    }
    std::sort(files.begin(), files.end());
    out.insert(out.end(), files.begin(), files.end());
  }
  return out;
}

// A one-line progress bar on stderr (only when stderr is a terminal):
// bytes read, throughput and, when the total is known, percent and ETA.
class Progress {
 public:
  explicit Progress(uint64_t total_bytes)
      : enabled_(::isatty(STDERR_FILENO) != 0),
        total_(total_bytes),
        start_(Clock::now()),
        last_(start_) {}
  // `done`: bytes read so far over all inputs.
  void update(uint64_t done, bool force = false) {
    if (!enabled_) return;
    const auto now = Clock::now();
    if (!force && now - last_ < std::chrono::milliseconds(200)) return;
    last_ = now;
    const double s = seconds(now);
    const double rate = s > 0 ? static_cast<double>(done) / s : 0;
    std::string line;
    if (total_ > 0) {
      const double frac = std::min(
          1.0, static_cast<double>(done) / static_cast<double>(total_));
      const int fill = static_cast<int>(frac * 24);
      const double eta =
          rate > 0 ? static_cast<double>(total_ - std::min(done, total_)) / rate
                   : 0;
      line = fmt::format(
          "\rtokenize [{}{}] {:5.1f}% {:.1f}/{:.1f} MB {:.1f} MB/s ETA "
          "{:.0f}s\033[K",
          std::string(static_cast<size_t>(fill), '#'),
          std::string(static_cast<size_t>(24 - fill), '.'),
          100 * frac,
          static_cast<double>(done) / 1e6,
          static_cast<double>(total_) / 1e6,
          rate / 1e6,
          eta);
    } else {
      line = fmt::format(
          "\rtokenize {:.1f} MB {:.1f} MB/s\033[K",
          static_cast<double>(done) / 1e6,
          rate / 1e6);
    }
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
  }
  void finish(uint64_t bytes, uint64_t tokens) {
    if (!enabled_) return;
    const double s = seconds(Clock::now());
    fmt::print(
        stderr,
        "\rtokenize: {:.1f} MB, {} tokens in {:.1f} s ({:.1f} MB/s)\033[K\n",
        static_cast<double>(bytes) / 1e6,
        tokens,
        s,
        s > 0 ? static_cast<double>(bytes) / 1e6 / s : 0.0);
  }

 private:
  using Clock = std::chrono::steady_clock;
  double seconds(Clock::time_point now) const {
    return std::chrono::duration<double>(now - start_).count();
  }
  bool enabled_;
  uint64_t total_;
  Clock::time_point start_;
  Clock::time_point last_;
};

// Size of a regular file (stdin too, when redirected from one), else 0.
uint64_t regular_size(std::FILE* f) {
  struct stat st {};
  if (::fstat(::fileno(f), &st) == 0 && S_ISREG(st.st_mode)) {
    return static_cast<uint64_t>(st.st_size);
  }
  return 0;
}

// A text file written in pieces that appears atomically on commit() (temp
// file beside it, fsync, rename); removed if never committed.
class AtomicOutput {
 public:
  explicit AtomicOutput(std::string path)
      : path_(std::move(path)),
        tmp_(fmt::format("{}.tmp.{}", path_, ::getpid())) {
    file_ = std::fopen(tmp_.c_str(), "wb");
    if (file_ == nullptr) fail(errno);
  }
  ~AtomicOutput() {
    if (file_ != nullptr) {
      std::fclose(file_);
      std::remove(tmp_.c_str());
    }
  }
  AtomicOutput(const AtomicOutput&) = delete;
  AtomicOutput& operator=(const AtomicOutput&) = delete;
  void write(std::string_view data) {
    if (std::fwrite(data.data(), 1, data.size(), file_) != data.size()) {
      fail(errno);
    }
  }
  void commit() {
    if (std::fflush(file_) != 0 || ::fsync(::fileno(file_)) != 0) fail(errno);
    std::FILE* f = std::exchange(file_, nullptr);
    if (std::fclose(f) != 0 || std::rename(tmp_.c_str(), path_.c_str()) != 0) {
      const int err = errno;
      std::remove(tmp_.c_str());
      fail(err);
    }
  }

 private:
  [[noreturn]] void fail(int err) const {
    throw Error(fmt::format("write {}: {}", path_, errno_text(err)));
  }
  std::string path_;
  std::string tmp_;
  std::FILE* file_ = nullptr;
};

// Encodes one input through `sink`; errors name the input and the byte
// offset in it. Returns the bytes read.
uint64_t encode_one(
    const Tokenizer& tok,
    const Input& in,
    const std::function<void(const std::vector<TokenId>&)>& sink,
    const AllowedSpecial& allowed,
    unsigned threads) {
  try {
    return tok.encode_stream(
        in.file, sink, allowed, Disallowed::kRaise, threads);
  } catch (const Utf8Error& e) {
    throw Utf8Error(
        fmt::format(
            "tokenize: {}: invalid utf-8 at byte {}; hint: the input must be "
            "UTF-8 text",
            in.name,
            e.offset()),
        e.offset());
  } catch (const DisallowedSpecialError& e) {
    throw TokenizerError(fmt::format(
        "tokenize: {}: the input contains the special token '{}' at byte {}, "
        "which is not allowed; hint: pass --allowed-special '{}' (or all) to "
        "encode it as its id, or remove it from the input",
        in.name,
        e.token(),
        e.offset(),
        e.token()));
  }
}

void run_tokenize(const TokenizeOptions& opt) {
  const bool binary = opt.format != "ids";
  const bool to_stdout = opt.output.empty() || opt.output == "-";
  if (binary && to_stdout && ::isatty(STDOUT_FILENO)) {
    throw ConfigError(fmt::format(
        "tokenize: --format {} writes binary data; hint: pass --output PATH "
        "or redirect stdout",
        opt.format));
  }
  const Tokenizer tok = Tokenizer::gpt2();
  const AllowedSpecial allowed =
      parse_allowed_special(opt.allowed_special, tok);
  const std::vector<std::string> inputs = expand_inputs(opt.inputs);
  if (std::count(inputs.begin(), inputs.end(), "-") > 1) {
    throw ConfigError("tokenize: --input: stdin (-) can be read only once");
  }
  // Every input is opened up front, so a missing one fails before any work.
  std::vector<std::unique_ptr<Input>> files;
  uint64_t total_bytes = 0;
  for (const auto& path : inputs) {
    files.push_back(std::make_unique<Input>(path));
    total_bytes += regular_size(files.back()->file);
  }

  // Where each chunk's ids go. Everything streams except a token file to
  // stdout, whose header (count, checksum) must come first.
  std::function<void(const std::vector<TokenId>&)> sink;
  std::function<void()> finish;
  bool first = true;
  std::string text_buf;
  std::unique_ptr<AtomicOutput> text_out;
  std::unique_ptr<TokenFileWriter> bin_out;
  std::vector<TokenId> all_ids;
  const uint32_t width = opt.format == "bin16" ? 16 : 32;
  if (!binary) {
    if (!to_stdout) text_out = std::make_unique<AtomicOutput>(opt.output);
    sink = [&](const std::vector<TokenId>& ids) {
      text_buf.clear();
      append_ids(ids, first, text_buf);
      if (!ids.empty()) first = false;
      if (text_out) {
        text_out->write(text_buf);
      } else {
        write_stdout(text_buf);
      }
    };
    finish = [&] {
      if (text_out) {
        text_out->write("\n");
        text_out->commit();
      } else {
        write_stdout("\n");
      }
    };
  } else if (!to_stdout) {
    bin_out = std::make_unique<TokenFileWriter>(opt.output, width, "gpt2");
    sink = [&](const std::vector<TokenId>& ids) { bin_out->append(ids); };
    finish = [&] { bin_out->finish(); };
  } else {
    sink = [&](const std::vector<TokenId>& ids) {
      all_ids.insert(all_ids.end(), ids.begin(), ids.end());
    };
    finish = [&] { write_stdout(encode_token_file(all_ids, width, "gpt2")); };
  }

  Progress progress(total_bytes);
  uint64_t bytes_before = 0;  // of the inputs already done
  uint64_t num_tokens = 0;
  const std::vector<TokenId> separator{tok.eot_token()};
  for (size_t k = 0; k < files.size(); ++k) {
    Input& in = *files[k];
    if (k > 0) {
      sink(separator);
      num_tokens += 1;
    }
    auto counted = [&](const std::vector<TokenId>& ids) {
      sink(ids);
      num_tokens += ids.size();
      const off_t at = ::ftello(in.file);
      if (at >= 0) progress.update(bytes_before + static_cast<uint64_t>(at));
    };
    bytes_before += encode_one(tok, in, counted, allowed, opt.threads);
    progress.update(bytes_before, true);
  }
  finish();
  progress.finish(bytes_before, num_tokens);
}

void run_decode(const DecodeOptions& opt) {
  const Tokenizer tok = Tokenizer::gpt2();
  const std::string data = read_input(opt.input);
  const std::string what = input_name(opt.input);
  write_stdout(tok.decode(parse_decode_input(data, what, tok.vocab_size())));
}

}  // namespace

void add_tokenize_commands(CLI::App& app) {
  auto topt = std::make_shared<TokenizeOptions>();
  CLI::App* tokenize = app.add_subcommand(
      "tokenize",
      "Encode UTF-8 text into GPT-2 token ids (tiktoken's gpt2, exactly)");
  tokenize
      ->add_option(
          "--input",
          topt->inputs,
          "Input files, folders (their files, sorted) or - for stdin "
          "(default: -); several are joined with <|endoftext|> between "
          "documents")
      ->expected(1, -1);
  tokenize
      ->add_option(
          "--allowed-special",
          topt->allowed_special,
          "Special tokens encoded as their ids: none, all, or a "
          "comma-separated list such as '<|endoftext|>' (default: none; a "
          "special token that is not allowed is an error)")
      ->type_name("none|all|TOKEN[,TOKEN...]");
  tokenize
      ->add_option(
          "--format",
          topt->format,
          "ids: decimal ids on one line; bin16/bin32: a token file "
          "(docs/token_file.md) (default: ids)")
      ->check(CLI::IsMember({"ids", "bin16", "bin32"}));
  tokenize->add_option(
      "--output", topt->output, "Output file (default: stdout)");
  tokenize
      ->add_option(
          "--threads",
          topt->threads,
          "Encoding threads, 0 = all cores (default: 0)")
      ->check(CLI::Range(0u, 1024u));
  tokenize->callback([topt] { run_tokenize(*topt); });

  auto dopt = std::make_shared<DecodeOptions>();
  CLI::App* decode = app.add_subcommand(
      "decode",
      "Decode whitespace-separated GPT-2 ids (or a token file) into the exact "
      "bytes, with no added newline");
  decode->add_option(
      "--input", dopt->input, "Input file, or - for stdin (default: -)");
  decode->callback([dopt] { run_decode(*dopt); });
}

}  // namespace ember::cli
