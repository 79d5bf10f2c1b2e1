// Byte-level encoding for sync messages: LEB128 varints and length-prefixed
// strings. The Reader never trusts its input: every read is bounds-checked
// and a failed read poisons the reader, so a decoder checks ok() once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace blk::sync {

inline void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

inline void put_bytes(std::string& out, std::string_view bytes) {
  put_varint(out, bytes.size());
  out.append(bytes);
}

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}

  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64 && ok_ && !in_.empty(); shift += 7) {
      auto byte = static_cast<unsigned char>(in_.front());
      in_.remove_prefix(1);
      if (shift == 63 && byte > 1) break;  // more than 64 bits
      v |= std::uint64_t{byte & 0x7fu} << shift;
      if (!(byte & 0x80)) return v;
    }
    ok_ = false;
    return 0;
  }

  // A varint that must not exceed `max`.
  std::uint64_t varint(std::uint64_t max) {
    std::uint64_t v = varint();
    if (v > max) ok_ = false;
    return ok_ ? v : 0;
  }

  // Exactly n raw bytes.
  std::string_view raw(std::size_t n) {
    if (!ok_ || in_.size() < n) {
      ok_ = false;
      return {};
    }
    auto out = in_.substr(0, n);
    in_.remove_prefix(n);
    return out;
  }

  // A length-prefixed string of at most `max` bytes.
  std::string_view bytes(std::size_t max) { return raw(varint(max)); }

  bool ok() const { return ok_; }
  bool at_end() const { return in_.empty(); }
  std::size_t remaining() const { return in_.size(); }
  void fail() { ok_ = false; }

 private:
  std::string_view in_;
  bool ok_ = true;
};

}  // namespace blk::sync
