#include "blk/plugins/worker.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>

#include "blk/plugins/worker_protocol.hpp"

extern char** environ;

namespace blk::plugins {
namespace {

std::int64_t now_ms() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

// Waits until `fd` is ready for `events` or the deadline passes.
bool wait_for(int fd, short events, std::int64_t deadline) {
  for (;;) {
    std::int64_t left = deadline - now_ms();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int n = poll(&p, 1, static_cast<int>(left));
    if (n < 0 && errno == EINTR) continue;
    return n > 0;
  }
}

}  // namespace

int merge_timeout_ms() {
  if (const char* v = std::getenv("BLK_MERGE_TIMEOUT_MS")) {
    int ms = 0;
    auto [end, ec] = std::from_chars(v, v + std::strlen(v), ms);
    if (ec == std::errc() && *end == '\0' && ms > 0) return ms;
  }
  return 2000;
}

std::string self_exe() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string();
}

Result<void> Worker::start() {
  if (pid_ > 0) return {};
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
    return make_error(Code::failure,
                      fmt::format("cannot start the merge worker: {}", std::strerror(errno)));
  // The child gets its end as descriptor 0, and stderr for stdout: a
  // plugin that prints must not corrupt the protocol (or blk's output).
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, sv[1], 0);
  posix_spawn_file_actions_adddup2(&fa, 2, 1);
  // Nothing else of ours (the database, listening sockets) goes with it.
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  std::string arg0 = exe_, arg1 = "__merge-worker";
  char* argv[] = {arg0.data(), arg1.data(), nullptr};
  pid_t pid = -1;
  int rc = posix_spawn(&pid, exe_.c_str(), &fa, nullptr, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  close(sv[1]);
  if (rc != 0) {
    close(sv[0]);
    return make_error(Code::failure, fmt::format("cannot start the merge worker ({}): {}", exe_,
                                                 std::strerror(rc)));
  }
  fd_ = sv[0];
  pid_ = pid;
  ++generation_;
  return {};
}

void Worker::stop() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
  }
  pid_ = -1;
}

// What became of a worker that stopped answering, as an error.
Error Worker::died(std::string_view doing) {
  std::string how = "stopped answering";
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  if (pid_ > 0) {
    // Give an exiting worker a moment to be reaped, then make sure.
    int status = 0;
    pid_t r = 0;
    for (int i = 0; i < 20 && (r = waitpid(pid_, &status, WNOHANG)) == 0; ++i) usleep(1000);
    if (r == pid_) {
      if (WIFSIGNALED(status))
        how = fmt::format("crashed ({})", strsignal(WTERMSIG(status)));
      else if (WIFEXITED(status))
        how = fmt::format("exited with status {}", WEXITSTATUS(status));
      pid_ = -1;
    }
  }
  stop();
  return make_error(Code::failure, fmt::format("the merge worker {} {}", how, doing));
}

Result<std::string> Worker::call(const std::string& request, int timeout_ms) {
  BLK_TRY(start());
  std::int64_t deadline = now_ms() + timeout_ms;
  std::string out = wire::frame(request);
  std::string_view rest = out;
  while (!rest.empty()) {
    if (!wait_for(fd_, POLLOUT, deadline)) {
      stop();
      return make_error(Code::failure, fmt::format("the merge worker did not take a request "
                                                   "within {} ms; it was stopped",
                                                   timeout_ms));
    }
    ssize_t n = send(fd_, rest.data(), rest.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return died("while given a request");
    rest.remove_prefix(static_cast<std::size_t>(n));
  }
  std::string in;
  std::size_t want = 4;
  while (in.size() < want) {
    if (!wait_for(fd_, POLLIN, deadline)) {
      stop();
      return make_error(Code::failure,
                        fmt::format("the plugin did not answer within {} ms; the merge worker "
                                    "was stopped",
                                    timeout_ms));
    }
    char buf[65536];
    ssize_t n = recv(fd_, buf, std::min(sizeof buf, want - in.size()), MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n <= 0) return died("while merging");
    in.append(buf, static_cast<std::size_t>(n));
    if (want == 4 && in.size() == 4) {
      auto* b = reinterpret_cast<const unsigned char*>(in.data());
      std::size_t len = b[0] | (b[1] << 8) | (b[2] << 16) | (std::size_t{b[3]} << 24);
      if (len > wire::kMaxFrame) {
        stop();
        return make_error(Code::failure, "the merge worker sent a malformed reply");
      }
      want = 4 + len;
      in.reserve(want);
    }
  }
  return in.substr(4);
}

Result<std::uint32_t> Worker::load(const std::string& path, PluginInfo* info, int timeout_ms) {
  auto body = call(wire::load_request(path), timeout_ms);
  if (!body) return std::move(body).error();
  auto r = wire::decode_load_reply(*body);
  if (!r) {
    stop();
    return make_error(Code::failure, "the merge worker sent a malformed reply");
  }
  if (!r->ok) return make_error(Code::invalid_input, r->error);
  if (info) *info = std::move(r->info);
  return r->slot;
}

Result<MergeReply> Worker::merge(std::uint32_t slot, const Block& a, const Block& b,
                                 int timeout_ms) {
  auto body = call(wire::merge_request(slot, a, b), timeout_ms);
  if (!body) return std::move(body).error();
  auto r = wire::decode_merge_reply(*body);
  if (!r) {
    stop();
    return make_error(Code::failure, "the merge worker sent a malformed reply");
  }
  return std::move(*r);
}

}  // namespace blk::plugins
