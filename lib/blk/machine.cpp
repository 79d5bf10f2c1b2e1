#include "blk/machine.hpp"

#include "blk/secret_key.hpp"

namespace blk {

Result<Machine> load_machine(const StorePaths& paths) {
  auto store = open_store(paths);
  if (!store) return std::move(store).error();
  return load_machine(paths, **store);
}

Result<Machine> load_machine(const StorePaths& paths, Store& store) {
  auto identity = store.identity();
  if (!identity) return std::move(identity).error();
  auto keys = load_secret_key(paths.secret_key(), identity->public_key);
  if (!keys) return std::move(keys).error();
  auto manifest = load_manifest(paths.manifest());
  if (!manifest) return std::move(manifest).error();
  return Machine{std::move(*identity), std::move(*keys), std::move(*manifest)};
}

}  // namespace blk
