#include "blk/sync/messages.hpp"

#include <fmt/format.h>

#include "blk/encoding.hpp"
#include "blk/sync/codec.hpp"

namespace blk::sync {
namespace {

constexpr std::size_t kMaxEpochBytes = 64;
constexpr std::size_t kMaxVectorBytes = 64 * 1024;
constexpr std::size_t kHashBytes = 32;
constexpr std::size_t kMachineIdBytes = 16;  // on the wire; 32 hex digits in a Block

constexpr std::uint64_t kBlobInline = 1, kDeleted = 2;  // offer flags

std::string with_type(MessageType type, std::string body) {
  std::string out;
  put_varint(out, static_cast<std::uint64_t>(type));
  out.append(body);
  return out;
}

Error malformed(std::string_view what) {
  return make_error(Code::failure, fmt::format("peer sent a malformed sync {} message", what));
}

// Times and seqs are non-negative int64 on our side; the wire carries them
// as varints, so anything above INT64_MAX is malformed.
std::int64_t get_int(Reader& r) {
  return static_cast<std::int64_t>(r.varint(static_cast<std::uint64_t>(INT64_MAX)));
}

}  // namespace

std::string encode(const Hello& h) {
  std::string b;
  b.push_back(static_cast<char>(h.version));
  put_bytes(b, h.epoch);
  put_varint(b, static_cast<std::uint64_t>(h.max_seq));
  put_varint(b, (h.full ? 1u : 0u) | (h.watch ? 2u : 0u) | (h.negentropy_follows ? 4u : 0u));
  put_bytes(b, h.cursor_epoch);
  put_varint(b, static_cast<std::uint64_t>(h.cursor));
  return with_type(MessageType::hello, std::move(b));
}

std::string encode_mark(const Mark& m) {
  std::string b;
  put_varint(b, static_cast<std::uint64_t>(m.seq));
  put_varint(b, (m.final ? 1u : 0u) | (m.phase_end ? 2u : 0u));
  return with_type(MessageType::mark, std::move(b));
}

std::string encode_negentropy(std::string_view msg) {
  return with_type(MessageType::negentropy, std::string(msg));
}

std::string encode_request(const std::vector<std::string>& hashes) {
  std::string b;
  put_varint(b, hashes.size());
  for (const auto& h : hashes) b.append(h);
  return with_type(MessageType::request, std::move(b));
}

std::string encode_request_end() {
  return with_type(MessageType::request_end, {});
}

std::string encode_wants(const std::vector<std::int64_t>& seqs) {
  std::string b;
  put_varint(b, seqs.size());
  for (auto s : seqs) put_varint(b, static_cast<std::uint64_t>(s));
  return with_type(MessageType::wants, std::move(b));
}

void OffersBuilder::add(const Offer& o) {
  const Block& b = o.block;
  put_varint(body_, static_cast<std::uint64_t>(o.seq));
  put_varint(body_, (o.blob_inline ? kBlobInline : 0) | (b.deleted() ? kDeleted : 0));
  put_bytes(body_, b.id);
  put_bytes(body_, b.type);
  put_varint(body_, static_cast<std::uint64_t>(b.created_at));
  put_varint(body_, static_cast<std::uint64_t>(b.modified_at));
  if (b.deleted()) put_varint(body_, static_cast<std::uint64_t>(*b.deleted_at));
  put_varint(body_, b.schema);
  // Machine ids are 32 hex digits in a store; 16 raw bytes on the wire.
  std::string by = hex_decode(b.modified_by).value_or(std::string(kMachineIdBytes, '\0'));
  body_.append(by);
  put_bytes(body_, encode_versions(b.versions));
  body_.append(b.version_hash);
  if (o.blob_inline) put_bytes(body_, b.blob);
  ++count_;
}

std::string OffersBuilder::finish() {
  std::string msg;
  put_varint(msg, static_cast<std::uint64_t>(MessageType::offers));
  put_varint(msg, count_);
  msg.append(body_);
  body_.clear();
  count_ = 0;
  return msg;
}

void BlobsBuilder::add(std::int64_t seq, const std::optional<std::string>& blob) {
  put_varint(body_, static_cast<std::uint64_t>(seq));
  put_varint(body_, blob ? 1 : 0);
  if (blob) put_bytes(body_, *blob);
  ++count_;
}

std::string BlobsBuilder::finish() {
  std::string msg;
  put_varint(msg, static_cast<std::uint64_t>(MessageType::blobs));
  put_varint(msg, count_);
  msg.append(body_);
  body_.clear();
  count_ = 0;
  return msg;
}

Result<Incoming> parse(std::string_view message) {
  Reader r(message);
  std::uint64_t type = r.varint();
  if (!r.ok() || type < static_cast<std::uint64_t>(MessageType::hello) ||
      type > static_cast<std::uint64_t>(MessageType::request_end))
    return make_error(Code::failure,
                      fmt::format("peer sent an unknown sync message type {}", type));
  return Incoming{static_cast<MessageType>(type), message.substr(message.size() - r.remaining())};
}

Result<Hello> decode_hello(std::string_view body) {
  Reader r(body);
  Hello h;
  auto version = r.raw(1);
  h.version = version.empty() ? 0 : static_cast<std::uint8_t>(version[0]);
  h.epoch = r.bytes(kMaxEpochBytes);
  h.max_seq = get_int(r);
  std::uint64_t flags = r.varint();
  h.full = flags & 1;
  h.watch = flags & 2;
  h.negentropy_follows = flags & 4;
  h.cursor_epoch = r.bytes(kMaxEpochBytes);
  h.cursor = get_int(r);
  // A later sync version may append fields: read what we know, ignore the rest.
  if (!r.ok() || h.version == 0) return malformed("hello");
  return h;
}

Result<Mark> decode_mark(std::string_view body) {
  Reader r(body);
  Mark m;
  m.seq = get_int(r);
  auto flags = r.varint(3);
  m.final = flags & 1;
  m.phase_end = flags & 2;
  if (!r.ok() || !r.at_end()) return malformed("mark");
  return m;
}

Result<std::vector<std::string>> decode_request(std::string_view body) {
  Reader r(body);
  auto n = r.varint(body.size() / kHashBytes);
  std::vector<std::string> hashes;
  hashes.reserve(n);
  for (std::uint64_t i = 0; i < n && r.ok(); ++i) hashes.emplace_back(r.raw(kHashBytes));
  if (!r.ok() || !r.at_end()) return malformed("request");
  return hashes;
}

Result<std::vector<std::int64_t>> decode_wants(std::string_view body) {
  Reader r(body);
  auto n = r.varint(body.size());
  std::vector<std::int64_t> seqs;
  seqs.reserve(n);
  for (std::uint64_t i = 0; i < n && r.ok(); ++i) seqs.push_back(get_int(r));
  if (!r.ok() || !r.at_end()) return malformed("wants");
  return seqs;
}

// The fewest bytes one entry can take on the wire: a count claiming more
// than the body could hold is refused before anything is reserved for it.
constexpr std::size_t kMinOfferBytes = 56, kMinBlobReplyBytes = 2;

Result<std::vector<Offer>> decode_offers(std::string_view body) {
  Reader r(body);
  auto n = r.varint(body.size() / kMinOfferBytes);
  std::vector<Offer> offers;
  offers.reserve(n);
  for (std::uint64_t i = 0; i < n && r.ok(); ++i) {
    Offer& o = offers.emplace_back();
    Block& b = o.block;
    o.seq = get_int(r);
    auto flags = r.varint(kBlobInline | kDeleted);
    o.blob_inline = flags & kBlobInline;
    b.id = r.bytes(kMaxIdBytes);
    b.type = r.bytes(kMaxIdBytes);
    b.created_at = get_int(r);
    b.modified_at = get_int(r);
    if (flags & kDeleted) b.deleted_at = get_int(r);
    b.schema = static_cast<std::uint32_t>(r.varint(UINT32_MAX));
    b.modified_by = hex_encode(r.raw(kMachineIdBytes));
    auto vv = decode_versions(r.bytes(kMaxVectorBytes));
    if (!vv)
      r.fail();
    else
      b.versions = std::move(*vv);
    b.version_hash = r.raw(kHashBytes);
    if (o.blob_inline) b.blob = r.bytes(kMaxBlobBytes);
  }
  if (!r.ok() || !r.at_end()) return malformed("offers");
  return offers;
}

Result<std::vector<BlobReply>> decode_blobs(std::string_view body) {
  Reader r(body);
  auto n = r.varint(body.size() / kMinBlobReplyBytes);
  std::vector<BlobReply> replies;
  replies.reserve(n);
  for (std::uint64_t i = 0; i < n && r.ok(); ++i) {
    BlobReply& reply = replies.emplace_back();
    reply.seq = get_int(r);
    reply.present = r.varint(1) == 1;
    if (reply.present) reply.blob = r.bytes(kMaxBlobBytes);
  }
  if (!r.ok() || !r.at_end()) return malformed("blobs");
  return replies;
}

}  // namespace blk::sync
