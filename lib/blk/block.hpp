// The Block: blk's unit of data. An app owns the blob; blk owns the rest.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "blk/error.hpp"

namespace blk {

// Milliseconds since the Unix epoch, UTC.
using Millis = std::int64_t;

// The largest blob a block may hold: 16 MiB. Bigger data belongs in files.
inline constexpr std::size_t kMaxBlobBytes = 16u << 20;

// Ids and types: 1 to 255 bytes of ASCII letters, digits and `-_.:@+=/`.
// The charset keeps ids safe in file names, URLs, shells and JSON unescaped.
inline constexpr std::size_t kMaxIdBytes = 255;

// A version vector: machine id -> that machine's counter. Empty for a block
// never written. Sync compares these to tell causality (DESIGN.md §7).
using VersionVector = std::map<std::string, std::uint64_t>;

struct Block {
  std::string id;
  std::string type;
  Millis created_at = 0;
  Millis modified_at = 0;
  std::optional<Millis> deleted_at;  // set: the block is a tombstone
  std::string blob;                  // opaque bytes, at most kMaxBlobBytes

  // Sync metadata. Local writes fill these in; sync reads them.
  std::uint32_t schema = 0;  // the app's version tag for the blob format
  std::string modified_by;   // machine id of the last writer
  VersionVector versions;
  std::string version_hash;  // 32 bytes over the canonical encoding
  std::int64_t seq = 0;      // local change sequence of the last commit

  bool deleted() const { return deleted_at.has_value(); }
};

// Checks an id (or type) against the charset and length above; `what` names
// it in the error ("id", "type"). Errors with Code::usage.
Result<void> validate_name(std::string_view what, std::string_view name);

// A fresh time-ordered id (UUIDv7, RFC 9562), lowercase with dashes.
std::string generate_id(Millis now);

// The wall clock in milliseconds.
Millis now_millis();

// Encodes a version vector compactly and canonically (sorted by machine id),
// and decodes it back; decode fails with Code::store_unusable on bad bytes.
std::string encode_versions(const VersionVector& vv);
Result<VersionVector> decode_versions(std::string_view bytes);

// The version hash: BLAKE2b-256 over a canonical encoding of every field but
// `seq` and `version_hash`. Two machines holding the same version agree on it.
std::string compute_version_hash(const Block& b);

}  // namespace blk
