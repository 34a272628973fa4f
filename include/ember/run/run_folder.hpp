// A run's folder (run.dir) and the files in it: the one place that names
// them (config.toml, checkpoint.pt, metrics.jsonl, loss.svg, samples.txt),
// and what a fresh or resumed run does to the folder before its first write:
// refuse an unusable one, lock it (run_lock.hpp), move an earlier run aside
// (a fresh run never destroys one), create it, remove what an interrupted
// save left. Mirrors nothing in the book (its runs write beside the script).
#pragma once

#include <cstdio>
#include <filesystem>
#include <string>

#include <ember/run/run_lock.hpp>

namespace ember {

class RunFolder {
 public:
  /// `dir`: run.dir as configured (it names the folder in messages).
  explicit RunFolder(std::string dir);

  const std::string& dir() const {
    return dir_;
  }
  const std::filesystem::path& path() const {
    return path_;
  }
  std::string config() const {
    return file("config.toml");
  }
  std::string checkpoint() const {
    return file("checkpoint.pt");
  }
  std::string metrics() const {
    return file("metrics.jsonl");
  }
  std::string plot() const {
    return file("loss.svg");
  }
  /// A classifier's: accuracy against epochs, and the final accuracies.
  std::string accuracy_plot() const {
    return file("accuracy.svg");
  }
  std::string accuracies() const {
    return file("accuracy.json");
  }
  std::string samples() const {
    return file("samples.txt");
  }

  /// Refuses a folder that cannot be created or written, without creating
  /// anything (a run refused later for its data leaves no trace). Throws
  /// ember::Error "run.dir runs/x: /root is not writable; hint: ...".
  void probe() const;

  /// Takes the folder for this run: locks it before anything in it is
  /// touched (keeping `held` when it already holds the lock), moves an
  /// earlier run aside to the first free <run.dir>.N when `fresh` (noting it
  /// on `log`), creates the folder, locks it and removes the temporary files
  /// of interrupted saves. Returns the lock, held until the run ends.
  RunLock claim(RunLock held, bool fresh, std::FILE* log) const;

 private:
  std::string file(const char* name) const {
    return (path_ / name).string();
  }
  bool move_earlier_run_aside(std::FILE* log) const;
  void create() const;
  void remove_interrupted_saves() const;

  std::string dir_;
  std::filesystem::path path_;
};

}  // namespace ember
