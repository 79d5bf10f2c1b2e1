#include "blk/sqlite_db.hpp"

#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <filesystem>

namespace blk::sqlite {

// A WAL above this is checkpointed and truncated when a connection closes;
// a smaller one stays (see Db::open), so that short commands stay cheap
// without a big import leaving a second copy of the data next to blk.db.
constexpr off_t kWalKeepBytes = 4 << 20;

Db::~Db() {
  if (!db_) return;
  truncate_wal_if_large();
  sqlite3_close_v2(db_);
}

void Db::truncate_wal_if_large() {
  struct stat st;
  std::string wal = path_ + "-wal";
  if (db_ && !path_.empty() && stat(wal.c_str(), &st) == 0 && st.st_size > kWalKeepBytes)
    sqlite3_wal_checkpoint_v2(db_, nullptr, SQLITE_CHECKPOINT_TRUNCATE, nullptr, nullptr);
}

namespace {

// A store on a read-only file system whose WAL is gone (copied without it,
// or checkpointed by the sqlite3 shell on close) cannot be read the usual
// way: SQLite would first create blk.db-wal. Nothing can change such a file,
// so it is opened immutable. (Not for a file that is only not writable by
// us: its owner may be writing it.)
bool readonly_fs_without_wal(const std::string& path) {
  struct statvfs fs;
  struct stat st;
  return statvfs(path.c_str(), &fs) == 0 && (fs.f_flag & ST_RDONLY) &&
         stat((path + "-wal").c_str(), &st) != 0;
}

std::string immutable_uri(const std::string& path) {
  std::error_code ec;
  std::string abs = std::filesystem::absolute(path, ec).lexically_normal().string();
  std::string uri = "file:";
  for (char c : ec ? path : abs) {
    if (c == '%' || c == '?' || c == '#')
      uri += fmt::format("%{:02X}", static_cast<unsigned char>(c));
    else
      uri += c;
  }
  return uri + "?immutable=1";
}

}  // namespace

Result<Db> Db::open(const std::string& path, bool create, int busy_timeout_ms) {
  Db db;
  db.path_ = path;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE;
  if (create) flags |= SQLITE_OPEN_CREATE;
  int rc = sqlite3_open_v2(path.c_str(), &db.db_, flags, nullptr);
  if (rc != SQLITE_OK) return db.error(rc, "opening the store");
  if (!create && sqlite3_db_readonly(db.db_, "main") == 1 && readonly_fs_without_wal(path)) {
    sqlite3_close_v2(db.db_);
    db.db_ = nullptr;
    rc = sqlite3_open_v2(
        immutable_uri(path).c_str(), &db.db_,
        SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE,
        nullptr);
    if (rc != SQLITE_OK) return db.error(rc, "opening the store");
  }
  sqlite3_busy_timeout(db.db_, busy_timeout_ms);
  // No checkpoint when the last connection closes: the WAL stays (commits in
  // it are as durable as in the database), and short-lived commands such as
  // a cron sync do not pay for a checkpoint and for recreating the WAL each
  // run. SQLite still checkpoints as the WAL grows (every 1000 pages).
  sqlite3_db_config(db.db_, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, nullptr);
  return db;
}

Result<void> Db::exec(const char* sql) {
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return error(rc, sql);
  return {};
}

Result<void> Db::check_not_moved() const {
  int moved = 0;
  // One stat of the path, compared with the open file's inode.
  if (sqlite3_file_control(db_, "main", SQLITE_FCNTL_HAS_MOVED, &moved) == SQLITE_OK && moved)
    return make_error(
        Code::no_store,
        fmt::format("store was removed or moved while blk wrote to it: {} is gone", path_));
  return {};
}

Error Db::error(int rc, std::string_view doing) const {
  const char* detail = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      return make_error(Code::store_locked,
                        fmt::format("store is locked by another process: {}", path_));
    case SQLITE_READONLY:
      return make_error(Code::store_readonly,
                        fmt::format("store is read-only: {} ({})", path_, detail));
    case SQLITE_CANTOPEN:
    case SQLITE_PERM:
    case SQLITE_AUTH:
      if (access(path_.c_str(), W_OK) != 0)
        return make_error(Code::store_readonly,
                          fmt::format("store cannot be written: {} ({})", path_, detail));
      return make_error(Code::failure, fmt::format("cannot open {}: {}", path_, detail));
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      return make_error(Code::store_unusable,
                        fmt::format("store is damaged or not a blk store: {} ({})", path_, detail));
    case SQLITE_FULL:
      return make_error(Code::failure, fmt::format("disk full writing {}", path_));
    default:
      return make_error(Code::failure, fmt::format("{} failed while {}: {}", path_, doing, detail));
  }
}

Stmt& Stmt::operator=(Stmt&& o) noexcept {
  if (this != &o) {
    if (st_) sqlite3_finalize(st_);
    st_ = o.st_;
    db_ = o.db_;
    o.st_ = nullptr;
  }
  return *this;
}

Stmt::~Stmt() {
  if (st_) sqlite3_finalize(st_);
}

Result<Stmt> Stmt::prepare(const Db& db, const char* sql) {
  Stmt s;
  s.db_ = &db;
  int rc = sqlite3_prepare_v3(db.handle(), sql, -1, SQLITE_PREPARE_PERSISTENT, &s.st_, nullptr);
  if (rc != SQLITE_OK) return db.error(rc, "preparing a query");
  return s;
}

void Stmt::bind(int i, std::int64_t v) {
  sqlite3_bind_int64(st_, i, v);
}
void Stmt::bind(int i, std::string_view text) {
  sqlite3_bind_text(st_, i, text.data(), static_cast<int>(text.size()), SQLITE_STATIC);
}
void Stmt::bind_blob(int i, std::string_view bytes) {
  // A zero-length blob must still be a blob, not NULL: pass a valid pointer.
  sqlite3_bind_blob(st_, i, bytes.empty() ? "" : bytes.data(), static_cast<int>(bytes.size()),
                    SQLITE_STATIC);
}
void Stmt::bind_null(int i) {
  sqlite3_bind_null(st_, i);
}

Result<bool> Stmt::step() {
  int rc = sqlite3_step(st_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Error e = db_->error(rc, "running a query");
  sqlite3_reset(st_);
  return e;
}

Result<void> Stmt::run() {
  auto r = step();
  reset();
  if (!r) return std::move(r).error();
  return {};
}

void Stmt::reset() {
  sqlite3_reset(st_);
  sqlite3_clear_bindings(st_);
}

std::int64_t Stmt::int64(int col) const {
  return sqlite3_column_int64(st_, col);
}
bool Stmt::is_null(int col) const {
  return sqlite3_column_type(st_, col) == SQLITE_NULL;
}
std::string_view Stmt::text(int col) const {
  auto p = reinterpret_cast<const char*>(sqlite3_column_text(st_, col));
  return p ? std::string_view(p, sqlite3_column_bytes(st_, col)) : std::string_view();
}
std::string_view Stmt::blob(int col) const {
  auto p = static_cast<const char*>(sqlite3_column_blob(st_, col));
  return p ? std::string_view(p, sqlite3_column_bytes(st_, col)) : std::string_view();
}

}  // namespace blk::sqlite
