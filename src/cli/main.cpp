// ember: the command users run. Parses the command line for the torch-free
// commands (tokenize, decode, --help, --version) and runs them without
// loading LibTorch (~0.8 s of start-up on Debian's build); a command that
// needs LibTorch is handed to `ember-torch` beside this binary with execv
// (same pid, arguments, environment and signals). Every error surfaces as one
// line on stderr and an exit status (1 = runtime error, 2 = usage or
// configuration error), never a backtrace.
#include <cerrno>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>

#include "app.hpp"
#include "version.hpp"
#include <CLI/CLI.hpp>
#include <climits>
#include <fmt/core.h>
#include <unistd.h>

namespace {

// The subcommand named on the command line: the first argument that is not
// an option (global options come before it). Empty when there is none.
std::string_view subcommand_of(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (argv[i][0] != '-') return argv[i];
  }
  return {};
}

bool is_torch_command(std::string_view name) {
  for (const auto& c : ember::cli::kTorchCommands) {
    if (name == c.name) return true;
  }
  return false;
}

// The folder of this executable (ember-torch is built beside it).
std::string own_folder() {
  char buf[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string path(buf, static_cast<size_t>(n));
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// Replaces this process with ember-torch; returns only on failure.
int exec_torch(char** argv) {
  const std::string path = own_folder() + "/ember-torch";
  ::execv(path.c_str(), argv);
  fmt::print(
      stderr,
      "ember: error: cannot run {} ({}); hint: it is built beside ember: "
      "rebuild with cmake --build, or reinstall\n",
      path,
      std::strerror(errno));
  return ember::cli::kExitError;
}

std::string describe(const std::exception& e) {
  return e.what();
}

}  // namespace

int main(int argc, char** argv) {
  if (is_torch_command(subcommand_of(argc, argv))) return exec_torch(argv);
  CLI::App app;
  ember::cli::configure_app(app, ember::cli::version_line());
  ember::cli::add_tokenize_commands(app);
  // The LibTorch commands, for the --help listing only (never reached: they
  // were handed to ember-torch above).
  for (const auto& c : ember::cli::kTorchCommands) {
    app.add_subcommand(c.name, c.summary)->allow_extras();
  }
  return ember::cli::run_app(app, argc, argv, describe);
}
