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

Block get_version(Reader& r) {
  Block b;
  b.id = r.bytes(kMaxIdBytes);
  b.type = r.bytes(kMaxIdBytes);
  b.created_at = get_i64(r);
  b.modified_at = get_i64(r);
  b.modified_by = r.bytes(64);
  b.schema = static_cast<std::uint32_t>(r.varint(UINT32_MAX));
  b.blob = r.bytes(kMaxBlobBytes);
  return b;
}

}  // namespace

std::string frame(std::string_view body) {
  std::string out(4, '\0');
  auto n = static_cast<std::uint32_t>(body.size());
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  out.append(body);
  return out;
}

std::string load_request(std::string_view path) {
  std::string out = "L";
  put_bytes(out, path);
  return out;
}

std::string merge_request(std::uint32_t slot, const Block& a, const Block& b) {
  std::string out = "M";
  out.reserve(a.blob.size() + b.blob.size() + 256);
  put_varint(out, slot);
  put_version(out, a);
  put_version(out, b);
  return out;
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
  std::string out = "M";
  put_varint(out, static_cast<std::uint64_t>(r.status));
  put_varint(out, r.schema);
  put_bytes(out, r.blob);
  put_bytes(out, r.error);
  return out;
}

std::optional<std::string> decode_load_request(std::string_view body) {
  Reader r(body);
  if (r.raw(1) != "L") return std::nullopt;
  std::string path(r.bytes(4096));
  if (!r.ok() || !r.at_end()) return std::nullopt;
  return path;
}

std::optional<MergeRequest> decode_merge_request(std::string_view body) {
  Reader r(body);
  if (r.raw(1) != "M") return std::nullopt;
  MergeRequest m;
  m.slot = static_cast<std::uint32_t>(r.varint(UINT32_MAX));
  m.a = get_version(r);
  m.b = get_version(r);
  if (!r.ok() || !r.at_end()) return std::nullopt;
  return m;
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

std::optional<MergeReply> decode_merge_reply(std::string_view body) {
  Reader r(body);
  if (r.raw(1) != "M") return std::nullopt;
  MergeReply m;
  m.status = static_cast<int>(r.varint(255));
  m.schema = static_cast<std::uint32_t>(r.varint(UINT32_MAX));
  m.blob = r.bytes(kMaxBlobBytes);
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
  unsigned char len[4];
  if (!read_exact(reinterpret_cast<char*>(len), 4)) return false;
  std::size_t n = len[0] | (len[1] << 8) | (len[2] << 16) | (std::size_t{len[3]} << 24);
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

}  // namespace blk::plugins::wire
