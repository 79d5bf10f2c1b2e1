#include "trace.hpp"

#include <fmt/format.h>

#include <cstdio>

#include "blk/encoding.hpp"

namespace blk::sim {

void Trace::add(Millis at, std::string_view who, std::string_view what) {
  std::string line = fmt::format("{:>5}.{:03} {:<4} {}", at / 1000, at % 1000, who, what);
  for (unsigned char c : line) {
    hash_ ^= c;
    hash_ *= 0x100000001b3ull;
  }
  hash_ ^= '\n';
  hash_ *= 0x100000001b3ull;
  ++lines_;
  if (echo_) std::fwrite((line + "\n").data(), 1, line.size() + 1, stdout);
  tail_.push_back(std::move(line));
  if (tail_.size() > kKeep) tail_.pop_front();
}

std::string short_hash(std::string_view version_hash) {
  return hex_encode(version_hash.substr(0, 4));
}

std::string skew_text(Millis skew) {
  Millis a = skew < 0 ? -skew : skew;
  return fmt::format("{}{}h{:02}m", skew < 0 ? '-' : '+', a / 3'600'000, a / 60'000 % 60);
}

}  // namespace blk::sim
