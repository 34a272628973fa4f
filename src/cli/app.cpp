#include "app.hpp"

#include <filesystem>
#include <stdexcept>

#include <CLI/CLI.hpp>
#include <fmt/core.h>

#include <ember/util/build_config.hpp>
#include <ember/util/error.hpp>

namespace ember::cli {

const char* torch_command_summary(std::string_view name) {
  for (const auto& c : kTorchCommands) {
    if (name == c.name) return c.summary;
  }
  throw std::logic_error("no torch command named " + std::string(name));
}

std::string default_config_path() {
  const std::string local = "configs/verdict.toml";
  if (std::filesystem::exists(local)) return local;
  const auto beside_data =
      std::filesystem::path(build::kDefaultDataDir).parent_path() / local;
  if (std::filesystem::exists(beside_data)) return beside_data.string();
  return local;
}

void configure_app(CLI::App& app, const std::string& version) {
  app.description(
      "ember: GPT-2 tokenization, sliding-window data, and training and "
      "inspecting the book's GPT on LibTorch");
  app.set_version_flag("--version", version);
  app.require_subcommand(1);
}

int run_app(
    CLI::App& app,
    int argc,
    char** argv,
    std::string (*describe)(const std::exception&)) {
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
    return kExitUsage;
  } catch (const ExitStatus& e) {
    return e.status;
  } catch (const ConfigError& e) {
    fmt::print(stderr, "ember: error: {}\n", e.what());
    return kExitUsage;
  } catch (const std::exception& e) {
    fmt::print(stderr, "ember: error: {}\n", describe(e));
    return kExitError;
  }
  return 0;
}

}  // namespace ember::cli
