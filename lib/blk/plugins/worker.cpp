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

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>

#include "blk/plugins/worker_protocol.hpp"

extern char** environ;

namespace blk::plugins {
namespace {

constexpr std::int64_t kMs = 1000000;  // in nanoseconds

std::int64_t now_ns() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

// Waits until `fd` is ready for `events` or the deadline passes.
bool wait_for(int fd, short events, std::int64_t deadline) {
  for (;;) {
    std::int64_t left = deadline - now_ns();
    if (left <= 0) return false;
    pollfd p{fd, events, 0};
    int n = poll(&p, 1, static_cast<int>((left + kMs - 1) / kMs));
    if (n < 0 && errno == EINTR) continue;
    return n > 0;
  }
}

// What a reply is read into at first: a 4 KiB merge's, and then some.
constexpr std::size_t kReplyBuffer = 64 * 1024;

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
  // The shared rings, where the worker looks for them. (The dup2s run in
  // order: the requests' descriptor, made first, is the lower, so putting
  // it at 3 never closes the replies' before they move to 4.)
  int requests = requests_.fd(), replies = replies_.fd();
  rings_ = requests >= 0 && replies >= 0;
  clear_rings();
  if (rings_) {
    posix_spawn_file_actions_adddup2(&fa, requests, kRequestsFd);
    posix_spawn_file_actions_adddup2(&fa, replies, kRepliesFd);
  }
  // Nothing else of ours (the database, listening sockets) goes with it.
  posix_spawn_file_actions_addclosefrom_np(&fa, rings_ ? kRepliesFd + 1 : kRequestsFd);
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

// One request and its reply: a send (a poll first only if the socket is
// full), then a poll until the deadline and, as a rule, one recv of the
// whole reply into in_. (A blocking recv bounded by SO_RCVTIMEO saves the
// poll but measured slower: about twice the context switches.)
Result<std::string_view> Worker::call(int timeout_ms) {
  if (!wire::end_frame(out_))
    return make_error(Code::failure, "the merge request is too big for the merge worker");
  BLK_TRY(start());
  ++calls_;
  std::int64_t deadline = now_ns() + std::int64_t{timeout_ms} * kMs;
  std::string_view rest = out_;
  while (!rest.empty()) {
    ssize_t n = send(fd_, rest.data(), rest.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      rest.remove_prefix(static_cast<std::size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait_for(fd_, POLLOUT, deadline)) {
        stop();
        return make_error(Code::failure, fmt::format("the merge worker did not take a request "
                                                     "within {} ms; it was stopped",
                                                     timeout_ms));
      }
    } else {
      return died("while given a request");
    }
  }
  if (in_.size() < kReplyBuffer) in_.resize(kReplyBuffer);
  std::size_t have = 0, want = 0;  // want: the whole frame, once its length is in
  while (want == 0 || have < want) {
    if (!wait_for(fd_, POLLIN, deadline)) {
      stop();
      return make_error(Code::failure,
                        fmt::format("the plugin did not answer within {} ms; the merge worker "
                                    "was stopped",
                                    timeout_ms));
    }
    ssize_t n = recv(fd_, in_.data() + have, in_.size() - have, MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n <= 0) return died("while merging");
    have += static_cast<std::size_t>(n);
    if (want == 0 && have >= 4) {
      std::size_t len = wire::frame_length(in_.data());
      if (len > wire::kMaxFrame) {
        stop();
        return make_error(Code::failure, "the merge worker sent a malformed reply");
      }
      want = 4 + len;
      if (in_.size() < want) in_.resize(want);
    }
  }
  // The worker says one frame per request, and nothing more.
  if (have != want) {
    stop();
    return make_error(Code::failure, "the merge worker sent a malformed reply");
  }
  return std::string_view(in_.data() + 4, want - 4);
}

Result<std::uint32_t> Worker::load(const std::string& path, PluginInfo* info, int timeout_ms) {
  wire::start_frame(out_);
  out_ += wire::load_request(path);
  auto body = call(timeout_ms);
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

namespace {

// The room to set aside for a merge's blob: a merge may add to what it is
// given (json_fields adds stamps), and a blob that does not fit goes in
// the reply instead.
std::size_t reply_room_for(const Block& a, const Block& b) {
  return std::min(SharedRing::kMaxPiece, 2 * (a.blob.size() + b.blob.size()) + 1024);
}

}  // namespace

Worker::Shared Worker::share(std::size_t at, std::size_t reply_room) {
  Shared s;
  if (!running() || !rings_) return s;  // a new worker: start() gives it the rings
  std::string_view body(out_.data() + at + 4, out_.size() - at - 4);
  auto offset = requests_.put(body);
  if (!offset) return s;
  s.request = true;
  wire::SharedRequest r{*offset, body.size(), 0, 0};
  if (auto room = replies_.reserve(reply_room)) {
    r.reply_offset = s.reply_offset = *room;
    r.reply_room = s.reply_room = reply_room;
  }
  out_.resize(at + 4);
  wire::append_shared_request(out_, r);
  return s;
}

void Worker::clear_rings() {
  requests_.clear();
  replies_.clear();
}

Result<MergeReply> Worker::merge(std::uint32_t slot, const Block& a, const Block& b,
                                 int timeout_ms) {
  BLK_TRY(start());
  wire::start_frame(out_);
  wire::append_merge_request(out_, slot, a, b);
  clear_rings();  // nothing else is in flight
  Shared shared = share(0, reply_room_for(a, b));
  auto body = call(timeout_ms);
  if (!body) return std::move(body).error();
  auto r = wire::decode_merge_reply(*body, reply_room(shared));
  // A big request's or reply's buffer is not kept.
  if (out_.capacity() > (1 << 20)) std::string().swap(out_);
  if (in_.size() > (1 << 20)) std::string().swap(in_);
  if (!r) {
    stop();
    return make_error(Code::failure, "the merge worker sent a malformed reply");
  }
  return std::move(*r);
}

// The pipeline: one poll for both directions, requests framed into out_ a
// run at a time and sent as the socket takes them, replies read into in_ as
// many as have arrived and decoded where they are. The worker answers in
// order, one frame per request.
Result<void> Worker::merge_many(const std::vector<Job>& jobs, std::vector<MergeReply>& replies,
                                int timeout_ms) {
  if (jobs.empty()) return {};
  BLK_TRY(start());
  std::vector<std::size_t> sizes;  // of each request framed so far
  sizes.reserve(jobs.size());
  std::vector<Shared> shared;  // where each request framed so far went
  shared.reserve(jobs.size());
  clear_rings();
  std::size_t framed = 0;         // jobs framed (sent or in out_)
  std::size_t answered = 0;       // jobs whose reply is in
  std::size_t in_flight = 0;      // bytes of framed requests not answered yet
  std::size_t sent = 0;           // of out_
  std::size_t end = jobs.size();  // jobs to run: less if one is too big
  out_.clear();
  if (in_.size() < kReplyBuffer) in_.resize(kReplyBuffer);
  std::size_t begin = 0, have = 0;  // unread reply bytes: in_[begin, have)
  std::int64_t deadline = now_ns() + std::int64_t{timeout_ms} * kMs;
  auto malformed = [&] {
    stop();
    return make_error(Code::failure, "the merge worker sent a malformed reply");
  };
  while (answered < end) {
    // Frame more requests once out_ is all sent, while the bound allows: at
    // most kPipelineBytes and one request unanswered.
    if (sent == out_.size()) {
      out_.clear();
      sent = 0;
      // Framed in place (the length is little-endian, worker_protocol.hpp).
      while (framed < end && in_flight < kPipelineBytes) {
        std::size_t at = out_.size();
        out_.append(4, '\0');
        wire::append_merge_request(out_, jobs[framed].slot, *jobs[framed].a, *jobs[framed].b);
        std::size_t body = out_.size() - at - 4;
        if (body > wire::kMaxFrame) {
          out_.resize(at);
          end = framed;  // too big: merge() will say so for it
          break;
        }
        // The window counts a request's bytes, wherever they travel.
        sizes.push_back(4 + body);
        in_flight += 4 + body;
        shared.push_back(share(at, reply_room_for(*jobs[framed].a, *jobs[framed].b)));
        body = out_.size() - at - 4;
        for (int i = 0; i < 4; ++i) out_[at + i] = static_cast<char>((body >> (8 * i)) & 0xff);
        ++framed;
      }
      if (answered >= end) break;
    }
    short events = POLLIN;
    if (sent < out_.size()) events |= POLLOUT;
    std::int64_t left = deadline - now_ns();
    int ready = 0;
    short revents = 0;
    if (left > 0) {
      pollfd pf{fd_, events, 0};
      ready = poll(&pf, 1, static_cast<int>((left + kMs - 1) / kMs));
      if (ready < 0 && errno == EINTR) continue;
      revents = pf.revents;
    }
    if (ready <= 0) {
      stop();
      return make_error(Code::failure,
                        fmt::format("the plugin did not answer within {} ms; the merge worker "
                                    "was stopped",
                                    timeout_ms));
    }
    if ((revents & POLLOUT) && sent < out_.size()) {
      ssize_t n = send(fd_, out_.data() + sent, out_.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0)
        sent += static_cast<std::size_t>(n);
      else if (n < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)
        return died("while merging");
    }
    if (!(revents & (POLLIN | POLLHUP | POLLERR))) continue;
    if (have == in_.size()) {
      // Room for more: move what is unread to the front, or grow.
      if (begin > 0) {
        std::memmove(in_.data(), in_.data() + begin, have - begin);
        have -= begin;
        begin = 0;
      } else {
        in_.resize(in_.size() * 2);
      }
    }
    ssize_t n = recv(fd_, in_.data() + have, in_.size() - have, MSG_DONTWAIT);
    if (n < 0 && (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)) continue;
    if (n <= 0) return died("while merging");
    have += static_cast<std::size_t>(n);
    // Every whole reply that is in.
    while (have - begin >= 4) {
      std::size_t len = wire::frame_length(in_.data() + begin);
      if (len > wire::kMaxFrame) return malformed();
      if (have - begin < 4 + len) {
        if (begin + 4 + len > in_.size()) {  // make room for the whole frame
          std::memmove(in_.data(), in_.data() + begin, have - begin);
          have -= begin;
          begin = 0;
          if (4 + len > in_.size()) in_.resize(4 + len);
        }
        break;
      }
      // A reply to no request: not our worker.
      if (answered >= framed) return malformed();
      const Shared& s = shared[answered];
      auto r =
          wire::decode_merge_reply(std::string_view(in_.data() + begin + 4, len), reply_room(s));
      if (!r) return malformed();
      replies.push_back(std::move(*r));
      if (s.request) requests_.pop();
      if (s.reply_room) replies_.pop();
      in_flight -= sizes[answered];
      ++answered;
      ++pipelined_;
      begin += 4 + len;
      deadline = now_ns() + std::int64_t{timeout_ms} * kMs;
    }
    if (begin == have) begin = have = 0;
  }
  if (have != begin) return malformed();  // more than one frame per request
  // A big request's or reply's buffer is not kept.
  if (out_.capacity() > (1 << 20)) std::string().swap(out_);
  if (in_.size() > (1 << 20)) std::string().swap(in_);
  return {};
}

}  // namespace blk::plugins
