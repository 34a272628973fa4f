// STUB (until the pth branch merges)
#include <ember/checkpoint/pth.hpp>
#include <ember/util/error.hpp>
namespace ember {
StateDict read_pth(const std::string& path) { throw Error(path + ": .pth not yet"); }
void write_pth(const std::string& path, const StateDict&) { throw Error(path + ": .pth not yet"); }
}  // namespace ember
