#include "blk/plugins/worker_protocol.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "blk/sync/codec.hpp"

namespace blk::plugins::wire {
namespace {

using sync::put_bytes;
using sync::put_varint;
using sync::Reader;

void put_i64(std::string& out, std::int64_t v) {
  // Zigzag: times may be negative (before 1970) in a hostile version.
  put_varint(out, (static_cast<std::uint64_t>(v) << 1) ^ static_cast<std::uint64_t>(v >> 63));
}

std::int64_t get_i64(Reader& r) {
  std::uint64_t z = r.varint();
  return static_cast<std::int64_t>((z >> 1) ^ (~(z & 1) + 1));
}

void put_version(std::string& out, const Block& b) {
  put_bytes(out, b.id);
  put_bytes(out, b.type);
  put_i64(out, b.created_at);
  put_i64(out, b.modified_at);
  put_bytes(out, b.modified_by);
  put_varint(out, b.schema);
  put_bytes(out, b.blob);
}

void get_version(Reader& r, VersionView& v) {
  v.id = r.bytes(kMaxIdBytes);
  v.type = r.bytes(kMaxIdBytes);
  v.created_at = get_i64(r);
  v.modified_at = get_i64(r);
  v.modified_by = r.bytes(64);
  v.schema = static_cast<std::uint32_t>(r.varint(UINT32_MAX));
  v.blob = r.bytes(kMaxBlobBytes);
}

Block to_block(const VersionView& v) {
  Block b;
  b.id = v.id;
  b.type = v.type;
  b.created_at = v.created_at;
  b.modified_at = v.modified_at;
  b.modified_by = v.modified_by;
  b.schema = v.schema;
  b.blob = v.blob;
  return b;
}

void put_length(char* p, std::size_t n) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>((n >> (8 * i)) & 0xff);
}

}  // namespace

std::size_t frame_length(const char* header) {
  auto* b = reinterpret_cast<const unsigned char*>(header);
  return b[0] | (b[1] << 8) | (b[2] << 16) | (std::size_t{b[3]} << 24);
}

std::string frame(std::string_view body) {
  std::string out(4, '\0');
  put_length(out.data(), body.size());
  out.append(body);
  return out;
}

void start_frame(std::string& out) {
  out.assign(4, '\0');
}

bool end_frame(std::string& out) {
  if (out.size() < 4 || out.size() - 4 > kMaxFrame) return false;
  put_length(out.data(), out.size() - 4);
  return true;
}

std::string load_request(std::string_view path) {
  std::string out = "L";
  put_bytes(out, path);
  return out;
}

void append_shared_request(std::string& out, const SharedRequest& r) {
  out.push_back('S');
  put_varint(out, r.offset);
  put_varint(out, r.size);
  put_varint(out, r.reply_offset);
  put_varint(out, r.reply_room);
}

bool decode_shared_request(std::string_view body, SharedRequest& s) {
  if (body.empty() || body[0] != 'S') return false;
  Reader r(body.substr(1));
  s.offset = r.varint();
  s.size = r.varint();
  s.reply_offset = r.varint();
  s.reply_room = r.varint();
  return r.ok() && r.at_end();
}

std::string merge_request(std::uint32_t slot, const Block& a, const Block& b) {
  std::string out;
  append_merge_request(out, slot, a, b);
  return out;
}

void append_merge_request(std::string& out, std::uint32_t slot, const Block& a, const Block& b) {
  out.reserve(out.size() + a.blob.size() + b.blob.size() + a.id.size() + b.id.size() +
              a.type.size() + b.type.size() + 256);
  out.push_back('M');
  put_varint(out, slot);
  put_version(out, a);
  put_version(out, b);
}

std::string encode(const LoadReply& r) {
  std::string out = "L";
  out.push_back(r.ok ? 1 : 0);
  if (!r.ok) {
    put_bytes(out, r.error);
    return out;
  }
  put_varint(out, r.slot);
  put_bytes(out, r.info.name);
  put_varint(out, r.info.types.size());
  for (const auto& t : r.info.types) {
    put_bytes(out, t.type);
    put_varint(out, t.max_schema);
  }
  return out;
}

std::string encode(const MergeReply& r) {
  std::string out;
  append_merge_reply(out, r.status, r.schema, r.blob, r.error);
  return out;
}

void append_merge_reply(std::string& out, int status, std::uint32_t schema, std::string_view blob,
                        std::string_view error) {
  out.reserve(out.size() + blob.size() + error.size() + 32);
  out.push_back('M');
  put_varint(out, static_cast<std::uint64_t>(status));
  put_varint(out, schema);
  put_bytes(out, blob);
  put_bytes(out, error);
}

std::optional<std::string> decode_load_request(std::string_view body) {
  Reader r(body);
  if (r.raw(1) != "L") return std::nullopt;
  std::string path(r.bytes(4096));
  if (!r.ok() || !r.at_end()) return std::nullopt;
  return path;
}

std::optional<MergeRequest> decode_merge_request(std::string_view body) {
  MergeRequestView v;
  if (!decode_merge_request(body, v)) return std::nullopt;
  return MergeRequest{v.slot, to_block(v.a), to_block(v.b)};
}

bool decode_merge_request(std::string_view body, MergeRequestView& m) {
  Reader r(body);
  if (r.raw(1) != "M") return false;
  m.slot = static_cast<std::uint32_t>(r.varint(UINT32_MAX));
  get_version(r, m.a);
  get_version(r, m.b);
  return r.ok() && r.at_end();
}

std::optional<LoadReply> decode_load_reply(std::string_view body) {
  Reader r(body);
  if (r.raw(1) != "L") return std::nullopt;
  LoadReply l;
  std::string_view ok = r.raw(1);
  l.ok = ok == std::string_view("\1", 1);
  if (!l.ok) {
    l.error = r.bytes(kErrorBytes * 4);
  } else {
    l.slot = static_cast<std::uint32_t>(r.varint(UINT32_MAX));
    l.info.name = r.bytes(64);
    std::uint64_t n = r.varint(1000);
    for (std::uint64_t i = 0; i < n && r.ok(); ++i) {
      PluginType t;
      t.type = r.bytes(kMaxIdBytes);
      t.max_schema = static_cast<std::uint32_t>(r.varint(UINT32_MAX));
      l.info.types.push_back(std::move(t));
    }
  }
  if (!r.ok() || !r.at_end()) return std::nullopt;
  return l;
}

void append_shared_reply(std::string& out, int status, std::uint32_t schema, std::size_t blob_size,
                         std::string_view error) {
  out.reserve(out.size() + error.size() + 32);
  out.push_back('R');
  put_varint(out, static_cast<std::uint64_t>(status));
  put_varint(out, schema);
  put_varint(out, blob_size);
  put_bytes(out, error);
}

std::optional<MergeReply> decode_merge_reply(std::string_view body, std::string_view reply_room) {
  Reader r(body);
  std::string_view kind = r.raw(1);
  if (kind != "M" && kind != "R") return std::nullopt;
  MergeReply m;
  m.status = static_cast<int>(r.varint(255));
  m.schema = static_cast<std::uint32_t>(r.varint(UINT32_MAX));
  if (kind == "M") {
    m.blob = r.bytes(kMaxBlobBytes);
  } else {
    std::uint64_t size = r.varint();
    if (size > reply_room.size()) return std::nullopt;  // not where it may be
    m.blob.assign(reply_room.data(), size);
  }
  m.error = r.bytes(kErrorBytes * 4);
  if (!r.ok() || !r.at_end()) return std::nullopt;
  return m;
}

bool read_frame(int fd, std::string& body) {
  auto read_exact = [fd](char* p, std::size_t n) {
    while (n > 0) {
      ssize_t got = ::read(fd, p, n);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return false;
      p += got;
      n -= static_cast<std::size_t>(got);
    }
    return true;
  };
  char len[4];
  if (!read_exact(len, 4)) return false;
  std::size_t n = frame_length(len);
  if (n > kMaxFrame) return false;
  body.resize(n);
  return read_exact(body.data(), n);
}

bool write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t put = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (put < 0 && errno == EINTR) continue;
    if (put <= 0) return false;
    bytes.remove_prefix(static_cast<std::size_t>(put));
  }
  return true;
}

bool FrameReader::buffered() const {
  std::size_t have = end_ - begin_;
  return have >= 4 && have - 4 >= frame_length(buf_.data() + begin_);
}

bool FrameReader::next(std::string_view& body) {
  // What a first read asks for: a 4 KiB merge's request, and then some.
  constexpr std::size_t kInitial = 64 * 1024;
  if (begin_ == end_) {
    begin_ = end_ = 0;
    // A big frame's buffer is not kept for good.
    if (buf_.size() > 16 * kInitial) std::string().swap(buf_);
    if (buf_.size() < kInitial) buf_.resize(kInitial);
  }
  std::size_t want = 0;  // the whole frame's size, once its length is in
  for (;;) {
    std::size_t have = end_ - begin_;
    if (want == 0 && have >= 4) {
      std::size_t n = frame_length(buf_.data() + begin_);
      if (n > kMaxFrame) return false;
      want = 4 + n;
    }
    if (want != 0 && have >= want) {
      body = std::string_view(buf_.data() + begin_ + 4, want - 4);
      begin_ += want;
      return true;
    }
    // Room for the rest: unread bytes to the front, the buffer as big as
    // the frame (once; it is kept for the next one).
    if (begin_ > 0) {
      std::memmove(buf_.data(), buf_.data() + begin_, have);
      begin_ = 0;
      end_ = have;
    }
    if (want > buf_.size()) buf_.resize(want);
    ssize_t got = ::read(fd_, buf_.data() + end_, buf_.size() - end_);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    end_ += static_cast<std::size_t>(got);
  }
}

}  // namespace blk::plugins::wire
