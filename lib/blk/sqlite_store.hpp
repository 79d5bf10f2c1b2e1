// The SQLite block store: one database file in WAL mode with
// synchronous=FULL, so a write reported done survives power loss, and a busy
// timeout, so a cron sync and a shell `put` wait for each other.
#pragma once

#include <memory>
#include <string>

#include "blk/error.hpp"
#include "blk/store.hpp"

namespace blk {

// The schema version this build reads and writes (PRAGMA user_version).
// 1: blocks and meta. 2: adds sync_peers (sync's cursors and PeerState).
inline constexpr int kSchemaVersion = 3;

// How long a writer waits for another process's lock before Code::store_locked.
inline constexpr int kBusyTimeoutMs = 10'000;

// The SQL that creates schema version kSchemaVersion on an empty database,
// exported so the benchmark's raw-SQLite baseline writes the very same table.
extern const char* const kSchemaSql;

// Creates a new database at `path` (which must not exist) with the schema
// and identity. Code::store_exists if the file is already there.
Result<void> create_sqlite_store(const std::string& path, const StoreIdentity& identity);

// Opens an existing store, migrating an older schema forward (one
// transaction per open; safe against another process doing the same). A
// store that cannot be written is not migrated but still opens, so it can be
// read: its blocks read as usual, every peer reads as never synced
// (peer_state, peer_states), and begin() and record_sync_attempt() fail with
// Code::store_readonly, as any write to it would. Errors: Code::no_store if
// the file is missing, Code::store_unusable if it is not a blk store or comes
// from a newer blk, Code::store_readonly, Code::store_locked.
Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path);

}  // namespace blk
