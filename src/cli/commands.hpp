// The driver's subcommands. main.cpp builds the CLI11 app and hands it to the
// add_* functions; each lives in its own file beside this one and is a thin
// shell over the library (parse options, call into ember_core, print).
#pragma once

namespace CLI {
class App;
}

namespace ember::cli {

/// `ember tokenize`, `ember decode` (tokenize_cmd.cpp).
void add_tokenize_commands(CLI::App& app);
/// `ember batches`, `ember embed` (data_cmd.cpp).
void add_data_commands(CLI::App& app);
/// `ember train`, `ember generate` (train_cmd.cpp).
void add_train_commands(CLI::App& app);

/// Thrown by a command that wants a specific exit status without an error
/// message (e.g. 130 after SIGINT saved a checkpoint).
struct ExitStatus {
  int status;
};

/// Exit statuses: 1 = runtime error, 2 = usage or configuration error.
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;

}  // namespace ember::cli
