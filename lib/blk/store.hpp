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
#include <vector>

#include "blk/block.hpp"
#include "blk/error.hpp"
#include "blk/merge.hpp"

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

// A merge plugin installed in the store (`blk merge-plugin add`).
struct PluginType {
  std::string type;
  std::uint32_t max_schema = 0;  // the highest schema it understands
};
struct PluginRecord {
  std::string name;  // unique in the store
  std::string file;  // its copy, a file name in STORE/plugins/
  std::vector<PluginType> types;
  bool in_process = false;  // loaded into blk itself, not the worker
  int failures = 0;         // merges failed in a row
  std::string disabled;     // why it was disabled; empty while enabled
};

// A plugin is disabled after this many failed merges in a row (a crash, a
// hang, garbage), until it is added again.
inline constexpr int kPluginFailureLimit = 3;

// A version kept aside, not applied and not lost: it was concurrent with
// ours and its type's plugin could not merge the two (DESIGN.md §7).
struct HeldVersion {
  Block block;         // as the peer sent it (seq unused)
  std::string reason;  // why it is held
  Millis held_at = 0;
  std::string from;  // the machine id of the peer that sent it
};

// What retry_held did.
struct RetryHeld {
  std::int64_t applied = 0;  // merged, or superseded by what we hold now
  std::int64_t held = 0;     // still held
};

// Why the manifest does not let version `v` be written here (its writer is
// read-only, may not write its type, or it is another user's block);
// empty if it may. See permissions.hpp.
using WriteCheck = std::function<std::string(const Block& v)>;

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

  // Applies a version received from a peer by the rules of DESIGN.md §7
  // (merge.hpp): fast-forward, ignore, or merge last-write-wins. The version
  // is checked first (validate_remote_version): Code::invalid_input if it is
  // malformed or its hash is wrong, and nothing is written. A version whose
  // modified_at is more than kMaxFutureSkew ahead of this store's clock is
  // refused (ApplyOutcome::refused_future), nothing written. What is written
  // keeps the remote's version vector, modified_by and hash (a merge: the
  // merged ones) and gets a new local seq.
  // `from` is the machine id of the peer that sent it: a version stored
  // exactly as that peer sent it is never offered back to it (ChangeScan).
  virtual Result<ApplyOutcome> apply(const Block& remote, std::string_view from = {}) = 0;

  // A hint before apply() is called for each of `remotes`, in this order:
  // the store's merger is told (Merger::prepare) the merges those applies
  // will ask of it, so that it can run them together (a sync's batch
  // through the merge worker, pipelined). Of an id given twice only the
  // first counts. Changes nothing; apply() decides as it would without it.
  virtual void prepare_merges(const std::vector<const Block*>& remotes) { (void)remotes; }

  // Records that every change of peer `machine_id` whose seq (in the peer's
  // store `epoch`) is at most `seq` is committed here. Within one epoch the
  // cursor never moves back (two syncs at once cannot undo each other)
  // unless `replace`: a reconciliation has just established it (the peer may
  // have been restored from an older copy). A different epoch replaces it.
  virtual Result<void> set_cursor(std::string_view machine_id, std::string_view epoch,
                                  std::int64_t seq, bool replace = false) = 0;

  // Local writes from now on get seqs above `floor`. For a store restored
  // from an older copy: a peer remembers seqs of ours this store no longer
  // has, and our new writes must not reuse them (peers would take them for
  // changes they hold already). Never lowers it.
  virtual Result<void> raise_seq_floor(std::int64_t floor) = 0;

  // Installs (or replaces, clearing its failures) a merge plugin's record,
  // and removes one: false if there was no such plugin.
  virtual Result<void> put_plugin(const PluginRecord& plugin) = 0;
  virtual Result<bool> remove_plugin(std::string_view name) = 0;
  // Decides every held version again against the current one, with the
  // store's merger as it is now (after a plugin was added).
  virtual Result<RetryHeld> retry_held() = 0;
  // Makes every write durable (synchronous=FULL) and visible, atomically.
  virtual Result<void> commit() = 0;
};

// Where a store stands with one peer: sync's cursor and what `blk status`
// shows. A peer never synced has an empty epoch and zeros.
struct PeerState {
  std::string machine_id;
  std::string epoch;              // the peer store's epoch the cursor belongs to
  std::int64_t cursor = 0;        // highest of the peer's seqs committed here
  std::int64_t peer_has = 0;      // highest of our seqs the peer said it holds
  std::optional<Millis> last_ok;  // end of the last successful sync
  std::optional<Millis> last_attempt;
  std::string last_error;  // of the last attempt; empty if it succeeded
};

// What one change scan returns: rows with after < seq <= up_to, in seq order,
// at most `limit` of them. Without blobs, Block::blob is left empty (the
// caller can tell a tombstone by deleted_at).
struct ChangeScan {
  std::int64_t after = 0;
  std::int64_t up_to = INT64_MAX;
  std::size_t limit = SIZE_MAX;
  bool blobs = true;
  // A peer's machine id: leave out rows holding a version received from it
  // unchanged (it has them), so what a sync brought in is not echoed back.
  std::string skip_received_from;
};

// One entry of the store's version set, for reconciliation.
struct VersionItem {
  Millis modified_at = 0;
  std::string version_hash;  // 32 bytes
  std::int64_t seq = 0;
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
  virtual Result<void> scan_changes(std::int64_t after, const BlockVisitor& visit) {
    ChangeScan scan;
    scan.after = after;
    return scan_changes(scan, visit);
  }
  virtual Result<void> scan_changes(const ChangeScan& scan, const BlockVisitor& visit) = 0;

  // The block whose current row has this seq (with or without its blob);
  // std::nullopt if that seq has been superseded by a later change.
  virtual Result<std::optional<Block>> get_by_seq(std::int64_t seq, bool blob) = 0;

  // The highest seq committed (0 for an empty store).
  virtual Result<std::int64_t> max_seq() = 0;

  // How many blocks (tombstones included) have seq above `after`, leaving
  // out those received unchanged from `skip_received_from` if given.
  virtual Result<std::int64_t> count_changes_after(std::int64_t after,
                                                   std::string_view skip_received_from = {}) = 0;

  // Every current version (tombstones too), in no particular order, without
  // reading blobs: what reconciliation compares.
  virtual Result<void> scan_version_items(const std::function<void(const VersionItem&)>& visit) = 0;

  // Sync bookkeeping per peer (by machine id).
  virtual Result<PeerState> peer_state(std::string_view machine_id) = 0;
  virtual Result<std::vector<PeerState>> peer_states() = 0;
  // After a sync attempt: `error` empty means success (last_ok = at). Also
  // stores what the peer said it holds of ours. Its own small transaction.
  virtual Result<void> record_sync_attempt(std::string_view machine_id, Millis at,
                                           std::string_view error, std::int64_t peer_has) = 0;

  // The clock local writes and apply() use; the wall clock by default. The
  // simulator gives each machine a virtual (and skewed) one.
  virtual void set_clock(std::function<Millis()> clock) = 0;

  // What merges concurrent versions in apply() (the installed plugins);
  // none: last-write-wins for every type.
  virtual void set_merger(std::shared_ptr<Merger> merger) = 0;
  // What apply() checks a remote version against, and put()/remove() the
  // version they are about to write: a refused remote version is counted
  // (ApplyOutcome::denied), a refused local write fails with
  // Code::not_permitted. None: everything may be written.
  virtual void set_write_check(WriteCheck check) = 0;
  // The installed merge plugins, by name.
  virtual Result<std::vector<PluginRecord>> plugins() = 0;
  // The held versions, by id, and how many there are (of all, or of those
  // peer `from` sent).
  virtual Result<void> scan_held(const std::function<bool(const HeldVersion&)>& visit) = 0;
  virtual Result<std::int64_t> count_held(std::string_view from = {}) = 0;
  // Who this store is: its machine id (the writer of its local changes),
  // public key and epoch. Read once and cached.
  virtual Result<StoreIdentity> identity() = 0;
};

}  // namespace blk
