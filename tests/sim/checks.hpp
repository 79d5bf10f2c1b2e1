// What must hold once the faults have stopped and the network has healed.
// Each check returns the reason it failed, or std::nullopt.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "machine.hpp"
#include "workload.hpp"

namespace blk::sim {

// Every block of a store, tombstones included, in id order.
Result<std::vector<Block>> all_blocks(Store& store);

// Every machine holds the same current versions: the same ids, version
// hashes, blobs and deletions.
std::optional<std::string> check_converged(std::vector<Machine>& machines);

// No acknowledged write is lost: on every machine, the current version of
// its id is that write, or its version vector dominates the write's (it was
// superseded or merged, not dropped).
std::optional<std::string> check_acknowledged(std::vector<Machine>& machines,
                                              const std::vector<AckedWrite>& acked);

// The write tags (MACHINE#N) a blob holds: one for a plain blob, any
// number for one merged by a plugin.
std::vector<std::string> tags_in(std::string_view blob);

// Nothing appears that was never acknowledged: every live blob is made of
// acknowledged writes' tags (tags are unique per write), so an abandoned
// transaction, or a merge inventing content, would show.
std::optional<std::string> check_no_phantoms(std::vector<Machine>& machines,
                                             const std::set<std::string>& acked_tags);

// "{m0:3,m2:1}" with machine names for ids: a version vector for people.
std::string versions_text(const VersionVector& vv, const std::vector<Machine>& machines);
std::string version_text(const Block& b, const std::vector<Machine>& machines);

}  // namespace blk::sim
