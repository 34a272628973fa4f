// ember: the driver. Parses the command line and dispatches to a subcommand;
// every error surfaces here as one line on stderr and an exit status
// (1 = runtime error, 2 = usage or configuration error), never a backtrace.
#include <exception>

#include "commands.hpp"
#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>
#include <fmt/core.h>
#include <fmt/ranges.h>
#include <torch/version.h>

#include <ember/build_config.hpp>
#include <ember/distributed.hpp>
#include <ember/error.hpp>

int main(int argc, char** argv) {
  CLI::App app{
      "ember: GPT-2 tokenization, sliding-window data and embedding training "
      "on LibTorch"};
  // What this build can do, for bug reports and for tests that need a
  // feature: "ember 0.1.0 (LibTorch 1.13.1; distributed backends: gloo)".
  const auto backends = ember::dist::available_backends();
  app.set_version_flag(
      "--version",
      fmt::format(
          "ember {} (LibTorch {}.{}.{}; distributed backends: {})",
          ember::build::kVersion,
          TORCH_VERSION_MAJOR,
          TORCH_VERSION_MINOR,
          TORCH_VERSION_PATCH,
          backends.empty() ? std::string("none")
                           : fmt::format("{}", fmt::join(backends, " "))));
  app.require_subcommand(1);
  ember::cli::add_tokenize_commands(app);
  ember::cli::add_data_commands(app);
  ember::cli::add_train_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0; everything else is a usage error, reported
    // on one line like every other error.
    if (e.get_exit_code() == 0) return app.exit(e);
    fmt::print(
        stderr,
        "ember: error: {}; hint: run with --help for usage\n",
        e.what());
    return ember::cli::kExitUsage;
  } catch (const ember::cli::ExitStatus& e) {
    return e.status;
  } catch (const ember::ConfigError& e) {
    fmt::print(stderr, "ember: error: {}\n", e.what());
    return ember::cli::kExitUsage;
  } catch (const c10::Error& e) {
    // what() carries a C++ backtrace; msg() is the message alone.
    fmt::print(stderr, "ember: error: {}\n", e.msg());
    return ember::cli::kExitError;
  } catch (const std::exception& e) {
    fmt::print(stderr, "ember: error: {}\n", e.what());
    return ember::cli::kExitError;
  }
  return 0;
}
