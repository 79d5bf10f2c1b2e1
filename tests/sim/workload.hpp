// The workload: transactions of puts (new ids and updates), deletes and
// revivals through the real Store API, on a small pool of ids so that
// machines edit the same ids concurrently. Every commit that returns ok is an
// acknowledged write, recorded with the version read back after it.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "blk/block.hpp"

namespace blk::sim {

class World;

struct AckedWrite {
  int machine = 0;
  Millis at = 0;  // virtual time of the commit
  Block version;  // as read back after the commit, blob included
};

class Workload {
 public:
  Workload(World& world, int ids);

  // One transaction of 1 to 3 writes on machine `m` (if it is up); a few
  // are abandoned uncommitted, as a crash in the middle would.
  void transaction(int m);
  // The same id written on each of `machines` at the same moment.
  void conflict(const std::vector<int>& machines);

  const std::vector<AckedWrite>& acked() const { return acked_; }
  // Blobs of acknowledged versions: every live blob at the end is one.
  const std::set<std::string>& acked_tags() const { return acked_tags_; }

 private:
  struct Op {
    bool remove = false;
    std::string id, type, blob;
  };
  void run(int m, std::vector<Op> ops, bool abandon);
  std::string blob_for(int m, const std::string& type, const std::optional<Block>& current);
  std::string json_edit(const std::optional<Block>& current, const std::string& tag);
  std::string set_add(const std::optional<Block>& current, const std::string& tag);

  World& world_;
  std::vector<std::string> ids_;
  std::uint64_t writes_ = 0;
  std::vector<AckedWrite> acked_;
  std::set<std::string> acked_tags_;
};

}  // namespace blk::sim
