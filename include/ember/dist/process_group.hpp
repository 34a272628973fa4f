// Data-parallel training on PyTorch's own distributed engine, c10d: a TCP
// rendezvous store, Gloo on CPU, NCCL on CUDA. Mirrors torch.distributed's
// env:// init (torch/distributed/rendezvous.py) and its collectives, one
// process per device; the gradient all-reduce that runs on it is in
// gradient_reducer.hpp. The c10d headers stay inside process_group.cpp.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <ATen/core/Tensor.h>

#include <ember/dist/backends.hpp>

namespace ember::dist {

/// torchrun's environment contract: RANK, WORLD_SIZE, LOCAL_RANK,
/// MASTER_ADDR, MASTER_PORT (and TORCHELASTIC_USE_AGENT_STORE when the
/// launcher already serves the store).
struct LaunchEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";
  uint16_t master_port = 29500;
  bool agent_store = false;  // torchrun's agent hosts the TCPStore

  /// True when started by a launcher with WORLD_SIZE set (even to 1).
  bool launched = false;

  /// Reads the environment. Without WORLD_SIZE: a single process, launched =
  /// false. Malformed or inconsistent values (RANK >= WORLD_SIZE, a
  /// non-numeric port) throw ember::ConfigError naming the variable.
  static LaunchEnv from_env();
};

/// A process group over all ranks. Collective calls block until every rank
/// has joined; a rank that died or stopped answering makes them throw
/// ember::Error within `timeout` instead of hanging.
class ProcessGroup {
 public:
  /// Joins the group: rank 0 (or the torchrun agent) serves the TCPStore at
  /// MASTER_ADDR:MASTER_PORT, every rank connects, then the backend
  /// ("gloo" or "nccl") forms its connections.
  ProcessGroup(
      const LaunchEnv& env,
      const std::string& backend,
      std::chrono::milliseconds timeout);
  ~ProcessGroup();
  ProcessGroup(const ProcessGroup&) = delete;
  ProcessGroup& operator=(const ProcessGroup&) = delete;

  int rank() const;
  int size() const;
  const std::string& backend() const;
  /// How long a collective may wait for the other ranks.
  std::chrono::milliseconds timeout() const;

  /// The device this rank trains on. NCCL reduces CUDA tensors only: with a
  /// CUDA device bound, CPU tensors given to broadcast/allreduce_sum (losses,
  /// the stop flag) travel through a copy on that device. Default: the CPU.
  void bind_device(const c10::Device& device);

  /// Copies root's tensors into every rank's tensors, in place.
  void broadcast(std::vector<at::Tensor>& tensors, int root = 0);
  /// Sums the tensor across ranks, in place.
  void allreduce_sum(at::Tensor& tensor);
  /// Sum of `value` over ranks (a double on every rank).
  double allreduce_sum(double value);
  /// Starts an asynchronous in-place sum; wait() blocks until it is done.
  class Pending {
   public:
    virtual ~Pending() = default;
    /// Blocks until the result is in the tensor (for NCCL: until the GPU
    /// finished it, not only queued the wait), at most timeout(); throws
    /// ember::Error when the collective failed or timed out.
    virtual void wait() = 0;
    /// True once the collective has finished (or failed: wait() then
    /// throws); never blocks.
    virtual bool done() = 0;
  };
  std::unique_ptr<Pending> allreduce_sum_async(at::Tensor& tensor);
  void barrier();

  /// Ends the group after a successful run, as destroy_process_group() does:
  /// for NCCL on LibTorch 2.4+ it shuts the communicators down (without it
  /// LibTorch warns at exit); for Gloo there is nothing to do. Not needed
  /// after an error: the destructor then lets go.
  void shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

/// Waits until one of `pending` is done() and returns its index; null
/// entries are skipped. Polls, as c10d's Work offers no wait-for-any. When
/// none is done within `timeout` it throws ember::Error ("distributed
/// `what`: ... did not finish within N s; hint: ..."), so that a backend
/// whose collective can hang on a dead peer (NCCL without async error
/// handling) still ends the run. Throws std::invalid_argument when every
/// entry is null.
size_t wait_any(
    const std::vector<ProcessGroup::Pending*>& pending,
    std::chrono::milliseconds timeout,
    const char* what = "all-reduce");

}  // namespace ember::dist
