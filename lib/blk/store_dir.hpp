// A store directory: where a Machine keeps its database, secret key and
// manifest, and how blk finds it.
//
//   DIR/blk.db          the SQLite block store
//   DIR/machine.key     the ed25519 secret key seed, base64, mode 0600
//   DIR/manifest.toml   this machine and its peers (man 5 blk-manifest)
//   DIR/plugins/        copies of the merge plugins added to it
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "blk/error.hpp"
#include "blk/store.hpp"

namespace blk {

struct StorePaths {
  std::string dir;
  std::string db() const { return dir + "/blk.db"; }
  std::string secret_key() const { return dir + "/machine.key"; }
  std::string manifest() const { return dir + "/manifest.toml"; }
  std::string plugins() const { return dir + "/plugins"; }  // merge plugins' copies
};

// The store directory: `flag` (--store) if given, else $BLK_STORE, else
// $XDG_DATA_HOME/blk/APP (default ~/.local/share/blk/APP), where APP is
// `app` (--app), else $BLK_APP, else "default". Code::usage if an app name is
// not a valid name, or if neither XDG_DATA_HOME nor HOME is set.
Result<StorePaths> resolve_store(const std::optional<std::string>& flag,
                                 const std::optional<std::string>& app);

// Creates a store: the directory (and parents), a new key pair, the
// database and a manifest naming this machine `machine_name`. Refuses an
// existing store (Code::store_exists); on failure removes what it created.
Result<StoreIdentity> init_store(const StorePaths& paths, const std::string& machine_name);

// Opens the store's database, with its merge plugins (if any) merging
// concurrent versions. Code::no_store (suggesting `blk init`) if the
// directory holds no store.
Result<std::unique_ptr<Store>> open_store(const StorePaths& paths);

}  // namespace blk
