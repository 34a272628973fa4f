// Placeholder until the tokenize subcommands land; registers nothing.
#include "commands.hpp"

namespace ember::cli {
void add_tokenize_commands(CLI::App& /*app*/) {}
}  // namespace ember::cli
