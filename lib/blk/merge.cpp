#include "blk/merge.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <limits>

namespace blk {
namespace {

bool is_machine_id(std::string_view s) {
  return s.size() == 32 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

// now + skew without overflowing at the ends of a (simulated) clock's range.
bool too_far_ahead(Millis t, Millis now) {
  if (now > std::numeric_limits<Millis>::max() - kMaxFutureSkew) return false;
  return t > now + kMaxFutureSkew;
}

}  // namespace

Causality compare_versions(const VersionVector& a, const VersionVector& b) {
  // Both maps are sorted by machine id: one merge-like walk, a missing entry
  // counting as 0.
  bool a_ahead = false, b_ahead = false;
  auto ia = a.begin(), ib = b.begin();
  while (ia != a.end() || ib != b.end()) {
    if (ib == b.end() || (ia != a.end() && ia->first < ib->first)) {
      a_ahead |= ia->second > 0;
      ++ia;
    } else if (ia == a.end() || ib->first < ia->first) {
      b_ahead |= ib->second > 0;
      ++ib;
    } else {
      a_ahead |= ia->second > ib->second;
      b_ahead |= ib->second > ia->second;
      ++ia;
      ++ib;
    }
  }
  if (a_ahead && b_ahead) return Causality::concurrent;
  if (a_ahead) return Causality::after;
  if (b_ahead) return Causality::before;
  return Causality::equal;
}

VersionVector max_versions(const VersionVector& a, const VersionVector& b) {
  VersionVector out = a;
  for (const auto& [machine, counter] : b) {
    auto [it, inserted] = out.emplace(machine, counter);
    if (!inserted) it->second = std::max(it->second, counter);
  }
  return out;
}

bool wins_lww(const Block& a, const Block& b) {
  if (a.modified_at != b.modified_at) return a.modified_at > b.modified_at;
  if (a.modified_by != b.modified_by) return a.modified_by > b.modified_by;
  return a.version_hash > b.version_hash;
}

Block merge_lww(const Block& a, const Block& b) {
  Block out = wins_lww(b, a) ? b : a;
  out.versions = max_versions(a.versions, b.versions);
  out.version_hash = compute_version_hash(out);
  out.seq = 0;  // local to each store: the store that writes it assigns one
  return out;
}

Block merged_version(const Block& a, const Block& b, std::string blob, std::uint32_t schema) {
  Block out = b;
  out.blob = std::move(blob);
  out.schema = schema;
  out.created_at = std::min(a.created_at, b.created_at);
  out.versions = max_versions(a.versions, b.versions);
  out.version_hash = compute_version_hash(out);
  out.seq = 0;
  return out;
}

namespace {

// What decide() does with `remote` without merging, or none if the two are
// to be merged (concurrent, or the same history with different hashes).
std::optional<Decision> settle_without_merge(const std::optional<Block>& local, const Block& remote,
                                             Millis now) {
  if (too_far_ahead(remote.modified_at, now))
    return Decision{ApplyOutcome::refused_future, std::nullopt};
  if (!local) return Decision{ApplyOutcome::inserted, remote};
  if (local->version_hash == remote.version_hash)
    return Decision{ApplyOutcome::already_have, std::nullopt};
  switch (compare_versions(remote.versions, local->versions)) {
    case Causality::after:
      return Decision{ApplyOutcome::fast_forward, remote};
    case Causality::before:
      return Decision{ApplyOutcome::ignored_older, std::nullopt};
    case Causality::equal:       // the same history told two ways (a store
    case Causality::concurrent:  // restored from a backup): merge all the same
      break;
  }
  return std::nullopt;
}

// Two versions to be merged, as a merger gets them: (a, b), b the
// last-write-wins winner; none if they are settled last-write-wins.
std::optional<std::pair<const Block*, const Block*>> plugin_pair(const Block& local,
                                                                 const Block& remote) {
  // A plugin merges two live versions of its type; a delete against an
  // edit, or a block whose type changed, is settled last-write-wins.
  if (local.deleted() || remote.deleted() || local.type != remote.type) return std::nullopt;
  if (wins_lww(remote, local)) return std::pair{&local, &remote};
  return std::pair{&remote, &local};
}

}  // namespace

std::optional<std::pair<const Block*, const Block*>> merge_pair(const std::optional<Block>& local,
                                                                const Block& remote, Millis now) {
  if (settle_without_merge(local, remote, now)) return std::nullopt;
  return plugin_pair(*local, remote);
}

Decision decide(const std::optional<Block>& local, const Block& remote, Millis now,
                Merger* merger) {
  if (auto settled = settle_without_merge(local, remote, now)) return std::move(*settled);
  MergeAttempt attempt;
  if (auto pair = merger ? plugin_pair(*local, remote) : std::nullopt) {
    const Block& a = *pair->first;
    const Block& b = *pair->second;
    attempt = merger->merge(a, b);
    if (attempt.kind == MergeAttempt::Kind::hold)
      return {ApplyOutcome::held, std::nullopt, std::move(attempt)};
    if (attempt.kind == MergeAttempt::Kind::merged) {
      Block merged = merged_version(a, b, std::move(attempt.blob), attempt.schema);
      attempt.blob.clear();
      if (merged.version_hash == local->version_hash)
        return {ApplyOutcome::already_have, std::nullopt, std::move(attempt)};
      return {ApplyOutcome::merged, std::move(merged), std::move(attempt)};
    }
  }
  Block merged = merge_lww(*local, remote);
  // Ours won with nothing new to add (equal vectors): we already hold it.
  if (merged.version_hash == local->version_hash)
    return {ApplyOutcome::already_have, std::nullopt, std::move(attempt)};
  return {ApplyOutcome::merged, std::move(merged), std::move(attempt)};
}

Result<void> validate_remote_version(const Block& r) {
  auto bad = [&](std::string_view what) {
    return make_error(Code::invalid_input, fmt::format("version of block '{}' {}", r.id, what));
  };
  // The id is checked first and not quoted when bad: it may hold anything.
  if (auto ok = validate_name("id", r.id); !ok)
    return make_error(Code::invalid_input,
                      fmt::format("a version from a peer has a bad id: {}", ok.error().message));
  if (auto ok = validate_name("type", r.type); !ok)
    return bad(fmt::format("has a bad type: {}", ok.error().message));
  if (r.blob.size() > kMaxBlobBytes)
    return bad(
        fmt::format("has a blob of {} bytes; the limit is {}", r.blob.size(), kMaxBlobBytes));
  if (r.created_at > r.modified_at)
    return bad(
        fmt::format("has created_at ({}) after modified_at ({})", r.created_at, r.modified_at));
  if (r.deleted_at && *r.deleted_at > r.modified_at)
    return bad(
        fmt::format("has deleted_at ({}) after modified_at ({})", *r.deleted_at, r.modified_at));
  if (r.deleted_at && !r.blob.empty()) return bad("is a tombstone with a blob");
  if (!is_machine_id(r.modified_by)) return bad("has a modified_by that is not a machine id");
  for (const auto& [machine, counter] : r.versions) {
    if (!is_machine_id(machine)) return bad("has a version vector key that is not a machine id");
    // Counters are seqs (SQLite rowids). A store skips its own seq past a
    // counter of its own it receives (sqlite_store.cpp), so the cap leaves
    // room to count on after even a hostile one.
    if (counter == 0 || counter > kMaxVersionCounter)
      return bad(fmt::format("has a version counter out of range ({})", counter));
  }
  if (!r.versions.contains(r.modified_by))
    return bad("has a modified_by missing from its version vector");
  if (r.version_hash.size() != 32 || r.version_hash != compute_version_hash(r))
    return bad("has a wrong hash");
  return {};
}

}  // namespace blk
