// Placeholder until the train subcommands land; registers nothing.
#include "commands.hpp"

namespace ember::cli {
void add_train_commands(CLI::App& /*app*/) {}
}  // namespace ember::cli
