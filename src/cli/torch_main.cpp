// ember-torch: the LibTorch half of the driver (batches, embed, train,
// generate, forward, export, respond). Users run `ember`, which execs this with
// its own arguments; it parses them again with the full options of each
// command.
#include <exception>
#include <string>

#include "app.hpp"
#include "version.hpp"
#include <CLI/CLI.hpp>
#include <c10/util/Exception.h>

namespace {

// c10::Error's what() carries a C++ backtrace; msg() is the message alone.
std::string describe(const std::exception& e) {
  if (const auto* c10_error = dynamic_cast<const c10::Error*>(&e)) {
    return c10_error->msg();
  }
  return e.what();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app;
  app.name("ember");
  ember::cli::configure_app(app, ember::cli::version_line());
  ember::cli::add_data_commands(app);
  ember::cli::add_train_commands(app);
  ember::cli::add_model_commands(app);
  ember::cli::add_respond_command(app);
  ember::cli::add_classify_command(app);
  return ember::cli::run_app(app, argc, argv, describe);
}
