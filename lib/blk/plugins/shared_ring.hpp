// Memory that blk and its merge worker share: two rings in sealed memfds.
// blk writes each merge request's body into the request ring and sends the
// worker only where it is ('S' frames, worker_protocol.hpp); it also sets
// aside room in the reply ring, where the worker writes the merged blob
// ('R' replies). A 4 KiB merge moves three blobs; through the socket the
// kernel would copy each twice and allocate buffers for it, which cost the
// worker, the bottleneck of a pipelined batch, about as much as the merge.
//
// Both are sealed against resizing before the worker gets them, so it
// cannot make blk fault on a shrunk mapping. The request ring is also
// sealed against writes (F_SEAL_FUTURE_WRITE): the worker maps it
// read-only. The reply ring is the worker's to write and blk maps it
// read-only; blk copies a blob out of it once the reply says it is there,
// and checks it as any reply. Requests are answered in order, so each ring
// is a FIFO, its pieces free once their reply is in; blk alone decides
// where they go. What does not fit goes through the socket.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string_view>
#include <utility>

namespace blk::plugins {

class SharedRing {
 public:
  static constexpr std::size_t kBytes = 1 << 20;
  // A bigger piece goes through the socket, so that none waits for the
  // ring to empty (at most kBytes / 4 in flight and one more fit).
  static constexpr std::size_t kMaxPiece = kBytes / 4;

  enum class Writer { blk, worker };
  explicit SharedRing(Writer writer) : writer_(writer) {}
  ~SharedRing();
  SharedRing(const SharedRing&) = delete;
  SharedRing& operator=(const SharedRing&) = delete;

  // The memfd for the worker (mapped here first, sealed), or -1 if this
  // system cannot make one: then everything goes through the socket.
  int fd();

  // Sets aside `size` bytes after the pieces in flight and returns their
  // offset; std::nullopt if too big or there is no room now.
  std::optional<std::size_t> reserve(std::size_t size);
  // reserve() and copy `bytes` there (a ring blk writes).
  std::optional<std::size_t> put(std::string_view bytes);
  // The bytes at [offset, offset + size) of a piece reserved here.
  std::string_view at(std::size_t offset, std::size_t size) const { return {base_ + offset, size}; }
  // The oldest piece is done with: its bytes are free.
  void pop();
  // No piece is in flight any more (a new batch, or a new worker).
  void clear();

 private:
  bool create();

  Writer writer_;
  int fd_ = -1;
  bool failed_ = false;
  char* base_ = nullptr;
  std::deque<std::pair<std::size_t, std::size_t>> in_flight_;  // offset, size
};

// The worker's side: a ring mapped from descriptor `fd`, read-only or
// writable.
class SharedMapping {
 public:
  SharedMapping(int fd, bool writable);
  ~SharedMapping();
  SharedMapping(const SharedMapping&) = delete;
  SharedMapping& operator=(const SharedMapping&) = delete;

  // [offset, offset + size) if it is inside the ring.
  std::optional<std::string_view> at(std::uint64_t offset, std::uint64_t size) const;
  // The same, to write to; nullptr if not inside or not writable.
  char* writable_at(std::uint64_t offset, std::uint64_t size) const;

 private:
  char* base_ = nullptr;
  std::size_t size_ = 0;
  bool writable_ = false;
};

}  // namespace blk::plugins
