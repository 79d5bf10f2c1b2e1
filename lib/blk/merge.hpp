// Versions and merge (DESIGN.md §7): how a store decides what to do with a
// version a peer sent. Pure functions of their inputs, so every machine
// decides the same way whoever merges first and in whatever order.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "blk/block.hpp"
#include "blk/error.hpp"

namespace blk {

// How far ahead of our clock a remote version's modified_at may be. Beyond
// it the version is refused (not applied, the peer keeps it and offers it
// again later): a machine whose clock runs a day fast must not win every
// last-write-wins merge for a day. Documented in blk-protocol(7).
inline constexpr Millis kMaxFutureSkew = 24 * 60 * 60 * 1000;

// The largest counter a remote version vector may hold (2^62): counters are
// seqs, and a store must be able to count on past any it receives.
inline constexpr std::uint64_t kMaxVersionCounter = std::uint64_t{1} << 62;

// Causal order of two version vectors.
enum class Causality {
  equal,       // the same history
  before,      // a happened before b: b dominates a
  after,       // b happened before a: a dominates b
  concurrent,  // neither saw the other
};
Causality compare_versions(const VersionVector& a, const VersionVector& b);

// Pointwise maximum: the vector of a version that has seen both.
VersionVector max_versions(const VersionVector& a, const VersionVector& b);

// Last-write-wins order: true if `a` beats `b` by (modified_at, then
// modified_by, then version_hash). A total order on distinct versions.
bool wins_lww(const Block& a, const Block& b);

// The merge of two concurrent versions (without a merge plugin): the
// last-write-wins winner's content with the pointwise-max vector and a
// recomputed hash. Symmetric: merge_lww(a, b) == merge_lww(b, a). Its seq
// is 0: the store that writes it assigns one.
Block merge_lww(const Block& a, const Block& b);

// What Transaction::apply did with a remote version.
enum class ApplyOutcome {
  inserted,        // a block new here
  fast_forward,    // it dominated ours: it replaced ours as it is
  merged,          // concurrent: the merge of both replaced ours
  already_have,    // ours is the same version
  ignored_older,   // ours dominates it: nothing to do
  refused_future,  // its modified_at is too far ahead of our clock
  held,            // concurrent, and its type's plugin could not merge it:
                   // kept aside (not applied, not lost) until one can
  denied,          // the manifest does not let its writer write it
};

// How a merge plugin's attempt at two concurrent versions came out.
struct MergeAttempt {
  enum class Kind {
    lww,     // no plugin for the type: last-write-wins
    merged,  // `blob` and `schema` are the merged blob
    hold,    // the plugin cannot merge these (or failed): keep both
  };
  Kind kind = Kind::lww;
  std::string blob;
  std::uint32_t schema = 0;
  std::string plugin;   // the plugin that merged, or could not
  std::string reason;   // hold: why, for `blk ls --held` and warnings
  bool failed = false;  // hold because the plugin crashed, hung or erred
};

// What merges concurrent versions by type: the installed merge plugins
// (plugins/host.hpp). `a` and `b` are live versions of the same block in
// canonical order: `b` wins last-write-wins over `a`.
class Merger {
 public:
  virtual ~Merger() = default;
  virtual MergeAttempt merge(const Block& a, const Block& b) = 0;
  // A hint: merge() is about to be called for these pairs, each in the
  // order it will be (a, b), as merge_pair gives them; a merger may start
  // on them together (plugins/host.cpp pipelines them through the worker).
  // The pointers are valid for this call only. merge() must answer the same
  // with or without it.
  virtual void prepare(const std::vector<std::pair<const Block*, const Block*>>& pairs) {
    (void)pairs;
  }
};

// The version a plugin's merged blob makes: b's metadata (it won
// last-write-wins, so every machine picks the same writer), the earlier
// created_at, the pointwise-max vector, and a recomputed hash.
Block merged_version(const Block& a, const Block& b, std::string blob, std::uint32_t schema);

// What to do with `remote` given our current version of the same id (none if
// the block is new here), at our time `now`. `remote` must have passed
// validate_remote_version.
// Concurrent live versions of the same type go to `merger` when given
// (else, for tombstones and for a block whose type changed: last-write-wins).
struct Decision {
  ApplyOutcome outcome;
  std::optional<Block> write;  // what to store: for inserted, fast_forward, merged
  MergeAttempt attempt;        // what the merger did, if it was asked
};
Decision decide(const std::optional<Block>& local, const Block& remote, Millis now,
                Merger* merger = nullptr);

// The versions decide() would give a merger for `remote` against `local` at
// `now`, in the order it would give them (a, b: b wins last-write-wins), or
// none if it would ask none: the one condition for both, so that a merger
// can be prepared (Merger::prepare) for exactly the merges to come.
std::optional<std::pair<const Block*, const Block*>> merge_pair(const std::optional<Block>& local,
                                                                const Block& remote, Millis now);

// Checks a version from a peer before anything uses it: id and type names,
// blob size, times (created_at <= modified_at, deleted_at <= modified_at, a
// tombstone has no blob), modified_by is a machine id (32 hex digits) that
// appears in the vector, every key of the vector is a machine id with a
// counter from 1 to kMaxVersionCounter, and the version hash matches
// the canonical encoding. Code::invalid_input naming what is wrong.
Result<void> validate_remote_version(const Block& remote);

}  // namespace blk
