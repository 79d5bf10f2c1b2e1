#include "blk/wire/hello.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace blk::wire {
namespace {
Error bad(std::string_view why) {
  return make_error(Code::failure, fmt::format("peer sent a bad hello: {}", why));
}
}  // namespace

std::string encode_hello(const std::vector<std::uint16_t>& versions) {
  std::string out(kHelloMagic);
  out.push_back(static_cast<char>(versions.size()));
  for (std::uint16_t v : versions) {
    out.push_back(static_cast<char>(v >> 8));
    out.push_back(static_cast<char>(v & 0xff));
  }
  return out;
}

Result<std::size_t> hello_size(std::string_view bytes) {
  std::size_t have = std::min(bytes.size(), kHelloMagic.size());
  if (bytes.substr(0, have) != kHelloMagic.substr(0, have))
    return bad("not a blk peer (wrong magic)");
  if (bytes.size() <= kHelloMagic.size()) return std::size_t{0};
  auto n = static_cast<unsigned char>(bytes[kHelloMagic.size()]);
  if (n == 0 || n > kMaxHelloVersions) return bad(fmt::format("{} versions", n));
  std::size_t size = kHelloMagic.size() + 1 + 2 * std::size_t{n};
  return bytes.size() >= size ? size : std::size_t{0};
}

Result<std::vector<std::uint16_t>> parse_hello(std::string_view bytes) {
  auto size = hello_size(bytes);
  if (!size) return std::move(size).error();
  if (*size == 0 || *size != bytes.size()) return bad("wrong length");
  std::vector<std::uint16_t> versions;
  for (std::size_t i = kHelloMagic.size() + 1; i < bytes.size(); i += 2) {
    auto v = static_cast<std::uint16_t>((static_cast<unsigned char>(bytes[i]) << 8) |
                                        static_cast<unsigned char>(bytes[i + 1]));
    if (!versions.empty() && v <= versions.back()) return bad("versions not ascending");
    versions.push_back(v);
  }
  return versions;
}

std::optional<std::uint16_t> negotiate(const std::vector<std::uint16_t>& ours,
                                       const std::vector<std::uint16_t>& theirs) {
  std::optional<std::uint16_t> best;
  for (std::uint16_t v : ours)
    if (std::find(theirs.begin(), theirs.end(), v) != theirs.end() && (!best || v > *best))
      best = v;
  return best;
}

}  // namespace blk::wire
