// A Machine ready to talk to peers: its identity, its secret key (checked
// to be private and to match the store) and its manifest.
#pragma once

#include "blk/error.hpp"
#include "blk/identity.hpp"
#include "blk/manifest.hpp"
#include "blk/store.hpp"
#include "blk/store_dir.hpp"

namespace blk {

struct Machine {
  StoreIdentity identity;
  KeyPair keys;
  Manifest manifest;
};

// Errors: those of open_store, load_secret_key and load_manifest.
Result<Machine> load_machine(const StorePaths& paths);

// The same from a store the caller opened already (and keeps using): a
// command that needs both opens the store once, not twice. Each open costs
// the schema read and, when no other process has the store open, SQLite's
// rebuilding of the WAL index from the whole WAL.
Result<Machine> load_machine(const StorePaths& paths, Store& store);

}  // namespace blk
