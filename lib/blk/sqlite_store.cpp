#include "blk/sqlite_store.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <unordered_set>
#include <utility>

#include "blk/sqlite_db.hpp"
#include "blk/sqlite_merge_state.hpp"

namespace blk {

// Schema 2's addition, shared by a new store's schema and the migration from 1.
// `received` marks the rows whose version came from a peer (sync_peers rowid)
// exactly as it sent it, so sync never offers that version back to it; a
// row's mark goes when the row changes (its seq moves).
#define BLK_SYNC_PEERS_SQL                        \
  "CREATE TABLE sync_peers (\n"                   \
  "  machine_id   TEXT PRIMARY KEY,\n"            \
  "  epoch        TEXT    NOT NULL DEFAULT '',\n" \
  "  cursor       INTEGER NOT NULL DEFAULT 0,\n"  \
  "  peer_has     INTEGER NOT NULL DEFAULT 0,\n"  \
  "  last_ok      INTEGER,\n"                     \
  "  last_attempt INTEGER,\n"                     \
  "  last_error   TEXT    NOT NULL DEFAULT ''\n"  \
  ");\n"                                          \
  "CREATE TABLE received (\n"                     \
  "  seq  INTEGER PRIMARY KEY,\n"                 \
  "  peer INTEGER NOT NULL\n"                     \
  ");\n"

// seq is the rowid: a scan in seq order is a scan of the table itself. The
// blob comes last so reading metadata never touches its overflow pages.
const char* const kSchemaSql = R"sql(
CREATE TABLE blocks (
  seq          INTEGER PRIMARY KEY,
  id           TEXT    NOT NULL UNIQUE,
  type         TEXT    NOT NULL,
  created_at   INTEGER NOT NULL,
  modified_at  INTEGER NOT NULL,
  deleted_at   INTEGER,
  schema       INTEGER NOT NULL DEFAULT 0,
  modified_by  TEXT    NOT NULL,
  versions     BLOB    NOT NULL,
  version_hash BLOB    NOT NULL,
  blob         BLOB    NOT NULL
);
CREATE INDEX blocks_by_type ON blocks(type, id);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
)sql" BLK_SYNC_PEERS_SQL BLK_MERGE_STATE_SQL;

namespace {

using sqlite::Db;
using sqlite::ResetGuard;
using sqlite::Stmt;

// A row not received unchanged from peer ?4.
const std::string kNotReceived =
    "NOT EXISTS (SELECT 1 FROM received r WHERE r.seq = blocks.seq AND r.peer = ?4)";

// The columns read_block reads. Without the blob an empty one stands in, so a
// scan of metadata never reads a blob's pages.
std::string select_block(bool blob, std::string_view rest) {
  return fmt::format(
      "SELECT seq, id, type, created_at, modified_at, deleted_at, schema, modified_by, versions, "
      "version_hash, {} FROM blocks {}",
      blob ? "blob" : "x''", rest);
}

Result<Block> read_block(const Stmt& s) {
  Block b;
  b.seq = s.int64(0);
  b.id = s.text(1);
  b.type = s.text(2);
  b.created_at = s.int64(3);
  b.modified_at = s.int64(4);
  if (!s.is_null(5)) b.deleted_at = s.int64(5);
  b.schema = static_cast<std::uint32_t>(s.int64(6));
  b.modified_by = s.text(7);
  auto vv = decode_versions(s.blob(8));
  if (!vv) return std::move(vv).error();
  b.versions = std::move(*vv);
  b.version_hash = s.blob(9);
  b.blob = s.blob(10);
  return b;
}

constexpr const char* kPeerColumns =
    "machine_id, epoch, cursor, peer_has, last_ok, last_attempt, last_error";

PeerState read_peer(const Stmt& s) {
  PeerState p;
  p.machine_id = s.text(0);
  p.epoch = s.text(1);
  p.cursor = s.int64(2);
  p.peer_has = s.int64(3);
  if (!s.is_null(4)) p.last_ok = s.int64(4);
  if (!s.is_null(5)) p.last_attempt = s.int64(5);
  p.last_error = s.text(6);
  return p;
}

bool file_exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// A statement kept for a scan, and whether a scan is running on it: a
// visitor that starts the same scan again gets a statement of its own
// instead of resetting the one under it.
struct ScanStmt {
  Stmt stmt;
  bool busy = false;
};

class SqliteStore;

class SqliteTransaction final : public Transaction {
 public:
  SqliteTransaction(SqliteStore& store, StoreIdentity id, std::int64_t max_seq)
      : store_(store), identity_(std::move(id)), seq_(max_seq) {}
  ~SqliteTransaction() override;

  Result<std::string> put(BlockWrite w) override;
  Result<void> remove(std::string_view id) override;
  Result<ApplyOutcome> apply(const Block& remote, std::string_view from) override;
  void prepare_merges(const std::vector<const Block*>& remotes) override;
  Result<void> set_cursor(std::string_view machine_id, std::string_view epoch, std::int64_t seq,
                          bool replace) override;
  Result<void> raise_seq_floor(std::int64_t floor) override;
  Result<void> put_plugin(const PluginRecord& plugin) override;
  Result<bool> remove_plugin(std::string_view name) override;
  Result<RetryHeld> retry_held() override;
  Result<void> commit() override;

 private:
  Result<void> check_local(const Block& b) const;
  Result<void> record_received(std::int64_t seq, std::string_view from);
  Result<void> drop_superseded_held(const Block& current);
  Result<void> write_local(Block& b, std::optional<std::int64_t> old_seq);
  Result<void> write_row(const Block& b, std::optional<std::int64_t> old_seq);

  SqliteStore& store_;
  StoreIdentity identity_;
  std::int64_t seq_;
  bool done_ = false;
  // The sync_peers rowid of the peer a batch comes from: looked up once per
  // transaction (a row made in it vanishes if it rolls back, and so does this).
  std::string from_;
  std::int64_t from_rowid_ = -1;
  // Whether the held table had rows when this transaction first looked:
  // most stores hold nothing, and apply() should not pay to ask each time.
  bool held_checked_ = false, any_held_ = false;
};

class SqliteStore final : public Store {
 public:
  SqliteStore(Db db, int schema_version) : db_(std::move(db)), schema_(schema_version) {}

  Result<void> prepare_statements() { return prepare(get_, select_block(true, "WHERE id = ?1")); }

  Result<std::optional<Block>> get(std::string_view id) override {
    ResetGuard guard(get_);
    get_.bind(1, id);
    return read_one(get_);
  }

  Result<std::unique_ptr<Transaction>> begin() override {
    BLK_TRY(writable());
    auto id = identity();
    if (!id) return std::move(id).error();
    if (!insert_.prepared()) BLK_TRY(prepare_write_statements());
    // The last seq used: the highest row's, or the floor a restored store
    // was given (raise_seq_floor), whichever is higher.
    auto max = cached(last_seq_, [] {
      return "SELECT max(coalesce(max(seq), 0), coalesce((SELECT CAST(value AS INTEGER) "
             "FROM meta WHERE key = 'seq_floor'), 0)) FROM blocks";
    });
    if (!max) return std::move(max).error();
    // IMMEDIATE takes the write lock now, inside the busy timeout; a deferred
    // transaction that upgrades later could fail at once with SQLITE_BUSY.
    BLK_TRY(db_.exec("BEGIN IMMEDIATE"));
    ResetGuard guard(last_seq_);
    auto row = last_seq_.step();
    if (!row) {
      (void)db_.exec("ROLLBACK");
      return std::move(row).error();
    }
    std::int64_t max_seq = last_seq_.int64(0);
    return std::unique_ptr<Transaction>(new SqliteTransaction(*this, std::move(*id), max_seq));
  }

  Result<void> scan(const ScanFilter& f, const BlockVisitor& visit) override {
    std::string rest = "WHERE 1";
    if (f.type) rest += " AND type = ?1";
    if (f.modified_since) rest += " AND modified_at >= ?2";
    if (!f.include_deleted) rest += " AND deleted_at IS NULL";
    rest += f.type ? " ORDER BY type, id" : " ORDER BY id";
    auto s = Stmt::prepare(db_, select_block(true, rest).c_str());
    if (!s) return std::move(s).error();
    if (f.type) s->bind(1, std::string_view(*f.type));
    if (f.modified_since) s->bind(2, *f.modified_since);
    return visit_rows(*s, visit);
  }

  using Store::scan_changes;
  Result<void> scan_changes(const ChangeScan& scan, const BlockVisitor& visit) override {
    std::optional<std::int64_t> skip;
    if (!scan.skip_received_from.empty()) {
      auto peer = peer_rowid(scan.skip_received_from, false);
      if (!peer) return std::move(peer).error();
      skip = *peer;
    }
    auto sql = [&] {
      return select_block(scan.blobs, skip ? "WHERE seq > ?1 AND seq <= ?2 AND " + kNotReceived +
                                                 " ORDER BY seq LIMIT ?3"
                                           : "WHERE seq > ?1 AND seq <= ?2 ORDER BY seq LIMIT ?3");
    };
    return with_scan(changes_[scan.blobs][skip.has_value()], sql, [&](Stmt& s) {
      if (skip) s.bind(4, *skip);
      s.bind(1, scan.after);
      s.bind(2, scan.up_to);
      // LIMIT -1 is no limit.
      s.bind(3, scan.limit > std::size_t{INT64_MAX} ? std::int64_t{-1}
                                                    : static_cast<std::int64_t>(scan.limit));
      return visit_rows(s, visit);
    });
  }

  Result<std::optional<Block>> get_by_seq(std::int64_t seq, bool blob) override {
    auto s = cached(by_seq_[blob], [&] { return select_block(blob, "WHERE seq = ?1"); });
    if (!s) return std::move(s).error();
    ResetGuard guard(**s);
    (*s)->bind(1, seq);
    return read_one(**s);
  }

  Result<std::int64_t> max_seq() override {
    auto s = cached(max_seq_, [] { return "SELECT coalesce(max(seq), 0) FROM blocks"; });
    if (!s) return std::move(s).error();
    return read_int(**s);
  }

  Result<std::int64_t> count_changes_after(std::int64_t after,
                                           std::string_view skip_received_from) override {
    std::optional<std::int64_t> skip;
    if (!skip_received_from.empty()) {
      auto peer = peer_rowid(skip_received_from, false);
      if (!peer) return std::move(peer).error();
      skip = *peer;
    }
    auto s = cached(count_after_[skip.has_value()], [&] {
      return skip ? "SELECT count(*) FROM blocks WHERE seq > ?1 AND " + kNotReceived
                  : std::string("SELECT count(*) FROM blocks WHERE seq > ?1");
    });
    if (!s) return std::move(s).error();
    (*s)->bind(1, after);
    if (skip) (*s)->bind(4, *skip);
    return read_int(**s);
  }

  // The sync_peers rowid of a machine: what `received` records. With
  // `create`, a row is made for a machine not seen before; without, an
  // unknown machine gets -1 (which no row matches).
  Result<std::int64_t> peer_rowid(std::string_view machine_id, bool create) {
    if (schema_ < 2) return std::int64_t{-1};
    auto it = peer_rowids_.find(machine_id);
    if (it != peer_rowids_.end()) return it->second;
    if (create) {
      auto ins = cached(add_peer_, [] {
        return "INSERT INTO sync_peers (machine_id) VALUES (?1) ON CONFLICT DO NOTHING";
      });
      if (!ins) return std::move(ins).error();
      (*ins)->bind(1, machine_id);
      BLK_TRY((*ins)->run());
    }
    auto s =
        cached(peer_rowid_, [] { return "SELECT rowid FROM sync_peers WHERE machine_id = ?1"; });
    if (!s) return std::move(s).error();
    ResetGuard guard(**s);
    (*s)->bind(1, machine_id);
    auto row = (*s)->step();
    if (!row) return std::move(row).error();
    if (!*row) return std::int64_t{-1};
    std::int64_t id = (*s)->int64(0);
    // Only committed-or-current rows are cached: a rolled-back insert would
    // leave a rowid that may be reused, so cache only what we did not create.
    if (!create) peer_rowids_.emplace(std::string(machine_id), id);
    return id;
  }

  Result<void> scan_version_items(const std::function<void(const VersionItem&)>& visit) override {
    auto sql = [] { return "SELECT modified_at, version_hash, seq FROM blocks"; };
    return with_scan(version_items_, sql, [&](Stmt& s) -> Result<void> {
      // One item for every row: its hash string keeps its buffer.
      VersionItem item;
      for (;;) {
        auto row = s.step();
        if (!row) return std::move(row).error();
        if (!*row) return {};
        item.modified_at = s.int64(0);
        item.version_hash.assign(s.blob(1));
        item.seq = s.int64(2);
        visit(item);
      }
    });
  }

  Result<PeerState> peer_state(std::string_view machine_id) override {
    PeerState never;
    never.machine_id = machine_id;
    if (schema_ < 2) return never;
    auto s = cached(peer_state_, [] {
      return fmt::format("SELECT {} FROM sync_peers WHERE machine_id = ?1", kPeerColumns);
    });
    if (!s) return std::move(s).error();
    ResetGuard guard(**s);
    (*s)->bind(1, machine_id);
    auto row = (*s)->step();
    if (!row) return std::move(row).error();
    return *row ? read_peer(**s) : never;
  }

  Result<std::vector<PeerState>> peer_states() override {
    std::vector<PeerState> out;
    if (schema_ < 2) return out;
    auto s = Stmt::prepare(
        db_, fmt::format("SELECT {} FROM sync_peers ORDER BY machine_id", kPeerColumns).c_str());
    if (!s) return std::move(s).error();
    for (;;) {
      auto row = s->step();
      if (!row) return std::move(row).error();
      if (!*row) return out;
      out.push_back(read_peer(*s));
    }
  }

  Result<void> record_sync_attempt(std::string_view machine_id, Millis at, std::string_view error,
                                   std::int64_t peer_has) override {
    BLK_TRY(writable());
    auto s = cached(record_attempt_, [] {
      return "INSERT INTO sync_peers (machine_id, last_attempt, last_ok, last_error, peer_has) "
             "VALUES (?1, ?2, CASE WHEN ?3 = '' THEN ?2 END, ?3, max(?4, 0)) "
             "ON CONFLICT (machine_id) DO UPDATE SET last_attempt = excluded.last_attempt, "
             "last_ok = coalesce(excluded.last_ok, last_ok), last_error = excluded.last_error, "
             "peer_has = max(peer_has, excluded.peer_has)";
    });
    if (!s) return std::move(s).error();
    // Bookkeeping for `blk status`, not data: committed without waiting for
    // the disk (WAL + synchronous=NORMAL survives a crash of blk, and at
    // worst loses this line in a power cut). A no-op cron sync stays cheap.
    // After a big sync the WAL is checkpointed first, not when we close: so
    // this write starts the new WAL (and syncs its header) and the next sync,
    // a no-op, finds a WAL it can append to without an fsync.
    db_.truncate_wal_if_large();
    BLK_TRY(db_.exec("PRAGMA synchronous = NORMAL"));
    auto r = db_.exec("BEGIN IMMEDIATE");
    if (r) {
      (*s)->bind(1, machine_id);
      (*s)->bind(2, at);
      (*s)->bind(3, error);
      (*s)->bind(4, peer_has);
      r = (*s)->run();
      if (r) r = db_.exec("COMMIT");
      if (!r) (void)db_.exec("ROLLBACK");
    }
    auto full = db_.exec("PRAGMA synchronous = FULL");
    return r ? full : r;
  }

  void set_clock(std::function<Millis()> clock) override {
    clock_ = clock ? std::move(clock) : now_millis;
  }

  void set_merger(std::shared_ptr<Merger> merger) override { merger_ = std::move(merger); }
  void set_write_check(WriteCheck check) override { write_check_ = std::move(check); }

  Result<std::vector<PluginRecord>> plugins() override {
    if (schema_ < 3) return std::vector<PluginRecord>();
    return merge_state::plugins(db_);
  }

  Result<void> scan_held(const std::function<bool(const HeldVersion&)>& visit) override {
    if (schema_ < 3) return {};
    return merge_state::scan_held(db_, {}, visit);
  }

  Result<std::int64_t> count_held(std::string_view from) override {
    if (schema_ < 3) return std::int64_t{0};
    return merge_state::count_held(db_, from);
  }

  Result<StoreIdentity> identity() override {
    if (identity_) return *identity_;
    auto s = Stmt::prepare(db_, "SELECT key, value FROM meta");
    if (!s) return std::move(s).error();
    StoreIdentity id;
    for (;;) {
      auto row = s->step();
      if (!row) return std::move(row).error();
      if (!*row) break;
      std::string_view key = s->text(0), value = s->text(1);
      if (key == "machine_id") id.machine_id = value;
      if (key == "public_key") id.public_key = value;
      if (key == "epoch") id.epoch = value;
    }
    if (id.machine_id.empty() || id.public_key.empty() || id.epoch.empty())
      return make_error(Code::store_unusable,
                        fmt::format("store has no machine identity: {}", db_.path()));
    identity_ = id;
    return id;
  }

 private:
  friend class SqliteTransaction;

  // A store left at an older schema is one we could not write to migrate.
  Result<void> writable() const {
    if (schema_ >= kSchemaVersion) return {};
    return make_error(Code::store_readonly,
                      fmt::format("store is read-only: {} (schema version {}, not upgraded)",
                                  db_.path(), schema_));
  }

  // Prepared once, on the first write: reads never pay for them.
  Result<void> prepare_write_statements() {
    BLK_TRY(prepare(insert_,
                    "INSERT INTO blocks (seq, id, type, created_at, modified_at, "
                    "deleted_at, schema, modified_by, versions, version_hash, blob) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)"));
    BLK_TRY(prepare(update_,
                    "UPDATE blocks SET seq = ?1, type = ?3, created_at = ?4, modified_at = ?5, "
                    "deleted_at = ?6, schema = ?7, modified_by = ?8, versions = ?9, "
                    "version_hash = ?10, blob = ?11 WHERE seq = ?12"));
    return {};
  }

  Result<void> prepare(Stmt& s, const std::string& sql) {
    auto r = Stmt::prepare(db_, sql.c_str());
    if (!r) return std::move(r).error();
    s = std::move(*r);
    return {};
  }

  // The statement, prepared on its first use and kept: a `blk get` pays only
  // for what it runs, and sync's hot paths prepare nothing per call.
  template <class MakeSql>
  Result<Stmt*> cached(Stmt& s, MakeSql make_sql) {
    if (!s.prepared()) BLK_TRY(prepare(s, make_sql()));
    return &s;
  }

  // Runs a scan on the kept statement, or on a fresh one if a scan up the
  // stack (whose visitor called us) is using it.
  template <class MakeSql, class Run>
  Result<void> with_scan(ScanStmt& kept, MakeSql make_sql, Run run) {
    if (kept.busy) {
      auto fresh = Stmt::prepare(db_, std::string(make_sql()).c_str());
      if (!fresh) return std::move(fresh).error();
      return run(*fresh);
    }
    if (!kept.stmt.prepared()) BLK_TRY(prepare(kept.stmt, make_sql()));
    struct Busy {
      ScanStmt& s;
      explicit Busy(ScanStmt& k) : s(k) { s.busy = true; }
      ~Busy() {
        s.stmt.reset();
        s.busy = false;
      }
    } busy(kept);
    return run(kept.stmt);
  }

  static Result<std::optional<Block>> read_one(Stmt& s) {
    auto row = s.step();
    if (!row) return std::move(row).error();
    if (!*row) return std::optional<Block>();
    auto b = read_block(s);
    if (!b) return std::move(b).error();
    return std::optional<Block>(std::move(*b));
  }

  static Result<std::int64_t> read_int(Stmt& s) {
    ResetGuard guard(s);
    auto row = s.step();
    if (!row) return std::move(row).error();
    return s.int64(0);
  }

  static Result<void> visit_rows(Stmt& s, const BlockVisitor& visit) {
    for (;;) {
      auto row = s.step();
      if (!row) return std::move(row).error();
      if (!*row) return {};
      auto b = read_block(s);
      if (!b) return std::move(b).error();
      if (!visit(*b)) return {};
    }
  }

  Db db_;
  int schema_;  // below kSchemaVersion only for a read-only store
  std::function<Millis()> clock_ = now_millis;
  Stmt get_, insert_, update_, max_seq_;
  // Prepared on first use; [blob] selects with or without the blob.
  Stmt by_seq_[2], count_after_[2], peer_state_, set_cursor_, record_attempt_;
  Stmt add_peer_, peer_rowid_, mark_received_, unmark_received_, last_seq_, seq_floor_;
  ScanStmt changes_[2][2], version_items_;
  std::map<std::string, std::int64_t, std::less<>> peer_rowids_;
  std::optional<StoreIdentity> identity_;
  std::shared_ptr<Merger> merger_;
  WriteCheck write_check_;
};

SqliteTransaction::~SqliteTransaction() {
  if (!done_) (void)store_.db_.exec("ROLLBACK");
}

Result<std::string> SqliteTransaction::put(BlockWrite w) {
  Millis now = store_.clock_();
  if (w.id.empty()) w.id = generate_id(now);
  BLK_TRY(validate_name("id", w.id));
  BLK_TRY(validate_name("type", w.type));
  if (w.blob.size() > kMaxBlobBytes)
    return make_error(Code::invalid_input,
                      fmt::format("blob is {} bytes; the limit is {} bytes (16 MiB)", w.blob.size(),
                                  kMaxBlobBytes));
  auto old = store_.get(w.id);
  if (!old) return std::move(old).error();

  Block b;
  b.id = std::move(w.id);
  b.type = std::move(w.type);
  b.blob = std::move(w.blob);
  b.schema = w.schema;
  b.deleted_at = w.deleted_at;
  // Times an import gives are kept; the rest follow from them. A tombstone
  // was last modified when it was deleted.
  if (*old) {
    const Block& prev = **old;
    b.created_at = w.created_at.value_or(prev.created_at);
    // A local write moves modified_at forward, even within one millisecond.
    b.modified_at =
        w.modified_at.value_or(w.deleted_at.value_or(std::max(now, prev.modified_at + 1)));
    b.versions = prev.versions;
  } else {
    b.modified_at =
        w.modified_at.value_or(w.deleted_at.value_or(std::max(now, w.created_at.value_or(now))));
    b.created_at = w.created_at.value_or(std::min(now, b.modified_at));
  }
  if (b.created_at > b.modified_at)
    return make_error(Code::invalid_input, fmt::format("created_at ({}) is after modified_at ({})",
                                                       b.created_at, b.modified_at));
  if (b.deleted_at && *b.deleted_at > b.modified_at)
    return make_error(Code::invalid_input, fmt::format("deleted_at ({}) is after modified_at ({})",
                                                       *b.deleted_at, b.modified_at));
  if (b.deleted_at) b.blob.clear();
  BLK_TRY(write_local(b, *old ? std::optional((*old)->seq) : std::nullopt));
  return std::move(b.id);
}

Result<void> SqliteTransaction::remove(std::string_view id) {
  auto old = store_.get(id);
  if (!old) return std::move(old).error();
  if (!*old) return make_error(Code::not_found, fmt::format("no block with id '{}'", id));
  Block b = std::move(**old);
  if (b.deleted()) return {};
  std::int64_t old_seq = b.seq;
  b.modified_at = std::max(store_.clock_(), b.modified_at + 1);
  b.deleted_at = b.modified_at;
  b.blob.clear();
  return write_local(b, old_seq);
}

Result<ApplyOutcome> SqliteTransaction::apply(const Block& remote, std::string_view from) {
  BLK_TRY(validate_remote_version(remote));
  if (store_.write_check_ && !store_.write_check_(remote).empty()) return ApplyOutcome::denied;
  auto local = store_.get(remote.id);
  if (!local) return std::move(local).error();
  Decision d = decide(*local, remote, store_.clock_(), store_.merger_.get());
  if (!d.attempt.plugin.empty() && store_.schema_ >= 3)
    BLK_TRY(merge_state::record_merge(store_.db_, d.attempt.plugin, d.attempt.failed,
                                      d.attempt.reason));
  if (d.outcome == ApplyOutcome::held) {
    if (store_.schema_ < 3) return make_error(Code::store_readonly, "store is read-only");
    BLK_TRY(merge_state::hold(store_.db_, remote, from, d.attempt.reason, store_.clock_()));
    return d.outcome;
  }
  if (d.write) {
    // Kept as received (or as merged): vector, writer and hash. Only the seq
    // is ours.
    d.write->seq = ++seq_;
    BLK_TRY(write_row(*d.write, *local ? std::optional((*local)->seq) : std::nullopt));
    // Stored exactly as `from` sent it (a merge is a new version): `from`
    // has it already, so sync will not offer it back.
    if (!from.empty() && d.outcome != ApplyOutcome::merged && store_.schema_ >= 2)
      BLK_TRY(record_received(d.write->seq, from));
    BLK_TRY(drop_superseded_held(*d.write));
  }
  return d.outcome;
}

// What apply() would ask the merger, for each remote in turn, told to it
// at once. Only a remote that apply() would get to decide() (valid, not
// denied) counts, checked last (only pairs pay for it: most versions a sync
// receives merge nothing); an error reading ours just leaves that one out.
void SqliteTransaction::prepare_merges(const std::vector<const Block*>& remotes) {
  Merger* merger = store_.merger_.get();
  if (!merger) return;
  Millis now = store_.clock_();
  std::vector<const Block*> candidates;
  std::vector<std::optional<Block>> locals;  // not resized below: pairs point into it
  std::unordered_set<std::string_view> seen;
  for (const Block* remote : remotes) {
    // The second of an id merges with the first's result: not known yet.
    if (!seen.insert(remote->id).second) continue;
    auto local = store_.get(remote->id);
    if (!local || !*local) continue;  // a new block merges nothing
    if (!merge_pair(*local, *remote, now)) continue;
    candidates.push_back(remote);
    locals.push_back(std::move(*local));
  }
  std::vector<std::pair<const Block*, const Block*>> pairs;
  for (std::size_t i = 0; i < candidates.size(); ++i) {
    const Block& remote = *candidates[i];
    if (!validate_remote_version(remote)) continue;
    if (store_.write_check_ && !store_.write_check_(remote).empty()) continue;
    if (auto pair = merge_pair(locals[i], remote, now)) pairs.push_back(*pair);
  }
  if (!pairs.empty()) merger->prepare(pairs);
}

Result<void> SqliteTransaction::record_received(std::int64_t seq, std::string_view from) {
  if (from != from_) {
    auto peer = store_.peer_rowid(from, true);
    if (!peer) return std::move(peer).error();
    from_ = from;
    from_rowid_ = *peer;
  }
  auto s = store_.cached(store_.mark_received_, [] {
    return "INSERT OR REPLACE INTO received (seq, peer) VALUES (?1, ?2)";
  });
  if (!s) return std::move(s).error();
  (*s)->bind(1, seq);
  (*s)->bind(2, from_rowid_);
  return (*s)->run();
}

// A held version that what we now hold has seen (it dominates or equals
// it) is merged into history: nothing is lost by letting it go.
Result<void> SqliteTransaction::drop_superseded_held(const Block& current) {
  if (store_.schema_ < 3) return {};
  if (!held_checked_) {
    auto n = merge_state::count_held(store_.db_);
    if (!n) return std::move(n).error();
    any_held_ = *n > 0;
    held_checked_ = true;
  }
  if (!any_held_) return {};
  std::vector<std::string> gone;
  BLK_TRY(merge_state::scan_held(store_.db_, current.id, [&](const HeldVersion& h) {
    auto c = compare_versions(h.block.versions, current.versions);
    if (c == Causality::before || c == Causality::equal) gone.push_back(h.block.version_hash);
    return true;
  }));
  for (const auto& hash : gone) BLK_TRY(merge_state::unhold(store_.db_, current.id, hash));
  return {};
}

Result<void> SqliteTransaction::put_plugin(const PluginRecord& plugin) {
  if (store_.schema_ < 3) return make_error(Code::store_readonly, "store is read-only");
  return merge_state::put_plugin(store_.db_, plugin);
}

Result<bool> SqliteTransaction::remove_plugin(std::string_view name) {
  if (store_.schema_ < 3) return false;
  return merge_state::remove_plugin(store_.db_, name);
}

Result<RetryHeld> SqliteTransaction::retry_held() {
  RetryHeld out;
  if (store_.schema_ < 3) return out;
  std::vector<HeldVersion> held;
  BLK_TRY(merge_state::scan_held(store_.db_, {}, [&](const HeldVersion& h) {
    held.push_back(h);
    return true;
  }));
  for (auto& h : held) {
    // Out of the table first: apply() holds it again if it still cannot
    // be merged.
    BLK_TRY(merge_state::unhold(store_.db_, h.block.id, h.block.version_hash));
    auto outcome = apply(h.block, h.from);
    if (!outcome) return std::move(outcome).error();
    if (*outcome == ApplyOutcome::held)
      ++out.held;
    else
      ++out.applied;
  }
  return out;
}

Result<void> SqliteTransaction::set_cursor(std::string_view machine_id, std::string_view epoch,
                                           std::int64_t seq, bool replace) {
  // Old values on the right of SET: the epoch compared is the stored one.
  auto s = store_.cached(store_.set_cursor_, [] {
    return "INSERT INTO sync_peers (machine_id, epoch, cursor) VALUES (?1, ?2, ?3) "
           "ON CONFLICT (machine_id) DO UPDATE SET epoch = excluded.epoch, cursor = "
           "CASE WHEN epoch = excluded.epoch AND NOT ?4 THEN max(cursor, excluded.cursor) "
           "ELSE excluded.cursor END";
  });
  if (!s) return std::move(s).error();
  (*s)->bind(1, machine_id);
  (*s)->bind(2, epoch);
  (*s)->bind(3, seq);
  (*s)->bind(4, std::int64_t{replace ? 1 : 0});
  return (*s)->run();
}

Result<void> SqliteTransaction::raise_seq_floor(std::int64_t floor) {
  auto s = store_.cached(store_.seq_floor_, [] {
    return "INSERT INTO meta (key, value) VALUES ('seq_floor', ?1) ON CONFLICT (key) DO UPDATE "
           "SET value = max(CAST(value AS INTEGER), CAST(excluded.value AS INTEGER))";
  });
  if (!s) return std::move(s).error();
  (*s)->bind(1, floor);
  BLK_TRY((*s)->run());
  seq_ = std::max(seq_, floor);
  return {};
}

Result<void> SqliteTransaction::write_local(Block& b, std::optional<std::int64_t> old_seq) {
  // Our own counter in the version vector is our seq: strictly increasing
  // for every local commit, so it orders our writes without a second counter.
  // Should a peer hand back a counter of ours above our seq (this store was
  // restored from an older copy), the seq skips past it: a local write must
  // dominate the version it replaces, or peers would ignore it as older.
  const std::int64_t seq_before = seq_;
  std::uint64_t& mine = b.versions[identity_.machine_id];
  seq_ = std::max(seq_, static_cast<std::int64_t>(mine));
  b.seq = ++seq_;
  mine = static_cast<std::uint64_t>(b.seq);
  b.modified_by = identity_.machine_id;
  b.version_hash = compute_version_hash(b);
  if (store_.write_check_) {
    if (auto why = store_.write_check_(b); !why.empty()) {
      seq_ = seq_before;
      return make_error(Code::not_permitted, fmt::format("cannot write '{}': {}", b.id, why));
    }
  }
  BLK_TRY(write_row(b, old_seq));
  return drop_superseded_held(b);
}

// The one place rows are written, for local and received versions alike.
Result<void> SqliteTransaction::write_row(const Block& b, std::optional<std::int64_t> old_seq) {
  std::string versions = encode_versions(b.versions);

  Stmt& s = old_seq ? store_.update_ : store_.insert_;
  s.bind(1, b.seq);
  s.bind(2, std::string_view(b.id));
  s.bind(3, std::string_view(b.type));
  s.bind(4, b.created_at);
  s.bind(5, b.modified_at);
  if (b.deleted_at)
    s.bind(6, *b.deleted_at);
  else
    s.bind_null(6);
  s.bind(7, static_cast<std::int64_t>(b.schema));
  s.bind(8, std::string_view(b.modified_by));
  s.bind_blob(9, versions);
  s.bind_blob(10, b.version_hash);
  s.bind_blob(11, b.blob);
  if (old_seq) s.bind(12, *old_seq);
  BLK_TRY(s.run());
  if (old_seq && store_.schema_ >= 2) {
    // The row moved to a new seq: whatever was received at the old one is gone.
    auto u = store_.cached(store_.unmark_received_,
                           [] { return "DELETE FROM received WHERE seq = ?1"; });
    if (!u) return std::move(u).error();
    (*u)->bind(1, *old_seq);
    BLK_TRY((*u)->run());
  }
  return {};
}

Result<void> SqliteTransaction::commit() {
  BLK_TRY(store_.db_.exec("COMMIT"));
  done_ = true;
  // A store folder removed mid-write (rm -rf during an import) does not stop
  // SQLite: it commits into the open, nameless file. Report it rather than
  // acknowledge a write that is in no store.
  return store_.db_.check_not_moved();
}

Result<int> user_version(Db& db) {
  auto s = Stmt::prepare(db, "PRAGMA user_version");
  if (!s) return std::move(s).error();
  auto row = s->step();
  if (!row) return std::move(row).error();
  return static_cast<int>(s->int64(0));
}

// Brings a store at an older schema up to kSchemaVersion, in one transaction,
// and returns the version it is now at. Another process may be opening the
// same store: the version is read again under the write lock. A store we
// cannot write stays as it is and is read at its own version (the caller
// treats it as read-only: see SqliteStore::writable).
Result<int> migrate(Db& db, int version) {
  if (version >= kSchemaVersion || sqlite3_db_readonly(db.handle(), "main") == 1) return version;
  auto begun = db.exec("BEGIN IMMEDIATE");
  if (!begun && begun.error().code == Code::store_readonly) return version;
  if (!begun) return std::move(begun).error();
  auto now = user_version(db);
  Result<void> r = now ? Result<void>() : Result<void>(now.error());
  if (r && *now < 2) r = db.exec(BLK_SYNC_PEERS_SQL);
  if (r && *now < 3) r = db.exec(BLK_MERGE_STATE_SQL);
  if (r) r = db.exec(fmt::format("PRAGMA user_version = {}", kSchemaVersion).c_str());
  if (r) r = db.exec("COMMIT");
  if (!r) {
    (void)db.exec("ROLLBACK");
    if (r.error().code == Code::store_readonly) return version;
    return std::move(r).error();
  }
  return kSchemaVersion;
}

}  // namespace

Result<void> create_sqlite_store(const std::string& path, const StoreIdentity& identity) {
  if (file_exists(path))
    return make_error(Code::store_exists, fmt::format("a store already exists at {}", path));
  auto db = Db::open(path, /*create=*/true, kBusyTimeoutMs);
  if (!db) return std::move(db).error();
  // WAL is a property of the file and persists; synchronous is per connection.
  BLK_TRY(db->exec("PRAGMA journal_mode = WAL"));
  BLK_TRY(db->exec("PRAGMA synchronous = FULL"));
  BLK_TRY(db->exec("BEGIN IMMEDIATE"));
  BLK_TRY(db->exec(kSchemaSql));
  auto ins = Stmt::prepare(*db, "INSERT INTO meta (key, value) VALUES (?1, ?2)");
  if (!ins) return std::move(ins).error();
  for (auto [k, v] :
       {std::pair{"machine_id", &identity.machine_id},
        std::pair{"public_key", &identity.public_key}, std::pair{"epoch", &identity.epoch}}) {
    ins->bind(1, std::string_view(k));
    ins->bind(2, std::string_view(*v));
    BLK_TRY(ins->run());
  }
  BLK_TRY(db->exec(fmt::format("PRAGMA user_version = {}", kSchemaVersion).c_str()));
  return db->exec("COMMIT");
}

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path) {
  if (!file_exists(path)) return make_error(Code::no_store, fmt::format("no store at {}", path));
  auto db = Db::open(path, /*create=*/false, kBusyTimeoutMs);
  if (!db) return std::move(db).error();
  BLK_TRY(db->exec("PRAGMA synchronous = FULL"));
  auto version = user_version(*db);
  if (!version) return std::move(version).error();
  if (*version == 0)
    return make_error(Code::store_unusable, fmt::format("not a blk store: {}", path));
  if (*version > kSchemaVersion)
    return make_error(Code::store_unusable,
                      fmt::format("store {} has schema version {}, newer than this blk "
                                  "understands ({}); upgrade blk",
                                  path, *version, kSchemaVersion));
  auto migrated = migrate(*db, *version);
  if (!migrated) return std::move(migrated).error();
  auto store = std::make_unique<SqliteStore>(std::move(*db), *migrated);
  BLK_TRY(store->prepare_statements());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace blk
