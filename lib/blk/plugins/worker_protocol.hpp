// The merge worker's protocol: frames over a socket pair between blk and
// `blk __merge-worker` (worker.hpp, worker_main.cpp). A frame is a 4-byte
// little-endian length and a body; the body's first byte says what it is.
//
//   blk -> worker   'L' path                   load a plugin
//                   'M' slot version version  merge with a loaded one
//                   'S' offset size reply_offset reply_room
//                                             the 'M' body at [offset,
//                                             offset + size) of the request
//                                             ring; a merged blob of up to
//                                             reply_room bytes goes to
//                                             reply_offset in the reply ring
//                                             (shared_ring.hpp)
//   worker -> blk   'L' ok slot name types | 'L' !ok error
//                   'M' status schema blob error
//                   'R' status schema size error    the blob: `size` bytes
//                                             at the request's reply_offset
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

// The body's length in a frame's first 4 bytes.
std::size_t frame_length(const char* header);

std::string frame(std::string_view body);

// Frames built in place, without copying the body: start_frame makes `out`
// room for the length (keeping its capacity), an encoder below appends the
// body, end_frame writes its length; false if the body exceeds kMaxFrame.
void start_frame(std::string& out);
bool end_frame(std::string& out);

std::string load_request(std::string_view path);
// A merge request in the shared rings: where its 'M' body is, and where
// its merged blob may go (reply_room 0: in the reply frame).
struct SharedRequest {
  std::uint64_t offset = 0, size = 0, reply_offset = 0, reply_room = 0;
};
void append_shared_request(std::string& out, const SharedRequest& r);
// False if `body` is not an 'S' frame's.
bool decode_shared_request(std::string_view body, SharedRequest& r);
std::string merge_request(std::uint32_t slot, const Block& a, const Block& b);
void append_merge_request(std::string& out, std::uint32_t slot, const Block& a, const Block& b);

struct LoadReply {
  bool ok = false;
  std::uint32_t slot = 0;
  PluginInfo info;
  std::string error;
};
std::string encode(const LoadReply& r);
std::string encode(const MergeReply& r);
void append_merge_reply(std::string& out, int status, std::uint32_t schema, std::string_view blob,
                        std::string_view error);
// An 'R' reply: the blob, `blob_size` bytes, is in the reply ring.
void append_shared_reply(std::string& out, int status, std::uint32_t schema, std::size_t blob_size,
                         std::string_view error);

// Decoders: std::nullopt if the bytes are not a well-formed message.
std::optional<std::string> decode_load_request(std::string_view body);
struct MergeRequest {
  std::uint32_t slot = 0;
  Block a, b;
};
std::optional<MergeRequest> decode_merge_request(std::string_view body);

// A merge request as views into the body it was decoded from (the worker's
// side, which hands the blobs to the plugin where they are).
struct VersionView {
  std::string_view id, type, modified_by, blob;
  std::int64_t created_at = 0, modified_at = 0;
  std::uint32_t schema = 0;
};
struct MergeRequestView {
  std::uint32_t slot = 0;
  VersionView a, b;
};
// False if the body is not a well-formed merge request.
bool decode_merge_request(std::string_view body, MergeRequestView& m);
std::optional<LoadReply> decode_load_reply(std::string_view body);
// An 'M' reply, or an 'R' one whose blob is taken from `reply_room` (the
// room set aside for it; std::nullopt if it claims more).
std::optional<MergeReply> decode_merge_reply(std::string_view body,
                                             std::string_view reply_room = {});

// Whole-frame I/O on a blocking descriptor (the worker's side): false on
// EOF or error.
bool read_frame(int fd, std::string& body);
bool write_all(int fd, std::string_view bytes);

// Reads frames from a blocking descriptor into one buffer that it keeps, as
// many bytes as are there with each read: a frame that arrives whole costs
// one read, and nothing is copied out. A body stays valid until the next
// next() call.
class FrameReader {
 public:
  explicit FrameReader(int fd) : fd_(fd) {}
  // The next frame's body; false on EOF, an error or a length over
  // kMaxFrame.
  bool next(std::string_view& body);
  // Whether the next frame is here whole: next() would not read.
  bool buffered() const;

 private:
  int fd_;
  std::string buf_;
  std::size_t begin_ = 0, end_ = 0;  // unread bytes: buf_[begin_, end_)
};

}  // namespace blk::plugins::wire
