#include "blk/plugins/request_ring.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

namespace blk::plugins {

RequestRing::~RequestRing() {
  if (base_) munmap(base_, kBytes);
  if (fd_ >= 0) close(fd_);
}

bool RequestRing::create() {
  if (failed_) return false;
  failed_ = true;  // until it is all done
  int fd = memfd_create("blk-merge-requests", MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) return false;
  void* p = MAP_FAILED;
  // Sealed once mapped here: the size is fixed (the worker cannot shrink it
  // under our mapping) and no one may map it writable or write to it again.
  if (ftruncate(fd, kBytes) != 0 ||
      (p = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0)) == MAP_FAILED ||
      fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_FUTURE_WRITE | F_SEAL_SEAL) != 0) {
    if (p != MAP_FAILED) munmap(p, kBytes);
    close(fd);
    return false;
  }
  fd_ = fd;
  base_ = static_cast<char*>(p);
  failed_ = false;
  return true;
}

int RequestRing::fd() {
  if (!base_) create();
  return fd_;
}

std::optional<std::size_t> RequestRing::put(std::string_view body) {
  if (body.empty() || body.size() > kMaxRequest || (!base_ && !create())) return std::nullopt;
  std::size_t at = 0;
  if (!in_flight_.empty()) {
    std::size_t tail = in_flight_.front().first;
    std::size_t head = in_flight_.back().first + in_flight_.back().second;
    if (head > tail) {  // in use: [tail, head); room after it, or before it
      if (kBytes - head >= body.size())
        at = head;
      else if (tail >= body.size())
        at = 0;
      else
        return std::nullopt;
    } else {  // wrapped, in use: [tail, end) and [0, head); room between
      if (tail - head < body.size()) return std::nullopt;
      at = head;
    }
  }
  std::memcpy(base_ + at, body.data(), body.size());
  in_flight_.emplace_back(at, body.size());
  return at;
}

void RequestRing::pop() {
  if (!in_flight_.empty()) in_flight_.pop_front();
}

void RequestRing::clear() { in_flight_.clear(); }

SharedRequests::SharedRequests(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size <= 0) return;
  void* p = mmap(nullptr, static_cast<std::size_t>(st.st_size), PROT_READ, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return;
  base_ = static_cast<const char*>(p);
  size_ = static_cast<std::size_t>(st.st_size);
}

SharedRequests::~SharedRequests() {
  if (base_) munmap(const_cast<char*>(base_), size_);
}

std::optional<std::string_view> SharedRequests::at(std::uint64_t offset, std::uint64_t size) const {
  if (!base_ || offset > size_ || size > size_ - offset) return std::nullopt;
  return std::string_view(base_ + offset, size);
}

}  // namespace blk::plugins
