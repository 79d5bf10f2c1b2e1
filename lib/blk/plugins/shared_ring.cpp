#include "blk/plugins/shared_ring.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace blk::plugins {

SharedRing::~SharedRing() {
  if (base_) munmap(base_, kBytes);
  if (fd_ >= 0) close(fd_);
}

bool SharedRing::create() {
  if (failed_) return false;
  failed_ = true;  // until it is all done
  bool blk_writes = writer_ == Writer::blk;
  int fd = memfd_create(blk_writes ? "blk-merge-requests" : "blk-merge-replies",
                        MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return false;
  int prot = blk_writes ? PROT_READ | PROT_WRITE : PROT_READ;
  // Sealed once mapped here: the size is fixed (the worker cannot shrink it
  // under our mapping) and, for requests, no one may write to it again.
  int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL | (blk_writes ? F_SEAL_FUTURE_WRITE : 0);
  void* p = MAP_FAILED;
  if (ftruncate(fd, kBytes) != 0 ||
      (p = mmap(nullptr, kBytes, prot, MAP_SHARED, fd, 0)) == MAP_FAILED ||
      fcntl(fd, F_ADD_SEALS, seals) != 0) {
    if (p != MAP_FAILED) munmap(p, kBytes);
    close(fd);
    return false;
  }
  fd_ = fd;
  base_ = static_cast<char*>(p);
  failed_ = false;
  return true;
}

int SharedRing::fd() {
  if (!base_) create();
  return fd_;
}

std::optional<std::size_t> SharedRing::reserve(std::size_t size) {
  if (size == 0 || size > kMaxPiece || (!base_ && !create())) return std::nullopt;
  std::size_t at = 0;
  if (!in_flight_.empty()) {
    std::size_t tail = in_flight_.front().first;
    std::size_t head = in_flight_.back().first + in_flight_.back().second;
    if (head > tail) {  // in use: [tail, head); room after it, or before it
      if (kBytes - head >= size)
        at = head;
      else if (tail >= size)
        at = 0;
      else
        return std::nullopt;
    } else {  // wrapped, in use: [tail, end) and [0, head); room between
      if (tail - head < size) return std::nullopt;
      at = head;
    }
  }
  in_flight_.emplace_back(at, size);
  return at;
}

std::optional<std::size_t> SharedRing::put(std::string_view bytes) {
  if (writer_ != Writer::blk) return std::nullopt;
  auto at = reserve(bytes.size());
  if (at) std::memcpy(base_ + *at, bytes.data(), bytes.size());
  return at;
}

void SharedRing::pop() {
  if (!in_flight_.empty()) in_flight_.pop_front();
}

void SharedRing::clear() {
  in_flight_.clear();
}

SharedMapping::SharedMapping(int fd, bool writable) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) return;
  int prot = writable ? PROT_READ | PROT_WRITE : PROT_READ;
  void* p = mmap(nullptr, static_cast<std::size_t>(st.st_size), prot, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return;
  base_ = static_cast<char*>(p);
  size_ = static_cast<std::size_t>(st.st_size);
  writable_ = writable;
}

SharedMapping::~SharedMapping() {
  if (base_) munmap(base_, size_);
}

std::optional<std::string_view> SharedMapping::at(std::uint64_t offset, std::uint64_t size) const {
  if (!base_ || offset > size_ || size > size_ - offset) return std::nullopt;
  return std::string_view(base_ + offset, size);
}

char* SharedMapping::writable_at(std::uint64_t offset, std::uint64_t size) const {
  if (!writable_ || !at(offset, size)) return nullptr;
  return base_ + offset;
}

}  // namespace blk::plugins
