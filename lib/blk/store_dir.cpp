#include "blk/store_dir.hpp"

#include <fmt/format.h>
#include <sodium.h>

#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "blk/block.hpp"
#include "blk/encoding.hpp"
#include "blk/identity.hpp"
#include "blk/plugins/host.hpp"
#include "blk/sqlite_store.hpp"

namespace blk {
namespace fs = std::filesystem;

namespace {

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

Result<void> write_manifest(const std::string& path, const std::string& machine_name) {
  std::string text = fmt::format(
      "# blk manifest: this machine and the peers it syncs with.\n"
      "\n"
      "[machine]\n"
      "name = \"{}\"\n"
      "listen = []\n",
      machine_name);
  FILE* f = std::fopen(path.c_str(), "wx");
  if (!f) return make_error(Code::failure, fmt::format("cannot create {}", path));
  bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  ok = std::fclose(f) == 0 && ok;
  if (!ok) return make_error(Code::failure, fmt::format("cannot write {}", path));
  return {};
}

}  // namespace

Result<StorePaths> resolve_store(const std::optional<std::string>& flag,
                                 const std::optional<std::string>& app) {
  if (flag && flag->empty()) return make_error(Code::usage, "--store DIR is empty");
  if (flag) return StorePaths{*flag};
  if (auto dir = env("BLK_STORE")) return StorePaths{*dir};
  std::string name = app ? *app : env("BLK_APP").value_or("default");
  auto valid = validate_name("app name", name);
  if (!valid) return std::move(valid).error();
  if (name.find('/') != std::string::npos || name == "." || name == "..")
    return make_error(Code::usage, fmt::format("app name '{}' cannot be a path", name));
  std::string base;
  if (auto xdg = env("XDG_DATA_HOME"))
    base = *xdg;
  else if (auto home = env("HOME"))
    base = *home + "/.local/share";
  else
    return make_error(Code::usage, "cannot find a store: set --store, BLK_STORE or HOME");
  return StorePaths{base + "/blk/" + name};
}

Result<StoreIdentity> init_store(const StorePaths& paths, const std::string& machine_name) {
  if (sodium_init() < 0) return make_error(Code::failure, "libsodium failed to initialize");
  std::error_code ec;
  if (fs::exists(paths.db(), ec) || fs::exists(paths.secret_key(), ec))
    return make_error(Code::store_exists, fmt::format("a store already exists at {}", paths.dir));
  bool made_dir = !fs::exists(paths.dir, ec);
  if (made_dir && !fs::create_directories(paths.dir, ec)) {
    bool readonly = ec == std::errc::read_only_file_system || ec == std::errc::permission_denied;
    return make_error(readonly ? Code::store_readonly : Code::failure,
                      fmt::format("cannot create {}: {}", paths.dir, ec.message()));
  }
  if (!fs::is_directory(paths.dir, ec))
    return make_error(Code::usage, fmt::format("{} is not a directory", paths.dir));
  if (fs::exists(paths.manifest(), ec))
    return make_error(Code::store_exists,
                      fmt::format("{} already exists; not overwriting it", paths.manifest()));

  // Undo everything on any failure, so a failed init leaves nothing behind.
  auto cleanup = [&] {
    for (const auto& f : {paths.secret_key(), paths.db(), paths.db() + "-wal", paths.db() + "-shm",
                          paths.manifest()})
      fs::remove(f, ec);
    if (made_dir) fs::remove(paths.dir, ec);
  };

  KeyPair keys = generate_keypair();
  std::string pk(reinterpret_cast<const char*>(keys.public_key.data()), keys.public_key.size());
  unsigned char epoch[16];
  randombytes_buf(epoch, sizeof epoch);
  StoreIdentity identity{machine_id_for(pk), base64_encode(pk),
                         hex_encode(std::string_view(reinterpret_cast<char*>(epoch), 16))};

  auto r = write_secret_key(paths.secret_key(), keys);
  sodium_memzero(keys.secret_key.data(), keys.secret_key.size());
  if (r) r = create_sqlite_store(paths.db(), identity);
  if (r) r = write_manifest(paths.manifest(), machine_name);
  if (!r) {
    cleanup();
    return std::move(r).error();
  }
  return identity;
}

Result<std::unique_ptr<Store>> open_store(const StorePaths& paths) {
  std::error_code ec;
  if (fs::is_directory(paths.db(), ec))
    return make_error(
        Code::store_unusable,
        fmt::format("store is damaged or not a blk store: {} is a directory", paths.db()));
  auto store = open_sqlite_store(paths.db());
  if (!store && store.error().code == Code::no_store)
    return make_error(Code::no_store,
                      fmt::format("no store at {}; create one with 'blk init'", paths.dir));
  if (!store) return store;
  plugins::HostOptions options;
  options.warn = [](const std::string& message) {
    fmt::print(stderr, "blk: warning: {}\n", message);
  };
  auto merger = plugins::merger_for(**store, paths.plugins(), std::move(options));
  if (!merger) return std::move(merger).error();
  if (*merger) (*store)->set_merger(std::move(*merger));
  return store;
}

}  // namespace blk
