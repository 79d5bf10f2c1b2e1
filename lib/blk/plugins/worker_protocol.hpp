// The merge worker's protocol: frames over a socket pair between blk and
// `blk __merge-worker` (worker.hpp, worker_main.cpp). A frame is a 4-byte
// little-endian length and a body; the body's first byte says what it is.
//
//   blk -> worker   'L' path                   load a plugin
//                   'M' slot version version  merge with a loaded one
//   worker -> blk   'L' ok slot name types | 'L' !ok error
//                   'M' status schema blob error
//
// Neither side trusts the other's bytes: a reply that does not decode is a
// failed merge, a request that does not decode ends the worker.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "blk/block.hpp"
#include "blk/plugins/loader.hpp"

namespace blk::plugins::wire {

// The largest frame either side accepts: two 16 MiB blobs and change.
inline constexpr std::size_t kMaxFrame = 2 * kMaxBlobBytes + (1 << 20);

std::string frame(std::string_view body);

std::string load_request(std::string_view path);
std::string merge_request(std::uint32_t slot, const Block& a, const Block& b);

struct LoadReply {
  bool ok = false;
  std::uint32_t slot = 0;
  PluginInfo info;
  std::string error;
};
std::string encode(const LoadReply& r);
std::string encode(const MergeReply& r);

// Decoders: std::nullopt if the bytes are not a well-formed message.
std::optional<std::string> decode_load_request(std::string_view body);
struct MergeRequest {
  std::uint32_t slot = 0;
  Block a, b;
};
std::optional<MergeRequest> decode_merge_request(std::string_view body);
std::optional<LoadReply> decode_load_reply(std::string_view body);
std::optional<MergeReply> decode_merge_reply(std::string_view body);

// Whole-frame I/O on a blocking descriptor (the worker's side): false on
// EOF or error.
bool read_frame(int fd, std::string& body);
bool write_all(int fd, std::string_view bytes);

}  // namespace blk::plugins::wire
