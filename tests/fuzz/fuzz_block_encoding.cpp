// Fuzz target: the canonical encodings of a block (lib/blk/block.hpp) and
// the byte-to-text encodings (lib/blk/encoding.hpp): decode_versions (a
// version vector, from a peer's offer or a store's row), base64_decode_data
// (blobs in `blk import`), base64_decode (keys in the manifest), hex_decode,
// and compute_version_hash.
//
// Input: a mode byte, then the bytes that mode decodes.
//
// Invariants:
//   0 versions  decode_versions accepts exactly what a reference decoder of
//               the format accepts (count, then count of machine id (bytes)
//               and counter; varints are LEB128 as everywhere on the wire:
//               at most 10 digits and a value below 2^64, non-minimal digits
//               allowed; nothing after; the empty string is the empty
//               vector, as a block never written has), with the same value
//               (a machine listed twice: the last counter). What decodes
//               re-encodes to bytes that decode to the same vector, and to
//               the input itself when the input is canonical (minimal
//               varints, machine ids strictly ascending, not empty).
//               A vector made from the input encodes and decodes back.
//   1 base64    base64_decode_data accepts exactly the texts that are the
//               encoding (append_base64) of what they decode to: one
//               encoding per blob. libsodium's base64_decode accepts those
//               too, with the same bytes. Any bytes encode (both encoders
//               agree) and decode back.
//   2 hex       hex_decode accepts exactly even-length strings of hex
//               digits, and hex_encode of the result is the input in lower
//               case; any bytes encode and decode back.
//   3 hash      compute_version_hash over two blocks made from the input:
//               the same when the blocks differ only in seq and
//               version_hash, different when any hashed field differs (the
//               encoding is injective on valid blocks: times >= 0, which
//               every decoder and import enforce; a deleted_at of -1 would
//               encode as "not deleted").
#include <algorithm>
#include <optional>

#include "blk/block.hpp"
#include "blk/encoding.hpp"
#include "fuzz_common.hpp"

using namespace blk;

namespace {

// ---- mode 0: version vectors ----

struct Leb {
  std::uint64_t value = 0;
  bool minimal = true;
};

// LEB128 as sync::Reader reads it: at most 10 digits, below 2^64.
std::optional<Leb> ref_varint(std::string_view& in) {
  Leb out;
  for (int i = 0; i < 10; ++i) {
    if (in.empty()) return std::nullopt;
    auto byte = static_cast<unsigned char>(in.front());
    in.remove_prefix(1);
    if (i == 9 && byte > 1) return std::nullopt;  // bits beyond 64
    out.value |= std::uint64_t{byte & 0x7fu} << (7 * i);
    if (!(byte & 0x80)) {
      out.minimal = i == 0 || byte != 0;
      return out;
    }
  }
  return std::nullopt;
}

struct RefVersions {
  VersionVector vv;
  bool canonical = true;
};

std::optional<RefVersions> ref_decode_versions(std::string_view in) {
  RefVersions r;
  if (in.empty()) {
    r.canonical = false;  // encode_versions writes a count even for none
    return r;
  }
  auto n = ref_varint(in);
  if (!n) return std::nullopt;
  r.canonical = n->minimal;
  std::optional<std::string> last;
  for (std::uint64_t i = 0; i < n->value; ++i) {
    auto len = ref_varint(in);
    if (!len || len->value > in.size()) return std::nullopt;
    std::string machine(in.substr(0, len->value));
    in.remove_prefix(len->value);
    auto counter = ref_varint(in);
    if (!counter) return std::nullopt;
    r.canonical = r.canonical && len->minimal && counter->minimal && (!last || *last < machine);
    last = machine;
    r.vv[std::move(machine)] = counter->value;
  }
  if (!in.empty()) return std::nullopt;
  return r;
}

std::string vv_text(const VersionVector& vv) {
  std::string out = "{";
  for (const auto& [m, c] : vv) out += fuzz::hex(m, 16) + ":" + std::to_string(c) + " ";
  return out + "}";
}

void check_versions(std::string_view in) {
  auto got = decode_versions(in);
  auto want = ref_decode_versions(in);
  FUZZ_CHECK(bool(got) == want.has_value(), "decode_versions %s what the format %s: %s",
             got ? "accepted" : "refused", want ? "allows" : "forbids", fuzz::hex(in, 96).c_str());
  if (got) {
    FUZZ_CHECK(*got == want->vv, "decode_versions read %s, the format says %s",
               vv_text(*got).c_str(), vv_text(want->vv).c_str());
    std::string again = encode_versions(*got);
    auto back = decode_versions(again);
    FUZZ_CHECK(back && *back == *got, "a decoded vector does not survive re-encoding");
    FUZZ_CHECK(!want->canonical || again == in, "a canonical encoding re-encodes differently: %s",
               fuzz::hex(in, 96).c_str());
  } else {
    FUZZ_CHECK(got.error().code == Code::store_unusable, "error code %d",
               static_cast<int>(got.error().code));
  }

  // A vector made from the input: machine ids of 0..15 bytes, counters of
  // up to 8 bytes.
  VersionVector made;
  for (std::string_view s = in; s.size() >= 2;) {
    std::size_t len = static_cast<unsigned char>(s[0]) % 16, clen = s[1] % 9u;
    s.remove_prefix(2);
    if (s.size() < len + clen) break;
    std::uint64_t counter = 0;
    for (std::size_t i = 0; i < clen; ++i)
      counter = counter << 8 | static_cast<unsigned char>(s[len + i]);
    made[std::string(s.substr(0, len))] = counter;
    s.remove_prefix(len + clen);
  }
  std::string enc = encode_versions(made);
  auto dec = decode_versions(enc);
  FUZZ_CHECK(dec && *dec == made, "encode_versions(%s) does not decode back",
             vv_text(made).c_str());
  auto ref = ref_decode_versions(enc);
  FUZZ_CHECK(ref && ref->canonical, "encode_versions wrote a non-canonical encoding");
}

// ---- mode 1: base64 ----

void check_base64(std::string_view in) {
  auto data = base64_decode_data(in);
  std::string re;
  if (data) append_base64(re, *data);
  // Accepted exactly when the input is the encoding of what it decodes to.
  // (A text that decodes to nothing is "" itself, whose encoding is "".)
  FUZZ_CHECK(!data || re == in, "base64_decode_data accepted %s, whose bytes encode as %s",
             fuzz::hex(in).c_str(), fuzz::hex(re).c_str());
  if (!data) {
    FUZZ_CHECK(data.error().code == Code::invalid_input, "error code %d",
               static_cast<int>(data.error().code));
  }
  auto keyish = base64_decode(in);
  if (data)
    FUZZ_CHECK(keyish && *keyish == *data,
               "libsodium's decoder disagrees with the blob decoder on %s", fuzz::hex(in).c_str());
  if (keyish) {
    // What libsodium accepts is the canonical encoding too (it checks the
    // padding and the unused bits), so the blob decoder must accept it.
    FUZZ_CHECK(data, "libsodium accepted %s, the blob decoder refused it", fuzz::hex(in).c_str());
  }

  // Any bytes: both encoders agree, and the text decodes back.
  std::string enc;
  append_base64(enc, in);
  FUZZ_CHECK(enc == base64_encode(in), "the two base64 encoders disagree on %s",
             fuzz::hex(in).c_str());
  auto back = base64_decode_data(enc);
  FUZZ_CHECK(back && *back == in, "append_base64's output does not decode back");
  auto back2 = base64_decode(enc);
  FUZZ_CHECK(back2 && *back2 == in, "base64_encode's output does not decode back");
}

// ---- mode 2: hex ----

void check_hex(std::string_view in) {
  auto is_hex = [](char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  };
  bool valid = in.size() % 2 == 0 && std::all_of(in.begin(), in.end(), is_hex);
  auto got = hex_decode(in);
  FUZZ_CHECK(got.has_value() == valid, "hex_decode %s %s", got ? "accepted" : "refused",
             fuzz::hex(in).c_str());
  if (got) {
    std::string lower(in);
    for (auto& c : lower)
      if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
    FUZZ_CHECK(hex_encode(*got) == lower, "hex_encode(hex_decode(x)) is not x in lower case");
  }
  auto back = hex_decode(hex_encode(in));
  FUZZ_CHECK(back && *back == in, "hex_encode's output does not decode back");
}

// ---- mode 3: version hash ----

// Draws fields from the input; zeros once it runs out.
class Draw {
 public:
  explicit Draw(std::string_view in) : in_(in) {}
  std::uint64_t byte() {
    if (in_.empty()) return 0;
    auto b = static_cast<unsigned char>(in_.front());
    in_.remove_prefix(1);
    return b;
  }
  std::uint64_t num(int bytes) {
    std::uint64_t v = 0;
    for (int i = 0; i < bytes; ++i) v = v << 8 | byte();
    return v;
  }
  std::string str(std::size_t max) {
    std::size_t n = std::min<std::size_t>(byte() % (max + 1), in_.size());
    std::string s(in_.substr(0, n));
    in_.remove_prefix(n);
    return s;
  }
  Millis time() { return static_cast<Millis>(num(8) >> 1); }  // >= 0

 private:
  std::string_view in_;
};

Block make_block(Draw& d) {
  Block b;
  b.id = d.str(12);
  b.type = d.str(8);
  b.created_at = d.time();
  b.modified_at = d.time();
  if (d.byte() & 1) b.deleted_at = d.time();
  b.schema = static_cast<std::uint32_t>(d.num(4));
  b.modified_by = d.str(8);
  for (auto n = d.byte() % 4; n > 0; --n) b.versions[d.str(6)] = d.num(2);
  b.blob = d.str(24);
  b.seq = static_cast<std::int64_t>(d.num(2));
  return b;
}

bool same_hashed_fields(const Block& a, const Block& b) {
  return a.id == b.id && a.type == b.type && a.created_at == b.created_at &&
         a.modified_at == b.modified_at && a.deleted_at == b.deleted_at && a.schema == b.schema &&
         a.modified_by == b.modified_by && a.versions == b.versions && a.blob == b.blob;
}

void check_hash(std::string_view in) {
  Draw d(in);
  Block a = make_block(d);
  Block b = a;
  // Change one field (or none), as the input says.
  switch (d.byte() % 12) {
    case 0:
      b.id = d.str(12);
      break;
    case 1:
      b.type = d.str(8);
      break;
    case 2:
      b.created_at = d.time();
      break;
    case 3:
      b.modified_at = d.time();
      break;
    case 4:
      b.deleted_at = d.byte() & 1 ? std::optional<Millis>(d.time()) : std::nullopt;
      break;
    case 5:
      b.schema = static_cast<std::uint32_t>(d.num(4));
      break;
    case 6:
      b.modified_by = d.str(8);
      break;
    case 7:
      b.versions[d.str(6)] = d.num(2);
      break;
    case 8:
      b.blob = d.str(24);
      break;
    case 9:
      b.versions.clear();
      break;
    case 10:
      std::swap(b.id, b.type);
      break;
    default:
      b.seq = static_cast<std::int64_t>(d.num(2));
      b.version_hash = d.str(32);
  }
  std::string ha = compute_version_hash(a), hb = compute_version_hash(b);
  FUZZ_CHECK(ha.size() == 32, "a version hash of %zu bytes", ha.size());
  FUZZ_CHECK(ha == compute_version_hash(a), "the version hash is not a function of the block");
  if (same_hashed_fields(a, b))
    FUZZ_CHECK(ha == hb, "two blocks that differ only in seq or version_hash hash differently");
  else
    FUZZ_CHECK(ha != hb, "two different blocks share a version hash (an ambiguous encoding)");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::init_sodium();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      check_versions(in);
      break;
    case 1:
      check_base64(in);
      break;
    case 2:
      check_hex(in);
      break;
    default:
      check_hash(in);
      break;
  }
  return 0;
}
