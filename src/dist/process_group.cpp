#include "ember/dist/process_group.hpp"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>
#include <fmt/core.h>
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <torch/version.h>

#include <ember/dist/backends.hpp>  // defines EMBER_WITH_GLOO
#ifdef EMBER_WITH_GLOO
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#ifdef EMBER_WITH_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <ember/util/error.hpp>

namespace ember::dist {
namespace {

// Parses an environment variable as an integer in [lo, hi].
long env_int(const char* name, long fallback, long lo, long hi) {
  const char* raw = std::getenv(name);
  if (raw == nullptr || *raw == '\0') return fallback;
  char* end = nullptr;
  errno = 0;
  const long v = std::strtol(raw, &end, 10);
  if (errno != 0 || end == raw || *end != '\0' || v < lo || v > hi) {
    throw ConfigError(fmt::format(
        "environment {}: not an integer in [{}, {}] (got \"{}\")",
        name,
        lo,
        hi,
        raw));
  }
  return v;
}

[[maybe_unused]] bool is_loopback(const std::string& host) {
  return host == "localhost" || host.rfind("127.", 0) == 0 || host == "::1";
}

// c10d reports a dead peer or a timeout as c10::Error (or std::runtime_error
// from Gloo); turn both into one line that says what to do.
template <typename F>
auto collective(const char* what, F&& f) -> decltype(f()) {
  try {
    return f();
  } catch (const Error&) {
    throw;  // ours, already says what and where
  } catch (const c10::Error& e) {
    throw Error(fmt::format(
        "distributed {}: {}; hint: another rank probably exited or stopped "
        "answering, see its log",
        what,
        e.msg()));
  } catch (const std::exception& e) {
    throw Error(fmt::format(
        "distributed {}: {}; hint: another rank probably exited or stopped "
        "answering, see its log",
        what,
        e.what()));
  }
}

}  // namespace

LaunchEnv LaunchEnv::from_env() {
  LaunchEnv env;
  if (std::getenv("WORLD_SIZE") == nullptr) return env;
  env.launched = true;
  env.world_size = static_cast<int>(env_int("WORLD_SIZE", 1, 1, 1 << 20));
  env.rank = static_cast<int>(env_int("RANK", 0, 0, env.world_size - 1));
  env.local_rank =
      static_cast<int>(env_int("LOCAL_RANK", env.rank, 0, 1 << 20));
  if (const char* a = std::getenv("MASTER_ADDR"); a && *a) {
    env.master_addr = a;
  } else if (env.world_size > 1) {
    throw ConfigError(
        "environment MASTER_ADDR: not set (WORLD_SIZE > 1); hint: launch "
        "with torchrun or set MASTER_ADDR and MASTER_PORT");
  }
  env.master_port =
      static_cast<uint16_t>(env_int("MASTER_PORT", 29500, 1, 65535));
  if (const char* s = std::getenv("TORCHELASTIC_USE_AGENT_STORE")) {
    env.agent_store = std::string(s) == "True";
  }
  return env;
}

struct ProcessGroup::Impl {
  std::string backend;
  int rank = 0;
  int size = 1;
  c10::intrusive_ptr<c10d::Store> store;
  c10::Device device{c10::kCPU};
  std::chrono::milliseconds timeout{0};
#ifdef EMBER_WITH_GLOO
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
#endif
#ifdef EMBER_WITH_NCCL
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif

  template <typename Op>
  c10::intrusive_ptr<c10d::Work> run(Op&& op) {
#ifdef EMBER_WITH_NCCL
    if (nccl) return op(*nccl);
#endif
#ifdef EMBER_WITH_GLOO
    if (gloo) return op(*gloo);
#endif
    (void)op;
    throw Error("distributed: no process group backend");
  }
};

namespace {

// LibTorch 2.4+ asks for the libuv store backend by default, and a LibTorch
// built without libuv (Debian 13's) refuses the request: there the classic
// backend is used, as it is when torchrun's USE_LIBUV=0 asks for it.
c10::intrusive_ptr<c10d::TCPStore> connect_tcp_store(
    const std::string& addr, c10d::TCPStoreOptions opts) {
#if TORCH_VERSION_MAJOR > 2 || \
    (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4)
  const char* use_libuv = std::getenv("USE_LIBUV");
  opts.useLibUV = !(use_libuv && std::string_view(use_libuv) == "0");
  if (opts.useLibUV) {
    try {
      return c10::make_intrusive<c10d::TCPStore>(addr, opts);
    } catch (const c10::Error& e) {
      if (std::string_view(e.what()).find("without libuv support") ==
          std::string_view::npos) {
        throw;
      }
      opts.useLibUV = false;
    }
  }
#endif
  return c10::make_intrusive<c10d::TCPStore>(addr, opts);
}

}  // namespace

ProcessGroup::ProcessGroup(
    const LaunchEnv& env,
    const std::string& backend,
    std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()) {
  impl_->backend = backend;
  impl_->rank = env.rank;
  impl_->size = env.world_size;
  impl_->timeout = timeout;
  c10d::TCPStoreOptions opts;
  opts.port = env.master_port;
  opts.isServer = env.rank == 0 && !env.agent_store;
  opts.numWorkers = static_cast<size_t>(env.world_size);
  opts.waitWorkers = false;
  opts.timeout = timeout;
  try {
    auto tcp = connect_tcp_store(env.master_addr, opts);
    impl_->store = c10::make_intrusive<c10d::PrefixStore>(
        "ember", c10::static_intrusive_pointer_cast<c10d::Store>(tcp));
  } catch (const std::exception& e) {
    throw Error(fmt::format(
        "distributed rendezvous at {}:{} (rank {} of {}): {}; hint: check "
        "MASTER_ADDR/MASTER_PORT and that rank 0 is running",
        env.master_addr,
        env.master_port,
        env.rank,
        env.world_size,
        e.what()));
  }
  if (backend == "gloo") {
#ifdef EMBER_WITH_GLOO
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME");
        ifname && *ifname) {
      options->devices.push_back(
          c10d::ProcessGroupGloo::createDeviceForInterface(ifname));
    } else if (is_loopback(env.master_addr)) {
      options->devices.push_back(
          c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
    } else {
      options->devices.push_back(c10d::ProcessGroupGloo::createDefaultDevice());
    }
    impl_->gloo = collective("init (gloo)", [&] {
      return c10::make_intrusive<c10d::ProcessGroupGloo>(
          impl_->store, env.rank, env.world_size, options);
    });
#else
    throw ConfigError(
        "train.backend: gloo is not available in this build (LibTorch "
        "without Gloo or its headers); hint: install libgloo-dev, or use "
        "backend = \"nccl\" on CUDA");
#endif
  } else if (backend == "nccl") {
#ifdef EMBER_WITH_NCCL
    auto options = c10d::ProcessGroupNCCL::Options::create();
    options->timeout = timeout;
    impl_->nccl = collective("init (nccl)", [&] {
      return c10::make_intrusive<c10d::ProcessGroupNCCL>(
          impl_->store, env.rank, env.world_size, options);
    });
#else
    throw ConfigError(
        "train.backend: nccl is not available in this build (LibTorch "
        "without CUDA/NCCL); hint: use backend = \"gloo\"");
#endif
  } else {
    throw ConfigError(fmt::format(
        "train.backend: unknown backend \"{}\" (expected auto, gloo or nccl)",
        backend));
  }
}

ProcessGroup::~ProcessGroup() = default;

int ProcessGroup::rank() const {
  return impl_->rank;
}
int ProcessGroup::size() const {
  return impl_->size;
}
const std::string& ProcessGroup::backend() const {
  return impl_->backend;
}
std::chrono::milliseconds ProcessGroup::timeout() const {
  return impl_->timeout;
}

void ProcessGroup::bind_device(const c10::Device& device) {
  impl_->device = device;
}

namespace {
// Runs `op` on `t`, or on a copy on `device` when the backend needs it there
// (NCCL and a CPU tensor), copying the result back.
template <typename Op>
void on_device(at::Tensor& t, const c10::Device& device, Op&& op) {
  if (!device.is_cuda() || t.device() == device) {
    op(t);
    return;
  }
  at::Tensor staged = t.to(device);
  op(staged);
  t.copy_(staged);
}
}  // namespace

namespace {
// A launched collective. Gloo's wait() blocks until the result is there (or
// its own timeout fails it); NCCL's only makes the current CUDA stream wait,
// and a collective whose peer died may never finish without async error
// handling, so for NCCL wait() first polls for completion with a deadline.
class PendingWork : public ProcessGroup::Pending {
 public:
  PendingWork(
      c10::intrusive_ptr<c10d::Work> work,
      const char* what,
      std::chrono::milliseconds timeout,
      const std::string& backend)
      : work_(std::move(work)),
        what_(what),
        timeout_(timeout),
        poll_(backend == "nccl") {}
  void wait() override {
    if (poll_) wait_any({this}, timeout_, what_);
    collective(what_, [&] { work_->wait(); });
  }
  bool done() override {
    return work_->isCompleted();
  }

 private:
  c10::intrusive_ptr<c10d::Work> work_;
  const char* what_;
  std::chrono::milliseconds timeout_;
  bool poll_;
};
}  // namespace

size_t wait_any(
    const std::vector<ProcessGroup::Pending*>& pending,
    std::chrono::milliseconds timeout,
    const char* what) {
  if (std::all_of(pending.begin(), pending.end(), [](const auto* p) {
        return p == nullptr;
      })) {
    throw std::invalid_argument("wait_any: nothing to wait for");
  }
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  for (;;) {
    for (size_t i = 0; i < pending.size(); ++i) {
      if (pending[i] != nullptr && pending[i]->done()) return i;
    }
    if (Clock::now() - start >= timeout) {
      const auto n =
          std::count_if(pending.begin(), pending.end(), [](const auto* p) {
            return p != nullptr;
          });
      throw Error(fmt::format(
          "distributed {}: {} within {} s; hint: another rank probably "
          "exited or stopped answering, see its log (the limit is "
          "train.dist_timeout_s)",
          what,
          n == 1 ? std::string("the collective did not finish")
                 : fmt::format("none of {} collectives finished", n),
          std::chrono::duration<double>(timeout).count()));
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
}

void ProcessGroup::broadcast(std::vector<at::Tensor>& tensors, int root) {
  const bool nccl = impl_->backend == "nccl";
  collective("broadcast", [&] {
    c10d::BroadcastOptions opts;
    opts.rootRank = root;
    for (auto& t : tensors) {
      on_device(
          t, nccl ? impl_->device : c10::Device(c10::kCPU), [&](at::Tensor& x) {
            std::vector<at::Tensor> one{x};
            PendingWork(
                impl_->run([&](auto& pg) { return pg.broadcast(one, opts); }),
                "broadcast",
                impl_->timeout,
                impl_->backend)
                .wait();
          });
    }
  });
}

void ProcessGroup::allreduce_sum(at::Tensor& tensor) {
  const bool nccl = impl_->backend == "nccl";
  collective("all-reduce", [&] {
    on_device(
        tensor,
        nccl ? impl_->device : c10::Device(c10::kCPU),
        [&](at::Tensor& x) {
          std::vector<at::Tensor> one{x};
          PendingWork(
              impl_->run([&](auto& pg) { return pg.allreduce(one); }),
              "all-reduce",
              impl_->timeout,
              impl_->backend)
              .wait();
        });
  });
}

double ProcessGroup::allreduce_sum(double value) {
  at::Tensor t = at::full({1}, value, at::kDouble);
  allreduce_sum(t);
  return t.item<double>();
}

std::unique_ptr<ProcessGroup::Pending> ProcessGroup::allreduce_sum_async(
    at::Tensor& tensor) {
  return collective("all-reduce", [&] {
    std::vector<at::Tensor> one{tensor};
    return std::make_unique<PendingWork>(
        impl_->run([&](auto& pg) { return pg.allreduce(one); }),
        "all-reduce",
        impl_->timeout,
        impl_->backend);
  });
}

void ProcessGroup::barrier() {
  // A tiny all-reduce: works on every backend without device hints.
  allreduce_sum(0.0);
}

void ProcessGroup::shutdown() {
#if defined(EMBER_WITH_NCCL) && \
    (TORCH_VERSION_MAJOR > 2 || \
     (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4))
  // torch.distributed.destroy_process_group() does the same.
  if (impl_->nccl) collective("shutdown", [&] { impl_->nccl->shutdown(); });
#endif
}

}  // namespace ember::dist
