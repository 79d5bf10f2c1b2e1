// Negentropy: range-based set reconciliation, Protocol V1
// (hoytech/negentropy, docs/negentropy-protocol-v1.md), wire-compatible with
// the reference implementations. Sans-I/O: each side is fed a message and
// returns the next one; the caller carries the bytes.
//
// Each side holds a set of items (a timestamp and a 32-byte id). The
// initiator learns which ids it has that the responder lacks ("have") and
// which the responder has that it lacks ("need"); the responder learns
// nothing and keeps no state between messages.
//
//   Message     = version (0x61) Range*
//   Range       = Bound mode:Varint (Skip | Fingerprint:16 bytes | IdList)
//   IdList      = count:Varint Id*
//   Bound       = timestamp:Varint idPrefixLength:Varint idPrefix
//   Fingerprint = first 16 bytes of SHA-256(sum of ids mod 2^256, as 32 bytes
//                 little-endian || Varint(count))
//
// The peer is not trusted: every malformed message is an Error
// (Code::failure, "negentropy: ..."), and nothing is allocated from a length
// field before the bytes it promises have been seen to be there.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "blk/error.hpp"

namespace blk::negentropy {

inline constexpr unsigned char kProtocolVersion = 0x61;
inline constexpr std::size_t kIdSize = 32;
inline constexpr std::size_t kFingerprintSize = 16;
// The smallest frame size limit the protocol allows (0 means unlimited).
inline constexpr std::uint64_t kMinFrameSizeLimit = 4096;
// Reserved by the protocol as the end of the timestamp space.
inline constexpr std::uint64_t kInfinity = UINT64_MAX;

using Id = std::array<unsigned char, kIdSize>;
using Fingerprint = std::array<unsigned char, kFingerprintSize>;

// Ordered by timestamp, then by id bytes: the order both sides sort in.
struct Item {
  std::uint64_t timestamp = 0;
  Id id{};
  friend auto operator<=>(const Item&, const Item&) = default;
};

// Varints as the protocol writes them: base 128, most significant digit
// first, as few digits as possible.
void append_varint(std::string& out, std::uint64_t value);
// Reads one varint from the front of `in` and advances it. An error if `in`
// ends inside it, if it does not fit 64 bits, or if it is not minimal (a
// leading zero digit): every value has one encoding.
Result<std::uint64_t> read_varint(std::string_view& in);

// The items of one side, in a flat sorted vector (40 bytes an item, no
// allocation per item). Fill it with insert(), then seal() it; only a sealed
// storage can be reconciled, and it must not change while a Reconciler uses it.
class Storage {
 public:
  void reserve(std::size_t n) { items_.reserve(n); }
  // An error after seal(), for the reserved timestamp kInfinity, or (the
  // string_view form) for an id that is not exactly kIdSize bytes.
  Result<void> insert(std::uint64_t timestamp, const Id& id);
  Result<void> insert(std::uint64_t timestamp, std::string_view id);
  // Sorts the items. Exact duplicates (same timestamp and id) are dropped, so
  // inserting an item twice is harmless; the same id under two timestamps is
  // two items, as in every implementation. Sealing twice does nothing.
  void seal();

  bool sealed() const { return sealed_; }
  std::size_t size() const { return items_.size(); }
  const Item& operator[](std::size_t i) const { return items_[i]; }
  // The index of the first item not less than `bound`, searching [from, size)
  // (from <= size).
  std::size_t find_lower_bound(const Item& bound, std::size_t from = 0) const;
  // The fingerprint of the items [begin, end); requires begin <= end <= size.
  Fingerprint fingerprint(std::size_t begin, std::size_t end) const;

 private:
  std::vector<Item> items_;
  bool sealed_ = false;
};

// One side of one reconciliation. The first call fixes the role: initiate()
// makes it the initiator, a responder reconcile() the responder; mixing them
// is an error. The storage must outlive it.
class Reconciler {
 public:
  // `frame_size_limit` caps every message this side sends (0: no cap); the
  // protocol needs at least kMinFrameSizeLimit. Errors if the storage is not
  // sealed or the limit is too small.
  static Result<Reconciler> create(const Storage& storage, std::uint64_t frame_size_limit = 0);

  // Initiator: the first message.
  Result<std::string> initiate();

  // Responder: the reply to the initiator's message. A message of another
  // protocol version (0x60..0x6f) gets the one-byte reply kProtocolVersion,
  // as the spec asks, so the initiator can fall back.
  Result<std::string> reconcile(std::string_view query);

  // Initiator: processes the responder's reply, appending the 32-byte ids we
  // have and they lack to `have_ids` and those they have and we lack to
  // `need_ids`. Returns the next message to send, or std::nullopt when the
  // reconciliation is complete. A reply in another protocol version is an
  // error (we speak only V1).
  Result<std::optional<std::string>> reconcile(std::string_view query,
                                               std::vector<std::string>& have_ids,
                                               std::vector<std::string>& need_ids);

 private:
  enum class Role { unset, initiator, responder };
  Reconciler(const Storage& storage, std::uint64_t frame_size_limit)
      : storage_(&storage), frame_size_limit_(frame_size_limit) {}

  Result<std::string> process(std::string_view query, std::vector<std::string>* have_ids,
                              std::vector<std::string>* need_ids);
  bool exceeds_frame(std::size_t bytes) const;

  const Storage* storage_;
  std::uint64_t frame_size_limit_;
  Role role_ = Role::unset;
};

}  // namespace blk::negentropy
