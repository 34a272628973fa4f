// What both executables of the driver share: the subcommand table, the
// version line, exit statuses and the one place errors become a line on
// stderr. `ember` (main.cpp, no LibTorch) parses every command line; the
// commands that need LibTorch run in `ember-torch` (torch_main.cpp), which
// `ember` execs with the same arguments. Each add_* function lives in its
// own file beside this one and is a thin shell over the library.
#pragma once

#include <exception>
#include <string>
#include <string_view>

namespace CLI {
class App;
}

namespace ember::cli {

/// A subcommand's name and its one-line summary (the --help listing).
struct CommandInfo {
  const char* name;
  const char* summary;
};

/// The commands that run in ember-torch, in --help order.
inline constexpr CommandInfo kTorchCommands[] = {
    {"batches",
     "tokenize a text (<|endoftext|> allowed), or memory-map a token file, "
     "and print the book's (input, target) batches as JSON lines; or "
     "--config: a run's batches in training order"},
    {"embed",
     "build Embedding(vocab_size, dim) under torch::manual_seed(seed) and "
     "print its weight and the lookup of --ids as JSON"},
    {"train", "Train a GPT per a TOML config (default configs/verdict.toml)"},
    {"generate",
     "Continue a prompt with a run's model, or a fresh seeded one from a "
     "config"},
    {"forward",
     "Print the logits (and chosen modules' outputs) of a run's or a fresh "
     "seeded model for --ids, as JSON"},
    {"export",
     "Write a run's (or a configured model's) weights for PyTorch: the book's "
     ".pth state dict, safetensors, or Hugging Face GPT-2 safetensors"},
    {"respond",
     "Answer the instruction entries of a split with a run's model (the "
     "book's section 7.7): instruction-data-with-response.json"},
    {"classify",
     "Label texts with a run's classifier (the book's chapter-6 "
     "classify_review): --text, or --input FILE with JSON lines out"},
};

/// The summary of one of kTorchCommands (throws std::logic_error if none).
const char* torch_command_summary(std::string_view name);

/// `ember tokenize`, `ember decode` (tokenize_cmd.cpp; no LibTorch).
void add_tokenize_commands(CLI::App& app);
/// `ember batches`, `ember embed` (data_cmd.cpp).
void add_data_commands(CLI::App& app);
/// `ember train` (train_cmd.cpp).
void add_train_commands(CLI::App& app);
/// `ember forward`, `ember generate` (model_cmd.cpp).
void add_model_commands(CLI::App& app);
/// `ember respond` (respond_cmd.cpp).
void add_respond_command(CLI::App& app);
/// `ember classify` (classify_cmd.cpp).
void add_classify_command(CLI::App& app);

/// configs/verdict.toml in the current directory, else beside the build's
/// data folder (the source tree), else the relative path as is.
std::string default_config_path();

/// The app both executables start from: its description and --version,
/// "ember 0.1.0 (LibTorch 1.13.1; distributed backends: gloo)".
void configure_app(CLI::App& app, const std::string& version);

/// Parses and runs `app`; every error becomes one line on stderr and an exit
/// status. `describe` turns an exception into its message (ember-torch gives
/// c10::Error's msg(), without the backtrace what() carries).
int run_app(
    CLI::App& app,
    int argc,
    char** argv,
    std::string (*describe)(const std::exception&));

/// Thrown by a command that wants a specific exit status without an error
/// message (e.g. 130 after SIGINT saved a checkpoint).
struct ExitStatus {
  int status;
};

/// Exit statuses: 1 = runtime error, 2 = usage or configuration error.
inline constexpr int kExitError = 1;
inline constexpr int kExitUsage = 2;

}  // namespace ember::cli
