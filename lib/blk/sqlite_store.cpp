#include "blk/sqlite_store.hpp"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>

#include "blk/sqlite_db.hpp"

namespace blk {

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
)sql";

namespace {

using sqlite::Db;
using sqlite::ResetGuard;
using sqlite::Stmt;

constexpr const char* kColumns =
    "seq, id, type, created_at, modified_at, deleted_at, schema, modified_by, versions, "
    "version_hash, blob";

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

bool file_exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

class SqliteStore;

class SqliteTransaction final : public Transaction {
 public:
  SqliteTransaction(SqliteStore& store, StoreIdentity id, std::int64_t max_seq)
      : store_(store), identity_(std::move(id)), seq_(max_seq) {}
  ~SqliteTransaction() override;

  Result<std::string> put(BlockWrite w) override;
  Result<void> remove(std::string_view id) override;
  Result<void> commit() override;

 private:
  Result<void> write(Block& b, std::optional<std::int64_t> old_seq);

  SqliteStore& store_;
  StoreIdentity identity_;
  std::int64_t seq_;
  bool done_ = false;
};

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(Db db) : db_(std::move(db)) {}

  Result<void> prepare_statements() {
    return prepare(get_, fmt::format("SELECT {} FROM blocks WHERE id = ?1", kColumns));
  }

  Result<std::optional<Block>> get(std::string_view id) override {
    ResetGuard guard(get_);
    get_.bind(1, id);
    auto row = get_.step();
    if (!row) return std::move(row).error();
    if (!*row) return std::optional<Block>();
    auto b = read_block(get_);
    if (!b) return std::move(b).error();
    return std::optional<Block>(std::move(*b));
  }

  Result<std::unique_ptr<Transaction>> begin() override {
    auto id = identity();
    if (!id) return std::move(id).error();
    if (!insert_.prepared()) BLK_TRY(prepare_write_statements());
    // IMMEDIATE takes the write lock now, inside the busy timeout; a deferred
    // transaction that upgrades later could fail at once with SQLITE_BUSY.
    BLK_TRY(db_.exec("BEGIN IMMEDIATE"));
    ResetGuard guard(max_seq_);
    auto row = max_seq_.step();
    if (!row) {
      (void)db_.exec("ROLLBACK");
      return std::move(row).error();
    }
    std::int64_t max_seq = max_seq_.int64(0);
    return std::unique_ptr<Transaction>(new SqliteTransaction(*this, std::move(*id), max_seq));
  }

  Result<void> scan(const ScanFilter& f, const BlockVisitor& visit) override {
    std::string sql = fmt::format("SELECT {} FROM blocks WHERE 1", kColumns);
    if (f.type) sql += " AND type = ?1";
    if (f.modified_since) sql += " AND modified_at >= ?2";
    if (!f.include_deleted) sql += " AND deleted_at IS NULL";
    sql += f.type ? " ORDER BY type, id" : " ORDER BY id";
    auto s = Stmt::prepare(db_, sql.c_str());
    if (!s) return std::move(s).error();
    if (f.type) s->bind(1, std::string_view(*f.type));
    if (f.modified_since) s->bind(2, *f.modified_since);
    return visit_rows(*s, visit);
  }

  Result<void> scan_changes(std::int64_t after, const BlockVisitor& visit) override {
    auto s = Stmt::prepare(
        db_, fmt::format("SELECT {} FROM blocks WHERE seq > ?1 ORDER BY seq", kColumns).c_str());
    if (!s) return std::move(s).error();
    s->bind(1, after);
    return visit_rows(*s, visit);
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

  // Prepared once, on the first write: reads never pay for them.
  Result<void> prepare_write_statements() {
    BLK_TRY(prepare(insert_, fmt::format("INSERT INTO blocks ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, "
                                         "?7, ?8, ?9, ?10, ?11)",
                                         kColumns)));
    BLK_TRY(prepare(update_,
                    "UPDATE blocks SET seq = ?1, type = ?3, created_at = ?4, modified_at = ?5, "
                    "deleted_at = ?6, schema = ?7, modified_by = ?8, versions = ?9, "
                    "version_hash = ?10, blob = ?11 WHERE seq = ?12"));
    BLK_TRY(prepare(max_seq_, "SELECT coalesce(max(seq), 0) FROM blocks"));
    return {};
  }

  Result<void> prepare(Stmt& s, const std::string& sql) {
    auto r = Stmt::prepare(db_, sql.c_str());
    if (!r) return std::move(r).error();
    s = std::move(*r);
    return {};
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
  Stmt get_, insert_, update_, max_seq_;
  std::optional<StoreIdentity> identity_;
};

SqliteTransaction::~SqliteTransaction() {
  if (!done_) (void)store_.db_.exec("ROLLBACK");
}

Result<std::string> SqliteTransaction::put(BlockWrite w) {
  if (w.id.empty()) w.id = generate_id(now_millis());
  BLK_TRY(validate_name("id", w.id));
  BLK_TRY(validate_name("type", w.type));
  if (w.blob.size() > kMaxBlobBytes)
    return make_error(Code::invalid_input,
                      fmt::format("blob is {} bytes; the limit is {} bytes (16 MiB)", w.blob.size(),
                                  kMaxBlobBytes));
  auto old = store_.get(w.id);
  if (!old) return std::move(old).error();

  Millis now = now_millis();
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
  BLK_TRY(write(b, *old ? std::optional((*old)->seq) : std::nullopt));
  return std::move(b.id);
}

Result<void> SqliteTransaction::remove(std::string_view id) {
  auto old = store_.get(id);
  if (!old) return std::move(old).error();
  if (!*old) return make_error(Code::not_found, fmt::format("no block with id '{}'", id));
  Block b = std::move(**old);
  if (b.deleted()) return {};
  std::int64_t old_seq = b.seq;
  Millis now = now_millis();
  b.modified_at = std::max(now, b.modified_at + 1);
  b.deleted_at = b.modified_at;
  b.blob.clear();
  return write(b, old_seq);
}

Result<void> SqliteTransaction::write(Block& b, std::optional<std::int64_t> old_seq) {
  b.seq = ++seq_;
  // Our own counter in the version vector is our seq: strictly increasing
  // for every local commit, so it orders our writes without a second counter.
  b.versions[identity_.machine_id] = static_cast<std::uint64_t>(b.seq);
  b.modified_by = identity_.machine_id;
  b.version_hash = compute_version_hash(b);
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
  return s.run();
}

Result<void> SqliteTransaction::commit() {
  BLK_TRY(store_.db_.exec("COMMIT"));
  done_ = true;
  return {};
}

Result<int> user_version(Db& db) {
  auto s = Stmt::prepare(db, "PRAGMA user_version");
  if (!s) return std::move(s).error();
  auto row = s->step();
  if (!row) return std::move(row).error();
  return static_cast<int>(s->int64(0));
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
  // Migrations from older schema versions go here, each in its own
  // transaction, when there is a version 2.
  auto store = std::make_unique<SqliteStore>(std::move(*db));
  BLK_TRY(store->prepare_statements());
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace blk
