// The hello: the first bytes each side sends, before anything secret. It
// names the protocol (a magic) and the versions this side speaks; the
// highest version both speak is used. Both hellos are bound into the
// handshake transcript, so a hello altered in transit (a downgrade) makes
// the handshake fail.
//
//   hello = "blk!" (4 bytes) || n (u8, 1..8) || n × version (u16 big-endian,
//           strictly ascending)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "blk/error.hpp"

namespace blk::wire {

inline constexpr std::string_view kHelloMagic = "blk!";
inline constexpr std::size_t kMaxHelloVersions = 8;

// The versions this build speaks. 1 is the first; the hello's list leaves
// room for more (as the original design's [0, 1] list did).
inline const std::vector<std::uint16_t> kOurVersions = {1};

std::string encode_hello(const std::vector<std::uint16_t>& versions);

// How many bytes the hello at the start of `bytes` takes: 0 if more bytes
// are needed to tell; an error if what is there cannot be a hello.
Result<std::size_t> hello_size(std::string_view bytes);

// Parses a complete hello (exactly hello_size bytes).
Result<std::vector<std::uint16_t>> parse_hello(std::string_view bytes);

// The highest version in both lists, or nothing.
std::optional<std::uint16_t> negotiate(const std::vector<std::uint16_t>& ours,
                                       const std::vector<std::uint16_t>& theirs);

}  // namespace blk::wire
