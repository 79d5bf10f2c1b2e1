// Who may write what (man 5 blk-manifest, PERMISSIONS): the manifest's
// roles, write_types, users and owner-only types, as one check that a store
// runs on every version before it is written, received or local.
//
// The check is a function of the version and the manifest alone (its
// writer, its type, the machines in its version vector), never of the peer
// that happened to pass it on, so every machine that shares the manifest
// refuses the same versions and none is left out of step.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "blk/block.hpp"
#include "blk/manifest.hpp"
#include "blk/store.hpp"

namespace blk {

class WritePolicy {
 public:
  // `self` is this machine's id: its own writes are bound only by the
  // owner-only rule.
  WritePolicy(const Manifest& m, std::string self);

  // Whether the manifest restricts anything at all: if not, there is no
  // need to check.
  bool restricts() const { return restricts_; }

  // Why `v` may not be written; empty if it may. Refused:
  //  - a version whose writer (modified_by) is a read-only peer, or a peer
  //    whose write_types leave out v's type;
  //  - a version of an owner-only type in whose vector a machine appears
  //    that is not the writer's user's (or whose user is not known): the
  //    user whose machine created a block is in every later vector, so
  //    another user's machine can never change it.
  std::string refusal(const Block& v) const;

 private:
  struct Writer {
    std::string name;
    bool is_peer = false;  // false: this machine
    bool read_only = false;
    std::optional<std::vector<std::string>> write_types;
    std::string user;
  };
  const Writer* writer(const std::string& machine_id) const;

  std::map<std::string, Writer> writers_;  // by machine id
  std::vector<std::string> owner_only_;
  bool restricts_ = false;
};

}  // namespace blk

namespace blk {

// Makes `store` check every write against the manifest (Store::
// set_write_check), if the manifest restricts anything.
void apply_write_policy(Store& store, const Manifest& m, const std::string& self);

}  // namespace blk
