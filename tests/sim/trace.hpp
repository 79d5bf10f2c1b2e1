// The trace of one run: one line per event (virtual time, who, what). It is
// printed as it happens when replaying a seed, and always hashed, so two runs
// of a seed can be compared; the last lines are kept for failure reports.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "blk/block.hpp"

namespace blk::sim {

class Trace {
 public:
  // `echo`: print every line to stdout as it is added.
  explicit Trace(bool echo) : echo_(echo) {}

  // `at` is virtual time since the start of the run; `who` a machine ("m2"),
  // a connection ("c7") or "sim".
  void add(Millis at, std::string_view who, std::string_view what);

  std::uint64_t hash() const { return hash_; }
  std::uint64_t lines() const { return lines_; }
  // The last lines added (at most kKeep), oldest first.
  const std::deque<std::string>& tail() const { return tail_; }

  static constexpr std::size_t kKeep = 60;

 private:
  bool echo_;
  std::uint64_t hash_ = 0xcbf29ce484222325ull;  // FNV-1a
  std::uint64_t lines_ = 0;
  std::deque<std::string> tail_;
};

// "1a2b3c4d": the first bytes of a version hash, enough to tell versions apart.
std::string short_hash(std::string_view version_hash);
// "+2h05m", "-0h30m": a clock skew for people.
std::string skew_text(Millis skew);

}  // namespace blk::sim
