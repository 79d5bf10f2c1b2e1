// Fuzz target: the sync messages a peer sends, blk::sync::parse and the
// decoders of lib/blk/sync/messages.hpp (decode_hello, decode_mark,
// decode_request, decode_wants, decode_offers, decode_blobs), with the
// encoders and builders to re-encode what they accept; and the varint
// Reader of lib/blk/sync/codec.hpp.
//
// Input: one channel message as the sync layer gets it (a varint type, then
// the body). If parse() accepts it, its body is the decoders' input, else
// the whole input is; every decoder runs on it (whatever the type), so each
// sees every input.
//
// Invariants:
//   grammar   Each decoder accepts exactly the bodies that a reference
//             decoder written here from the grammar in man 7 blk-protocol
//             accepts (LEB128 varints, as the Reader below; times and seqs
//             <= INT64_MAX; blob present 0 or 1; flags of offers (1|2) and
//             marks (1 final, 2 phase end) with no other bits; schema 32
//             bits; the size limits below; an offer's version vector as
//             decode_versions reads it), and reads the same value.
//   Reader    varint() agrees with a reference LEB128 decoder (any digits,
//             at most 10, value below 2^64; non-minimal encodings such as
//             80 00 are accepted, as the man page does not forbid them) on
//             success, value and bytes consumed, read after read over the
//             whole input; a failed read poisons the reader (0, empty, !ok).
//   parse     accepts exactly the inputs whose first varint is 16..23; the
//             body is the rest of the input; type || body parses the same.
//   decoders  What decodes is within bounds: hello version != 0, epochs
//             <= 64 bytes, seqs/times/cursor >= 0; offers' id and type <=
//             255 bytes, blob <= 16 MiB and empty unless inline, version
//             hash exactly 32 bytes, modified_by exactly 32 lowercase hex
//             digits; request hashes exactly 32 bytes; a blob reply's blob
//             <= 16 MiB and empty unless present. Counts never exceed what
//             the body can hold: 1 + n * (smallest entry) <= body size, the
//             smallest entry being 1 byte (wants), 32 (request), 2 (blobs)
//             and 56 (offers: seq, flags, id, type, two times, schema,
//             machine id 16, vector length, hash 32).
//   round trip  The value re-encoded with encode()/encode_*/OffersBuilder/
//             BlobsBuilder is a message that parse() gives the right type
//             and whose body decodes to the same value, field by field
//             (a block's seq is not on the wire). The re-encoding is
//             canonical: re-encoding its decoding gives the same bytes
//             (that covers hello fields added later, too). It is never
//             longer than the body decoded (varints become minimal, unknown
//             hello flag bits and trailing hello bytes go), except that an
//             offer's empty version vector (0 bytes) becomes the 1-byte
//             count 0: offers may grow by at most one byte an offer.
//   framing   Hello ignores trailing bytes (a later version may append
//             fields): the canonical body plus any tail decodes to the same
//             hello. Every other body must end exactly: one more byte is
//             refused. No strict prefix of a canonical body decodes.
//   builders  count() counts the entries added, finish() empties the
//             builder.
//   encoders  The other way round, values drawn from the input bytes (within
//             the limits above; modified_by as a store writes it, 32 hex
//             digits): each message encoded from them decodes to the same
//             value, an offer's blob only if inline.
#include <algorithm>
#include <optional>

#include "blk/encoding.hpp"
#include "blk/sync/codec.hpp"
#include "blk/sync/messages.hpp"
#include "fuzz_common.hpp"

using namespace blk;
using namespace blk::sync;

namespace {

constexpr std::size_t kMaxEpoch = 64;
constexpr std::size_t kHash = 32;

// ---- the Reader against a reference LEB128 decoder ----

// LEB128, least significant digit first, up to 10 digits; the value must
// fit 64 bits. Returns the value and the bytes consumed.
std::optional<std::pair<std::uint64_t, std::size_t>> ref_leb128(std::string_view in) {
  std::uint64_t v = 0;
  for (std::size_t i = 0; i < in.size() && i < 10; ++i) {
    std::uint64_t digit = static_cast<unsigned char>(in[i]) & 0x7fu;
    unsigned shift = static_cast<unsigned>(7 * i);
    if (shift == 63 && digit > 1) return std::nullopt;  // bits past 64
    v |= digit << shift;
    if (!(static_cast<unsigned char>(in[i]) & 0x80)) return std::pair{v, i + 1};
  }
  return std::nullopt;
}

void check_reader(std::string_view in) {
  Reader r(in);
  std::string_view rest = in;
  while (!rest.empty()) {
    auto want = ref_leb128(rest);
    std::uint64_t got = r.varint();
    FUZZ_CHECK(r.ok() == want.has_value(), "Reader %s a varint the reference %s: %s",
               r.ok() ? "accepted" : "refused", want ? "accepts" : "refuses",
               fuzz::hex(rest, 12).c_str());
    if (!want) break;
    FUZZ_CHECK(got == want->first, "Reader read %llu, the reference %llu",
               static_cast<unsigned long long>(got), static_cast<unsigned long long>(want->first));
    std::size_t before = rest.size();
    rest.remove_prefix(want->second);
    FUZZ_CHECK(r.remaining() == rest.size(), "Reader consumed %zu bytes, the reference %zu",
               before - r.remaining(), want->second);
    std::string enc;
    put_varint(enc, got);
    FUZZ_CHECK(enc.size() <= want->second, "minimal encoding longer than the one read");
    Reader back(enc);
    FUZZ_CHECK(back.varint() == got && back.ok() && back.at_end(), "put_varint does not read back");
  }
  if (!r.ok()) {
    FUZZ_CHECK(r.varint() == 0 && r.raw(0).empty() && !r.ok(), "a failed Reader recovered");
  } else {
    FUZZ_CHECK(r.at_end(), "Reader stopped early");
  }
}

// ---- values compared field by field ----

bool same(const Hello& a, const Hello& b) {
  return a.version == b.version && a.epoch == b.epoch && a.max_seq == b.max_seq &&
         a.full == b.full && a.watch == b.watch && a.negentropy_follows == b.negentropy_follows &&
         a.cursor_epoch == b.cursor_epoch && a.cursor == b.cursor;
}
bool same(const Mark& a, const Mark& b) {
  return a.seq == b.seq && a.final == b.final && a.phase_end == b.phase_end;
}
bool same(const Offer& a, const Offer& b) {
  const Block &x = a.block, &y = b.block;
  return a.seq == b.seq && a.blob_inline == b.blob_inline && x.id == y.id && x.type == y.type &&
         x.created_at == y.created_at && x.modified_at == y.modified_at &&
         x.deleted_at == y.deleted_at && x.schema == y.schema && x.modified_by == y.modified_by &&
         x.versions == y.versions && x.version_hash == y.version_hash && x.blob == y.blob;
}
bool same(const BlobReply& a, const BlobReply& b) {
  return a.seq == b.seq && a.present == b.present && a.blob == b.blob;
}
bool same(const std::string& a, const std::string& b) {
  return a == b;
}
bool same(std::int64_t a, std::int64_t b) {
  return a == b;
}
template <class T>
bool same(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!same(a[i], b[i])) return false;
  return true;
}

// ---- one message kind: decoder, encoder, limits ----

// The body of an encoded message of type `type` (checks that it parses so).
std::string_view body_of(std::string_view msg, MessageType type, const char* what) {
  auto p = parse(msg);
  FUZZ_CHECK(p && p->type == type, "the re-encoded %s does not parse as one", what);
  return p->body;
}

// The round trip, canonical form and framing checks for a decoded value.
// `decode` takes a body; `encode` gives a whole message.
template <class T, class Decode, class Encode>
void round_trip(const char* what, MessageType type, std::string_view body, const T& value,
                Decode decode, Encode encode, std::size_t growth, bool trailing_ok,
                std::string_view tail) {
  std::string msg = encode(value);
  std::string_view eb = body_of(msg, type, what);
  auto again = decode(eb);
  FUZZ_CHECK(again, "the re-encoded %s does not decode: %s (%s)", what,
             again ? "" : again.error().message.c_str(), fuzz::hex(eb).c_str());
  FUZZ_CHECK(same(*again, value), "the re-encoded %s decodes to another value (%s)", what,
             fuzz::hex(eb).c_str());
  FUZZ_CHECK(encode(*again) == msg, "the re-encoded %s is not canonical", what);
  FUZZ_CHECK(eb.size() <= body.size() + growth,
             "the re-encoded %s is %zu bytes, from %zu (growth allowed %zu)", what, eb.size(),
             body.size(), growth);
  std::string longer(eb);
  longer += tail.empty() ? std::string_view("\x01", 1) : tail;
  auto with_tail = decode(longer);
  if (trailing_ok) {
    FUZZ_CHECK(with_tail && same(*with_tail, value), "a %s with trailing bytes changed", what);
  } else {
    FUZZ_CHECK(!with_tail, "a %s with trailing bytes was accepted", what);
  }
  if (!eb.empty()) {
    std::size_t cut = (body.size() + tail.size()) % eb.size();
    FUZZ_CHECK(!decode(eb.substr(0, cut)), "the first %zu of %zu bytes of a %s decode", cut,
               eb.size(), what);
  }
}

bool is_lower_hex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// ---- reference decoders, from the grammar in man 7 blk-protocol ----

// Reads the grammar's pieces with the reference LEB128 decoder; any
// failure sticks.
class Grammar {
 public:
  explicit Grammar(std::string_view in) : in_(in) {}
  std::uint64_t num(std::uint64_t max = UINT64_MAX) {
    auto v = ok_ ? ref_leb128(in_) : std::nullopt;
    if (!v || v->first > max) return fail(), 0;
    in_.remove_prefix(v->second);
    return v->first;
  }
  std::int64_t time() { return static_cast<std::int64_t>(num(INT64_MAX)); }  // times and seqs
  bool flag() { return num(1) == 1; }                                        // "0 or 1"
  std::string raw(std::size_t n) {
    if (!ok_ || in_.size() < n) return fail(), std::string();
    std::string out(in_.substr(0, n));
    in_.remove_prefix(n);
    return out;
  }
  std::string bytes(std::size_t max) {
    std::uint64_t n = num(max);
    return raw(static_cast<std::size_t>(n));
  }
  bool done() const { return ok_ && in_.empty(); }  // a strict body ends here
  bool ok() const { return ok_; }
  void fail() { ok_ = false; }

 private:
  std::string_view in_;
  bool ok_ = true;
};

constexpr std::size_t kMaxVector = 64 * 1024;  // an offer's version vector, encoded

// Hello: version (1 byte, not 0: later versions are read alike), epoch
// (<= 64 bytes), max seq, flags (any; bits 1 full, 2 watch, 4 negentropy
// follows), cursor epoch (<= 64 bytes), cursor seq; anything after is a
// later version's.
std::optional<Hello> ref_hello(std::string_view body) {
  Grammar g(body);
  Hello h;
  std::string v = g.raw(1);
  h.version = v.empty() ? 0 : static_cast<std::uint8_t>(v[0]);
  h.epoch = g.bytes(kMaxEpoch);
  h.max_seq = g.time();
  std::uint64_t flags = g.num();
  h.full = flags & 1;
  h.watch = flags & 2;
  h.negentropy_follows = flags & 4;
  h.cursor_epoch = g.bytes(kMaxEpoch);
  h.cursor = g.time();
  if (!g.ok() || h.version == 0) return std::nullopt;
  return h;
}

std::optional<Mark> ref_mark(std::string_view body) {
  Grammar g(body);
  Mark m;
  m.seq = g.time();
  std::uint64_t flags = g.num(3);  // 1 final, 2 phase end
  m.final = flags & 1;
  m.phase_end = flags & 2;
  return g.done() ? std::optional(m) : std::nullopt;
}

std::optional<std::vector<std::string>> ref_request(std::string_view body) {
  Grammar g(body);
  std::vector<std::string> out;
  for (std::uint64_t n = g.num(); g.ok() && n > 0; --n) out.push_back(g.raw(kHash));
  return g.done() ? std::optional(out) : std::nullopt;
}

std::optional<std::vector<std::int64_t>> ref_wants(std::string_view body) {
  Grammar g(body);
  std::vector<std::int64_t> out;
  for (std::uint64_t n = g.num(); g.ok() && n > 0; --n) out.push_back(g.time());
  return g.done() ? std::optional(out) : std::nullopt;
}

std::optional<std::vector<BlobReply>> ref_blobs(std::string_view body) {
  Grammar g(body);
  std::vector<BlobReply> out;
  for (std::uint64_t n = g.num(); g.ok() && n > 0; --n) {
    BlobReply r;
    r.seq = g.time();
    r.present = g.flag();
    if (r.present) r.blob = g.bytes(kMaxBlobBytes);
    out.push_back(std::move(r));
  }
  return g.done() ? std::optional(out) : std::nullopt;
}

// An offer: seq, flags (1 blob inline, 2 deleted; no others), id and type
// (bytes, <= 255), created at, modified at, deleted at (if deleted), schema
// (32 bits), modified by (16 bytes), version vector (bytes, <= 64 KiB, read
// by decode_versions: its own format), version hash (32 bytes), blob (bytes,
// <= 16 MiB, if inline).
std::optional<std::vector<Offer>> ref_offers(std::string_view body) {
  static const char* digits = "0123456789abcdef";
  Grammar g(body);
  std::vector<Offer> out;
  for (std::uint64_t n = g.num(); g.ok() && n > 0; --n) {
    Offer o;
    Block& b = o.block;
    o.seq = g.time();
    std::uint64_t flags = g.num(3);
    o.blob_inline = flags & 1;
    b.id = g.bytes(kMaxIdBytes);
    b.type = g.bytes(kMaxIdBytes);
    b.created_at = g.time();
    b.modified_at = g.time();
    if (flags & 2) b.deleted_at = g.time();
    b.schema = static_cast<std::uint32_t>(g.num(UINT32_MAX));
    for (unsigned char c : g.raw(16)) {
      b.modified_by += digits[c >> 4];
      b.modified_by += digits[c & 15];
    }
    auto vv = decode_versions(g.bytes(kMaxVector));
    if (!vv)
      g.fail();
    else
      b.versions = std::move(*vv);
    b.version_hash = g.raw(kHash);
    if (o.blob_inline) b.blob = g.bytes(kMaxBlobBytes);
    out.push_back(std::move(o));
  }
  return g.done() ? std::optional(out) : std::nullopt;
}

// The decoder accepts exactly what the reference accepts, with the same value.
template <class T, class R>
void agrees(const char* what, const Result<T>& got, const std::optional<R>& want,
            std::string_view body) {
  FUZZ_CHECK(bool(got) == want.has_value(), "decode_%s %s a body the grammar %s: %s", what,
             got ? "accepted" : "refused", want ? "allows" : "forbids",
             fuzz::hex(body, 96).c_str());
  if (got) FUZZ_CHECK(same(*got, *want), "decode_%s read another value than the grammar", what);
}

void check_hello(std::string_view body, std::string_view tail) {
  auto h = decode_hello(body);
  agrees("hello", h, ref_hello(body), body);
  if (!h) return;
  FUZZ_CHECK(h->version != 0, "hello version 0");
  FUZZ_CHECK(h->epoch.size() <= kMaxEpoch && h->cursor_epoch.size() <= kMaxEpoch,
             "hello epochs of %zu and %zu bytes", h->epoch.size(), h->cursor_epoch.size());
  FUZZ_CHECK(h->max_seq >= 0 && h->cursor >= 0, "a negative hello seq");
  round_trip(
      "hello", MessageType::hello, body, *h, decode_hello, [](const Hello& v) { return encode(v); },
      0, true, tail);
}

void check_mark(std::string_view body, std::string_view tail) {
  auto m = decode_mark(body);
  agrees("mark", m, ref_mark(body), body);
  if (!m) return;
  FUZZ_CHECK(m->seq >= 0, "a negative mark seq");
  round_trip("mark", MessageType::mark, body, *m, decode_mark, encode_mark, 0, false, tail);
}

void check_request(std::string_view body, std::string_view tail) {
  auto r = decode_request(body);
  agrees("request", r, ref_request(body), body);
  if (!r) return;
  FUZZ_CHECK(1 + r->size() * kHash <= body.size(), "%zu hashes in %zu bytes", r->size(),
             body.size());
  for (const auto& h : *r) FUZZ_CHECK(h.size() == kHash, "a %zu-byte hash", h.size());
  round_trip("request", MessageType::request, body, *r, decode_request, encode_request, 0, false,
             tail);
}

void check_wants(std::string_view body, std::string_view tail) {
  auto w = decode_wants(body);
  agrees("wants", w, ref_wants(body), body);
  if (!w) return;
  FUZZ_CHECK(1 + w->size() <= body.size(), "%zu wants in %zu bytes", w->size(), body.size());
  for (auto s : *w) FUZZ_CHECK(s >= 0, "a negative wanted seq");
  round_trip("wants", MessageType::wants, body, *w, decode_wants, encode_wants, 0, false, tail);
}

void check_offers(std::string_view body, std::string_view tail) {
  auto offers = decode_offers(body);
  agrees("offers", offers, ref_offers(body), body);
  if (!offers) return;
  constexpr std::size_t kSmallestOffer = 1 + 1 + 1 + 1 + 1 + 1 + 1 + 16 + 1 + kHash;
  FUZZ_CHECK(1 + offers->size() * kSmallestOffer <= body.size(), "%zu offers in %zu bytes",
             offers->size(), body.size());
  for (const auto& o : *offers) {
    const Block& b = o.block;
    FUZZ_CHECK(o.seq >= 0 && b.created_at >= 0 && b.modified_at >= 0 &&
                   (!b.deleted_at || *b.deleted_at >= 0),
               "a negative seq or time in an offer");
    FUZZ_CHECK(b.id.size() <= kMaxIdBytes && b.type.size() <= kMaxIdBytes,
               "an offer's id/type of %zu/%zu bytes", b.id.size(), b.type.size());
    FUZZ_CHECK(b.blob.size() <= kMaxBlobBytes, "an offered blob of %zu bytes", b.blob.size());
    FUZZ_CHECK(o.blob_inline || b.blob.empty(), "a blob in an offer without one inline");
    FUZZ_CHECK(b.version_hash.size() == kHash, "a %zu-byte version hash", b.version_hash.size());
    FUZZ_CHECK(b.modified_by.size() == 32 && is_lower_hex(b.modified_by),
               "modified_by '%s' is not 32 hex digits", b.modified_by.c_str());
    FUZZ_CHECK(b.seq == 0, "an offer's block has a seq (not on the wire)");
  }
  auto build = [](const std::vector<Offer>& v) {
    OffersBuilder ob;
    for (const auto& o : v) ob.add(o);
    FUZZ_CHECK(ob.count() == v.size(), "OffersBuilder counted %zu of %zu", ob.count(), v.size());
    std::string msg = ob.finish();
    FUZZ_CHECK(ob.count() == 0 && ob.bytes() == 0, "finish() left the OffersBuilder non-empty");
    return msg;
  };
  round_trip("offers", MessageType::offers, body, *offers, decode_offers, build, offers->size(),
             false, tail);
}

void check_blobs(std::string_view body, std::string_view tail) {
  auto replies = decode_blobs(body);
  agrees("blobs", replies, ref_blobs(body), body);
  if (!replies) return;
  FUZZ_CHECK(1 + replies->size() * 2 <= body.size(), "%zu blob replies in %zu bytes",
             replies->size(), body.size());
  for (const auto& r : *replies) {
    FUZZ_CHECK(r.seq >= 0, "a negative blob seq");
    FUZZ_CHECK(r.blob.size() <= kMaxBlobBytes, "a blob of %zu bytes", r.blob.size());
    FUZZ_CHECK(r.present || r.blob.empty(), "a blob that is not present has bytes");
  }
  auto build = [](const std::vector<BlobReply>& v) {
    BlobsBuilder bb;
    for (const auto& r : v) bb.add(r.seq, r.present ? std::optional(r.blob) : std::nullopt);
    FUZZ_CHECK(bb.count() == v.size(), "BlobsBuilder counted %zu of %zu", bb.count(), v.size());
    std::string msg = bb.finish();
    FUZZ_CHECK(bb.count() == 0 && bb.bytes() == 0, "finish() left the BlobsBuilder non-empty");
    return msg;
  };
  round_trip("blobs", MessageType::blobs, body, *replies, decode_blobs, build, 0, false, tail);
}

// ---- values first: what we encode decodes to the same ----

// Draws values from the input (zeros once it is used up).
class Source {
 public:
  explicit Source(std::string_view in) : in_(in) {}
  unsigned u8() {
    if (in_.empty()) return 0;
    auto b = static_cast<unsigned char>(in_.front());
    in_.remove_prefix(1);
    return b;
  }
  std::uint64_t u64() {
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | u8();
    return v;
  }
  std::int64_t seq() {  // 0..INT64_MAX, small ones as likely as big ones
    unsigned shift = u8() % 63 + 1;
    return static_cast<std::int64_t>(u64() >> shift);
  }
  std::string str(std::size_t max) { return exact(std::min<std::size_t>(u8(), max)); }
  std::string exact(std::size_t n) {  // n bytes, zero-padded
    std::string out(in_.substr(0, std::min(n, in_.size())));
    in_.remove_prefix(out.size());
    out.resize(n, '\0');
    return out;
  }

 private:
  std::string_view in_;
};

template <class T, class Decode>
void decodes_to(const std::string& msg, MessageType type, Decode decode, const T& want,
                const char* what) {
  std::string_view body = body_of(msg, type, what);
  auto got = decode(body);
  FUZZ_CHECK(got, "an encoded %s does not decode: %s (%s)", what,
             got ? "" : got.error().message.c_str(), fuzz::hex(body).c_str());
  FUZZ_CHECK(same(*got, want), "an encoded %s decodes to another value (%s)", what,
             fuzz::hex(body).c_str());
}

void check_encoders(std::string_view in) {
  Source src(in);
  Hello h;
  h.version = static_cast<std::uint8_t>(src.u8() | 1);
  h.epoch = src.str(kMaxEpoch);
  h.max_seq = src.seq();
  unsigned flags = src.u8();
  h.full = flags & 1;
  h.watch = flags & 2;
  h.negentropy_follows = flags & 4;
  h.cursor_epoch = src.str(kMaxEpoch);
  h.cursor = src.seq();
  decodes_to(encode(h), MessageType::hello, decode_hello, h, "hello");

  Mark m;
  m.seq = src.seq();
  unsigned mark_flags = src.u8();
  m.final = mark_flags & 1;
  m.phase_end = mark_flags & 2;
  decodes_to(encode_mark(m), MessageType::mark, decode_mark, m, "mark");

  std::vector<std::int64_t> seqs(1 + src.u8() % 8);
  for (auto& x : seqs) x = src.seq();
  decodes_to(encode_wants(seqs), MessageType::wants, decode_wants, seqs, "wants");

  std::vector<std::string> hashes(1 + src.u8() % 4);
  for (auto& x : hashes) x = src.exact(kHash);
  decodes_to(encode_request(hashes), MessageType::request, decode_request, hashes, "request");

  // Offers as a store makes them (32 lowercase hex digits for modified_by);
  // a blob that is not inline is not sent.
  OffersBuilder ob;
  std::vector<Offer> offers(1 + src.u8() % 4), sent;
  for (auto& o : offers) {
    Block& b = o.block;
    o.seq = src.seq();
    unsigned f = src.u8();
    o.blob_inline = f & 1;
    if (f & 2) b.deleted_at = src.seq();
    b.id = src.str(kMaxIdBytes);
    b.type = src.str(kMaxIdBytes);
    b.created_at = src.seq();
    b.modified_at = src.seq();
    b.schema = static_cast<std::uint32_t>(src.u64());
    b.modified_by = hex_encode(src.exact(16));
    for (unsigned k = src.u8() % 3; k > 0; --k) b.versions[src.str(40)] = src.u64();
    b.version_hash = src.exact(kHash);
    b.blob = src.str(255);
    ob.add(o);
    sent.push_back(o);
    if (!o.blob_inline) sent.back().block.blob.clear();
  }
  decodes_to(ob.finish(), MessageType::offers, decode_offers, sent, "offers");

  BlobsBuilder bb;
  std::vector<BlobReply> replies(1 + src.u8() % 4);
  for (auto& r : replies) {
    r.seq = src.seq();
    r.present = src.u8() & 1;
    if (r.present) r.blob = src.str(255);
    bb.add(r.seq, r.present ? std::optional(r.blob) : std::nullopt);
  }
  decodes_to(bb.finish(), MessageType::blobs, decode_blobs, replies, "blobs");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fuzz::init_sodium();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  check_reader(in);

  std::string_view body = in;
  auto type = ref_leb128(in);
  bool known = type && type->first >= static_cast<std::uint64_t>(MessageType::hello) &&
               type->first <= static_cast<std::uint64_t>(MessageType::request_end);
  auto p = parse(in);
  FUZZ_CHECK(bool(p) == known, "parse %s a message of type %s", p ? "accepted" : "refused",
             type ? std::to_string(type->first).c_str() : "(no varint)");
  if (p) {
    FUZZ_CHECK(static_cast<std::uint64_t>(p->type) == type->first, "parse read another type");
    FUZZ_CHECK(
        p->body.data() == in.data() + type->second && p->body.size() == in.size() - type->second,
        "parse's body is not the rest of the message");
    std::string canon;
    put_varint(canon, type->first);
    canon += p->body;
    auto q = parse(canon);
    FUZZ_CHECK(q && q->type == p->type && q->body == p->body, "type || body parses differently");
    body = p->body;
  }
  // The tail appended to test framing: a few bytes of the input itself.
  std::string_view tail = in.substr(0, std::min<std::size_t>(in.size(), 3));
  check_hello(body, tail);
  check_mark(body, tail);
  check_request(body, tail);
  check_wants(body, tail);
  check_offers(body, tail);
  check_blobs(body, tail);
  check_encoders(in);
  return 0;
}
