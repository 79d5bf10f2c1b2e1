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
#include <vector>

#include "blk/error.hpp"
#include "blk/plugins/loader.hpp"
#include "blk/plugins/shared_ring.hpp"

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

  // One merge of merge_many: the plugin's slot and the two versions.
  struct Job {
    std::uint32_t slot = 0;
    const Block* a = nullptr;
    const Block* b = nullptr;
  };
  // Merges `jobs` in order, pipelined: requests are written while replies
  // are read, at most kPipelineBytes of requests unanswered at a time (one
  // bigger request goes alone), so a batch costs the worker's merges, not a
  // round trip each. Appends each job's reply to `replies` as merge() would
  // return it. Each reply has `timeout_ms` from the one before. An error
  // (as merge()'s) stops the worker and leaves the jobs from
  // jobs[replies.size()] on unanswered; the one the worker failed on may be
  // any of them (it writes replies to a batch several at a time). A job too
  // big to send ends it without an error: it and those after are not
  // answered.
  Result<void> merge_many(const std::vector<Job>& jobs, std::vector<MergeReply>& replies,
                          int timeout_ms);
  static constexpr std::size_t kPipelineBytes = 128 * 1024;

  // Requests answered one at a time (load, merge), and merges answered in
  // merge_many: for tests and benchmarks.
  std::uint64_t calls() const { return calls_; }
  std::uint64_t pipelined() const { return pipelined_; }

  // Changes every time a worker process is started: a slot is valid only
  // in the generation that loaded it.
  std::uint64_t generation() const { return generation_; }
  // Whether a worker process is running: if not, the next request starts
  // one, of a new generation (so a slot is valid only while it runs, too).
  bool running() const { return fd_ >= 0; }

  void stop();

 private:
  Result<void> start();
  // Sends the request framed in out_ and returns the reply's body, a view
  // into in_ valid until the next call.
  Result<std::string_view> call(int timeout_ms);
  // Moves the merge request framed at out_[at] (its length not written
  // yet) into the request ring, leaving an 'S' frame's body in its place,
  // with room for a merged blob of up to `reply_room` bytes in the reply
  // ring, if the worker has the rings and they have the room. Returns the
  // room set aside (empty if none), and whether the request went.
  struct Shared {
    bool request = false;
    std::size_t reply_offset = 0, reply_room = 0;
  };
  Shared share(std::size_t at, std::size_t reply_room);
  // The reply ring's room for `s`'s blob (empty if none).
  std::string_view reply_room(const Shared& s) const {
    return s.reply_room ? replies_.at(s.reply_offset, s.reply_room) : std::string_view();
  }
  // Both rings empty: nothing in flight.
  void clear_rings();
  Error died(std::string_view doing);

  std::string exe_;
  int fd_ = -1;
  pid_t pid_ = -1;
  std::uint64_t generation_ = 0;
  std::string out_, in_;  // kept from call to call for their buffers
  SharedRing requests_{SharedRing::Writer::blk};
  SharedRing replies_{SharedRing::Writer::worker};
  bool rings_ = false;  // whether the worker running has them
  std::uint64_t calls_ = 0, pipelined_ = 0;
};

// The worker's main loop on descriptor `fd`, with the shared rings on
// `requests_fd` and `replies_fd` if blk made them (worker_main.cpp);
// returns the process's exit status.
int run_merge_worker(int fd, int requests_fd, int replies_fd);

// Where the worker finds the rings: blk puts them there.
inline constexpr int kRequestsFd = 3;
inline constexpr int kRepliesFd = 4;

}  // namespace blk::plugins
