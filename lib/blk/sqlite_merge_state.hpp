// The store's merge state in SQLite (schema 3): the installed merge plugins
// and the held versions. Kept apart from sqlite_store.cpp, which owns the
// blocks and sync bookkeeping; these functions take its connection.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "blk/error.hpp"
#include "blk/sqlite_db.hpp"
#include "blk/store.hpp"

namespace blk {

// Schema 3's additions, shared by a new store's schema and the migration.
// `held` keeps whole versions (metadata and blob) by (id, version_hash).
#define BLK_MERGE_STATE_SQL                    \
  "CREATE TABLE merge_plugins (\n"             \
  "  name       TEXT PRIMARY KEY,\n"           \
  "  file       TEXT    NOT NULL,\n"           \
  "  types      TEXT    NOT NULL,\n"           \
  "  in_process INTEGER NOT NULL DEFAULT 0,\n" \
  "  failures   INTEGER NOT NULL DEFAULT 0,\n" \
  "  disabled   TEXT    NOT NULL DEFAULT ''\n" \
  ");\n"                                       \
  "CREATE TABLE held (\n"                      \
  "  id           TEXT    NOT NULL,\n"         \
  "  version_hash BLOB    NOT NULL,\n"         \
  "  type         TEXT    NOT NULL,\n"         \
  "  created_at   INTEGER NOT NULL,\n"         \
  "  modified_at  INTEGER NOT NULL,\n"         \
  "  deleted_at   INTEGER,\n"                  \
  "  schema       INTEGER NOT NULL,\n"         \
  "  modified_by  TEXT    NOT NULL,\n"         \
  "  versions     BLOB    NOT NULL,\n"         \
  "  blob         BLOB    NOT NULL,\n"         \
  "  peer         TEXT    NOT NULL,\n"         \
  "  reason       TEXT    NOT NULL,\n"         \
  "  held_at      INTEGER NOT NULL,\n"         \
  "  PRIMARY KEY (id, version_hash)\n"         \
  ") WITHOUT ROWID;\n"

namespace merge_state {

Result<std::vector<PluginRecord>> plugins(const sqlite::Db& db);
Result<void> put_plugin(const sqlite::Db& db, const PluginRecord& p);
Result<bool> remove_plugin(const sqlite::Db& db, std::string_view name);
// After a merge by `plugin`: a failure counts (and disables it at
// kPluginFailureLimit, with `reason`); a success clears the count.
Result<void> record_merge(const sqlite::Db& db, std::string_view plugin, bool failed,
                          std::string_view reason);

// `from`: the machine id of the peer that sent it.
Result<void> hold(const sqlite::Db& db, const Block& v, std::string_view from,
                  std::string_view reason, Millis now);
Result<void> unhold(const sqlite::Db& db, std::string_view id, std::string_view version_hash);
// Held versions, by id then hash; of one id only if `id` is not empty.
Result<void> scan_held(const sqlite::Db& db, std::string_view id,
                       const std::function<bool(const HeldVersion&)>& visit);
// All of them, or those from one peer.
Result<std::int64_t> count_held(const sqlite::Db& db, std::string_view from = {});

// "json:1 note:2" and back: how a plugin's types are stored.
std::string encode_types(const std::vector<PluginType>& types);
std::vector<PluginType> decode_types(std::string_view text);

}  // namespace merge_state
}  // namespace blk
