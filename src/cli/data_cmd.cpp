// Placeholder until the data subcommands land; registers nothing.
#include "commands.hpp"

namespace ember::cli {
void add_data_commands(CLI::App& /*app*/) {}
}  // namespace ember::cli
