// Merge requests in memory that blk and its merge worker share: blk writes
// each request's body into a ring in a sealed memfd and sends the worker
// only where it is ('S' frames, worker_protocol.hpp). A 4 KiB merge's
// request is two blobs; through the socket the kernel would copy them
// twice and allocate buffers for them, which cost the worker, the
// bottleneck of a pipelined batch, about as much as a small merge.
//
// The worker maps the ring read-only and cannot resize it (the seals), so
// it can neither make blk fault on a shrunk mapping nor change a request
// it has not read yet; whatever it makes of a request is only its reply,
// which blk checks as before. Requests are answered in order, so the ring
// is a FIFO: a request's bytes are free once its reply is in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string_view>
#include <utility>

namespace blk::plugins {

class RequestRing {
 public:
  static constexpr std::size_t kBytes = 1 << 20;
  // A bigger request goes through the socket, so that one never waits for
  // the ring to empty (at most kBytes / 4 in flight and one more fit).
  static constexpr std::size_t kMaxRequest = kBytes / 4;

  RequestRing() = default;
  ~RequestRing();
  RequestRing(const RequestRing&) = delete;
  RequestRing& operator=(const RequestRing&) = delete;

  // The memfd for the worker (mapped here first), or -1 if this system
  // cannot make one: then every request goes through the socket.
  int fd();

  // Copies `body` into the ring after the requests in flight and returns
  // its offset; std::nullopt if it is too big or there is no room now.
  std::optional<std::size_t> put(std::string_view body);
  // The oldest request in the ring was answered: its bytes are free.
  void pop();
  // No request is in flight any more (a new batch, or a new worker).
  void clear();

 private:
  bool create();

  int fd_ = -1;
  bool failed_ = false;
  char* base_ = nullptr;
  std::deque<std::pair<std::size_t, std::size_t>> in_flight_;  // offset, size
};

// The worker's side: the ring mapped read-only from descriptor `fd`.
class SharedRequests {
 public:
  explicit SharedRequests(int fd);
  ~SharedRequests();
  SharedRequests(const SharedRequests&) = delete;
  SharedRequests& operator=(const SharedRequests&) = delete;

  // The request at [offset, offset + size); std::nullopt if that is not
  // inside the ring (or there is none).
  std::optional<std::string_view> at(std::uint64_t offset, std::uint64_t size) const;

 private:
  const char* base_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace blk::plugins
