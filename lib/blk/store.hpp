// The storage interface: what sync and the commands need from a block store,
// independent of the engine behind it. SQLite implements it (sqlite_store.hpp);
// a server backend (PostgreSQL for a relay) can implement it without touching
// sync. Stores are not thread-safe: use one per thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "blk/block.hpp"
#include "blk/error.hpp"

namespace blk {

// What a store records about itself at creation.
struct StoreIdentity {
  std::string machine_id;  // hex, derived from the public key (identity.hpp)
  std::string public_key;  // base64 ed25519 public key
  std::string epoch;       // random, new for every store; sync cursors use it
};

// One block to write. Fields left empty take their defaults.
struct BlockWrite {
  std::string id;  // empty: a fresh time-ordered id is generated
  std::string type;
  std::string blob;
  std::uint32_t schema = 0;
  // Set by import to keep a block's original times; a normal write leaves
  // them unset and gets created_at kept (or now) and modified_at = now.
  std::optional<Millis> created_at;
  std::optional<Millis> modified_at;
  std::optional<Millis> deleted_at;
};

// A write transaction. Nothing it does is visible to others, or durable,
// until commit() returns ok; destroying it uncommitted rolls everything back.
class Transaction {
 public:
  virtual ~Transaction() = default;

  // Creates the block, or updates it: created_at is kept, modified_at
  // advances (strictly, even within one millisecond), a deleted block comes
  // back. Returns the id written. Errors: Code::usage for a bad id or type,
  // Code::invalid_input for a blob over kMaxBlobBytes; the transaction stays
  // usable after these.
  virtual Result<std::string> put(BlockWrite write) = 0;

  // Tombstones the block: deleted_at set, blob dropped, row kept for sync.
  // Code::not_found if there is no such block; already deleted is a no-op.
  virtual Result<void> remove(std::string_view id) = 0;

  // Makes every write durable (synchronous=FULL) and visible, atomically.
  virtual Result<void> commit() = 0;
};

// What a scan returns. Unset fields do not filter.
struct ScanFilter {
  std::optional<std::string> type;
  std::optional<Millis> modified_since;  // modified_at >= this
  bool include_deleted = false;
};

// Return false to stop a scan early.
using BlockVisitor = std::function<bool(const Block&)>;

class Store {
 public:
  virtual ~Store() = default;

  // The block with this id, tombstone or not; std::nullopt if none.
  virtual Result<std::optional<Block>> get(std::string_view id) = 0;

  // Starts a write transaction. It takes the store's write lock, waiting up
  // to the busy timeout for other processes; Code::store_locked after that.
  virtual Result<std::unique_ptr<Transaction>> begin() = 0;

  // Visits blocks matching the filter in id order.
  virtual Result<void> scan(const ScanFilter& filter, const BlockVisitor& visit) = 0;

  // Visits every block (tombstones too) whose seq is above `after`, in seq
  // order: the store's changes in commit order, as sync and `log` need them.
  virtual Result<void> scan_changes(std::int64_t after, const BlockVisitor& visit) = 0;

  // Who this store is: its machine id (the writer of its local changes),
  // public key and epoch. Read once and cached.
  virtual Result<StoreIdentity> identity() = 0;
};

}  // namespace blk
