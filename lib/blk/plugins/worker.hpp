// The merge worker, from blk's side: a child process (`blk __merge-worker`,
// worker_main.cpp) that loads plugins and merges on request over a socket
// pair. A plugin that crashes, hangs past the deadline or answers garbage
// costs one failed request: the worker is killed and the next request
// starts a new one.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "blk/error.hpp"
#include "blk/plugins/loader.hpp"

namespace blk::plugins {

// How long a merge may take in the worker before it is killed: 2 s, or
// $BLK_MERGE_TIMEOUT_MS (blk(1) ENVIRONMENT).
int merge_timeout_ms();

// This program's own executable (/proc/self/exe), which runs the worker.
std::string self_exe();

class Worker {
 public:
  explicit Worker(std::string exe) : exe_(std::move(exe)) {}
  ~Worker() { stop(); }
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Loads the plugin at `path` in the worker (starting it if need be) and
  // returns its slot. Code::invalid_input if the plugin is unusable (its
  // message), Code::failure if the worker itself failed.
  Result<std::uint32_t> load(const std::string& path, PluginInfo* info, int timeout_ms);

  // Merges a and b with the plugin in `slot`. Code::failure if the worker
  // crashed, hung or answered garbage; it is then stopped, and its slots
  // are gone (generation() changes).
  Result<MergeReply> merge(std::uint32_t slot, const Block& a, const Block& b, int timeout_ms);

  // Changes every time a worker process is started: a slot is valid only
  // in the generation that loaded it.
  std::uint64_t generation() const { return generation_; }

  void stop();

 private:
  Result<void> start();
  // Sends the request framed in out_ and returns the reply's body, a view
  // into in_ valid until the next call.
  Result<std::string_view> call(int timeout_ms);
  Error died(std::string_view doing);

  std::string exe_;
  int fd_ = -1;
  pid_t pid_ = -1;
  std::uint64_t generation_ = 0;
  std::string out_, in_;  // kept from call to call for their buffers
};

// The worker's main loop on descriptor `fd` (worker_main.cpp); returns the
// process's exit status.
int run_merge_worker(int fd);

}  // namespace blk::plugins
