#include "blk/block.hpp"

#include <fmt/format.h>
#include <sodium.h>

#include <chrono>
#include <cstring>

namespace blk {
namespace {

bool name_char(unsigned char c) {
  if (c >= 'a' && c <= 'z') return true;
  if (c >= 'A' && c <= 'Z') return true;
  if (c >= '0' && c <= '9') return true;
  return std::strchr("-_.:@+=/", c) != nullptr && c != '\0';
}

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

bool get_varint(std::string_view& in, std::uint64_t& v) {
  v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (in.empty()) return false;
    auto byte = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    if (shift == 63 && byte > 1) return false;  // more than 64 bits, as sync::Reader
    v |= std::uint64_t{byte & 0x7fu} << shift;
    if (!(byte & 0x80)) return true;
  }
  return false;
}

void put_bytes(std::string& out, std::string_view s) {
  put_varint(out, s.size());
  out.append(s);
}

}  // namespace

Result<void> validate_name(std::string_view what, std::string_view name) {
  if (name.empty()) return make_error(Code::usage, fmt::format("{} is empty", what));
  if (name.size() > kMaxIdBytes)
    return make_error(Code::usage, fmt::format("{} is {} bytes long; the limit is {}", what,
                                               name.size(), kMaxIdBytes));
  for (unsigned char c : name)
    if (!name_char(c))
      return make_error(Code::usage,
                        fmt::format("{} has a character outside letters, digits and '-_.:@+=/' "
                                    "(byte 0x{:02x})",
                                    what, c));
  return {};
}

std::string generate_id(Millis now) {
  static const bool sodium_ready = sodium_init() >= 0;
  (void)sodium_ready;
  unsigned char b[16];
  randombytes_buf(b, sizeof b);
  auto ms = static_cast<std::uint64_t>(now);
  for (int i = 0; i < 6; ++i) b[i] = static_cast<unsigned char>(ms >> (40 - 8 * i));
  b[6] = static_cast<unsigned char>(0x70 | (b[6] & 0x0f));  // version 7
  b[8] = static_cast<unsigned char>(0x80 | (b[8] & 0x3f));  // RFC 9562 variant
  char hex[33];
  sodium_bin2hex(hex, sizeof hex, b, sizeof b);
  std::string_view h(hex, 32);
  return fmt::format("{}-{}-{}-{}-{}", h.substr(0, 8), h.substr(8, 4), h.substr(12, 4),
                     h.substr(16, 4), h.substr(20, 12));
}

Millis now_millis() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

std::string encode_versions(const VersionVector& vv) {
  std::string out;
  put_varint(out, vv.size());
  for (const auto& [machine, counter] : vv) {
    put_bytes(out, machine);
    put_varint(out, counter);
  }
  return out;
}

Result<VersionVector> decode_versions(std::string_view in) {
  auto bad = [] { return make_error(Code::store_unusable, "corrupt version vector"); };
  VersionVector vv;
  if (in.empty()) return vv;
  std::uint64_t n = 0;
  if (!get_varint(in, n) || n > in.size()) return bad();
  for (std::uint64_t i = 0; i < n; ++i) {
    std::uint64_t len = 0, counter = 0;
    if (!get_varint(in, len) || len > in.size()) return bad();
    std::string machine(in.substr(0, len));
    in.remove_prefix(len);
    if (!get_varint(in, counter)) return bad();
    vv[std::move(machine)] = counter;
  }
  if (!in.empty()) return bad();
  return vv;
}

std::string compute_version_hash(const Block& b) {
  // Domain-separated, length-prefixed fields: no two different blocks share
  // an encoding. Changing this changes every hash: bump the tag if you must.
  std::string enc = "blk-version-1";
  put_bytes(enc, b.id);
  put_bytes(enc, b.type);
  put_varint(enc, static_cast<std::uint64_t>(b.created_at));
  put_varint(enc, static_cast<std::uint64_t>(b.modified_at));
  put_varint(enc, b.deleted_at ? static_cast<std::uint64_t>(*b.deleted_at) + 1 : 0);
  put_varint(enc, b.schema);
  put_bytes(enc, b.modified_by);
  put_bytes(enc, encode_versions(b.versions));
  std::string out(crypto_generichash_BYTES, '\0');
  crypto_generichash_state st;
  crypto_generichash_init(&st, nullptr, 0, out.size());
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(enc.data()), enc.size());
  std::string blob_len;
  put_varint(blob_len, b.blob.size());
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(blob_len.data()),
                            blob_len.size());
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(b.blob.data()),
                            b.blob.size());
  crypto_generichash_final(&st, reinterpret_cast<unsigned char*>(out.data()), out.size());
  return out;
}

}  // namespace blk
